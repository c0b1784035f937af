// espgw-ike without charon: the VICI connection a tunnel becomes, what a reload sends (against a
// recording stand-in for charon), the event lines and the status JSON.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/version.h"
#include "config/config.h"
#include "ike-bridge/espgw_ike/connection_sync.h"
#include "ike-bridge/espgw_ike/event_log.h"
#include "ike-bridge/espgw_ike/ike_status.h"
#include "ike-bridge/espgw_ike/tunnel_conn.h"

namespace espgw::ike {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kPsk = "FAKE_psk_tunnel1.not.a.real.key";

// The first tunnel of config/examples/aws-vpn.yaml, plus an IKEv1 tunnel with byte and packet
// lifetimes, trap and other ESP options.
const std::string kConfig = R"(interfaces:
  - name: wan
    device: net_null0
    addresses: [172.31.1.10/24, 172.31.1.11/24]
routes:
  - prefix: 0.0.0.0/0
    via: 172.31.1.1
    interface: wan
tunnels:
  - name: aws-tunnel1
    local: 172.31.1.10
    remote: 198.51.100.10
    local_cidrs: [10.20.0.0/16]
    remote_cidrs: [10.10.0.0/16]
    nat_t: true
    mss: 1379
    ike:
      version: 2
      local_id: 203.0.113.10
      psk_ref: aws-tunnel1
      ike_proposals:
        - aes128-sha256-modp2048
        - aes256-sha256-modp2048
        - aes128-sha1-modp2048
        - aes128gcm16-prfsha256-modp2048
      esp_proposals:
        - aes128gcm16-modp2048
        - aes128-sha256-modp2048
        - aes256-sha256-modp2048
        - aes128-sha1-modp2048
      ike_lifetime_s: 28800
      child_lifetime_s: 3600
      rekey_margin_s: 540
      rekey_fuzz_percent: 100
      dpd_delay_s: 10
      dpd_timeout_s: 30
      dpd_action: restart
      start_action: start
  - name: lab-v1
    local: 172.31.1.11
    remote: 198.51.100.20
    local_cidrs: [10.30.0.0/16, 10.31.0.0/16]
    remote_cidrs: [10.40.0.0/16]
    replay_window: 1024
    df: clear
    dscp: 10
    ecn: compatibility
    ike:
      version: 1
      remote_id: peer.example.net
      psk_ref: lab
      ike_proposals: [aes256-sha256-modp2048]
      esp_proposals: [aes256-sha256-modp2048]
      ike_lifetime_s: 3600
      child_lifetime_s: 1200
      rekey_margin_s: 300
      rekey_fuzz_percent: 50
      life_bytes: 1000000000
      life_packets: 20000000
      dpd_delay_s: 0
      dpd_action: clear
      start_action: trap
)";

config::Config parse(const std::string& yaml = kConfig) {
  return config::parse(yaml, "test.yaml");
}

const std::map<std::string, std::string> kSecrets = {{"aws-tunnel1", std::string(kPsk)},
                                                     {"lab", "lab-secret-123"}};

TunnelConn conn_of(const config::Config& c, const std::string& name) {
  return tunnel_conn(*c.find_tunnel(name), kSecrets);
}

// The generated connection, as docs/espgw-ike.md shows it.
TEST(TunnelConn, AwsTunnelBecomesThisConnection) {
  const TunnelConn t = conn_of(parse(), "aws-tunnel1");
  EXPECT_EQ(vici::to_text(t.conn), R"(aws-tunnel1 {
  version = 2
  local_addrs = [172.31.1.10]
  remote_addrs = [198.51.100.10]
  proposals = [aes128-sha256-modp2048, aes256-sha256-modp2048, aes128-sha1-modp2048, aes128gcm16-prfsha256-modp2048]
  rekey_time = 28260s
  reauth_time = 0s
  over_time = 540s
  rand_time = 540s
  dpd_delay = 10s
  mobike = no
  encap = yes
  keyingtries = 0
  local {
    auth = psk
    id = 203.0.113.10
  }
  remote {
    auth = psk
    id = 198.51.100.10
  }
  children {
    aws-tunnel1 {
      mode = tunnel
      local_ts = [10.20.0.0/16]
      remote_ts = [10.10.0.0/16]
      esp_proposals = [aes128gcm16-modp2048, aes128-sha256-modp2048, aes256-sha256-modp2048, aes128-sha1-modp2048]
      rekey_time = 3060s
      life_time = 3600s
      rand_time = 540s
      dpd_action = restart
      start_action = none
      if_id_in = 0xd53c0e16
      if_id_out = 0xd53c0e16
      replay_window = 128
      copy_df = yes
      copy_ecn = yes
      copy_dscp = out
    }
  }
}
)");
  // config::tunnel_if_id("aws-tunnel1"), FNV-1a of the name.
  EXPECT_EQ(if_id_text(config::tunnel_if_id("aws-tunnel1")), "0xd53c0e16");
  EXPECT_EQ(vici::to_text(t.shared_key, kSecretKeys), R"(id = espgw-ike:aws-tunnel1
type = IKE
data = (not shown)
owners = [203.0.113.10, 198.51.100.10]
)");
  EXPECT_EQ(t.shared_key.value_or("data"), kPsk);
  EXPECT_EQ(t.start_action, config::StartAction::kStart);
  EXPECT_TRUE(t.warnings.empty());
}

