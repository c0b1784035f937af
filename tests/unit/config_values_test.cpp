// The config parser, one value wrong, one error in the documented shape
//   FILE:LINE: key.path[index].sub: what is wrong "value"
// Files and YAML syntax, keys (unknown, duplicate, missing), types, ranges and values, each
// checked on the base config of config_test_base.h with one line changed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "tests/unit/config_test_base.h"

namespace espgw::config {
namespace {

using namespace test_base;  // NOLINT(google-build-using-namespace): the suite's helpers

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

// yaml-cpp 0.7's LoadAll looped for ever, allocating without bound, on a document that begins
// with a stray ',' (config_parse_fuzz's first finding): a syntax error now, at once.
TEST(ConfigSyntax, StrayComma) {
  EXPECT_EQ(error_of(","), "t.yaml:1: YAML syntax error: unexpected ',' outside [ ] or { }");
  EXPECT_EQ(error_of("\n\n, a\n"),
            "t.yaml:3: YAML syntax error: unexpected ',' outside [ ] or { }");
  EXPECT_EQ(error_of(std::string(kMinimal) + "---\n,\n"),
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
               "unknown key \"lifetime\" (expected one of: spi algorithm key salt auth_key oseq "
               "seq replay_bitmap)");
  expect_error(with("    ttl: 32\n", "    time_to_live: 32\n"), "time_to_live",
               "tunnels[0].time_to_live",
               "unknown key \"time_to_live\" (expected one of: name local remote local_cidrs "
               "remote_cidrs nat_t local_port remote_port esn replay_window df dscp ecn ttl mtu "
               "mss lanes peer_kind static_sa ike inside inside_interface bgp)");
  expect_error(with("  workers: 2\n", "  workers: 2\n  worker: 3\n"), "worker:", "dataplane.worker",
               "unknown key \"worker\" (did you mean \"workers\"?)");
}

TEST(ConfigKeys, UnknownKeyThatLooksLikeKeyMaterialIsNotRepeated) {
  // A key pasted as a map key (flow map with a missing "key:") must not be echoed.
  const std::string y = with("        salt: b106d2f6\n", "        salt: b106d2f6\n        " +
                                                             std::string(kCbcOutKey) + ": 1\n");
  expect_error(y, kCbcOutKey, "tunnels[0].static_sa.inbound",
               "unknown key (value not shown: it looks like key material) (expected one of: spi "
               "algorithm key salt auth_key oseq seq replay_bitmap)");
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

}  // namespace
}  // namespace espgw::config
