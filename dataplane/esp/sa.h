#pragma once
// A tunnel-mode ESP security association (RFC 4303), as the dataplane holds it.
//
// Three parts (docs/architecture.md, "Threads of espgw"):
//  - SaParams: the control-side description (from the config, the control socket or the IKE
//    plugin). Plain values; validated by make_sa().
//  - Sa's read-only part: everything a worker needs per packet, prepared once at install: keys in
//    both backends' forms, the outer header template, the IV base, the chosen options. What every
//    packet reads is the SA's first cache line; the outbound sequence number and the outer
//    header (until the SA is moved) are the second, so that traffic spread over thousands of SAs
//    loads two lines per SA (docs/memory.md).
//  - Sa's hot part, with its writer rule next to each field:
//      next_seq_   outbound: any worker; one atomic fetch_add per burst and SA.
//      replay_, auth_failures_: inbound: the single worker that receives the SA's outer flow,
//                  its owner_: the first worker to decrypt under the SA claims it; a packet on
//                  another worker is dropped (sa_other_worker) unless the owner has been idle
//                  for kOwnerIdleNs, when that worker takes the SA over (owner_moves).
//      counters_   one slot per worker, written only by that worker.
//      drops_      rare events, any worker, atomic adds.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/esp_algorithm.h"
#include "common/esp_sa_options.h"
#include "common/ip_address.h"
#include "dataplane/common/counter.h"
#include "dataplane/common/drop_reason.h"
#include "dataplane/crypto/sa_keys.h"
#include "dataplane/esp/replay_window.h"

namespace espgw::esp {

// Direction, DfMode and EcnMode: common/esp_sa_options.h.

struct SaParams {
  uint32_t spi = 0;  // host order; 256 and above (RFC 4303 2.1)
  Direction direction = Direction::kOutbound;
  Algorithm algorithm;
  std::vector<uint8_t> enc_key;   // AES key alone
  std::vector<uint8_t> salt;      // GCM: 4 bytes; CBC: empty
  std::vector<uint8_t> auth_key;  // HMAC key; empty for GCM

  // Outer addresses as sent: outbound src = local, dst = remote; inbound the reverse.
  IpAddress local;
  IpAddress remote;
  bool udp_encap = false;  // RFC 3948 ESP-in-UDP
  uint16_t local_port = 4500;
  uint16_t remote_port = 4500;

  bool esn = false;
  uint32_t replay_window = 64;  // inbound; 0 disables (not with ESN)
  // Appendix A3: after this many consecutive ICV failures, also try seq_hi + 1. 0 disables.
  uint32_t esn_resync_threshold = 16;

  DfMode df = DfMode::kCopy;
  bool copy_dscp = true;
  uint8_t dscp = 0;  // used when !copy_dscp
  EcnMode ecn = EcnMode::kNormal;
  uint8_t ttl = 64;  // outer TTL / hop limit

  // Outbound: the first sequence number to send. Inbound: the window's top is the one below it,
  // and replay_seen says which of the numbers below that top were received (ReplayWindow::
  // restore()). RFC 4303 starts both ends of a new SA at 1; an SA's state carried over (sa-add's
  // "oseq", "seq" and "replay_bitmap", a restart's state file: docs/sa-state.md) starts later.
  uint64_t first_seq = 1;
  std::vector<uint8_t> replay_seen;