TEST(TunnelConn, IkeV1LifetimesByteLimitsAndEspOptions) {
  const TunnelConn t = conn_of(parse(), "lab-v1");
  const vici::Section& c = *t.conn.find_section("lab-v1");
  EXPECT_EQ(c.value_or("version"), "1");
  // IKEv1 reauthenticates instead of rekeying; main mode proposes reauth_time + over_time.
  EXPECT_EQ(c.value_or("reauth_time"), "3300s");
  EXPECT_EQ(c.value_or("rekey_time"), "0s");
  EXPECT_EQ(c.value_or("over_time"), "300s");
  EXPECT_EQ(c.value_or("rand_time"), "150s");
  EXPECT_EQ(c.value_or("dpd_delay"), "0s");
  EXPECT_EQ(c.value_or("dpd_timeout"), "30s");  // IKEv1 only
  EXPECT_EQ(c.value_or("mobike"), "no");
  EXPECT_EQ(c.value_or("encap"), "no");
  EXPECT_EQ(c.find_section("local")->value_or("id"), "172.31.1.11");  // default: the address
  EXPECT_EQ(c.find_section("remote")->value_or("id"), "peer.example.net");
  const vici::Section& child = *c.find_section("children")->find_section("lab-v1");
  EXPECT_EQ(*child.find_list("local_ts"), (vici::List{"10.30.0.0/16", "10.31.0.0/16"}));
  EXPECT_EQ(child.value_or("rekey_time"), "900s");
  EXPECT_EQ(child.value_or("life_time"), "1200s");
  EXPECT_EQ(child.value_or("life_bytes"), "1000000000");
  EXPECT_EQ(child.value_or("rekey_bytes"), "900000000");
  EXPECT_EQ(child.value_or("rand_bytes"), "0");
  EXPECT_EQ(child.value_or("life_packets"), "20000000");
  EXPECT_EQ(child.value_or("rekey_packets"), "18000000");
  EXPECT_EQ(child.value_or("rand_packets"), "0");
  EXPECT_EQ(child.value_or("dpd_action"), "clear");
  EXPECT_EQ(child.value_or("start_action"), "trap");  // charon installs the trap policies
  EXPECT_EQ(child.value_or("replay_window"), "1024");
  EXPECT_EQ(child.value_or("copy_df"), "no");
  EXPECT_EQ(child.value_or("copy_ecn"), "no");
  EXPECT_EQ(child.value_or("copy_dscp"), "no");
  EXPECT_EQ(t.shared_key.value_or("data"), "lab-secret-123");
  EXPECT_EQ(*t.shared_key.find_list("owners"), (vici::List{"172.31.1.11", "peer.example.net"}));
}

TEST(TunnelConn, TheSameConfigGivesTheSameBytes) {
  config::Config c = parse();
  EXPECT_THROW(tunnel_conns(c), config::ConfigError);  // no keys: parse() read no secrets file
  c.secrets = kSecrets;
  const auto b = tunnel_conns(c);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(vici::encode(conn_of(parse(), "aws-tunnel1").conn), vici::encode(b[0].conn));
  EXPECT_EQ(b[0].name, "aws-tunnel1");
  EXPECT_EQ(b[1].name, "lab-v1");
}

TEST(TunnelConn, AMissingKeyIsAConfigErrorWithoutTheKey) {
  const config::Config c = parse();
  try {
    tunnel_conn(*c.find_tunnel("lab-v1"), {{"aws-tunnel1", std::string(kPsk)}});
    FAIL();
  } catch (const config::ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "tunnel \"lab-v1\": no pre-shared key named \"lab\" in the secrets file");
  }
}

