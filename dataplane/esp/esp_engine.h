#pragma once
// The ESP engine of one worker: RFC 4303 tunnel mode over bursts.
//
// encrypt(): reads an inner IPv4/IPv6 packet per PacketView and its outbound SA; writes the outer
//   packet in place (outer IP, optional RFC 3948 UDP, ESP header, IV in the headroom; padding,
//   trailer and ICV in the tailroom). Drops: no room, sequence exhausted, bad inner header.
// parse_inbound() + decrypt(): read an outer packet (IPv4/IPv6, ESP or ESP-in-UDP) and its inbound
//   SA; check anti-replay before decrypting, verify the ICV, move the window, check padding and the
//   inner header, apply RFC 6040 ECN decapsulation; leave the inner packet in the view. Drops: see
//   drop_reason.h, one reason per packet.
//
// Every drop is counted here (per worker, and per SA once the SA is known); callers only free.
// Nothing allocates, locks or throws on these paths.

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "dataplane/common/drop_reason.h"
#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/crypto/iv_generator.h"
#include "dataplane/esp/packet_view.h"
#include "dataplane/esp/sa.h"

namespace espgw::esp {

inline constexpr uint32_t kMaxBurst = 64;

struct InboundMeta {
  uint32_t spi;
  uint16_t esp_off;   // ESP header offset from the outer IP header
  bool udp;           // arrived in UDP (RFC 3948)
  uint8_t outer_ecn;  // ECN bits of the outer header
};

// A packet that a deferred call left in the crypto lanes, finished: handed back by reap().
struct Reaped {
  PacketView view;  // the outer packet (outbound) or the inner one (inbound), as encrypt() and
                    // decrypt() leave their views
  uint32_t tag;     // the caller's tag, given with the packet
  Sa* sa;
  DropReason reason;  // kNone, or why it was dropped (counted, as the synchronous calls count)
  bool outbound;
};

class EspEngine {
 public:
  EspEngine(crypto::CryptoBackend& backend, uint32_t worker_index);
  EspEngine(const EspEngine&) = delete;
  EspEngine& operator=(const EspEngine&) = delete;

  void encrypt(std::span<PacketView> pkts, std::span<Sa* const> sas,
               std::span<DropReason> reasons) noexcept;

  void parse_inbound(std::span<PacketView> pkts, std::span<InboundMeta> meta,
                     std::span<DropReason> reasons) noexcept;
  // sas[i]: the SA found for meta[i].spi, or nullptr. Packets whose reasons[i] is already set by
  // parse_inbound() are left alone (and were counted there).
  void decrypt(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
               std::span<Sa* const> sas, std::span<DropReason> reasons) noexcept;

  // The dataplane's forms of encrypt() and decrypt(). An AES-CBC + HMAC packet may be left in the
  // crypto backend's multi-buffer lanes (reasons[i] = kDeferred), which stay full across bursts
  // instead of being flushed at the end of each (CryptoBackend::submit()); reap() hands it back
  // with its tag (tags[i]) once it is finished, in the order the packets came. A caller that holds
  // deferred packets keeps every pointer they use (SAs, its tags' meaning) valid until they are
  // reaped, and calls drain() when no new packets come, so that none waits longer than that.
  void encrypt_deferred(std::span<PacketView> pkts, std::span<Sa* const> sas,
                        std::span<const uint32_t> tags, std::span<DropReason> reasons) noexcept;
  void decrypt_deferred(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
                        std::span<Sa* const> sas, std::span<const uint32_t> tags,
                        std::span<DropReason> reasons) noexcept;
  // The oldest deferred packet, if it is finished; false when none is (or none is left).
  bool reap(Reaped& out) noexcept;
  // Finishes every deferred packet: reap() then hands all of them back.
  void drain() noexcept { backend_.drain(); }
  // Deferred packets not yet reaped.
  uint32_t deferred() const noexcept { return tail_ - head_; }
  // Packets ever deferred: a caller sees from it whether a poll loop deferred any.
  uint64_t deferred_total() const noexcept { return deferred_total_; }

