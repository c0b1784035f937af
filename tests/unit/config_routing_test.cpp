// Dynamic routing in the config (docs/routing.md, config/routing.cpp): routing.fpm, bgp, the
// tunnels' inside addresses, inside interface and bgp neighbour, routes into route-based tunnels,
// their defaults, every error and warning; and FRR's config rendered from it (config/frr_conf.h).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/config.h"
#include "config/frr_conf.h"
#include "tests/unit/config_test_util.h"

namespace espgw::config {
namespace {

using test_util::at;
using ::testing::HasSubstr;
using ::testing::Not;

// Two route-based tunnels with BGP (an AWS-like peer with both families, an espgw peer on a /31)
// sharing the selectors 0.0.0.0/0, a policy-based one, a route into t1. Tests change one line.
constexpr std::string_view kRouting = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
  - name: lan
    device: net_null1
    addresses: [10.1.0.1/24, "fd00:1::1/64"]
routes:
  - prefix: 10.9.0.0/16
    tunnel: t1
  - prefix: 10.2.0.0/16
    via: 10.1.0.254
    interface: lan
routing:
  fpm: {}
bgp:
  asn: 65001
  announce: [10.1.0.0/16, "fd00:1::/48"]
tunnels:
  - name: t1
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [0.0.0.0/0, "::/0"]
    remote_cidrs: [0.0.0.0/0, "::/0"]
    inside: [169.254.44.2/30, "fd00:44::2/126"]
    bgp: {remote_asn: 64512}
  - name: t2
    local: 192.0.2.1
    remote: 192.0.2.3
    local_cidrs: [0.0.0.0/0]
    remote_cidrs: [0.0.0.0/0]
    inside: [169.254.45.1/31]
    peer_kind: espgw
    bgp: {remote_asn: 64513}
  - name: policy
    local: 192.0.2.1
    remote: 192.0.2.4
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.3.0.0/16]
)";

std::string with(std::string_view from, std::string_view to) {
  return test_util::with(kRouting, from, to);
}

std::string error_of(const std::string& yaml) {
  return test_util::error_of_call([&] { parse(yaml, "t.yaml"); }, [](const std::string&) {});
}

// The one error of `yaml`: on the line of `needle`, at `path`, saying `what`.
void expect_error(const std::string& yaml, std::string_view needle, std::string_view path,
                  std::string_view what) {
  EXPECT_EQ(error_of(yaml), at(yaml, needle, path, what));
}

std::vector<std::string> warnings_of(const std::string& yaml) {
  return parse(yaml, "t.yaml").warnings;
}

