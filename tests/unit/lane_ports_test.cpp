// Lane source ports (docs/lanes.md, Decision point 5 and 7): the Model gives an outbound SA of lane
// k >= 1 the UDP source port lane_port_base + k - 1 when it sends ESP-in-UDP to port 4500, keeps
// it across sa-update (a NAT mapping of the address) and a replace with the same parameters, and
// sends from charon's port towards any other remote port. Lane 0, a one-lane tunnel and inbound
// SAs keep the ports they were given.

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "dataplane/tables/model.h"

namespace espgw::dp {
namespace {

config::Tunnel tunnel(const std::string& name, uint8_t lanes) {
  config::Tunnel t;
  t.name = name;
  t.local = *IpAddress::parse("198.51.100.1");
  t.remote = *IpAddress::parse("203.0.113.7");
  t.nat_t = true;
  t.lanes = lanes;
  return t;
}

esp::SaParams params(uint32_t spi, esp::Direction dir, uint16_t remote_port = 4500) {
  esp::SaParams p;
  p.spi = spi;
  p.direction = dir;
  p.algorithm = *esp::parse_algorithm("aes128gcm16");
  p.enc_key.assign(16, 0x11);
  p.salt.assign(4, 0x22);
  p.local = *IpAddress::parse("198.51.100.1");
  p.remote = *IpAddress::parse("203.0.113.7");
  p.udp_encap = true;
  p.remote_port = remote_port;
  return p;
}

uint16_t sport(const Model& m, uint32_t spi) {
  const esp::Sa& sa = *m.outbound().at(spi).sa;
  EXPECT_EQ(sa.params().local_port, load_be16(sa.outer().bytes + 20)) << "header and params";
  return sa.params().local_port;
}

class LanePorts : public ::testing::Test {
 protected:
  LanePorts() : m({}, 1) {
    m.set_lane_port_base(6000);
    m.add_tunnel(tunnel("wide", 4), false);
    m.add_tunnel(tunnel("one", 1), false);
  }
  Model m;
};

TEST_F(LanePorts, EachLaneSendsFromItsOwnPortLaneZeroAndOneLaneTunnelsFromTheirs) {
  for (uint8_t k = 0; k < 4; ++k)
    m.add_sa("wide", params(0x100 + k, esp::Direction::kOutbound), 1, false, SaOrigin::kIke, {}, k);
  EXPECT_EQ(sport(m, 0x100), 4500);
  EXPECT_EQ(sport(m, 0x101), 6000);
  EXPECT_EQ(sport(m, 0x102), 6001);
  EXPECT_EQ(sport(m, 0x103), 6002);
  m.add_sa("one", params(0x200, esp::Direction::kOutbound), 1, false);
  EXPECT_EQ(sport(m, 0x200), 4500);
  m.add_sa("wide", params(0x300, esp::Direction::kInbound), 1, false, SaOrigin::kIke, {}, 3);
  EXPECT_EQ(m.inbound().at(0x300).sa->params().local_port, 4500);
  EXPECT_EQ(m.lane_state("wide", 3), LaneState::kUp);
  m.remove_sa(esp::Direction::kOutbound, 0x103);
  EXPECT_EQ(m.lane_state("wide", 3), LaneState::kNoSa);
  EXPECT_STREQ(lane_state_name(LaneState::kNoSa), "no_sa");
}

TEST_F(LanePorts, KeptAcrossUpdateAndReplaceButNotTowardsATranslatedPort) {
  m.add_sa("wide", params(0x102, esp::Direction::kOutbound), 1, false, SaOrigin::kIke, {}, 2);
  ASSERT_EQ(sport(m, 0x102), 6001);
  // The same SA given again (charon's ports): it stays as it is, sequence number and all.
  const esp::Sa* before = m.outbound().at(0x102).sa.get();
  m.add_sa("wide", params(0x102, esp::Direction::kOutbound), 1, true, SaOrigin::kIke, {}, 2);
  EXPECT_EQ(m.outbound().at(0x102).sa.get(), before);
  // A new address, charon's ports unchanged: the lane's port stays.
  const IpAddress local = *IpAddress::parse("198.51.100.1");
  const IpAddress moved = *IpAddress::parse("203.0.113.9");
  m.update_sa(esp::Direction::kOutbound, 0x102, local, moved, true, 4500, 4500);
  EXPECT_EQ(sport(m, 0x102), 6001);
  // A port-translating NAT (remote port not 4500): the lane sends from charon's port.
  m.update_sa(esp::Direction::kOutbound, 0x102, local, moved, true, 4500, 31000);
  EXPECT_EQ(sport(m, 0x102), 4500);
  m.update_sa(esp::Direction::kOutbound, 0x102, local, moved, true, 4500, 4500);
  EXPECT_EQ(sport(m, 0x102), 6001);
  m.add_sa("wide", params(0x103, esp::Direction::kOutbound, 31000), 1, false, SaOrigin::kIke, {},
           3);
  EXPECT_EQ(sport(m, 0x103), 4500);
}

}  // namespace
}  // namespace espgw::dp