  friend bool operator==(const SaParams&, const SaParams&) = default;
};

// The outer header an SA sends with (outbound view: source = local), and how it is framed.
// Swapped whole, under RCU, when the IKE daemon moves the SA (a NAT mapping or MOBIKE change):
// workers read it through one atomic pointer, and every version lives as long as the SA.
struct OuterHeader {
  uint8_t bytes[48]{};  // IPv4/IPv6 header (+ UDP), fixed fields filled
  // IPv4: one's-complement sum of the fixed header words (version, TTL, protocol, addresses), so
  // that a packet's header checksum adds only TOS, length, ID and DF to it.
  uint32_t csum_base = 0;
  uint8_t len = 0;   // IP (+ UDP) header bytes
  uint8_t head = 0;  // len + ESP header + IV
  bool v6 : 1 = false;
  bool udp_encap : 1 = false;
  bool udp6 : 1 = false;  // IPv6 with UDP: the UDP checksum is computed per packet
};
// 56 bytes: with the sequence number it fills the SA's second cache line.
static_assert(sizeof(OuterHeader) == 56);

// Per-worker traffic counters of one SA.
struct alignas(64) SaCounters {
  Counter packets;
  Counter bytes;  // inner (cleartext) bytes
  Counter last_use_ns;
  // ESP dummy packets (next header 59, RFC 4303 2.6): a lane's keepalives sent (outbound) or
  // received (inbound). Not in packets or bytes; they do set last_use_ns.
  Counter keepalives;
};

// An inbound SA's owner worker may be taken over after this long without a packet decrypted.
inline constexpr uint64_t kOwnerIdleNs = 1'000'000'000;
inline constexpr uint32_t kNoOwner = UINT32_MAX;

// key_fingerprint() of the SA that params would make (params still holds the keys).
uint64_t key_fingerprint(const SaParams& params);

// Where an SA starts instead of SaParams::first_seq and replay_seen: the state of an SA that ran
// before (docs/sa-state.md), found by Sa::make()'s caller without copying the keys.
struct SaStart {
  uint64_t first_seq = 1;
  std::vector<uint8_t> replay_seen;
};

class Sa {
 public:
  // Throws std::invalid_argument with a message naming the bad field (never key bytes).
  // workers: how many workers may touch this SA (one counter slot each).
  // iv_seed: a random 64-bit number; the GCM IV counter starts there (see iv_base_).
  // start: where its sequence numbers start, over params' (null: params').
  // fingerprint: key_fingerprint(params) where the caller has it already (0: computed here).
  static std::unique_ptr<Sa> make(const SaParams& params, uint32_t workers, uint64_t iv_seed,
                                  const SaStart* start = nullptr, uint64_t fingerprint = 0);

  Sa(const Sa&) = delete;
  Sa& operator=(const Sa&) = delete;

  const SaParams& params() const noexcept { return params_; }
  uint32_t spi() const noexcept { return params_.spi; }
  const Algorithm& algorithm() const noexcept { return params_.algorithm; }
  const crypto::SaKeys& keys() const noexcept { return *keys_; }
  // Names the SA's keys without giving them away: the first 8 bytes of a SHA-256 over a label,
  // the direction, the SPI and the key material. The state file (docs/sa-state.md) matches a
  // record to an SA by it, so that a record never moves to another SA with the same SPI.
  uint64_t key_fingerprint() const noexcept { return fingerprint_; }

  // Sum over workers.
  uint64_t packets() const noexcept;
  uint64_t bytes() const noexcept;
  uint64_t last_use_ns() const noexcept;
  uint64_t keepalives() const noexcept;
  uint64_t drops(DropReason r) const noexcept {
    const size_t slot = drop_slot(r);
    return slot < drops_.size() ? drops_[slot].get() : 0;
  }
  // The one drop the dataplane decides about an SA's packets after the engine: an inner packet
  // outside the tunnel's traffic selectors.
  void count_selector_mismatch() noexcept { add_drop(DropReason::kSelectorMismatch); }
  uint64_t next_seq() const noexcept { return next_seq_.load(std::memory_order_relaxed); }
  bool stopped() const noexcept { return stopped_.load(std::memory_order_relaxed); }
  // Hard lifetime reached: the SA carries nothing more (outbound: sa_stopped).
  void stop() noexcept { stopped_.store(true, std::memory_order_relaxed); }
  const ReplayWindow& replay() const noexcept { return replay_; }
  // Inbound: the worker that writes the replay window (kNoOwner: none yet), and how often
  // another worker took it over.
  uint32_t owner() const noexcept {
    return static_cast<uint32_t>(owner_.load(std::memory_order_relaxed));
  }
  uint64_t owner_moves() const noexcept { return owner_moves_.get(); }
  uint32_t workers() const noexcept { return workers_; }

  // Control thread only. New outer addresses, NAT-T encapsulation and ports (RFC 4555 MOBIKE, a
  // NAT mapping that changed): the sequence number, replay window and counters stay. Throws
  // std::invalid_argument when the families of local and remote differ.
  void retarget(const IpAddress& local, const IpAddress& remote, bool udp_encap,
                uint16_t local_port, uint16_t remote_port);
  const OuterHeader& outer() const noexcept { return *outer_.load(std::memory_order_acquire); }

