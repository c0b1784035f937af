#include "config/parser.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "common/hex.h"

namespace espgw::config {

int line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? 1 : m.line + 1;
}

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string s(path);
  s += '.';
  s += key;
  return s;
}

std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return quote(n.Scalar());
    default: return "nothing";
  }
}

std::string family_name(const IpAddress& a) {
  return a.is_v4() ? "IPv4" : "IPv6";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

UintParse parse_uint(std::string_view s, uint64_t& out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return UintParse::kNotANumber;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  if (end != s.data() + s.size()) return UintParse::kNotANumber;
  if (ec == std::errc::result_out_of_range) return UintParse::kTooLarge;
  if (ec != std::errc{}) return UintParse::kNotANumber;
  return UintParse::kOk;
}

bool is_unicast(const IpAddress& a) {
  if (a.is_v4()) return a.bytes[0] != 0 && a.bytes[0] != 127 && a.bytes[0] < 224;
  static constexpr std::array<uint8_t, 16> kZero{};
  std::array<uint8_t, 16> loopback{};
  loopback[15] = 1;
  return a.bytes != kZero && a.bytes != loopback && a.bytes[0] != 0xff;
}

bool is_link_local_v6(const IpAddress& a) {
  return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

IpPrefix network_of(IpPrefix p) {
  const unsigned max_len = p.address.is_v4() ? 32 : 128;
  for (unsigned bit = p.length; bit < max_len; ++bit)
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return p;
}

std::optional<IpPrefix> parse_address_and_length(std::string_view t) {
  auto p = IpPrefix::parse_with_host_bits(t);
  if (!p || p->length < 1) return std::nullopt;
  return p;
}

bool is_network_or_broadcast(const IpPrefix& p) {
  if (!p.address.is_v4() || p.length > 30) return false;
  const uint32_t host_mask = ~0u >> p.length;
  const uint32_t host = p.address.v4_host() & host_mask;
  return host == 0 || host == host_mask;
}

bool overlaps(const IpPrefix& a, const IpPrefix& b) {
  return a.contains(b.address) || b.contains(a.address);
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool valid_kernel_name(std::string_view s) {
  return s.size() <= kIfNameMax && s != "." && s != ".." && valid_name(s);
}

bool has_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

void Parser::raise() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
    return a.file != b.file ? a.file < b.file : a.line < b.line;
  });
  std::string msg;
  const size_t shown = std::min(errors_.size(), kMaxReportedErrors);
  for (size_t i = 0; i < shown; ++i) {
    if (i) msg += '\n';
    msg += errors_[i].text;
  }
  if (errors_.size() > shown) {
    msg +=
        "\n" + source_ + ": " + std::to_string(errors_.size() - shown) + " more errors not shown";
  }
  throw ConfigError(msg);
}

bool Parser::shape(const Value& v, bool expected_shape, std::string_view expected) {
  if (v.node.IsNull()) {
    error(v, "missing value");
    return false;
  }
  if (!expected_shape) {
    error(v, "expected " + std::string(expected) + ", got " + describe(v.node));
    return false;
  }
  return true;
}

std::optional<Fields> Parser::map(const Value& v, std::initializer_list<std::string_view> known) {
  if (!shape(v, v.node.IsMap(), "a map")) return std::nullopt;
  std::vector<std::pair<std::string, Value>> items;
  std::map<std::string, int, std::less<>> seen;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    // Copies: the iterator hands out a temporary pair (a reference would dangle).
    const YAML::Node k = it->first;
    const int line = line_of(k);
    if (!k.IsScalar()) {
      error(line, v.path, "expected a key name, got " + describe(k));
      continue;
    }
    const std::string& key = k.Scalar();
    const std::string path = join(v.path, key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string what = "unknown key " + quote(key);
      std::string_view best;
      size_t best_distance = 3;
      for (std::string_view candidate : known) {
        const size_t d = edit_distance(key, candidate);
        if (d < best_distance) {
          best_distance = d;
          best = candidate;
        }
      }
      if (!best.empty()) {
        what += " (did you mean \"" + std::string(best) + "\"?)";
      } else {
        what += " (expected one of:";
        for (std::string_view candidate : known) {
          what += ' ';
          what += candidate;
        }
        what += ')';
      }
      error(line, looks_like_key(key) ? v.path : path, what);
      continue;
    }
    if (auto [first, inserted] = seen.emplace(key, line); !inserted) {
      error(
          line, path,
          "duplicate key " + quote(key) + " (first at line " + std::to_string(first->second) + ")");
      continue;
    }
    // The key's line, not the value's: yaml-cpp marks an empty value at the next token.
    items.emplace_back(key, Value{it->second, path, line});
  }
  return Fields(v, std::move(items));
}