  // parse_inbound + lookup + decrypt. lookup(const InboundMeta&) -> Sa*.
  template <class Lookup>
  void inbound(std::span<PacketView> pkts, Lookup&& lookup,
               std::span<DropReason> reasons) noexcept {
    for (size_t base = 0; base < pkts.size(); base += kMaxBurst) {
      const size_t n = std::min<size_t>(kMaxBurst, pkts.size() - base);
      auto p = pkts.subspan(base, n);
      auto r = reasons.subspan(base, n);
      std::span<InboundMeta> m(meta_.data(), n);
      parse_inbound(p, m, r);
      for (size_t i = 0; i < n; ++i) {
        lookup_[i] = r[i] == DropReason::kNone ? lookup(m[i]) : nullptr;
      }
      decrypt(p, m, std::span<Sa* const>(lookup_.data(), n), r);
    }
  }

  // A lane's keepalive (docs/lanes.md "Lane liveness"): an ESP dummy packet (next header 59,
  // RFC 4303 2.6) without payload under `sa`, framed and encrypted around the empty packet `p`
  // (its headroom and tailroom) like any packet of the SA. Counted as the SA's keepalive and
  // last use, not in its packets; a drop is counted as encrypt() counts it.
  DropReason encrypt_dummy(Sa& sa, PacketView& p) noexcept;
  // Dummy packets sent by encrypt_dummy() and received (decrypted, ICV and replay checked; then
  // freed, not counted as drops).
  uint64_t keepalives_out() const noexcept { return keepalives_out_.get(); }
  uint64_t keepalives_in() const noexcept { return keepalives_in_.get(); }

  // Monotonic time of the current loop iteration, recorded as the SAs' last use.
  void set_now(uint64_t ns) noexcept { now_ns_ = ns; }
  uint64_t now_ns() const noexcept { return now_ns_; }
  uint32_t worker_index() const noexcept { return index_; }
  crypto::CryptoBackend& backend() noexcept { return backend_; }
  crypto::IvGenerator& random() noexcept { return iv_; }
  const DropCounters& drops() const noexcept { return drops_; }
  uint64_t esn_resyncs() const noexcept { return esn_resyncs_.get(); }

 private:
  // Whether this worker writes `sa`'s inbound state (replay window, auth failures): it owns the
  // SA, or claim() gives it the SA (sa.h, owner_). One relaxed load while it owns it.
  bool own(Sa& sa) noexcept {
    return static_cast<uint32_t>(sa.owner_.load(std::memory_order_relaxed)) == index_ || claim(sa);
  }
  bool claim(Sa& sa) noexcept;
  // A packet in the crypto lanes, with what finishing it needs.
  struct Deferred {
    crypto::CryptoOp op;
    PacketView view;
    Sa* sa;
    uint64_t seq;
    InboundMeta meta;
    uint32_t inner_len;
    uint32_t tag;
    bool outbound;
  };
  // At most IMB_MAX_JOBS (256) are in intel-ipsec-mb's lanes; the rest of the ring holds finished
  // packets until the caller reaps them (once per poll loop in the dataplane). A chunk that does
  // not fit runs synchronously.
  static constexpr uint32_t kDeferredSlots = 512;
  // A free slot for one more deferred packet (tail_ moves when the packet is committed).
  Deferred& next_slot() noexcept { return deferred_[tail_ % kDeferredSlots]; }
  bool room_for(size_t n) const noexcept { return kDeferredSlots - deferred() >= n; }
  void commit_slot(Deferred& d) noexcept {
    d.op.done = false;
    submit_[nsubmit_++] = &d.op;
    ++tail_;
  }
  void submit_committed(bool enc) noexcept;
  DropReason finish_outbound(Deferred& d) noexcept;
  DropReason finish_deferred_inbound(Deferred& d) noexcept;
  void count_drop(Sa* sa, DropReason r) noexcept {
    drops_.add(r);
    if (sa != nullptr) sa->add_drop(r);
  }
  void count_keepalive_in(Sa& sa) noexcept;

