#include "config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "config/parser.h"
#include "config/yaml_documents.h"

namespace espgw::config {

std::optional<MacAddress> parse_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < 6; ++i) {
    const size_t at = i * 3;
    if (i < 5 && text[at + 2] != sep) return std::nullopt;
    uint8_t b = 0;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + 2, b, 16);
    if (ec != std::errc{} || end != text.data() + at + 2) return std::nullopt;
    mac[i] = b;
  }
  return mac;
}

std::string mac_to_string(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

const Interface* Config::find_interface(std::string_view name) const noexcept {
  for (const auto& i : interfaces) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

const Tunnel* Config::find_tunnel(std::string_view name) const noexcept {
  for (const auto& t : tunnels) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Config parse_text(std::string_view yaml, const std::string& source_name, bool from_file) {
  YamlDocuments docs;
  try {
    docs = load_documents(std::string(yaml));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    throw ConfigError(source_name + ":" + std::to_string(line) + ": YAML syntax error: " + e.msg);
  }
  if (docs.second_line) {
    throw ConfigError(source_name + ":" + std::to_string(*docs.second_line) +
                      ": a second YAML document; the config is one document");
  }
  if (!docs.first.IsDefined() || docs.first.IsNull()) {
    throw ConfigError(source_name + ":1: the file is empty (expected a map with \"interfaces\")");
  }
  try {
    return Parser(source_name, from_file).run(docs.first);
  } catch (const YAML::Exception& e) {
    // Not expected: the parser only reads nodes yaml-cpp already built.
    throw ConfigError(source_name + ": " + e.msg);
  }
}

}  // namespace

Config parse(std::string_view yaml, const std::string& source_name) {
  return parse_text(yaml, source_name, false);
}

namespace {

YAML::Node load_one(std::string_view yaml, const std::string& source) {
  try {
    YAML::Node n = YAML::Load(std::string(yaml));
    if (!n.IsMap()) throw ConfigError(source + ": expected a map");
    return n;
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    throw ConfigError(source + ":" + std::to_string(line) + ": syntax error: " + e.msg);
  }
}

}  // namespace

Tunnel parse_tunnel(const Config& context, std::string_view yaml, const std::string& source) {
  Parser p(source);
  p.seed(context);
  return p.one_tunnel(load_one(yaml, source));
}

Route parse_route(const Config& context, std::string_view yaml, const std::string& source) {
  Parser p(source);
  p.seed(context);
  return p.one_route(load_one(yaml, source));
}

StaticSa parse_static_sa(std::string_view yaml, const std::string& source, esp::Direction dir) {
  return Parser(source).one_sa(load_one(yaml, source), dir);
}

Config load_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw ConfigError(path + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) {
      ::close(fd);
      throw ConfigError(path + ": larger than " + std::to_string(kMaxFileBytes >> 20) +
                        " MiB; not a config file");
    }
  }
  ::close(fd);
  return parse_text(text, path, true);
}

// FNV-1a, 32 bits (draft-eastlake-fnv): stable across builds, platforms and versions, which the
// if_id of a running tunnel must be.
uint32_t tunnel_if_id(std::string_view tunnel_name) noexcept {
  uint32_t h = 2166136261u;
  for (char c : tunnel_name) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  // strongSwan reserves 0 (no interface ID) and 0xffffffff (%unique).
  if (h == 0) return 1;
  if (h == 0xffffffffu) return 0xfffffffeu;
  return h;
}

std::string lane_name(std::string_view tunnel_name, unsigned lane) {
  std::string n(tunnel_name);
  if (lane != 0) {
    n.push_back('#');
    n.append(std::to_string(lane));
  }
  return n;
}

uint32_t lane_if_id(std::string_view tunnel_name, unsigned lane) {
  return tunnel_if_id(lane_name(tunnel_name, lane));
}

}  // namespace espgw::config

namespace espgw::config {

IpAddress inside_peer_address(const IpPrefix& ours) noexcept {
  // The host part of our address within the prefix: a /30 (/126) has hosts 1 and 2, a /31
  // (/127) addresses 0 and 1; the peer is the other one.
  IpAddress peer = ours.address;
  uint8_t& last = peer.bytes[peer.size() - 1];
  const bool point_to_point = ours.length == (ours.address.is_v4() ? 31 : 127);
  if (point_to_point) {
    last ^= 1;
  } else {
    last = static_cast<uint8_t>((last & ~3u) | ((last & 3u) == 1 ? 2u : 1u));
  }
  return peer;
}

std::string inside_interface_name(std::string_view tunnel_name) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "espt%08x", tunnel_if_id(tunnel_name));
  return buf;
}

}  // namespace espgw::config