// charon copies at most 15 characters of a number (vici_config.c: char buf[16]).
TEST(TunnelConn, NumbersFitCharonsFifteenCharacters) {
  EXPECT_EQ(vici_count(999999999999999).text, "999999999999999");
  EXPECT_EQ(vici_count(1000000000000000).text, "0x38d7ea4c68000");
  EXPECT_EQ(vici_count((1ull << 52) - 1).text, "0xfffffffffffff");
  EXPECT_FALSE(vici_count((1ull << 52) - 1).clamped);
  EXPECT_EQ(vici_count(1ull << 52).text, "0xfffffffffffff");
  EXPECT_TRUE(vici_count(1ull << 52).clamped);
  EXPECT_EQ(vici_bytes(UINT64_MAX).text, "17179869184G");
  EXPECT_EQ(vici_bytes(1ull << 62).text, "4294967296G");
  EXPECT_EQ(vici_bytes((1ull << 62) + 1).text, "4294967297G");  // rounded up
  EXPECT_FALSE(vici_bytes(UINT64_MAX).clamped);
  for (const auto& v : {vici_count(UINT64_MAX), vici_bytes(UINT64_MAX), vici_bytes(1ull << 60)})
    EXPECT_LE(v.text.size(), 15u) << v.text;
}

TEST(TunnelConn, HugePacketLimitsAreClampedWithAWarning) {
  std::string yaml = kConfig;
  yaml.replace(yaml.find("life_packets: 20000000"), 22, "life_packets: 18446744073709551615");
  const TunnelConn t = conn_of(parse(yaml), "lab-v1");
  const vici::Section& child =
      *t.conn.find_section("lab-v1")->find_section("children")->find_section("lab-v1");
  EXPECT_EQ(child.value_or("life_packets"), "0xfffffffffffff");
  EXPECT_EQ(child.value_or("rekey_packets"), "0xfffffffffffff");
  EXPECT_THAT(t.warnings, ElementsAre("life_packets is more than charon can take; using its "
                                      "largest, 0xfffffffffffff"));
}

TEST(TunnelConn, SharedKeyIds) {
  EXPECT_EQ(shared_key_id("aws-tunnel1"), "espgw-ike:aws-tunnel1");
  EXPECT_EQ(tunnel_of_shared_key_id("espgw-ike:aws-tunnel1"), "aws-tunnel1");
  EXPECT_EQ(tunnel_of_shared_key_id("espgw-ike:"), "");
  EXPECT_EQ(tunnel_of_shared_key_id("swanctl-key"), "");
}

// ---- ConnectionSync against a recording charon ----------------------------------------------

class RecordingCharon final : public vici::Requester {
 public:
  std::vector<std::string> calls;                           // "cmd arg-summary"
  std::map<std::string, std::vector<std::string>> ike_sas;  // conn -> unique ids
  std::vector<std::string> shared_ids;
  std::vector<std::string> conns;  // get-conns
  std::set<std::string> refuse;    // commands answered with success = no

  vici::Message request(std::string_view cmd, const vici::Message& args) override {
    const std::string c(cmd);
    std::string summary = c;
    if (c == "load-conn") summary += " " + args.entries().at(0).name;
    if (c == "load-shared" || c == "unload-shared") summary += " " + args.value_or("id");
    if (c == "unload-conn") summary += " " + args.value_or("name");
    if (c == "initiate") summary += " " + args.value_or("ike") + "/" + args.value_or("child");
    if (c == "terminate") summary += " #" + args.value_or("ike-id");
    calls.push_back(summary);
    if (c == "get-shared") return vici::Message().add("keys", shared_ids);
    if (c == "get-conns") return vici::Message().add("conns", conns);
    vici::Message r;
    if (refuse.count(c)) {
      r.add("success", "no");
      r.add("errmsg", "refused by the test");
    } else {
      r.add("success", "yes");
    }
    return r;
  }
  vici::Message request_streamed(std::string_view cmd, const vici::Message& args,
                                 std::string_view event,
                                 const std::function<void(const vici::Message&)>& on) override {
    EXPECT_EQ(cmd, "list-sas");
    EXPECT_EQ(event, "list-sa");
    const std::string conn = args.value_or("ike");
    calls.push_back("list-sas " + conn);
    for (const auto& id : ike_sas[conn]) {
      vici::Message m;
      m.add_section(conn).add("uniqueid", id).add("state", "ESTABLISHED");
      on(m);
    }
    return {};
  }
  std::vector<std::string> take() { return std::exchange(calls, {}); }
};

