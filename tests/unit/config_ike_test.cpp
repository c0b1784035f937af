// The IKE part of the config: tunnels[].ike, peers[], the top-level ike map, the secrets file and
// tunnel_if_id(). A full IKE config round-trips; every rule answers with the documented message
//   FILE:LINE: key.path[index].sub: what is wrong "value"
// and no message ever carries a pre-shared key, wherever it was written.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "config/charon_retransmit.h"
#include "config/config.h"
#include "tests/unit/config_test_files.h"

namespace espgw::config {
namespace {

using test_files::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The pre-shared keys of the tests. No message may contain 8 characters in a row of any of them.
constexpr std::string_view kPsk1 = "Psk.One_for_tunnel_aws1";
constexpr std::string_view kPsk2 = "Psk.Two_for_tunnel_aws2";
constexpr std::string_view kPskNamedLikeAName = "Sneaky-secret-as-a-name";
constexpr std::string_view kPsks[] = {kPsk1, kPsk2, kPskNamedLikeAName};

const std::string kSecrets = "# test keys\npsk:\n  psk-1: " + std::string(kPsk1) + "\n  psk-2: \"" +
                             std::string(kPsk2) + "\"\n";

// Every IKE key, both peers' rules, the top-level ike map. Tests change one line of it.
constexpr std::string_view kIke = R"(interfaces:
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
  return with(kIke, from, to);
}

// kIke naming a secrets file.
std::string with_secrets_file(std::string_view base, const std::string& path) {
  return with(base, "ike:\n  vici_socket:", "ike:\n  secrets_file: " + path + "\n  vici_socket:");
}

int line_of(std::string_view text, std::string_view needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "not in the text: " << needle;
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

void expect_no_secrets(const std::string& message) {
  for (std::string_view psk : kPsks) {
    for (size_t i = 0; i + 8 <= psk.size(); ++i) {
      EXPECT_EQ(message.find(psk.substr(i, 8)), std::string::npos)
          << "pre-shared key in the message: " << message;
    }
  }
}

// The message that `load` throws; "" when it does not throw.
template <typename Fn>
std::string error_of_call(Fn&& load) {
  try {
    load();
  } catch (const ConfigError& e) {
    expect_no_secrets(e.what());
    return e.what();
  }
  ADD_FAILURE() << "loaded without error";
  return "";
}
std::string error_of(const std::string& yaml) {
  return error_of_call([&] { parse(yaml, "t.yaml"); });
}

std::string at(const std::string& yaml, std::string_view needle, std::string_view path,
               std::string_view what) {
  std::string want = "t.yaml:" + std::to_string(line_of(yaml, needle)) + ": ";
  if (!path.empty()) want += std::string(path) + ": ";
  return want + std::string(what);
}

// The one error yaml gives: on the line where `needle` is, naming path, saying what.
void expect_error(const std::string& yaml, std::string_view needle, std::string_view path,
                  std::string_view what) {
  EXPECT_EQ(error_of(yaml), at(yaml, needle, path, what));
}

// ---------------------------------------------------------------------------------------------
// Valid configs

TEST(IkeParse, FullConfigRoundTrips) {
  const Config c = parse(kIke, "t.yaml");
  ASSERT_EQ(c.tunnels.size(), 3u);
  const Tunnel& t1 = c.tunnels[0];
  ASSERT_TRUE(t1.ike.has_value());
  EXPECT_FALSE(t1.static_sa.has_value());
  const IkeConfig& a = *t1.ike;
  EXPECT_EQ(a.version, 2);
  EXPECT_EQ(a.local_id, "203.0.113.10");
  EXPECT_EQ(a.remote_id, "vpn.example.net");
  EXPECT_EQ(a.psk_ref, "psk-1");
  EXPECT_EQ(a.ike_proposals,
            (std::vector<std::string>{"aes256gcm16-prfsha384-ecp384", "aes128-sha256-modp2048"}));
  EXPECT_EQ(a.esp_proposals,
            (std::vector<std::string>{"aes256gcm16-ecp384-esn", "aes128-sha1-modp1024"}));
  EXPECT_EQ(a.ike_lifetime_s, 14400u);
  EXPECT_EQ(a.child_lifetime_s, 1800u);
  EXPECT_EQ(a.rekey_margin_s, 300u);
  EXPECT_EQ(a.rekey_fuzz_percent, 50u);
  EXPECT_EQ(a.life_bytes, 1000000000u);
  EXPECT_EQ(a.life_packets, 5000000u);
  EXPECT_EQ(a.dpd_delay_s, 15u);
  EXPECT_EQ(a.dpd_timeout_s, 45u);
  EXPECT_EQ(a.dpd_action, DpdAction::kClear);
  EXPECT_EQ(a.start_action, StartAction::kTrap);
  EXPECT_TRUE(a.mobike);
  EXPECT_TRUE(a.force_encap);  // from the tunnel's nat_t: true

  // Two tunnels of one peer share their remote CIDRs (in any order).
  EXPECT_EQ(c.tunnels[1].remote_cidrs,
            (std::vector{*IpPrefix::parse("10.3.0.0/16"), *IpPrefix::parse("10.2.0.0/16")}));
  EXPECT_FALSE(c.tunnels[2].ike.has_value());

  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[0].name, "aws");
  EXPECT_EQ(c.peers[0].tunnels, (std::vector<std::string>{"aws-1", "aws-2"}));
  EXPECT_FALSE(c.peers[0].failback);
  EXPECT_EQ(c.peers[1].name, "solo");
  EXPECT_EQ(c.peers[1].tunnels, std::vector<std::string>{"lab"});
  EXPECT_TRUE(c.peers[1].failback);

  EXPECT_EQ(c.ike.secrets_file, "");
  EXPECT_EQ(c.ike.vici_socket, "/run/espgw/test.vici");
  EXPECT_TRUE(c.secrets.empty());  // parse() without a secrets file: psk_refs unchecked
}

TEST(IkeParse, DefaultsOfTheHeader) {
  const Config c = parse(with("ike:\n  vici_socket: /run/espgw/test.vici\n", ""), "t.yaml");
  const IkeConfig want;
  ASSERT_TRUE(c.tunnels[1].ike.has_value());
  const IkeConfig& b = *c.tunnels[1].ike;
  EXPECT_EQ(b.version, 2);
  EXPECT_EQ(b.local_id, "");
  EXPECT_EQ(b.remote_id, "");
  EXPECT_EQ(b.psk_ref, "psk-2");
  EXPECT_EQ(b.ike_proposals, want.ike_proposals);
  EXPECT_EQ(b.esp_proposals, want.esp_proposals);
  EXPECT_EQ(b.ike_lifetime_s, 28800u);
  EXPECT_EQ(b.child_lifetime_s, 3600u);
  EXPECT_EQ(b.rekey_margin_s, 540u);
  EXPECT_EQ(b.rekey_fuzz_percent, 100u);
  EXPECT_EQ(b.life_bytes, 0u);
  EXPECT_EQ(b.life_packets, 0u);
  EXPECT_EQ(b.dpd_delay_s, 10u);
  EXPECT_EQ(b.dpd_timeout_s, 10u);  // IKEv2's default (config/charon_retransmit.h)
  EXPECT_EQ(b.dpd_action, DpdAction::kRestart);
  EXPECT_EQ(b.start_action, StartAction::kStart);
  EXPECT_FALSE(b.mobike);
  EXPECT_FALSE(b.force_encap);  // nat_t is off
  EXPECT_EQ(c.ike.secrets_file, "");
  EXPECT_EQ(c.ike.vici_socket, "/run/espgw/charon.vici");
}

TEST(IkeParse, ExplicitForceEncapWithoutNatT) {
  const Config c = parse(
      with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      force_encap: true\n"), "t.yaml");
  EXPECT_TRUE(c.tunnels[1].ike->force_encap);
  EXPECT_FALSE(c.tunnels[1].nat_t);
  // force_encap: true with nat_t: true says the same twice: fine.
  EXPECT_TRUE(
      parse(with("      mobike: true\n", "      mobike: true\n      force_encap: true\n"), "t.yaml")
          .tunnels[0]
          .ike->force_encap);
}

TEST(IkeParse, LoadFileReadsTheSecrets) {
  const TempDir dir;
  const std::string secrets = dir.write("keys.yaml", kSecrets);
  const Config c = load_file(dir.write("gw.yaml", with_secrets_file(kIke, secrets)));
  EXPECT_EQ(c.ike.secrets_file, secrets);
  EXPECT_EQ(c.secrets, (std::map<std::string, std::string>{{"psk-1", std::string(kPsk1)},
                                                           {"psk-2", std::string(kPsk2)}}));
  // parse() of a string reads a secrets file the config names, too.
  EXPECT_EQ(parse(with_secrets_file(kIke, secrets), "t.yaml").secrets, c.secrets);
}

TEST(IkeParse, SecretsOnlyWhenATunnelUsesIke) {
  // No IKE tunnel: the secrets file is not read (here it does not even exist).
  const TempDir dir;
  std::string y = with("    ike:\n      psk_ref: psk-2\n", "");
  const size_t from = y.find("    ike:\n      version: 2");
  y.erase(from, y.find("  - name: aws-2") - from);
  y = with_secrets_file(y, (dir.path() / "missing.yaml").string());
  const Config c = load_file(dir.write("gw.yaml", y));
  EXPECT_TRUE(c.secrets.empty());
  EXPECT_FALSE(c.tunnels[0].ike.has_value());
}

// ---------------------------------------------------------------------------------------------
// tunnels[].ike

TEST(IkeRules, UnknownKeySuggests) {
  expect_error(with("      mobike: true\n", "      mobike: true\n      dpd_timout_s: 40\n"),
               "dpd_timout_s", "tunnels[0].ike.dpd_timout_s",
               "unknown key \"dpd_timout_s\" (did you mean \"dpd_timeout_s\"?)");
  expect_error(
      with("      mobike: true\n", "      mobike: true\n      auth: pubkey\n"), "auth: pubkey",
      "tunnels[0].ike.auth",
      "unknown key \"auth\" (expected one of: version local_id remote_id psk_ref ike_proposals "
      "esp_proposals ike_lifetime_s child_lifetime_s rekey_margin_s rekey_fuzz_percent life_bytes "
      "life_packets dpd_delay_s dpd_timeout_s dpd_action start_action mobike force_encap)");
}

TEST(IkeRules, Shape) {
  expect_error(with("    ike:\n      psk_ref: psk-2\n", "    ike: psk-2\n"), "ike: psk-2",
               "tunnels[1].ike", "expected a map, got \"psk-2\"");
  expect_error(with("    ike:\n      psk_ref: psk-2\n", "    ike:\n"), "ike:\n  - name: lab",
               "tunnels[1].ike", "missing value");
}

TEST(IkeRules, VersionAndIds) {
  expect_error(with("version: 2", "version: 3"), "version:", "tunnels[0].ike.version",
               "must be 1 to 2, got \"3\"");
  expect_error(with("local_id: 203.0.113.10", "local_id: ''"),
               "local_id:", "tunnels[0].ike.local_id", "must not be empty");
  expect_error(with("remote_id: vpn.example.net", "remote_id: [a, b]"),
               "remote_id:", "tunnels[0].ike.remote_id", "expected a string, got a list");
  // strongSwan identities: addresses, FQDNs, e-mail addresses, DNs with spaces.
  const Config c =
      parse(with("remote_id: vpn.example.net", "remote_id: \"C=CH, O=Example, CN=vpn\""), "t.yaml");
  EXPECT_EQ(c.tunnels[0].ike->remote_id, "C=CH, O=Example, CN=vpn");
}

TEST(IkeRules, PskRefIsRequired) {
  expect_error(with("    ike:\n      psk_ref: psk-2\n", "    ike:\n      version: 1\n"),
               "ike:\n      version: 1", "tunnels[1].ike",
               "missing key \"psk_ref\" (a pre-shared key is the only IKE authentication espgw "
               "configures for now)");
  expect_error(with("psk_ref: psk-2", "psk_ref: psk 2"), "psk_ref: psk 2", "tunnels[1].ike.psk_ref",
               "must be 1 to 32 letters, digits, '-', '_' or '.', got \"psk 2\"");
}

TEST(IkeRules, StaticSaAndIkeExcludeEachOther) {
  const std::string y = with("    remote_cidrs: [10.4.0.0/16]\n", R"(    remote_cidrs: [10.4.0.0/16]
    static_sa:
      outbound: {spi: 0x1001, algorithm: aes128gcm16, key: 000102030405060708090a0b0c0d0e0f10111213}
      inbound: {spi: 0x1002, algorithm: aes128gcm16, key: 000102030405060708090a0b0c0d0e0f10111213}
    ike:
      psk_ref: psk-1
)");
  expect_error(y, "ike:\n      psk_ref: psk-1", "tunnels[2].ike",
               "a tunnel takes its keys either from static_sa or from ike, not from both");
}

TEST(IkeRules, EsnIsNegotiatedWithIke) {
  expect_error(with("    nat_t: true\n", "    nat_t: true\n    esn: true\n"), "esn: true",
               "tunnels[0].esn",
               "with ike, ESN is negotiated: add \"esn\" to the ike.esp_proposals instead, got "
               "\"true\"");
  EXPECT_NO_THROW(parse(with("    nat_t: true\n", "    nat_t: true\n    esn: false\n"), "t.yaml"));
}

TEST(IkeRules, LifetimesAndMargin) {
  expect_error(with("ike_lifetime_s: 14400", "ike_lifetime_s: 59"), "ike_lifetime_s",
               "tunnels[0].ike.ike_lifetime_s", "must be 60 to 86400, got \"59\"");
  expect_error(with("child_lifetime_s: 1800", "child_lifetime_s: 86401"), "child_lifetime_s",
               "tunnels[0].ike.child_lifetime_s", "must be 60 to 86400, got \"86401\"");
  expect_error(with("rekey_margin_s: 300", "rekey_margin_s: 0"), "rekey_margin_s",
               "tunnels[0].ike.rekey_margin_s", "must be 1 to 86399, got \"0\"");
  // The margin given is compared with each lifetime; the shorter one is named.
  expect_error(with("rekey_margin_s: 300", "rekey_margin_s: 1800"), "rekey_margin_s",
               "tunnels[0].ike.rekey_margin_s",
               "must be less than child_lifetime_s (1800), got \"1800\"");
  expect_error(with("rekey_margin_s: 300", "rekey_margin_s: 20000"), "rekey_margin_s",
               "tunnels[0].ike.rekey_margin_s",
               "must be less than child_lifetime_s (1800), got \"20000\"");
  // A default lifetime is named as such.
  expect_error(with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      rekey_margin_s: 3600\n"),
               "rekey_margin_s: 3600", "tunnels[1].ike.rekey_margin_s",
               "must be less than child_lifetime_s (3600, the default), got \"3600\"");
  // A lifetime given below the default margin: said at the lifetime.
  expect_error(
      with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      child_lifetime_s: 540\n"),
      "child_lifetime_s: 540", "tunnels[1].ike.child_lifetime_s",
      "must be greater than rekey_margin_s (540, the default), got \"540\"");
  expect_error(with("rekey_fuzz_percent: 50", "rekey_fuzz_percent: 1001"), "rekey_fuzz_percent",
               "tunnels[0].ike.rekey_fuzz_percent", "must be 0 to 1000, got \"1001\"");
  expect_error(with("life_bytes: 1000000000", "life_bytes: 18446744073709551616"), "life_bytes",
               "tunnels[0].ike.life_bytes",
               "must be 0 to 18446744073709551615, got \"18446744073709551616\"");
  expect_error(with("life_packets: 5000000", "life_packets: -1"), "life_packets",
               "tunnels[0].ike.life_packets", "expected an integer, got \"-1\"");
  // The earliest rekey, margin plus fuzz% of it before the end, must come after the SA's start.
  expect_error(with("rekey_fuzz_percent: 50", "rekey_fuzz_percent: 500"), "rekey_fuzz_percent",
               "tunnels[0].ike.rekey_fuzz_percent",
               "rekey_margin_s (300) plus rekey_fuzz_percent (500) of it is 1800 s, not less than "
               "child_lifetime_s (1800): charon could rekey as soon as the SA is up, got \"500\"");
  expect_error(with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      rekey_margin_s: 1800\n"),
               "rekey_margin_s: 1800", "tunnels[1].ike.rekey_margin_s",
               "rekey_margin_s (1800) plus rekey_fuzz_percent (100, the default) of it is 3600 s, "
               "not less than child_lifetime_s (3600, the default): charon could rekey as soon as "
               "the SA is up, got \"1800\"");
  expect_error(
      with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      child_lifetime_s: 1080\n"),
      "child_lifetime_s: 1080", "tunnels[1].ike.child_lifetime_s",
      "rekey_margin_s (540, the default) plus rekey_fuzz_percent (100, the default) of it "
      "is 1080 s, not less than child_lifetime_s (1080): charon could rekey as soon as the "
      "SA is up, got \"1080\"");
  const Config c = parse(with(with("rekey_fuzz_percent: 50", "rekey_fuzz_percent: 1000"),
                              "rekey_margin_s: 300", "rekey_margin_s: 100"),
                         "t.yaml");
  EXPECT_EQ(c.tunnels[0].ike->rekey_fuzz_percent, 1000u);  // 1100 s before the end of 1800 s
}

// kIke with aws-1 on IKEv1 (mobike off: IKEv2 only).
std::string ikev1(std::string_view from = "", std::string_view to = "") {
  std::string s =
      with(with("mobike: true", "mobike: false"), "      version: 2\n", "      version: 1\n");
  return from.empty() ? s : with(s, from, to);
}

TEST(IkeRules, DpdIkev1) {
  // charon's dpd_timeout: the time without an answer, so more than the delay.
  expect_error(ikev1("dpd_timeout_s: 45", "dpd_timeout_s: 15"), "dpd_timeout_s",
               "tunnels[0].ike.dpd_timeout_s", "must be greater than dpd_delay_s (15), got \"15\"");
  expect_error(ikev1("      dpd_delay_s: 15\n      dpd_timeout_s: 45\n", "      dpd_delay_s: 30\n"),
               "dpd_delay_s: 30", "tunnels[0].ike.dpd_delay_s",
               "must be less than dpd_timeout_s (30, the default), got \"30\"");
  expect_error(ikev1("dpd_timeout_s: 45", "dpd_timeout_s: 0"), "dpd_timeout_s",
               "tunnels[0].ike.dpd_timeout_s", "must be 1 to 86400, got \"0\"");
  const Config c = parse(ikev1("dpd_timeout_s: 45", "dpd_timeout_s: 86400"), "t.yaml");
  EXPECT_EQ(c.tunnels[0].ike->dpd_timeout_s, 86400u);
  // Not an IKEv2 tunnel: charon's retransmissions come from the IKEv2 one alone.
  ASSERT_TRUE(charon_retransmit(c).has_value());
  EXPECT_EQ(charon_retransmit(c)->tunnel, "aws-2");
}

TEST(IkeRules, DpdIkev2) {
  // The length of an unanswered check: no relation to the delay, 5 to 300 s, default 10.
  const Config c = parse(with("dpd_timeout_s: 45", "dpd_timeout_s: 15"), "t.yaml");
  EXPECT_EQ(c.tunnels[0].ike->dpd_timeout_s, 15u);
  EXPECT_EQ(c.tunnels[1].ike->dpd_timeout_s, 10u);
  EXPECT_EQ(parse(with("      psk_ref: psk-2\n", "      psk_ref: psk-2\n      dpd_delay_s: 30\n"),
                  "t.yaml")
                .tunnels[1]
                .ike->dpd_delay_s,
            30u);
  expect_error(with("dpd_delay_s: 15", "dpd_delay_s: 3601"), "dpd_delay_s",
               "tunnels[0].ike.dpd_delay_s", "must be 0 to 3600, got \"3601\"");
  expect_error(with("dpd_timeout_s: 45", "dpd_timeout_s: 4"), "dpd_timeout_s",
               "tunnels[0].ike.dpd_timeout_s", "must be 5 to 300, got \"4\"");
  expect_error(with("dpd_timeout_s: 45", "dpd_timeout_s: 301"), "dpd_timeout_s",
               "tunnels[0].ike.dpd_timeout_s", "must be 5 to 300, got \"301\"");
  EXPECT_EQ(parse(with("dpd_delay_s: 15", "dpd_delay_s: 0"), "t.yaml").tunnels[0].ike->dpd_delay_s,
            0u);  // no DPD
}

TEST(IkeRules, DpdCharonRetransmit) {
  // The shortest IKEv2 dpd_timeout_s decides; the waits 1, 1.4, ... 1.4^4 times the first sum
  // to it.
  const Config c = parse(with("dpd_timeout_s: 45", "dpd_timeout_s: 20"), "t.yaml");
  const auto r = charon_retransmit(c);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->tunnel, "aws-2");
  EXPECT_EQ(r->gives_up_after_s, 10u);
  EXPECT_EQ(r->tries, 4u);
  EXPECT_DOUBLE_EQ(r->base, 1.4);
  EXPECT_NEAR(r->timeout_s * (1 + 1.4 + 1.96 + 2.744 + 3.8416), 10.0, 1e-9);
  EXPECT_NEAR(r->timeout_s, 0.9136, 1e-4);
  // No IKEv2 tunnel: charon's defaults.
  Config none = c;
  none.tunnels.clear();
  EXPECT_FALSE(charon_retransmit(none).has_value());
}

TEST(IkeRules, DpdWarnings) {
  // aws-1 asks for 45 s, aws-2 has the default 10: charon can honour only one of them.
  const std::string yaml(kIke);
  const Config c = parse(yaml, "t.yaml");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0],
            "t.yaml:" + std::to_string(line_of(yaml, "dpd_timeout_s: 45")) +
                ": tunnels[0].ike.dpd_timeout_s: charon's retransmissions are global: every IKEv2 "
                "exchange gives up after 10 s, tunnel \"aws-2\"'s dpd_timeout_s (the default, ike "
                "section at line " +
                std::to_string(line_of(yaml, "    ike:\n      psk_ref: psk-2")) +
                "), so this tunnel's peer is declared dead after 10 s, not 45 s");
  // The same value everywhere: nothing to say.
  EXPECT_TRUE(parse(with("dpd_timeout_s: 45", "dpd_timeout_s: 10"), "t.yaml").warnings.empty());
  // A timeout given where there is no DPD.
  const std::string off =
      with(with("dpd_timeout_s: 45", "dpd_timeout_s: 10"), "dpd_delay_s: 15", "dpd_delay_s: 0");
  const Config o = parse(off, "t.yaml");
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_THAT(o.warnings[0], HasSubstr(":" + std::to_string(line_of(off, "dpd_timeout_s: 10")) +
                                       ": tunnels[0].ike.dpd_timeout_s: dpd_delay_s is 0 (no "
                                       "DPD)"));
  // IKEv1 tunnels are charon's dpd_timeout, not the retransmissions.
  EXPECT_TRUE(parse(ikev1(), "t.yaml").warnings.empty());
}

