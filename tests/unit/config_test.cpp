// The config parser, what it accepts: a full config round-trips into the right values, the
// defaults, static SAs become installable SaParams, every example under config/examples/ loads,
// static neighbours, and the single objects of the control socket. What it refuses:
// config_values_test.cpp (one value) and config_rules_test.cpp (between entries, key material).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/esp/static_sa_params.h"
#include "tests/unit/config_test_base.h"
#include "tests/unit/config_test_files.h"

namespace espgw::config {
namespace {

using namespace test_base;  // NOLINT(google-build-using-namespace): the suite's helpers

// ---------------------------------------------------------------------------------------------
// Valid configs

TEST(ConfigParse, FullConfigRoundTrips) {
  const Config c = parse(kBase, "base.yaml");
  EXPECT_EQ(c.source, "base.yaml");

  EXPECT_EQ(c.dataplane.workers, 2u);
  EXPECT_EQ(c.dataplane.crypto, crypto::BackendKind::kOpenSsl);
  EXPECT_EQ(c.dataplane.mbufs, 16384u);
  EXPECT_EQ(c.dataplane.rx_ring, 2048);
  EXPECT_EQ(c.dataplane.tx_ring, 512);
  EXPECT_EQ(c.dataplane.control_socket, "/run/espgw/test.sock");
  EXPECT_EQ(c.dataplane.exception_pps, 5000u);
  EXPECT_EQ(c.dataplane.arp_hold_packets, 8u);
  EXPECT_EQ(c.dataplane.arp_retries, 5u);
  EXPECT_EQ(c.dataplane.arp_retry_ms, 500u);
  EXPECT_EQ(c.dataplane.neighbour_ttl_s, 600u);

  ASSERT_EQ(c.interfaces.size(), 3u);
  const Interface& wan = c.interfaces[0];
  EXPECT_EQ(wan.name, "wan");
  EXPECT_EQ(wan.device, "net_af_packet0,iface=veth0");
  ASSERT_TRUE(wan.mac.has_value());
  EXPECT_EQ(mac_to_string(*wan.mac), "02:00:00:00:00:01");
  ASSERT_EQ(wan.addresses.size(), 2u);
  EXPECT_EQ(wan.addresses[0].address, IpAddress::parse("192.0.2.1"));  // host bits kept
  EXPECT_EQ(wan.addresses[0].length, 24);
  EXPECT_EQ(wan.addresses[1].address, IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(wan.addresses[1].length, 64);
  EXPECT_EQ(wan.mtu, 1500);
  EXPECT_EQ(wan.exception.kind, ExceptionKind::kTap);
  EXPECT_EQ(wan.exception.kernel_name, "wan-k");
  EXPECT_EQ(wan.exception.device, "");

  const Interface& lan = c.interfaces[1];
  EXPECT_EQ(lan.device, "0000:00:06.0");
  EXPECT_FALSE(lan.mac.has_value());
  EXPECT_EQ(lan.mtu, 9000);
  EXPECT_EQ(lan.exception.kind, ExceptionKind::kNone);
  EXPECT_EQ(lan.exception.kernel_name, "");

  const Interface& cap = c.interfaces[2];
  EXPECT_EQ(cap.mtu, 1500);
  EXPECT_EQ(cap.exception.kind, ExceptionKind::kDevice);
  EXPECT_EQ(cap.exception.device, "net_pcap0,tx_pcap=/tmp/exception.pcap");

  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].prefix, IpPrefix::parse("0.0.0.0/0"));
  EXPECT_EQ(c.routes[0].via, IpAddress::parse("192.0.2.254"));
  EXPECT_EQ(c.routes[0].interface, "wan");
  EXPECT_EQ(c.routes[1].prefix, IpPrefix::parse("10.0.0.0/8"));
  EXPECT_EQ(c.routes[1].interface, "lan");
  EXPECT_EQ(c.routes[2].prefix, IpPrefix::parse("2001:db8:1::/48"));
  EXPECT_FALSE(c.routes[2].via.has_value());

