// import-aws: an AWS Site-to-Site VPN connection's configuration, as the console downloads it for
// the vendor "Generic" (text) or as the API's CustomerGatewayConfiguration (XML), into an espgw
// config with both tunnels grouped in one peer. Both formats fill the same AwsConnection; the
// conversion below does not care which it came from.

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <sstream>

#include "common/redact.h"
#include "config/charon_retransmit.h"
#include "config/import/import.h"
#include "config/import/site.h"
#include "config/import/xml.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {
namespace {

struct Field {
  std::string value;
  int line = 0;
  std::string where;  // "IPSec Tunnel #1: Encryption Algorithm", "vpn_connection/.../lifetime"
};

// What a tunnel has, by a key of our own; each key is described in both formats for "missing"
// messages.
struct KeyInfo {
  const char* key;
  const char* section;  // the text format's "#N: ..." heading
  const char* label;    // the text format's "- Label : value"
  const char* element;  // the XML path below <ipsec_tunnel>
  bool required;
};

constexpr const char* kIke = "#1: Internet Key Exchange Configuration";
constexpr const char* kIpsec = "#2: IPSec Configuration";
constexpr const char* kIface = "#3: Tunnel Interface Configuration";

constexpr std::array<KeyInfo, 21> kKeys = {{
    {"ike.version", kIke, "IKE version", "ike/ike_version", false},
    {"ike.auth_method", kIke, "Authentication Method", "", false},
    {"ike.psk", kIke, "Pre-Shared Key", "ike/pre_shared_key", true},
    {"ike.integrity", kIke, "Authentication Algorithm", "ike/authentication_protocol", true},
    {"ike.encryption", kIke, "Encryption Algorithm", "ike/encryption_protocol", true},
    {"ike.lifetime", kIke, "Lifetime", "ike/lifetime", true},
    {"ike.mode", kIke, "Phase 1 Negotiation Mode", "ike/mode", false},
    {"ike.dh", kIke, "Diffie-Hellman", "ike/perfect_forward_secrecy", true},
    {"esp.protocol", kIpsec, "Protocol", "ipsec/protocol", false},
    {"esp.integrity", kIpsec, "Authentication Algorithm", "ipsec/authentication_protocol", false},
    {"esp.encryption", kIpsec, "Encryption Algorithm", "ipsec/encryption_protocol", true},
    {"esp.lifetime", kIpsec, "Lifetime", "ipsec/lifetime", true},
    {"esp.mode", kIpsec, "Mode", "ipsec/mode", false},
    {"esp.pfs", kIpsec, "Perfect Forward Secrecy", "ipsec/perfect_forward_secrecy", false},
    {"dpd.interval", kIpsec, "DPD Interval", "ipsec/dead_peer_detection/interval", false},
    {"dpd.retries", kIpsec, "DPD Retries", "ipsec/dead_peer_detection/retries", false},
    {"mss", kIpsec, "TCP MSS Adjustment", "ipsec/tcp_mss_adjustment", false},
    {"clear_df", kIpsec, "Clear Don't Fragment Bit", "ipsec/clear_df_bit", false},
    {"outside.cgw", "#3: Tunnel Interface Configuration, Outside IP Addresses", "Customer Gateway",
     "customer_gateway/tunnel_outside_address/ip_address", true},
    {"outside.vgw", "#3: Tunnel Interface Configuration, Outside IP Addresses",
     "Virtual Private Gateway", "vpn_gateway/tunnel_outside_address/ip_address", true},
    {"mtu", kIface, "Tunnel interface MTU", "", false},
}};

const KeyInfo& info(std::string_view key) {
  for (const auto& k : kKeys) {
    if (key == k.key) return k;
  }
  throw std::logic_error("aws_vpn: no key " + std::string(key));
}

struct AwsTunnel {
  int number = 0;
  int line = 0;       // of "IPSec Tunnel #N" / <ipsec_tunnel>
  int end_line = 0;   // text: the last line that belongs to it
  std::string where;  // "IPSec Tunnel #1" / "vpn_connection/ipsec_tunnel[1]"
  std::map<std::string, Field> f;
  Field inside_cgw, inside_vgw;  // informational: the BGP /30s
  const Field* get(std::string_view key) const {
    auto it = f.find(std::string(key));
    return it == f.end() ? nullptr : &it->second;
  }
};

struct AwsConnection {
  std::string source;
  bool xml = false;
  std::string vpn_id, cgw_id, vgw_id;
  std::vector<AwsTunnel> tunnels;
  std::vector<Field> static_routes;
  int bgp_line = 0;
  int last_line = 0;
  std::vector<std::string> notes;
};

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

// Lower case, runs of blanks as one space: "Customer Gateway \t\t" -> "customer gateway".
std::string label_of(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

[[noreturn]] void fail(const std::string& source, int line, const std::string& what) {
  throw ImportError(source + ":" + std::to_string(line) + ": " + what);
}
[[noreturn]] void fail(const std::string& source, const Field& f, const std::string& what) {
  fail(source, f.line, f.where + ": " + what);
}

// ---- the text format ----------------------------------------------------------------------

void set_field(AwsConnection& c, AwsTunnel& t, const std::string& key, const std::string& value,
               int line, const std::string& label) {
  const auto [it, inserted] = t.f.emplace(key, Field{value, line, t.where + ": " + label});
  if (!inserted) {
    fail(c.source, line,
         t.where + ": \"" + label + "\" given twice (first at line " +
             std::to_string(it->second.line) + ")");
  }
}

AwsConnection parse_text(const std::string& text, const std::string& source) {
  AwsConnection c;
  c.source = source;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  AwsTunnel* t = nullptr;
  int section = 0;         // the "#N:" heading inside a tunnel
  std::string subsection;  // "outside" / "inside" under #3
  bool static_routing = false;
  bool ended = false;  // "Additional Notes": no more tunnel content
  while (std::getline(in, raw)) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string s = trim(raw);
    if (s.empty()) continue;
    const std::string l = label_of(s);
    if (l.starts_with("ipsec tunnel #")) {
      const std::string num = l.substr(14);
      int n = 0;
      const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
      if (ec != std::errc() || end != num.data() + num.size()) {
        fail(source, line, "a tunnel heading without its number: " + quote(s));
      }
      if (n != static_cast<int>(c.tunnels.size()) + 1 || n > 2) {
        fail(source, line,
             "IPSec Tunnel #" + std::to_string(n) + " where #" +
                 std::to_string(c.tunnels.size() + 1) +
                 (c.tunnels.size() >= 2 ? " or the end (an AWS VPN connection has two tunnels)"
                                        : " was expected"));
      }
      if (t) t->end_line = line - 1;
      c.tunnels.push_back({});
      t = &c.tunnels.back();
      t->number = n;
      t->line = line;
      t->where = "IPSec Tunnel #" + std::to_string(n);
      section = 0;
      subsection.clear();
      static_routing = false;
      continue;
    }
    if (l.starts_with("additional notes")) {
      ended = true;
      if (t) t->end_line = line - 1;
      t = nullptr;
      continue;
    }
    if (s.size() > 2 && s[0] == '#' && std::isdigit(static_cast<unsigned char>(s[1])) &&
        s.find(':') != std::string::npos && t) {
      section = s[1] - '0';
      subsection.clear();
      static_routing = l.find("static rout") != std::string::npos;
      if (l.find("border gateway protocol") != std::string::npos && c.bgp_line == 0) {
        c.bgp_line = line;
      }
      continue;
    }
    if (l.starts_with("outside ip addresses")) {
      subsection = "outside";
      continue;
    }
    if (l.starts_with("inside ip addresses")) {
      subsection = "inside";
      continue;
    }
    if (!t && l.starts_with("your ") && s.find(':') != std::string::npos) {
      const std::string key = label_of(s.substr(0, s.find(':')));
      const std::string value = trim(s.substr(s.find(':') + 1));
      if (key == "your vpn connection id") c.vpn_id = value;
      if (key == "your virtual private gateway id") c.vgw_id = value;
      if (key == "your customer gateway id") c.cgw_id = value;
      continue;
    }
    if (!s.starts_with("- ") || !t || ended) continue;  // prose, "-----" rules
    const size_t colon = s.find(':');
    if (colon == std::string::npos) {
      fail(source, line, t->where + ": expected \"- NAME : VALUE\", got a line without ':'");
    }
    const std::string label = trim(s.substr(1, colon - 1));
    const std::string key = label_of(label);
    const std::string value = trim(s.substr(colon + 1));
    std::string ours;
    if (section == 1) {
      if (key == "ike version") ours = "ike.version";
      if (key == "authentication method") ours = "ike.auth_method";
      if (key == "pre-shared key") ours = "ike.psk";
      if (key == "authentication algorithm") ours = "ike.integrity";
      if (key == "encryption algorithm") ours = "ike.encryption";
      if (key == "lifetime") ours = "ike.lifetime";
      if (key == "phase 1 negotiation mode") ours = "ike.mode";
      if (key == "diffie-hellman" || key == "perfect forward secrecy") ours = "ike.dh";
    } else if (section == 2) {
      if (key == "protocol") ours = "esp.protocol";
      if (key == "authentication algorithm") ours = "esp.integrity";
      if (key == "encryption algorithm") ours = "esp.encryption";
      if (key == "lifetime") ours = "esp.lifetime";
      if (key == "mode") ours = "esp.mode";
      if (key == "perfect forward secrecy") ours = "esp.pfs";
      if (key == "dpd interval") ours = "dpd.interval";
      if (key == "dpd retries") ours = "dpd.retries";
      if (key == "tcp mss adjustment") ours = "mss";
      if (key == "clear don't fragment bit") ours = "clear_df";
      if (key == "fragmentation") {
        if (label_of(value) != "before encryption") {
          c.notes.push_back(source + ":" + std::to_string(line) + ": " + t->where +
                            ": Fragmentation " + quote(value) +
                            ": espgw always fragments before encryption");
        }
        continue;
      }
    } else if (section == 3) {
      if (key == "tunnel interface mtu") ours = "mtu";
      if (key == "customer gateway" || key == "virtual private gateway") {
        const std::string who = key == "customer gateway" ? "cgw" : "vgw";
        if (subsection == "outside") {
          ours = "outside." + who;
        } else if (subsection == "inside") {
          (who == "cgw" ? t->inside_cgw : t->inside_vgw) =
              Field{value, line, t->where + ": Inside IP Addresses: " + label};
          continue;
        } else {
          fail(source, line,
               t->where + ": \"" + label +
                   "\" outside \"Outside IP Addresses\" or \"Inside IP Addresses\"");
        }
      }
    } else if (section == 4) {
      if (static_routing) {
        const std::string v = value.substr(0, value.find(' '));
        const auto p = IpPrefix::parse(v);
        if (p && v.find('/') != std::string::npos) {
          c.static_routes.push_back(Field{v, line, t->where + ": " + label});
        }
      }
      continue;  // next hop, BGP options: not used for static routing (noted once)
    }
    if (ours.empty()) {
      c.notes.push_back(source + ":" + std::to_string(line) + ": " + t->where + ": \"" + label +
                        "\" is not used");
      continue;
    }
    if (value.empty()) fail(source, line, t->where + ": \"" + label + "\" has no value");
    set_field(c, *t, ours, value, line, label);
  }
  if (t) t->end_line = line;
  c.last_line = line;
  return c;
}

// ---- the XML format -----------------------------------------------------------------------

const XmlElement* child(const XmlElement& e, std::string_view name, const std::string& source,
                        const std::string& where) {
  const XmlElement* found = nullptr;
  for (const auto& ch : e.children) {
    if (ch.name != name) continue;
    if (found) {
      fail(source, ch.line,
           where + ": <" + std::string(name) + "> given twice (first at line " +
               std::to_string(found->line) + ")");
    }
    found = &ch;
  }
  return found;
}

// The element at `path` ("ike/lifetime") below `e`, or null.
const XmlElement* find_path(const XmlElement& e, std::string_view path, const std::string& source,
                            const std::string& where) {
  const XmlElement* cur = &e;
  std::string at = where;
  size_t pos = 0;
  while (cur && pos <= path.size()) {
    const size_t slash = path.find('/', pos);
    const std::string_view part =
        path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    cur = child(*cur, part, source, at);
    at.push_back('/');
    at.append(part);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return cur;
}

// Elements below <ipsec_tunnel> that the importer knows, to note the others.
void note_unknown(const XmlElement& e, const std::string& path,
                  const std::vector<std::string>& known, AwsConnection& c) {
  for (const auto& ch : e.children) {
    const std::string p = path.empty() ? ch.name : path + "/" + ch.name;
    const bool leaf_known = std::find(known.begin(), known.end(), p) != known.end();
    bool prefix_known = false;
    for (const auto& k : known)
      prefix_known = prefix_known || k.starts_with(p + "/");
    if (leaf_known) continue;
    if (prefix_known) {
      note_unknown(ch, p, known, c);
    } else {
      c.notes.push_back(c.source + ":" + std::to_string(ch.line) + ": <" + ch.name +
                        "> is not used");
    }
  }
}

AwsConnection parse_xml_connection(const std::string& text, const std::string& source) {
  AwsConnection c;
  c.source = source;
  c.xml = true;
  const XmlElement root = parse_xml(text, source);
  if (root.name != "vpn_connection") {
    fail(source, root.line,
         "<" + root.name +
             "> where <vpn_connection> was expected (is this "
             "AWS's CustomerGatewayConfiguration?)");
  }
  if (const auto* id = root.attribute("id")) c.vpn_id = *id;
  const std::string rw = "vpn_connection";
  if (const auto* e = child(root, "customer_gateway_id", source, rw)) c.cgw_id = trim(e->text);
  if (const auto* e = child(root, "vpn_gateway_id", source, rw)) c.vgw_id = trim(e->text);
  if (const auto* e = child(root, "vpn_connection_attributes", source, rw)) {
    if (trim(e->text) != "NoBGPVPNConnection") c.bgp_line = e->line;
  }
  std::vector<std::string> known;
  for (const auto& k : kKeys) {
    if (*k.element) known.push_back(k.element);
  }
  for (const char* k :
       {"customer_gateway/tunnel_inside_address/ip_address",
        "customer_gateway/tunnel_inside_address/network_mask",
        "customer_gateway/tunnel_inside_address/network_cidr",
        "vpn_gateway/tunnel_inside_address/ip_address",
        "vpn_gateway/tunnel_inside_address/network_mask",
        "vpn_gateway/tunnel_inside_address/network_cidr", "customer_gateway/bgp/asn",
        "customer_gateway/bgp/hold_time", "vpn_gateway/bgp/asn", "vpn_gateway/bgp/hold_time",
        "ipsec/fragmentation_before_encryption"}) {
    known.push_back(k);
  }
  for (const auto& e : root.children) {
    if (e.name == "customer_gateway_id" || e.name == "vpn_gateway_id" ||
        e.name == "vpn_connection_type" || e.name == "vpn_connection_attributes") {
      continue;
    }
    if (e.name != "ipsec_tunnel") {
      c.notes.push_back(source + ":" + std::to_string(e.line) + ": <" + e.name + "> is not used");
      continue;
    }
    if (c.tunnels.size() == 2) {
      fail(source, e.line, "a third <ipsec_tunnel> (an AWS VPN connection has two)");
    }
    AwsTunnel t;
    t.number = static_cast<int>(c.tunnels.size()) + 1;
    t.line = e.line;
    t.where = "vpn_connection/ipsec_tunnel[" + std::to_string(t.number) + "]";
    for (const auto& k : kKeys) {
      if (!*k.element) continue;
      const XmlElement* x = find_path(e, k.element, source, t.where);
      if (!x) continue;
      if (!x->children.empty()) {
        fail(source, x->line, t.where + "/" + k.element + ": expected a value, got elements");
      }
      const std::string v = trim(x->text);
      if (v.empty()) fail(source, x->line, t.where + "/" + k.element + ": empty");
      t.f[k.key] = Field{v, x->line, t.where + "/" + k.element};
    }
    for (const char* who : {"customer_gateway", "vpn_gateway"}) {
      const std::string base = std::string(who) + "/tunnel_inside_address/";
      const XmlElement* ip = find_path(e, base + "ip_address", source, t.where);
      const XmlElement* len = find_path(e, base + "network_cidr", source, t.where);
      if (ip) {
        Field f{trim(ip->text) + (len ? "/" + trim(len->text) : ""), ip->line,
                t.where + "/" + base};
        (std::string(who) == "customer_gateway" ? t.inside_cgw : t.inside_vgw) = f;
      }
    }
    note_unknown(e, "", known, c);
    c.tunnels.push_back(std::move(t));
  }
  c.last_line = root.line;
  return c;
}

// ---- conversion ---------------------------------------------------------------------------

struct Tunnel {
  std::string name;
  IpAddress cgw, vgw;
  std::string ike_proposal, esp_proposal;
  int version = 1;
  uint32_t ike_life = 28800, child_life = 3600;
  uint32_t dpd_delay = 10, dpd_retries = 3;
  uint16_t mss = 1379;
  std::optional<uint16_t> mtu;
  bool clear_df = true;
  std::string psk;
  const AwsTunnel* from = nullptr;
};

// "aes-128-cbc" (the text and XML downloads) or "AES128" (the API's tunnel options).
std::string encryption(const Field& f, const std::string& source, bool* aead) {
  std::string v = lower(f.value);
  v.erase(std::remove(v.begin(), v.end(), '-'), v.end());
  static const std::pair<const char*, const char*> kMap[] = {
      {"aes128cbc", "aes128"}, {"aes256cbc", "aes256"},        {"aes128", "aes128"},
      {"aes256", "aes256"},    {"aes128gcm16", "aes128gcm16"}, {"aes256gcm16", "aes256gcm16"},
  };
  for (const auto& [from, to] : kMap) {
    if (v == from) {
      *aead = std::string_view(to).find("gcm") != std::string_view::npos;
      return to;
    }
  }
  fail(source, f,
       "unknown encryption algorithm " + quote(f.value) +
           " (AWS offers aes-128-cbc, aes-256-cbc, aes-128-gcm-16, aes-256-gcm-16)");
}

// "sha1", "sha2-256", "hmac-sha1-96", "hmac-sha2-256-128", "SHA2-256": "sha1", "sha256", ...
std::string hash(const Field& f, const std::string& source) {
  std::string v = lower(f.value);
  if (v.starts_with("hmac-")) v = v.substr(5);
  static const std::pair<const char*, const char*> kMap[] = {
      {"sha1", "sha1"},       {"sha1-96", "sha1"},        {"sha", "sha1"},
      {"sha2-256", "sha256"}, {"sha2-256-128", "sha256"}, {"sha256", "sha256"},
      {"sha2-384", "sha384"}, {"sha2-384-192", "sha384"}, {"sha384", "sha384"},
      {"sha2-512", "sha512"}, {"sha2-512-256", "sha512"}, {"sha512", "sha512"},
  };
  for (const auto& [from, to] : kMap) {
    if (v == from) return to;
  }
  fail(source, f,
       "unknown authentication algorithm " + quote(f.value) +
           " (AWS offers sha1, sha2-256, sha2-384, sha2-512)");
}

// "Group 2", "group14", "Diffie-Hellman Group 14", "14".
std::string dh_group(const Field& f, const std::string& source) {
  std::string digits;
  for (char c : f.value) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  const std::string l = label_of(f.value);
  if (l == "none" || l == "disabled") return "";
  int g = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), g);
  static const std::map<int, const char*> kGroups = {
      {2, "modp1024"},  {14, "modp2048"}, {15, "modp3072"}, {16, "modp4096"}, {17, "modp6144"},
      {18, "modp8192"}, {19, "ecp256"},   {20, "ecp384"},   {21, "ecp521"},
  };
  const auto it = kGroups.find(g);
  if (digits.empty() || it == kGroups.end()) {
    fail(source, f,
         "Diffie-Hellman group " + quote(f.value) +
             " is not one espgw accepts (2, 14 to 21; RFC 5114's 22 to 24 are "
             "refused): change the tunnel's options in AWS and download again");
  }
  return it->second;
}