TEST(RoutingConfig, Defaults) {
  const Config c = parse(kRouting, "t.yaml");
  EXPECT_TRUE(c.routing.fpm.enabled);
  EXPECT_EQ(c.routing.fpm.address.to_string(), "127.0.0.1");
  EXPECT_EQ(c.routing.fpm.port, 2620);
  EXPECT_EQ(c.routing.fpm.grace_s, 30u);
  EXPECT_EQ(c.routing.fpm.distance, 20);
  EXPECT_EQ(c.bgp.asn, 65001u);
  ASSERT_TRUE(c.bgp.router_id);
  EXPECT_EQ(c.bgp.router_id->to_string(), "192.0.2.1");  // the first IPv4 interface address
  EXPECT_EQ(c.bgp.maximum_paths, 8u);
  EXPECT_EQ(c.bgp.bfd_interval_ms, 200u);
  EXPECT_EQ(c.bgp.bfd_multiplier, 3);
  EXPECT_EQ(c.bgp.frr_instance, "espgw");
  ASSERT_EQ(c.bgp.announce.size(), 2u);
  EXPECT_EQ(c.bgp.announce[1].to_string(), "fd00:1::/48");
  EXPECT_TRUE(c.warnings.empty());

  const Tunnel& t1 = c.tunnels[0];
  EXPECT_TRUE(t1.route_based());
  ASSERT_EQ(t1.inside.size(), 2u);
  EXPECT_EQ(t1.inside[0].to_string(), "169.254.44.2/30");
  EXPECT_EQ(t1.inside_interface, inside_interface_name("t1"));
  ASSERT_TRUE(t1.bgp);
  EXPECT_EQ(t1.bgp->remote_asn, 64512u);
  ASSERT_EQ(t1.bgp->neighbours.size(), 2u);
  EXPECT_EQ(t1.bgp->neighbours[0].to_string(), "169.254.44.1");
  EXPECT_EQ(t1.bgp->neighbours[1].to_string(), "fd00:44::1");
  EXPECT_EQ(t1.bgp->keepalive_s, 10u);
  EXPECT_EQ(t1.bgp->hold_s, 30u);
  EXPECT_FALSE(t1.bgp->bfd);  // peer_kind other: AWS does not run BFD

  const Tunnel& t2 = c.tunnels[1];
  ASSERT_TRUE(t2.bgp);
  ASSERT_EQ(t2.bgp->neighbours.size(), 1u);
  EXPECT_EQ(t2.bgp->neighbours[0].to_string(), "169.254.45.0");  // the other end of the /31
  EXPECT_TRUE(t2.bgp->bfd);                                      // peer_kind espgw

  EXPECT_FALSE(c.tunnels[2].route_based());
  EXPECT_FALSE(c.tunnels[2].bgp);
  EXPECT_TRUE(c.tunnels[2].inside_interface.empty());
  EXPECT_EQ(c.routes[0].tunnel, "t1");
  EXPECT_TRUE(c.routes[0].interface.empty());
  EXPECT_FALSE(c.routes[0].via);
}

TEST(RoutingConfig, GivenValues) {
  std::string y =
      with("  fpm: {}\n", "  fpm: {address: \"::1\", port: 2621, grace_s: 5, distance: 200}\n");
  y = test_util::with(y, "  asn: 65001\n",
                      "  asn: 4200000000\n  router_id: 10.255.0.1\n  maximum_paths: 64\n"
                      "  bfd: {interval_ms: 300, multiplier: 5}\n  frr_instance: gw_1-a\n");
  y = test_util::with(
      y, "    bgp: {remote_asn: 64512}\n",
      "    inside_interface: vti-aws\n    bgp: {remote_asn: 64512, neighbours: [\"fd00:44::1\"], "
      "keepalive_s: 3, hold_s: 9, bfd: false}\n");
  const Config c = parse(y, "t.yaml");
  EXPECT_EQ(c.routing.fpm.address.to_string(), "::1");
  EXPECT_EQ(c.routing.fpm.port, 2621);
  EXPECT_EQ(c.routing.fpm.grace_s, 5u);
  EXPECT_EQ(c.routing.fpm.distance, 200);
  EXPECT_EQ(c.bgp.asn, 4200000000u);
  EXPECT_EQ(c.bgp.router_id->to_string(), "10.255.0.1");
  EXPECT_EQ(c.bgp.maximum_paths, 64u);
  EXPECT_EQ(c.bgp.bfd_interval_ms, 300u);
  EXPECT_EQ(c.bgp.bfd_multiplier, 5);
  EXPECT_EQ(c.bgp.frr_instance, "gw_1-a");
  const Tunnel& t1 = c.tunnels[0];
  EXPECT_EQ(t1.inside_interface, "vti-aws");
  ASSERT_EQ(t1.bgp->neighbours.size(), 1u);
  EXPECT_EQ(t1.bgp->neighbours[0].to_string(), "fd00:44::1");
  EXPECT_EQ(t1.bgp->keepalive_s, 3u);
  EXPECT_EQ(t1.bgp->hold_s, 9u);
  EXPECT_FALSE(t1.bgp->bfd);
}

