// espgw-config-check [--json] FILE: loads and validates an espgw config, as every espgw binary
// would. Prints "FILE: ok (N interfaces, M tunnels, K routes)" and exits 0, or prints the errors to
// stderr and exits 1. Exits 2 on a usage error. Warnings (what loads but will not behave as
// written, e.g. DPD timeouts that charon's global retransmissions cannot honour) go to stderr as
// "warning: FILE:LINE: KEY: why" either way.
//
// --json prints instead, on success, one JSON object with what a tool that starts espgw, charon
// and espgw-ike needs from the config (scripts/espgw-up): the sockets with defaults applied, the
// interfaces with their kernel interfaces, the tunnels, and a digest of the dataplane's part of
// the file (to tell a reload that espgw must be restarted for), dynamic routing (routing.fpm, the
// tunnels' inside addresses and BGP, and FRR's rendered config when bgp is enabled: "frr"). Never
// a key or pre-shared key.

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/version.h"
#include "config/charon_retransmit.h"
#include "config/config.h"
#include "config/frr_conf.h"

namespace {

const char* const kUsage =
    "usage: espgw-config-check [--json] FILE\n"
    "       espgw-config-check --version\n"
    "\n"
    "Loads and checks espgw's config FILE (and the secrets file it names) as espgw would, and\n"
    "prints a summary line; --json prints what the config holds as one JSON object instead.\n"
    "Exits 0 when the config is valid, 1 with the error (file, line, key) when it is not, and\n"
    "2 on a usage error. Warnings (what loads but will not behave as the file may intend) go\n"
    "to stderr.\n";

const char* exception_kind(espgw::config::ExceptionKind k) {
  switch (k) {
    case espgw::config::ExceptionKind::kTap: return "tap";
    case espgw::config::ExceptionKind::kDevice: return "device";
    case espgw::config::ExceptionKind::kNone: return "none";
  }
  return "?";
}

// A digest of what the dataplane reads of the file: everything but the tunnels' ike sections and
// the top-level ike section, which only espgw-ike and charon read, and what only FRR reads (the
// bgp section, whose presence alone the dataplane sees: it implies routing.fpm, and the tunnels'
// bgp). espgw has no reload of its own: when this changes, espgw-up restarts espgw on SIGHUP
// (charon's plugin hands the new one its SAs); when only IKE or BGP settings change, espgw-ike's
// reload and FRR's are enough. Re-emitted YAML, so comments and layout do not count. FNV-1a: a
// change detector, not a secret.
std::string dataplane_digest(const std::string& path) {
  YAML::Node root = YAML::LoadFile(path);
  root.remove("ike");
  if (root["bgp"]) root["bgp"] = "present";
  if (YAML::Node tunnels = root["tunnels"]; tunnels && tunnels.IsSequence()) {
    for (YAML::Node t : tunnels) {
      if (t.IsMap()) {
        t.remove("ike");
        t.remove("bgp");
      }
    }
  }
  YAML::Emitter out;
  out << root;
  uint64_t h = 14695981039346656037ull;
  for (const char* p = out.c_str(); *p != '\0'; ++p) {
    h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

nlohmann::json summary(const std::string& path, const espgw::config::Config& c) {
  using nlohmann::json;
  json interfaces = json::array();
  for (const auto& i : c.interfaces) {
    json addresses = json::array();
    for (const auto& a : i.addresses)
      addresses.push_back(a.to_string());
    json ifc = {{"name", i.name},
                {"addresses", addresses},
                {"exception", exception_kind(i.exception.kind)}};
    if (i.exception.kind == espgw::config::ExceptionKind::kTap) {
      // The name config/interfaces.cpp gives a tap by default, and the one espgw's ports use.
      ifc["kernel_name"] =
          i.exception.kernel_name.empty() ? "espgw-" + i.name : i.exception.kernel_name;
    }
    interfaces.push_back(std::move(ifc));
  }
  json tunnels = json::array();
  size_t ike_tunnels = 0;
  for (const auto& t : c.tunnels) {
    json j = {{"name", t.name},
              {"local", t.local.to_string()},
              {"remote", t.remote.to_string()},
              {"keys", t.ike         ? "ike"
                       : t.static_sa ? "static"
                                     : "none"},
              {"lanes", t.lanes}};
    // Route-based tunnels (docs/routing.md): inside addresses, their kernel interface, BGP.
    json inside = json::array();
    for (const auto& p : t.inside)
      inside.push_back(p.to_string());
    j["inside"] = inside;
    j["inside_interface"] = t.route_based() ? json(t.inside_interface) : json(nullptr);
    j["bgp"] = nullptr;
    if (t.bgp) {
      json neighbours = json::array();
      for (const auto& a : t.bgp->neighbours)
        neighbours.push_back(a.to_string());
      j["bgp"] = {{"remote_asn", t.bgp->remote_asn},
                  {"neighbours", neighbours},
                  {"bfd", t.bgp->bfd},
                  {"hold_s", t.bgp->hold_s},
                  {"keepalive_s", t.bgp->keepalive_s}};
    }
    if (t.ike) {
      j["ike_version"] = t.ike->version;
      j["dpd_delay_s"] = t.ike->dpd_delay_s;
      j["dpd_timeout_s"] = t.ike->dpd_timeout_s;
      ++ike_tunnels;
    }
    tunnels.push_back(std::move(j));
  }
  // charon's retransmissions, from the IKEv2 tunnels' dpd_timeout_s: espgw-up writes them into
  // charon's strongswan.conf (config/charon_retransmit.h). null: charon's defaults.
  json retransmit = nullptr;
  if (const auto r = espgw::config::charon_retransmit(c)) {
    retransmit = {{"timeout_s", r->timeout_s},
                  {"base", r->base},
                  {"tries", r->tries},
                  {"gives_up_after_s", r->gives_up_after_s},
                  {"tunnel", r->tunnel}};
  }
  // espgw-ike's default status socket: espgw-ike.sock beside the VICI socket (docs/espgw-ike.md).
  const std::string status =
      (std::filesystem::path(c.ike.vici_socket).parent_path() / "espgw-ike.sock").string();
  const auto& fpm = c.routing.fpm;
  json routing = {{"fpm",
                   {{"enabled", fpm.enabled},
                    {"address", fpm.address.to_string()},
                    {"port", fpm.port},
                    {"grace_s", fpm.grace_s},
                    {"distance", fpm.distance}}}};
  // FRR's daemons' config, for espgw-up to write and start them with -N <instance>.
  json frr = nullptr;
  json bgp = nullptr;
  if (c.bgp.enabled()) {
    const auto conf = espgw::config::render_frr(c);
    frr = {{"instance", c.bgp.frr_instance},
           {"zebra", conf.zebra},
           {"bgpd", conf.bgpd},
           {"bfdd", conf.bfdd}};
    bgp = {{"asn", c.bgp.asn},
           {"router_id", c.bgp.router_id ? c.bgp.router_id->to_string() : ""},
           {"maximum_paths", c.bgp.maximum_paths}};
  }
  return {{"file", path},
          {"workers", c.dataplane.workers},
          {"control_socket", c.dataplane.control_socket},
          {"vici_socket", c.ike.vici_socket},
          {"ike_status_socket", status},
          {"ike_tunnels", ike_tunnels},
          {"interfaces", interfaces},
          {"tunnels", tunnels},
          {"charon_retransmit", retransmit},
          {"routing", routing},
          {"bgp", bgp},
          {"frr", frr},
          {"warnings", c.warnings},
          {"dataplane_digest", dataplane_digest(path)}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("%s\n", espgw::version_line("espgw-config-check").c_str());
    return 0;
  }
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  bool as_json = false;
  int file_arg = 1;
  if (argc == 3 && std::string(argv[1]) == "--json") {
    as_json = true;
    file_arg = 2;
  }
  if (argc != file_arg + 1 || argv[file_arg][0] == '-') {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  const std::string path = argv[file_arg];
  try {
    const auto config = espgw::config::load_file(path);
    for (const auto& w : config.warnings)
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (as_json) {
      std::printf("%s\n", summary(path, config).dump().c_str());
    } else {
      std::printf("%s: ok (%zu interfaces, %zu tunnels, %zu routes)\n", path.c_str(),
                  config.interfaces.size(), config.tunnels.size(), config.routes.size());
    }
    return 0;
  } catch (const espgw::config::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