  ASSERT_EQ(c.tunnels.size(), 3u);
  const Tunnel& gcm = c.tunnels[0];
  EXPECT_EQ(gcm.name, "gcm");
  EXPECT_EQ(gcm.local, IpAddress::parse("192.0.2.1"));
  EXPECT_EQ(gcm.remote, IpAddress::parse("198.51.100.2"));
  EXPECT_EQ(gcm.local_cidrs, std::vector{*IpPrefix::parse("10.1.0.0/16")});
  EXPECT_EQ(gcm.remote_cidrs,
            (std::vector{*IpPrefix::parse("10.2.0.0/16"), *IpPrefix::parse("10.3.0.0/16")}));
  EXPECT_TRUE(gcm.nat_t);
  EXPECT_EQ(gcm.local_port, 4501);
  EXPECT_EQ(gcm.remote_port, 4502);
  EXPECT_TRUE(gcm.esn);
  EXPECT_EQ(gcm.replay_window, 4096u);
  EXPECT_EQ(gcm.df, esp::DfMode::kClear);
  EXPECT_EQ(gcm.dscp, 46);
  EXPECT_EQ(gcm.ecn, esp::EcnMode::kCompatibility);
  EXPECT_EQ(gcm.ttl, 32);
  EXPECT_EQ(gcm.mtu, 1400);
  EXPECT_EQ(gcm.mss, 1360);
  ASSERT_TRUE(gcm.static_sa.has_value());
  const StaticSa& go = gcm.static_sa->outbound;
  EXPECT_EQ(go.spi, 0x1001u);
  EXPECT_EQ(go.algorithm, esp::parse_algorithm("aes256gcm16"));
  // A 36-byte GCM key is key || salt, as IKE derives it (RFC 4106 8.1).
  EXPECT_EQ(go.enc_key, hex(kGcmOutKeySalt.substr(0, 64)));
  EXPECT_EQ(go.salt, hex(kGcmOutKeySalt.substr(64)));
  EXPECT_TRUE(go.auth_key.empty());
  const StaticSa& gi = gcm.static_sa->inbound;
  EXPECT_EQ(gi.spi, 4098u);
  EXPECT_EQ(gi.algorithm, esp::parse_algorithm("aes128gcm16"));
  EXPECT_EQ(gi.enc_key, hex(kGcmInKey));
  EXPECT_EQ(gi.salt, hex(kGcmInSalt));

  const Tunnel& cbc = c.tunnels[1];
  EXPECT_FALSE(cbc.nat_t);
  EXPECT_EQ(cbc.local_port, 4500);
  EXPECT_EQ(cbc.remote_port, 4500);
  ASSERT_TRUE(cbc.static_sa.has_value());
  const StaticSa& co = cbc.static_sa->outbound;
  EXPECT_EQ(co.spi, 0x2001u);
  EXPECT_EQ(co.algorithm, esp::parse_algorithm("aes128-sha256"));
  EXPECT_EQ(co.enc_key, hex(kCbcOutKey));
  EXPECT_TRUE(co.salt.empty());
  EXPECT_EQ(co.auth_key, hex(kCbcOutAuth));
  const StaticSa& ci = cbc.static_sa->inbound;
  EXPECT_EQ(ci.algorithm, esp::parse_algorithm("aes256-sha1"));
  EXPECT_EQ(ci.enc_key, hex(kCbcInKey));  // from the colon form
  EXPECT_EQ(ci.auth_key, hex(kCbcInAuth));

  const Tunnel& ike = c.tunnels[2];
  EXPECT_TRUE(ike.local.is_v6());
  EXPECT_FALSE(ike.static_sa.has_value());