TEST(RoutingConfig, FpmWithoutBgpAndNeither) {
  // routing.fpm alone: zebra's routes from an FRR that espgw does not configure.
  std::string y = with("bgp:\n  asn: 65001\n  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64512}\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n", "");
  Config c = parse(y, "t.yaml");
  EXPECT_TRUE(c.routing.fpm.enabled);
  EXPECT_FALSE(c.bgp.enabled());
  c = parse(test_util::with(y, "routing:\n  fpm: {}\n", ""), "t.yaml");
  EXPECT_FALSE(c.routing.fpm.enabled);
  // bgp implies fpm.
  c = parse(with("routing:\n  fpm: {}\n", ""), "t.yaml");
  EXPECT_TRUE(c.routing.fpm.enabled);
}

TEST(RoutingConfig, FpmErrors) {
  const std::string y = with("  fpm: {}\n", "  fpm: {address: 224.0.0.1, port: 0}\n");
  EXPECT_EQ(
      error_of(y),
      at(y, "fpm:", "routing.fpm.address", "not an address zebra can connect to \"224.0.0.1\"") +
          "\n" + at(y, "fpm:", "routing.fpm.port", "must be 1 to 65535, got \"0\""));
  expect_error(with("  fpm: {}\n", "  fpm: {grace_s: 0}\n"), "fpm:", "routing.fpm.grace_s",
               "must be 1 to 86400, got \"0\"");
  expect_error(with("  fpm: {}\n", "  fpm: {distance: 256}\n"), "fpm:", "routing.fpm.distance",
               "must be 1 to 255, got \"256\"");
  expect_error(with("  fpm: {}\n", "  fmp: {}\n"), "fmp:", "routing.fmp",
               "unknown key \"fmp\" (did you mean \"fpm\"?)");
}

TEST(RoutingConfig, BgpErrors) {
  expect_error(with("  asn: 65001\n", "  asn: 0\n"), "asn:", "bgp.asn",
               "must be 1 to 4294967295, got \"0\"");
  expect_error(with("  asn: 65001\n", "  asn: 65001\n  router_id: \"fd00::1\"\n"), "router_id",
               "bgp.router_id",
               "must be an IPv4 address (a BGP router ID is 32 bits), got \"fd00::1\"");
  expect_error(with("  asn: 65001\n", "  asn: 65001\n  maximum_paths: 65\n"), "maximum_paths",
               "bgp.maximum_paths", "must be 1 to 64, got \"65\"");
  expect_error(with("  asn: 65001\n", "  asn: 65001\n  frr_instance: a.b\n"), "frr_instance",
               "bgp.frr_instance", "must be 1 to 32 letters, digits, '-' or '_', got \"a.b\"");
  expect_error(with("  asn: 65001\n", "  asn: 65001\n  bfd: {interval_ms: 9}\n"),
               "bfd:", "bgp.bfd.interval_ms", "must be 10 to 60000, got \"9\"");
  expect_error(with("  asn: 65001\n", "  asn: 65001\n  bfd: {multiplier: 1}\n"),
               "bfd:", "bgp.bfd.multiplier", "must be 2 to 255, got \"1\"");
  expect_error(with("  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n",
                    "  announce: [10.1.0.0/16, 10.1.0.0/16]\n"),
               "announce:", "bgp.announce[1]",
               "duplicate prefix \"10.1.0.0/16\" (first at line " +
                   std::to_string(test_util::line_of(kRouting, "announce:")) + ")");
  // At most 100 prefixes, AWS's limit.
  std::string many = "  announce: [";
  for (int i = 0; i < 101; ++i)
    many += (i ? ", 10.100." : "10.100.") + std::to_string(i) + ".0/24";
  many += "]\n";
  expect_error(with("  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", many),
               "announce:", "bgp.announce",
               "at most 100 prefixes (AWS accepts no more from a customer gateway), got 101");
  many = test_util::with(many, ", 10.100.100.0/24", "");
  EXPECT_EQ(parse(with("  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", many), "t.yaml")
                .bgp.announce.size(),
            100u);
  // No IPv4 address to take the router ID from.
  std::string v6 = with("    addresses: [192.0.2.1/24]\n", "    addresses: [\"2001:db8::1/64\"]\n");
  v6 = test_util::with(v6, "    addresses: [10.1.0.1/24, \"fd00:1::1/64\"]\n",
                       "    addresses: [\"fd00:1::1/64\"]\n");
  EXPECT_THAT(error_of(v6),
              HasSubstr(at(v6, "bgp:", "bgp",
                           "no IPv4 interface address to take the router ID from: set router_id")));
}

