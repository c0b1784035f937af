// dataplane.lane_port_base (docs/config-reference.md, docs/lanes.md): the 63 lane source ports
// hold neither IKE port, and once a tunnel has lanes no tunnel receives on one of them, in the
// file and against the running config (parse_tunnel). Errors name the file, line and key.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "config/config.h"

namespace espgw::config {
namespace {

using ::testing::HasSubstr;

std::string yaml(const std::string& dataplane, const std::string& wide, const std::string& other) {
  return dataplane + R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
tunnels:
  - name: wide
    local: 192.0.2.1
    remote: 192.0.2.7
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.2.0.0/16]
    nat_t: true
    peer_kind: espgw
)" + wide +
         R"(  - name: other
    local: 192.0.2.1
    remote: 192.0.2.8
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.3.0.0/16]
    nat_t: true
)" + other;
}

std::string error_of(const std::string& text) {
  try {
    parse(text, "t.yaml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(LanePortBase, DefaultAndGiven) {
  EXPECT_EQ(parse(yaml("", "", ""), "t.yaml").dataplane.lane_port_base, 4501);
  const Config c = parse(yaml("dataplane:\n  lane_port_base: 40000\n", "    lanes: 4\n", ""), "t");
  EXPECT_EQ(c.dataplane.lane_port_base, 40000);
  EXPECT_EQ(c.tunnels[0].lanes, 4);
}

TEST(LanePortBase, RefusesIkePortsAndTheTopOfTheRange) {
  EXPECT_THAT(error_of(yaml("dataplane:\n  lane_port_base: 4450\n", "", "")),
              HasSubstr("t.yaml:2: dataplane.lane_port_base: the lane ports 4450-4512 contain the "
                        "IKE port 4500"));
  EXPECT_THAT(error_of(yaml("dataplane:\n  lane_port_base: 480\n", "", "")),
              HasSubstr("contain the IKE port 500"));
  EXPECT_THAT(error_of(yaml("dataplane:\n  lane_port_base: 65474\n", "", "")),
              HasSubstr("dataplane.lane_port_base"));
  EXPECT_EQ(
      parse(yaml("dataplane:\n  lane_port_base: 65473\n", "", ""), "t").dataplane.lane_port_base,
      65473);
}

TEST(LanePortBase, ATunnelsLocalPortOutsideTheLanePortsOnceATunnelHasLanes) {
  // Without lanes the lane ports are never sent from: a local_port among them is fine.
  EXPECT_EQ(parse(yaml("", "", "    local_port: 4501\n"), "t").tunnels[1].local_port, 4501);
  const std::string text = yaml("", "    lanes: 2\n", "    local_port: 4563\n");
  EXPECT_THAT(error_of(text), HasSubstr("t.yaml:20: tunnels[1].local_port: is one of the lane "
                                        "ports 4501-4563 (dataplane.lane_port_base), got "
                                        "\"4563\""));
  EXPECT_EQ(parse(yaml("", "    lanes: 2\n", "    local_port: 4564\n"), "t").tunnels[1].local_port,
            4564);
}

TEST(LanePortBase, AgainstTheRunningConfig) {
  const Config running = parse(yaml("", "    lanes: 2\n", ""), "t.yaml");
  const std::string added = R"(name: third
local: 192.0.2.1
remote: 192.0.2.9
local_cidrs: [10.1.0.0/16]
remote_cidrs: [10.4.0.0/16]
nat_t: true
local_port: 4502
)";
  try {
    parse_tunnel(running, added, "tunnel-add");
    ADD_FAILURE() << "accepted a local_port among the lane ports";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("local_port: is one of the lane ports 4501-4563"));
  }
  // A tunnel with lanes where a running tunnel receives on a lane port.
  const Config plain = parse(yaml("", "", "    local_port: 4510\n"), "t.yaml");
  const std::string wide2 = R"(name: wide2
local: 192.0.2.1
remote: 192.0.2.9
local_cidrs: [10.1.0.0/16]
remote_cidrs: [10.4.0.0/16]
nat_t: true
peer_kind: espgw
lanes: 3
)";
  try {
    parse_tunnel(plain, wide2, "tunnel-add");
    ADD_FAILURE() << "accepted lanes while a tunnel receives on a lane port";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("tunnel \"other\" receives on local_port 4510, one of the lane "
                                    "ports 4501-4563"));
  }
}

}  // namespace
}  // namespace espgw::config