TEST(IkeRules, Actions) {
  expect_error(with("dpd_action: clear", "dpd_action: reset"), "dpd_action",
               "tunnels[0].ike.dpd_action",
               "unknown dpd action \"reset\" (expected clear, trap or restart)");
  expect_error(with("start_action: trap", "start_action: route"), "start_action",
               "tunnels[0].ike.start_action",
               "unknown start action \"route\" (expected none, trap or start)");
  const Config c = parse(with(with("dpd_action: clear", "dpd_action: trap"), "start_action: trap",
                              "start_action: none"),
                         "t.yaml");
  EXPECT_EQ(c.tunnels[0].ike->dpd_action, DpdAction::kTrap);
  EXPECT_EQ(c.tunnels[0].ike->start_action, StartAction::kNone);
}

TEST(IkeRules, MobikeIsIkev2Only) {
  expect_error(with("version: 2", "version: 1"), "mobike", "tunnels[0].ike.mobike",
               "MOBIKE (RFC 4555) is an IKEv2 extension; version is 1, got \"true\"");
  EXPECT_EQ(parse(with(with("version: 2", "version: 1"), "mobike: true", "mobike: false"), "t.yaml")
                .tunnels[0]
                .ike->version,
            1);
}

TEST(IkeRules, NatTImpliesForceEncap) {
  expect_error(with("      mobike: true\n", "      mobike: true\n      force_encap: false\n"),
               "force_encap", "tunnels[0].ike.force_encap",
               "the tunnel's nat_t: true already forces UDP encapsulation, got \"false\"");
  expect_error(with("      mobike: true\n", "      mobike: true\n      force_encap: yes\n"),
               "force_encap", "tunnels[0].ike.force_encap", "expected true or false, got \"yes\"");
}