TEST(RoutingConfig, InsideErrors) {
  const std::string inside = "    inside: [169.254.44.2/30, \"fd00:44::2/126\"]\n";
  auto one = [&](std::string_view to, std::string_view path, std::string_view what) {
    expect_error(with(inside, to), "inside:", path, what);
  };
  one("    inside: [169.254.44.3/30]\n", "tunnels[0].inside[0]",
      "our inside address must be host 1 or 2 of its /30 (not its network or broadcast address), "
      "got \"169.254.44.3/30\"");
  one("    inside: [169.254.44.0/30]\n", "tunnels[0].inside[0]",
      "our inside address must be host 1 or 2 of its /30 (not its network or broadcast address), "
      "got \"169.254.44.0/30\"");
  one("    inside: [\"fd00:44::3/126\"]\n", "tunnels[0].inside[0]",
      "our inside address must be host 1 or 2 of its /126 (not its network or broadcast "
      "address), got \"fd00:44::3/126\"");
  one("    inside: [169.254.44.2/29]\n", "tunnels[0].inside[0]",
      "an IPv4 inside prefix is a /30 or a /31 (the tunnel's two ends), got \"169.254.44.2/29\"");
  one("    inside: [\"fd00:44::2/64\"]\n", "tunnels[0].inside[0]",
      "an IPv6 inside prefix is a /126 or a /127 (the tunnel's two ends), got \"fd00:44::2/64\"");
  one("    inside: [169.254.44.2/30, 169.254.46.1/31]\n", "tunnels[0].inside[1]",
      "a second IPv4 inside prefix (first at line " +
          std::to_string(test_util::line_of(kRouting, inside)) +
          "; a tunnel has at most one of each family): \"169.254.46.1/31\"");
  one("    inside: [10.1.0.5/30]\n", "tunnels[0].inside[0]",
      "overlaps the connected prefix 10.1.0.0/24 of interface \"lan\": \"10.1.0.5/30\"");
  // t2's /31 after t1's: the error is t2's.
  expect_error(with(inside, "    inside: [169.254.45.0/31]\n"), "inside: [169.254.45.1/31]",
               "tunnels[1].inside[0]",
               "overlaps the inside prefix 169.254.45.0/31 of tunnel \"t1\" (line " +
                   std::to_string(test_util::line_of(kRouting, inside)) + "): \"169.254.45.1/31\"");
  one("    inside: [224.0.0.1/30]\n", "tunnels[0].inside[0]",
      "not a unicast address \"224.0.0.1/30\"");
  one("    inside: []\n", "tunnels[0].inside", "must not be empty");
}

TEST(RoutingConfig, SelectorsMustCarryTheInsideAddresses) {
  const std::string y = with("    remote_cidrs: [0.0.0.0/0]\n    inside: [169.254.45.1/31]\n",
                             "    remote_cidrs: [10.0.0.0/8]\n    inside: [169.254.45.1/31]\n");
  expect_error(y, "inside: [169.254.45.1/31]", "tunnels[1].inside",
               "the peer's inside address 169.254.45.0 is not within remote_cidrs: a route-based "
               "tunnel's traffic selectors must carry its inside addresses (AWS negotiates "
               "0.0.0.0/0 both ways)");
  const std::string l =
      with("    local_cidrs: [0.0.0.0/0, \"::/0\"]\n", "    local_cidrs: [0.0.0.0/0]\n");
  expect_error(l, "inside: [169.254.44.2/30", "tunnels[0].inside",
               "our inside address fd00:44::2 is not within local_cidrs: a route-based tunnel's "
               "traffic selectors must carry its inside addresses (AWS negotiates 0.0.0.0/0 both "
               "ways)");
}

