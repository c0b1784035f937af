// The config parser and validator: a full config round-trips into the right values, every
// validation rule answers with the documented message shape
//   FILE:LINE: key.path[index].sub: what is wrong "value"
// and no message ever carries key material. Every example under config/examples/ must load.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/hex.h"
#include "config/config.h"
#include "dataplane/esp/static_sa_params.h"
#include "tests/unit/config_test_files.h"

namespace espgw::config {
namespace {

using ::testing::HasSubstr;

// Lab-only key material of the base config below. No error message may contain any part of them.
constexpr std::string_view kGcmOutKeySalt =
    "fa74fefa7cd8f59e7bf9a5422a91e22b3c57c123482278a1d787f7faa5f2a95fbeff60e4";
constexpr std::string_view kGcmInKey = "e24e4cb646155ddcdeae6225887ea05a";
constexpr std::string_view kGcmInSalt = "b106d2f6";
constexpr std::string_view kCbcOutKey = "66c99140c5e44a6e8d2c9f7fc61f22a7";
constexpr std::string_view kCbcOutAuth =
    "a8703bbecd77fbb86ad185c855c7b0457d7483bad8821ee657cc4dc6696c43bd";
constexpr std::string_view kCbcInKey =  // written in strongSwan's colon form below
    "50e2b318d5e74fb825330c69f767369a26f5a7bc5faaea59e260da364b2cb2b7";
constexpr std::string_view kCbcInAuth = "cda06386c74136d92f7e44dde814f1117b1df74d";
constexpr std::string_view kSecrets[] = {kGcmOutKeySalt, kGcmInKey, kGcmInSalt, kCbcOutKey,
                                         kCbcOutAuth,    kCbcInKey, kCbcInAuth};

// Every key, every section. Tests change one line of it and expect one error.
constexpr std::string_view kBase = R"(# espgw test config
dataplane:
  workers: 2
  crypto: openssl
  mbufs: 16384
  rx_ring: 2048
  tx_ring: 512
  control_socket: /run/espgw/test.sock
  exception_pps: 5000
  arp_hold_packets: 8
  arp_retries: 5
  arp_retry_ms: 500
  neighbour_ttl_s: 600
interfaces:
  - name: wan
    device: net_af_packet0,iface=veth0
    mac: 02:00:00:00:00:01
    addresses: [192.0.2.1/24, 2001:db8::1/64]
    mtu: 1500
    exception: {kind: tap, kernel_name: wan-k}
  - name: lan
    device: 0000:00:06.0
    addresses:
      - 10.1.0.1/24
    mtu: 9000
    exception: none
  - name: cap
    device: net_null0
    addresses: [10.9.0.1/24]
    exception:
      kind: device
      device: net_pcap0,tx_pcap=/tmp/exception.pcap
routes:
  - prefix: 0.0.0.0/0
    via: 192.0.2.254
    interface: wan
  - prefix: 10.0.0.0/8
    via: 10.1.0.254
    interface: lan
  - prefix: 2001:db8:1::/48
    interface: wan
tunnels:
  - name: gcm
    local: 192.0.2.1
    remote: 198.51.100.2
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.2.0.0/16, 10.3.0.0/16]
    nat_t: true
    local_port: 4501
    remote_port: 4502
    esn: true
    replay_window: 4096
    df: clear
    dscp: 46
    ecn: compatibility
    ttl: 32
    mtu: 1400
    mss: 1360
    static_sa:
      outbound:
        spi: 0x00001001
        algorithm: aes256gcm16
        key: 0xfa74fefa7cd8f59e7bf9a5422a91e22b3c57c123482278a1d787f7faa5f2a95fbeff60e4
      inbound:
        spi: 4098
        algorithm: aes128gcm128
        key: e24e4cb646155ddcdeae6225887ea05a
        salt: b106d2f6
  - name: cbc
    local: 192.0.2.1
    remote: 203.0.113.9
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.4.0.0/16]
    static_sa:
      outbound:
        spi: 0x2001
        algorithm: aes128-sha256
        key: 0x66c99140c5e44a6e8d2c9f7fc61f22a7
        auth_key: 0xa8703bbecd77fbb86ad185c855c7b0457d7483bad8821ee657cc4dc6696c43bd
      inbound:
        spi: 0x2002
        algorithm: aes256-sha1
        key: "50:e2:b3:18:d5:e7:4f:b8:25:33:0c:69:f7:67:36:9a:26:f5:a7:bc:5f:aa:ea:59:e2:60:da:36:4b:2c:b2:b7"
        auth_key: cda06386c74136d92f7e44dde814f1117b1df74d
  - name: ike
    local: 2001:db8::1
    remote: 2001:db8::99
    local_cidrs: [fd00:1::/64]
    remote_cidrs: [fd00:2::/64]
)";

// The smallest valid config: one interface, nothing else.
constexpr std::string_view kMinimal = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
)";

std::vector<uint8_t> hex(std::string_view s) {
  return parse_hex(s).value();
}

// base with the one occurrence of `from` replaced by `to`.
std::string with(std::string_view base, std::string_view from, std::string_view to) {
  std::string s(base);
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the config: " << from;
  if (at == std::string::npos) return s;
  EXPECT_EQ(s.find(from, at + 1), std::string::npos) << "more than once in the config: " << from;
  s.replace(at, from.size(), to);
  return s;
}
std::string with(std::string_view from, std::string_view to) {
  return with(kBase, from, to);
}

// 1-based line of the first occurrence of needle.
int line_of(std::string_view yaml, std::string_view needle) {
  const size_t at = yaml.find(needle);
  EXPECT_NE(at, std::string::npos) << "not in the config: " << needle;
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + at, '\n'));
}