// "28800 seconds", "1379 bytes", "10": the leading number.
uint64_t number(const Field& f, const std::string& source, uint64_t min, uint64_t max,
                std::string_view unit) {
  const std::string v = trim(f.value);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const std::string rest =
      label_of(std::string_view(end, static_cast<size_t>(v.data() + v.size() - end)));
  if (ec != std::errc() || end == v.data() || (!rest.empty() && rest != unit)) {
    fail(source, f,
         "expected a number" + (unit.empty() ? "" : " of " + std::string(unit)) + ", got " +
             quote(f.value));
  }
  if (n < min || n > max) {
    fail(source, f,
         "must be " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
             quote(f.value));
  }
  return n;
}

bool flag(const Field& f, const std::string& source) {
  const std::string l = label_of(f.value);
  if (l == "enabled" || l == "true" || l == "yes") return true;
  if (l == "disabled" || l == "false" || l == "no") return false;
  fail(source, f, "expected enabled/disabled or true/false, got " + quote(f.value));
}

IpAddress address(const Field& f, const std::string& source) {
  const auto a = IpAddress::parse(f.value);
  if (!a) fail(source, f, "not an IP address: " + quote(f.value));
  return *a;
}

const Field& need(const AwsConnection& c, const AwsTunnel& t, std::string_view key) {
  if (const Field* f = t.get(key)) return *f;
  const KeyInfo& k = info(key);
  if (c.xml) {
    fail(c.source, t.line,
         t.where + ": missing <" + std::string(k.element) + "> (is the file complete?)");
  }
  fail(c.source, t.line,
       t.where + " (lines " + std::to_string(t.line) + "-" + std::to_string(t.end_line) +
           "): no \"- " + k.label + " : ...\" under \"" + k.section + "\" (is the file complete?)");
}