  // For a burst spread over many SAs, where each is otherwise a string of dependent cache
  // misses: prefetch_outbound() starts loading the SA's own two lines (read-only fields; the
  // sequence number and the first outer header); prefetch_outbound_keys(), once those are in,
  // what they point to (the outer header if it was moved, this worker's counters, the lines of
  // the key schedule that a small packet reads).
  void prefetch_outbound() const noexcept {
    __builtin_prefetch(this);
    __builtin_prefetch(&next_seq_, 1);
  }
  void prefetch_outbound_keys(uint32_t worker) const noexcept {
    __builtin_prefetch(outer_.load(std::memory_order_relaxed));
    __builtin_prefetch(&counters_[worker < workers_ ? worker : 0], 1);
    key_lines_.prefetch(keys_.get());
  }

 private:
  friend class EspEngine;
  friend struct SaTestAccess;
  Sa(const SaParams& p, uint32_t workers);
  void install_outer(const SaParams& p);
  // A worker index beyond the SA's slots (a misconfigured caller) shares slot 0 rather than
  // writing outside the array.
  SaCounters& counters_for(uint32_t worker) noexcept {
    return counters_[worker < workers_ ? worker : 0];
  }

  // ---- read-only after make(), what every packet reads: the first cache line ----
  std::unique_ptr<crypto::SaKeys> keys_;
  uint32_t spi_be_ = 0;
  uint32_t workers_ = 1;
  // RFC 4106 3.1: the IV must never repeat under one key. IV = iv_base_ + sequence number: unique
  // because the sequence number is, and randomised per SA instance so that a static (config) key
  // reused after a restart does not replay the IVs of the previous run.
  uint64_t iv_base_ = 0;
  std::atomic<const OuterHeader*> outer_{nullptr};
  std::unique_ptr<SaCounters[]> counters_;  // written per worker; the pointer is read-only
  // What frame() and decrypt() need per packet, resolved at install so the hot path neither calls
  // Algorithm::icv_bytes() (out of line) nor branches on the SA's options.
  uint8_t iv_len_ = 0;      // explicit IV bytes
  uint8_t icv_len_ = 0;     // ICV bytes
  uint8_t align_mask_ = 0;  // ciphertext alignment - 1
  bool aead_ = false;
  // Outer TOS / traffic class = (inner TOS & tos_keep_) | tos_set_ (DSCP copy or set, RFC 6040
  // normal or compatibility ECN).
  uint8_t tos_keep_ = 0;
  uint8_t tos_set_ = 0;
  // Outer IPv4 DF = (inner DF bit & df_keep_) | df_set_ (copy, set or clear).
  uint8_t df_keep_ = 0;
  uint8_t df_set_ = 0;
  bool inbound_ = false;
  bool esn_ = false;
  std::atomic<bool> stopped_{false};  // written once, when the SA stops
  crypto::KeyLines key_lines_;        // keys_->lines, for loading the keys ahead

  // ---- the second line (outbound): the sequence number, written per burst, and the first
  // outer header, which outer_ points to until the SA is moved (retarget()) ----
  alignas(64) std::atomic<uint64_t> next_seq_{1};
  OuterHeader first_outer_;

  // ---- read-only, cold: the control side's view ----
  SaParams params_;
  uint64_t fingerprint_ = 0;
  // Every version after the first (control thread only): a worker may still read an old one.
  std::vector<std::unique_ptr<OuterHeader>> outers_;

  // ---- hot, inbound ----
  alignas(64) ReplayWindow replay_;
  uint32_t auth_failures_ = 0;
  // Low 32 bits: the owner worker; high 32 bits: when it claimed the SA, in ms of its clock
  // (wrapping). One word, so that a claim and its time are one compare-and-swap.
  std::atomic<uint64_t> owner_{kNoOwner};
  SharedCounter owner_moves_;
  // Per-SA drops: the engine's reasons (those before kFirstDataplaneReason, which are all an SA
  // can meet in EspEngine) at their own index, and kSelectorMismatch in the slot of kNone, which
  // is never counted. A slot for every dataplane reason would be 180 bytes more per SA, always 0.
  static constexpr size_t drop_slot(DropReason r) noexcept {
    if (r == DropReason::kSelectorMismatch) return 0;
    const auto i = static_cast<size_t>(r);
    return i < static_cast<size_t>(kFirstDataplaneReason) && i != 0 ? i : SIZE_MAX;
  }
  std::array<SharedCounter, static_cast<size_t>(kFirstDataplaneReason)> drops_{};
  // EspEngine's drops (also counted per worker, whatever the reason).
  void add_drop(DropReason r) noexcept {
    if (const size_t slot = drop_slot(r); slot < drops_.size()) drops_[slot].add();
  }
};

}  // namespace espgw::esp