  EXPECT_EQ(c.find_interface("lan"), &c.interfaces[1]);
  EXPECT_EQ(c.find_interface("nope"), nullptr);
  EXPECT_EQ(c.find_tunnel("cbc"), &c.tunnels[1]);
  EXPECT_EQ(c.find_tunnel("nope"), nullptr);
}

TEST(ConfigParse, DefaultsOfTheHeader) {
  const std::string yaml = std::string(kMinimal) + R"(tunnels:
  - name: t
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [10.1.0.0/24]
    remote_cidrs: [10.2.0.0/24]
)";
  const Config c = parse(yaml, "min.yaml");
  const DataplaneConfig d;
  EXPECT_EQ(c.dataplane.workers, 1u);
  EXPECT_EQ(c.dataplane.crypto, crypto::BackendKind::kIpsecMb);
  EXPECT_EQ(c.dataplane.mbufs, 0u);
  EXPECT_EQ(c.dataplane.rx_ring, 1024);
  EXPECT_EQ(c.dataplane.tx_ring, 1024);
  EXPECT_EQ(c.dataplane.control_socket, d.control_socket);
  EXPECT_EQ(c.dataplane.exception_pps, d.exception_pps);
  EXPECT_EQ(c.dataplane.arp_hold_packets, d.arp_hold_packets);
  EXPECT_EQ(c.dataplane.arp_retries, d.arp_retries);
  EXPECT_EQ(c.dataplane.arp_retry_ms, d.arp_retry_ms);
  EXPECT_EQ(c.dataplane.neighbour_ttl_s, d.neighbour_ttl_s);
  ASSERT_EQ(c.interfaces.size(), 1u);
  EXPECT_EQ(c.interfaces[0].mtu, 1500);
  EXPECT_FALSE(c.interfaces[0].mac.has_value());
  EXPECT_EQ(c.interfaces[0].exception.kind, ExceptionKind::kTap);
  EXPECT_EQ(c.interfaces[0].exception.kernel_name, "espgw-wan");  // filled in
  EXPECT_TRUE(c.routes.empty());
  ASSERT_EQ(c.tunnels.size(), 1u);
  const Tunnel& t = c.tunnels[0];
  EXPECT_FALSE(t.nat_t);
  EXPECT_EQ(t.local_port, 4500);
  EXPECT_EQ(t.remote_port, 4500);
  EXPECT_FALSE(t.esn);
  EXPECT_EQ(t.replay_window, 128u);
  EXPECT_EQ(t.df, esp::DfMode::kCopy);
  EXPECT_FALSE(t.dscp.has_value());
  EXPECT_EQ(t.ecn, esp::EcnMode::kNormal);
  EXPECT_EQ(t.ttl, 64);
  EXPECT_FALSE(t.mtu.has_value());
  EXPECT_FALSE(t.mss.has_value());
  EXPECT_FALSE(t.static_sa.has_value());
}

TEST(ConfigParse, ExceptionShorthand) {
  const Config tap =
      parse(with(kMinimal, "[192.0.2.1/24]\n", "[192.0.2.1/24]\n    exception: tap\n"), "t.yaml");
  EXPECT_EQ(tap.interfaces[0].exception.kind, ExceptionKind::kTap);
  EXPECT_EQ(tap.interfaces[0].exception.kernel_name, "espgw-wan");
  const Config none =
      parse(with(kMinimal, "[192.0.2.1/24]\n", "[192.0.2.1/24]\n    exception: none\n"), "t.yaml");
  EXPECT_EQ(none.interfaces[0].exception.kind, ExceptionKind::kNone);
  EXPECT_EQ(none.interfaces[0].exception.kernel_name, "");
}

TEST(ConfigParse, ReplayWindowZeroWithoutEsn) {
  const Config c =
      parse(with("    esn: true\n    replay_window: 4096\n", "    replay_window: 0\n"), "t.yaml");
  EXPECT_EQ(c.tunnels[0].replay_window, 0u);
  EXPECT_FALSE(c.tunnels[0].esn);
}

TEST(ConfigParse, SpiDecimalOrHexAndSameSpiInBothDirections) {
  // SPIs must be unique within a direction; one number in each direction is fine.
  const Config c = parse(with("spi: 4098", "spi: 0x1001"), "t.yaml");
  EXPECT_EQ(c.tunnels[0].static_sa->outbound.spi, 0x1001u);
  EXPECT_EQ(c.tunnels[0].static_sa->inbound.spi, 0x1001u);
}