Tunnel convert(const AwsConnection& c, const AwsTunnel& t, const AwsOptions& o,
               std::vector<std::string>& notes) {
  const std::string& src = c.source;
  Tunnel out;
  out.from = &t;
  out.name = o.name + "-tunnel" + std::to_string(t.number);
  if (const Field* m = t.get("ike.auth_method")) {
    if (label_of(m->value) != "pre-shared key") {
      fail(src, *m,
           "authentication " + quote(m->value) +
               " cannot be mapped: espgw configures pre-shared keys only");
    }
  }
  out.psk = need(c, t, "ike.psk").value;
  bool ike_aead = false;
  const std::string ike_enc = encryption(need(c, t, "ike.encryption"), src, &ike_aead);
  const std::string ike_hash = hash(need(c, t, "ike.integrity"), src);
  const std::string ike_dh = dh_group(need(c, t, "ike.dh"), src);
  if (ike_dh.empty()) fail(src, need(c, t, "ike.dh"), "an IKE SA needs a Diffie-Hellman group");
  out.ike_proposal = ike_enc + "-" + (ike_aead ? "prf" : "") + ike_hash + "-" + ike_dh;
  bool esp_aead = false;
  const std::string esp_enc = encryption(need(c, t, "esp.encryption"), src, &esp_aead);
  out.esp_proposal = esp_enc;
  if (!esp_aead) out.esp_proposal += "-" + hash(need(c, t, "esp.integrity"), src);
  if (const Field* pfs = t.get("esp.pfs")) {
    const std::string g = dh_group(*pfs, src);
    if (!g.empty()) out.esp_proposal += "-" + g;
  }
  for (const Field* f : {t.get("ike.dh"), t.get("esp.pfs")}) {
    if (f && dh_group(*f, src) == "modp1024") {
      notes.push_back(src + ":" + std::to_string(f->line) + ": " + f->where +
                      ": DH group 2 (modp1024) is weak (RFC 8247: SHOULD NOT); AWS accepts 14 to "
                      "24: narrow the tunnel's options in AWS to group 14 or better and download "
                      "the file again");
    }
  }
  if (const Field* p = t.get("esp.protocol"); p && label_of(p->value) != "esp") {
    fail(src, *p, "protocol " + quote(p->value) + " cannot be mapped: espgw carries ESP only");
  }
  if (const Field* m = t.get("esp.mode"); m && label_of(m->value) != "tunnel") {
    fail(src, *m, "mode " + quote(m->value) + " cannot be mapped: espgw does tunnel mode only");
  }
  if (const Field* m = t.get("ike.mode"); m && label_of(m->value) != "main") {
    fail(src, *m,
         "phase 1 mode " + quote(m->value) + " cannot be mapped: espgw's IKEv1 is main mode only");
  }
  if (o.ike_version) {
    out.version = *o.ike_version;
  } else if (const Field* v = t.get("ike.version")) {
    const std::string l = label_of(v->value);
    if (l == "ikev1" || l == "1") {
      out.version = 1;
    } else if (l == "ikev2" || l == "2") {
      out.version = 2;
    } else {
      fail(src, *v, "expected IKEv1 or IKEv2, got " + quote(v->value));
    }
  } else {
    out.version = 1;
    notes.push_back(src + ":" + std::to_string(t.line) + ": " + t.where +
                    ": the file names no IKE version; IKEv1, as its main mode phase 1 implies. "
                    "AWS accepts IKEv2 too unless the tunnel's options narrow it: "
                    "--ike-version 2 (with IKEv1 a dead tunnel is left after 30 to 40 s, with "
                    "IKEv2 after about 12 s: docs/deploy-aws.md)");
  }
  out.ike_life =
      static_cast<uint32_t>(number(need(c, t, "ike.lifetime"), src, 60, 86400, "seconds"));
  out.child_life =
      static_cast<uint32_t>(number(need(c, t, "esp.lifetime"), src, 60, 86400, "seconds"));
  if (const Field* f = t.get("dpd.interval")) {
    out.dpd_delay = static_cast<uint32_t>(number(*f, src, 1, 3600, "seconds"));
  }
  if (const Field* f = t.get("dpd.retries")) {
    out.dpd_retries = static_cast<uint32_t>(number(*f, src, 1, 100, ""));
  }
  if (const Field* f = t.get("mss"))
    out.mss = static_cast<uint16_t>(number(*f, src, 536, 9176, "bytes"));
  if (const Field* f = t.get("mtu")) {
    out.mtu = static_cast<uint16_t>(number(*f, src, 576, 9216, "bytes"));
  } else {
    out.mtu = 1436;  // AWS's generic download recommends it for every tunnel; the XML has no MTU
  }
  if (const Field* f = t.get("clear_df")) out.clear_df = flag(*f, src);
  out.cgw = address(need(c, t, "outside.cgw"), src);
  out.vgw = address(need(c, t, "outside.vgw"), src);
  return out;
}

}  // namespace