TEST(RoutingConfig, RouteBasedTunnelsShareSelectorsPolicyBasedOnesDoNot) {
  // t1 and t2 both carry 0.0.0.0/0 (kRouting loads); a route may have a route-based tunnel's
  // selector as its prefix.
  EXPECT_NO_THROW(parse(with("  - prefix: 10.2.0.0/16\n", "  - prefix: 0.0.0.0/0\n"), "t.yaml"));
  // Two policy-based tunnels still may not.
  std::string y = with("    remote_cidrs: [10.3.0.0/16]\n",
                       "    remote_cidrs: [10.3.0.0/16]\n"
                       "  - name: policy2\n"
                       "    local: 192.0.2.1\n"
                       "    remote: 192.0.2.5\n"
                       "    local_cidrs: [10.1.0.0/16]\n"
                       "    remote_cidrs: [10.3.0.0/16]\n");
  EXPECT_THAT(error_of(y), HasSubstr("already routed into tunnel \"policy\""));
  // Nor a policy-based tunnel's remote CIDR and a static route.
  EXPECT_THAT(
      error_of(with("    remote_cidrs: [10.3.0.0/16]\n", "    remote_cidrs: [10.2.0.0/16]\n")),
      HasSubstr("also a static route"));
}

TEST(RoutingConfig, InsideInterface) {
  expect_error(with("    local_cidrs: [10.1.0.0/16]\n",
                    "    local_cidrs: [10.1.0.0/16]\n    inside_interface: x\n"),
               "inside_interface: x", "tunnels[2].inside_interface",
               "only with inside (a route-based tunnel)");
  expect_error(with("    bgp: {remote_asn: 64513}\n",
                    "    bgp: {remote_asn: 64513}\n    inside_interface: a-name-too-long0\n"),
               "inside_interface:", "tunnels[1].inside_interface",
               "must be 1 to 15 letters, digits, '-', '_' or '.', got \"a-name-too-long0\"");
  std::string y = with("    bgp: {remote_asn: 64512}\n",
                       "    bgp: {remote_asn: 64512}\n    inside_interface: vti0\n");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n",
                      "    bgp: {remote_asn: 64513}\n    inside_interface: vti0\n");
  EXPECT_EQ(error_of(y),
            "t.yaml:" +
                std::to_string(test_util::line_of(y, "inside_interface: vti0\n  - name: policy")) +
                ": tunnels[1].inside_interface: inside interface name used twice "
                "\"vti0\" (first at line " +
                std::to_string(test_util::line_of(y, "inside_interface: vti0")) + ")");
  // The interfaces' taps are kernel interfaces too ("espgw-wan" by default).
  expect_error(with("    bgp: {remote_asn: 64513}\n",
                    "    bgp: {remote_asn: 64513}\n    inside_interface: espgw-wan\n"),
               "inside_interface:", "tunnels[1].inside_interface",
               "kernel interface name \"espgw-wan\" is interface \"wan\"'s exception interface");
}