class SyncTest : public ::testing::Test {
 protected:
  config::Config config_ = parse();
  RecordingCharon charon_;
  MemoryLog log_;
  ConnectionSync sync_{charon_, log_, std::chrono::milliseconds(2000)};

  std::vector<TunnelConn> wanted(const config::Config& c) {
    std::vector<TunnelConn> out;
    for (const auto& t : c.tunnels)
      out.push_back(tunnel_conn(t, kSecrets));
    return out;
  }
  std::vector<TunnelConn> wanted() { return wanted(config_); }
};

TEST_F(SyncTest, FreshLoadInitiatesStartTunnelsOnly) {
  const SyncResult r = sync_.apply(wanted(), true);
  EXPECT_THAT(charon_.take(),
              ElementsAre("get-shared", "load-shared espgw-ike:aws-tunnel1", "list-sas aws-tunnel1",
                          "load-conn aws-tunnel1", "initiate aws-tunnel1/aws-tunnel1",
                          "load-shared espgw-ike:lab-v1", "list-sas lab-v1",
                          "load-conn lab-v1"));  // trap: charon's to do
  EXPECT_THAT(r.added, ElementsAre("aws-tunnel1", "lab-v1"));
  EXPECT_THAT(r.initiated, ElementsAre("aws-tunnel1"));
  EXPECT_TRUE(sync_.is_loaded("lab-v1"));
}

TEST_F(SyncTest, AnUnchangedConfigSendsNothing) {
  sync_.apply(wanted(), true);
  charon_.take();
  const SyncResult r = sync_.apply(wanted(parse()), false);
  EXPECT_THAT(charon_.take(), ElementsAre());
  EXPECT_THAT(r.unchanged, ElementsAre("aws-tunnel1", "lab-v1"));
}

TEST_F(SyncTest, AChangedTunnelIsReloadedTerminatedAndInitiatedAlone) {
  sync_.apply(wanted(), true);
  charon_.take();
  charon_.ike_sas["aws-tunnel1"] = {"7", "9"};
  std::string yaml = kConfig;
  yaml.replace(yaml.find("- aes128-sha1-modp2048\n        - aes128gcm16"), 22,
               "- aes256-sha1-modp2048");
  const SyncResult r = sync_.apply(wanted(parse(yaml)), false);
  EXPECT_THAT(charon_.take(),
              ElementsAre("list-sas aws-tunnel1", "load-conn aws-tunnel1", "terminate #7",
                          "terminate #9", "initiate aws-tunnel1/aws-tunnel1"));
  EXPECT_THAT(r.changed, ElementsAre("aws-tunnel1"));
  EXPECT_THAT(r.unchanged, ElementsAre("lab-v1"));
}

TEST_F(SyncTest, ANewKeyAloneIsLoadedWithoutTouchingTheConnection) {
  sync_.apply(wanted(), true);
  charon_.take();
  std::map<std::string, std::string> secrets = kSecrets;
  secrets["lab"] = "a-new-secret";
  std::vector<TunnelConn> w;
  for (const auto& t : config_.tunnels)
    w.push_back(tunnel_conn(t, secrets));
  const SyncResult r = sync_.apply(w, false);
  EXPECT_THAT(charon_.take(), ElementsAre("load-shared espgw-ike:lab-v1"));
  EXPECT_THAT(r.key_only, ElementsAre("lab-v1"));
}

TEST_F(SyncTest, ARemovedTunnelIsTerminatedAndUnloadedWithItsKey) {
  sync_.apply(wanted(), true);
  charon_.take();
  charon_.ike_sas["lab-v1"] = {"4"};
  std::vector<TunnelConn> w = wanted();
  w.pop_back();
  const SyncResult r = sync_.apply(w, false);
  EXPECT_THAT(charon_.take(), ElementsAre("list-sas lab-v1", "terminate #4", "unload-conn lab-v1",
                                          "unload-shared espgw-ike:lab-v1"));
  EXPECT_THAT(r.removed, ElementsAre("lab-v1"));
  EXPECT_FALSE(sync_.is_loaded("lab-v1"));
}

