#include "config/config.h"
#include "config/charon_retransmit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <set>
#include <span>
#include <tuple>
#include <utility>

#include "common/hex.h"

namespace espgw::config {
namespace {

// Limits that are ours rather than a protocol's are documented in docs/config-reference.md.
constexpr size_t kMaxReportedErrors = 20;
constexpr uint64_t kMaxWorkers = 128;  // Debian's DPDK is built with RTE_MAX_LCORE 128
constexpr uint64_t kMinMtu = 576;      // RFC 791: every IPv4 host accepts 576
constexpr uint64_t kMinMtuV6 = 1280;   // RFC 8200 5
constexpr uint64_t kMaxMtu = 9216;     // the largest jumbo frame NICs commonly take
constexpr uint64_t kMinMss = 536;      // RFC 9293 3.7.1
constexpr size_t kMaxNameLength = 32;
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1
constexpr size_t kSunPathMax = 107;
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxSecretsFileBytes = 1u << 20;
// IKE timers. The lifetimes' bounds are ours (AWS allows 900 to 28800 s for IKE, 900 to 3600 s for
// CHILD_SAs); a margin of 0 would leave no time to rekey before the SA expires.
constexpr uint64_t kMinLifetime = 60;
constexpr uint64_t kMaxLifetime = 86400;
constexpr uint64_t kMaxFuzzPercent = 1000;
constexpr uint64_t kMaxDpdDelay = 3600;
constexpr uint64_t kMaxDpdTimeout = 86400;

// A YAML node with the key path and line that an error about it names.
struct Value {
  YAML::Node node;
  std::string path;
  int line = 0;  // 1-based
};

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

// Hex of 16 digits or more, with a 0x, a letter a-f or strongSwan's aa:bb:... form: what a key
// looks like (a plain decimal number does not). Error messages never repeat such a value, wherever
// it was written by mistake.
bool looks_like_key(std::string_view s) {
  bool marked = false;  // clearly hex, not a decimal number
  if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    marked = true;
  }
  size_t digits = 0;
  size_t run = 0;
  bool colons = false;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      marked |= !std::isdigit(static_cast<unsigned char>(c));
      ++digits;
      ++run;
    } else if (c == ':' && run == 2) {
      colons = true;
      run = 0;
    } else {
      return false;
    }
  }
  return digits >= 16 && (marked || colons) && (!colons || run == 2);
}

std::string quote(std::string_view s) {
  if (looks_like_key(s)) return "(value not shown: it looks like key material)";
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (++n > 80) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// What a node is, for "expected X, got Y". A scalar is quoted; see quote() about key material.
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

// Decimal, or hexadecimal with 0x. No sign, no spaces.
enum class UintParse { kOk, kNotANumber, kTooLarge };
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

// Unspecified, loopback, multicast (and IPv4's class E and broadcast): never a gateway's address.
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

// "198.51.100.1/24": an address with a prefix length, host bits allowed; a bare address is a host
// prefix.
std::optional<IpPrefix> parse_address_and_length(std::string_view t) {
  const auto slash = t.find('/');
  auto a = IpAddress::parse(t.substr(0, slash));
  if (!a) return std::nullopt;
  const unsigned max_len = a->is_v4() ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const auto digits = t.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || len < 1 ||
        len > max_len) {
      return std::nullopt;
    }
  }
  return IpPrefix{*a, static_cast<uint8_t>(len)};
}

// IPv4 prefixes up to /30 reserve their first and last address (RFC 919, RFC 3021 for /31).
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

std::string algorithm_list() {
  std::string s;
  for (const auto& a : esp::all_algorithms()) {
    if (!s.empty()) s += ", ";
    s += a.name();
  }
  return s;
}

// ---- strongSwan proposal strings ----
// A proposal is strongSwan's "alg-alg-...": keywords from its proposal_keywords_static.txt, which
// are case-sensitive. espgw accepts the subset below (with strongSwan's aliases), so that a
// config never offers a peer an ESP transform the dataplane cannot carry.

enum class TokenKind : uint8_t { kAead, kCipher, kIntegrity, kPrf, kGroup, kEsn };

struct Keyword {
  std::string_view name;
  TokenKind kind;
  std::string_view canonical;  // the name esp::parse_algorithm and the docs use
};

constexpr Keyword kGroups[] = {
    {"modp2048", TokenKind::kGroup, "modp2048"},
    {"modp3072", TokenKind::kGroup, "modp3072"},
    {"modp4096", TokenKind::kGroup, "modp4096"},
    {"modp6144", TokenKind::kGroup, "modp6144"},
    {"modp8192", TokenKind::kGroup, "modp8192"},
    {"ecp256", TokenKind::kGroup, "ecp256"},
    {"ecp384", TokenKind::kGroup, "ecp384"},
    {"ecp521", TokenKind::kGroup, "ecp521"},
    {"curve25519", TokenKind::kGroup, "curve25519"},
    {"x25519", TokenKind::kGroup, "curve25519"},
    // DH group 2: weak (RFC 8247 2.4 says SHOULD NOT), accepted for old peers.
    {"modp1024", TokenKind::kGroup, "modp1024"},
};

constexpr Keyword kIntegrities[] = {
    {"sha1", TokenKind::kIntegrity, "sha1"},     {"sha", TokenKind::kIntegrity, "sha1"},
    {"sha256", TokenKind::kIntegrity, "sha256"}, {"sha2_256", TokenKind::kIntegrity, "sha256"},
    {"sha384", TokenKind::kIntegrity, "sha384"}, {"sha2_384", TokenKind::kIntegrity, "sha384"},
    {"sha512", TokenKind::kIntegrity, "sha512"}, {"sha2_512", TokenKind::kIntegrity, "sha512"},
};

// ESP: what esp::parse_algorithm accepts once cipher and integrity are joined.
constexpr Keyword kEspCiphers[] = {
    {"aes128gcm16", TokenKind::kAead, "aes128gcm16"},
    {"aes128gcm128", TokenKind::kAead, "aes128gcm16"},
    {"aes128gcm", TokenKind::kAead, "aes128gcm16"},
    {"aes256gcm16", TokenKind::kAead, "aes256gcm16"},
    {"aes256gcm128", TokenKind::kAead, "aes256gcm16"},
    {"aes256gcm", TokenKind::kAead, "aes256gcm16"},
    {"aes128", TokenKind::kCipher, "aes128"},
    {"aes", TokenKind::kCipher, "aes128"},
    {"aes256", TokenKind::kCipher, "aes256"},
};

// IKE: charon does the work, so anything Debian's charon offers that is not weak.
constexpr Keyword kIkeCiphers[] = {
    {"aes128", TokenKind::kCipher, "aes128"},
    {"aes", TokenKind::kCipher, "aes128"},
    {"aes192", TokenKind::kCipher, "aes192"},
    {"aes256", TokenKind::kCipher, "aes256"},
    {"aes128gcm16", TokenKind::kAead, "aes128gcm16"},
    {"aes128gcm128", TokenKind::kAead, "aes128gcm16"},
    {"aes128gcm", TokenKind::kAead, "aes128gcm16"},
    {"aes192gcm16", TokenKind::kAead, "aes192gcm16"},
    {"aes192gcm128", TokenKind::kAead, "aes192gcm16"},
    {"aes192gcm", TokenKind::kAead, "aes192gcm16"},
    {"aes256gcm16", TokenKind::kAead, "aes256gcm16"},
    {"aes256gcm128", TokenKind::kAead, "aes256gcm16"},
    {"aes256gcm", TokenKind::kAead, "aes256gcm16"},
    {"chacha20poly1305", TokenKind::kAead, "chacha20poly1305"},
};

constexpr Keyword kPrfs[] = {
    {"prfsha1", TokenKind::kPrf, "prfsha1"},
    {"prfsha256", TokenKind::kPrf, "prfsha256"},
    {"prfsha384", TokenKind::kPrf, "prfsha384"},
    {"prfsha512", TokenKind::kPrf, "prfsha512"},
};

constexpr Keyword kEsns[] = {
    {"esn", TokenKind::kEsn, "esn"},
    {"noesn", TokenKind::kEsn, "noesn"},
};

enum class ProposalKind : uint8_t { kIke, kEsp };

template <size_t... N>
std::vector<Keyword> keywords(const Keyword (&... tables)[N]) {
  std::vector<Keyword> all;
  (all.insert(all.end(), std::begin(tables), std::end(tables)), ...);
  return all;
}

const std::vector<Keyword>& keywords_of(ProposalKind kind) {
  static const std::vector<Keyword> ike = keywords(kIkeCiphers, kIntegrities, kPrfs, kGroups);
  static const std::vector<Keyword> esp = keywords(kEspCiphers, kIntegrities, kGroups, kEsns);
  return kind == ProposalKind::kIke ? ike : esp;
}

const Keyword* find_keyword(ProposalKind kind, std::string_view token) {
  for (const Keyword& k : keywords_of(kind)) {
    if (k.name == token) return &k;
  }
  return nullptr;
}

