#pragma once
// A packet buffer whose last byte sits just before a PROT_NONE page, so that any read or write
// past the end of the buffer faults the test instead of passing unnoticed. Tests place the packet
// so that it ends at the end of the buffer (tailroom 0) to prove "never a read outside the
// packet". A second PROT_NONE page precedes the page the buffer starts in: the start is guarded
// only to page granularity (the slack before it is filled with 0xEE).

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include "dataplane/esp/packet_view.h"

namespace espgw::test {

class GuardedBuffer {
 public:
  GuardedBuffer(std::span<const uint8_t> packet, uint32_t headroom = 128, uint32_t tailroom = 0)
      : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    const size_t total = headroom + packet.size() + tailroom;
    const size_t pages = (total + page_ - 1) / page_ + (total == 0 ? 1 : 0);
    map_len_ = (pages + 2) * page_;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error("mmap failed");
    map_ = static_cast<uint8_t*>(m);
    if (mprotect(map_, page_, PROT_NONE) != 0 ||
        mprotect(map_ + (pages + 1) * page_, page_, PROT_NONE) != 0) {
      munmap(map_, map_len_);
      throw std::runtime_error("mprotect failed");
    }
    uint8_t* end = map_ + (pages + 1) * page_;  // first byte of the trailing guard page
    uint8_t* buf = end - total;
    std::memset(buf, 0xEE, total);
    if (!packet.empty()) std::memcpy(buf + headroom, packet.data(), packet.size());
    view_.buf = buf;
    view_.buf_len = static_cast<uint32_t>(total);
    view_.data_off = headroom;
    view_.data_len = static_cast<uint32_t>(packet.size());
  }
  ~GuardedBuffer() { munmap(map_, map_len_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  esp::PacketView& view() noexcept { return view_; }
  std::vector<uint8_t> bytes() const { return {view_.data(), view_.data() + view_.data_len}; }

 private:
  size_t page_;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  esp::PacketView view_;
};

}  // namespace espgw::test