TEST(ConfigParse, MacForms) {
  EXPECT_EQ(parse_mac("02:00:5E:10:00:ff"), (MacAddress{0x02, 0x00, 0x5e, 0x10, 0x00, 0xff}));
  EXPECT_EQ(parse_mac("02-00-5e-10-00-ff"), (MacAddress{0x02, 0x00, 0x5e, 0x10, 0x00, 0xff}));
  for (std::string_view bad :
       {"", "02:00:5e:10:00", "02:00:5e:10:00:ff:01", "02:00-5e:10:00:ff", "0g:00:5e:10:00:ff",
        "2:00:5e:10:00:ff0", "02.00.5e.10.00.ff", "+2:00:5e:10:00:ff"}) {
    EXPECT_FALSE(parse_mac(bad).has_value()) << bad;
  }
  EXPECT_EQ(mac_to_string({0x02, 0xab, 0, 1, 0x10, 0xff}), "02:ab:00:01:10:ff");
}

TEST(ConfigSaParams, OutboundAndInbound) {
  const Config c = parse(kBase, "t.yaml");
  const Tunnel& t = c.tunnels[0];
  const esp::SaParams out =
      esp::static_sa_params(t, t.static_sa->outbound, esp::Direction::kOutbound);
  EXPECT_EQ(out.spi, 0x1001u);
  EXPECT_EQ(out.direction, esp::Direction::kOutbound);
  EXPECT_EQ(out.algorithm, esp::parse_algorithm("aes256gcm16"));
  EXPECT_EQ(out.enc_key, t.static_sa->outbound.enc_key);
  EXPECT_EQ(out.salt, t.static_sa->outbound.salt);
  EXPECT_TRUE(out.auth_key.empty());
  // SaParams names addresses from our side in both directions: local is ours.
  EXPECT_EQ(out.local, IpAddress::parse("192.0.2.1"));
  EXPECT_EQ(out.remote, IpAddress::parse("198.51.100.2"));
  EXPECT_TRUE(out.udp_encap);
  EXPECT_EQ(out.local_port, 4501);
  EXPECT_EQ(out.remote_port, 4502);
  EXPECT_TRUE(out.esn);
  EXPECT_EQ(out.df, esp::DfMode::kClear);
  EXPECT_FALSE(out.copy_dscp);
  EXPECT_EQ(out.dscp, 46);
  EXPECT_EQ(out.ecn, esp::EcnMode::kCompatibility);
  EXPECT_EQ(out.ttl, 32);
  EXPECT_EQ(out.first_seq, 1u);

  const esp::SaParams in = esp::static_sa_params(t, t.static_sa->inbound, esp::Direction::kInbound);
  EXPECT_EQ(in.spi, 4098u);
  EXPECT_EQ(in.direction, esp::Direction::kInbound);
  EXPECT_EQ(in.enc_key, hex(kGcmInKey));
  EXPECT_EQ(in.salt, hex(kGcmInSalt));
  EXPECT_EQ(in.local, IpAddress::parse("192.0.2.1"));
  EXPECT_EQ(in.remote, IpAddress::parse("198.51.100.2"));
  EXPECT_EQ(in.local_port, 4501);
  EXPECT_EQ(in.remote_port, 4502);
  EXPECT_EQ(in.replay_window, 4096u);

  const Tunnel& cbc = c.tunnels[1];
  const esp::SaParams co =
      esp::static_sa_params(cbc, cbc.static_sa->outbound, esp::Direction::kOutbound);
  EXPECT_FALSE(co.udp_encap);
  EXPECT_TRUE(co.copy_dscp);
  EXPECT_EQ(co.df, esp::DfMode::kCopy);
  EXPECT_EQ(co.auth_key, hex(kCbcOutAuth));
  EXPECT_TRUE(co.salt.empty());
}

// What the parser accepts, Sa::make must accept too: every static SA of `c` is installable.
void expect_static_sas_installable(const Config& c) {
  for (const Tunnel& t : c.tunnels) {
    if (!t.static_sa) continue;
    for (const auto& [sa, dir] : {std::pair{&t.static_sa->outbound, esp::Direction::kOutbound},
                                  std::pair{&t.static_sa->inbound, esp::Direction::kInbound}}) {
      EXPECT_NO_THROW(esp::Sa::make(esp::static_sa_params(t, *sa, dir), c.dataplane.workers, 1));
    }
  }
}

