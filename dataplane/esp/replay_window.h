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

#include "dataplane/common/drop_reason.h"

namespace espgw::esp {

class ReplayWindow {
 public:
  static constexpr uint32_t kMaxSize = 65536;

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

 private:
  uint64_t infer(uint32_t seq_lo, bool* valid) const noexcept;

  uint64_t top_ = 0;  // highest authenticated sequence number; 0 = none yet
  uint32_t size_ = 0;
  uint32_t block_mask_ = 0;
  bool esn_ = false;
  std::unique_ptr<uint64_t[]> bits_;
};

}  // namespace espgw::esp