  // tags: deferred with them, else (empty) synchronous. encrypt_chunks: in chunks of kMaxBurst.
  void encrypt_chunks(std::span<PacketView> pkts, std::span<Sa* const> sas,
                      std::span<DropReason> reasons, std::span<const uint32_t> tags) noexcept;
  void encrypt_chunk(std::span<PacketView> pkts, std::span<Sa* const> sas,
                     std::span<DropReason> reasons, std::span<const uint32_t> tags) noexcept;
  void reserve_sequence(Sa& sa, size_t first, size_t end, std::span<DropReason> reasons) noexcept;
  // Per packet on the outbound path: inlined into encrypt_chunk() (defined in esp_outbound.cpp,
  // the only caller).
  [[gnu::always_inline]] inline DropReason frame(Sa& sa, PacketView& p, uint64_t seq,
                                                 crypto::CryptoOp& op) noexcept;
  // frame() with the trailer's next header and the inner TOS and DF given (a dummy packet).
  [[gnu::always_inline]] inline DropReason frame_as(Sa& sa, PacketView& p, uint64_t seq,
                                                    crypto::CryptoOp& op, uint8_t next_header,
                                                    uint8_t tos, uint8_t inner_df) noexcept;
  // tags: deferred with them when not empty, else synchronous.
  void decrypt_chunk(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
                     std::span<Sa* const> sas, std::span<const uint32_t> tags,
                     std::span<DropReason> reasons) noexcept;
  // Per packet on the inbound path: inlined into decrypt_chunk() (defined in esp_inbound.cpp, the
  // only caller).
  [[gnu::always_inline]] inline DropReason finish_inbound(Sa& sa, PacketView& p,
                                                          const InboundMeta& m,
                                                          const crypto::CryptoOp& op,
                                                          uint64_t seq) noexcept;
  DropReason resync(Sa& sa, PacketView& p, const InboundMeta& m, crypto::CryptoOp& op,
                    uint64_t seq) noexcept;
  void count_drops(std::span<Sa* const> sas, std::span<const DropReason> reasons) noexcept;

  // An SA's traffic counters take one add per run of consecutive packets of that SA, not one per
  // packet: each add is a load and a store to the SA's slot, chained from packet to packet.
  struct TrafficRun {
    Sa* sa = nullptr;
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  void count_traffic(TrafficRun& run, Sa& sa, uint64_t bytes) noexcept {
    if (run.sa != &sa) {
      flush_traffic(run);
      run.sa = &sa;
    }
    ++run.packets;
    run.bytes += bytes;
  }
  void flush_traffic(TrafficRun& run) noexcept {
    if (run.sa == nullptr) return;
    SaCounters& c = run.sa->counters_for(index_);
    c.packets.add(run.packets);
    c.bytes.add(run.bytes);
    c.last_use_ns.set(now_ns_);
    run = {};
  }

  crypto::CryptoBackend& backend_;
  crypto::IvGenerator iv_;
  uint32_t index_;
  uint64_t now_ns_ = 0;
  uint16_t ip_id_ = 0;
  DropCounters drops_;
  Counter esn_resyncs_;
  Counter keepalives_out_;
  Counter keepalives_in_;

  std::array<crypto::CryptoOp, kMaxBurst> ops_{};
  std::array<uint16_t, kMaxBurst> op_pkt_{};
  std::array<uint64_t, kMaxBurst> seq_{};
  std::array<uint32_t, kMaxBurst> inner_len_{};
  std::array<InboundMeta, kMaxBurst> meta_{};
  std::array<Sa*, kMaxBurst> lookup_{};
  std::unique_ptr<uint8_t[]> resync_buf_;  // 64 KiB, for ESN re-synchronisation trials

  std::unique_ptr<Deferred[]> deferred_;  // ring of kDeferredSlots
  uint32_t head_ = 0;                     // oldest not reaped
  uint32_t tail_ = 0;                     // next free
  uint64_t deferred_total_ = 0;
  std::array<crypto::CryptoOp*, kMaxBurst> submit_{};  // a chunk's committed slots
  uint32_t nsubmit_ = 0;
  TrafficRun reap_run_;
};

}  // namespace espgw::esp