TEST(ConfigSaParams, EverySaOfTheBaseIsInstallable) {
  // The two validators agree.
  expect_static_sas_installable(parse(kBase, "t.yaml"));
}

// ---------------------------------------------------------------------------------------------
// The examples under config/examples/

std::filesystem::path examples_dir() {
  const char* d = std::getenv("ESPGW_CONFIG_EXAMPLES");
  return d ? d : "config/examples";
}

TEST(ConfigExamples, EveryExampleLoads) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples_dir())) {
    // NAME.secrets.yaml holds the pre-shared keys of NAME.yaml, and is loaded with it.
    if (entry.path().extension() != ".yaml" || test_files::is_secrets_example(entry.path()))
      continue;
    ++n;
    SCOPED_TRACE(entry.path().string());
    const test_files::TempDir dir;
    Config c;
    ASSERT_NO_THROW(c = test_files::load_example(entry.path(), dir));
    EXPECT_EQ(std::filesystem::path(c.source).filename(), entry.path().filename());
    EXPECT_FALSE(c.interfaces.empty());
    expect_static_sas_installable(c);
  }
  EXPECT_GE(n, 4u) << "examples in " << examples_dir();
}

TEST(ConfigExamples, LabPairMirrorsEachOther) {
  const Config gw1 = load_file((examples_dir() / "gw1.yaml").string());
  const Config gw2 = load_file((examples_dir() / "gw2.yaml").string());
  ASSERT_EQ(gw1.tunnels.size(), 1u);
  ASSERT_EQ(gw2.tunnels.size(), 1u);
  const Tunnel& a = gw1.tunnels[0];
  const Tunnel& b = gw2.tunnels[0];
  EXPECT_EQ(a.local, b.remote);
  EXPECT_EQ(a.remote, b.local);
  EXPECT_EQ(a.local_cidrs, b.remote_cidrs);
  EXPECT_EQ(a.remote_cidrs, b.local_cidrs);
  ASSERT_TRUE(a.static_sa && b.static_sa);
  const auto same = [](const StaticSa& x, const StaticSa& y) {
    EXPECT_EQ(x.spi, y.spi);
    EXPECT_EQ(x.algorithm, y.algorithm);
    EXPECT_EQ(x.enc_key, y.enc_key);
    EXPECT_EQ(x.salt, y.salt);
    EXPECT_EQ(x.auth_key, y.auth_key);
  };
  same(a.static_sa->outbound, b.static_sa->inbound);
  same(a.static_sa->inbound, b.static_sa->outbound);
  EXPECT_NE(a.static_sa->outbound.enc_key, a.static_sa->inbound.enc_key);
}

TEST(ConfigExamples, AwsClassic) {
  const Config c = load_file((examples_dir() / "aws-classic.yaml").string());
  ASSERT_EQ(c.tunnels.size(), 1u);
  const Tunnel& t = c.tunnels[0];
  EXPECT_EQ(t.local_cidrs, std::vector{*IpPrefix::parse("172.50.0.0/16")});
  EXPECT_EQ(t.remote_cidrs, std::vector{*IpPrefix::parse("172.60.0.0/16")});
  EXPECT_TRUE(t.nat_t);  // an EIP is a 1:1 NAT
  EXPECT_EQ(t.mss, 1379);
  ASSERT_TRUE(t.static_sa.has_value());
  const Interface* wan = c.find_interface("wan");
  ASSERT_NE(wan, nullptr);
  ASSERT_NE(c.find_interface("lan"), nullptr);
  EXPECT_TRUE(std::any_of(wan->addresses.begin(), wan->addresses.end(),
                          [&](const IpPrefix& p) { return p.address == t.local; }));
  EXPECT_TRUE(std::any_of(c.routes.begin(), c.routes.end(), [](const Route& r) {
    return r.prefix.length == 0 && r.interface == "wan" && r.via.has_value();
  }));
}

// ---------------------------------------------------------------------------------------------
// Static neighbours and the single objects of the control socket

constexpr std::string_view kTwoPorts = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
    neighbours:
      - {address: 192.0.2.254, mac: "02:00:00:00:00:fe"}
  - name: lan
    device: net_null1
    addresses: [10.1.0.1/24]