TEST_F(SyncTest, ARefusedLoadKeepsTheOldStateAndIsTriedAgain) {
  charon_.refuse = {"load-conn"};
  SyncResult r = sync_.apply(wanted(), true);
  EXPECT_THAT(r.failed, ElementsAre("aws-tunnel1", "lab-v1"));
  EXPECT_THAT(r.initiated, ElementsAre());
  EXPECT_FALSE(sync_.is_loaded("aws-tunnel1"));
  EXPECT_THAT(log_.lines,
              testing::Contains("error: tunnel aws-tunnel1: charon refused load-conn: refused by "
                                "the test"));
  charon_.refuse.clear();
  charon_.take();
  r = sync_.apply(wanted(), false);
  EXPECT_THAT(r.added, ElementsAre("aws-tunnel1", "lab-v1"));
}

TEST_F(SyncTest, AFreshStartRemovesWhatAnEarlierRunLoadedAndKeepsRunningSas) {
  charon_.shared_ids = {"espgw-ike:gone", "espgw-ike:aws-tunnel1", "someone-elses-key"};
  charon_.ike_sas["aws-tunnel1"] = {"3"};
  const SyncResult r = sync_.apply(wanted(), true);
  const auto calls = charon_.take();
  EXPECT_THAT(std::vector<std::string>(calls.begin(), calls.begin() + 5),
              ElementsAre("get-shared", "get-conns", "list-sas gone", "unload-conn gone",
                          "unload-shared espgw-ike:gone"));
  EXPECT_THAT(calls, Not(testing::Contains("initiate aws-tunnel1/aws-tunnel1")));
  EXPECT_THAT(calls, Not(testing::Contains(HasSubstr("someone-elses-key"))));
  EXPECT_THAT(r.removed, ElementsAre("gone"));
  EXPECT_THAT(r.added, ElementsAre("aws-tunnel1", "lab-v1"));
  EXPECT_THAT(log_.lines, testing::Contains("info: tunnel aws-tunnel1: loaded (charon has IKE_SA "
                                            "#3 for it already: kept)"));
}

TEST_F(SyncTest, NoKeyInTheLog) {
  charon_.refuse = {"load-shared"};
  sync_.apply(wanted(), true);
  for (const auto& line : log_.lines)
    EXPECT_THAT(line, Not(HasSubstr(std::string(kPsk)))) << line;
}

// ---- events and status ----------------------------------------------------------------------

vici::Section ike_section(const std::string& id) {
  vici::Section s;
  s.add("uniqueid", id).add("version", "2").add("state", "ESTABLISHED");
  s.add("local-host", "192.0.2.1").add("local-port", "4500").add("local-id", "192.0.2.1");
  s.add("remote-host", "192.0.2.2").add("remote-port", "4500").add("remote-id", "192.0.2.2");
  s.add("initiator", "yes");
  s.add("initiator-spi", "0123456789abcdef").add("responder-spi", "fedcba9876543210");
  s.add("encr-alg", "AES_CBC").add("encr-keysize", "128").add("integ-alg", "HMAC_SHA2_256_128");
  s.add("prf-alg", "PRF_HMAC_SHA2_256").add("dh-group", "MODP_2048");
  s.add("established", "42").add("rekey-time", "28000");
  return s;
}

vici::Section child_section(const std::string& id, const std::string& in, const std::string& out) {
  vici::Section c;
  c.add("name", "t2").add("uniqueid", id).add("reqid", "1").add("state", "INSTALLED");
  c.add("mode", "TUNNEL").add("protocol", "ESP").add("encap", "yes");
  c.add("spi-in", in).add("spi-out", out);
  c.add("encr-alg", "AES_GCM_16").add("encr-keysize", "128");
  c.add("bytes-in", "252").add("packets-in", "3").add("bytes-out", "168").add("packets-out", "2");
  c.add("rekey-time", "3000").add("life-time", "3500").add("install-time", "10");
  c.add("local-ts", vici::List{"10.1.0.0/24"}).add("remote-ts", vici::List{"10.2.0.0/24"});
  return c;
}

