#include "dataplane/tools/espgwctl/show_ike.h"

#include <cstdint>
#include <string_view>

#include "dataplane/tools/espgwctl/table.h"

namespace espgw::ctl {
namespace {

using nlohmann::json;

// "42s", "3m10s", "2h5m", "1d2h": the two largest units.
std::string human_duration(const json& v) {
  if (!v.is_number_integer()) return "-";
  int64_t s = v.get<int64_t>();
  const std::string sign = s < 0 ? "-" : "";
  if (s < 0) s = -s;
  auto two = [&](int64_t big, const char* b, int64_t small, const char* u) {
    return sign + std::to_string(s / big) + b + std::to_string(s % big / small) + u;
  };
  if (s < 60) return sign + std::to_string(s) + "s";
  if (s < 3600) return two(60, "m", 1, "s");
  if (s < 86400) return two(3600, "h", 60, "m");
  return two(86400, "d", 3600, "h");
}

std::string joined(const json& list, const char* sep) {
  std::string s;
  for (const auto& x : list) {
    if (!s.empty()) s += sep;
    s += text_of(x);
  }
  return s.empty() ? "-" : s;
}

std::string ike_algorithms(const json& sa, bool ike) {
  std::string s;
  for (const char* k : {"encryption", "integrity", "prf", "dh_group"}) {
    if (!ike && std::string_view(k) == "prf") continue;
    if (!sa.contains(k)) continue;
    if (!s.empty()) s += "/";
    s += text_of(sa[k]);
  }
  if (!ike && sa.value("esn", false)) s += "/ESN";
  return s.empty() ? "no algorithms yet" : s;
}

std::string endpoint(const json& e) {
  return text_of(e.value("host", json())) + "[" + text_of(e.value("port", json())) + "]";
}

std::string ike_sa_text(const json& sa, const std::string& indent) {
  std::string s = indent + "IKE_SA #" + text_of(sa.value("uniqueid", json())) + " " +
                  text_of(sa.value("state", json()));
  if (sa.contains("established_s")) {
    s += " " + human_duration(sa["established_s"]) + " ago";
  }
  s += sa.value("initiator", false) ? ", initiator" : ", responder";
  const json local = sa.value("local", json::object());
  const json remote = sa.value("remote", json::object());
  s += ", " + endpoint(local) + " <-> " + endpoint(remote) + "\n";
  s += indent + "  " + ike_algorithms(sa, true) + ", SPIs " + text_of(sa.value("spi_i", json())) +
       "_i " + text_of(sa.value("spi_r", json())) + "_r";
  if (sa.contains("rekey_in_s")) s += ", rekey in " + human_duration(sa["rekey_in_s"]);
  if (sa.contains("reauth_in_s")) s += ", reauth in " + human_duration(sa["reauth_in_s"]);
  s += "\n";
  for (const auto& c : sa.value("child_sas", json::array())) {
    const std::string in = indent + "  ";
    s += in + "CHILD_SA " + text_of(c.value("name", json())) + " #" +
         text_of(c.value("uniqueid", json())) + " " + text_of(c.value("state", json()));
    if (c.contains("spi_in")) {
      s += ", " + text_of(c.value("protocol", json())) +
           (c.value("encap", false) ? " in UDP" : "") + ", SPIs in " + text_of(c["spi_in"]) +
           " out " + text_of(c.value("spi_out", json()));
    }
    s += "\n" + in + "  " + ike_algorithms(c, false);
    if (c.contains("rekey_in_s")) s += ", rekey in " + human_duration(c["rekey_in_s"]);
    if (c.contains("expires_in_s")) s += ", expires in " + human_duration(c["expires_in_s"]);
    s += "\n" + in + "  " + joined(c.value("local_ts", json::array()), ",") +
         " === " + joined(c.value("remote_ts", json::array()), ",") + "\n";
    if (c.contains("bytes_in")) {
      s += in + "  in " + human_bytes(number_of(c["bytes_in"])) + " (" +
           text_of(c.value("packets_in", json())) + " packets), out " +
           human_bytes(number_of(c.value("bytes_out", json()))) + " (" +
           text_of(c.value("packets_out", json())) + " packets)\n";
    }
  }
  return s;
}

}  // namespace

std::string ike_status_text(const json& r) {
  const json charon = r.value("charon", json::object());
  std::string s;
  if (charon.value("connected", false)) {
    s += "charon " + text_of(charon.value("version", json())) + " on " +
         text_of(charon.value("socket", json())) + "\n";
  } else {
    s += "charon: not connected (VICI socket " + text_of(charon.value("socket", json())) +
         "); espgw-ike keeps trying\n";
  }
  const json tunnels = r.value("tunnels", json::array());
  if (tunnels.empty()) s += "no IKE tunnels in the config\n";
  for (const auto& t : tunnels) {
    const json sas = t.value("ike_sas", json::array());
    // Appended in two steps: GCC 12 warns (-Wrestrict, falsely) about "\n" + std::string here.
    s += '\n';
    s += text_of(t.value("name", json())) + ": " + text_of(t.value("state", json()));
    if (sas.empty() && t.value("state", "") == "down") s += " (no IKE_SA)";
    s += ", IKEv" + text_of(t.value("version", json())) + " " + text_of(t.value("local", json())) +
         " <-> " + text_of(t.value("remote", json())) + ", start_action " +
         text_of(t.value("start_action", json())) + ", if_id " + text_of(t.value("if_id", json()));
    if (charon.value("connected", false) && !t.value("loaded", false)) {
      s += ", NOT LOADED in charon";
    }
    s += "\n";
    const json lanes = t.value("lanes", json::array());
    if (lanes.empty()) {
      for (const auto& sa : sas)
        s += ike_sa_text(sa, "  ");
    }
    // A tunnel of several lanes: each lane's connection, state and IKE_SAs (docs/lanes.md).
    for (const auto& l : lanes) {
      const json lsas = l.value("ike_sas", json::array());
      s += "  lane " + text_of(l.value("lane", json())) + " (" + text_of(l.value("name", json())) +
           ", if_id " + text_of(l.value("if_id", json())) +
           "): " + text_of(l.value("state", json()));
      if (charon.value("connected", false) && !l.value("loaded", false)) {
        s += ", NOT LOADED in charon";
      }
      s += "\n";
      for (const auto& sa : lsas)
        s += ike_sa_text(sa, "    ");
    }
  }
  const json others = r.value("other_ike_sas", json::array());
  if (!others.empty()) s += "\nIKE_SAs of connections not in the config:\n";
  for (const auto& sa : others) {
    s += "  " + text_of(sa.value("conn", json())) + ":\n" + ike_sa_text(sa, "    ");
  }
  return s;
}

}  // namespace espgw::ctl
