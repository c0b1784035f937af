#pragma once
// Every way a packet can leave the dataplane other than being sent. Each has a stable name used by
// counters, telemetry and tests; a drop is always counted under exactly one of these.

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/common/counter.h"

namespace espgw {

// X(enumerator, "counter_name", "what it means")
#define ESPGW_DROP_REASONS(X)                                                                     \
  X(kNone, "none", "not dropped")                                                                 \
  /* outer header, inbound */                                                                     \
  X(kTruncated, "truncated", "packet shorter than the headers it claims")                         \
  X(kBadIpHeader, "bad_ip_header", "IP version or header length invalid")                         \
  X(kIpLength, "ip_length", "IP or UDP length fields inconsistent with the packet")               \
  X(kOuterFragment, "outer_fragment", "fragmented ESP (reassembly is not done)")                  \
  X(kNotEsp, "not_esp", "not an ESP packet (non-ESP marker, keepalive, other protocol)")          \
  X(kReservedSpi, "reserved_spi", "SPI 0-255, reserved by RFC 4303 2.1")                          \
  X(kUnknownSpi, "unknown_spi", "no inbound SA with this SPI")                                    \
  X(kEncapMismatch, "encap_mismatch", "UDP encapsulation differs from the SA's")                  \
  X(kSaOtherWorker, "sa_other_worker", "inbound SA's replay window is another worker's")          \
  X(kBadCipherLength, "bad_cipher_length", "ciphertext length not a multiple of the block size")  \
  X(kReplayOld, "replay_old", "sequence number left of the anti-replay window")                   \
  X(kReplayDuplicate, "replay_duplicate", "sequence number already received")                     \
  X(kAuthFailed, "auth_failed", "ICV did not verify")                                             \
  X(kBadPadLength, "bad_pad_length", "pad length larger than the payload")                        \
  X(kBadPadding, "bad_padding", "pad bytes not 1, 2, 3, ... (RFC 4303 2.4)")                      \
  X(kBadNextHeader, "bad_next_header", "next header neither IPv4, IPv6 nor dummy")                \
  X(kDummy, "dummy", "dummy packet, next header 59 (RFC 4303 2.6): counted as a keepalive")       \
  X(kZeroLengthPayload, "zero_length_payload", "no inner packet behind the ESP header")           \
  X(kInnerHeader, "inner_header", "inner IP header invalid or its version differs from next hdr") \
  X(kInnerLength, "inner_length", "inner IP length longer than the decrypted payload")            \
  X(kEcnCeNotEct, "ecn_ce_not_ect", "outer CE over a not-ECT inner packet (RFC 6040 4.2)")        \
  X(kCryptoError, "crypto_error", "the crypto library refused the operation")                     \
  /* outbound */                                                                                  \
  X(kSaStopped, "sa_stopped", "SA stopped: sequence number exhausted or hard lifetime reached")   \
  X(kSeqOverflow, "seq_overflow", "sequence number would wrap (RFC 4303 3.3.3)")                  \
  X(kNoBufferRoom, "no_buffer_room", "not enough head- or tailroom for the ESP headers")          \
  X(kTooBig, "too_big", "encapsulated packet would exceed the IP maximum")                        \
  /* dataplane */                                                                                 \
  X(kBadFrame, "bad_frame", "frame shorter than an Ethernet header, or chained mbufs")            \
  X(kOtherHost, "other_host", "unicast frame for another MAC address (a promiscuous port)")       \
  X(kIpChecksum, "ip_checksum", "IPv4 header checksum wrong, outer or decrypted inner")           \
  X(kMartian, "martian", "transit packet with a multicast, broadcast or unspecified address")     \
  X(kNoRoute, "no_route", "no route to the destination")                                          \
  X(kTtlExceeded, "ttl_exceeded", "TTL or hop limit ran out (ICMP time exceeded sent)")           \
  X(kFragNeeded, "fragmentation_needed", "too big with DF set (ICMP fragmentation needed sent)")  \
  X(kTunnelDown, "tunnel_down", "route into a tunnel that has no outbound SA")                    \
  X(kSelectorMismatch, "selector_mismatch", "inner addresses outside the SA's traffic selectors") \
  X(kUnprotected, "unprotected", "cleartext from a tunnel's remote CIDR (RFC 4301 5.2)")          \
  X(kNoMbuf, "no_mbuf", "mbuf pool empty (fragmentation, ICMP)")                                  \
  X(kNeighbourUnresolved, "neighbour_unresolved", "next hop did not answer ARP/ND")               \
  X(kNeighbourHoldFull, "neighbour_hold_full", "too many packets waiting for one next hop")       \
  X(kControlRingFull, "control_ring_full", "the control thread's queue was full")                 \
  X(kExceptionRateLimit, "exception_rate_limited", "over the exception path's packet rate")       \
  X(kInsideRingFull, "inside_ring_full", "for an inside interface: control thread queue full")    \
  X(kNoExceptionPath, "no_exception_path", "for the kernel, but the port has no exception path")  \
  X(kExceptionDown, "exception_down", "for the kernel, but the tap's kernel interface is down")   \
  X(kArpIgnored, "arp_ignored", "ARP neither for us nor a reply we can use")                      \
  X(kTxFull, "tx_full", "the port's TX queue was full")

enum class DropReason : uint8_t {
#define ESPGW_DROP_ENUM(e, n, d) e,
  ESPGW_DROP_REASONS(ESPGW_DROP_ENUM)
#undef ESPGW_DROP_ENUM
      kCount
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
// Not a drop and never counted: what EspEngine's deferred calls set for a packet they left in the
// crypto lanes; EspEngine::reap() hands it back later with its outcome.
inline constexpr DropReason kDeferred = DropReason::kCount;
// The ESP engine decides the reasons before this one; the dataplane's stages the rest.
inline constexpr DropReason kFirstDataplaneReason = DropReason::kBadFrame;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
#define ESPGW_DROP_NAME(e, n, d) n,
    ESPGW_DROP_REASONS(ESPGW_DROP_NAME)
#undef ESPGW_DROP_NAME
};

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonHelp = {
#define ESPGW_DROP_HELP(e, n, d) d,
    ESPGW_DROP_REASONS(ESPGW_DROP_HELP)
#undef ESPGW_DROP_HELP
};

constexpr std::string_view drop_reason_name(DropReason r) noexcept {
  return kDropReasonNames[static_cast<size_t>(r)];
}

// Per-worker drop counters: written by one worker only, read by the control thread.
struct DropCounters {
  std::array<Counter, kDropReasonCount> count{};
  void add(DropReason r, uint64_t n = 1) noexcept { count[static_cast<size_t>(r)].add(n); }
  uint64_t operator[](DropReason r) const noexcept { return count[static_cast<size_t>(r)].get(); }
};

}  // namespace espgw
