// The config importers (config/import/): AWS's two download formats, strongSwan's ipsec.conf with
// ipsec.secrets, the mesh generator and the XML reader under them. Every generated config must be
// accepted by config::parse with its secrets file in place; every refusal names FILE:LINE; no
// message ever carries a pre-shared key. The samples are tests/aws/samples/ (invented values).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/import/import.h"
#include "config/import/xml.h"

namespace espgw::import {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;

std::string samples() {
  const char* d = std::getenv("ESPGW_AWS_SAMPLES");
  return d ? d : "tests/aws/samples";
}

std::string read(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f) << path;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/espgw-import-test-XXXXXX";
    path_ = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text, mode_t mode = 0644) const {
    const std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << text;
    chmod(p.c_str(), mode);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Parses a result as espgw would: with its secrets in a mode 0600 file where ike.secrets_file says.
config::Config validate(const Result& r, const TempDir& dir) {
  std::string yaml = r.yaml;
  if (!r.secrets.empty()) {
    std::string s = "psk:\n";
    for (const auto& [k, v] : r.secrets)
      s += "  " + k + ": \"" + v + "\"\n";
    const std::string path = dir.file("check.secrets.yaml", s, 0600);
    yaml = std::regex_replace(yaml, std::regex("secrets_file: [^ \\n]*"), "secrets_file: " + path);
  }
  return config::parse(yaml, "generated.yaml");
}

Site aws_site() {
  Site s;
  s.wan_device = "0000:00:06.0";
  s.wan_address = InterfaceAddress::parse("172.31.1.10/24");
  s.local_cidrs = {*IpPrefix::parse("10.20.0.0/16")};
  s.remote_cidrs = {*IpPrefix::parse("10.10.0.0/16")};
  s.secrets_file = "/etc/espgw/aws.secrets.yaml";
  return s;
}

// ---- XML ------------------------------------------------------------------------------------

TEST(Xml, ElementsTextAttributesEntitiesCdataComments) {
  const XmlElement e = parse_xml(
      "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- c -->\n<a id='x&amp;y'>\n  <b>1 &lt; 2 "
      "&#x41;&#66;</b>"
      "<c/><d><![CDATA[<raw>]]></d>\n</a>\n<!-- trailing -->\n",
      "t.xml");
  EXPECT_EQ(e.name, "a");
  EXPECT_EQ(e.line, 3);
  ASSERT_NE(e.attribute("id"), nullptr);
  EXPECT_EQ(*e.attribute("id"), "x&y");
  ASSERT_EQ(e.children.size(), 3u);
  EXPECT_EQ(e.children[0].text, "1 < 2 AB");
  EXPECT_EQ(e.children[0].line, 4);
  EXPECT_EQ(e.children[2].text, "<raw>");
}

TEST(Xml, ErrorsNameTheLine) {
  auto error = [](const std::string& text) {
    try {
      parse_xml(text, "t.xml");
    } catch (const ImportError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("<a>\n<b>\n</c>\n</a>"), "t.xml:3: </c> closes <b> (line 2)");
  EXPECT_EQ(error("<a>\n<b>x</b>\n"),
            "t.xml:3: end of file inside <a> (line 1): the file is cut short");
  EXPECT_EQ(error("<a>&nbsp;</a>"), "t.xml:1: unknown entity &nbsp;");
  EXPECT_EQ(error("<a x=1></a>"), "t.xml:1: attribute x of <a>: value not in quotes");
  EXPECT_EQ(error("<a></a>\n<b/>"), "t.xml:2: content after the end of <a> (line 1)");
  EXPECT_EQ(error(""), "t.xml:1: no XML element in the file (expected <vpn_connection>)");
  EXPECT_THAT(error(std::string(200, '<')), HasSubstr("t.xml:1:"));
  std::string deep;
  for (int i = 0; i < 100; ++i)
    deep += "<x>";
  EXPECT_THAT(error(deep), HasSubstr("nested more than 64 deep"));
}

// ---- AWS ------------------------------------------------------------------------------------

TEST(ImportAws, GenericTextBecomesTwoTunnelsInOnePeer) {
  TempDir dir;
  const std::string src = samples() + "/aws-vpn-generic.txt";
  const Result r = import_aws(read(src), src, aws_site(), {});
  const config::Config c = validate(r, dir);
  ASSERT_EQ(c.tunnels.size(), 2u);
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(c.peers[0].name, "aws-vpn");
  EXPECT_EQ(c.peers[0].tunnels, (std::vector<std::string>{"aws-tunnel1", "aws-tunnel2"}));
  EXPECT_TRUE(c.peers[0].failback);
  const auto& t1 = c.tunnels[0];
  const auto& t2 = c.tunnels[1];
  // An AWS endpoint cannot do lanes (docs/lanes.md): one lane, not an espgw peer.
  for (const auto& t : c.tunnels) {
    EXPECT_EQ(t.lanes, 1);
    EXPECT_EQ(t.peer_kind, config::PeerKind::kOther);
  }
  EXPECT_EQ(t1.local.to_string(), "172.31.1.10");
  EXPECT_EQ(t1.remote.to_string(), "198.51.100.10");
  EXPECT_EQ(t2.remote.to_string(), "198.51.100.138");
  EXPECT_TRUE(t1.nat_t);  // the NIC's address is not the customer gateway's: a NAT
  EXPECT_EQ(t1.mss, 1379);
  EXPECT_EQ(t1.mtu, 1436);
  EXPECT_EQ(t1.df, esp::DfMode::kClear);
  EXPECT_EQ(t1.local_cidrs[0].to_string(), "10.20.0.0/16");
  EXPECT_EQ(t1.remote_cidrs[0].to_string(), "10.10.0.0/16");
  ASSERT_TRUE(t1.ike);
  EXPECT_EQ(t1.ike->version, 2);
  EXPECT_EQ(t1.ike->local_id, "203.0.113.10");
  EXPECT_EQ(t1.ike->ike_proposals, (std::vector<std::string>{"aes256-sha256-modp2048"}));
  EXPECT_EQ(t1.ike->esp_proposals, (std::vector<std::string>{"aes256-sha256-modp2048"}));
  EXPECT_EQ(t1.ike->ike_lifetime_s, 28800u);
  EXPECT_EQ(t1.ike->child_lifetime_s, 3600u);
  EXPECT_EQ(t1.ike->dpd_delay_s, 10u);
  // IKEv2: an unanswered DPD ends the tunnel after 10 s (espgw-up's retransmissions), not AWS's
  // interval x retries, which is its own side's; the comment says so.
  EXPECT_EQ(t1.ike->dpd_timeout_s, 10u);
  EXPECT_THAT(r.yaml, ::testing::HasSubstr("dpd_timeout_s: 10  # an unanswered DPD: tunnel dead "
                                           "(AWS's side: 30 s, interval x retries)"));
  EXPECT_EQ(r.yaml.find("interval x retries (3)"), std::string::npos);
  EXPECT_EQ(t1.ike->dpd_action, config::DpdAction::kRestart);
  EXPECT_EQ(t1.ike->start_action, config::StartAction::kStart);
  EXPECT_EQ(r.secrets.at("aws-tunnel1"), "FAKE_psk_tunnel1.not.a.real.key");
  EXPECT_EQ(r.secrets.at("aws-tunnel2"), "FAKE_psk_tunnel2.not.a.real.key");
  EXPECT_EQ(r.yaml.find("FAKE_psk"), std::string::npos) << "a key in the config itself";
  EXPECT_TRUE(r.placeholders.empty());
}

TEST(ImportAws, XmlGivesTheSameShape) {
  TempDir dir;
  const std::string src = samples() + "/aws-vpn-customer-gateway.xml";
  const Result r = import_aws(read(src), src, aws_site(), {});
  const config::Config c = validate(r, dir);
  ASSERT_EQ(c.tunnels.size(), 2u);
  const auto& t = c.tunnels[1];
  EXPECT_EQ(t.remote.to_string(), "198.51.100.148");
  EXPECT_EQ(t.ike->version, 1);  // no IKE version in the XML: main mode, IKEv1 (noted)
  EXPECT_EQ(t.ike->ike_proposals, (std::vector<std::string>{"aes128-sha1-modp1024"}));
  EXPECT_EQ(t.ike->esp_proposals, (std::vector<std::string>{"aes128-sha1-modp1024"}));
  EXPECT_EQ(t.ike->local_id, "203.0.113.20");
  EXPECT_EQ(t.mss, 1379);
  EXPECT_EQ(r.secrets.at("aws-tunnel2"), "FAKE_xml_psk_2.not.a.real.key");
  std::string notes;
  for (const auto& n : r.notes)
    notes += n + "\n";
  EXPECT_THAT(notes, HasSubstr("modp1024) is weak"));
  EXPECT_THAT(notes, HasSubstr("--ike-version 2"));
  AwsOptions o;
  o.ike_version = 2;
  o.name = "vpc9";
  const config::Config c2 = validate(import_aws(read(src), src, aws_site(), o), dir);
  EXPECT_EQ(c2.tunnels[0].ike->version, 2);
  EXPECT_EQ(c2.tunnels[0].name, "vpc9-tunnel1");
  EXPECT_EQ(c2.peers[0].name, "vpc9-vpn");
}

TEST(ImportAws, WithoutWanFlagsThePlaceholdersAreMarkedAndStillValid) {
  TempDir dir;
  const std::string src = samples() + "/aws-vpn-generic.txt";
  Site s = aws_site();
  s.wan_device.clear();
  s.wan_address.reset();
  const Result r = import_aws(read(src), src, s, {});
  const config::Config c = validate(r, dir);
  ASSERT_EQ(r.placeholders.size(), 2u);
  EXPECT_THAT(r.placeholders[0], HasSubstr("--wan-interface"));
  EXPECT_THAT(r.placeholders[1], HasSubstr("--wan-address"));
  EXPECT_THAT(r.yaml, HasSubstr("device: EDIT-wan-device  # EDIT:"));
  EXPECT_EQ(c.tunnels[0].local.to_string(), "203.0.113.10");  // the gateway holds its address
  EXPECT_FALSE(c.tunnels[0].nat_t);
}

TEST(ImportAws, StaticRoutesOfTheFileGiveTheRemoteCidrs) {
  TempDir dir;
  std::string text = read(samples() + "/aws-vpn-generic.txt");
  const std::string hop = "  - Next hop       : 169.254.10.1\n";
  text.replace(text.find(hop), hop.size(), hop + "  - Static Route   : 10.99.0.0/16\n");
  Site s = aws_site();
  s.remote_cidrs.clear();
  const config::Config c = validate(import_aws(text, "f.txt", s, {}), dir);
  EXPECT_EQ(c.tunnels[0].remote_cidrs[0].to_string(), "10.99.0.0/16");
}

std::string aws_error(const std::string& text, const Site& site = aws_site()) {
  try {
    import_aws(text, "aws.txt", site, {});
  } catch (const ImportError& e) {
    return e.what();
  }
  return "no error";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(ImportAws, BadValuesNameTheLine) {
  const std::string t = read(samples() + "/aws-vpn-generic.txt");
  EXPECT_EQ(
      aws_error(replace(t, "aes-256-cbc", "aes-192-cbc")),
      "aws.txt:43: IPSec Tunnel #1: Encryption Algorithm: unknown encryption algorithm "
      "\"aes-192-cbc\" (AWS offers aes-128-cbc, aes-256-cbc, aes-128-gcm-16, aes-256-gcm-16)");
  EXPECT_THAT(
      aws_error(replace(t, ": Group 14", ": Group 5")),
      StartsWith("aws.txt:46: IPSec Tunnel #1: Diffie-Hellman: Diffie-Hellman group \"Group 5\" "
                 "is not one espgw accepts"));
  EXPECT_THAT(
      aws_error(replace(t, "Protocol                 : esp", "Protocol : ah")),
      StartsWith("aws.txt:56: IPSec Tunnel #1: Protocol: protocol \"ah\" cannot be mapped"));
  EXPECT_THAT(aws_error(replace(t, "Authentication Method    : Pre-Shared Key",
                                "Authentication Method    : Certificate")),
              StartsWith("aws.txt:40: IPSec Tunnel #1: Authentication Method: authentication "));
  EXPECT_EQ(aws_error(replace(t, "  - DPD Retries              : 3\n",
                              "  - DPD Retries              : 3\n  - DPD Retries : 4\n")),
            "aws.txt:67: IPSec Tunnel #1: \"DPD Retries\" given twice (first at line 66)");
  EXPECT_EQ(
      aws_error(replace(t, "  - Lifetime                 : 3600 seconds",
                        "  - Lifetime                 : one hour")),
      "aws.txt:59: IPSec Tunnel #1: Lifetime: expected a number of seconds, got \"one hour\"");
  EXPECT_EQ(
      aws_error(replace(t, "  - Virtual Private Gateway             : 198.51.100.10",
                        "  - Virtual Private Gateway             : 198.51.100.x")),
      "aws.txt:97: IPSec Tunnel #1: Virtual Private Gateway: not an IP address: \"198.51.100.x\"");
  EXPECT_EQ(aws_error(replace(t, "  - TCP MSS Adjustment       : 1379 bytes",
                              "  - TCP MSS Adjustment       1379 bytes")),
            "aws.txt:73: IPSec Tunnel #1: expected \"- NAME : VALUE\", got a line without ':'");
  Site no_cidr = aws_site();
  no_cidr.local_cidrs.clear();
  EXPECT_THAT(aws_error(t, no_cidr), HasSubstr("--local-cidr"));
  EXPECT_EQ(aws_error("hello\n"),
            "aws.txt:1: no \"IPSec Tunnel #1\" section: not an AWS VPN configuration (Generic) "
            "download?");
}

// Every prefix of either sample, cut at any line, is a valid config or an error that names a line
// of what was read; never another exception, never a key in the message.
TEST(ImportAws, EveryTruncationIsRefusedByLineOrValid) {
  TempDir dir;
  for (const char* name : {"aws-vpn-generic.txt", "aws-vpn-customer-gateway.xml"}) {
    const std::string text = read(samples() + "/" + name);
    std::vector<size_t> cuts;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') cuts.push_back(i + 1);
    }
    size_t valid = 0;
    for (size_t k = 0; k < cuts.size(); ++k) {
      const std::string part = text.substr(0, cuts[k]);
      try {
        validate(import_aws(part, name, aws_site(), {}), dir);
        ++valid;
      } catch (const ImportError& e) {
        const std::string m = e.what();
        const std::regex re(std::string("^") + name + ":([0-9]+): .*");
        std::smatch sm;
        ASSERT_TRUE(std::regex_match(m, sm, re)) << m;
        EXPECT_LE(std::stoul(sm[1]), k + 2) << m;
        EXPECT_EQ(m.find("FAKE_"), std::string::npos) << m;
      }
    }
    EXPECT_GE(valid, 1u) << name;  // at least the whole file
  }
}

// ---- ipsec.conf -----------------------------------------------------------------------------

Site conf_site() {
  Site s;
  s.secrets_file = "/etc/espgw/ipsec.secrets.yaml";
  return s;
}

TEST(ImportIpsecConf, TheClassicSetUp) {
  TempDir dir;
  const std::string conf = samples() + "/strongswan/ipsec.conf";
  const Result r = import_ipsec_conf(conf, conf_site(), {samples() + "/strongswan/ipsec.secrets"});
  const config::Config c = validate(r, dir);
  ASSERT_EQ(c.tunnels.size(), 3u);
  const auto& b = c.tunnels[0];
  EXPECT_EQ(b.name, "vpc-b");
  EXPECT_EQ(b.local.to_string(), "172.50.1.10");
  EXPECT_EQ(b.remote.to_string(), "198.51.100.20");
  EXPECT_EQ(b.local_cidrs[0].to_string(), "172.50.0.0/16");
  EXPECT_EQ(b.remote_cidrs[0].to_string(), "172.60.0.0/16");
  EXPECT_EQ(b.ike->version, 2);
  EXPECT_EQ(b.ike->local_id, "203.0.113.10");
  EXPECT_EQ(b.ike->ike_lifetime_s, 3600u);    // %default ikelifetime=60m
  EXPECT_EQ(b.ike->child_lifetime_s, 1200u);  // keylife=20m
  EXPECT_EQ(b.ike->rekey_margin_s, 180u);
  EXPECT_EQ(b.ike->dpd_delay_s, 30u);  // its own dpddelay
  // IKEv2: strongSwan ignored dpdtimeout; espgw's default check length instead.
  EXPECT_EQ(b.ike->dpd_timeout_s, 10u);
  EXPECT_FALSE(b.ike->mobike);
  // "aes128-aes256-sha256-modp2048" is two proposals for the dataplane.
  EXPECT_EQ(b.ike->esp_proposals,
            (std::vector<std::string>{"aes256gcm16-modp2048", "aes128-sha256-modp2048",
                                      "aes256-sha256-modp2048"}));
  const auto& a1 = c.tunnels[1];
  EXPECT_EQ(a1.name, "aws-tunnel1");  // from include ipsec.d/*.conf, with also=aws-common
  EXPECT_TRUE(a1.nat_t);              // forceencaps=yes
  EXPECT_EQ(a1.ike->dpd_delay_s, 10u);
  EXPECT_EQ(a1.ike->ike_proposals, (std::vector<std::string>{"aes128-sha1-modp2048"}));
  EXPECT_EQ(a1.ike->start_action, config::StartAction::kStart);
  EXPECT_EQ(c.tunnels[2].ike->start_action, config::StartAction::kNone);  // auto=add
  ASSERT_EQ(c.peers.size(), 1u);  // the two AWS tunnels carry the same subnets
  EXPECT_EQ(c.peers[0].tunnels, (std::vector<std::string>{"aws-tunnel1", "aws-tunnel2"}));
  EXPECT_EQ(r.secrets.at("vpc-b"), "FAKE_psk_vpc_b.not.a.real.key");
  EXPECT_EQ(r.secrets.at("aws-tunnel1"), "FAKE_psk_aws_1.not.a.real.key");
  EXPECT_EQ(r.secrets.at("aws-tunnel2"), "FAKE_psk_aws_2.not.a.real.key");  // %any ID
  std::string notes;
  for (const auto& n : r.notes)
    notes += n + "\n";
  // Every option not carried over is named with its line and conn.
  EXPECT_THAT(notes,
              HasSubstr("ipsec.conf:13: conn vpc-b: keyingtries=%forever: not carried over"));
  EXPECT_THAT(notes,
              HasSubstr("ipsec.conf:20: conn aws-tunnel2: leftfirewall=yes: not carried over"));
  EXPECT_THAT(notes, HasSubstr("ipsec.conf:6: config setup: charondebug="));
  EXPECT_THAT(notes, HasSubstr("conn aws-common: auto=ignore (the default)"));
  EXPECT_THAT(notes, HasSubstr("ipsec.secrets:5: a RSA secret: not carried over"));
  ASSERT_EQ(r.placeholders.size(), 2u);  // no --wan-interface, no --wan-address
}

std::string conf_error(const std::string& conf, const std::string& secrets = "%any : PSK \"k\"\n",
                       const Site& site = conf_site()) {
  TempDir dir;
  const std::string c = dir.file("ipsec.conf", conf);
  const std::string s = dir.file("ipsec.secrets", secrets);
  Result r;
  try {
    r = import_ipsec_conf(c, site, {s});
    validate(r, dir);
  } catch (const ImportError& e) {
    std::string m = e.what();
    return m.substr(m.find("ipsec."));
  } catch (const config::ConfigError& e) {
    return "validator: " + explain(e.what(), r, "generated.yaml");
  }
  return "no error";
}

constexpr const char* kConn =
    "conn x\n  left=192.0.2.1\n  right=198.51.100.1\n  leftsubnet=10.1.0.0/16\n"
    "  rightsubnet=10.2.0.0/16\n  authby=secret\n  auto=start\n";

TEST(ImportIpsecConf, WhatCannotBeMappedFailsWithTheLine) {
  EXPECT_EQ(conf_error(kConn), "no error");
  EXPECT_EQ(conf_error(std::string(kConn) + "  authby=pubkey\n"),
            "ipsec.conf:8: conn x: authby=pubkey cannot be mapped: espgw configures pre-shared "
            "keys only (authby=secret)");
  EXPECT_EQ(
      conf_error(std::string(kConn) + "  right=%any\n"),
      "ipsec.conf:8: conn x: right=%any cannot be mapped: an espgw tunnel needs the peer's IP "
      "address");
  EXPECT_EQ(conf_error(std::string(kConn) + "  type=transport\n"),
            "ipsec.conf:8: conn x: type=transport cannot be mapped: espgw does tunnel mode only");
  EXPECT_THAT(conf_error(std::string(kConn) + "  leftsubnet=10.1.0.0/16[tcp/80]\n"),
              StartsWith("ipsec.conf:8: conn x: leftsubnet=10.1.0.0/16[tcp/80]: protocol/port"));
  EXPECT_THAT(conf_error(std::string(kConn) + "  leftsourceip=%config\n"),
              StartsWith("ipsec.conf:8: conn x: leftsourceip=%config cannot be mapped"));
  EXPECT_EQ(conf_error("conn a\n  also=b\n  auto=add\nconn b\n  also=a\n"),
            "ipsec.conf:1: also= loop: a -> b -> a");
  EXPECT_EQ(conf_error(std::string(kConn) + "  also=nope\n"),
            "ipsec.conf:8: conn x: also=nope: no such conn");
  EXPECT_THAT(conf_error(std::string(kConn) + "include missing.conf\n"),
              StartsWith("ipsec.conf:8: include: no such file \""));
  EXPECT_EQ(conf_error("  left=1.2.3.4\n"),
            "ipsec.conf:1: an indented setting outside any section");
  EXPECT_EQ(conf_error("conn x\n  left\n"), "ipsec.conf:2: expected KEY=VALUE, got \"left\"");
  EXPECT_EQ(
      conf_error("frob x\n"),
      "ipsec.conf:1: expected \"conn NAME\", \"config setup\", \"ca NAME\" or \"include PATH\" "
      "at the start of a line (settings are indented)");
  EXPECT_THAT(conf_error(std::string(kConn), "192.0.2.77 : PSK \"k\"\n"),
              HasSubstr("conn x: no PSK in "));
  EXPECT_EQ(conf_error("conn x\n  right=198.51.100.1\n  authby=secret\n  auto=add\n"),
            "ipsec.conf:1: conn x: no left=: espgw needs this gateway's address: give it with "
            "--wan-address ADDRESS/LENGTH");
  // What the validator refuses is named with the ipsec.conf line it came from.
  EXPECT_THAT(conf_error(std::string(kConn) + "  esp=aes128-sha265\n"), HasSubstr("[from "));
  EXPECT_THAT(conf_error(std::string(kConn) + "  esp=aes128-sha265\n"),
              HasSubstr("ipsec.conf:8: conn x: esp=aes128-sha265]"));
}

TEST(ImportIpsecConf, DefaultsResetsAndIncludes) {
  TempDir dir;
  dir.file("conf.d/b.conf",
           "conn b\n  also=base\n  right=198.51.100.2\n  rightsubnet=10.3.0.0/16\n  auto=route\n");
  const std::string c =
      dir.file("ipsec.conf",
               "conn %default\n  authby=secret\n  dpdaction=clear\n  left=192.0.2.1\n  "
               "leftsubnet=10.1.0.0/16\n"
               "conn base\n  ikelifetime=2h\n  dpdaction=\n"
               "conn a\n  also=base\n  right=198.51.100.1\n  rightsubnet=10.2.0.0/16\n  auto=add\n"
               "  keyexchange=ikev1\n"
               "include conf.d/*.conf\ninclude none.d/*.conf\n");
  const std::string s =
      dir.file("ipsec.secrets", ": PSK 0x6b6579\n198.51.100.2 192.0.2.99 : PSK 0sa2V5Mg==\n");
  Site site = conf_site();
  site.wan_address = InterfaceAddress::parse("192.0.2.5/26");
  const Result r = import_ipsec_conf(c, site, {s});
  const config::Config cfg = validate(r, dir);
  ASSERT_EQ(cfg.tunnels.size(), 2u);
  EXPECT_EQ(cfg.tunnels[0].ike->version, 1);
  EXPECT_EQ(cfg.tunnels[0].ike->ike_lifetime_s, 7200u);
  EXPECT_EQ(cfg.tunnels[0].ike->dpd_delay_s, 0u);  // dpdaction= resets %default's clear: none
  EXPECT_EQ(cfg.tunnels[1].ike->start_action, config::StartAction::kTrap);  // auto=route
  EXPECT_TRUE(cfg.tunnels[1].ike->mobike);  // strongSwan's default for IKEv2
  EXPECT_EQ(r.secrets.at("a"), "key");      // 0x hex decoded
  EXPECT_EQ(r.secrets.at("b"), "key2");     // 0s base64 decoded
  EXPECT_EQ(cfg.interfaces[0].addresses[0].to_string(), "192.0.2.5/26");
  EXPECT_EQ(cfg.tunnels[0].local.to_string(), "192.0.2.5");  // --wan-address replaces left
  EXPECT_TRUE(r.placeholders.size() == 1u);                  // the device only
}

// ---- mesh -----------------------------------------------------------------------------------

constexpr const char* kRegions = R"(defaults: {mss: 1379, dataplane: {idle_sleep_us: 20}}
regions:
  - {name: one, wan_address: 172.31.1.10/24, public_address: 203.0.113.1, vpc_cidr: 10.1.0.0/16}
  - {name: two, wan_address: 172.31.2.10/24, public_address: 203.0.113.2, vpc_cidr: 10.2.0.0/16}
  - {name: three, wan_address: 172.31.3.10/24, vpc_cidrs: [10.3.0.0/16, 10.4.0.0/16]}
)";

TEST(Mesh, StaticSasMirrorEachOther) {
  TempDir dir;
  const auto configs = generate_mesh(kRegions, "r.yaml", MeshOptions{true, "/etc/espgw"});
  ASSERT_EQ(configs.size(), 3u);
  std::map<std::string, config::Config> by;
  for (const auto& mc : configs)
    by[mc.region] = validate(mc.result, dir);
  for (const auto& [name, c] : by) {
    ASSERT_EQ(c.tunnels.size(), 2u) << name;
    EXPECT_EQ(c.dataplane.idle_sleep_us, 20u);
    for (const auto& t : c.tunnels) {
      const std::string peer = t.name.substr(3);
      const config::Tunnel* back = by.at(peer).find_tunnel("to-" + name);
      ASSERT_NE(back, nullptr);
      EXPECT_EQ(t.static_sa->outbound.spi, back->static_sa->inbound.spi);
      EXPECT_EQ(t.static_sa->outbound.enc_key, back->static_sa->inbound.enc_key);
      EXPECT_EQ(t.static_sa->outbound.salt, back->static_sa->inbound.salt);
      EXPECT_EQ(t.remote_cidrs, by.at(peer).tunnels[0].local_cidrs);
      EXPECT_EQ(t.mss, 1379);
    }
  }
  EXPECT_EQ(by.at("one").find_tunnel("to-three")->remote.to_string(), "172.31.3.10");
  EXPECT_TRUE(by.at("one").find_tunnel("to-two")->nat_t);
}

TEST(Mesh, IkeSharesOneKeyPerPair) {
  TempDir dir;
  const auto configs = generate_mesh(kRegions, "r.yaml", MeshOptions{false, "/etc/espgw"});
  for (const auto& mc : configs)
    validate(mc.result, dir);
  EXPECT_EQ(configs[0].result.secrets.at("to-two"), configs[1].result.secrets.at("to-one"));
  EXPECT_NE(configs[0].result.secrets.at("to-two"), configs[0].result.secrets.at("to-three"));
  EXPECT_THAT(configs[0].result.yaml, HasSubstr("secrets_file: /etc/espgw/one.secrets.yaml"));
  // Per pair the region first by name starts IKE and the other traps: its traffic starts IKE
  // too (espgw's acquire events).
  std::map<std::string, config::Config> by;
  for (const auto& mc : configs)
    by[mc.region] = validate(mc.result, dir);
  for (const auto& [name, c] : by) {
    for (const auto& t : c.tunnels) {
      const std::string peer = t.name.substr(3);
      EXPECT_EQ(t.ike->start_action,
                name < peer ? config::StartAction::kStart : config::StartAction::kTrap)
          << name << " " << t.name;
    }
  }
}

// A region's own workers (the lanes lab's receiving gateway) replace the defaults' for it alone.
TEST(Mesh, RegionWorkers) {
  TempDir dir;
  const std::string text = R"(defaults: {workers: 1}
regions:
  - {name: one, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}
  - {name: two, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16, workers: 2}
)";
  const auto configs = generate_mesh(text, "r.yaml", MeshOptions{true, "/etc/espgw"});
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(validate(configs[0].result, dir).dataplane.workers, 1u);
  EXPECT_EQ(validate(configs[1].result, dir).dataplane.workers, 2u);
}

