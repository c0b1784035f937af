#pragma once
// Anti-replay window of RFC 4303 3.4.3 and Appendix A, with 64-bit extended sequence numbers.
// The bitmap follows RFC 6479: blocks of 64 bits in a ring, so advancing the window clears whole
// words instead of shifting the map, and the cost does not grow with the window size.
//
// Use: check() before decryption (it also infers the high 32 bits of an ESN, Appendix A2.2), then
// update() only after the ICV verified (3.4.3: the window is never moved by an unauthenticated
// packet). update() checks again, which catches two copies of one packet inside the same burst.
//
// Threading: one writer. The inbound SA's replay window is written by the worker that receives the
// SA's outer flow (RSS keeps one flow on one queue); see dataplane DESIGN notes.

#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "common/esp_sa_options.h"
#include "dataplane/common/drop_reason.h"

namespace espgw::esp {

class ReplayWindow {
 public:
  static constexpr uint32_t kMaxSize = kMaxReplayWindow;

  ReplayWindow() = default;
  // size: 0 disables the check (non-ESN only), else 64..65536, rounded up to a multiple of 64.
  // Throws std::invalid_argument for a size out of range or 0 with ESN.
  ReplayWindow(uint32_t size, bool esn);

  struct Check {
    DropReason reason;  // kNone, kReplayOld or kReplayDuplicate
    uint64_t seq;       // the full sequence number the packet claims
  };
  Check check(uint32_t seq_lo) const noexcept;

  // For the ESN re-synchronisation of Appendix A3: the sequence number with seq_hi one above the
  // inferred one.
  uint64_t next_subspace(uint64_t seq) const noexcept { return seq + (uint64_t{1} << 32); }

  DropReason update(uint64_t seq) noexcept;

  uint64_t top() const noexcept { return top_; }
  uint32_t size() const noexcept { return size_; }
  bool esn() const noexcept { return esn_; }
  // Starts the window at a known point (the IKE daemon moves state between SAs on update_sa).
  void reset(uint64_t top) noexcept;

  // The window as state that can leave the process and come back (docs/sa-state.md): bit b of
  // byte k of seen stands for sequence number top - (8k + b), set where it was received. Bits
  // beyond the window or below sequence number 1 are ignored by restore(); snapshot() writes
  // size()/8 bytes at most, trailing zero bytes left off. snapshot() may run on another thread
  // than the writer: it reads a window that may be moving and so is a moment's view, no more.
  void restore(uint64_t top, const std::vector<uint8_t>& seen) noexcept;
  std::vector<uint8_t> snapshot(uint64_t* top) const;

 private:
  uint64_t infer(uint32_t seq_lo, bool* valid) const noexcept;

  // The bitmap is written per packet by the owner worker: whole cache lines of its own (64-byte
  // aligned, at least 64 bytes), so that no other SA's bitmap or other heap data shares a line
  // with it (docs/multicore.md).
  struct LineDelete {
    void operator()(uint64_t* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
  };

  uint64_t top_ = 0;  // highest authenticated sequence number; 0 = none yet
  uint32_t size_ = 0;
  uint32_t block_mask_ = 0;
  bool esn_ = false;
  std::unique_ptr<uint64_t[], LineDelete> bits_;
};

// check() and update() run for every inbound packet: defined here so that they inline.

// RFC 4303 Appendix A2.2. T = top_, W = size_, Tl/Th its halves, Seql the received bits.
inline uint64_t ReplayWindow::infer(uint32_t seql, bool* valid) const noexcept {
  const uint32_t tl = static_cast<uint32_t>(top_);
  const uint32_t th = static_cast<uint32_t>(top_ >> 32);
  const uint32_t bottom = tl - size_ + 1;  // modulo 2^32, as the RFC's arithmetic is
  uint32_t seqh = th;
  *valid = true;
  if (tl >= size_ - 1) {
    // Case A: the window lies within one sequence number subspace.
    if (seql < bottom) {
      if (th == UINT32_MAX) *valid = false;  // would need a 2^64 wrap
      seqh = th + 1;
    }
  } else if (seql >= bottom) {
    // Case B: the window spans two subspaces and Seql sits in the lower (older) one.
    if (th == 0) *valid = false;  // there is no subspace below 0: a forged or stale packet
    seqh = th - 1;
  }
  return (uint64_t{seqh} << 32) | seql;
}

inline ReplayWindow::Check ReplayWindow::check(uint32_t seq_lo) const noexcept {
  uint64_t seq = seq_lo;
  if (esn_) {
    bool valid = false;
    seq = infer(seq_lo, &valid);
    if (!valid) return {DropReason::kReplayOld, seq};
  }
  // Sequence number 0 is never sent (RFC 4303 3.3.3: the first packet carries 1).
  if (seq == 0) return {DropReason::kReplayOld, seq};
  if (size_ == 0 || seq > top_) return {DropReason::kNone, seq};
  if (top_ - seq >= size_) return {DropReason::kReplayOld, seq};
  const uint64_t word = bits_[(seq >> 6) & block_mask_];
  if (word & (uint64_t{1} << (seq & 63))) return {DropReason::kReplayDuplicate, seq};
  return {DropReason::kNone, seq};
}

inline DropReason ReplayWindow::update(uint64_t seq) noexcept {
  if (seq == 0) return DropReason::kReplayOld;
  if (size_ == 0) {
    if (seq > top_) top_ = seq;
    return DropReason::kNone;
  }
  if (seq > top_) {
    const uint64_t new_block = seq >> 6;
    const uint64_t top_block = top_ >> 6;
    uint64_t clear = new_block - top_block;
    if (clear > uint64_t{block_mask_} + 1) clear = uint64_t{block_mask_} + 1;
    for (uint64_t i = 1; i <= clear; ++i)
      bits_[(top_block + i) & block_mask_] = 0;
    top_ = seq;
  } else if (top_ - seq >= size_) {
    return DropReason::kReplayOld;
  }
  uint64_t& word = bits_[(seq >> 6) & block_mask_];
  const uint64_t bit = uint64_t{1} << (seq & 63);
  if (word & bit) return DropReason::kReplayDuplicate;
  word |= bit;
  return DropReason::kNone;
}

}  // namespace espgw::esp