TEST(EventLog, OneLinePerEventWithIdsAndSpis) {
  vici::Message up;
  up.add("up", "yes");
  up.add("t2", ike_section("1"));
  EXPECT_EQ(*describe_event("ike-updown", up),
            "ike-updown: tunnel t2 IKE_SA #1 up, ESTABLISHED, IKEv2 192.0.2.1[4500] <-> "
            "192.0.2.2[4500], SPIs 0123456789abcdef_i fedcba9876543210_r, "
            "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");

  vici::Message child;
  vici::Section s = ike_section("1");
  s.add_section("child-sas").add("t2-5", child_section("5", "c1a2b3c4", "0badf00d"));
  child.add("t2", s);
  EXPECT_EQ(*describe_event("child-updown", child),
            "child-updown: tunnel t2 IKE_SA #1 CHILD_SA t2 #5 down, INSTALLED, ESP in UDP, SPIs "
            "in 0xc1a2b3c4 out 0x0badf00d, AES_GCM_16-128, 10.1.0.0/24 === 10.2.0.0/24");

  vici::Message rekey;
  vici::Section r = ike_section("1");
  vici::Section& pair = r.add_section("child-sas").add_section("t2");
  pair.add("old", child_section("5", "c1a2b3c4", "0badf00d"));
  pair.add("new", child_section("6", "11111111", "22222222"));
  rekey.add("t2", r);
  EXPECT_EQ(*describe_event("child-rekey", rekey),
            "child-rekey: tunnel t2 IKE_SA #1 CHILD_SA t2 #5 -> #6, SPIs in 0xc1a2b3c4 out "
            "0x0badf00d -> in 0x11111111 out 0x22222222, INSTALLED, ESP in UDP, AES_GCM_16-128, "
            "10.1.0.0/24 === 10.2.0.0/24");

  vici::Message ike_rekey;
  vici::Section& both = ike_rekey.add_section("t2");
  both.add("old", ike_section("1"));
  vici::Section n = ike_section("3");
  both.add("new", n);
  EXPECT_THAT(*describe_event("ike-rekey", ike_rekey),
              HasSubstr("ike-rekey: tunnel t2 IKE_SA #1 -> #3, SPIs "));
}

TEST(EventLog, CharonLogLinesByLevelAndNoControlCharacters) {
  vici::Message m;
  m.add("group", "IKE").add("level", "1").add("ikesa-name", "t2").add("ikesa-uniqueid", "4");
  m.add("msg", "line one\nforged line");
  EXPECT_EQ(*describe_event("log", m, 1), "log: [IKE] t2 #4: line one?forged line");
  EXPECT_FALSE(describe_event("log", m, 0).has_value());
  EXPECT_EQ(*describe_event("ike-updown", vici::Message()), "ike-updown: (no IKE_SA in the event)");
}

TEST(IkeStatus, TunnelsWithTheirSasAndOthersApart) {
  const config::Config c = parse();
  CharonView view;
  view.connected = true;
  view.socket = "/run/espgw/charon.vici";
  view.version = "5.9.8";
  vici::Message conn;
  conn.add_section("aws-tunnel1");
  view.conns.push_back(conn);
  vici::Message sa;
  vici::Section s = ike_section("1");
  s.add_section("child-sas").add("aws-tunnel1-5", child_section("5", "c1a2b3c4", "0badf00d"));
  sa.add("aws-tunnel1", s);
  view.ike_sas.push_back(sa);
  vici::Message other;
  other.add("manual", ike_section("9"));
  view.ike_sas.push_back(other);

  const nlohmann::json j = status_json(c, view);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["espgw_ike"]["version"], std::string(kVersion));
  EXPECT_EQ(j["espgw_ike"]["commit"], std::string(kCommit));
  EXPECT_EQ(j["charon"]["version"], "5.9.8");
  ASSERT_EQ(j["tunnels"].size(), 2u);
  const auto& t = j["tunnels"][0];
  EXPECT_EQ(t["name"], "aws-tunnel1");
  EXPECT_EQ(t["state"], "ESTABLISHED");
  EXPECT_EQ(t["loaded"], true);
  EXPECT_EQ(t["local_id"], "203.0.113.10");
  EXPECT_EQ(t["if_id"], if_id_text(config::tunnel_if_id("aws-tunnel1")));
  const auto& ike = t["ike_sas"][0];
  EXPECT_EQ(ike["uniqueid"], 1);
  EXPECT_EQ(ike["spi_i"], "0x0123456789abcdef");
  EXPECT_EQ(ike["encryption"], "AES_CBC-128");
  EXPECT_EQ(ike["established_s"], 42);
  EXPECT_EQ(ike["local"]["port"], 4500);
  const auto& child = ike["child_sas"][0];
  EXPECT_EQ(child["spi_in"], "0xc1a2b3c4");
  EXPECT_EQ(child["spi_out"], "0x0badf00d");
  EXPECT_EQ(child["encap"], true);
  EXPECT_EQ(child["bytes_in"], 252);
  EXPECT_EQ(child["expires_in_s"], 3500);
  EXPECT_EQ(child["local_ts"], nlohmann::json({"10.1.0.0/24"}));
  EXPECT_EQ(j["tunnels"][1]["state"], "down");
  EXPECT_EQ(j["tunnels"][1]["loaded"], false);
  ASSERT_EQ(j["other_ike_sas"].size(), 1u);
  EXPECT_EQ(j["other_ike_sas"][0]["conn"], "manual");

  const nlohmann::json off = status_json(c, CharonView{});
  EXPECT_EQ(off["charon"]["connected"], false);
  EXPECT_EQ(off["tunnels"][0]["state"], "unknown");
}

