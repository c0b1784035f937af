// Lanes in the config (docs/lanes.md): lane_if_id() and lane_name(); `lanes` above 1 needs nat_t,
// `peer_kind: espgw` and, with `ike:`, IKEv2; every lane's interface ID counts in the collision
// check, against the file and against the running config (parse_tunnel).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config/config.h"
#include "tests/unit/config_ike_test_base.h"

namespace espgw::config {
namespace {

using namespace test_ike;  // NOLINT(google-build-using-namespace): the suite's helpers

// kIke's aws-1 (IKEv2, nat_t) with `extra` after its nat_t line.
std::string aws1(std::string_view extra) {
  return with("    nat_t: true\n", "    nat_t: true\n" + std::string(extra));
}

TEST(LaneIfId, LaneZeroIsTheTunnelsAndTheOthersHashTheirName) {
  EXPECT_EQ(lane_if_id("aws-1", 0), tunnel_if_id("aws-1"));
  EXPECT_EQ(lane_if_id("aws-1", 1), tunnel_if_id("aws-1#1"));
  EXPECT_EQ(lane_if_id("aws-1", 63), tunnel_if_id("aws-1#63"));
  EXPECT_EQ(lane_name("aws-1", 0), "aws-1");
  EXPECT_EQ(lane_name("aws-1", 2), "aws-1#2");
  std::set<uint32_t> ids;
  for (unsigned k = 0; k < 64; ++k)
    ids.insert(lane_if_id("aws-1", k));
  EXPECT_EQ(ids.size(), 64u);
}

TEST(LaneConfig, EspgwPeerWithIkev2AndNatT) {
  const Config c = parse(aws1("    lanes: 4\n    peer_kind: espgw\n"), "t.yaml");
  EXPECT_EQ(c.tunnels[0].lanes, 4);
  EXPECT_EQ(c.tunnels[0].peer_kind, PeerKind::kEspgw);
  // The default: another kind of peer, one lane.
  const Config d = parse(std::string(kIke), "t.yaml");
  EXPECT_EQ(d.tunnels[0].lanes, 1);
  EXPECT_EQ(d.tunnels[0].peer_kind, PeerKind::kOther);
  // One lane is fine towards any peer.
  EXPECT_NO_THROW(parse(aws1("    lanes: 1\n    peer_kind: other\n"), "t.yaml"));
}

TEST(LaneConfig, MoreThanOneLaneNeedsAnEspgwPeer) {
  const std::string y = aws1("    lanes: 4\n");
  expect_error(y, "lanes: 4", "tunnels[0].lanes",
               "more than one lane needs peer_kind: espgw (only an espgw gateway can key and "
               "receive lanes; AWS VPN endpoints and other IKE peers take 1), got \"4\"");
  const std::string o = aws1("    lanes: 2\n    peer_kind: other\n");
  EXPECT_THAT(error_of(o), HasSubstr("tunnels[0].lanes: more than one lane needs peer_kind"));
  expect_error(aws1("    peer_kind: aws\n"), "peer_kind: aws", "tunnels[0].peer_kind",
               "unknown peer kind \"aws\" (expected other or espgw)");
}

TEST(LaneConfig, MoreThanOneLaneNeedsIkev2AndNatT) {
  std::string v1 = with("      version: 2\n", "      version: 1\n");
  v1 = test_util::with(v1, "      mobike: true\n", "");
  v1 = test_util::with(v1, "    nat_t: true\n",
                       "    nat_t: true\n    lanes: 3\n    peer_kind: espgw\n");
  expect_error(v1, "lanes: 3", "tunnels[0].lanes",
               "more than one lane needs IKEv2 (ike.version: 2), got \"3\"");
  // aws-2 has no nat_t.
  const std::string y =
      with("    remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]\n",
           "    remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]\n    lanes: 2\n    peer_kind: espgw\n");
  expect_error(y, "lanes: 2", "tunnels[1].lanes",
               "more than one lane needs nat_t: true (each lane is its own ESP-in-UDP flow), got "
               "\"2\"");
}

// A pair found by search: lane 1 of "wide-226402" hashes to the interface ID of "narrow-4220".
constexpr const char* kWide = "wide-226402";
constexpr const char* kNarrow = "narrow-4220";

std::string two_tunnels(unsigned wide_lanes) {
  return test_util::with(kIke, "  - name: lab\n",
                         std::string("  - name: ") + kWide +
                             "\n    local: 192.0.2.1\n"
                             "    remote: 192.0.2.10\n"
                             "    local_cidrs: [10.1.0.0/16]\n"
                             "    remote_cidrs: [10.5.0.0/16]\n"
                             "    nat_t: true\n"
                             "    peer_kind: espgw\n"
                             "    lanes: " +
                             std::to_string(wide_lanes) + "\n  - name: " + kNarrow +
                             "\n    local: 192.0.2.1\n"
                             "    remote: 192.0.2.11\n"
                             "    local_cidrs: [10.1.0.0/16]\n"
                             "    remote_cidrs: [10.6.0.0/16]\n"
                             "  - name: lab\n");
}

TEST(LaneConfig, EveryLanesIfIdIsChecked) {
  ASSERT_EQ(lane_if_id(kWide, 1), tunnel_if_id(kNarrow));
  EXPECT_NO_THROW(parse(two_tunnels(1), "t.yaml"));
  const std::string y = two_tunnels(2);
  expect_error(y, std::string("name: ") + kNarrow, "tunnels[3].name",
               "interface ID 0x7c859f19 is that of lane 1 of tunnel \"wide-226402\" (line " +
                   std::to_string(line_of(y, std::string("name: ") + kWide)) +
                   "); rename one of the two: \"narrow-4220\"");
}

TEST(LaneConfig, LanesAgainstTheRunningConfig) {
  const Config ctx = parse(two_tunnels(1), "t.yaml");
  const std::string wide = std::string(R"({"name": ")") + kWide +
                           R"(", "local": "192.0.2.1", "remote": "192.0.2.10",
                               "local_cidrs": ["10.1.0.0/16"], "remote_cidrs": ["10.5.0.0/16"],
                               "nat_t": true, "peer_kind": "espgw", "lanes": 2})";
  EXPECT_EQ(error_of_call([&] { parse_tunnel(ctx, wide, "op.tunnel"); }),
            "op.tunnel:1: name: interface ID 0x7c859f19 of lane 1 is that of tunnel "
            "\"narrow-4220\"; rename one of the two: \"wide-226402\"");
}

}  // namespace
}  // namespace espgw::config