// --lanes N (or defaults.lanes): every tunnel gets N lanes and peer_kind espgw, with NAT-T; the
// configs pass the config check (IKEv2, nat_t, espgw peer). Static SAs cannot key lanes.
TEST(Mesh, Lanes) {
  TempDir dir;
  const std::string two = R"(regions:
  - {name: one, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}
  - {name: two, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16}
)";
  for (const auto& mc : generate_mesh(two, "r.yaml", MeshOptions{false, "/etc/espgw", 4})) {
    const config::Config c = validate(mc.result, dir);
    ASSERT_EQ(c.tunnels.size(), 1u);
    EXPECT_EQ(c.tunnels[0].lanes, 4);
    EXPECT_EQ(c.tunnels[0].peer_kind, config::PeerKind::kEspgw);
    EXPECT_TRUE(c.tunnels[0].nat_t);  // no public addresses: NAT-T because of the lanes
    EXPECT_EQ(c.tunnels[0].ike->version, 2);
  }
  const auto from_file = generate_mesh("defaults: {lanes: 3}\n" + two, "r.yaml", {});
  EXPECT_EQ(validate(from_file[0].result, dir).tunnels[0].lanes, 3);
  // --lanes wins over the file; 1 lane writes neither key (the configs of before).
  const auto one =
      generate_mesh("defaults: {lanes: 3}\n" + two, "r.yaml", MeshOptions{false, "/etc/espgw", 1});
  EXPECT_EQ(one[0].result.yaml.find("lanes:"), std::string::npos);
  EXPECT_EQ(one[0].result.yaml.find("peer_kind"), std::string::npos);
  EXPECT_EQ(validate(one[0].result, dir).tunnels[0].peer_kind, config::PeerKind::kOther);
  EXPECT_THROW(generate_mesh(two, "r.yaml", MeshOptions{true, "/etc/espgw", 2}), ImportError);
  EXPECT_THROW(generate_mesh("defaults: {nat_t: false}\n" + two, "r.yaml",
                             MeshOptions{false, "/etc/espgw", 2}),
               ImportError);
  EXPECT_THROW(generate_mesh("defaults: {lanes: 65}\n" + two, "r.yaml", {}), ImportError);
}

