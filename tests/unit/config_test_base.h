#pragma once
// The static-SA config of the config tests (config_test.cpp, config_values_test.cpp,
// config_rules_test.cpp): a base config with every key of every section and lab-only key material,
// the smallest valid config, and the error a changed base gives, checked for key bytes.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/esp_algorithm.h"
#include "common/hex.h"
#include "config/config.h"
#include "tests/unit/config_test_util.h"

namespace espgw::config::test_base {

// with(base, from, to), line_of, at, error_of_call.
using namespace test_util;  // NOLINT(google-build-using-namespace)

// Lab-only key material of the base config below. No error message may contain any part of them.
inline constexpr std::string_view kGcmOutKeySalt =
    "fa74fefa7cd8f59e7bf9a5422a91e22b3c57c123482278a1d787f7faa5f2a95fbeff60e4";
inline constexpr std::string_view kGcmInKey = "e24e4cb646155ddcdeae6225887ea05a";
inline constexpr std::string_view kGcmInSalt = "b106d2f6";
inline constexpr std::string_view kCbcOutKey = "66c99140c5e44a6e8d2c9f7fc61f22a7";
inline constexpr std::string_view kCbcOutAuth =
    "a8703bbecd77fbb86ad185c855c7b0457d7483bad8821ee657cc4dc6696c43bd";
inline constexpr std::string_view kCbcInKey =  // written in strongSwan's colon form below
    "50e2b318d5e74fb825330c69f767369a26f5a7bc5faaea59e260da364b2cb2b7";
inline constexpr std::string_view kCbcInAuth = "cda06386c74136d92f7e44dde814f1117b1df74d";
inline constexpr std::string_view kSecrets[] = {kGcmOutKeySalt, kGcmInKey, kGcmInSalt, kCbcOutKey,
                                                kCbcOutAuth,    kCbcInKey, kCbcInAuth};

// Every key, every section. Tests change one line of it and expect one error.
inline constexpr std::string_view kBase = R"(# espgw test config
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
inline constexpr std::string_view kMinimal = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
)";

inline std::vector<uint8_t> hex(std::string_view s) {
  return parse_hex(s).value();
}

// kBase with the one occurrence of `from` replaced by `to`.
inline std::string with(std::string_view from, std::string_view to) {
  return test_util::with(kBase, from, to);
}

// Fails the test if any 8-digit run of any base key is in the message (colons ignored).
inline void expect_no_secrets(const std::string& message) {
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

// The message parse() throws for yaml, checked for key bytes; "" when it does not throw.
inline std::string error_of(const std::string& yaml) {
  SCOPED_TRACE("the config:\n" + yaml);
  return test_util::error_of_call([&] { parse(yaml, "t.yaml"); }, expect_no_secrets);
}

// The one error yaml gives: on the line where `at` is, naming path, saying what.
inline void expect_error(const std::string& yaml, std::string_view at, std::string_view path,
                         std::string_view what) {
  EXPECT_EQ(error_of(yaml), test_util::at(yaml, at, path, what));
}

// The dataplane's algorithm names, as an unknown algorithm's message lists them.
inline std::string algorithm_names() {
  std::string s;
  for (const auto& a : esp::all_algorithms())
    s += (s.empty() ? "" : ", ") + a.name();
  return s;
}

}  // namespace espgw::config::test_base