// The canonical keywords of a proposal kind, by role, for "expected ..." in messages.
std::string known_keywords(ProposalKind kind) {
  const auto names = [](std::span<const Keyword> table) {
    std::string s;
    for (const Keyword& k : table) {
      if (k.name != k.canonical) continue;  // an alias
      if (!s.empty()) s += ", ";
      s += k.name;
      if (k.name == "modp1024") s += " (weak)";
    }
    return s;
  };
  if (kind == ProposalKind::kEsp) {
    return "encryption: " + names(kEspCiphers) + "; integrity: " + names(kIntegrities) +
           "; DH groups: " + names(kGroups) + "; " + names(kEsns);
  }
  return "encryption: " + names(kIkeCiphers) + "; integrity: " + names(kIntegrities) +
         "; PRF: " + names(kPrfs) + "; DH groups: " + names(kGroups);
}

// The fields of one YAML map, after the unknown and duplicate keys were reported.
class Fields {
 public:
  Fields(Value self, std::vector<std::pair<std::string, Value>> items)
      : self_(std::move(self)), items_(std::move(items)) {}

  const Value& self() const { return self_; }
  std::optional<Value> get(std::string_view key) const {
    for (const auto& [k, v] : items_) {
      if (k == key) return v;
    }
    return std::nullopt;
  }

 private:
  Value self_;
  std::vector<std::pair<std::string, Value>> items_;
};

struct Error {
  int file;  // 0: the config, 1: the secrets file; messages come out by file, then by line
  int line;
  std::string text;
};

class Parser {
 public:
  // from_file: load_file() needs the pre-shared keys of IKE tunnels; parse() of a string reads
  // them only when the config names a secrets file.
  explicit Parser(std::string source, bool from_file = false)
      : source_(std::move(source)), from_file_(from_file) {}

  Config run(const YAML::Node& root);

  // One object of a section, checked against `context` as if it stood in that file.
  void seed(const Config& context) {
    config_ = context;
    interfaces_clean_ = true;
    routes_clean_ = true;
    seeded_ = true;
  }
  template <class T, class Fn>
  T one(const YAML::Node& root, Fn&& section) {
    T out{};
    section(Value{root, "", line_of(root)}, out);
    if (!errors_.empty()) raise();
    return out;
  }
  Tunnel one_tunnel(const YAML::Node& root) {
    return one<Tunnel>(root, [&](const Value& v, Tunnel& t) {
      tunnel(v, t);
      // Against the tunnels and keys the running config already has.
      if (!config_.secrets.empty()) check_psk_refs(config_.ike.secrets_file);
      check_if_ids();
    });
  }
  Route one_route(const YAML::Node& root) {
    return one<Route>(root, [&](const Value& v, Route& r) { route(v, r); });
  }
  StaticSa one_sa(const YAML::Node& root, esp::Direction dir) {
    return one<StaticSa>(root, [&](const Value& v, StaticSa& sa) { static_sa(v, sa, dir); });
  }

 private:
  // ---- reporting ----
  void error(int line, std::string_view path, std::string_view what) {
    std::string text = source_ + ":" + std::to_string(line) + ": ";
    if (!path.empty()) {
      text += path;
      text += ": ";
    }
    text += what;
    errors_.push_back({0, line, std::move(text)});
  }
  void error(const Value& v, std::string_view what) { error(v.line, v.path, what); }
  // About the content of the secrets file, named by its own path and line.
  void secrets_error(int line, std::string_view path, std::string_view what) {
    std::string text = config_.ike.secrets_file + ":" + std::to_string(line) + ": ";
    if (!path.empty()) {
      text += path;
      text += ": ";
    }
    text += what;
    errors_.push_back({1, line, std::move(text)});
  }
  [[noreturn]] void raise();
  // What loads but will not behave as written; the config carries it (Config::warnings).
  void warning(const Value& v, std::string_view what) {
    std::string text = source_ + ":" + std::to_string(v.line) + ": ";
    if (!v.path.empty()) {
      text += v.path;
      text += ": ";
    }
    text += what;
    config_.warnings.push_back(std::move(text));
  }

  // ---- shapes ----
  std::optional<Fields> map(const Value& v, std::initializer_list<std::string_view> known);
  std::optional<Value> require(const Fields& f, std::string_view key);
  std::optional<std::vector<Value>> list(const Value& v, bool non_empty);
  std::optional<std::string> scalar(const Value& v, std::string_view expected);

  // ---- values ----
  std::optional<std::string> text(const Value& v);  // non-empty string
  std::optional<std::string> name(const Value& v);
  // why: said after the range, e.g. which standard sets it.
  std::optional<uint64_t> integer(const Value& v, uint64_t min, uint64_t max,
                                  std::string_view why = {});
  std::optional<bool> boolean(const Value& v);
  std::optional<IpAddress> address(const Value& v);
  std::optional<IpAddress> unicast(const Value& v);
  std::optional<IpPrefix> prefix(const Value& v);
  std::optional<IpPrefix> interface_address(const Value& v);
  // Key material: a bad value is never echoed.
  std::optional<std::vector<uint8_t>> secret(const Value& v);
  template <typename E>
  std::optional<E> choice(const Value& v, std::string_view what,
                          std::initializer_list<std::pair<std::string_view, E>> options);
  std::optional<std::string> socket_path(const Value& v);
  std::optional<std::string> absolute_path(const Value& v);

  template <typename T>
  void read_uint(const Fields& f, std::string_view key, T& out, uint64_t min, uint64_t max) {
    if (auto v = f.get(key)) {
      if (auto n = integer(*v, min, max)) out = static_cast<T>(*n);
    }
  }
  void read_bool(const Fields& f, std::string_view key, bool& out) {
    if (auto v = f.get(key)) {
      if (auto b = boolean(*v)) out = *b;
    }
  }

  // ---- sections ----
  void dataplane(const Value& v, DataplaneConfig& d);
  void interface(const Value& v, Interface& out);
  void exception_path(const Value& v, ExceptionPath& out);
  void neighbours(const Value& v, Interface& out);
  void route(const Value& v, Route& out);
  void tunnel(const Value& v, Tunnel& out);
  void cidrs(const Fields& f, std::string_view key, std::vector<IpPrefix>& out, bool remote,
             const std::string& tunnel_name);
  void static_sa(const Value& v, StaticSa& out, esp::Direction dir);
  void ike(const Value& v, IkeConfig& out, bool nat_t, const std::string& tunnel_name);
  void proposals(const Value& v, ProposalKind kind, std::vector<std::string>& out);
  bool proposal(const Value& v, const std::string& text, ProposalKind kind);
  void ike_global(const Value& v, IkeGlobal& out);
  void peers(const Value& v);
  // Checks that need every tunnel, the peers and the secrets.
  void check_remote_cidrs();
  void check_if_ids();
  // charon's retransmissions are global: IKEv2 tunnels whose dpd_timeout_s it cannot honour.
  void check_dpd_timeouts();
  void load_secrets();
  bool read_secrets(const Value& at, const std::string& path);
  void secrets_content(std::string& text);
  void check_psk_refs(const std::string& secrets_file);

  const Interface* find_interface(std::string_view n) const {
    for (const auto& i : config_.interfaces) {
      if (i.name == n) return &i;
    }
    return nullptr;
  }
  const Interface* owner_of(const IpAddress& a) const {
    for (const auto& i : config_.interfaces) {
      for (const auto& p : i.addresses) {
        if (p.address == a) return &i;
      }
    }
    return nullptr;
  }

  std::string source_;
  std::vector<Error> errors_;
  Config config_;

  // For duplicate and cross-reference checks: what was seen, and on which line.
  std::map<std::string, int, std::less<>> interface_names_;
  std::map<std::string, int, std::less<>> devices_;
  std::map<std::string, int, std::less<>> kernel_names_;
  struct SeenPrefix {
    IpPrefix prefix;
    std::string owner;
    int line;
  };
  std::vector<SeenPrefix> interface_addresses_;
  std::vector<SeenPrefix> route_prefixes_;
  std::map<std::string, int, std::less<>> tunnel_names_;
  struct Named {
    std::string name;
    Value at;
  };
  std::vector<Named> tunnel_name_values_;  // valid, unique names with their nodes
  struct DpdSeen {
    std::string tunnel;
    Value at;  // dpd_timeout_s, or the ike section where it is the default
    uint32_t timeout_s;
    uint32_t delay_s;
    bool given;
  };
  std::vector<DpdSeen> dpd_seen_;  // IKEv2 tunnels
  // Remote CIDRs of all tunnels: two tunnels may share one only when a peer groups them, and the
  // peers come later.
  struct RemoteCidr {
    IpPrefix prefix;
    std::string tunnel;
    Value at;
  };
  std::vector<RemoteCidr> remote_cidrs_;
  std::map<std::string, size_t, std::less<>> peer_of_tunnel_;  // peer index, as listed
  std::vector<Named> psk_refs_;
  std::optional<Value> first_ike_;        // tunnels[i].ike of the first IKE tunnel
  std::optional<Value> secrets_file_at_;  // ike.secrets_file, when given
  std::map<uint32_t, int> spis_[2];       // by esp::Direction
  // Checks that look at another section run only when that section is clean, so that one mistake
  // is not reported again by everything that refers to it.
  bool interfaces_clean_ = false;
  bool routes_clean_ = false;
  bool tunnels_clean_ = false;
  bool from_file_ = false;
  bool seeded_ = false;  // config_ holds a running config (parse_tunnel and friends)
};

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