// ---------------------------------------------------------------------------------------------
// Proposals

// The error an ESP (or IKE) proposal list of one item gives, at tunnels[0].ike.
std::string esp_error(std::string_view proposal) {
  const std::string y = with("esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]",
                             "esp_proposals: [\"" + std::string(proposal) + "\"]");
  const std::string want_prefix = "t.yaml:" + std::to_string(line_of(y, "esp_proposals")) +
                                  ": tunnels[0].ike.esp_proposals[0]: ";
  const std::string e = error_of(y);
  EXPECT_TRUE(e.starts_with(want_prefix)) << e;
  return e.starts_with(want_prefix) ? e.substr(want_prefix.size()) : e;
}
std::string ike_error(std::string_view proposal) {
  const std::string y =
      with("ike_proposals: [aes256gcm16-prfsha384-ecp384, aes128-sha256-modp2048]",
           "ike_proposals: [\"" + std::string(proposal) + "\"]");
  const std::string want_prefix = "t.yaml:" + std::to_string(line_of(y, "ike_proposals")) +
                                  ": tunnels[0].ike.ike_proposals[0]: ";
  const std::string e = error_of(y);
  EXPECT_TRUE(e.starts_with(want_prefix)) << e;
  return e.starts_with(want_prefix) ? e.substr(want_prefix.size()) : e;
}
void expect_esp_ok(std::string_view proposal) {
  EXPECT_NO_THROW(parse(with("esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]",
                             "esp_proposals: [\"" + std::string(proposal) + "\"]"),
                        "t.yaml"))
      << proposal;
}
void expect_ike_ok(std::string_view proposal) {
  EXPECT_NO_THROW(
      parse(with("ike_proposals: [aes256gcm16-prfsha384-ecp384, aes128-sha256-modp2048]",
                 "ike_proposals: [\"" + std::string(proposal) + "\"]"),
            "t.yaml"))
      << proposal;
}

