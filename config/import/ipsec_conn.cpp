// One ipsec.conf conn into an espgw tunnel (ipsec_conf.h): strongSwan's values (times, yes/no,
// proposals), the checks of what espgw cannot do (auth, mode, selectors), the outer addresses and
// subnets, and the notes on every key that is not carried over.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <string_view>

#include "config/import/ipsec_conf.h"
#include "config/import/text.h"

namespace espgw::import::ipsec {
namespace {

bool is_encryption(std::string_view t) {
  return t.starts_with("aes") || t.starts_with("3des") || t.starts_with("des") ||
         t.starts_with("camellia") || t.starts_with("chacha") || t.starts_with("blowfish") ||
         t.starts_with("cast") || t == "null";
}
bool is_integrity(std::string_view t) {
  return t.starts_with("sha") || t.starts_with("md5") || t.starts_with("aesxcbc") ||
         t.starts_with("aescmac") || t.starts_with("aes128gmac") || t.starts_with("aes192gmac") ||
         t.starts_with("aes256gmac");
}

// ESP proposals in strongSwan may list several algorithms of a kind; the dataplane takes one
// encryption and one integrity algorithm per proposal, so such a proposal becomes several.
std::vector<std::string> split_esp_proposal(const std::string& proposal) {
  std::vector<std::string> enc, integ, rest;
  std::istringstream in(proposal);
  for (std::string t; std::getline(in, t, '-');) {
    if (t.empty()) return {proposal};  // let the validator name the empty keyword
    if (is_integrity(t)) {
      integ.push_back(t);
    } else if (is_encryption(t)) {
      enc.push_back(t);
    } else {
      rest.push_back(t);
    }
  }
  if (enc.size() <= 1 && integ.size() <= 1) return {proposal};
  std::vector<std::string> out;
  std::string tail;
  for (const auto& r : rest)
    tail += "-" + r;
  for (const auto& e : enc) {
    if (integ.empty()) out.push_back(e + tail);
    for (const auto& i : integ)
      out.push_back(e + "-" + i + tail);
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items)
    out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::optional<IpAddress> literal_address(const std::string& v) {
  return IpAddress::parse(v);
}

// The keys mapped here and in ipsec_conf.cpp; every other key of a conn is reported.
const std::set<std::string> kMapped = {
    "also",        "auto",        "type",         "authby",      "leftauth",    "rightauth",
    "left",        "leftsubnet",  "leftid",       "right",       "rightsubnet", "rightid",
    "keyexchange", "ike",         "esp",          "ikelifetime", "keylife",     "lifetime",
    "rekeymargin", "margintime",  "rekeyfuzz",    "mobike",      "dpdaction",   "dpddelay",
    "dpdtimeout",  "forceencaps", "replay_window"};

// Why some common options are not carried over.
const std::map<std::string, std::string> kWhy = {
    {"keyingtries",
     "espgw has no setting for it; charon's default for espgw-ike's connections applies"},
    {"leftfirewall",
     "espgw adds no kernel firewall rules: the dataplane forwards what its routes say"},
    {"rightfirewall", "espgw adds no kernel firewall rules"},
    {"leftupdown", "espgw runs no updown script"},
    {"rightupdown", "espgw runs no updown script"},
    {"compress", "espgw does no IPComp"},
    {"fragmentation", "charon's IKE fragmentation default applies"},
    {"reauth", "charon's default applies"},
    {"rekey", "espgw always rekeys"},
    {"closeaction", "espgw has no setting for it"},
    {"inactivity", "espgw has no setting for it"},
    {"installpolicy", "espgw routes by the tunnel's CIDRs, there are no kernel policies"},
    {"leftsendcert", "espgw configures pre-shared keys only"},
    {"rightsendcert", "espgw configures pre-shared keys only"},
    {"ikedscp", "espgw has no setting for it"},
    {"mark", "espgw ties SAs to tunnels by interface ID, not by mark"},
    {"mark_in", "espgw ties SAs to tunnels by interface ID, not by mark"},
    {"mark_out", "espgw ties SAs to tunnels by interface ID, not by mark"},
    {"reqid", "espgw ties SAs to tunnels by interface ID"},
    {"dpd", "use dpdaction"},
};

// auto=: add, start and route load the conn; ignore (strongSwan's default) leaves it out.
bool loaded(const Section& sec, const Settings& s, const Resolver& resolver,
            std::vector<std::string>& notes) {
  const auto it = s.find("auto");
  const Param* autop = it == s.end() ? nullptr : &it->second;
  const std::string autov = autop ? autop->value : "ignore";
  if (autov == "ignore") {
    notes.push_back(sec.at() + ": conn " + sec.name + ": auto=ignore" +
                    (autop ? "" : " (the default)") +
                    ": strongSwan does not load it, so it is not imported" +
                    (resolver.used_by_also(sec.name) ? " (it is used through also=)" : ""));
    return false;
  }
  if (autov != "add" && autov != "start" && autov != "route") {
    fail(autop->at(),
         "conn " + sec.name + ": auto=" + autov + ": expected add, start, route or ignore");
  }
  return true;
}

// Tunnel names follow config names: letters, digits, '-', '_', '.', at most 32.
std::string tunnel_name(const Section& sec, std::vector<std::string>& notes) {
  std::string name;
  for (char c : sec.name)
    name +=
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '-';
  if (name.size() > 32) name.resize(32);
  if (name != sec.name) {
    notes.push_back(sec.at() + ": conn " + sec.name + ": named \"" + name +
                    "\" in espgw (names are letters, digits, '-', '_', '.', at most 32)");
  }
  return name;
}

// Tunnel mode with pre-shared keys on both ends, or a failure naming the key.
void check_type_and_auth(const Mapped& m) {
  const std::string& conn = m.conn();
  const Param* type = m.get("type");
  if (type && type->value != "tunnel") {
    fail(type->at(), "conn " + conn + ": type=" + type->value +
                         " cannot be mapped: espgw does tunnel mode only");
  }
  const Param* authby = m.get("authby");
  const Param* la = m.get("leftauth");
  const Param* ra = m.get("rightauth");
  const bool psk = authby ? (authby->value == "secret" || authby->value == "psk")
                          : (la && la->value == "psk" && ra && ra->value == "psk");
  if (!psk) {
    const Param* p = authby ? authby : la ? la : ra;
    fail(p ? p->at() : m.section->at(),
         "conn " + conn + ": " +
             (p ? p->key + "=" + p->value
                : std::string("no authby= (strongSwan's default is pubkey)")) +
             " cannot be mapped: espgw configures pre-shared keys only (authby=secret)");
  }
  for (const char* k : {"leftauth", "rightauth"}) {
    if (const Param* p = m.get(k); p && p->value != "psk") {
      fail(p->at(), "conn " + conn + ": " + k + "=" + p->value +
                        " cannot be mapped: espgw configures pre-shared keys only");
    }
  }
}

// left= (or --wan-address) and right=: literal addresses of one family.
void outer_addresses(Mapped& m, const Site& site, std::vector<std::string>& notes) {
  const std::string& conn = m.conn();
  const Param* left = m.get("left");
  if (site.wan_address) {
    m.local = site.wan_address->address;
    if (left && literal_address(left->value) && !(*literal_address(left->value) == m.local)) {
      notes.push_back(left->at() + ": conn " + conn + ": left=" + left->value +
                      " replaced by the WAN address " + m.local.to_string() + " (--wan-address)");
    }
  } else if (left && literal_address(left->value)) {
    m.local = *literal_address(left->value);
  } else {
    fail(left ? left->at() : m.section->at(),
         "conn " + conn + ": " + (left ? "left=" + left->value : std::string("no left=")) +
             ": espgw needs this gateway's address: give it with --wan-address ADDRESS/LENGTH");
  }
  const Param* right = m.get("right");
  if (!right || !literal_address(right->value)) {
    fail(right ? right->at() : m.section->at(),
         "conn " + conn + ": " + (right ? "right=" + right->value : std::string("no right=")) +
             " cannot be mapped: an espgw tunnel needs the peer's IP address");
  }
  m.remote = *literal_address(right->value);
  if (m.local.family != m.remote.family) {
    fail(right->at(), "conn " + conn + ": left and right are of different address families");
  }
}

// leftsubnet= or rightsubnet= (`key`): the prefixes, or the host itself without it.
std::vector<IpPrefix> subnets(const Mapped& m, const char* key, const IpAddress& host,
                              std::vector<std::string>& notes) {
  const std::string& conn = m.conn();
  std::vector<IpPrefix> out;
  const Param* p = m.get(key);
  if (!p || p->value == "%dynamic") {
    IpPrefix h;
    h.address = host;
    h.length = static_cast<uint8_t>(host.is_v4() ? 32 : 128);
    out.push_back(h);
    notes.push_back((p ? p->at() : m.section->at()) + ": conn " + conn + ": no " + key +
                    ": the host itself, " + h.to_string());
    return out;
  }
  for (const auto& item : split_list(p->value)) {
    if (item.find('[') != std::string::npos) {
      fail(p->at(), "conn " + conn + ": " + key + "=" + p->value +
                        ": protocol/port selectors cannot be mapped (espgw's tunnels carry "
                        "whole prefixes)");
    }
    const auto a = InterfaceAddress::parse(item);
    if (!a) fail(p->at(), "conn " + conn + ": " + key + ": not a subnet: \"" + item + "\"");
    const IpPrefix net = a->network();
    if (!(net.address == a->address)) {
      notes.push_back(p->at() + ": conn " + conn + ": " + key + ": " + item +
                      " has host bits set; taken as " + net.to_string() + " (as strongSwan does)");
    }
    out.push_back(net);
  }
  return out;
}

// The keys espgw has no place for: noted, or refused where dropping them changes what the tunnel
// carries.
void report_unmapped(const Mapped& m, std::vector<std::string>& notes) {
  const std::string& conn = m.conn();
  for (const auto& [k, p] : m.s) {
    if (kMapped.count(k)) continue;
    if (k == "leftprotoport" || k == "rightprotoport") {
      if (p.value == "%any" || p.value == "0/0") continue;
      fail(p.at(), "conn " + conn + ": " + k + "=" + p.value +
                       " cannot be mapped: espgw's tunnels carry whole prefixes");
    }
    if (k == "aggressive" && p.value == "yes") {
      fail(p.at(), "conn " + conn +
                       ": aggressive=yes cannot be mapped: espgw's IKEv1 is main "
                       "mode only");
    }
    if (k == "leftsourceip" || k == "rightsourceip") {
      fail(p.at(), "conn " + conn + ": " + k + "=" + p.value +
                       " cannot be mapped: espgw assigns no virtual IPs");
    }
    if ((k == "compress" || k == "aggressive" || k == "rekey") && p.value == "no") continue;
    const auto why = kWhy.find(k);
    notes.push_back(p.at() + ": conn " + conn + ": " + k + "=" + p.value + ": not carried over" +
                    (why != kWhy.end() ? " (" + why->second + ")" : " (no espgw equivalent)"));
  }
}

}  // namespace

const Param* Mapped::get(const std::string& key) const {
  const auto it = s.find(key);
  return it == s.end() ? nullptr : &it->second;
}

std::optional<Mapped> map_conn(const Section& conn, const Resolver& resolver, const Site& site,
                               std::vector<std::string>& notes) {
  Settings s = resolver.effective(conn);
  if (!loaded(conn, s, resolver, notes)) return std::nullopt;
  Mapped m;
  m.section = &conn;
  m.s = std::move(s);
  m.name = tunnel_name(conn, notes);
  check_type_and_auth(m);
  outer_addresses(m, site, notes);
  m.local_cidrs = subnets(m, "leftsubnet", m.local, notes);
  m.remote_cidrs = subnets(m, "rightsubnet", m.remote, notes);
  if (!site.local_cidrs.empty() || !site.remote_cidrs.empty()) {
    notes.push_back(conn.at() + ": conn " + conn.name +
                    ": --local-cidr/--remote-cidr are not used: ipsec.conf names the subnets");
  }
  report_unmapped(m, notes);
  return m;
}

// ---- values ---------------------------------------------------------------------------------

uint64_t seconds(const Param& p, const std::string& conn) {
  std::string v = p.value;
  uint64_t mult = 1;
  if (!v.empty() && std::isalpha(static_cast<unsigned char>(v.back()))) {
    switch (v.back()) {
      case 's': break;
      case 'm': mult = 60; break;
      case 'h': mult = 3600; break;
      case 'd': mult = 86400; break;
      default: fail(p.at(), "conn " + conn + ": " + p.key + "=" + p.value + ": unknown time unit");
    }
    v.pop_back();
  }
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    fail(p.at(),
         "conn " + conn + ": " + p.key + "=" + p.value + ": not a time (e.g. 3600, 60m, 1h)");
  }
  return n * mult;
}

bool yes_no(const Param& p, const std::string& conn) {
  if (p.value == "yes" || p.value == "true") return true;
  if (p.value == "no" || p.value == "false") return false;
  fail(p.at(), "conn " + conn + ": " + p.key + "=" + p.value + ": expected yes or no");
}

int ike_version(const Param* p, const std::string& conn, std::vector<std::string>& notes) {
  if (!p || p->value == "ikev2") return 2;
  if (p->value == "ikev1") return 1;
  if (p->value == "ike") {
    notes.push_back(p->at() + ": conn " + conn +
                    ": keyexchange=ike: strongSwan initiates IKEv2 and accepts both; espgw "
                    "uses IKEv2");
    return 2;
  }
  fail(p->at(), "conn " + conn + ": keyexchange=" + p->value + ": expected ikev1 or ikev2");
}

std::string proposals(const Param* p, bool esp, const std::string& conn,
                      std::vector<std::string>& notes) {
  if (!p) return std::string();
  std::vector<std::string> items;
  bool strict = false;
  for (auto item : split_list(p->value)) {
    if (!item.empty() && item.back() == '!') {
      strict = true;
      item.pop_back();
    }
    if (!esp) {
      items.push_back(item);
      continue;
    }
    const auto parts = split_esp_proposal(item);
    if (parts.size() > 1) {
      notes.push_back(p->at() + ": conn " + conn + ": esp proposal " + item + " became " +
                      joined(parts) +
                      " (the dataplane takes one algorithm of a kind "
                      "per proposal)");
    }
    items.insert(items.end(), parts.begin(), parts.end());
  }
  if (!strict) {
    notes.push_back(p->at() + ": conn " + conn + ": " + p->key + "=" + p->value +
                    " has no '!': strongSwan also offered its default proposals, espgw "
                    "offers only those listed");
  }
  return joined(items);
}

}  // namespace espgw::import::ipsec