Result import_aws(const std::string& text, const std::string& source, const Site& site,
                  const AwsOptions& options) {
  const size_t first = text.find_first_not_of(" \t\r\n\xef\xbb\xbf");
  if (first == std::string::npos) throw ImportError(source + ":1: the file is empty");
  const bool xml = text[first] == '<';
  AwsConnection c = xml ? parse_xml_connection(text, source) : parse_text(text, source);
  if (c.tunnels.size() < 2) {
    if (xml) {
      fail(source, c.last_line,
           "vpn_connection has " + std::to_string(c.tunnels.size()) +
               " <ipsec_tunnel>, an AWS VPN connection has two (is the file "
               "complete?)");
    }
    fail(source, c.last_line,
         c.tunnels.empty()
             ? "no \"IPSec Tunnel #1\" section: not an AWS VPN configuration (Generic) download?"
             : "the file ends after IPSec Tunnel #1: an AWS VPN connection has two tunnels (is the "
               "file complete?)");
  }
  if (site.local_cidrs.empty()) {
    throw ImportError(source +
                      ": AWS's file does not name the networks behind this gateway: give "
                      "them with --local-cidr CIDR (repeatable)");
  }
  Result r;
  r.notes = c.notes;
  if (c.bgp_line) {
    r.notes.push_back(source + ":" + std::to_string(c.bgp_line) +
                      ": the connection uses BGP (dynamic routing); espgw routes statically: the "
                      "VPC's CIDRs come from --remote-cidr, and the connection needs static routes "
                      "to --local-cidr in AWS (or keep BGP on another router)");
  }
  std::vector<IpPrefix> remote = site.remote_cidrs;
  if (remote.empty()) {
    for (const auto& f : c.static_routes) {
      const auto p = *IpPrefix::parse(f.value);
      if (std::find(remote.begin(), remote.end(), p) == remote.end()) remote.push_back(p);
    }
  }
  if (remote.empty()) {
    throw ImportError(source +
                      ": AWS's file does not name the VPC's networks: give them with "
                      "--remote-cidr CIDR (repeatable)");
  }
  std::vector<Tunnel> tunnels;
  for (const auto& t : c.tunnels)
    tunnels.push_back(convert(c, t, options, r.notes));
  if (!(tunnels[0].cgw == tunnels[1].cgw)) {
    r.notes.push_back(source + ": the two tunnels name different customer gateway addresses (" +
                      tunnels[0].cgw.to_string() + ", " + tunnels[1].cgw.to_string() +
                      "); the WAN placeholder uses the first");
  }
  // Without --wan-address the customer gateway's address stands on the WAN port: right for a
  // gateway that holds its public address, not on EC2 (an Elastic IP is a NAT).
  InterfaceAddress wan_fallback{tunnels[0].cgw,
                                static_cast<uint8_t>(tunnels[0].cgw.is_v4() ? 24 : 64)};
  const IpAddress local = wan_local(site, wan_fallback);
  const bool nat = !(local == tunnels[0].cgw);

  YamlWriter y;
  y.comment(0, "espgw config for AWS Site-to-Site VPN connection " +
                   (c.vpn_id.empty() ? std::string("(no id in the file)") : c.vpn_id) +
                   (c.cgw_id.empty() ? "" : ", customer gateway " + c.cgw_id) +
                   (c.vgw_id.empty() ? "" : ", virtual private gateway " + c.vgw_id) + ".");
  y.comment(0, "Written by `espgwctl import-aws` from " + source +
                   ". The pre-shared keys are in the secrets file named at the end, not here. "
                   "Lines marked EDIT are placeholders to replace.");
  y.blank();
  write_site(y, site, wan_fallback, true,
             "the customer gateway's address stands here; on EC2 give the DPDK ENI's private "
             "address and prefix (--wan-address 172.31.1.10/24): the Elastic IP maps onto it",
             source);
  y.blank();
  y.line(0, "tunnels:");
  for (const auto& t : tunnels) {
    const Origin o{source, t.from->line, t.from->where};
    auto at = [&](std::string_view key) {
      const Field* f = t.from->get(key);
      return f ? Origin{source, f->line, f->where} : o;
    };
    y.line(2, "- name: " + t.name, "", o);
    y.line(4, "local: " + local.to_string(),
           nat ? "the WAN port's address (NAT: the EIP maps onto it)" : "");
    std::string inside;
    if (!t.from->inside_cgw.value.empty()) {
      inside = " (inside: " + t.from->inside_cgw.value + ", for BGP only)";
    }
    y.line(4, "remote: " + t.vgw.to_string(),
           "tunnel " + std::to_string(t.from->number) + "'s outside address" + inside,
           at("outside.vgw"));
    y.line(4, "local_cidrs: " + prefix_list(site.local_cidrs));
    y.line(4, "remote_cidrs: " + prefix_list(remote));
    y.line(4, std::string("nat_t: ") + (nat ? "true" : "false"),
           nat ? "behind a NAT (an Elastic IP): ESP in UDP 4500" : "no NAT between us and AWS");
    if (t.clear_df) y.line(4, "df: clear", "AWS: clear the Don't Fragment bit", at("clear_df"));
    if (t.mtu) y.line(4, "mtu: " + std::to_string(*t.mtu), "AWS: tunnel interface MTU", at("mtu"));
    y.line(4, "mss: " + std::to_string(t.mss), "AWS: TCP MSS adjustment", at("mss"));
    y.line(4, "ike:");
    y.line(6, "version: " + std::to_string(t.version), "", at("ike.version"));
    y.line(6, "local_id: " + yaml_quote(t.cgw.to_string()),
           "the customer gateway's address, the identity AWS expects", at("outside.cgw"));
    y.line(6, "psk_ref: " + t.name);
    y.line(6, "ike_proposals: [" + t.ike_proposal + "]", "", at("ike.encryption"));
    y.line(6, "esp_proposals: [" + t.esp_proposal + "]", "", at("esp.encryption"));
    y.line(6, "ike_lifetime_s: " + std::to_string(t.ike_life), "AWS phase 1 lifetime",
           at("ike.lifetime"));
    y.line(6, "child_lifetime_s: " + std::to_string(t.child_life), "AWS phase 2 lifetime",
           at("esp.lifetime"));
    // AWS's own rekey margin is 540 s, at most half the phase 2 lifetime; with the fuzz of 100 %
    // the margin must stay below a lifetime's half.
    const uint32_t margin =
        std::max<uint32_t>(1, std::min<uint32_t>(540, std::min(t.child_life, t.ike_life) / 4));
    y.line(6, "rekey_margin_s: " + std::to_string(margin));
    y.line(6, "rekey_fuzz_percent: 100");
    y.line(6, "dpd_delay_s: " + std::to_string(t.dpd_delay), "AWS: DPD interval",
           at("dpd.interval"));
    if (t.version == 2) {
      // charon ignores dpd_timeout for IKEv2; espgw-up sets its retransmissions from this, and
      // espgw starts a DPD as soon as a tunnel's inbound traffic stops while it sends: failover
      // in about 2 + 10 s (docs/deploy-aws.md "Failover"). AWS's own side gives up after
      // interval x retries.
      y.line(6, "dpd_timeout_s: " + std::to_string(config::kDefaultIkev2DpdTimeout),
             "an unanswered DPD: tunnel dead (AWS's side: " +
                 std::to_string(t.dpd_delay * t.dpd_retries) + " s, interval x retries)",
             at("dpd.retries"));
    } else {
      y.line(6, "dpd_timeout_s: " + std::to_string(t.dpd_delay * t.dpd_retries),
             "interval x retries (" + std::to_string(t.dpd_retries) + ")", at("dpd.retries"));
    }
    y.line(6, "dpd_action: restart");
    y.line(6, "start_action: start", "we start IKE: AWS waits for the customer gateway");
    r.secrets[t.name] = t.psk;
  }
  y.blank();
  y.line(0, "peers:");
  y.line(2, "- name: " + options.name + "-vpn",
         "AWS keeps one tunnel out of service now and then: traffic takes the first one up");
  y.line(4, "tunnels: [" + tunnels[0].name + ", " + tunnels[1].name + "]");
  y.line(4, "failback: true");
  y.blank();
  y.line(0, "ike:");
  y.line(2, "secrets_file: " + site.secrets_file, "mode 0600: the pre-shared keys");
  y.move_into(r);
  return r;
}

}  // namespace espgw::import