constexpr std::string_view kEspKnown =
    "(expected encryption: aes128gcm16, aes256gcm16, aes128, aes256; integrity: sha1, sha256, "
    "sha384, sha512; DH groups: modp2048, modp3072, modp4096, modp6144, modp8192, ecp256, ecp384, "
    "ecp521, curve25519, modp1024 (weak); esn, noesn)";
constexpr std::string_view kIkeKnown =
    "(expected encryption: aes128, aes192, aes256, aes128gcm16, aes192gcm16, aes256gcm16, "
    "chacha20poly1305; integrity: sha1, sha256, sha384, sha512; PRF: prfsha1, prfsha256, "
    "prfsha384, prfsha512; DH groups: modp2048, modp3072, modp4096, modp6144, modp8192, ecp256, "
    "ecp384, ecp521, curve25519, modp1024 (weak))";

TEST(IkeProposals, EveryDataplaneAlgorithmIsAnEspProposal) {
  for (const esp::Algorithm& a : esp::all_algorithms()) {
    expect_esp_ok(a.name());
    expect_esp_ok(a.name() + "-modp2048");
  }
}

TEST(IkeProposals, StrongSwanAliasesAreAccepted) {
  for (std::string_view p :
       {"aes128gcm128-x25519", "aes256gcm128-curve25519-noesn", "aes128gcm-esn-noesn",
        "aes-sha-ecp256", "aes256-sha2_256-modp3072", "aes128-sha2_384", "aes256-sha2_512-ecp521",
        "aes128-sha512-modp2048-ecp256", "aes128gcm16-modp1024"}) {
    expect_esp_ok(p);
  }
  for (std::string_view p :
       {"aes192-sha2_512-prfsha512-curve25519", "chacha20poly1305-prfsha256-ecp521",
        "aes128-aes256-sha256-sha1-modp2048-ecp256", "aes128gcm-aes256gcm128-prfsha1-modp4096",
        "aes-sha-modp1024", "default"}) {
    expect_ike_ok(p);
  }
}

TEST(IkeProposals, UnknownTokens) {
  EXPECT_EQ(esp_error("aes128-sha265-modp2048"),
            "unknown algorithm \"sha265\" in proposal \"aes128-sha265-modp2048\" (did you mean "
            "\"sha256\"?)");
  EXPECT_EQ(
      esp_error("blowfish-md5"),
      "unknown algorithm \"blowfish\" in proposal \"blowfish-md5\" " + std::string(kEspKnown));
  EXPECT_EQ(esp_error("AES128-sha256"),
            "unknown algorithm \"AES128\" in proposal \"AES128-sha256\" (strongSwan's keywords are "
            "lower case: \"aes128\")");
  EXPECT_EQ(
      ike_error("aes128-md5-modp2048"),
      "unknown algorithm \"md5\" in proposal \"aes128-md5-modp2048\" " + std::string(kIkeKnown));
  EXPECT_EQ(ike_error("aes128-sha256-modp2047"),
            "unknown algorithm \"modp2047\" in proposal \"aes128-sha256-modp2047\" (did you mean "
            "\"modp2048\"?)");
}

TEST(IkeProposals, EspOnlyWhatTheDataplaneCarries) {
  EXPECT_EQ(esp_error("aes192-sha256"),
            "not an ESP algorithm the dataplane carries \"aes192\" in proposal \"aes192-sha256\" " +
                std::string(kEspKnown));
  EXPECT_EQ(esp_error("chacha20poly1305"),
            "not an ESP algorithm the dataplane carries \"chacha20poly1305\" in proposal "
            "\"chacha20poly1305\" " +
                std::string(kEspKnown));
  EXPECT_EQ(esp_error("aes128-sha256-prfsha256"),
            "not an ESP algorithm the dataplane carries \"prfsha256\" in proposal "
            "\"aes128-sha256-prfsha256\" " +
                std::string(kEspKnown));
  EXPECT_EQ(esp_error("default"),
            "strongSwan's default ESP proposals include algorithms the dataplane does not carry "
            "(aes192, aesxcbc); list the proposals, got \"default\"");
}