routes:
  - {prefix: 0.0.0.0/0, via: 192.0.2.254, interface: wan}
)";

TEST(ConfigNeighbours, StaticEntriesParse) {
  const Config c = parse(std::string(kTwoPorts), "t.yaml");
  ASSERT_EQ(c.interfaces[0].neighbours.size(), 1u);
  EXPECT_EQ(c.interfaces[0].neighbours[0].address.to_string(), "192.0.2.254");
  EXPECT_EQ(mac_to_string(c.interfaces[0].neighbours[0].mac), "02:00:00:00:00:fe");
}

TEST(ConfigNeighbours, OffLinkMulticastAndDuplicateAreRefused) {
  auto with = [](const std::string& entries) {
    std::string y(kTwoPorts);
    const std::string from = "      - {address: 192.0.2.254, mac: \"02:00:00:00:00:fe\"}\n";
    y.replace(y.find(from), from.size(), entries);
    return y;
  };
  EXPECT_EQ(error_of(with("      - {address: 10.9.9.9, mac: \"02:00:00:00:00:fe\"}\n")),
            "t.yaml:6: interfaces[0].neighbours[0].address: not on a connected prefix of "
            "interface \"wan\": \"10.9.9.9\"");
  EXPECT_EQ(error_of(with("      - {address: 192.0.2.9, mac: \"01:00:5e:00:00:01\"}\n")),
            "t.yaml:6: interfaces[0].neighbours[0].mac: not a unicast MAC address "
            "\"01:00:5e:00:00:01\"");
  EXPECT_EQ(error_of(with("      - {address: 192.0.2.9, mac: \"02:00:00:00:00:01\"}\n"
                          "      - {address: 192.0.2.9, mac: \"02:00:00:00:00:02\"}\n")),
            "t.yaml:7: interfaces[0].neighbours[1].address: neighbour listed twice "
            "\"192.0.2.9\"");
}

TEST(ConfigObjects, TunnelRouteAndSaFromJson) {
  const Config ctx = parse(std::string(kTwoPorts), "t.yaml");
  const Tunnel t = parse_tunnel(ctx,
                                R"({"name": "east", "local": "192.0.2.1", "remote": "198.51.100.2",
                                    "local_cidrs": ["10.1.0.0/16"], "remote_cidrs": ["10.2.0.0/16"],
                                    "nat_t": true})",
                                "op.tunnel");
  EXPECT_EQ(t.name, "east");
  EXPECT_TRUE(t.nat_t);
  EXPECT_EQ(t.remote_cidrs.at(0).to_string(), "10.2.0.0/16");

  const Route r = parse_route(ctx, R"({"prefix": "10.8.0.0/16", "via": "10.1.0.254",
                                       "interface": "lan"})",
                              "op.route");
  EXPECT_EQ(r.interface, "lan");
  EXPECT_EQ(r.via->to_string(), "10.1.0.254");

  const StaticSa sa = parse_static_sa(
      R"({"spi": 4096, "algorithm": "aes128gcm16", "key": "000102030405060708090a0b0c0d0e0f10111213"})",
      "op.sa", esp::Direction::kInbound);
  EXPECT_EQ(sa.spi, 4096u);
  EXPECT_EQ(sa.salt.size(), 4u);
}

TEST(ConfigObjects, ErrorsNameTheSourceAndNeverTheKey) {
  const Config ctx = parse(std::string(kTwoPorts), "t.yaml");
  try {
    parse_route(ctx, R"({"prefix": "10.8.0.0/16", "interface": "dmz"})", "op.route");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "op.route:1: interface: unknown interface \"dmz\" (interfaces: wan, lan)");
  }
  try {
    parse_static_sa(
        R"({"spi": 4096, "algorithm": "aes128gcm16", "key": "00112233445566778899aabbccddeeff"})",
        "op.sa", esp::Direction::kInbound);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("op.sa:1: missing key \"salt\""), std::string::npos) << m;
    EXPECT_EQ(m.find("00112233"), std::string::npos) << m;
  }
  EXPECT_THROW(parse_tunnel(ctx, "[1, 2", "op.tunnel"), ConfigError);
}

}  // namespace
}  // namespace espgw::config