// ---- lanes (docs/lanes.md) ----------------------------------------------------------------

// aws-tunnel1 as a tunnel of `lanes` lanes towards an espgw peer.
config::Config lanes_config(unsigned lanes) {
  std::string y = kConfig;
  y.replace(y.find("    mss: 1379\n"), 14,
            "    mss: 1379\n    peer_kind: espgw\n    lanes: " + std::to_string(lanes) + "\n");
  return parse(y);
}

TEST(TunnelConnLanes, EachLaneItsConnectionIdentitiesAndIfId) {
  const TunnelConn t = conn_of(lanes_config(3), "aws-tunnel1");
  EXPECT_THAT(t.lanes, ElementsAre("aws-tunnel1", "aws-tunnel1#1", "aws-tunnel1#2"));
  ASSERT_EQ(t.conn.entries().size(), 3u);
  // Lane 0 is the one-lane connection but for MOBIKE, which no lane of several has.
  const TunnelConn one = conn_of(parse(), "aws-tunnel1");
  std::string lane0 = vici::to_text(one.conn);
  if (const size_t m = lane0.find("mobike = yes"); m != std::string::npos)
    lane0.replace(m, 12, "mobike = no");
  // ... and for close_action, which every lane of a tunnel this side starts has.
  const size_t sa = lane0.find("start_action = none\n");
  ASSERT_NE(sa, std::string::npos);
  const size_t indent = sa - lane0.rfind('\n', sa) - 1;
  lane0.insert(sa + 20, std::string(indent, ' ') + "close_action = restart\n");
  EXPECT_EQ(vici::to_text(t.conn).substr(0, lane0.size()), lane0);
  for (unsigned k = 1; k < 3; ++k) {
    const std::string name = "aws-tunnel1#" + std::to_string(k);
    const vici::Section* c = t.conn.find_section(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->find_section("local")->value_or("id"),
              "lane" + std::to_string(k) + ".203.0.113.10");
    EXPECT_EQ(c->find_section("remote")->value_or("id"),
              "lane" + std::to_string(k) + ".198.51.100.10");
    EXPECT_EQ(c->value_or("mobike"), "no");
    EXPECT_EQ(c->find_value("unique"), nullptr);  // charon's default, no: not never
    const vici::Section* child = c->find_section("children")->find_section(name);
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->value_or("if_id_in"), if_id_text(config::lane_if_id("aws-tunnel1", k)));
    EXPECT_EQ(child->value_or("if_id_out"), if_id_text(config::lane_if_id("aws-tunnel1", k)));
    EXPECT_EQ(child->value_or("start_action"), "none");     // espgw-ike initiates every lane
    EXPECT_EQ(child->value_or("close_action"), "restart");  // a lane the peer deletes: again
  }
  // One key, owned by every lane's pair of identities.
  EXPECT_EQ(t.shared_key.value_or("id"), "espgw-ike:aws-tunnel1");
  EXPECT_THAT(*t.shared_key.find_list("owners"),
              ElementsAre("203.0.113.10", "198.51.100.10", "lane1.203.0.113.10",
                          "lane1.198.51.100.10", "lane2.203.0.113.10", "lane2.198.51.100.10"));
}