TEST(IkeProposals, EspStructure) {
  EXPECT_EQ(esp_error("sha256-modp2048"),
            "no encryption algorithm in proposal \"sha256-modp2048\"");
  EXPECT_EQ(esp_error("aes128-aes256-sha256"),
            "more than one encryption algorithm in proposal \"aes128-aes256-sha256\" (the "
            "dataplane takes one per ESP proposal: list one proposal for each)");
  EXPECT_EQ(esp_error("aes128gcm16-aes256gcm16"),
            "more than one encryption algorithm in proposal \"aes128gcm16-aes256gcm16\" (the "
            "dataplane takes one per ESP proposal: list one proposal for each)");
  EXPECT_EQ(esp_error("aes128gcm16-sha256"),
            "aes128gcm16 is an AEAD and takes no integrity algorithm in proposal "
            "\"aes128gcm16-sha256\"");
  EXPECT_EQ(esp_error("aes128-modp2048"),
            "aes128 needs an integrity algorithm (sha1, sha256, sha384 or sha512) in proposal "
            "\"aes128-modp2048\"");
  EXPECT_EQ(esp_error("aes128-sha1-sha256"),
            "more than one integrity algorithm in proposal \"aes128-sha1-sha256\" (the dataplane "
            "takes one per ESP proposal: list one proposal for each)");
}

TEST(IkeProposals, IkeStructure) {
  EXPECT_EQ(ike_error("aes128-sha256-esn"),
            "\"esn\" belongs in esp_proposals in proposal \"aes128-sha256-esn\"");
  EXPECT_EQ(ike_error("aes128-sha256"),
            "no DH group (an IKE proposal needs one) in proposal \"aes128-sha256\"");
  EXPECT_EQ(ike_error("aes128gcm16-modp2048"),
            "aes128gcm16 needs a PRF (prfsha256, prfsha384, prfsha512 or prfsha1) in proposal "
            "\"aes128gcm16-modp2048\"");
  EXPECT_EQ(ike_error("aes128-aes128gcm16-sha256-modp2048"),
            "AEAD and classic encryption algorithms in one proposal (strongSwan refuses that) in "
            "proposal \"aes128-aes128gcm16-sha256-modp2048\"");
  EXPECT_EQ(ike_error("aes256-prfsha256-modp2048"),
            "aes256 needs an integrity algorithm (sha1, sha256, sha384 or sha512) in proposal "
            "\"aes256-prfsha256-modp2048\"");
  EXPECT_EQ(ike_error("aes256gcm16-sha256-prfsha256-modp2048"),
            "aes256gcm16 is an AEAD and takes no integrity algorithm in proposal "
            "\"aes256gcm16-sha256-prfsha256-modp2048\"");
  EXPECT_EQ(ike_error("prfsha256-modp2048"),
            "no encryption algorithm in proposal \"prfsha256-modp2048\"");
}

TEST(IkeProposals, Spelling) {
  EXPECT_EQ(esp_error("aes128--sha256"),
            "empty algorithm name (two '-' in a row, or one at an end) in proposal "
            "\"aes128--sha256\"");
  EXPECT_EQ(ike_error("aes128-sha256-modp2048-"),
            "empty algorithm name (two '-' in a row, or one at an end) in proposal "
            "\"aes128-sha256-modp2048-\"");
  EXPECT_EQ(esp_error("aes128-sha256-sha2_256"),
            "\"sha2_256\" given twice in proposal \"aes128-sha256-sha2_256\"");
  EXPECT_EQ(esp_error("aes128-sha256-modp2048, aes128gcm16"),
            "several proposals in one string: write each as its own list item, got "
            "\"aes128-sha256-modp2048, aes128gcm16\"");
  EXPECT_EQ(esp_error(""), "must not be empty");
}

TEST(IkeProposals, Lists) {
  expect_error(
      with("esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]", "esp_proposals: []"),
      "esp_proposals", "tunnels[0].ike.esp_proposals", "must not be empty");
  expect_error(with("ike_proposals: [aes256gcm16-prfsha384-ecp384, aes128-sha256-modp2048]",
                    "ike_proposals: aes128-sha256-modp2048"),
               "ike_proposals", "tunnels[0].ike.ike_proposals",
               "expected a list, got \"aes128-sha256-modp2048\"");
  const std::string y = with("esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]",
                             "esp_proposals:\n        - aes128gcm16\n        - aes128gcm16");
  const int first = line_of(y, "- aes128gcm16");
  EXPECT_EQ(error_of(y), "t.yaml:" + std::to_string(first + 1) +
                             ": tunnels[0].ike.esp_proposals[1]: duplicate proposal "
                             "\"aes128gcm16\" (first at line " +
                             std::to_string(first) + ")");
  // Every bad proposal of a list is reported.
  const std::string two = with("esp_proposals: [aes256gcm16-ecp384-esn, aes128-sha1-modp1024]",
                               "esp_proposals: [aes129gcm16, aes128-md5]");
  const std::string e = error_of(two);
  EXPECT_THAT(e, HasSubstr("esp_proposals[0]: unknown algorithm \"aes129gcm16\""));
  EXPECT_THAT(e, HasSubstr("esp_proposals[1]: unknown algorithm \"md5\""));
}

// ---------------------------------------------------------------------------------------------
// peers[]

TEST(IkePeers, UnknownTunnel) {
  expect_error(with("tunnels: [lab]", "tunnels: [lab2]"), "tunnels: [lab2]", "peers[1].tunnels[0]",
               "unknown tunnel \"lab2\" (tunnels: aws-1, aws-2, lab)");
}

TEST(IkePeers, ATunnelInOnePeerOnce) {
  const std::string twice = with("tunnels: [aws-1, aws-2]", "tunnels: [aws-1, aws-2, aws-1]");
  expect_error(twice, "tunnels: [aws-1, aws-2, aws-1]", "peers[0].tunnels[2]",
               "tunnel listed twice in this peer \"aws-1\" (first at line " +
                   std::to_string(line_of(twice, "tunnels: [aws-1")) + ")");
  const std::string two_peers = with("tunnels: [lab]", "tunnels: [lab, aws-2]");
  expect_error(two_peers, "tunnels: [lab, aws-2]", "peers[1].tunnels[1]",
               "already in peer \"aws\" (line " +
                   std::to_string(line_of(two_peers, "tunnels: [aws-1")) +
                   "); a tunnel belongs to one peer at most: \"aws-2\"");
}

TEST(IkePeers, TunnelsOfAPeerCarryTheSameCidrs) {
  const std::string y = with("tunnels: [aws-1, aws-2]", "tunnels: [aws-1, aws-2, lab]");
  const int first = line_of(y, "tunnels: [aws-1");
  const std::string shared = std::to_string(first);
  EXPECT_EQ(error_of(y),
            at(y, "tunnels: [aws-1", "peers[0].tunnels[2]",
               "remote_cidrs differ from those of tunnel \"aws-1\" (line " + shared +
                   "; only in \"lab\": 10.4.0.0/16; only in \"aws-1\": 10.2.0.0/16, "
                   "10.3.0.0/16); the tunnels of a peer carry the same CIDRs: \"lab\"") +
                "\n" +
                at(y, "tunnels: [lab]", "peers[1].tunnels[0]",
                   "already in peer \"aws\" (line " + shared +
                       "); a tunnel belongs to one peer at most: \"lab\""));
  const std::string local = with("    remote: 198.51.100.138\n    local_cidrs: [10.1.0.0/16]\n",
                                 "    remote: 198.51.100.138\n    local_cidrs: [10.1.0.0/17]\n");
  expect_error(local, "tunnels: [aws-1", "peers[0].tunnels[1]",
               "local_cidrs differ from those of tunnel \"aws-1\" (line " +
                   std::to_string(line_of(local, "tunnels: [aws-1")) +
                   "; only in \"aws-2\": 10.1.0.0/17; only in \"aws-1\": 10.1.0.0/16); the "
                   "tunnels of a peer carry the same CIDRs: \"aws-2\"");
  // A subset is named from one side only.
  const std::string subset =
      with("remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]", "remote_cidrs: [10.3.0.0/16]");
  expect_error(subset, "tunnels: [aws-1", "peers[0].tunnels[1]",
               "remote_cidrs differ from those of tunnel \"aws-1\" (line " +
                   std::to_string(line_of(subset, "tunnels: [aws-1")) +
                   "; only in \"aws-1\": 10.2.0.0/16); the tunnels of a peer carry the same "
                   "CIDRs: \"aws-2\"");
}