TEST(RoutingConfig, TunnelBgpErrors) {
  const std::string b = "    bgp: {remote_asn: 64512}\n";
  auto one = [&](std::string_view to, std::string_view path, std::string_view what) {
    expect_error(with(b, to), to.substr(0, to.size() - 1), path, what);
  };
  one("    bgp: {}\n", "tunnels[0].bgp", "missing key \"remote_asn\"");
  one("    bgp: {remote_asn: 0}\n", "tunnels[0].bgp.remote_asn",
      "must be 1 to 4294967295, got \"0\"");
  one("    bgp: {remote_asn: 1, hold_s: 2}\n", "tunnels[0].bgp.hold_s",
      "must be 0 (no hold timer) or at least 3 (RFC 4271 4.2), got \"2\"");
  one("    bgp: {remote_asn: 1, keepalive_s: 10, hold_s: 5}\n", "tunnels[0].bgp.hold_s",
      "must be at least keepalive_s (10), got \"5\"");
  one("    bgp: {remote_asn: 1, keepalive_s: 0}\n", "tunnels[0].bgp.keepalive_s",
      "must be 1 to 65535, got \"0\"");
  one("    bgp: {remote_asn: 1, neighbours: [169.254.44.2]}\n", "tunnels[0].bgp.neighbours[0]",
      "our own inside address, not the peer's \"169.254.44.2\"");
  one("    bgp: {remote_asn: 1, neighbours: [169.254.44.3]}\n", "tunnels[0].bgp.neighbours[0]",
      "not the peer's inside address in 169.254.44.0/30 (169.254.44.1): \"169.254.44.3\"");
  one("    bgp: {remote_asn: 1, neighbours: [169.254.99.1]}\n", "tunnels[0].bgp.neighbours[0]",
      "not in an inside prefix of the tunnel \"169.254.99.1\"");
  one("    bgp: {remote_asn: 1, neighbours: [169.254.44.1, 169.254.44.1]}\n",
      "tunnels[0].bgp.neighbours[1]", "neighbour listed twice \"169.254.44.1\"");
  one("    bgp: {remote_asn: 1, bfd: maybe}\n", "tunnels[0].bgp.bfd",
      "expected true or false, got \"maybe\"");
  // Needs inside addresses, and the top-level bgp section.
  expect_error(with("    remote_cidrs: [10.3.0.0/16]\n",
                    "    remote_cidrs: [10.3.0.0/16]\n    bgp: {remote_asn: 1}\n"),
               "bgp: {remote_asn: 1}", "tunnels[2].bgp",
               "needs inside addresses (BGP runs between the tunnel's inside addresses)");
  std::string y = with("bgp:\n  asn: 65001\n  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n", "");
  expect_error(y, "bgp: {remote_asn: 64512}", "tunnels[0].bgp",
               "needs the top-level bgp section (our ASN)");
}

TEST(RoutingConfig, RoutesIntoTunnels) {
  const std::string r = "    tunnel: t1\n";
  expect_error(with(r, "    tunnel: t9\n"), "tunnel: t9", "routes[0].tunnel",
               "unknown tunnel \"t9\" (route-based tunnels: t1, t2)");
  expect_error(with(r, "    tunnel: policy\n"), "tunnel: policy", "routes[0].tunnel",
               "tunnel \"policy\" is not route-based (it has no inside addresses): its "
               "remote_cidrs are what it carries");
  expect_error(with(r, "    tunnel: t1\n    interface: lan\n"), "interface: lan",
               "routes[0].interface",
               "a route into a tunnel takes no via or interface (the tunnel is its next hop)");
  expect_error(with(r, "    tunnel: t1\n    via: 10.1.0.254\n"), "via: 10.1.0.254", "routes[0].via",
               "a route into a tunnel takes no via or interface (the tunnel is its next hop)");
  // Within the tunnel's selectors.
  const std::string y =
      with("    remote_cidrs: [0.0.0.0/0]\n    inside: [169.254.45.1/31]\n",
           "    remote_cidrs: [169.254.45.0/31]\n    inside: [169.254.45.1/31]\n");
  expect_error(test_util::with(y, r, "    tunnel: t2\n"), "tunnel: t2", "routes[0].tunnel",
               "10.9.0.0/16 is not within the remote_cidrs (traffic selectors) of tunnel \"t2\"");
  // A route into a tunnel is no route to a tunnel's outer address.
  std::string outer = with("  - prefix: 10.9.0.0/16\n", "  - prefix: 198.51.100.0/24\n");
  outer = test_util::with(outer, "    remote: 192.0.2.4\n", "    remote: 198.51.100.4\n");
  EXPECT_THAT(error_of(outer), HasSubstr("tunnels[2].remote: no route to the peer"));
}

