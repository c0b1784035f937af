// import-ipsec-conf: the classic strongSwan set-up (ipsec.conf in starter syntax, ipsec.secrets)
// into an espgw config. The subset mapped is what site-to-site PSK tunnels use; every other option
// is reported with its file, line and conn, and what cannot be mapped at all (certificates,
// transport mode, a peer without an address) fails with the reason.
//
// strongSwan's semantics kept: a conn's own settings win over those it pulls in with also=, which
// win over conn %default; `key=` with no value resets a key to its default; a conn without
// auto= (auto=ignore) is not loaded. Where strongSwan's defaults differ from espgw's (lifetimes,
// DPD, MOBIKE) the generated config states strongSwan's, so the tunnel behaves as before.
//
// This file is the driver and the YAML it writes; ipsec_conf.h lists the files that read
// ipsec.conf and ipsec.secrets and map one conn.

#include <algorithm>
#include <initializer_list>
#include <map>

#include "config/charon_retransmit.h"
#include "config/import/import.h"
#include "config/import/ipsec_conf.h"
#include "config/import/site.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {
namespace {

using ipsec::fail;
using ipsec::Mapped;
using ipsec::Param;

// The conns to import, in file order; the notes on the sections that are not conns.
std::vector<Mapped> map_sections(const std::vector<ipsec::Section>& sections,
                                 const ipsec::Resolver& resolver, const Site& site,
                                 std::vector<std::string>& notes) {
  std::vector<Mapped> conns;
  for (const auto& sec : sections) {
    if (sec.kind == "config") {
      for (const auto& p : sec.params) {
        notes.push_back(p.at() + ": config setup: " + p.key + "=" + p.value +
                        ": charon's own settings, not carried over (strongswan.conf and "
                        "espgw-ike's charon set-up apply)");
      }
      continue;
    }
    if (sec.kind == "ca") {
      notes.push_back(sec.at() + ": ca " + sec.name +
                      ": not carried over (espgw configures "
                      "pre-shared keys only)");
      continue;
    }
    if (sec.name == "%default") continue;
    if (auto m = ipsec::map_conn(sec, resolver, site, notes)) conns.push_back(std::move(*m));
  }
  return conns;
}

// One tunnel of the generated config, each line with the ipsec.conf line it came from.
class TunnelWriter {
 public:
  TunnelWriter(YamlWriter& y, const Mapped& m, Result& r, const std::vector<ipsec::Psk>& psks,
               const std::string& secrets_path)
      : y_(y), m_(m), conn_(m.conn()), r_(r), psks_(psks), secrets_path_(secrets_path) {}

  void write() {
    y_.line(2, "- name: " + m_.name, "conn " + conn_, origin(""));
    y_.line(4, "local: " + m_.local.to_string(), "", origin("left"));
    y_.line(4, "remote: " + m_.remote.to_string(), "", origin("right"));
    y_.line(4, "local_cidrs: " + prefix_list(m_.local_cidrs), "", origin("leftsubnet"));
    y_.line(4, "remote_cidrs: " + prefix_list(m_.remote_cidrs), "", origin("rightsubnet"));
    if (const Param* p = m_.get("forceencaps"); p && ipsec::yes_no(*p, conn_)) {
      y_.line(4, "nat_t: true", "forceencaps=yes", origin("forceencaps"));
    }
    if (const Param* p = m_.get("replay_window")) {
      y_.line(4, "replay_window: " + p->value, "", origin("replay_window"));
    }
    y_.line(4, "ike:");
    const int version = ipsec::ike_version(m_.get("keyexchange"), conn_, r_.notes);
    y_.line(6, "version: " + std::to_string(version), "", origin("keyexchange"));
    if (const Param* p = m_.get("leftid"))
      y_.line(6, "local_id: " + yaml_quote(p->value), "", origin("leftid"));
    if (const Param* p = m_.get("rightid"))
      y_.line(6, "remote_id: " + yaml_quote(p->value), "", origin("rightid"));
    psk();
    proposals();
    lifetimes();
    dpd(version);
    const std::string& autov = m_.s.at("auto").value;
    const std::string start = autov == "start" ? "start" : autov == "route" ? "trap" : "none";
    y_.line(6, "start_action: " + start, "auto=" + autov, origin("auto"));
    if (version == 2) {
      const Param* mob = m_.get("mobike");
      const bool on = mob ? ipsec::yes_no(*mob, conn_) : true;
      y_.line(6, std::string("mobike: ") + (on ? "true" : "false"),
              mob ? "" : "strongSwan's default for IKEv2", origin("mobike"));
    }
  }

 private:
  Origin origin(const char* k) const {
    const Param* p = m_.get(k);
    return p ? Origin{p->file, p->line, "conn " + conn_ + ": " + p->key + "=" + p->value}
             : Origin{m_.section->file, m_.section->line, "conn " + conn_};
  }