TEST(IkePeers, SharedRemoteCidrsOnlyWithinAPeer) {
  // Without the peer, aws-2's remote CIDRs are aws-1's: refused as before peers existed.
  const std::string y =
      with("  - name: aws\n    tunnels: [aws-1, aws-2]\n    failback: false\n", "");
  EXPECT_EQ(
      error_of(y),
      at(y, "remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]", "tunnels[1].remote_cidrs[0]",
         "already routed into tunnel \"aws-1\" (line " +
             std::to_string(line_of(y, "remote_cidrs: [10.2.0.0/16")) + "): \"10.3.0.0/16\"") +
          "\n" +
          at(y, "remote_cidrs: [10.3.0.0/16, 10.2.0.0/16]", "tunnels[1].remote_cidrs[1]",
             "already routed into tunnel \"aws-1\" (line " +
                 std::to_string(line_of(y, "remote_cidrs: [10.2.0.0/16")) + "): \"10.2.0.0/16\""));
  // A third tunnel outside the peer with one of the peer's prefixes: reported once, at itself.
  const std::string third =
      with("    remote_cidrs: [10.4.0.0/16]\n", "    remote_cidrs: [10.4.0.0/16, 10.2.0.0/16]\n");
  const std::string e = error_of(third);
  EXPECT_THAT(e, HasSubstr("tunnels[2].remote_cidrs[1]: already routed into tunnel \"aws-1\""));
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 0) << e;
}

TEST(IkePeers, NamesAndShapes) {
  const std::string dup = with("name: solo", "name: aws");
  expect_error(dup, "name: aws\n    tunnels: [lab]", "peers[1].name",
               "duplicate peer name \"aws\" (first at line " +
                   std::to_string(line_of(dup, "name: aws\n")) + ")");
  expect_error(with("tunnels: [lab]", "tunnels: []"), "tunnels: []", "peers[1].tunnels",
               "must not be empty");
  expect_error(with("  - name: solo\n    tunnels: [lab]\n", "  - tunnels: [lab]\n"),
               "tunnels: [lab]", "peers[1]", "missing key \"name\"");
  expect_error(with("  - name: solo\n    tunnels: [lab]\n", "  - name: solo\n"), "name: solo",
               "peers[1]", "missing key \"tunnels\"");
  expect_error(with("failback: false", "failback: no"), "failback", "peers[0].failback",
               "expected true or false, got \"no\"");
  expect_error(with("    failback: false\n", "    fallback: false\n"), "fallback",
               "peers[0].fallback", "unknown key \"fallback\" (did you mean \"failback\"?)");
}

TEST(IkePeers, ABrokenTunnelIsNotReportedAgainByItsPeer) {
  // aws-2's broken remote address is the only error; its peer does not also complain.
  const std::string y = with("remote: 198.51.100.138", "remote: 198.51.100.300");
  expect_error(y, "remote: 198.51.100.300", "tunnels[1].remote",
               "not an IP address \"198.51.100.300\"");
}

// ---------------------------------------------------------------------------------------------
// The top-level ike map

TEST(IkeGlobal, Paths) {
  expect_error(with("vici_socket: /run/espgw/test.vici", "vici_socket: run/charon.vici"),
               "vici_socket", "ike.vici_socket",
               "must be an absolute path, got \"run/charon.vici\"");
  const std::string long_path = "/" + std::string(107, 'v');
  expect_error(
      with("vici_socket: /run/espgw/test.vici", "vici_socket: " + long_path), "vici_socket",
      "ike.vici_socket",
      "longer than 107 bytes (a Unix socket path's limit): \"" + long_path.substr(0, 80) + "...\"");
  expect_error(with("vici_socket: /run/espgw/test.vici", "vici_socket: /run/espgw/espgw.sock"),
               "vici_socket", "ike.vici_socket",
               "the same path as dataplane.control_socket \"/run/espgw/espgw.sock\"");
  expect_error(with_secrets_file(kIke, "keys.yaml"), "secrets_file", "ike.secrets_file",
               "must be an absolute path, got \"keys.yaml\"");
  expect_error(with("  vici_socket:", "  vici:"), "vici:", "ike.vici",
               "unknown key \"vici\" (expected one of: secrets_file vici_socket)");
  expect_error(with("ike:\n  vici_socket: /run/espgw/test.vici\n", "ike: []\n"), "ike: []", "ike",
               "expected a map, got a list");
}

// ---------------------------------------------------------------------------------------------
// The secrets file

// The error of loading kIke (as a file) with `secrets` as its secrets file.
std::string secrets_error_of(const TempDir& dir, const std::string& secrets_path,
                             std::string* config_path = nullptr) {
  const std::string config = dir.write("gw.yaml", with_secrets_file(kIke, secrets_path));
  if (config_path) *config_path = config;
  return error_of_call([&] { load_file(config); });
}

TEST(IkeSecrets, LoadFileNeedsASecretsFile) {
  const TempDir dir;
  const std::string config = dir.write("gw.yaml", std::string(kIke));
  EXPECT_EQ(error_of_call([&] { load_file(config); }),
            config + ":" + std::to_string(line_of(kIke, "ike:\n      version: 2")) +
                ": tunnels[0].ike: needs the pre-shared keys: name their file in ike.secrets_file "
                "at the top level");
}

TEST(IkeSecrets, ModeMustKeepOthersOut) {
  using fs::perms;
  const TempDir dir;
  for (auto [mode, shown] :
       {std::pair{perms::owner_read | perms::owner_write | perms::group_read | perms::others_read,
                  "0644"},
        std::pair{perms::owner_read | perms::group_read, "0440"},
        std::pair{perms::owner_read | perms::owner_write | perms::others_read, "0604"},
        std::pair{perms::owner_read | perms::owner_write | perms::group_write, "0620"}}) {
    const std::string secrets = dir.write("keys.yaml", kSecrets, mode);
    std::string config;
    const std::string e = secrets_error_of(dir, secrets, &config);
    EXPECT_EQ(e, config + ":" +
                     std::to_string(line_of(with_secrets_file(kIke, secrets), "secrets_file")) +
                     ": ike.secrets_file: mode " + shown +
                     " lets group or others at the pre-shared keys; fix with chmod 600: \"" +
                     secrets + "\"");
  }
  // 0600 and 0400 are fine.
  EXPECT_NO_THROW(parse(with_secrets_file(kIke, dir.write("keys.yaml", kSecrets)), "t.yaml"));
  EXPECT_NO_THROW(
      parse(with_secrets_file(kIke, dir.write("ro.yaml", kSecrets, perms::owner_read)), "t.yaml"));
}

TEST(IkeSecrets, OwnerMustBeRootOrUs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  const TempDir dir;
  const std::string secrets = dir.write("keys.yaml", kSecrets);
  ASSERT_EQ(::chown(secrets.c_str(), 4242, 4242), 0);
  std::string config;
  const std::string e = secrets_error_of(dir, secrets, &config);
  EXPECT_EQ(e, config + ":" +
                   std::to_string(line_of(with_secrets_file(kIke, secrets), "secrets_file")) +
                   ": ike.secrets_file: owned by uid 4242, neither root nor the user espgw runs "
                   "as (uid 0); fix with chown: \"" +
                   secrets + "\"");
}

