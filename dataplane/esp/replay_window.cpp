#include "dataplane/esp/replay_window.h"

#include <algorithm>
#include <bit>
#include <new>
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
  // Whole cache lines: blocks is a power of two, so at least 8 words is a multiple of 8.
  const size_t words = std::max<size_t>(blocks, 8);
  auto* bits =
      static_cast<uint64_t*>(::operator new[](words * sizeof(uint64_t), std::align_val_t{64}));
  std::fill_n(bits, words, uint64_t{0});
  bits_.reset(bits);
}

void ReplayWindow::reset(uint64_t top) noexcept {
  top_ = top;
  if (bits_) {
    for (uint32_t i = 0; i <= block_mask_; ++i)
      bits_[i] = 0;
  }
}

void ReplayWindow::restore(uint64_t top, const std::vector<uint8_t>& seen) noexcept {
  reset(top);
  if (!bits_ || top == 0) return;
  const size_t n = std::min<size_t>(seen.size() * 8, size_);
  for (size_t i = 0; i < n && i < top; ++i) {
    if ((seen[i / 8] >> (i % 8)) & 1) {
      const uint64_t seq = top - i;
      bits_[(seq >> 6) & block_mask_] |= uint64_t{1} << (seq & 63);
    }
  }
}

std::vector<uint8_t> ReplayWindow::snapshot(uint64_t* top) const {
  const uint64_t t = __atomic_load_n(&top_, __ATOMIC_RELAXED);
  *top = t;
  std::vector<uint8_t> seen;
  if (!bits_ || t == 0) return seen;
  seen.assign(size_ / 8, 0);
  // A word at a time: bits 0..hi of the word that holds seq = t - i stand for i .. i + hi.
  const uint64_t n = std::min<uint64_t>(size_, t);  // no sequence number 0
  for (uint64_t i = 0; i < n;) {
    const uint64_t seq = t - i;
    const unsigned hi = static_cast<unsigned>(seq & 63);
    uint64_t word = __atomic_load_n(&bits_[(seq >> 6) & block_mask_], __ATOMIC_RELAXED);
    if (hi < 63) word &= (uint64_t{1} << (hi + 1)) - 1;
    while (word != 0) {
      const unsigned bit = 63 - static_cast<unsigned>(std::countl_zero(word));
      const uint64_t k = i + (hi - bit);
      if (k >= n) break;
      seen[k / 8] |= static_cast<uint8_t>(1u << (k % 8));
      word &= ~(uint64_t{1} << bit);
    }
    i += hi + 1;
  }
  while (!seen.empty() && seen.back() == 0)
    seen.pop_back();
  return seen;
}

}  // namespace espgw::esp