  // The key of ipsec.secrets that strongSwan takes for this conn's IDs.
  void psk() {
    const Param* leftid = m_.get("leftid");
    const Param* rightid = m_.get("rightid");
    const std::string me = leftid ? leftid->value : m_.local.to_string();
    const std::string other = rightid ? rightid->value : m_.remote.to_string();
    const ipsec::Psk* key = ipsec::find_psk(psks_, me, other, conn_);
    if (!key) {
      fail(m_.section->at(),
           "conn " + conn_ + ": no PSK in " +
               (secrets_path_.empty() ? std::string("ipsec.secrets (none given: --secrets FILE)")
                                      : secrets_path_) +
               " matches " + me + " and " + other);
    }
    r_.secrets[m_.name] = key->secret;
    y_.line(6, "psk_ref: " + m_.name, "from " + key->at, Origin{key->at, 0, "conn " + conn_});
  }

  void proposals() {
    const std::string ike = ipsec::proposals(m_.get("ike"), false, conn_, r_.notes);
    y_.line(6, "ike_proposals: [" + (ike.empty() ? std::string("default") : ike) + "]",
            ike.empty() ? "no ike=: charon's default proposals" : "", origin("ike"));
    const std::string esp = ipsec::proposals(m_.get("esp"), true, conn_, r_.notes);
    if (!esp.empty()) {
      y_.line(6, "esp_proposals: [" + esp + "]", "", origin("esp"));
      return;
    }
    r_.notes.push_back(m_.section->at() + ": conn " + conn_ +
                       ": no esp=: strongSwan's defaults include algorithms the dataplane does "
                       "not carry; espgw's defaults are used (aes128gcm16-modp2048, "
                       "aes128-sha256-modp2048): check that the peer accepts them");
    y_.line(6, "esp_proposals: [aes128gcm16-modp2048, aes128-sha256-modp2048]",
            "no esp=: espgw's defaults", origin("esp"));
  }

  // `yaml_key` from the first of `keys` the conn has, or strongSwan's default.
  uint64_t time_line(std::initializer_list<const char*> keys, const char* yaml_key, uint64_t dflt,
                     const char* dflt_text) {
    for (const char* k : keys) {
      if (const Param* p = m_.get(k)) {
        y_.line(6, std::string(yaml_key) + ": " + std::to_string(ipsec::seconds(*p, conn_)), "",
                origin(k));
        return ipsec::seconds(*p, conn_);
      }
    }
    y_.line(6, std::string(yaml_key) + ": " + std::to_string(dflt),
            std::string("strongSwan's default, ") + dflt_text);
    return dflt;
  }

  void lifetimes() {
    time_line({"ikelifetime"}, "ike_lifetime_s", 10800, "3h");
    time_line({"lifetime", "keylife"}, "child_lifetime_s", 3600, "1h");
    time_line({"margintime", "rekeymargin"}, "rekey_margin_s", 540, "9m");
    if (const Param* p = m_.get("rekeyfuzz")) {
      std::string v = p->value;
      if (!v.empty() && v.back() == '%') v.pop_back();
      y_.line(6, "rekey_fuzz_percent: " + v, "", origin("rekeyfuzz"));
    }
  }

  void dpd(int version) {
    const Param* action = m_.get("dpdaction");
    const std::string act = action ? action->value : "none";
    if (act == "none") {
      y_.line(6, "dpd_delay_s: 0",
              action ? "dpdaction=none" : "no dpdaction: strongSwan's default none",
              origin("dpdaction"));
      return;
    }
    const std::map<std::string, std::string> kActions = {
        {"clear", "clear"}, {"hold", "trap"}, {"restart", "restart"}};
    const auto it = kActions.find(act);
    if (it == kActions.end()) {
      fail(action->at(),
           "conn " + conn_ + ": dpdaction=" + act + ": expected none, clear, hold or restart");
    }
    time_line({"dpddelay"}, "dpd_delay_s", 30, "30s");
    if (version == 2) {
      // strongSwan reads dpdtimeout= for IKEv1 only; an IKEv2 peer was dead when charon's
      // retransmissions ran out (about 165 s by default). espgw-up sets those from
      // dpd_timeout_s (config/charon_retransmit.h).
      if (const Param* p = m_.get("dpdtimeout")) {
        r_.notes.push_back(p->at() + ": conn " + conn_ + ": dpdtimeout=" + p->value +
                           ": strongSwan ignores it for IKEv2; dpd_timeout_s: " +
                           std::to_string(config::kDefaultIkev2DpdTimeout) +
                           " (an unanswered DPD declares the peer dead after that long)");
      }
      y_.line(6, "dpd_timeout_s: " + std::to_string(config::kDefaultIkev2DpdTimeout),
              "IKEv2: an unanswered DPD declares the peer dead after this long");
    } else {
      time_line({"dpdtimeout"}, "dpd_timeout_s", 150, "150s");
    }
    y_.line(6, "dpd_action: " + it->second, "", origin("dpdaction"));
  }