// Fails the test if any 8-digit run of any base key is in the message (colons ignored).
void expect_no_secrets(const std::string& message) {
  std::string flat;
  for (char c : message) {
    if (c != ':') flat += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (std::string_view key : kSecrets) {
    for (size_t i = 0; i + 8 <= key.size(); i += 2) {
      EXPECT_EQ(flat.find(key.substr(i, 8)), std::string::npos)
          << "key bytes in the message: " << message;
    }
  }
}

// The message parse() throws for yaml; "" when it does not throw.
std::string error_of(const std::string& yaml) {
  try {
    parse(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    expect_no_secrets(e.what());
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << yaml;
  return "";
}

// The one error yaml gives: on the line where `at` is, naming path, saying what.
void expect_error(const std::string& yaml, std::string_view at, std::string_view path,
                  std::string_view what) {
  std::string want = "t.yaml:" + std::to_string(line_of(yaml, at)) + ": ";
  if (!path.empty()) want += std::string(path) + ": ";
  want += what;
  EXPECT_EQ(error_of(yaml), want);
}

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
// Files and YAML syntax

TEST(ConfigFile, MissingFile) {
  try {
    load_file("/nonexistent/espgw.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/espgw.yaml: cannot open: No such file or directory");
  }
}

TEST(ConfigFile, ErrorsNameTheFileAsGiven) {
  const auto path = std::filesystem::temp_directory_path() / "espgw_config_test_bad.yaml";
  { std::ofstream(path) << "interfaces:\n  - name: wan\n    device: x\n    addresses: [1.2.3]\n"; }
  try {
    load_file(path.string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(
        e.what(),
        path.string() + ":4: interfaces[0].addresses[0]: not an address/prefix-length \"1.2.3\"");
  }
  std::filesystem::remove(path);
}

TEST(ConfigFile, Directory) {
  try {
    load_file("/");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/: cannot read: Is a directory");
  }
}

TEST(ConfigSyntax, YamlSyntaxErrorNamesFileAndLine) {
  EXPECT_EQ(error_of("interfaces:\n  - name: wan\n    device: [a, b\n"),
            "t.yaml:4: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(error_of("interfaces:\n  - name: wan\n   device: x\n"),
            "t.yaml:3: YAML syntax error: end of sequence not found");
}

TEST(ConfigSyntax, EmptyFile) {
  EXPECT_EQ(error_of(""), "t.yaml:1: the file is empty (expected a map with \"interfaces\")");
  EXPECT_EQ(error_of("# only a comment\n"),
            "t.yaml:1: the file is empty (expected a map with \"interfaces\")");
}

TEST(ConfigSyntax, SecondDocument) {
  EXPECT_EQ(error_of(std::string(kMinimal) + "---\nroutes: []\n"),
            "t.yaml:6: a second YAML document; the config is one document");
}

TEST(ConfigSyntax, TopLevelMustBeAMap) {
  EXPECT_EQ(error_of("- a\n- b\n"), "t.yaml:1: expected a map, got a list");
  EXPECT_EQ(error_of("hello\n"), "t.yaml:1: expected a map, got \"hello\"");
}

// ---------------------------------------------------------------------------------------------
// Keys: unknown, duplicate, missing

TEST(ConfigKeys, UnknownTopLevelKeySuggests) {
  const std::string y = with("tunnels:\n", "tunnel:\n");
  // One error only: the tunnels section is not there to check.
  expect_error(y, "tunnel:", "tunnel", "unknown key \"tunnel\" (did you mean \"tunnels\"?)");
}

TEST(ConfigKeys, UnknownKeyListsTheKnownOnes) {
  expect_error(with("    mtu: 9000\n", "    mtu: 9000\n    colour: blue\n"),
               "colour:", "interfaces[1].colour",
               "unknown key \"colour\" (expected one of: name device mac addresses mtu exception "
               "neighbours)");
}

TEST(ConfigKeys, UnknownKeyDeepInside) {
  expect_error(with("        salt: b106d2f6\n", "        salt: b106d2f6\n        lifetime: 3600\n"),
               "lifetime:", "tunnels[0].static_sa.inbound.lifetime",
               "unknown key \"lifetime\" (expected one of: spi algorithm key salt auth_key)");
  expect_error(with("    ttl: 32\n", "    time_to_live: 32\n"), "time_to_live",
               "tunnels[0].time_to_live",
               "unknown key \"time_to_live\" (expected one of: name local remote local_cidrs "
               "remote_cidrs nat_t local_port remote_port esn replay_window df dscp ecn ttl mtu "
               "mss static_sa ike)");
  expect_error(with("  workers: 2\n", "  workers: 2\n  worker: 3\n"), "worker:", "dataplane.worker",
               "unknown key \"worker\" (did you mean \"workers\"?)");
}

TEST(ConfigKeys, UnknownKeyThatLooksLikeKeyMaterialIsNotRepeated) {
  // A key pasted as a map key (flow map with a missing "key:") must not be echoed.
  const std::string y = with("        salt: b106d2f6\n", "        salt: b106d2f6\n        " +
                                                             std::string(kCbcOutKey) + ": 1\n");
  expect_error(y, kCbcOutKey, "tunnels[0].static_sa.inbound",
               "unknown key (value not shown: it looks like key material) (expected one of: spi "
               "algorithm key salt auth_key)");
}

TEST(ConfigKeys, DuplicateKey) {
  const std::string y = with("    mtu: 1400\n", "    mtu: 1400\n    mtu: 1300\n");
  expect_error(
      y, "mtu: 1300", "tunnels[0].mtu",
      "duplicate key \"mtu\" (first at line " + std::to_string(line_of(y, "mtu: 1400")) + ")");
}

TEST(ConfigKeys, MissingKeys) {
  expect_error("routes: []\n", "routes", "", "missing key \"interfaces\"");
  expect_error(with("    device: net_null0\n", ""), "name: cap", "interfaces[2]",
               "missing key \"device\"");
  expect_error(with("    addresses: [192.0.2.1/24, 2001:db8::1/64]\n", ""), "name: wan",
               "interfaces[0]", "missing key \"addresses\"");
  expect_error(with("    remote: 203.0.113.9\n", ""), "name: cbc", "tunnels[1]",
               "missing key \"remote\"");
  expect_error(with("    local_cidrs: [fd00:1::/64]\n", ""), "name: ike", "tunnels[2]",
               "missing key \"local_cidrs\"");
  expect_error(with("  - prefix: 10.0.0.0/8\n    via: 10.1.0.254\n", "  - via: 10.1.0.254\n"),
               "via: 10.1.0.254", "routes[1]", "missing key \"prefix\"");
  // A missing key is reported on the line of the map it belongs in.
  expect_error(with("        spi: 0x2002\n", ""), "inbound:\n        algorithm: aes256-sha1",
               "tunnels[1].static_sa.inbound", "missing key \"spi\"");
  expect_error(with("        key: 0x66c99140c5e44a6e8d2c9f7fc61f22a7\n", ""),
               "outbound:\n        spi: 0x2001", "tunnels[1].static_sa.outbound",
               "missing key \"key\"");
  expect_error(with("        algorithm: aes256-sha1\n", ""), "inbound:\n        spi: 0x2002",
               "tunnels[1].static_sa.inbound", "missing key \"algorithm\"");
  const std::string no_inbound = with(R"(      inbound:
        spi: 0x2002
        algorithm: aes256-sha1
        key: "50:e2:b3:18:d5:e7:4f:b8:25:33:0c:69:f7:67:36:9a:26:f5:a7:bc:5f:aa:ea:59:e2:60:da:36:4b:2c:b2:b7"
        auth_key: cda06386c74136d92f7e44dde814f1117b1df74d
)",
                                      "");
  expect_error(no_inbound, "static_sa:\n      outbound:\n        spi: 0x2001",
               "tunnels[1].static_sa", "missing key \"inbound\"");
}

// ---------------------------------------------------------------------------------------------
// Types

TEST(ConfigTypes, WrongShapes) {
  expect_error(std::string(kMinimal) + "dataplane: 3\n", "dataplane: 3", "dataplane",
               "expected a map, got \"3\"");
  expect_error(std::string("interfaces: {name: wan}\n"), "interfaces", "interfaces",
               "expected a list, got a map");
  expect_error(with("workers: 2", "workers: [2]"), "workers:", "dataplane.workers",
               "expected an integer, got a list");
  expect_error(with("- name: wan", "- name: {first: wan}"), "name: {", "interfaces[0].name",
               "expected a name, got a map");
  expect_error(with("  - prefix: 2001:db8:1::/48\n    interface: wan\n", "  - just-a-string\n"),
               "just-a-string", "routes[2]", "expected a map, got \"just-a-string\"");
  expect_error(with("local_cidrs: [fd00:1::/64]", "local_cidrs: fd00:1::/64"), "local_cidrs: fd00",
               "tunnels[2].local_cidrs", "expected a list, got \"fd00:1::/64\"");
  expect_error(with("key: 0x66c99140c5e44a6e8d2c9f7fc61f22a7", "key: [0x66, 0xc9]"), "key: [0x66",
               "tunnels[1].static_sa.outbound.key", "expected a hex string, got a list");
}

TEST(ConfigTypes, MissingValuePointsAtTheKey) {
  expect_error(with("  workers: 2\n", "  workers:\n"), "workers:", "dataplane.workers",
               "missing value");
  expect_error(with("  workers: 2\n", "  workers: ~\n"), "workers:", "dataplane.workers",
               "missing value");
  expect_error(with("    exception: {kind: tap, kernel_name: wan-k}\n", "    exception:\n"),
               "exception:\n", "interfaces[0].exception", "missing value");
  const std::string y = with("      - 10.1.0.1/24\n", "      -\n      - 10.1.0.1/24\n");
  expect_error(y, "    addresses:\n      -\n", "interfaces[1].addresses[0]", "missing value");
}

TEST(ConfigTypes, IntegersArePlainScalars) {
  expect_error(with("mtu: 9000", "mtu: \"9000\""), "mtu: \"9000\"", "interfaces[1].mtu",
               "expected an integer, got a quoted string \"9000\"");
  expect_error(with("workers: 2", "workers: two"), "workers:", "dataplane.workers",
               "expected an integer, got \"two\"");
  expect_error(with("workers: 2", "workers: -1"), "workers:", "dataplane.workers",
               "expected an integer, got \"-1\"");
  expect_error(with("workers: 2", "workers: 2.0"), "workers:", "dataplane.workers",
               "expected an integer, got \"2.0\"");
  expect_error(with("workers: 2", "workers: 0x"), "workers:", "dataplane.workers",
               "expected an integer, got \"0x\"");
}

TEST(ConfigTypes, BooleansAreTrueOrFalse) {
  expect_error(with("nat_t: true", "nat_t: yes"), "nat_t:", "tunnels[0].nat_t",
               "expected true or false, got \"yes\"");
  expect_error(with("esn: true", "esn: \"true\""), "esn:", "tunnels[0].esn",
               "expected true or false, got \"true\"");
}

// ---------------------------------------------------------------------------------------------
// Ranges

TEST(ConfigRanges, Dataplane) {
  expect_error(with("workers: 2", "workers: 0"), "workers:", "dataplane.workers",
               "must be 1 to 128, got \"0\"");
  expect_error(with("workers: 2", "workers: 129"), "workers:", "dataplane.workers",
               "must be 1 to 128, got \"129\"");
  expect_error(with("workers: 2", "workers: 99999999999999999999999"),
               "workers:", "dataplane.workers",
               "must be 1 to 128, got \"99999999999999999999999\"");
  expect_error(with("rx_ring: 2048", "rx_ring: 1000"), "rx_ring:", "dataplane.rx_ring",
               "must be a power of two, got \"1000\"");
  expect_error(with("tx_ring: 512", "tx_ring: 32"), "tx_ring:", "dataplane.tx_ring",
               "must be 64 to 32768, got \"32\"");
  expect_error(with("tx_ring: 512", "tx_ring: 65536"), "tx_ring:", "dataplane.tx_ring",
               "must be 64 to 32768, got \"65536\"");
  expect_error(with("mbufs: 16384", "mbufs: 4294967296"), "mbufs:", "dataplane.mbufs",
               "must be 0 to 4294967295, got \"4294967296\"");
  expect_error(with("exception_pps: 5000", "exception_pps: 0"),
               "exception_pps:", "dataplane.exception_pps", "must be 1 to 4294967295, got \"0\"");
  expect_error(with("arp_hold_packets: 8", "arp_hold_packets: 1025"),
               "arp_hold_packets:", "dataplane.arp_hold_packets",
               "must be 0 to 1024, got \"1025\"");
  expect_error(with("arp_retries: 5", "arp_retries: 101"), "arp_retries:", "dataplane.arp_retries",
               "must be 0 to 100, got \"101\"");
  expect_error(with("arp_retry_ms: 500", "arp_retry_ms: 0"),
               "arp_retry_ms:", "dataplane.arp_retry_ms", "must be 1 to 3600000, got \"0\"");
  expect_error(with("neighbour_ttl_s: 600", "neighbour_ttl_s: 86401"),
               "neighbour_ttl_s:", "dataplane.neighbour_ttl_s",
               "must be 1 to 86400, got \"86401\"");
}

TEST(ConfigRanges, ControlSocket) {
  expect_error(with("control_socket: /run/espgw/test.sock", "control_socket: run/espgw.sock"),
               "control_socket:", "dataplane.control_socket",
               "must be an absolute path, got \"run/espgw.sock\"");
  const std::string long_path = "/" + std::string(107, 'a');
  expect_error(
      with("control_socket: /run/espgw/test.sock", "control_socket: " + long_path),
      "control_socket:", "dataplane.control_socket",
      "longer than 107 bytes (a Unix socket path's limit): \"" + long_path.substr(0, 80) + "...\"");
  expect_error(with("control_socket: /run/espgw/test.sock", "control_socket: ''"),
               "control_socket:", "dataplane.control_socket", "must not be empty");
}

TEST(ConfigRanges, InterfaceMtu) {
  expect_error(with("mtu: 9000", "mtu: 575"), "mtu: 575", "interfaces[1].mtu",
               "must be 576 to 9216, got \"575\"");
  expect_error(with("mtu: 9000", "mtu: 9217"), "mtu: 9217", "interfaces[1].mtu",
               "must be 576 to 9216, got \"9217\"");
  expect_error(with("mtu: 1500", "mtu: 1000"), "mtu: 1000", "interfaces[0].mtu",
               "an interface with an IPv6 address needs an MTU of 1280 or more, got \"1000\"");
}

TEST(ConfigRanges, TunnelNumbers) {
  expect_error(with("ttl: 32", "ttl: 0"), "ttl:", "tunnels[0].ttl", "must be 1 to 255, got \"0\"");
  expect_error(with("ttl: 32", "ttl: 256"), "ttl:", "tunnels[0].ttl",
               "must be 1 to 255, got \"256\"");
  expect_error(with("dscp: 46", "dscp: 64"), "dscp:", "tunnels[0].dscp",
               "must be 0 to 63, got \"64\"");
  expect_error(with("local_port: 4501", "local_port: 0"), "local_port:", "tunnels[0].local_port",
               "must be 1 to 65535, got \"0\"");
  expect_error(with("remote_port: 4502", "remote_port: 65536"),
               "remote_port:", "tunnels[0].remote_port", "must be 1 to 65535, got \"65536\"");
}

TEST(ConfigRanges, PortsOnlyWithNatT) {
  const std::string y = with("    nat_t: true\n", "");
  EXPECT_EQ(error_of(y), "t.yaml:" + std::to_string(line_of(y, "local_port:")) +
                             ": tunnels[0].local_port: only with nat_t: true, got \"4501\"\n" +
                             "t.yaml:" + std::to_string(line_of(y, "remote_port:")) +
                             ": tunnels[0].remote_port: only with nat_t: true, got \"4502\"");
}

TEST(ConfigRanges, ReplayWindow) {
  expect_error(with("replay_window: 4096", "replay_window: 65537"),
               "replay_window:", "tunnels[0].replay_window", "must be 0 to 65536, got \"65537\"");
  expect_error(with("replay_window: 4096", "replay_window: 0"),
               "replay_window:", "tunnels[0].replay_window",
               "cannot be 0 (no replay check) with esn: true, got \"0\"");
  EXPECT_EQ(
      parse(with("replay_window: 4096", "replay_window: 65536"), "t.yaml").tunnels[0].replay_window,
      65536u);
}

TEST(ConfigRanges, Spi) {
  expect_error(with("spi: 0x2002", "spi: 255"), "spi: 255", "tunnels[1].static_sa.inbound.spi",
               "must be 256 to 4294967295 (RFC 4303 2.1 reserves 0 to 255), got \"255\"");
  expect_error(with("spi: 0x2002", "spi: 0x100000000"), "spi: 0x1000",
               "tunnels[1].static_sa.inbound.spi",
               "must be 256 to 4294967295 (RFC 4303 2.1 reserves 0 to 255), got \"0x100000000\"");
  EXPECT_EQ(
      parse(with("spi: 0x2002", "spi: 0xffffffff"), "t.yaml").tunnels[1].static_sa->inbound.spi,
      0xffffffffu);
}

TEST(ConfigRanges, TunnelMtuAndMss) {
  expect_error(with("mtu: 1400", "mtu: 1500"), "mtu: 1500\n    mss", "tunnels[0].mtu",
               "must be below the MTU of interface \"wan\" (1500) to leave room for ESP, got "
               "\"1500\"");
  expect_error(with("mtu: 1400", "mtu: 500"), "mtu: 500", "tunnels[0].mtu",
               "must be 576 to 9216, got \"500\"");
  expect_error(
      with("    remote_cidrs: [fd00:2::/64]\n", "    remote_cidrs: [fd00:2::/64]\n    mtu: 1200\n"),
      "mtu: 1200", "tunnels[2].mtu",
      "a tunnel that carries IPv6 needs an MTU of 1280 or more, got \"1200\"");
  expect_error(with("mss: 1360", "mss: 1361"), "mss:", "tunnels[0].mss",
               "must leave 40 bytes of IP and TCP header within the tunnel MTU (1400), got "
               "\"1361\"");
  expect_error(with("mss: 1360", "mss: 535"), "mss:", "tunnels[0].mss",
               "must be 536 to 9176, got \"535\"");
}

// ---------------------------------------------------------------------------------------------
// Values

TEST(ConfigValues, Names) {
  expect_error(with("name: lan", "name: lan 2"), "name: lan 2", "interfaces[1].name",
               "must be 1 to 32 letters, digits, '-', '_' or '.', got \"lan 2\"");
  expect_error(with("name: ike", "name: ''"), "name: ''", "tunnels[2].name",
               "must be 1 to 32 letters, digits, '-', '_' or '.', got \"\"");
  expect_error(with("device: net_null0", "device: net_null0 x"), "device: net_null0",
               "interfaces[2].device", "DPDK devargs contain no spaces, got \"net_null0 x\"");
}

TEST(ConfigValues, Addresses) {
  expect_error(with("remote: 203.0.113.9", "remote: 203.0.113.300"), "remote: 203",
               "tunnels[1].remote", "not an IP address \"203.0.113.300\"");
  expect_error(with("remote: 203.0.113.9", "remote: 224.0.0.5"), "remote: 224", "tunnels[1].remote",
               "not a unicast address \"224.0.0.5\"");
  expect_error(with("via: 10.1.0.254", "via: 0.0.0.0"), "via: 0.0", "routes[1].via",
               "not a unicast address \"0.0.0.0\"");
  expect_error(with("[10.9.0.1/24]", "[10.9.0.1/33]"), "10.9.0.1/33", "interfaces[2].addresses[0]",
               "not an address/prefix-length \"10.9.0.1/33\"");
  expect_error(with("[10.9.0.1/24]", "[10.9.0.1/]"), "10.9.0.1/", "interfaces[2].addresses[0]",
               "not an address/prefix-length \"10.9.0.1/\"");
  expect_error(with("[10.9.0.1/24]", "[10.9.0.0/24]"), "10.9.0.0/24", "interfaces[2].addresses[0]",
               "the network or broadcast address of its prefix \"10.9.0.0/24\"");
  expect_error(with("[10.9.0.1/24]", "[10.9.0.255/24]"), "10.9.0.255/24",
               "interfaces[2].addresses[0]",
               "the network or broadcast address of its prefix \"10.9.0.255/24\"");
  expect_error(with("[10.9.0.1/24]", "[127.0.0.1/8]"), "127.0.0.1/8", "interfaces[2].addresses[0]",
               "not a unicast address \"127.0.0.1/8\"");
  // /31 (RFC 3021) and /32 have no network or broadcast address.
  EXPECT_NO_THROW(parse(with("[10.9.0.1/24]", "[10.9.0.0/31]"), "t.yaml"));
  EXPECT_NO_THROW(parse(with("[10.9.0.1/24]", "[10.9.0.0/32]"), "t.yaml"));
}

TEST(ConfigValues, Prefixes) {
  expect_error(with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: [10.4.0.0/33]"), "10.4.0.0/33",
               "tunnels[1].remote_cidrs[0]", "not an IP prefix \"10.4.0.0/33\"");
  expect_error(with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: [10.4.0.1/16]"), "10.4.0.1/16",
               "tunnels[1].remote_cidrs[0]",
               "host bits set in prefix \"10.4.0.1/16\" (the network is 10.4.0.0/16)");
  expect_error(with("prefix: 10.0.0.0/8", "prefix: 10.0.0.0/x"), "prefix: 10.0", "routes[1].prefix",
               "not an IP prefix \"10.0.0.0/x\"");
  expect_error(with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: []"), "remote_cidrs: []",
               "tunnels[1].remote_cidrs", "must not be empty");
}

TEST(ConfigValues, Mac) {
  expect_error(with("mac: 02:00:00:00:00:01", "mac: 02:00:00:00:00"), "mac:", "interfaces[0].mac",
               "not a MAC address \"02:00:00:00:00\"");
  expect_error(with("mac: 02:00:00:00:00:01", "mac: 01:00:5e:00:00:01"),
               "mac:", "interfaces[0].mac", "multicast MAC address \"01:00:5e:00:00:01\"");
  expect_error(with("mac: 02:00:00:00:00:01", "mac: 00:00:00:00:00:00"),
               "mac:", "interfaces[0].mac", "all-zero MAC address \"00:00:00:00:00:00\"");
}

TEST(ConfigValues, Choices) {
  expect_error(with("crypto: openssl", "crypto: gnutls"), "crypto:", "dataplane.crypto",
               "unknown crypto backend \"gnutls\" (expected ipsec-mb or openssl)");
  expect_error(with("df: clear", "df: sett"), "df:", "tunnels[0].df",
               "unknown df mode \"sett\" (expected copy, set or clear)");
  expect_error(with("ecn: compatibility", "ecn: ect0"), "ecn:", "tunnels[0].ecn",
               "unknown ecn mode \"ect0\" (expected normal or compatibility)");
  EXPECT_EQ(parse(with("crypto: openssl", "crypto: ipsec-mb"), "t.yaml").dataplane.crypto,
            crypto::BackendKind::kIpsecMb);
  EXPECT_EQ(parse(with("df: clear", "df: set"), "t.yaml").tunnels[0].df, esp::DfMode::kSet);
  EXPECT_EQ(parse(with("ecn: compatibility", "ecn: normal"), "t.yaml").tunnels[0].ecn,
            esp::EcnMode::kNormal);
}

std::string algorithm_names() {
  std::string s;
  for (const auto& a : esp::all_algorithms())
    s += (s.empty() ? "" : ", ") + a.name();
  return s;
}

TEST(ConfigValues, UnknownAlgorithm) {
  expect_error(with("algorithm: aes256gcm16", "algorithm: aes129gcm16"), "aes129gcm16",
               "tunnels[0].static_sa.outbound.algorithm",
               "unknown algorithm \"aes129gcm16\" (expected one of: " + algorithm_names() + ")");
}

TEST(ConfigValues, ExceptionPath) {
  expect_error(with("exception: none", "exception: device"), "exception: device",
               "interfaces[1].exception",
               "kind device needs a device: write {kind: device, device: DEVARGS}, got \"device\"");
  expect_error(with("exception: none", "exception: tun"), "exception: tun",
               "interfaces[1].exception",
               "unknown exception kind \"tun\" (expected tap, device or none)");
  expect_error(with("exception: none", "exception: {kind: tun}"), "exception: {kind: tun",
               "interfaces[1].exception.kind",
               "unknown exception kind \"tun\" (expected tap, device or none)");
  expect_error(with("exception: none", "exception: {kind: none, kernel_name: lan-k}"),
               "exception: {kind: none", "interfaces[1].exception.kernel_name",
               "only with kind tap");
  expect_error(with("exception: none", "exception: {kind: tap, device: net_null9}"),
               "exception: {kind: tap, device", "interfaces[1].exception.device",
               "only with kind device");
  expect_error(with("      device: net_pcap0,tx_pcap=/tmp/exception.pcap\n", ""),
               "exception:\n      kind: device", "interfaces[2].exception",
               "missing key \"device\" (kind device needs DPDK devargs)");
  expect_error(with("kernel_name: wan-k", "kernel_name: wan-kernel-iface0"),
               "kernel_name:", "interfaces[0].exception.kernel_name",
               "must be 1 to 15 letters, digits, '-', '_' or '.', got \"wan-kernel-iface0\"");
  expect_error(with(kMinimal, "name: wan", "name: uplink-one"), "name: uplink-one",
               "interfaces[0].name",
               "the default kernel interface name \"espgw-uplink-one\" is longer than 15 "
               "characters; set exception.kernel_name");
  EXPECT_NO_THROW(
      parse(with(kMinimal, "name: wan", "name: uplink-one\n    exception: none"), "t.yaml"));
}

// ---------------------------------------------------------------------------------------------
// Duplicates

TEST(ConfigDuplicates, InterfaceNames) {
  const std::string y = with("name: lan", "name: wan");
  expect_error(y, "name: wan\n    device: 0000", "interfaces[1].name",
               "duplicate interface name \"wan\" (first at line " +
                   std::to_string(line_of(y, "name: wan")) + ")");
}

TEST(ConfigDuplicates, Devices) {
  const std::string y = with("device: net_null0", "device: 0000:00:06.0");
  expect_error(y, "device: 0000:00:06.0\n    addresses: [10.9", "interfaces[2].device",
               "device used twice \"0000:00:06.0\" (first at line " +
                   std::to_string(line_of(y, "device: 0000:00:06.0")) + ")");
}

TEST(ConfigDuplicates, KernelNames) {
  const std::string y = with("exception: none", "exception: {kind: tap, kernel_name: wan-k}");
  expect_error(y, "exception: {kind: tap, kernel_name: wan-k}\n  - name: cap",
               "interfaces[1].exception.kernel_name",
               "kernel interface name used twice \"wan-k\" (first at line " +
                   std::to_string(line_of(y, "exception: {kind: tap")) + ")");
}

TEST(ConfigDuplicates, AddressesAndOverlaps) {
  std::string y = with("[10.9.0.1/24]", "[192.0.2.1/24]");
  expect_error(y, "[192.0.2.1/24]", "interfaces[2].addresses[0]",
               "address used twice \"192.0.2.1/24\" (first at line " +
                   std::to_string(line_of(y, "192.0.2.1/24")) + ")");
  y = with("[10.9.0.1/24]", "[10.1.0.2/16]");
  expect_error(y, "10.1.0.2/16", "interfaces[2].addresses[0]",
               "connected prefix 10.1.0.0/16 overlaps interface \"lan\" (line " +
                   std::to_string(line_of(y, "- 10.1.0.1/24")) + "): \"10.1.0.2/16\"");
}

TEST(ConfigDuplicates, Routes) {
  const std::string y = with("prefix: 2001:db8:1::/48", "prefix: 10.0.0.0/8");
  expect_error(y, "prefix: 10.0.0.0/8\n    interface", "routes[2].prefix",
               "duplicate route \"10.0.0.0/8\" (first at line " +
                   std::to_string(line_of(y, "prefix: 10.0.0.0/8")) + ")");
}

TEST(ConfigDuplicates, TunnelNames) {
  const std::string y = with("name: cbc", "name: gcm");
  expect_error(y, "name: gcm\n    local: 192.0.2.1\n    remote: 203", "tunnels[1].name",
               "duplicate tunnel name \"gcm\" (first at line " +
                   std::to_string(line_of(y, "name: gcm")) + ")");
}

TEST(ConfigDuplicates, SpisWithinADirection) {
  std::string y = with("spi: 0x2002", "spi: 4098");
  expect_error(y, "spi: 4098\n        algorithm: aes256", "tunnels[1].static_sa.inbound.spi",
               "duplicate inbound SPI \"0x00001002\" (first at line " +
                   std::to_string(line_of(y, "spi: 4098")) + ")");
  y = with("spi: 0x2001", "spi: 4097");
  expect_error(y, "spi: 4097", "tunnels[1].static_sa.outbound.spi",
               "duplicate outbound SPI \"0x00001001\" (first at line " +
                   std::to_string(line_of(y, "spi: 0x00001001")) + ")");
}

TEST(ConfigDuplicates, Cidrs) {
  std::string y = with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: [10.4.0.0/16, 10.4.0.0/16]");
  expect_error(y, "10.4.0.0/16, 10.4", "tunnels[1].remote_cidrs[1]",
               "duplicate prefix \"10.4.0.0/16\" (first at line " +
                   std::to_string(line_of(y, "10.4.0.0/16, 10.4")) + ")");
  y = with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: [10.3.0.0/16]");
  expect_error(y, "remote_cidrs: [10.3.0.0/16]", "tunnels[1].remote_cidrs[0]",
               "already routed into tunnel \"gcm\" (line " +
                   std::to_string(line_of(y, "10.2.0.0/16, 10.3.0.0/16")) + "): \"10.3.0.0/16\"");
  y = with("remote_cidrs: [10.4.0.0/16]", "remote_cidrs: [10.0.0.0/8]");
  expect_error(y, "remote_cidrs: [10.0.0.0/8]", "tunnels[1].remote_cidrs[0]",
               "also a static route (line " + std::to_string(line_of(y, "prefix: 10.0.0.0/8")) +
                   "); a prefix goes either into a tunnel or to a next hop: \"10.0.0.0/8\"");
}

// ---------------------------------------------------------------------------------------------
// References between sections

TEST(ConfigReferences, RouteToUnknownInterface) {
  expect_error(with("    via: 10.1.0.254\n    interface: lan\n",
                    "    via: 10.1.0.254\n    interface: lam\n"),
               "interface: lam", "routes[1].interface",
               "unknown interface \"lam\" (interfaces: wan, lan, cap)");
}

TEST(ConfigReferences, NextHopOnLink) {
  expect_error(with("via: 192.0.2.254", "via: 198.18.0.1"), "via: 198", "routes[0].via",
               "next hop is not on a connected prefix of interface \"wan\": \"198.18.0.1\"");
  expect_error(with("via: 192.0.2.254", "via: 192.0.2.1"), "via: 192.0.2.1", "routes[0].via",
               "next hop is one of our own addresses \"192.0.2.1\"");
  // An IPv6 link-local next hop is on every link.
  EXPECT_NO_THROW(
      parse(with("    interface: wan\ntunnels:", "    interface: wan\n    via: fe80::1\ntunnels:"),
            "t.yaml"));
}

TEST(ConfigReferences, RouteFamilies) {
  expect_error(with("via: 10.1.0.254", "via: 2001:db8::5"), "via: 2001", "routes[1].via",
               "IPv6 next hop for an IPv4 prefix \"2001:db8::5\"");
  expect_error(with("    interface: wan\ntunnels:", "    interface: lan\ntunnels:"),
               "interface: lan\ntunnels", "routes[2].interface",
               "interface has no IPv6 address to route 2001:db8:1::/48: \"lan\"");
}

TEST(ConfigReferences, TunnelLocalIsOurs) {
  expect_error(with("local: 2001:db8::1", "local: 2001:db8::2"), "local: 2001", "tunnels[2].local",
               "not an address of any interface \"2001:db8::2\"");
}

TEST(ConfigReferences, TunnelRemote) {
  expect_error(with("remote: 198.51.100.2", "remote: 2001:db8::7"), "remote: 2001:db8::7",
               "tunnels[0].remote",
               "IPv6 remote address for an IPv4 local address \"2001:db8::7\"");
  expect_error(with("remote: 2001:db8::99", "remote: 2001:db8::1"), "remote: 2001:db8::1",
               "tunnels[2].remote", "the same as local \"2001:db8::1\"");
  expect_error(with("remote: 2001:db8::99", "remote: 2001:db9::99"), "remote: 2001:db9",
               "tunnels[2].remote",
               "no route to the peer (add a route or a connected address) \"2001:db9::99\"");
}

TEST(ConfigReferences, DfOnlyForIpv4Outer) {
  expect_error(
      with("    remote_cidrs: [fd00:2::/64]\n", "    remote_cidrs: [fd00:2::/64]\n    df: set\n"),
      "df: set", "tunnels[2].df",
      "an IPv6 outer header has no DF bit; only copy applies, got \"set\"");
}

// ---------------------------------------------------------------------------------------------
// Keys of static SAs. expect_error() also checks that no key bytes are in any message.

TEST(ConfigKeyMaterial, NotHex) {
  expect_error(
      with("key: e24e4cb646155ddcdeae6225887ea05a", "key: e24e4cb646155ddcdeae6225887ea0zz"),
      "key: e24e", "tunnels[0].static_sa.inbound.key", "not a hex string (value not shown)");
  expect_error(with("salt: b106d2f6", "salt: b106d2f"),
               "salt:", "tunnels[0].static_sa.inbound.salt", "not a hex string (value not shown)");
  expect_error(with("auth_key: cda06386c74136d92f7e44dde814f1117b1df74d",
                    "auth_key: \"cda06386c74136d92f7e44dde814f1117b1df74d \""),
               "auth_key: \"", "tunnels[1].static_sa.inbound.auth_key",
               "not a hex string (value not shown)");
}

TEST(ConfigKeyMaterial, GcmKeyLength) {
  expect_error(with("key: e24e4cb646155ddcdeae6225887ea05a", "key: e24e4cb646155ddcdeae6225887ea0"),
               "key: e24e", "tunnels[0].static_sa.inbound.key",
               "aes128gcm16 needs a 16-byte key, or 20 bytes of key and salt; got 15 bytes");
  expect_error(with("0xfa74fefa7cd8f59e7bf9a5422a91e22b3c57c123482278a1d787f7faa5f2a95fbeff60e4",
                    "0xfa74fefa7cd8f59e7bf9a5422a91e22b3c57c123482278a1d787f7faa5f2a95fbeff60"),
               "key: 0xfa74", "tunnels[0].static_sa.outbound.key",
               "aes256gcm16 needs a 32-byte key, or 36 bytes of key and salt; got 35 bytes");
}

TEST(ConfigKeyMaterial, GcmSalt) {
  // A missing key is reported on the line of the map it belongs in.
  expect_error(with("        salt: b106d2f6\n", ""), "inbound:", "tunnels[0].static_sa.inbound",
               "missing key \"salt\" (aes128gcm16 needs a 4-byte salt, or a 20-byte key of key and "
               "salt)");
  expect_error(with("salt: b106d2f6", "salt: b106d2"), "salt: b106d2",
               "tunnels[0].static_sa.inbound.salt", "aes128gcm16 needs a 4-byte salt, got 3 bytes");
  const std::string y = with("beff60e4\n", "beff60e4\n        salt: b106d2f6\n");
  expect_error(y, "salt: b106d2f6\n      inbound", "tunnels[0].static_sa.outbound.salt",
               "given twice: \"key\" already holds the key and the salt");
  expect_error(with("        salt: b106d2f6\n", "        salt: b106d2f6\n        auth_key: 0011\n"),
               "auth_key: 0011", "tunnels[0].static_sa.inbound.auth_key",
               "aes128gcm16 is an AEAD and takes no auth_key");
}

TEST(ConfigKeyMaterial, CbcKeys) {
  expect_error(
      with("key: 0x66c99140c5e44a6e8d2c9f7fc61f22a7", "key: 0x66c99140c5e44a6e8d2c9f7fc61f22a700"),
      "key: 0x66c9", "tunnels[1].static_sa.outbound.key",
      "aes128-sha256 needs a 16-byte key, got 17 bytes");
  expect_error(with("auth_key: cda06386c74136d92f7e44dde814f1117b1df74d",
                    "auth_key: cda06386c74136d92f7e44dde814f1117b1df7"),
               "auth_key: cda0", "tunnels[1].static_sa.inbound.auth_key",
               "aes256-sha1 needs a 20-byte auth_key, got 19 bytes");
  expect_error(with("        auth_key: cda06386c74136d92f7e44dde814f1117b1df74d\n", ""),
               "inbound:\n        spi: 0x2002", "tunnels[1].static_sa.inbound",
               "missing key \"auth_key\" (aes256-sha1 needs a 20-byte integrity key)");
  expect_error(
      with("        auth_key: cda06386c74136d92f7e44dde814f1117b1df74d\n",
           "        auth_key: cda06386c74136d92f7e44dde814f1117b1df74d\n        salt: 01020304\n"),
      "salt: 01020304", "tunnels[1].static_sa.inbound.salt", "aes256-sha1 takes no salt");
}

TEST(ConfigKeyMaterial, KeyMaterialInTheWrongPlaceIsNotRepeated) {
  const std::string wrong = "algorithm: " + std::string(kCbcOutAuth);
  expect_error(
      with("algorithm: aes128-sha256", wrong), wrong, "tunnels[1].static_sa.outbound.algorithm",
      "unknown algorithm (value not shown: it looks like key material) (expected one of: " +
          algorithm_names() + ")");
  // strongSwan's colon form too.
  const std::string colon = "name: \"50:e2:b3:18:d5:e7:4f:b8\"";
  expect_error(with("name: ike", colon), colon, "tunnels[2].name",
               "must be 1 to 32 letters, digits, '-', '_' or '.', got (value not shown: it looks "
               "like key material)");
}

TEST(ConfigKeyMaterial, SyntaxErrorInsideAKey) {
  const std::string y =
      with("key: e24e4cb646155ddcdeae6225887ea05a", "key: \"e24e4cb646155ddcdeae6225887ea05a\\q\"");
  EXPECT_EQ(error_of(y), "t.yaml:" + std::to_string(line_of(y, "key: \"e24e")) +
                             ": YAML syntax error: unknown escape character: q");
}

// ---------------------------------------------------------------------------------------------
// Several errors

TEST(ConfigErrors, AllCollectedAndSortedByLine) {
  // Sections out of their usual order; errors still come out by line.
  const std::string y = R"(tunnels:
  - name: t
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [10.1.0.0/24]
    remote_cidrs: [10.2.0.0/24]
    ttl: 0
interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
    mtu: 70000
dataplane:
  workers: 0
)";
  EXPECT_EQ(error_of(y),
            "t.yaml:7: tunnels[0].ttl: must be 1 to 255, got \"0\"\n"
            "t.yaml:12: interfaces[0].mtu: must be 576 to 9216, got \"70000\"\n"
            "t.yaml:14: dataplane.workers: must be 1 to 128, got \"0\"");
}

TEST(ConfigErrors, ABadInterfaceIsNotReportedAgainByItsUsers) {
  // The route and the tunnel refer to "lan", whose entry is broken: one error, not three.
  const std::string y = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
  - name: lan
    device: net_null1
    addresses: [10.1.0.1/244]
routes:
  - prefix: 10.0.0.0/8
    via: 10.1.0.254
    interface: lan
tunnels:
  - name: t
    local: 10.1.0.1
    remote: 192.0.2.2
    local_cidrs: [10.1.0.0/24]
    remote_cidrs: [10.2.0.0/24]
)";
  EXPECT_EQ(error_of(y),
            "t.yaml:7: interfaces[1].addresses[0]: not an address/prefix-length \"10.1.0.1/244\"");
}

TEST(ConfigErrors, AtMostTwentyShown) {
  std::string y = "dataplane:\n";
  for (int i = 0; i < 25; ++i)
    y += "  unknown_" + std::to_string(i) + ": 1\n";
  y += std::string(kMinimal);
  const std::string msg = error_of(y);
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 20);
  EXPECT_THAT(msg, testing::StartsWith("t.yaml:2: dataplane.unknown_0: unknown key \"unknown_0\""));
  EXPECT_THAT(msg, testing::EndsWith("\nt.yaml: 5 more errors not shown"));
}

