// The rules of the IKE part of the config: tunnels[].ike (keys, ids, lifetimes, DPD, actions),
// peers[], the top-level ike map and the secrets file (its mode, owner and content). Every rule
// answers with the documented message
//   FILE:LINE: key.path[index].sub: what is wrong "value"
// and no message ever carries a pre-shared key, wherever it was written.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "config/charon_retransmit.h"
#include "config/config.h"
#include "tests/unit/config_ike_test_base.h"

namespace espgw::config {
namespace {

using namespace test_ike;  // NOLINT(google-build-using-namespace): the suite's helpers

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
  expect_content_error(",\n", 1, "YAML syntax error: unexpected ',' outside [ ] or { }");
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

}  // namespace
}  // namespace espgw::config