TEST(Mesh, RegionsFileErrorsNameTheLine) {
  auto error = [](const std::string& text) {
    try {
      generate_mesh(text, "r.yaml", {});
    } catch (const ImportError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("regions:\n  - {name: a, wan_address: 10.0.0.1/24, vpc_cidr: 10.1.0.0/16}\n"
                  "  - {name: b, wan_address: 10.0.1.1/24, vpc_cidr: 10.1.0.0/24}\n"),
            "r.yaml:3: region b: VPC CIDR 10.1.0.0/24 overlaps 10.1.0.0/16 of region a (line 2)");
  EXPECT_THAT(error("regions:\n  - {name: a, wan_adress: 10.0.0.1/24}\n  - {}\n"),
              StartsWith("r.yaml:2: regions[0]: unknown key \"wan_adress\""));
  EXPECT_EQ(
      error("regions:\n  - {name: a, wan_address: 10.0.0.1, vpc_cidr: 10.1.0.0/16}\n  - {}\n"),
      "r.yaml:2: regions[0].wan_address: expected ADDRESS/LENGTH (the port's address and its "
      "subnet), got \"10.0.0.1\"");
  EXPECT_THAT(error("regions: [\n"), StartsWith("r.yaml:"));
}

}  // namespace
}  // namespace espgw::import