  YamlWriter& y_;
  const Mapped& m_;
  const std::string& conn_;
  Result& r_;
  const std::vector<ipsec::Psk>& psks_;
  const std::string& secrets_path_;
};

// Conns with the same subnets on both sides, in the order of their first conn.
std::vector<std::vector<const Mapped*>> same_subnets(const std::vector<Mapped>& conns) {
  std::map<std::string, size_t> index;
  std::vector<std::vector<const Mapped*>> groups;
  auto by_text = [](const IpPrefix& a, const IpPrefix& b) { return a.to_string() < b.to_string(); };
  for (const auto& m : conns) {
    auto l = m.local_cidrs;
    auto rc = m.remote_cidrs;
    std::sort(l.begin(), l.end(), by_text);
    std::sort(rc.begin(), rc.end(), by_text);
    const auto [it, inserted] =
        index.emplace(prefix_list(l) + " " + prefix_list(rc), groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(&m);
  }
  return groups;
}

// Conns with the same subnets on both sides back each other up (the two tunnels of an AWS VPN
// connection): espgw groups them in a peer, auto=start ones first, then in file order.
void write_peers(YamlWriter& y, const std::vector<Mapped>& conns, std::vector<std::string>& notes) {
  bool peers = false;
  for (auto& g : same_subnets(conns)) {
    if (g.size() < 2) continue;
    std::stable_sort(g.begin(), g.end(), [](const Mapped* a, const Mapped* b) {
      return (a->s.at("auto").value == "start") > (b->s.at("auto").value == "start");
    });
    if (!peers) {
      y.blank();
      y.line(0, "peers:");
      peers = true;
    }
    std::string names;
    for (const auto* m : g)
      names += (names.empty() ? "" : ", ") + m->name;
    std::string peer = g.front()->name;
    if (peer.size() > 27) peer.resize(27);
    peer += "-peer";
    y.line(2, "- name: " + peer, "conns with the same subnets: they back each other up");
    y.line(4, "tunnels: [" + names + "]");
    y.line(4, "failback: true");
    notes.push_back(g.front()->section->at() + ": conns " + names +
                    " carry the same subnets: grouped in peer " + peer +
                    " (traffic takes the first one that is up)");
  }
}

// The header comment and dataplane:, interfaces:, routes: with the conns' left addresses.
void write_head(YamlWriter& y, const std::vector<Mapped>& conns, const std::string& path,
                const Site& site, const IpsecConfOptions& options) {
  std::vector<InterfaceAddress> lefts;
  if (!site.wan_address) {
    for (const auto& m : conns) {
      InterfaceAddress a{m.local, static_cast<uint8_t>(m.local.is_v4() ? 24 : 64)};
      if (std::none_of(lefts.begin(), lefts.end(),
                       [&](const InterfaceAddress& x) { return x.address == a.address; })) {
        lefts.push_back(a);
      }
    }
  }
  y.comment(0, "espgw config written by `espgwctl import-ipsec-conf` from " + path +
                   (options.secrets_path.empty() ? "" : " and " + options.secrets_path) +
                   ". The pre-shared keys are in the secrets file named at the end, not here. "
                   "Lines marked EDIT are placeholders to replace.");
  y.blank();
  InterfaceAddress first = lefts.empty() ? *site.wan_address : lefts.front();
  std::vector<InterfaceAddress> extra;
  for (size_t i = 1; i < lefts.size(); ++i) {
    extra.push_back({lefts[i].address, static_cast<uint8_t>(lefts[i].address.is_v4() ? 32 : 128)});
  }
  write_site(y, site, first, true,
             "ipsec.conf's left with an assumed /" + std::to_string(first.length) +
                 ": give the port's address and prefix with --wan-address ADDRESS/LENGTH",
             path, extra);
}

}  // namespace

Result import_ipsec_conf(const std::string& path, const Site& site,
                         const IpsecConfOptions& options) {
  ipsec::ConfReader conf;
  conf.read(path, 0, "");
  const ipsec::Resolver resolver(conf.sections);
  Result r;
  r.notes = conf.notes;
  ipsec::SecretsReader secrets;
  if (!options.secrets_path.empty()) {
    secrets.read(options.secrets_path, 0, "");
    for (const auto& n : secrets.notes)
      r.notes.push_back(n);
  }
  const std::vector<Mapped> conns = map_sections(conf.sections, resolver, site, r.notes);
  if (conns.empty()) {
    throw ImportError(path + ": no conn with auto=add, start or route: nothing to import");
  }
  YamlWriter y;
  write_head(y, conns, path, site, options);
  y.blank();
  y.line(0, "tunnels:");
  for (const auto& m : conns)
    TunnelWriter(y, m, r, secrets.psks, options.secrets_path).write();
  write_peers(y, conns, r.notes);
  write_secrets_file(y, site);
  y.move_into(r);
  return r;
}

}  // namespace espgw::import
