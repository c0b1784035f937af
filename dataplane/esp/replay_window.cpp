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

}  // namespace espgw::esp