TEST(RoutingConfig, ControlSocketObjects) {
  const Config c = parse(kRouting, "t.yaml");
  // parse_tunnel: a route-based tunnel against the running config's inside prefixes.
  const std::string t3 =
      "{name: t3, local: 192.0.2.1, remote: 192.0.2.9, local_cidrs: [0.0.0.0/0], "
      "remote_cidrs: [0.0.0.0/0], inside: [169.254.44.1/30], bgp: {remote_asn: 7}}";
  EXPECT_THAT(
      test_util::error_of_call([&] { parse_tunnel(c, t3, "ctl"); }, [](const std::string&) {}),
      HasSubstr("overlaps the inside prefix 169.254.44.0/30 of tunnel \"t1\""));
  const Tunnel t =
      parse_tunnel(c, test_util::with(t3, "169.254.44.1/30", "169.254.46.1/30"), "ctl");
  ASSERT_TRUE(t.bgp);
  EXPECT_EQ(t.bgp->neighbours[0].to_string(), "169.254.46.2");
  EXPECT_EQ(t.inside_interface, inside_interface_name("t3"));
  // parse_route: into a route-based tunnel of the running config only.
  EXPECT_EQ(parse_route(c, "{prefix: 10.7.0.0/16, tunnel: t2}", "ctl").tunnel, "t2");
  EXPECT_THAT(test_util::error_of_call(
                  [&] { parse_route(c, "{prefix: 10.7.0.0/16, tunnel: policy}", "ctl"); },
                  [](const std::string&) {}),
              HasSubstr("is not route-based"));
}

TEST(RoutingConfig, Warnings) {
  auto w = warnings_of(
      with("    bgp: {remote_asn: 64512}\n", "    bgp: {remote_asn: 64512, bfd: true}\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], at(kRouting, "bgp: {remote_asn: 64512}", "tunnels[0].bgp.bfd",
                     "the peer is not an espgw gateway (peer_kind: other) and may not run BFD "
                     "(AWS does not): its BFD session then never comes up, and only hold_s "
                     "detects a dead peer"));
  w = warnings_of(
      with("    bgp: {remote_asn: 64512}\n", "    bgp: {remote_asn: 64512, hold_s: 0}\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("tunnels[0].bgp.hold_s: hold_s 0 and no BFD: nothing detects a dead "
                              "peer, and its routes stay"));
  // With BFD, hold 0 is fine.
  EXPECT_TRUE(warnings_of(with("    bgp: {remote_asn: 64513}\n",
                               "    bgp: {remote_asn: 64513, hold_s: 0}\n"))
                  .empty());
  w = warnings_of(with("    bgp: {remote_asn: 64512}\n",
                       "    bgp: {remote_asn: 64512, keepalive_s: 10, hold_s: 15}\n"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("tunnels[0].bgp.keepalive_s: bgpd sends keepalives every hold_s / "
                              "3 = 5 s at most, not every 10 s"));
  std::string y = with("    bgp: {remote_asn: 64512}\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n", "");
  w = warnings_of(y);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            at(y, "bgp:", "bgp", "no tunnel has a bgp section: bgpd runs without neighbours"));
}

// ---- FRR's config (config/frr_conf.h) ----

TEST(FrrConf, Zebra) {
  const FrrConf f = render_frr(parse(kRouting, "t.yaml"));
  EXPECT_THAT(f.zebra, HasSubstr("generated by espgw from t.yaml"));
  EXPECT_THAT(f.zebra, HasSubstr("\nlog syslog informational\n"));
  EXPECT_THAT(f.zebra,
              HasSubstr("\nfpm address 127.0.0.1 port 2620\nno fpm use-next-hop-groups\n"));
  const FrrConf g =
      render_frr(parse(with("  fpm: {}\n", "  fpm: {address: \"::1\", port: 9999}\n"), "t.yaml"));
  EXPECT_THAT(g.zebra, HasSubstr("\nfpm address ::1 port 9999\n"));
}

