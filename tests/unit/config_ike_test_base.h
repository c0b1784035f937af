#pragma once
// The IKE config of the IKE config tests (config_ike_test.cpp, config_ike_rules_test.cpp): the
// pre-shared keys and their secrets file, a base config with every IKE key, and the error a changed
// base gives, checked for pre-shared keys.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "tests/unit/config_test_files.h"
#include "tests/unit/config_test_util.h"

namespace espgw::config::test_ike {

// with(base, from, to), line_of, at; and the other names the IKE tests use.
using namespace test_util;  // NOLINT(google-build-using-namespace)
using test_files::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The pre-shared keys of the tests. No message may contain 8 characters in a row of any of them.
inline constexpr std::string_view kPsk1 = "Psk.One_for_tunnel_aws1";
inline constexpr std::string_view kPsk2 = "Psk.Two_for_tunnel_aws2";
inline constexpr std::string_view kPskNamedLikeAName = "Sneaky-secret-as-a-name";
inline constexpr std::string_view kPsks[] = {kPsk1, kPsk2, kPskNamedLikeAName};

inline const std::string kSecrets = "# test keys\npsk:\n  psk-1: " + std::string(kPsk1) +
                                    "\n  psk-2: \"" + std::string(kPsk2) + "\"\n";

// Every IKE key, both peers' rules, the top-level ike map. Tests change one line of it.
inline constexpr std::string_view kIke = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
  - name: lan
    device: net_null1
    addresses: [10.1.0.1/24]
routes:
  - prefix: 0.0.0.0/0
    via: 192.0.2.254
    interface: wan
tunnels:
  - name: aws-1
    local: 192.0.2.1
    remote: 198.51.100.10
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.2.0.0/16, 10.3.0.0/16]
    nat_t: true
    ike:
      version: 2
      local_id: 203.0.113.10
      remote_id: vpn.example.net
      psk_ref: psk-1
      ike_proposals: [aes256gcm16-prfsha384-ecp384, aes128-sha256-modp2048]
      esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]
      ike_lifetime_s: 14400
      child_lifetime_s: 1800
      rekey_margin_s: 300
      rekey_fuzz_percent: 50
      life_bytes: 1000000000
      life_packets: 5000000
      dpd_delay_s: 15
      dpd_timeout_s: 45
      dpd_action: clear
      start_action: trap
      mobike: true
  - name: aws-2
    local: 192.0.2.1
    remote: 198.51.100.138
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]
    ike:
      psk_ref: psk-2
  - name: lab
    local: 192.0.2.1
    remote: 192.0.2.9
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.4.0.0/16]
peers:
  - name: aws
    tunnels: [aws-1, aws-2]
    failback: false
  - name: solo
    tunnels: [lab]
ike:
  vici_socket: /run/espgw/test.vici
)";

// kIke with the one occurrence of `from` replaced by `to`.
inline std::string with(std::string_view from, std::string_view to) {
  return test_util::with(kIke, from, to);
}

// kIke naming a secrets file.
inline std::string with_secrets_file(std::string_view base, const std::string& path) {
  return test_util::with(
      base, "ike:\n  vici_socket:", "ike:\n  secrets_file: " + path + "\n  vici_socket:");
}

// Fails the test if any 8 characters in a row of any pre-shared key are in the message.
inline void expect_no_secrets(const std::string& message) {
  for (std::string_view psk : kPsks) {
    for (size_t i = 0; i + 8 <= psk.size(); ++i) {
      EXPECT_EQ(message.find(psk.substr(i, 8)), std::string::npos)
          << "pre-shared key in the message: " << message;
    }
  }
}

// The message that `load` throws, checked for pre-shared keys; "" when it does not throw.
template <typename Load>
std::string error_of_call(Load&& load) {
  return test_util::error_of_call(std::forward<Load>(load), expect_no_secrets);
}
inline std::string error_of(const std::string& yaml) {
  return error_of_call([&] { parse(yaml, "t.yaml"); });
}

// The one error yaml gives: on the line where `needle` is, naming path, saying what.
inline void expect_error(const std::string& yaml, std::string_view needle, std::string_view path,
                         std::string_view what) {
  EXPECT_EQ(error_of(yaml), test_util::at(yaml, needle, path, what));
}

}  // namespace espgw::config::test_ike
