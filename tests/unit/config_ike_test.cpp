// The IKE part of the config: a full IKE config round-trips (the defaults, the secrets file read
// with it); the grammar of ESP and IKE proposals (what the dataplane and charon take, in
// strongSwan's spelling); tunnel_if_id() and its collisions; parse_tunnel() against a running
// config; the AWS VPN example. The rules of tunnels[].ike, peers[], the ike map and the secrets
// file are in config_ike_rules_test.cpp. No message ever carries a pre-shared key.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "tests/unit/config_ike_test_base.h"

namespace espgw::config {
namespace {

using namespace test_ike;  // NOLINT(google-build-using-namespace): the suite's helpers

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
