#include "dataplane/esp/replay_window.h"

#include <bit>
#include <stdexcept>
#include <string>

namespace espgw::esp {

ReplayWindow::ReplayWindow(uint32_t size, bool esn) : esn_(esn) {
  if (size == 0) {
    if (esn) throw std::invalid_argument("replay window 0 (disabled) cannot be used with ESN");
    return;
  }
  if (size > kMaxSize) {
    throw std::invalid_argument("replay window " + std::to_string(size) + " is larger than " +
                                std::to_string(kMaxSize));
  }
  size_ = std::max<uint32_t>(64, (size + 63) / 64 * 64);
  // One spare block so that the window's oldest packets stay mapped while the newest block fills.
  const uint32_t blocks = std::bit_ceil(size_ / 64 + 1);
  block_mask_ = blocks - 1;
  bits_ = std::make_unique<uint64_t[]>(blocks);
}

void ReplayWindow::reset(uint64_t top) noexcept {
  top_ = top;
  if (bits_) {
    for (uint32_t i = 0; i <= block_mask_; ++i)
      bits_[i] = 0;
  }
}

// RFC 4303 Appendix A2.2. T = top_, W = size_, Tl/Th its halves, Seql the received bits.
uint64_t ReplayWindow::infer(uint32_t seql, bool* valid) const noexcept {
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

ReplayWindow::Check ReplayWindow::check(uint32_t seq_lo) const noexcept {
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

DropReason ReplayWindow::update(uint64_t seq) noexcept {
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