TEST(ConfigErrors, DamagedConfigsGiveOnlyConfigErrorsWithoutKeyBytes) {
  // Every line deleted, and the file cut at many points: parse() either succeeds or throws a
  // ConfigError (never another exception, never a crash), and no message carries key bytes.
  std::vector<std::string> damaged;
  const std::string base(kBase);
  for (size_t start = 0; start < base.size();) {
    const size_t end = base.find('\n', start) + 1;
    damaged.push_back(base.substr(0, start) + base.substr(end));
    start = end;
  }
  for (size_t cut = 0; cut < base.size(); cut += 5)
    damaged.push_back(base.substr(0, cut));
  size_t errors = 0;
  for (const std::string& y : damaged) {
    try {
      parse(y, "t.yaml");
    } catch (const ConfigError& e) {
      ++errors;
      expect_no_secrets(e.what());
      EXPECT_THAT(e.what(), testing::StartsWith("t.yaml:")) << e.what();
    }
  }
  EXPECT_GT(errors, damaged.size() / 2);
}

TEST(ConfigErrors, NoKeyBytesInAnyMessage) {
  // Every way to get a static SA's key wrong, in one config; every message checked for key bytes.
  std::string y(kBase);
  y = with(y, "key: e24e4cb646155ddcdeae6225887ea05a", "key: e24e4cb646155ddcdeae6225887ea0");
  y = with(y, "salt: b106d2f6", "salt: b106d2");
  y = with(y, "key: 0x66c99140c5e44a6e8d2c9f7fc61f22a7", "key: 0x66c99140c5e44a6e8d2c9f7fc61f22zz");
  y = with(y, "auth_key: 0xa8703bbecd77fbb86ad185c855c7b0457d7483bad8821ee657cc4dc6696c43bd",
           "auth_key: 0xa8703bbecd77fbb86ad185c855c7b0457d7483bad8821ee657cc4dc6696c43");
  y = with(y, "auth_key: cda06386c74136d92f7e44dde814f1117b1df74d",
           "auth_key: cda06386c74136d92f7e44dde814f1117b1df74d0000\n        salt: b106d2f6");
  const std::string msg = error_of(y);  // checks for key bytes
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 5) << msg;
  EXPECT_THAT(msg, HasSubstr("takes no salt"));
  EXPECT_THAT(msg, HasSubstr("got 15 bytes"));
  EXPECT_THAT(msg, HasSubstr("got 3 bytes"));
  EXPECT_THAT(msg, HasSubstr("not a hex string (value not shown)"));
  EXPECT_THAT(msg, HasSubstr("got 31 bytes"));
  EXPECT_THAT(msg, HasSubstr("got 22 bytes"));
}

}  // namespace
}  // namespace espgw::config

// ---------------------------------------------------------------------------------------------
// Static neighbours and the single objects of the control socket

namespace espgw::config {
namespace {

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