TEST(FrrConf, Bgpd) {
  const FrrConf f = render_frr(parse(kRouting, "t.yaml"));
  const std::string& b = f.bgpd;
  for (std::string_view line :
       {"\nrouter bgp 65001\n bgp router-id 192.0.2.1\n bgp log-neighbor-changes\n"
        " no bgp ebgp-requires-policy\n no bgp network import-check\n",
        "\n neighbor 169.254.44.1 remote-as 64512\n"
        " neighbor 169.254.44.1 description espgw tunnel t1\n"
        " neighbor 169.254.44.1 timers 10 30\n neighbor 169.254.44.1 timers connect 1\n"
        " neighbor fd00:44::1 remote-as 64512\n",
        " neighbor 169.254.45.0 timers connect 1\n neighbor 169.254.45.0 bfd profile espgw\n",
        "\n address-family ipv4 unicast\n  network 10.1.0.0/16\n"
        "  neighbor 169.254.44.1 route-map espgw-accept in\n"
        "  neighbor 169.254.44.1 route-map espgw-announce out\n"
        "  no neighbor fd00:44::1 activate\n",
        "  maximum-paths 8\n exit-address-family\n",
        "\n address-family ipv6 unicast\n  network fd00:1::/48\n"
        "  neighbor fd00:44::1 activate\n  neighbor fd00:44::1 route-map espgw-accept in\n"
        "  neighbor fd00:44::1 route-map espgw-announce out\n  maximum-paths 8\n",
        "\nip prefix-list espgw-announce-v4 seq 5 permit 10.1.0.0/16\n",
        "\nipv6 prefix-list espgw-announce-v6 seq 5 permit fd00:1::/48\n",
        "\nroute-map espgw-announce permit 10\n match ip address prefix-list "
        "espgw-announce-v4\n",
        "\nroute-map espgw-announce permit 20\n match ipv6 address prefix-list "
        "espgw-announce-v6\n",
        "\nroute-map espgw-accept permit 10\n"}) {
    EXPECT_THAT(b, HasSubstr(std::string(line)));
  }
  // BFD only where the tunnel has it (t2, an espgw peer); the v4 neighbours stay out of ipv6.
  EXPECT_THAT(b, Not(HasSubstr("169.254.44.1 bfd")));
  EXPECT_THAT(b, Not(HasSubstr("fd00:44::1 bfd")));
  EXPECT_THAT(b, Not(HasSubstr("neighbor 169.254.44.1 activate")));
  EXPECT_THAT(b, Not(HasSubstr("password")));
  // Deterministic.
  EXPECT_EQ(render_frr(parse(kRouting, "t.yaml")).bgpd, b);
}

TEST(FrrConf, OneFamilyNothingToAnnounceHoldZero) {
  std::string y = with("    inside: [169.254.44.2/30, \"fd00:44::2/126\"]\n",
                       "    inside: [169.254.44.2/30]\n");
  y = test_util::with(y, "  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", "  maximum_paths: 2\n");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n",
                      "    bgp: {remote_asn: 64513, hold_s: 0}\n");
  const FrrConf f = render_frr(parse(y, "t.yaml"));
  EXPECT_THAT(f.bgpd, HasSubstr("\nip prefix-list espgw-announce-v4 seq 5 deny any\n"));
  EXPECT_THAT(f.bgpd, Not(HasSubstr("ipv6")));
  EXPECT_THAT(f.bgpd, Not(HasSubstr("  network ")));
  EXPECT_THAT(f.bgpd, HasSubstr("  maximum-paths 2\n"));
  // Hold 0: no keepalives either.
  EXPECT_THAT(f.bgpd, HasSubstr(" neighbor 169.254.45.0 timers 0 0\n"));
}

TEST(FrrConf, Bfdd) {
  std::string y =
      with("  asn: 65001\n", "  asn: 65001\n  bfd: {interval_ms: 300, multiplier: 4}\n");
  const FrrConf f = render_frr(parse(y, "t.yaml"));
  EXPECT_THAT(f.bfdd, HasSubstr("\nbfd\n profile espgw\n  detect-multiplier 4\n"
                                "  receive-interval 300\n  transmit-interval 300\n exit\n"));
}

TEST(FrrConf, NeedsBgp) {
  std::string y = with("bgp:\n  asn: 65001\n  announce: [10.1.0.0/16, \"fd00:1::/48\"]\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64512}\n", "");
  y = test_util::with(y, "    bgp: {remote_asn: 64513}\n", "");
  EXPECT_THROW(render_frr(parse(y, "t.yaml")), ConfigError);
}

}  // namespace
}  // namespace espgw::config