TEST(IkeSecrets, MissingOrNotAFile) {
  const TempDir dir;
  const std::string y = with_secrets_file(kIke, (dir.path() / "nope.yaml").string());
  expect_error(
      y, "secrets_file", "ike.secrets_file",
      "cannot open: No such file or directory \"" + (dir.path() / "nope.yaml").string() + "\"");
  expect_error(with_secrets_file(kIke, dir.path().string()), "secrets_file", "ike.secrets_file",
               "not a regular file \"" + dir.path().string() + "\"");
}

TEST(IkeSecrets, EveryPskRefIsInTheFile) {
  const TempDir dir;
  const std::string secrets = dir.write("keys.yaml", "psk:\n  psk-1: " + std::string(kPsk1) + "\n");
  const std::string y = with_secrets_file(kIke, secrets);
  expect_error(y, "psk_ref: psk-2", "tunnels[1].ike.psk_ref",
               "no such pre-shared key in " + secrets + ": \"psk-2\"");
}

// Errors about the secrets file's content name the secrets file and its line, after the config's.
void expect_content_error(const std::string& content, int line, std::string_view what) {
  const TempDir dir;
  const std::string secrets = dir.write("keys.yaml", content);
  EXPECT_EQ(error_of_call([&] { parse(with_secrets_file(kIke, secrets), "t.yaml"); }),
            secrets + ":" + std::to_string(line) + ": " + std::string(what))
      << content;
}

TEST(IkeSecrets, ContentIsCheckedWithoutShowingIt) {
  const std::string psk1(kPsk1);
  const std::string sneaky(kPskNamedLikeAName);
  expect_content_error("", 1, "the file is empty (expected a map with \"psk\")");
  expect_content_error("# nothing\n", 1, "the file is empty (expected a map with \"psk\")");
  expect_content_error(psk1 + "\n", 1, "expected a map with \"psk\" (content not shown)");
  expect_content_error("- " + psk1 + "\n", 1, "expected a map with \"psk\" (content not shown)");
  expect_content_error("{}\n", 1, "missing key \"psk\"");
  // A key pasted at the top level, or a secret written as a name, is not repeated.
  expect_content_error("psk:\n  psk-1: a-secret\n  psk-2: b-secret\n" + sneaky + ": x\n", 4,
                       "unknown key (expected only \"psk\"; keys of this file are not shown)");
  expect_content_error("psk: " + psk1 + "\n", 1,
                       "psk: expected a map of NAME: SECRET (content not shown)");
  expect_content_error("psk:\n", 1, "psk: expected a map of NAME: SECRET (content not shown)");
  expect_content_error("psk:\n  psk-1: a-secret\n  psk-2: b-secret\npsk:\n  x: y\n", 4,
                       "psk: duplicate key \"psk\" (first at line 1)");
  expect_content_error("psk:\n  psk-1: a-secret\n  psk-2: b-secret\n  " + sneaky + ":\n", 4,
                       "psk: no secret on this line");
  expect_content_error("psk:\n  psk-1: a-secret\n  psk-2: b-secret\n  \"" + psk1 + " x\": y\n", 4,
                       "psk: a name that is not 1 to 32 letters, digits, '-', '_' or '.' (names of "
                       "this file are not shown)");
  expect_content_error("psk:\n  psk-1: a-secret\n  psk-2: b-secret\n  psk-1: " + psk1 + "\n", 4,
                       "psk: a name given twice (first at line 2; names of this file are not "
                       "shown)");
  expect_content_error("psk:\n  psk-1: [" + psk1 + "]\n  psk-2: b\n", 2,
                       "psk: a secret must be a string (not shown)");
  expect_content_error("psk:\n  psk-1: ''\n  psk-2: b\n", 2, "psk: an empty secret");
  expect_content_error("psk:\n  psk-1: a\n  psk-2: b\n---\npsk: {}\n", 5,
                       "a second YAML document; the file is one document");
  // yaml-cpp names the character it stumbled on; here that is part of the secret.
  expect_content_error("psk:\n  psk-1: \"Psk.One_for\\qtunnel_aws1\"\n  psk-2: b\n", 2,
                       "YAML syntax error: unknown escape character");
  expect_content_error("psk:\n  psk-1: [" + psk1 + "\n", 3,
                       "YAML syntax error: end of sequence flow not found");
}

TEST(IkeSecrets, ConfigErrorsComeFirst) {
  const TempDir dir;
  const std::string secrets = dir.write("keys.yaml", "psk:\n  psk-1: ''\n  psk-2: b\n");
  const std::string bad =
      with(with_secrets_file(kIke, secrets), "dpd_action: clear", "dpd_action: never");
  EXPECT_EQ(error_of(bad), at(bad, "dpd_action", "tunnels[0].ike.dpd_action",
                              "unknown dpd action \"never\" (expected clear, trap or restart)") +
                               "\n" + secrets + ":2: psk: an empty secret");
}

TEST(IkeSecrets, NoSecretInAnyMessage) {
  // Secrets written everywhere a user might put them by mistake: no message repeats them (the
  // helpers check every message).
  const std::string psk1(kPsk1);
  const TempDir dir;
  for (const std::string& content :
       {"psk:\n  " + psk1 + ":\n", "psk: [" + psk1 + "]\n", psk1 + ": " + psk1 + "\n",
        "psk:\n  \"" + psk1 + "\\x\": y\n", "psk:\n  psk-1: {" + psk1 + ": 1}\n"}) {
    const std::string secrets = dir.write("keys.yaml", content);
    error_of_call([&] { parse(with_secrets_file(kIke, secrets), "t.yaml"); });
  }
}

TEST(IkeSecrets, DamagedFilesGiveOnlyConfigErrorsWithoutSecrets) {
  // The config with every line deleted in turn, and the secrets file cut at every point: parse()
  // succeeds or throws a ConfigError (never another exception), and no message has a key.
  const TempDir dir;
  const std::string good = dir.write("keys.yaml", kSecrets);
  const std::string base = with_secrets_file(kIke, good);
  size_t errors = 0;
  for (size_t start = 0; start < base.size();) {
    const size_t end = base.find('\n', start) + 1;
    try {
      parse(base.substr(0, start) + base.substr(end), "t.yaml");
    } catch (const ConfigError& e) {
      ++errors;
      expect_no_secrets(e.what());
    }
    start = end;
  }
  EXPECT_GT(errors, 10u);
  for (size_t cut = 0; cut < kSecrets.size(); ++cut) {
    const std::string secrets = dir.write("cut.yaml", kSecrets.substr(0, cut));
    try {
      parse(with_secrets_file(kIke, secrets), "t.yaml");
    } catch (const ConfigError& e) {
      expect_no_secrets(e.what());
      // The file's own errors, or a psk_ref the shortened file lacks.
      EXPECT_THAT(e.what(), ::testing::AnyOf(::testing::StartsWith(secrets + ":"),
                                             HasSubstr("psk_ref: no such pre-shared key in")))
          << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tunnel_if_id

TEST(IkeIfId, StableValues) {
  // FNV-1a 32 (its published test vector for "a" is 0xe40c292c).
  EXPECT_EQ(tunnel_if_id("a"), 0xe40c292cu);
  EXPECT_EQ(tunnel_if_id(""), 0x811c9dc5u);
  EXPECT_EQ(tunnel_if_id("aws-tunnel1"), 0xd53c0e16u);
  EXPECT_EQ(tunnel_if_id("aws-tunnel2"), 0xd43c0c83u);
  EXPECT_EQ(tunnel_if_id("gcm"), 0x5f1135d6u);
}

TEST(IkeIfId, NeverZeroOrAllOnes) {
  // Names whose FNV-1a hash is 0 and 0xffffffff (found by meet-in-the-middle).
  EXPECT_EQ(tunnel_if_id("taribqvl"), 1u);
  EXPECT_EQ(tunnel_if_id("t5fayv1"), 0xfffffffeu);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t id = tunnel_if_id("tunnel-" + std::to_string(i));
    ASSERT_NE(id, 0u);
    ASSERT_NE(id, 0xffffffffu);
  }
}

std::string two_tunnels(std::string_view a, std::string_view b) {
  return R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24]
tunnels:
  - name: )" +
         std::string(a) +
         R"(
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.2.0.0/16]
  - name: )" +
         std::string(b) +
         R"(
    local: 192.0.2.1
    remote: 192.0.2.3
    local_cidrs: [10.1.0.0/16]
    remote_cidrs: [10.3.0.0/16]
)";
}