std::optional<Value> Parser::require(const Fields& f, std::string_view key) {
  auto v = f.get(key);
  if (!v) error(f.self(), "missing key \"" + std::string(key) + "\"");
  return v;
}

std::optional<std::vector<Value>> Parser::list(const Value& v, bool non_empty) {
  if (!shape(v, v.node.IsSequence(), "a list")) return std::nullopt;
  if (non_empty && v.node.size() == 0) {
    error(v, "must not be empty");
    return std::nullopt;
  }
  std::vector<Value> items;
  for (size_t i = 0; i < v.node.size(); ++i) {
    const YAML::Node item = v.node[i];
    items.push_back({item, index(v.path, i), item.IsNull() ? v.line : line_of(item)});
  }
  return items;
}

std::optional<std::string> Parser::scalar(const Value& v, std::string_view expected) {
  if (!shape(v, v.node.IsScalar(), expected)) return std::nullopt;
  return v.node.Scalar();
}

std::optional<std::string> Parser::text(const Value& v) {
  auto s = scalar(v, "a string");
  if (s && s->empty()) {
    error(v, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Parser::name(const Value& v) {
  auto s = scalar(v, "a name");
  if (s && !valid_name(*s)) {
    error(v, "must be 1 to " + std::to_string(kMaxNameLength) +
                 " letters, digits, '-', '_' or '.', got " + quote(*s));
    return std::nullopt;
  }
  return s;
}

bool Parser::first_name(const Value& v, const std::string& s, NameLines& seen,
                        std::string_view what) {
  auto [first, inserted] = seen.emplace(s, v.line);
  if (!inserted) {
    error(v, "duplicate " + std::string(what) + " name " + quote(s) + " (first at line " +
                 std::to_string(first->second) + ")");
  }
  return inserted;
}

std::optional<uint64_t> Parser::integer(const Value& v, uint64_t min, uint64_t max,
                                        std::string_view why) {
  auto s = scalar(v, "an integer");
  if (!s) return std::nullopt;
  // A quoted scalar is a string in YAML; strict typing refuses "4" where 4 is meant.
  if (v.node.Tag() == "!") {
    error(v, "expected an integer, got a quoted string " + quote(*s));
    return std::nullopt;
  }
  uint64_t n = 0;
  const UintParse r = parse_uint(*s, n);
  if (r == UintParse::kNotANumber) {
    error(v, "expected an integer, got " + quote(*s));
    return std::nullopt;
  }
  if (r == UintParse::kTooLarge || n < min || n > max) {
    error(v, "must be " + std::to_string(min) + " to " + std::to_string(max) +
                 (why.empty() ? "" : " (" + std::string(why) + ")") + ", got " + quote(*s));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> Parser::boolean(const Value& v) {
  auto s = scalar(v, "true or false");
  if (!s) return std::nullopt;
  if (v.node.Tag() != "!") {
    if (*s == "true") return true;
    if (*s == "false") return false;
  }
  error(v, "expected true or false, got " + quote(*s));
  return std::nullopt;
}

std::optional<IpAddress> Parser::address(const Value& v) {
  auto s = scalar(v, "an IP address");
  if (!s) return std::nullopt;
  auto a = IpAddress::parse(*s);
  if (!a) error(v, "not an IP address " + quote(*s));
  return a;
}

std::optional<IpAddress> Parser::unicast(const Value& v) {
  auto a = address(v);
  if (a && !is_unicast(*a)) {
    error(v, "not a unicast address " + quote(v.node.Scalar()));
    return std::nullopt;
  }
  return a;
}

std::optional<IpPrefix> Parser::prefix(const Value& v) {
  auto s = scalar(v, "an IP prefix");
  if (!s) return std::nullopt;
  if (auto p = IpPrefix::parse(*s)) return p;
  // IpPrefix refuses host bits ("10.0.0.1/16"): say so, and name the network that was meant.
  if (auto with_host = parse_address_and_length(*s)) {
    error(v, "host bits set in prefix " + quote(*s) + " (the network is " +
                 network_of(*with_host).to_string() + ")");
  } else {
    error(v, "not an IP prefix " + quote(*s));
  }
  return std::nullopt;
}

// Our address with its connected prefix length: the host bits are the point here.
std::optional<IpPrefix> Parser::interface_address(const Value& v) {
  auto s = scalar(v, "an address/prefix-length");
  if (!s) return std::nullopt;
  auto p = parse_address_and_length(*s);
  if (!p) error(v, "not an address/prefix-length " + quote(*s));
  return p;
}

std::optional<std::vector<uint8_t>> Parser::secret(const Value& v) {
  // scalar() describes a non-scalar by its kind only, never by content.
  auto s = scalar(v, "a hex string");
  if (!s) return std::nullopt;
  auto bytes = parse_hex(*s);
  std::fill(s->begin(), s->end(), '\0');
  if (!bytes) error(v, "not a hex string (value not shown)");
  return bytes;
}

std::optional<std::string> Parser::absolute_path(const Value& v) {
  auto s = text(v);
  if (s && s->front() != '/') {
    error(v, "must be an absolute path, got " + quote(*s));
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> Parser::socket_path(const Value& v) {
  auto s = absolute_path(v);
  if (s && s->size() > kSunPathMax) {
    error(v, "longer than " + std::to_string(kSunPathMax) +
                 " bytes (a Unix socket path's limit): " + quote(*s));
    return std::nullopt;
  }
  return s;
}

// The whole file: sections in order, then the checks across them.
Config Parser::run(const YAML::Node& root) {
  config_.source = source_;
  const Value top{root, "", line_of(root)};
  auto f =
      map(top, {"dataplane", "interfaces", "routes", "tunnels", "peers", "ike", "routing", "bgp"});
  if (!f) raise();

  if (auto v = f->get("dataplane")) dataplane(*v, config_.dataplane);
  // Before the tunnels, whose bgp needs the top-level section.
  if (auto v = f->get("routing")) routing(*v, config_.routing);
  if (auto v = f->get("bgp")) bgp(*v, config_.bgp);

  // Each list section in turn; `clean` says whether it parsed without errors, so the checks of
  // later sections that refer to it run only then.
  auto section = [&](std::string_view key, bool required, auto& out, auto&& parse_one) {
    const size_t before = errors_.size();
    const std::optional<Value> v = required ? require(*f, key) : f->get(key);
    if (v) {
      if (auto items = list(*v, required)) {
        for (const auto& item : *items) {
          out.emplace_back();
          parse_one(item, out.back());
        }
      }
    }
    return errors_.size() == before;
  };
  interfaces_clean_ = section("interfaces", true, config_.interfaces,
                              [&](const Value& item, Interface& i) { interface(item, i); });
  routes_clean_ = section("routes", false, config_.routes,
                          [&](const Value& item, Route& r) { route(item, r); });
  tunnels_clean_ = section("tunnels", false, config_.tunnels,
                           [&](const Value& item, Tunnel& t) { tunnel(item, t); });

  if (auto v = f->get("ike")) ike_global(*v, config_.ike);
  if (auto v = f->get("peers")) peers(*v);
  check_remote_cidrs();
  check_if_ids();
  check_lane_ports(nullptr);
  check_route_tunnels();
  check_bgp();
  load_secrets();

  if (!errors_.empty()) raise();
  check_dpd_timeouts();
  return std::move(config_);
}

}  // namespace espgw::config