TEST_F(SyncTest, LanesAreLoadedInitiatedAndRemovedTogether) {
  const config::Config c = lanes_config(3);
  SyncResult r = sync_.apply(wanted(c), true);
  EXPECT_THAT(
      charon_.take(),
      ElementsAre("get-shared", "load-shared espgw-ike:aws-tunnel1", "list-sas aws-tunnel1",
                  "list-sas aws-tunnel1#1", "list-sas aws-tunnel1#2", "load-conn aws-tunnel1",
                  "initiate aws-tunnel1/aws-tunnel1", "initiate aws-tunnel1#1/aws-tunnel1#1",
                  "initiate aws-tunnel1#2/aws-tunnel1#2", "load-shared espgw-ike:lab-v1",
                  "list-sas lab-v1", "load-conn lab-v1"));
  EXPECT_THAT(r.initiated, ElementsAre("aws-tunnel1"));
  // Fewer lanes: the dropped lane is terminated and unloaded; only it.
  charon_.ike_sas["aws-tunnel1#2"] = {"12"};
  r = sync_.apply(wanted(lanes_config(2)), false);
  EXPECT_THAT(
      charon_.take(),
      ElementsAre("load-shared espgw-ike:aws-tunnel1",  // its owners changed
                  "list-sas aws-tunnel1", "list-sas aws-tunnel1#1", "load-conn aws-tunnel1",
                  "list-sas aws-tunnel1#2", "terminate #12", "unload-conn aws-tunnel1#2",
                  "initiate aws-tunnel1/aws-tunnel1", "initiate aws-tunnel1#1/aws-tunnel1#1"));
  EXPECT_THAT(r.changed, ElementsAre("aws-tunnel1"));
  // Removed: every lane goes, then the one key.
  config::Config none = c;
  none.tunnels.erase(none.tunnels.begin());
  r = sync_.apply(wanted(none), false);
  EXPECT_THAT(charon_.take(), ElementsAre("list-sas aws-tunnel1", "unload-conn aws-tunnel1",
                                          "list-sas aws-tunnel1#1", "unload-conn aws-tunnel1#1",
                                          "unload-shared espgw-ike:aws-tunnel1"));
  EXPECT_THAT(r.removed, ElementsAre("aws-tunnel1"));
}

TEST_F(SyncTest, AFreshStartInitiatesOnlyTheLanesThatAreDown) {
  charon_.shared_ids = {"espgw-ike:aws-tunnel1", "espgw-ike:gone"};
  charon_.conns = {"aws-tunnel1", "aws-tunnel1#1", "aws-tunnel1#2", "aws-tunnel1#3",
                   "gone",        "gone#1",        "someone-else"};
  charon_.ike_sas["aws-tunnel1"] = {"3"};
  charon_.ike_sas["aws-tunnel1#2"] = {"5"};
  const SyncResult r = sync_.apply(wanted(lanes_config(3)), true);
  const auto calls = charon_.take();
  // The earlier run's tunnel "gone" with its lane; this tunnel's lane 3 that it has no more.
  EXPECT_THAT(calls, testing::IsSupersetOf({"unload-conn gone", "unload-conn gone#1",
                                            "unload-conn aws-tunnel1#3",
                                            "initiate aws-tunnel1#1/aws-tunnel1#1"}));
  EXPECT_THAT(calls, Not(testing::Contains("initiate aws-tunnel1/aws-tunnel1")));
  EXPECT_THAT(calls, Not(testing::Contains("initiate aws-tunnel1#2/aws-tunnel1#2")));
  EXPECT_THAT(calls, Not(testing::Contains(HasSubstr("someone-else"))));
  EXPECT_THAT(r.removed, ElementsAre("gone"));
}

TEST(IkeStatus, LanesAreGroupedUnderTheirTunnel) {
  const config::Config c = lanes_config(2);
  CharonView view;
  view.connected = true;
  vici::Message conn;
  conn.add_section("aws-tunnel1");
  conn.add_section("aws-tunnel1#1");
  view.conns.push_back(conn);
  vici::Message sa;
  sa.add("aws-tunnel1#1", ike_section("4"));
  view.ike_sas.push_back(sa);
  const nlohmann::json j = status_json(c, view);
  const auto& t = j["tunnels"][0];
  EXPECT_EQ(t["state"], "down");  // lane 0's
  ASSERT_EQ(t["lanes"].size(), 2u);
  EXPECT_EQ(t["lanes"][1]["name"], "aws-tunnel1#1");
  EXPECT_EQ(t["lanes"][1]["if_id"], if_id_text(config::lane_if_id("aws-tunnel1", 1)));
  EXPECT_EQ(t["lanes"][1]["state"], "ESTABLISHED");
  EXPECT_EQ(t["lanes"][1]["loaded"], true);
  EXPECT_EQ(t["lanes"][1]["ike_sas"][0]["uniqueid"], 4);
  EXPECT_EQ(t["lanes_established"], 1);
  EXPECT_TRUE(j["other_ike_sas"].empty());
  // One lane: no lanes list (the status of before).
  EXPECT_FALSE(status_json(parse(), view)["tunnels"][0].contains("lanes"));
}

}  // namespace
}  // namespace espgw::ike