TEST(IkeIfId, CollisionsAreRefused) {
  ASSERT_EQ(tunnel_if_id("tunnel-229599"), tunnel_if_id("tunnel-432382"));
  const std::string y = two_tunnels("tunnel-229599", "tunnel-432382");
  expect_error(y, "name: tunnel-432382", "tunnels[1].name",
               "interface ID 0x8a1e0842 is that of tunnel \"tunnel-229599\" (line " +
                   std::to_string(line_of(y, "name: tunnel-229599")) +
                   "); rename one of the two: \"tunnel-432382\"");
  // 0 is mapped to 1, which is also a hash: the same collision rule covers it.
  ASSERT_EQ(tunnel_if_id("t7s7bkiw"), 1u);
  const std::string ones = two_tunnels("t7s7bkiw", "taribqvl");
  expect_error(ones, "name: taribqvl", "tunnels[1].name",
               "interface ID 0x00000001 is that of tunnel \"t7s7bkiw\" (line " +
                   std::to_string(line_of(ones, "name: t7s7bkiw")) +
                   "); rename one of the two: \"taribqvl\"");
}

// ---------------------------------------------------------------------------------------------
// parse_tunnel(): one IKE tunnel against a running config

TEST(IkeObjects, TunnelAgainstTheRunningConfig) {
  const TempDir dir;
  const Config ctx = parse(with_secrets_file(kIke, dir.write("keys.yaml", kSecrets)), "t.yaml");
  const Tunnel t = parse_tunnel(ctx,
                                R"({"name": "aws-3", "local": "192.0.2.1", "remote": "198.51.100.7",
                                    "local_cidrs": ["10.1.0.0/16"], "remote_cidrs": ["10.9.0.0/16"],
                                    "nat_t": true, "ike": {"psk_ref": "psk-1"}})",
                                "op.tunnel");
  ASSERT_TRUE(t.ike.has_value());
  EXPECT_EQ(t.ike->psk_ref, "psk-1");
  EXPECT_TRUE(t.ike->force_encap);
  const std::string e = error_of_call([&] {
    parse_tunnel(ctx,
                 R"({"name": "aws-3", "local": "192.0.2.1", "remote": "198.51.100.7",
                     "local_cidrs": ["10.1.0.0/16"], "remote_cidrs": ["10.9.0.0/16"],
                     "ike": {"psk_ref": "psk-9"}})",
                 "op.tunnel");
  });
  EXPECT_EQ(e, "op.tunnel:3: ike.psk_ref: no such pre-shared key in " + ctx.ike.secrets_file +
                   ": \"psk-9\"");
}

TEST(IkeObjects, TunnelIfIdAgainstTheRunningConfig) {
  const Config ctx = parse(two_tunnels("tunnel-229599", "other"), "t.yaml");
  EXPECT_EQ(error_of_call([&] {
              parse_tunnel(ctx,
                           R"({"name": "tunnel-432382", "local": "192.0.2.1", "remote": "192.0.2.9",
                               "local_cidrs": ["10.1.0.0/16"], "remote_cidrs": ["10.9.0.0/16"]})",
                           "op.tunnel");
            }),
            "op.tunnel:1: name: interface ID 0x8a1e0842 is that of tunnel \"tunnel-229599\"; "
            "rename one of the two: \"tunnel-432382\"");
  // The same name again (an update of that tunnel) is no collision.
  EXPECT_NO_THROW(parse_tunnel(ctx,
                               R"({"name": "tunnel-229599", "local": "192.0.2.1",
                                   "remote": "192.0.2.9", "local_cidrs": ["10.1.0.0/16"],
                                   "remote_cidrs": ["10.9.0.0/16"]})",
                               "op.tunnel"));
}

// ---------------------------------------------------------------------------------------------
// The AWS VPN example

fs::path examples_dir() {
  const char* d = std::getenv("ESPGW_CONFIG_EXAMPLES");
  return d ? d : "config/examples";
}

TEST(IkeExamples, AwsVpn) {
  const TempDir dir;
  const Config c = test_files::load_example(examples_dir() / "aws-vpn.yaml", dir);
  ASSERT_EQ(c.tunnels.size(), 2u);
  const auto cidr = [](const char* s) { return std::vector{*IpPrefix::parse(s)}; };
  for (const Tunnel& t : c.tunnels) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(t.ike.has_value());
    EXPECT_FALSE(t.static_sa.has_value());
    EXPECT_EQ(t.local_cidrs, cidr("10.20.0.0/16"));
    EXPECT_EQ(t.remote_cidrs, cidr("10.10.0.0/16"));
    EXPECT_TRUE(t.nat_t);
    EXPECT_EQ(t.mss, 1379);
    const IkeConfig& k = *t.ike;
    EXPECT_EQ(k.version, 2);
    EXPECT_EQ(k.local_id, "203.0.113.10");  // the EIP, not the NIC's address
    EXPECT_EQ(k.ike_lifetime_s, 28800u);
    EXPECT_EQ(k.child_lifetime_s, 3600u);
    EXPECT_EQ(k.rekey_margin_s, 540u);
    EXPECT_EQ(k.rekey_fuzz_percent, 100u);
    EXPECT_EQ(k.dpd_delay_s, 10u);
    EXPECT_EQ(k.dpd_timeout_s, 10u);  // IKEv2: an unanswered check, charon's retransmissions
    EXPECT_EQ(k.dpd_action, DpdAction::kRestart);
    EXPECT_EQ(k.start_action, StartAction::kStart);
    EXPECT_TRUE(k.force_encap);
    EXPECT_THAT(k.esp_proposals, ::testing::Contains("aes128gcm16-modp2048"));
    EXPECT_THAT(k.ike_proposals, ::testing::Contains("aes128-sha1-modp2048"));
    ASSERT_TRUE(c.secrets.contains(k.psk_ref));
  }
  EXPECT_NE(c.tunnels[0].remote, c.tunnels[1].remote);  // two AWS endpoints
  EXPECT_NE(tunnel_if_id(c.tunnels[0].name), tunnel_if_id(c.tunnels[1].name));
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].tunnels, (std::vector<std::string>{"aws-tunnel1", "aws-tunnel2"}));
  EXPECT_TRUE(c.peers[0].failback);
  EXPECT_EQ(c.ike.vici_socket, "/run/espgw/charon.vici");
  EXPECT_EQ(c.secrets.size(), 2u);
  for (const auto& [name, secret] : c.secrets)
    EXPECT_THAT(secret, HasSubstr("not.a.real.key")) << name;
}

TEST(IkeExamples, AwsVpnAsInstalledWithTheWrongModeIsRefused) {
  // As git checks it out (0644 under the usual umask), the secrets example is refused.
  const TempDir dir;
  const std::string secrets = dir.write(
      "aws-vpn.secrets.yaml", test_files::read_text(examples_dir() / "aws-vpn.secrets.yaml"),
      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
          fs::perms::others_read);
  std::string text = test_files::read_text(examples_dir() / "aws-vpn.yaml");
  text = with(text, "/etc/espgw/aws-vpn.secrets.yaml", secrets);
  EXPECT_THAT(error_of_call([&] { load_file(dir.write("aws-vpn.yaml", text)); }),
              HasSubstr("ike.secrets_file: mode 0644 lets group or others at the pre-shared keys; "
                        "fix with chmod 600"));
}

}  // namespace
}  // namespace espgw::config
