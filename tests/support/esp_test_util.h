#pragma once
// Test helpers: packet buffers with head- and tailroom, inner packets, matching SA pairs.

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "dataplane/esp/esp_engine.h"
#include "dataplane/esp/sa.h"

namespace espgw::test {

// A buffer with room before and after the packet, as an mbuf has.
class PacketBuffer {
 public:
  static constexpr uint32_t kHeadroom = 128;
  explicit PacketBuffer(const std::vector<uint8_t>& ip_packet, uint32_t tailroom = 128);
  esp::PacketView& view() noexcept { return view_; }
  std::vector<uint8_t> bytes() const;  // the current packet

 private:
  std::vector<uint8_t> storage_;
  esp::PacketView view_;
};

// Inner packets with a deterministic payload (byte i = seed + i).
std::vector<uint8_t> ipv4_udp_packet(uint32_t payload_len, uint8_t tos = 0, uint8_t seed = 0,
                                     bool df = true);
std::vector<uint8_t> ipv6_udp_packet(uint32_t payload_len, uint8_t traffic_class = 0,
                                     uint8_t seed = 0);

struct SaPairOptions {
  esp::Algorithm algorithm;
  bool esn = false;
  bool udp_encap = false;
  bool outer_v6 = false;
  uint32_t replay_window = 64;
  uint32_t spi = 0x1000;
  uint64_t first_seq = 1;
};

// Outbound SA of gateway A and the matching inbound SA of gateway B, random keys.
struct SaPair {
  std::unique_ptr<esp::Sa> out;
  std::unique_ptr<esp::Sa> in;
  esp::SaParams params;  // the outbound parameters, keys included
};
SaPair make_sa_pair(const SaPairOptions& o, std::mt19937_64& rng);

}  // namespace espgw::test
