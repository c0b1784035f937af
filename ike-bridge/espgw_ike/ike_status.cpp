#include "ike-bridge/espgw_ike/ike_status.h"

#include <charconv>
#include <variant>

#include "common/version.h"
#include "ike-bridge/espgw_ike/tunnel_conn.h"

namespace espgw::ike {

using nlohmann::json;

namespace {

// charon writes numbers as decimal text; a value that is not one stays a string.
json number(const std::string& s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return v;
  uint64_t u = 0;
  const auto [uend, uec] = std::from_chars(s.data(), s.data() + s.size(), u);
  if (uec == std::errc() && uend == s.data() + s.size() && !s.empty()) return u;
  return s;
}

// Copies `key` as `as` when present: text, a number, a flag ("yes"), a hex value ("0x...").
enum class Kind { kText, kNumber, kFlag, kHex };
void copy(const vici::Section& s, json& j, const char* key, const char* as, Kind kind) {
  const std::string* v = s.find_value(key);
  if (!v) {
    if (kind == Kind::kFlag) j[as] = false;
    return;
  }
  switch (kind) {
    case Kind::kText: j[as] = *v; break;
    case Kind::kNumber: j[as] = number(*v); break;
    case Kind::kFlag: j[as] = *v == "yes" || *v == "1"; break;
    case Kind::kHex: j[as] = "0x" + *v; break;
  }
}

void copy_list(const vici::Section& s, json& j, const char* key, const char* as) {
  const vici::List* l = s.find_list(key);
  j[as] = l ? json(*l) : json::array();
}

// "AES_GCM_16-128": the algorithm and its key size, as swanctl --list-sas shows them.
void copy_algorithm(const vici::Section& s, json& j, const char* alg, const char* size,
                    const char* as) {
  const std::string* a = s.find_value(alg);
  if (!a) return;
  const std::string* k = size ? s.find_value(size) : nullptr;
  j[as] = *a + (k ? "-" + *k : "");
}

// What an IKE_SA and a CHILD_SA of list-sa have alike: id, state, time to rekey and algorithms (an
// IKE_SA has a PRF too).
void copy_sa_common(const vici::Section& s, json& j) {
  copy(s, j, "uniqueid", "uniqueid", Kind::kNumber);
  copy(s, j, "state", "state", Kind::kText);
  copy(s, j, "rekey-time", "rekey_in_s", Kind::kNumber);
  copy_algorithm(s, j, "encr-alg", "encr-keysize", "encryption");
  copy_algorithm(s, j, "integ-alg", "integ-keysize", "integrity");
  copy_algorithm(s, j, "dh-group", nullptr, "dh_group");
}

// One end of an IKE_SA ("local" or "remote"): {host, port, id} from <end>-host, -port, -id.
json endpoint(const vici::Section& s, const std::string& end) {
  json j = json::object();
  copy(s, j, (end + "-host").c_str(), "host", Kind::kText);
  copy(s, j, (end + "-port").c_str(), "port", Kind::kNumber);
  copy(s, j, (end + "-id").c_str(), "id", Kind::kText);
  return j;
}

template <typename F>
void each_section(const vici::Section& s, F f) {
  for (const auto& e : s.entries()) {
    if (const auto* sub = std::get_if<vici::Section>(&e.value)) f(e.name, *sub);
  }
}

const char* start_action_name(config::StartAction a) {
  switch (a) {
    case config::StartAction::kNone: return "none";
    case config::StartAction::kTrap: return "trap";
    case config::StartAction::kStart: return "start";
  }
  return "none";
}

}  // namespace

json child_sa_json(const vici::Section& c) {
  json j = json::object();
  copy_sa_common(c, j);
  copy(c, j, "name", "name", Kind::kText);
  copy(c, j, "reqid", "reqid", Kind::kNumber);
  copy(c, j, "mode", "mode", Kind::kText);
  copy(c, j, "protocol", "protocol", Kind::kText);
  copy(c, j, "encap", "encap", Kind::kFlag);
  copy(c, j, "spi-in", "spi_in", Kind::kHex);
  copy(c, j, "spi-out", "spi_out", Kind::kHex);
  copy(c, j, "if-id-in", "if_id_in", Kind::kHex);
  copy(c, j, "if-id-out", "if_id_out", Kind::kHex);
  copy(c, j, "esn", "esn", Kind::kFlag);
  copy(c, j, "bytes-in", "bytes_in", Kind::kNumber);
  copy(c, j, "packets-in", "packets_in", Kind::kNumber);
  copy(c, j, "use-in", "last_in_s", Kind::kNumber);
  copy(c, j, "bytes-out", "bytes_out", Kind::kNumber);
  copy(c, j, "packets-out", "packets_out", Kind::kNumber);
  copy(c, j, "use-out", "last_out_s", Kind::kNumber);
  copy(c, j, "life-time", "expires_in_s", Kind::kNumber);
  copy(c, j, "install-time", "installed_s", Kind::kNumber);
  copy_list(c, j, "local-ts", "local_ts");
  copy_list(c, j, "remote-ts", "remote_ts");
  return j;
}

json ike_sa_json(const vici::Section& s) {
  json j = json::object();
  copy_sa_common(s, j);
  copy(s, j, "version", "version", Kind::kNumber);
  copy(s, j, "initiator", "initiator", Kind::kFlag);
  j["local"] = endpoint(s, "local");
  j["remote"] = endpoint(s, "remote");
  copy(s, j, "initiator-spi", "spi_i", Kind::kHex);
  copy(s, j, "responder-spi", "spi_r", Kind::kHex);
  copy(s, j, "nat-local", "nat_local", Kind::kFlag);
  copy(s, j, "nat-remote", "nat_remote", Kind::kFlag);
  copy_algorithm(s, j, "prf-alg", nullptr, "prf");
  copy(s, j, "established", "established_s", Kind::kNumber);
  copy(s, j, "reauth-time", "reauth_in_s", Kind::kNumber);
  json children = json::array();
  if (const vici::Section* cs = s.find_section("child-sas")) {
    each_section(*cs, [&](const std::string&, const vici::Section& c) {
      children.push_back(child_sa_json(c));
    });
  }
  j["child_sas"] = children;
  return j;
}

CharonView query_charon(vici::Requester& charon) {
  CharonView v;
  v.connected = true;
  v.version = charon.request("version", {}).value_or("version");
  charon.request_streamed("list-conns", {}, "list-conn",
                          [&](const vici::Message& m) { v.conns.push_back(m); });
  charon.request_streamed("list-sas", vici::Message().add("noblock", "yes"), "list-sa",
                          [&](const vici::Message& m) { v.ike_sas.push_back(m); });
  return v;
}

json status_json(const config::Config& config, const CharonView& view) {
  json tunnels = json::array();
  std::vector<bool> claimed(view.ike_sas.size(), false);
  for (const auto& t : config.tunnels) {
    if (!t.ike) continue;
    const config::IkeConfig& ike = *t.ike;
    json j = {
        {"name", t.name},
        {"if_id", if_id_text(config::tunnel_if_id(t.name))},
        {"version", ike.version},
        {"local", t.local.to_string()},
        {"remote", t.remote.to_string()},
        {"local_id", ike.local_id.empty() ? t.local.to_string() : ike.local_id},
        {"remote_id", ike.remote_id.empty() ? t.remote.to_string() : ike.remote_id},
        {"start_action", start_action_name(ike.start_action)},
    };
    // One lane's connection: loaded or not, its IKE_SAs and its state, the best of theirs (one
    // ESTABLISHED wins over one CONNECTING).
    auto lane = [&](const std::string& name, json& out) {
      bool loaded = false;
      for (const auto& c : view.conns)
        loaded = loaded || c.find_section(name) != nullptr;
      out["loaded"] = loaded;
      json sas = json::array();
      std::string state = view.connected ? "down" : "unknown";
      for (size_t i = 0; i < view.ike_sas.size(); ++i) {
        const vici::Section* sa = view.ike_sas[i].find_section(name);
        if (!sa) continue;
        claimed[i] = true;
        json s = ike_sa_json(*sa);
        const std::string st = s.value("state", "");
        if (state == "down" || st == "ESTABLISHED") state = st;
        sas.push_back(std::move(s));
      }
      out["state"] = state;
      out["ike_sas"] = sas;
    };
    // Lane 0 is the tunnel's own connection; a tunnel of several lanes lists every lane too.
    lane(t.name, j);
    if (t.lanes > 1) {
      json lanes = json::array();
      unsigned up = 0;
      for (unsigned k = 0; k < t.lanes; ++k) {
        json l = {{"lane", k},
                  {"name", config::lane_name(t.name, k)},
                  {"if_id", if_id_text(config::lane_if_id(t.name, k))}};
        if (k == 0) {
          l["loaded"] = j["loaded"];
          l["state"] = j["state"];
          l["ike_sas"] = j["ike_sas"];
        } else {
          lane(config::lane_name(t.name, k), l);
        }
        up += l["state"] == "ESTABLISHED" ? 1 : 0;
        lanes.push_back(std::move(l));
      }
      j["lanes"] = std::move(lanes);
      j["lanes_established"] = up;
    }
    tunnels.push_back(std::move(j));
  }
  json others = json::array();
  for (size_t i = 0; i < view.ike_sas.size(); ++i) {
    if (claimed[i]) continue;
    each_section(view.ike_sas[i], [&](const std::string& name, const vici::Section& sa) {
      json s = ike_sa_json(sa);
      s["conn"] = name;
      others.push_back(std::move(s));
    });
  }
  json charon = {{"connected", view.connected}, {"socket", view.socket}};
  if (!view.version.empty()) charon["version"] = view.version;
  return {{"ok", true},
          {"espgw_ike", {{"version", kVersion}, {"commit", kCommit}}},
          {"charon", charon},
          {"tunnels", tunnels},
          {"other_ike_sas", others}};
}

}  // namespace espgw::ike