std::optional<Fields> Parser::map(const Value& v, std::initializer_list<std::string_view> known) {
  if (v.node.IsNull()) {
    error(v, "missing value");
    return std::nullopt;
  }
  if (!v.node.IsMap()) {
    error(v, "expected a map, got " + describe(v.node));
    return std::nullopt;
  }
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
  if (v.node.IsNull()) {
    error(v, "missing value");
    return std::nullopt;
  }
  if (!v.node.IsSequence()) {
    error(v, "expected a list, got " + describe(v.node));
    return std::nullopt;
  }
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
  if (v.node.IsNull()) {
    error(v, "missing value");
    return std::nullopt;
  }
  if (!v.node.IsScalar()) {
    error(v, "expected " + std::string(expected) + ", got " + describe(v.node));
    return std::nullopt;
  }
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

template <typename E>
std::optional<E> Parser::choice(const Value& v, std::string_view what,
                                std::initializer_list<std::pair<std::string_view, E>> options) {
  auto s = scalar(v, what);
  if (!s) return std::nullopt;
  std::string names;
  size_t i = 0;
  for (const auto& [n, e] : options) {
    if (n == *s) return e;
    names += i == 0 ? "" : (i + 1 == options.size() ? " or " : ", ");
    names += n;
    ++i;
  }
  error(v, "unknown " + std::string(what) + " " + quote(*s) + " (expected " + names + ")");
  return std::nullopt;
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

// ---------------------------------------------------------------------------------------------
// Sections

Config Parser::run(const YAML::Node& root) {
  config_.source = source_;
  const Value top{root, "", line_of(root)};
  auto f = map(top, {"dataplane", "interfaces", "routes", "tunnels", "peers", "ike"});
  if (!f) raise();

  if (auto v = f->get("dataplane")) dataplane(*v, config_.dataplane);

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
  load_secrets();

  if (!errors_.empty()) raise();
  check_dpd_timeouts();
  return std::move(config_);
}

void Parser::dataplane(const Value& v, DataplaneConfig& d) {
  auto f = map(
      v, {"workers", "crypto", "mbufs", "rx_ring", "tx_ring", "control_socket", "exception_pps",
          "arp_hold_packets", "arp_retries", "arp_retry_ms", "neighbour_ttl_s", "idle_sleep_us"});
  if (!f) return;
  read_uint(*f, "workers", d.workers, 1, kMaxWorkers);
  if (auto x = f->get("crypto")) {
    if (auto s = scalar(*x, "a crypto backend")) {
      if (auto k = crypto::parse_backend(*s)) {
        d.crypto = *k;
      } else {
        error(*x, "unknown crypto backend " + quote(*s) + " (expected ipsec-mb or openssl)");
      }
    }
  }
  read_uint(*f, "mbufs", d.mbufs, 0, UINT32_MAX);
  for (auto [key, ring] : {std::pair{"rx_ring", &d.rx_ring}, std::pair{"tx_ring", &d.tx_ring}}) {
    if (auto x = f->get(key)) {
      if (auto n = integer(*x, 64, 32768)) {
        if (std::has_single_bit(*n)) {
          *ring = static_cast<uint16_t>(*n);
        } else {
          error(*x, "must be a power of two, got " + quote(x->node.Scalar()));
        }
      }
    }
  }
  if (auto x = f->get("control_socket")) {
    if (auto s = socket_path(*x)) d.control_socket = *s;
  }
  read_uint(*f, "exception_pps", d.exception_pps, 1, UINT32_MAX);
  read_uint(*f, "arp_hold_packets", d.arp_hold_packets, 0, 1024);
  read_uint(*f, "arp_retries", d.arp_retries, 0, 100);
  read_uint(*f, "arp_retry_ms", d.arp_retry_ms, 1, 3600000);
  read_uint(*f, "neighbour_ttl_s", d.neighbour_ttl_s, 1, 86400);
  read_uint(*f, "idle_sleep_us", d.idle_sleep_us, 0, 100000);
}

void Parser::interface(const Value& v, Interface& out) {
  auto f = map(v, {"name", "device", "mac", "addresses", "mtu", "exception", "neighbours"});
  if (!f) return;
  bool name_ok = false;
  if (auto x = require(*f, "name")) {
    if (auto s = name(*x)) {
      out.name = *s;
      if (auto [first, inserted] = interface_names_.emplace(*s, x->line); !inserted) {
        error(*x, "duplicate interface name " + quote(*s) + " (first at line " +
                      std::to_string(first->second) + ")");
      } else {
        name_ok = true;
      }
    }
  }
  if (auto x = require(*f, "device")) {
    if (auto s = text(*x)) {
      if (has_space(*s)) {
        error(*x, "DPDK devargs contain no spaces, got " + quote(*s));
      } else {
        out.device = *s;
        if (auto [first, inserted] = devices_.emplace(*s, x->line); !inserted) {
          error(*x, "device used twice " + quote(*s) + " (first at line " +
                        std::to_string(first->second) + ")");
        }
      }
    }
  }
  if (auto x = f->get("mac")) {
    if (auto s = scalar(*x, "a MAC address")) {
      auto mac = parse_mac(*s);
      if (!mac) {
        error(*x, "not a MAC address " + quote(*s));
      } else if ((*mac)[0] & 1) {
        error(*x, "multicast MAC address " + quote(*s));
      } else if (*mac == MacAddress{}) {
        error(*x, "all-zero MAC address " + quote(*s));
      } else {
        out.mac = mac;
      }
    }
  }
  bool has_v6 = false;
  if (auto x = require(*f, "addresses")) {
    if (auto items = list(*x, true)) {
      for (const auto& item : *items) {
        auto p = interface_address(item);
        if (!p) continue;
        const std::string shown = item.node.Scalar();
        if (!is_unicast(p->address)) {
          error(item, "not a unicast address " + quote(shown));
          continue;
        }
        const IpPrefix net = network_of(*p);
        if (is_network_or_broadcast(*p)) {
          error(item, "the network or broadcast address of its prefix " + quote(shown));
          continue;
        }
        bool clash = false;
        for (const auto& seen : interface_addresses_) {
          if (seen.prefix.address == p->address) {
            error(item, "address used twice " + quote(shown) + " (first at line " +
                            std::to_string(seen.line) + ")");
            clash = true;
            break;
          }
          if (seen.owner != out.name && overlaps(seen.prefix, *p)) {
            error(item, "connected prefix " + net.to_string() + " overlaps interface \"" +
                            seen.owner + "\" (line " + std::to_string(seen.line) +
                            "): " + quote(shown));
            clash = true;
            break;
          }
        }
        if (clash) continue;
        has_v6 |= p->address.is_v6();
        interface_addresses_.push_back({*p, out.name, item.line});
        out.addresses.push_back(*p);
      }
    }
  }
  if (auto x = f->get("mtu")) {
    if (auto n = integer(*x, kMinMtu, kMaxMtu)) {
      if (has_v6 && *n < kMinMtuV6) {
        error(*x, "an interface with an IPv6 address needs an MTU of 1280 or more, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mtu = static_cast<uint16_t>(*n);
      }
    }
  }
  if (auto x = f->get("neighbours")) neighbours(*x, out);
  const size_t before = errors_.size();
  if (auto x = f->get("exception")) {
    exception_path(*x, out.exception);
  }
  // A bad name or exception path is reported once, not again as a kernel name clash.
  if (!name_ok || errors_.size() != before) return;
  if (out.exception.kind == ExceptionKind::kTap && out.exception.kernel_name.empty()) {
    out.exception.kernel_name = "espgw-" + out.name;
    if (out.exception.kernel_name.size() > kIfNameMax) {
      const Value at = f->get("exception").value_or(f->get("name").value_or(f->self()));
      error(at, "the default kernel interface name " + quote(out.exception.kernel_name) +
                    " is longer than 15 characters; set exception.kernel_name");
    }
  }
  if (!out.exception.kernel_name.empty()) {
    const int line = f->get("exception") ? f->get("exception")->line : f->self().line;
    if (auto [first, inserted] = kernel_names_.emplace(out.exception.kernel_name, line);
        !inserted) {
      error(line, join(v.path, "exception.kernel_name"),
            "kernel interface name used twice " + quote(out.exception.kernel_name) +
                " (first at line " + std::to_string(first->second) + ")");
    }
  }
}

// Permanent neighbour entries: next hops whose MAC is known (and fixed), and test set-ups that
// must not depend on ARP timing.
void Parser::neighbours(const Value& v, Interface& out) {
  auto items = list(v, false);
  if (!items) return;
  for (const auto& item : *items) {
    auto f = map(item, {"address", "mac"});
    if (!f) continue;
    StaticNeighbour n;
    bool ok = true;
    if (auto x = require(*f, "address")) {
      if (auto a = unicast(*x)) {
        n.address = *a;
        if (std::none_of(out.addresses.begin(), out.addresses.end(),
                         [&](const IpPrefix& p) { return p.contains(*a); }) &&
            !is_link_local_v6(*a)) {
          error(*x, "not on a connected prefix of interface \"" + out.name +
                        "\": " + quote(x->node.Scalar()));
          ok = false;
        }
        for (const auto& other : out.neighbours) {
          if (other.address == *a) {
            error(*x, "neighbour listed twice " + quote(x->node.Scalar()));
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto x = require(*f, "mac")) {
      if (auto s = scalar(*x, "a MAC address")) {
        auto mac = parse_mac(*s);
        if (!mac || ((*mac)[0] & 1) || *mac == MacAddress{}) {
          error(*x, "not a unicast MAC address " + quote(*s));
          ok = false;
        } else {
          n.mac = *mac;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (ok) out.neighbours.push_back(n);
  }
}

void Parser::exception_path(const Value& v, ExceptionPath& out) {
  if (v.node.IsScalar()) {
    // Shorthand: "exception: tap" or "exception: none".
    const std::string& s = v.node.Scalar();
    if (s == "tap") {
      out.kind = ExceptionKind::kTap;
    } else if (s == "none") {
      out.kind = ExceptionKind::kNone;
    } else if (s == "device") {
      error(v,
            "kind device needs a device: write {kind: device, device: DEVARGS}, got " + quote(s));
    } else {
      error(v, "unknown exception kind " + quote(s) + " (expected tap, device or none)");
    }
    return;
  }
  auto f = map(v, {"kind", "kernel_name", "device"});
  if (!f) return;
  if (auto x = f->get("kind")) {
    if (auto k = choice<ExceptionKind>(*x, "exception kind",
                                       {{"tap", ExceptionKind::kTap},
                                        {"device", ExceptionKind::kDevice},
                                        {"none", ExceptionKind::kNone}})) {
      out.kind = *k;
    } else {
      return;
    }
  }
  if (auto x = f->get("kernel_name")) {
    if (out.kind != ExceptionKind::kTap) {
      error(*x, "only with kind tap");
    } else if (auto s = scalar(*x, "an interface name")) {
      if (valid_kernel_name(*s)) {
        out.kernel_name = *s;
      } else {
        error(*x, "must be 1 to 15 letters, digits, '-', '_' or '.', got " + quote(*s));
      }
    }
  }
  if (auto x = f->get("device")) {
    if (out.kind != ExceptionKind::kDevice) {
      error(*x, "only with kind device");
    } else if (auto s = text(*x)) {
      if (has_space(*s)) {
        error(*x, "DPDK devargs contain no spaces, got " + quote(*s));
      } else {
        out.device = *s;
        if (auto [first, inserted] = devices_.emplace(*s, x->line); !inserted) {
          error(*x, "device used twice " + quote(*s) + " (first at line " +
                        std::to_string(first->second) + ")");
        }
      }
    }
  } else if (out.kind == ExceptionKind::kDevice) {
    error(f->self(), "missing key \"device\" (kind device needs DPDK devargs)");
  }
}

void Parser::route(const Value& v, Route& out) {
  auto f = map(v, {"prefix", "via", "interface"});
  if (!f) return;
  auto px = require(*f, "prefix");
  std::optional<IpPrefix> p = px ? prefix(*px) : std::nullopt;
  if (p) {
    out.prefix = *p;
    for (const auto& seen : route_prefixes_) {
      if (seen.prefix == *p) {
        error(*px, "duplicate route " + quote(px->node.Scalar()) + " (first at line " +
                       std::to_string(seen.line) + ")");
        p.reset();
        break;
      }
    }
    if (p) route_prefixes_.push_back({*p, "", px->line});
  }
  auto vx = f->get("via");
  if (vx) {
    if (auto a = unicast(*vx)) {
      if (p && a->family != p->address.family) {
        error(*vx, family_name(*a) + " next hop for an " + family_name(p->address) + " prefix " +
                       quote(vx->node.Scalar()));
      } else {
        out.via = a;
      }
    }
  }
  if (auto x = require(*f, "interface")) {
    if (auto s = name(*x)) {
      out.interface = *s;
      const Interface* iface = find_interface(*s);
      if (!interfaces_clean_) return;
      if (!iface) {
        std::string known;
        for (const auto& i : config_.interfaces)
          known += (known.empty() ? "" : ", ") + i.name;
        error(*x, "unknown interface " + quote(*s) + " (interfaces: " + known + ")");
        return;
      }
      if (p && std::none_of(iface->addresses.begin(), iface->addresses.end(),
                            [&](auto& a) { return a.address.family == p->address.family; })) {
        error(*x, "interface has no " + family_name(p->address) + " address to route " +
                      p->to_string() + ": " + quote(*s));
        return;
      }
      if (out.via) {
        const IpAddress& via = *out.via;
        if (owner_of(via)) {
          error(*vx, "next hop is one of our own addresses " + quote(vx->node.Scalar()));
        } else if (!is_link_local_v6(via) &&
                   std::none_of(iface->addresses.begin(), iface->addresses.end(),
                                [&](auto& a) { return a.contains(via); })) {
          error(*vx, "next hop is not on a connected prefix of interface \"" + iface->name +
                         "\": " + quote(vx->node.Scalar()));
        }
      }
    }
  }
}

void Parser::tunnel(const Value& v, Tunnel& out) {
  auto f = map(v, {"name", "local", "remote", "local_cidrs", "remote_cidrs", "nat_t", "local_port",
                   "remote_port", "esn", "replay_window", "df", "dscp", "ecn", "ttl", "mtu", "mss",
                   "static_sa", "ike"});
  if (!f) return;
  if (auto x = require(*f, "name")) {
    if (auto s = name(*x)) {
      out.name = *s;
      if (auto [first, inserted] = tunnel_names_.emplace(*s, x->line); !inserted) {
        error(*x, "duplicate tunnel name " + quote(*s) + " (first at line " +
                      std::to_string(first->second) + ")");
      } else {
        tunnel_name_values_.push_back({*s, *x});
      }
    }
  }
  bool local_ok = false;
  const Interface* local_iface = nullptr;
  if (auto x = require(*f, "local")) {
    if (auto a = address(*x)) {
      out.local = *a;
      local_ok = true;
      if (interfaces_clean_) {
        local_iface = owner_of(*a);
        if (!local_iface) {
          error(*x, "not an address of any interface " + quote(x->node.Scalar()));
          local_ok = false;
        }
      }
    }
  }
  if (auto x = require(*f, "remote")) {
    if (auto a = unicast(*x)) {
      out.remote = *a;
      if (local_ok && a->family != out.local.family) {
        error(*x, family_name(*a) + " remote address for an " + family_name(out.local) +
                      " local address " + quote(x->node.Scalar()));
      } else if (local_ok && *a == out.local) {
        error(*x, "the same as local " + quote(x->node.Scalar()));
      } else if (interfaces_clean_ && routes_clean_) {
        const bool connected = std::any_of(
            config_.interfaces.begin(), config_.interfaces.end(), [&](const Interface& i) {
              return std::any_of(i.addresses.begin(), i.addresses.end(),
                                 [&](const IpPrefix& p) { return p.contains(*a); });
            });
        const bool routed = std::any_of(config_.routes.begin(), config_.routes.end(),
                                        [&](const Route& r) { return r.prefix.contains(*a); });
        if (!connected && !routed) {
          error(*x, "no route to the peer (add a route or a connected address) " +
                        quote(x->node.Scalar()));
        }
      }
    }
  }
  cidrs(*f, "local_cidrs", out.local_cidrs, false, out.name);
  cidrs(*f, "remote_cidrs", out.remote_cidrs, true, out.name);

  bool nat_t_ok = true;
  if (auto x = f->get("nat_t")) {
    auto b = boolean(*x);
    nat_t_ok = b.has_value();
    out.nat_t = b.value_or(false);
  }
  for (auto [key, port] :
       {std::pair{"local_port", &out.local_port}, std::pair{"remote_port", &out.remote_port}}) {
    if (auto x = f->get(key)) {
      if (!nat_t_ok) {
        // nat_t's own error says enough.
      } else if (!out.nat_t) {
        error(*x, "only with nat_t: true, got " + describe(x->node));
      } else if (auto n = integer(*x, 1, 65535)) {
        *port = static_cast<uint16_t>(*n);
      }
    }
  }
  read_bool(*f, "esn", out.esn);
  if (auto x = f->get("replay_window")) {
    if (auto n = integer(*x, 0, esp::ReplayWindow::kMaxSize)) {
      if (*n == 0 && out.esn) {
        error(*x, "cannot be 0 (no replay check) with esn: true, got " + quote(x->node.Scalar()));
      } else {
        out.replay_window = static_cast<uint32_t>(*n);
      }
    }
  }
  if (auto x = f->get("df")) {
    if (auto d = choice<esp::DfMode>(*x, "df mode",
                                     {{"copy", esp::DfMode::kCopy},
                                      {"set", esp::DfMode::kSet},
                                      {"clear", esp::DfMode::kClear}})) {
      if (*d != esp::DfMode::kCopy && local_ok && out.local.is_v6()) {
        error(*x, "an IPv6 outer header has no DF bit; only copy applies, got " +
                      quote(x->node.Scalar()));
      } else {
        out.df = *d;
      }
    }
  }
  if (auto x = f->get("dscp")) {
    if (auto n = integer(*x, 0, 63)) out.dscp = static_cast<uint8_t>(*n);
  }
  if (auto x = f->get("ecn")) {
    if (auto e = choice<esp::EcnMode>(
            *x, "ecn mode",
            {{"normal", esp::EcnMode::kNormal}, {"compatibility", esp::EcnMode::kCompatibility}})) {
      out.ecn = *e;
    }
  }
  read_uint(*f, "ttl", out.ttl, 1, 255);

  const auto v6_inside = [&](const std::vector<IpPrefix>& ps) {
    return std::any_of(ps.begin(), ps.end(), [](const IpPrefix& p) { return p.address.is_v6(); });
  };
  const bool inner_v6 = v6_inside(out.local_cidrs) || v6_inside(out.remote_cidrs);
  if (auto x = f->get("mtu")) {
    if (auto n = integer(*x, kMinMtu, kMaxMtu)) {
      if (inner_v6 && *n < kMinMtuV6) {
        error(*x, "a tunnel that carries IPv6 needs an MTU of 1280 or more, got " +
                      quote(x->node.Scalar()));
      } else if (local_iface && *n >= local_iface->mtu) {
        error(*x, "must be below the MTU of interface \"" + local_iface->name + "\" (" +
                      std::to_string(local_iface->mtu) + ") to leave room for ESP, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mtu = static_cast<uint16_t>(*n);
      }
    }
  }
  if (auto x = f->get("mss")) {
    if (auto n = integer(*x, kMinMss, kMaxMtu - 40)) {
      if (out.mtu && *n + 40 > *out.mtu) {
        error(*x, "must leave 40 bytes of IP and TCP header within the tunnel MTU (" +
                      std::to_string(*out.mtu) + "), got " + quote(x->node.Scalar()));
      } else {
        out.mss = static_cast<uint16_t>(*n);
      }
    }
  }
  if (auto x = f->get("static_sa")) {
    if (auto sf = map(*x, {"outbound", "inbound"})) {
      Tunnel::StaticSas sas;
      const size_t before = errors_.size();
      if (auto o = require(*sf, "outbound")) static_sa(*o, sas.outbound, esp::Direction::kOutbound);
      if (auto i = require(*sf, "inbound")) static_sa(*i, sas.inbound, esp::Direction::kInbound);
      if (errors_.size() == before) out.static_sa = std::move(sas);
    }
  }
  if (auto x = f->get("ike")) {
    if (!first_ike_) first_ike_ = *x;
    if (f->get("static_sa")) {
      error(*x, "a tunnel takes its keys either from static_sa or from ike, not from both");
    }
    // The tunnel's esn is for static SAs; with IKE the proposals negotiate it.
    if (auto e = f->get("esn"); e && out.esn) {
      error(*e, "with ike, ESN is negotiated: add \"esn\" to the ike.esp_proposals instead, got " +
                    quote(e->node.Scalar()));
    }
    IkeConfig ike_config;
    const size_t before = errors_.size();
    ike(*x, ike_config, nat_t_ok && out.nat_t, out.name);
    if (errors_.size() == before) out.ike = std::move(ike_config);
  }
}

void Parser::cidrs(const Fields& f, std::string_view key, std::vector<IpPrefix>& out, bool remote,
                   const std::string& tunnel_name) {
  auto x = require(f, key);
  if (!x) return;
  auto items = list(*x, true);
  if (!items) return;
  std::vector<int> lines;
  for (const auto& item : *items) {
    auto p = prefix(item);
    if (!p) continue;
    const std::string shown = item.node.Scalar();
    if (auto it = std::find(out.begin(), out.end(), *p); it != out.end()) {
      error(item, "duplicate prefix " + quote(shown) + " (first at line " +
                      std::to_string(lines[it - out.begin()]) + ")");
      continue;
    }
    if (remote) {
      bool clash = false;
      for (const auto& seen : route_prefixes_) {
        if (!clash && seen.prefix == *p) {
          error(item,
                "also a static route (line " + std::to_string(seen.line) +
                    "); a prefix goes either into a tunnel or to a next hop: " + quote(shown));
          clash = true;
        }
      }
      if (clash) continue;
      // Another tunnel with the same prefix: check_remote_cidrs(), once the peers are known.
      remote_cidrs_.push_back({*p, tunnel_name, item});
    }
    out.push_back(*p);
    lines.push_back(item.line);
  }
}

void Parser::static_sa(const Value& v, StaticSa& out, esp::Direction dir) {
  auto f = map(v, {"spi", "algorithm", "key", "salt", "auth_key"});
  if (!f) return;
  if (auto x = require(*f, "spi")) {
    if (auto n = integer(*x, 256, UINT32_MAX, "RFC 4303 2.1 reserves 0 to 255")) {
      out.spi = static_cast<uint32_t>(*n);
      auto& seen = spis_[static_cast<size_t>(dir)];
      if (auto [first, inserted] = seen.emplace(out.spi, x->line); !inserted) {
        error(*x, std::string("duplicate ") +
                      (dir == esp::Direction::kInbound ? "inbound" : "outbound") + " SPI \"" +
                      spi_hex(out.spi) + "\" (first at line " + std::to_string(first->second) +
                      ")");
      }
    }
  }
  std::optional<esp::Algorithm> alg;
  if (auto x = require(*f, "algorithm")) {
    if (auto s = scalar(*x, "an algorithm")) {
      alg = esp::parse_algorithm(*s);
      if (alg) {
        out.algorithm = *alg;
      } else {
        error(*x,
              "unknown algorithm " + quote(*s) + " (expected one of: " + algorithm_list() + ")");
      }
    }
  }
  auto kx = require(*f, "key");
  auto sx = f->get("salt");
  auto ax = f->get("auth_key");
  auto key = kx ? secret(*kx) : std::nullopt;
  auto salt = sx ? secret(*sx) : std::nullopt;
  auto auth = ax ? secret(*ax) : std::nullopt;
  if (!alg) return;
  const std::string an = alg->name();
  const size_t kb = alg->key_bytes;
  const size_t sb = alg->salt_bytes();
  const auto bytes = [](size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); };

  if (alg->aead()) {
    if (key) {
      if (key->size() == kb + sb) {
        // IKE's keying material for GCM is key || salt (RFC 4106 8.1); accept it as given.
        if (sx) {
          error(*sx, "given twice: \"key\" already holds the key and the salt");
        } else {
          out.salt.assign(key->end() - static_cast<ptrdiff_t>(sb), key->end());
          key->resize(kb);
        }
      } else if (key->size() != kb) {
        error(*kx, an + " needs a " + std::to_string(kb) + "-byte key, or " +
                       std::to_string(kb + sb) + " bytes of key and salt; got " +
                       bytes(key->size()));
        key.reset();
      } else if (!sx) {
        error(f->self(), "missing key \"salt\" (" + an + " needs a " + std::to_string(sb) +
                             "-byte salt, or a " + std::to_string(kb + sb) +
                             "-byte key of key and salt)");
      }
    }
    if (salt) {
      if (salt->size() != sb) {
        error(*sx,
              an + " needs a " + std::to_string(sb) + "-byte salt, got " + bytes(salt->size()));
      } else if (out.salt.empty()) {
        out.salt = std::move(*salt);
      }
    }
    if (ax) error(*ax, an + " is an AEAD and takes no auth_key");
  } else {
    if (key && key->size() != kb) {
      error(*kx, an + " needs a " + std::to_string(kb) + "-byte key, got " + bytes(key->size()));
      key.reset();
    }
    if (sx) error(*sx, an + " takes no salt");
    if (!ax) {
      error(f->self(), "missing key \"auth_key\" (" + an + " needs a " +
                           std::to_string(alg->auth_key_bytes()) + "-byte integrity key)");
    } else if (auth && auth->size() != alg->auth_key_bytes()) {
      error(*ax, an + " needs a " + std::to_string(alg->auth_key_bytes()) + "-byte auth_key, got " +
                     bytes(auth->size()));
    } else if (auth) {
      out.auth_key = std::move(*auth);
    }
  }
  if (key) out.enc_key = std::move(*key);
}

// ---------------------------------------------------------------------------------------------
// IKE

void Parser::ike(const Value& v, IkeConfig& out, bool nat_t, const std::string& tunnel_name) {
  auto f = map(v, {"version", "local_id", "remote_id", "psk_ref", "ike_proposals", "esp_proposals",
                   "ike_lifetime_s", "child_lifetime_s", "rekey_margin_s", "rekey_fuzz_percent",
                   "life_bytes", "life_packets", "dpd_delay_s", "dpd_timeout_s", "dpd_action",
                   "start_action", "mobike", "force_encap"});
  if (!f) return;
  bool version_ok = true;
  if (auto x = f->get("version")) {
    auto n = integer(*x, 1, 2);
    version_ok = n.has_value();
    if (n) out.version = static_cast<uint8_t>(*n);
  }
  for (auto [key, id] :
       {std::pair{"local_id", &out.local_id}, std::pair{"remote_id", &out.remote_id}}) {
    if (auto x = f->get(key)) {
      if (auto s = text(*x)) *id = *s;
    }
  }
  if (auto x = f->get("psk_ref")) {
    if (auto s = name(*x)) {
      out.psk_ref = *s;
      psk_refs_.push_back({*s, *x});
    }
  } else {
    error(f->self(),
          "missing key \"psk_ref\" (a pre-shared key is the only IKE authentication espgw "
          "configures for now)");
  }
  if (auto x = f->get("ike_proposals")) proposals(*x, ProposalKind::kIke, out.ike_proposals);
  if (auto x = f->get("esp_proposals")) proposals(*x, ProposalKind::kEsp, out.esp_proposals);

  // Lifetimes and the rekey margin: the SA is rekeyed margin (plus up to fuzz% of it) before it
  // expires, which needs the margin below each lifetime. A default that conflicts with a value
  // given is reported at the value given.
  struct Timer {
    std::string_view key;
    uint32_t* value;
    std::optional<Value> at;
    bool ok = true;
  };
  const auto read_timer = [&](Timer& t, uint64_t min, uint64_t max) {
    if (!t.at) return;
    auto n = integer(*t.at, min, max);
    t.ok = n.has_value();
    if (n) *t.value = static_cast<uint32_t>(*n);
  };
  const auto shown = [](const Timer& t) {
    return std::to_string(*t.value) + (t.at ? "" : ", the default");
  };
  Timer lifetimes[] = {{"child_lifetime_s", &out.child_lifetime_s, f->get("child_lifetime_s")},
                       {"ike_lifetime_s", &out.ike_lifetime_s, f->get("ike_lifetime_s")}};
  Timer margin{"rekey_margin_s", &out.rekey_margin_s, f->get("rekey_margin_s")};
  for (Timer& t : lifetimes)
    read_timer(t, kMinLifetime, kMaxLifetime);
  read_timer(margin, 1, kMaxLifetime - 1);
  for (const Timer& life : lifetimes) {
    if (!life.ok || !margin.ok || *margin.value < *life.value) continue;
    if (margin.at) {
      error(*margin.at, "must be less than " + std::string(life.key) + " (" + shown(life) +
                            "), got " + quote(margin.at->node.Scalar()));
      break;  // once: the shorter lifetime says it
    }
    error(*life.at, "must be greater than rekey_margin_s (" + shown(margin) + "), got " +
                        quote(life.at->node.Scalar()));
  }
  // charon rekeys at a random point up to margin * fuzz / 100 before lifetime - margin, and does
  // not clamp it (child_cfg.c apply_jitter()): that point must stay after the SA's start.
  Timer fuzz{"rekey_fuzz_percent", &out.rekey_fuzz_percent, f->get("rekey_fuzz_percent")};
  read_timer(fuzz, 0, kMaxFuzzPercent);
  for (const Timer& life : lifetimes) {
    if (!life.ok || !margin.ok || !fuzz.ok || *margin.value >= *life.value) continue;
    const uint64_t earliest =
        *margin.value + uint64_t{*margin.value} * *fuzz.value / 100;  // before the end
    if (earliest < *life.value) continue;
    const Value& where = fuzz.at ? *fuzz.at : margin.at ? *margin.at : *life.at;
    error(where, "rekey_margin_s (" + shown(margin) + ") plus rekey_fuzz_percent (" + shown(fuzz) +
                     ") of it is " + std::to_string(earliest) + " s, not less than " +
                     std::string(life.key) + " (" + shown(life) +
                     "): charon could rekey as soon as the SA is up, got " +
                     quote(where.node.Scalar()));
    break;
  }
  read_uint(*f, "life_bytes", out.life_bytes, 0, UINT64_MAX);
  read_uint(*f, "life_packets", out.life_packets, 0, UINT64_MAX);

  // DPD. IKEv1: charon's dpd_timeout, the time without an answer after which the peer is dead,
  // so more than the delay. IKEv2: charon ignores dpd_timeout and gives up when a DPD request's
  // retransmissions run out; espgw-up sets those from dpd_timeout_s (config/charon_retransmit.h),
  // so it is the length of an unanswered liveness check, and has no relation to the delay.
  Timer delay{"dpd_delay_s", &out.dpd_delay_s, f->get("dpd_delay_s")};
  Timer timeout{"dpd_timeout_s", &out.dpd_timeout_s, f->get("dpd_timeout_s")};
  read_timer(delay, 0, kMaxDpdDelay);
  const bool ikev2 = !version_ok || out.version == 2;
  if (ikev2) {
    out.dpd_timeout_s = kDefaultIkev2DpdTimeout;
    read_timer(timeout, kMinIkev2DpdTimeout, kMaxIkev2DpdTimeout);
    if (timeout.ok && version_ok) {
      dpd_seen_.push_back({tunnel_name, timeout.at ? *timeout.at : v, out.dpd_timeout_s,
                           out.dpd_delay_s, timeout.at.has_value()});
    }
  } else {
    read_timer(timeout, 1, kMaxDpdTimeout);
  }
  if (!ikev2 && delay.ok && timeout.ok && *timeout.value <= *delay.value) {
    if (timeout.at) {
      error(*timeout.at, "must be greater than dpd_delay_s (" + shown(delay) + "), got " +
                             quote(timeout.at->node.Scalar()));
    } else {
      error(*delay.at, "must be less than dpd_timeout_s (" + shown(timeout) + "), got " +
                           quote(delay.at->node.Scalar()));
    }
  }
  if (auto x = f->get("dpd_action")) {
    if (auto a = choice<DpdAction>(*x, "dpd action",
                                   {{"clear", DpdAction::kClear},
                                    {"trap", DpdAction::kTrap},
                                    {"restart", DpdAction::kRestart}})) {
      out.dpd_action = *a;
    }
  }
  if (auto x = f->get("start_action")) {
    if (auto a = choice<StartAction>(*x, "start action",
                                     {{"none", StartAction::kNone},
                                      {"trap", StartAction::kTrap},
                                      {"start", StartAction::kStart}})) {
      out.start_action = *a;
    }
  }
  if (auto x = f->get("mobike")) {
    if (auto b = boolean(*x)) {
      if (*b && version_ok && out.version == 1) {
        error(*x, "MOBIKE (RFC 4555) is an IKEv2 extension; version is 1, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mobike = *b;
      }
    }
  }
  if (auto x = f->get("force_encap")) {
    if (auto b = boolean(*x)) {
      if (!*b && nat_t) {
        error(*x, "the tunnel's nat_t: true already forces UDP encapsulation, got " +
                      quote(x->node.Scalar()));
      } else {
        out.force_encap = *b;
      }
    }
  }
  // An IKE tunnel with nat_t: true sends ESP in UDP even where IKE detects no NAT, as its static
  // SAs would.
  if (nat_t) out.force_encap = true;
}

void Parser::proposals(const Value& v, ProposalKind kind, std::vector<std::string>& out) {
  auto items = list(v, true);
  if (!items) return;
  std::vector<std::string> result;
  std::map<std::string, int, std::less<>> seen;
  bool ok = true;
  for (const auto& item : *items) {
    auto s = text(item);
    if (!s) {
      ok = false;
      continue;
    }
    if (auto [first, inserted] = seen.emplace(*s, item.line); !inserted) {
      error(item, "duplicate proposal " + quote(*s) + " (first at line " +
                      std::to_string(first->second) + ")");
      ok = false;
      continue;
    }
    if (!proposal(item, *s, kind)) {
      ok = false;
      continue;
    }
    result.push_back(*s);
  }
  if (ok) out = std::move(result);
}

// One proposal, checked as strongSwan's proposal_create_from_string() would, and for ESP against
// what the dataplane carries. The first problem is reported.
bool Parser::proposal(const Value& v, const std::string& text, ProposalKind kind) {
  const bool esp = kind == ProposalKind::kEsp;
  const std::string in = " in proposal " + quote(text);
  const std::string expected = " (expected " + known_keywords(kind) + ")";
  if (text == "default") {
    if (!esp) return true;  // charon's own IKE defaults
    error(v,
          "strongSwan's default ESP proposals include algorithms the dataplane does not carry "
          "(aes192, aesxcbc); list the proposals, got " +
              quote(text));
    return false;
  }
  if (text.find(',') != std::string::npos) {
    error(v,
          "several proposals in one string: write each as its own list item, got " + quote(text));
    return false;
  }
  std::vector<const Keyword*> found;
  size_t start = 0;
  for (;;) {
    const size_t dash = text.find('-', start);
    const std::string token = text.substr(start, dash - start);
    if (token.empty()) {
      error(v, "empty algorithm name (two '-' in a row, or one at an end)" + in);
      return false;
    }
    const Keyword* k = find_keyword(kind, token);
    if (!k) {
      std::string lower(token);
      for (char& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (find_keyword(kind, lower)) {
        error(v, "unknown algorithm " + quote(token) + in + " (strongSwan's keywords are lower " +
                     "case: \"" + lower + "\")");
      } else if (esp && find_keyword(ProposalKind::kIke, token)) {
        error(v, "not an ESP algorithm the dataplane carries " + quote(token) + in + expected);
      } else if (!esp && find_keyword(ProposalKind::kEsp, token)) {
        error(v, quote(token) + " belongs in esp_proposals" + in);
      } else {
        std::string_view best;
        size_t best_distance = 3;
        for (const Keyword& candidate : keywords_of(kind)) {
          const size_t d = edit_distance(token, candidate.name);
          if (d < best_distance) {
            best_distance = d;
            best = candidate.name;
          }
        }
        error(v, "unknown algorithm " + quote(token) + in +
                     (best.empty() ? expected : " (did you mean \"" + std::string(best) + "\"?)"));
      }
      return false;
    }
    for (const Keyword* other : found) {
      if (other->canonical == k->canonical) {
        error(v, quote(token) + " given twice" + in);
        return false;
      }
    }
    found.push_back(k);
    if (dash == std::string::npos) break;
    start = dash + 1;
  }

  const auto count = [&](TokenKind t) {
    return std::count_if(found.begin(), found.end(),
                         [&](const Keyword* k) { return k->kind == t; });
  };
  const auto first = [&](TokenKind t) {
    return *std::find_if(found.begin(), found.end(),
                         [&](const Keyword* k) { return k->kind == t; });
  };
  const auto aeads = count(TokenKind::kAead);
  const auto ciphers = count(TokenKind::kCipher);
  const auto integrities = count(TokenKind::kIntegrity);
  if (aeads + ciphers == 0) {
    error(v, "no encryption algorithm" + in);
    return false;
  }
  if (esp && aeads + ciphers > 1) {
    error(v, "more than one encryption algorithm" + in +
                 " (the dataplane takes one per ESP proposal: list one proposal for each)");
    return false;
  }
  if (aeads > 0 && ciphers > 0) {
    error(v,
          "AEAD and classic encryption algorithms in one proposal (strongSwan refuses that)" + in);
    return false;
  }
  if (aeads > 0 && integrities > 0) {
    error(v, std::string(first(TokenKind::kAead)->name) +
                 " is an AEAD and takes no integrity algorithm" + in);
    return false;
  }
  if (ciphers > 0 && integrities == 0) {
    error(v, std::string(first(TokenKind::kCipher)->name) +
                 " needs an integrity algorithm (sha1, sha256, sha384 or sha512)" + in);
    return false;
  }
  if (esp) {
    if (integrities > 1) {
      error(v, "more than one integrity algorithm" + in +
                   " (the dataplane takes one per ESP proposal: list one proposal for each)");
      return false;
    }
    // By construction of the tables, a transform esp::parse_algorithm knows.
    std::string name(aeads ? first(TokenKind::kAead)->canonical
                           : first(TokenKind::kCipher)->canonical);
    if (integrities) name += "-" + std::string(first(TokenKind::kIntegrity)->canonical);
    if (!esp::parse_algorithm(name)) {
      error(v, "not an ESP transform the dataplane carries (" + name + ")" + in);
      return false;
    }
    return true;
  }
  if (aeads > 0 && count(TokenKind::kPrf) == 0) {
    error(v, std::string(first(TokenKind::kAead)->name) +
                 " needs a PRF (prfsha256, prfsha384, prfsha512 or prfsha1)" + in);
    return false;
  }
  if (count(TokenKind::kGroup) == 0) {
    error(v, "no DH group (an IKE proposal needs one)" + in);
    return false;
  }
  return true;
}

void Parser::ike_global(const Value& v, IkeGlobal& out) {
  auto f = map(v, {"secrets_file", "vici_socket"});
  if (!f) return;
  if (auto x = f->get("secrets_file")) {
    secrets_file_at_ = *x;
    if (auto s = absolute_path(*x)) out.secrets_file = *s;
  }
  if (auto x = f->get("vici_socket")) {
    if (auto s = socket_path(*x)) {
      if (*s == config_.dataplane.control_socket) {
        error(*x, "the same path as dataplane.control_socket " + quote(*s));
      } else {
        out.vici_socket = *s;
      }
    }
  }
}

std::string prefix_list(const std::vector<IpPrefix>& ps) {
  std::string s;
  for (const auto& p : ps)
    s += (s.empty() ? "" : ", ") + p.to_string();
  return s;
}

void Parser::peers(const Value& v) {
  auto items = list(v, false);
  if (!items) return;
  std::map<std::string, int, std::less<>> names;
  std::map<std::string, int, std::less<>> member_lines;  // tunnel -> line, over all peers
  for (const auto& item : *items) {
    auto f = map(item, {"name", "tunnels", "failback"});
    if (!f) continue;
    const size_t index = config_.peers.size();
    Peer& p = config_.peers.emplace_back();
    if (auto x = require(*f, "name")) {
      if (auto s = name(*x)) {
        p.name = *s;
        if (auto [first, inserted] = names.emplace(*s, x->line); !inserted) {
          error(*x, "duplicate peer name " + quote(*s) + " (first at line " +
                        std::to_string(first->second) + ")");
        }
      }
    }
    if (auto x = require(*f, "tunnels")) {
      if (auto members = list(*x, true)) {
        const Tunnel* first_tunnel = nullptr;
        int first_line = 0;
        for (const auto& m : *members) {
          auto s = name(m);
          if (!s) continue;
          if (auto [other, inserted] = member_lines.emplace(*s, m.line); !inserted) {
            const size_t owner = peer_of_tunnel_.at(*s);
            if (owner == index) {
              error(m, "tunnel listed twice in this peer " + quote(*s) + " (first at line " +
                           std::to_string(other->second) + ")");
            } else {
              error(m, "already in peer \"" + config_.peers[owner].name + "\" (line " +
                           std::to_string(other->second) +
                           "); a tunnel belongs to one peer at most: " + quote(*s));
            }
            continue;
          }
          peer_of_tunnel_.emplace(*s, index);
          p.tunnels.push_back(*s);
          if (!tunnels_clean_) continue;
          const Tunnel* t = config_.find_tunnel(*s);
          if (!t) {
            std::string known;
            for (const auto& other_tunnel : config_.tunnels)
              known += (known.empty() ? "" : ", ") + other_tunnel.name;
            error(m, "unknown tunnel " + quote(*s) +
                         " (tunnels: " + (known.empty() ? "none" : known) + ")");
            continue;
          }
          if (!first_tunnel) {
            first_tunnel = t;
            first_line = m.line;
            continue;
          }
          // Failover moves the same traffic: both tunnels must carry the same CIDRs.
          for (auto [key, mine, theirs] :
               {std::tuple{"local_cidrs", &t->local_cidrs, &first_tunnel->local_cidrs},
                std::tuple{"remote_cidrs", &t->remote_cidrs, &first_tunnel->remote_cidrs}}) {
            std::vector<IpPrefix> only_here;
            std::vector<IpPrefix> only_there;
            for (const auto& c : *mine) {
              if (std::find(theirs->begin(), theirs->end(), c) == theirs->end())
                only_here.push_back(c);
            }
            for (const auto& c : *theirs) {
              if (std::find(mine->begin(), mine->end(), c) == mine->end()) only_there.push_back(c);
            }
            if (only_here.empty() && only_there.empty()) continue;
            std::string diff;
            if (!only_here.empty()) diff = "only in \"" + t->name + "\": " + prefix_list(only_here);
            if (!only_there.empty()) {
              diff += (diff.empty() ? "" : "; ") + std::string("only in \"") + first_tunnel->name +
                      "\": " + prefix_list(only_there);
            }
            error(m, std::string(key) + " differ from those of tunnel \"" + first_tunnel->name +
                         "\" (line " + std::to_string(first_line) + "; " + diff +
                         "); the tunnels of a peer carry the same CIDRs: " + quote(*s));
          }
        }
      }
    }
    read_bool(*f, "failback", p.failback);
  }
}

// Two tunnels may route the same remote prefix only as one peer's failover pair.
void Parser::check_remote_cidrs() {
  const auto grouped = [&](const std::string& a, const std::string& b) {
    auto ia = peer_of_tunnel_.find(a);
    auto ib = peer_of_tunnel_.find(b);
    return ia != peer_of_tunnel_.end() && ib != peer_of_tunnel_.end() && ia->second == ib->second;
  };
  std::vector<bool> reported(remote_cidrs_.size());
  for (size_t i = 0; i < remote_cidrs_.size(); ++i) {
    const RemoteCidr& c = remote_cidrs_[i];
    for (size_t j = 0; j < i; ++j) {
      const RemoteCidr& seen = remote_cidrs_[j];
      if (reported[j] || seen.prefix != c.prefix || seen.tunnel == c.tunnel ||
          grouped(seen.tunnel, c.tunnel)) {
        continue;
      }
      error(c.at, "already routed into tunnel \"" + seen.tunnel + "\" (line " +
                      std::to_string(seen.at.line) + "): " + quote(c.at.node.Scalar()));
      reported[i] = true;
      break;
    }
  }
}

void Parser::check_dpd_timeouts() {
  const DpdSeen* shortest = nullptr;
  for (const DpdSeen& d : dpd_seen_) {
    if (!shortest || d.timeout_s < shortest->timeout_s) shortest = &d;
  }
  for (const DpdSeen& d : dpd_seen_) {
    if (d.given && d.delay_s == 0) {
      warning(d.at, "dpd_delay_s is 0 (no DPD): this tunnel's dead peer is never detected, and " +
                        std::to_string(d.timeout_s) +
                        " s only bounds charon's retransmissions (every IKEv2 exchange gives up "
                        "after them)");
    }
    if (d.timeout_s == shortest->timeout_s) continue;
    warning(d.at, "charon's retransmissions are global: every IKEv2 exchange gives up after " +
                      std::to_string(shortest->timeout_s) + " s, tunnel " +
                      quote(shortest->tunnel) + "'s dpd_timeout_s (" +
                      (shortest->given ? "" : "the default, ike section at ") + "line " +
                      std::to_string(shortest->at.line) + "), so this tunnel's peer is declared "
                      "dead after " + std::to_string(shortest->timeout_s) + " s, not " +
                      std::to_string(d.timeout_s) + " s");
  }
}

void Parser::check_if_ids() {
  struct Owner {
    std::string name;
    int line;  // 0: a tunnel of the running config
  };
  std::map<uint32_t, Owner> ids;
  if (seeded_) {
    for (const auto& t : config_.tunnels)
      ids.emplace(tunnel_if_id(t.name), Owner{t.name, 0});
  }
  for (const auto& n : tunnel_name_values_) {
    const uint32_t id = tunnel_if_id(n.name);
    auto [it, inserted] = ids.emplace(id, Owner{n.name, n.at.line});
    if (inserted || it->second.name == n.name) continue;
    error(n.at, "interface ID " + spi_hex(id) + " is that of tunnel \"" + it->second.name + "\"" +
                    (it->second.line ? " (line " + std::to_string(it->second.line) + ")" : "") +
                    "; rename one of the two: " + quote(n.name));
  }
}

void Parser::load_secrets() {
  if (!first_ike_) return;  // no tunnel uses IKE: no keys needed
  if (!config_.ike.secrets_file.empty()) {
    if (secrets_file_at_ && read_secrets(*secrets_file_at_, config_.ike.secrets_file)) {
      check_psk_refs(config_.ike.secrets_file);
    }
    return;
  }
  if (from_file_ && !secrets_file_at_) {
    error(*first_ike_,
          "needs the pre-shared keys: name their file in ike.secrets_file at the top level");
  }
}

void Parser::check_psk_refs(const std::string& secrets_file) {
  for (const auto& ref : psk_refs_) {
    if (!config_.secrets.contains(ref.name)) {
      error(ref.at, "no such pre-shared key in " + secrets_file + ": " + quote(ref.name));
    }
  }
}

// The secrets file: only root or espgw's own user may own it, and only its owner may read it,
// as strongSwan's own secrets files are kept. Its content is never shown.
bool Parser::read_secrets(const Value& at, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    error(at, std::string("cannot open: ") + std::strerror(errno) + " " + quote(path));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    error(at, std::string("cannot stat: ") + std::strerror(err) + " " + quote(path));
    return false;
  }
  bool ok = true;
  if (!S_ISREG(st.st_mode)) {
    error(at, "not a regular file " + quote(path));
    ok = false;
  } else {
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
      error(at, "owned by uid " + std::to_string(st.st_uid) +
                    ", neither root nor the user espgw runs as (uid " +
                    std::to_string(::geteuid()) + "); fix with chown: " + quote(path));
      ok = false;
    }
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      error(at,
            std::string("mode ") + mode +
                " lets group or others at the pre-shared keys; fix with chmod 600: " + quote(path));
      ok = false;
    }
  }
  std::string text;
  if (ok) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error(at, std::string("cannot read: ") + std::strerror(errno) + " " + quote(path));
        ok = false;
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxSecretsFileBytes) {
        error(at, "larger than 1 MiB; not a secrets file " + quote(path));
        ok = false;
        break;
      }
    }
    std::fill(std::begin(buf), std::end(buf), '\0');
  }
  ::close(fd);
  const size_t before = errors_.size();
  if (ok) secrets_content(text);
  std::fill(text.begin(), text.end(), '\0');
  return ok && errors_.size() == before;
}

// "psk: {NAME: SECRET, ...}". No message repeats a name or a secret of this file: a secret pasted
// where a name belongs would be shown otherwise.
void Parser::secrets_content(std::string& text) {
  YAML::Node root;
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      secrets_error(line_of(docs[1]), "", "a second YAML document; the file is one document");
      return;
    }
    if (!docs.empty()) root = docs[0];
  } catch (const YAML::Exception& e) {
    // Some of yaml-cpp's messages end in the character they stumbled on: drop that part.
    const std::string what = e.msg.substr(0, e.msg.find(':'));
    secrets_error(e.mark.is_null() ? 1 : e.mark.line + 1, "", "YAML syntax error: " + what);
    return;
  }
  if (!root.IsDefined() || root.IsNull()) {
    secrets_error(1, "", "the file is empty (expected a map with \"psk\")");
    return;
  }
  if (!root.IsMap()) {
    secrets_error(line_of(root), "", "expected a map with \"psk\" (content not shown)");
    return;
  }
  std::optional<YAML::Node> psk;
  int psk_line = 0;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node k = it->first;
    const int line = line_of(k);
    if (!k.IsScalar() || k.Scalar() != "psk") {
      secrets_error(line, "",
                    "unknown key (expected only \"psk\"; keys of this file are not shown)");
    } else if (psk) {
      secrets_error(line, "psk",
                    "duplicate key \"psk\" (first at line " + std::to_string(psk_line) + ")");
    } else {
      psk = it->second;
      psk_line = line;
    }
  }
  if (!psk) {
    if (root.size() == 0) secrets_error(line_of(root), "", "missing key \"psk\"");
    return;
  }
  if (psk->IsNull() || !psk->IsMap()) {
    secrets_error(psk_line, "psk", "expected a map of NAME: SECRET (content not shown)");
    return;
  }
  std::map<std::string, int, std::less<>> lines;
  for (auto it = psk->begin(); it != psk->end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node secret = it->second;
    const int line = line_of(k);
    if (!k.IsScalar() || !valid_name(k.Scalar())) {
      secrets_error(line, "psk",
                    "a name that is not 1 to " + std::to_string(kMaxNameLength) +
                        " letters, digits, '-', '_' or '.' (names of this file are not shown)");
      continue;
    }
    if (auto [first, inserted] = lines.emplace(k.Scalar(), line); !inserted) {
      secrets_error(line, "psk",
                    "a name given twice (first at line " + std::to_string(first->second) +
                        "; names of this file are not shown)");
      continue;
    }
    if (secret.IsNull()) {
      secrets_error(line, "psk", "no secret on this line");
    } else if (!secret.IsScalar()) {
      secrets_error(line, "psk", "a secret must be a string (not shown)");
    } else if (secret.Scalar().empty()) {
      secrets_error(line, "psk", "an empty secret");
    } else {
      config_.secrets[k.Scalar()] = secret.Scalar();
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

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
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    throw ConfigError(source_name + ":" + std::to_string(line) + ": YAML syntax error: " + e.msg);
  }
  if (docs.empty() || (docs.size() == 1 && docs[0].IsNull())) {
    throw ConfigError(source_name + ":1: the file is empty (expected a map with \"interfaces\")");
  }
  if (docs.size() > 1) {
    throw ConfigError(source_name + ":" + std::to_string(line_of(docs[1])) +
                      ": a second YAML document; the config is one document");
  }
  try {
    return Parser(source_name, from_file).run(docs[0]);
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

esp::SaParams sa_params(const Tunnel& t, const StaticSa& sa, esp::Direction dir) {
  esp::SaParams p;
  p.spi = sa.spi;
  p.direction = dir;
  p.algorithm = sa.algorithm;
  p.enc_key = sa.enc_key;
  p.salt = sa.salt;
  p.auth_key = sa.auth_key;
  // SaParams names the outer addresses from this gateway's side in both directions: local is
  // ours (outbound source, inbound destination), remote the peer's.
  p.local = t.local;
  p.remote = t.remote;
  p.udp_encap = t.nat_t;
  p.local_port = t.local_port;
  p.remote_port = t.remote_port;
  p.esn = t.esn;
  p.replay_window = t.replay_window;  // read by inbound SAs only
  p.df = t.df;
  p.copy_dscp = !t.dscp.has_value();
  p.dscp = t.dscp.value_or(0);
  p.ecn = t.ecn;
  p.ttl = t.ttl;
  return p;
}

}  // namespace espgw::config
