#include "protocol/socket_paths.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace espgw::protocol {
namespace {

// The scalar at root[section][key], or `fallback`.
std::string member(const std::string& path, const char* section, const char* key,
                   const char* fallback) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(std::strerror(errno));
  const YAML::Node root = YAML::Load(f);
  if (!root.IsMap()) throw std::runtime_error("not a map");
  const YAML::Node s = root[section];
  if (s && s.IsMap() && s[key] && s[key].IsScalar()) return s[key].Scalar();
  return fallback;
}

}  // namespace

std::string control_socket_from_config(const std::string& config_path) {
  return member(config_path, "dataplane", "control_socket", kDefaultControlSocket);
}

std::string ike_socket_for(const std::string& vici_socket) {
  return (std::filesystem::path(vici_socket).parent_path() / kIkeSocketName).string();
}

std::string ike_socket_from_config(const std::string& config_path) {
  return ike_socket_for(member(config_path, "ike", "vici_socket", kDefaultViciSocket));
}

}  // namespace espgw::protocol
