#include "frr/bgp_peers.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/ip_address.h"
#include "config/config.h"

namespace espgw::frr {
namespace {

std::string scalar(const YAML::Node& n, const char* key, const std::string& fallback) {
  return n && n.IsMap() && n[key] && n[key].IsScalar() ? n[key].Scalar() : fallback;
}

uint32_t number(const YAML::Node& n, const char* key) {
  try {
    return n && n.IsMap() && n[key] && n[key].IsScalar() ? n[key].as<uint32_t>() : 0;
  } catch (const YAML::Exception&) {
    return 0;
  }
}

// A tunnel's neighbours: bgp.neighbours as written (normalised), else the peer's address in each
// inside prefix (config::inside_peer_address, as config/routing.cpp defaults them).
std::vector<std::string> neighbours_of(const YAML::Node& t, const YAML::Node& bgp) {
  std::vector<std::string> out;
  const YAML::Node given = bgp["neighbours"];
  if (given && given.IsSequence() && given.size() > 0) {
    for (const auto& n : given) {
      if (!n.IsScalar()) continue;
      const auto a = IpAddress::parse(n.Scalar());
      out.push_back(a ? a->to_string() : n.Scalar());
    }
    return out;
  }
  YAML::Node inside = t["inside"];
  if (inside && inside.IsScalar()) {
    YAML::Node list(YAML::NodeType::Sequence);
    list.push_back(inside);
    inside = list;
  }
  if (!inside || !inside.IsSequence()) return out;
  for (const auto& p : inside) {
    if (!p.IsScalar()) continue;
    if (const auto ours = IpPrefix::parse_with_host_bits(p.Scalar())) {
      out.push_back(config::inside_peer_address(*ours).to_string());
    }
  }
  return out;
}

BgpPeers from_root(const YAML::Node& root) {
  if (!root.IsMap()) throw std::runtime_error("not a map");
  BgpPeers out;
  const YAML::Node bgp = root["bgp"];
  out.enabled = bgp && bgp.IsMap() && number(bgp, "asn") != 0;
  out.instance = scalar(bgp, "frr_instance", out.instance);
  const YAML::Node tunnels = root["tunnels"];
  if (!tunnels || !tunnels.IsSequence()) return out;
  for (const auto& t : tunnels) {
    if (!t.IsMap() || !t["bgp"] || !t["bgp"].IsMap()) continue;
    const YAML::Node tb = t["bgp"];
    const std::string name = scalar(t, "name", "");
    bool bfd = scalar(t, "peer_kind", "") == "espgw";  // config.h: the default follows peer_kind
    if (tb["bfd"] && tb["bfd"].IsScalar()) {
      try {
        bfd = tb["bfd"].as<bool>();
      } catch (const YAML::Exception&) {
      }
    }
    for (auto& a : neighbours_of(t, tb)) {
      out.neighbours.push_back({name, std::move(a), number(tb, "remote_asn"), bfd});
    }
  }
  return out;
}

}  // namespace

BgpPeers bgp_peers_from_yaml(const std::string& yaml_text) {
  return from_root(YAML::Load(yaml_text));
}

BgpPeers bgp_peers_from_config(const std::string& config_path) {
  std::ifstream f(config_path);
  if (!f) throw std::runtime_error(config_path + ": " + std::strerror(errno));
  std::stringstream text;
  text << f.rdbuf();
  try {
    return bgp_peers_from_yaml(text.str());
  } catch (const std::exception& e) {
    throw std::runtime_error(config_path + ": " + e.what());
  }
}

}  // namespace espgw::frr
