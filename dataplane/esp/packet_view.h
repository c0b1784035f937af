#pragma once
// The ESP engine's view of a packet buffer: the rte_mbuf fields it needs, so the engine runs (and
// is tested and fuzzed) without DPDK. The dataplane fills one per mbuf and copies data_off and
// data_len back after the engine ran; owner carries the mbuf pointer through.

#include <cstdint>

namespace espgw::esp {

struct PacketView {
  uint8_t* buf = nullptr;  // start of the buffer
  uint32_t buf_len = 0;    // bytes in the buffer
  uint32_t data_off = 0;   // where the IP packet starts
  uint32_t data_len = 0;   // IP packet length
  void* owner = nullptr;

  uint8_t* data() const noexcept { return buf + data_off; }
  uint32_t headroom() const noexcept { return data_off; }
  uint32_t tailroom() const noexcept { return buf_len - data_off - data_len; }
};

}  // namespace espgw::esp
