// The config validator between entries and over key material: duplicates, references between
// sections, the keys of static SAs, and several errors at once (all collected, sorted by line, at
// most twenty). No message ever carries key material.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/config.h"
#include "tests/unit/config_test_base.h"

namespace espgw::config {
namespace {

using namespace test_base;  // NOLINT(google-build-using-namespace): the suite's helpers

using ::testing::HasSubstr;

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
