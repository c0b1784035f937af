// import-ipsec-conf: the classic strongSwan set-up (ipsec.conf in starter syntax, ipsec.secrets)
// into an espgw config. The subset mapped is what site-to-site PSK tunnels use; every other option
// is reported with its file, line and conn, and what cannot be mapped at all (certificates,
// transport mode, a peer without an address) fails with the reason.
//
// strongSwan's semantics kept: a conn's own settings win over those it pulls in with also=, which
// win over conn %default; `key=` with no value resets a key to its default; a conn without
// auto= (auto=ignore) is not loaded. Where strongSwan's defaults differ from espgw's (lifetimes,
// DPD, MOBIKE) the generated config states strongSwan's, so the tunnel behaves as before.

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "config/charon_retransmit.h"
#include "config/import/import.h"
#include "config/import/site.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {
namespace {

struct Param {
  std::string key;
  std::string value;
  std::string file;
  int line = 0;
  std::string at() const { return file + ":" + std::to_string(line); }
};

struct Section {
  std::string kind;  // "config", "conn", "ca"
  std::string name;
  std::string file;
  int line = 0;
  std::vector<Param> params;
};

constexpr int kMaxIncludeDepth = 10;

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

[[noreturn]] void fail(const std::string& at, const std::string& what) {
  throw ImportError(at + ": " + what);
}

std::string read_file(const std::string& path, const std::string& from) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    throw ImportError((from.empty() ? path : from + ": " + path) +
                      ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// `include PATTERN`: relative to the including file's folder; a glob may match nothing (as in
// strongSwan), a plain path must exist.
std::vector<std::string> resolve_include(const std::string& pattern, const std::string& from_file,
                                         const std::string& at) {
  std::string p = pattern;
  if (p.size() >= 2 && p.front() == '"' && p.back() == '"') p = p.substr(1, p.size() - 2);
  if (p.empty()) fail(at, "include without a path");
  if (p[0] != '/') p = (std::filesystem::path(from_file).parent_path() / p).string();
  const bool is_glob = p.find_first_of("*?[") != std::string::npos;
  glob_t g{};
  const int rc = ::glob(p.c_str(), GLOB_ERR, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i)
      out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (out.empty() && !is_glob) fail(at, "include: no such file \"" + p + "\"");
  std::sort(out.begin(), out.end());
  return out;
}

// ---- ipsec.conf -----------------------------------------------------------------------------

class ConfReader {
 public:
  std::vector<Section> sections;
  std::vector<std::string> notes;

  void read(const std::string& path, int depth, const std::string& from) {
    if (depth > kMaxIncludeDepth) fail(from, "includes nested more than 10 deep (a loop?)");
    const std::string text = read_file(path, from);
    std::istringstream in(text);
    std::string raw;
    int line = 0;
    Section* cur = nullptr;
    while (std::getline(in, raw)) {
      ++line;
      const std::string at = path + ":" + std::to_string(line);
      std::string s = strip_comment(raw);
      if (trim(s).empty()) continue;
      if (!std::isspace(static_cast<unsigned char>(s[0]))) {
        std::istringstream words(s);
        std::string kw;
        std::string name;
        std::string more;
        words >> kw >> name;
        std::getline(words, more);
        if (kw == "include") {
          for (const auto& f : resolve_include(trim(s.substr(7)), path, at))
            read(f, depth + 1, at);
          cur = nullptr;
          continue;
        }
        if (kw == "version") {
          notes.push_back(at + ": version " + name + ": not needed (ignored)");
          cur = nullptr;
          continue;
        }
        if (kw != "conn" && kw != "config" && kw != "ca") {
          fail(at,
               "expected \"conn NAME\", \"config setup\", \"ca NAME\" or \"include PATH\" at "
               "the start of a line (settings are indented)");
        }
        if (name.empty() || !trim(more).empty()) fail(at, kw + " needs exactly one name");
        if (kw == "config" && name != "setup")
          fail(at, "config " + name + ": only \"config setup\" exists");
        sections.push_back({kw, name, path, line, {}});
        cur = &sections.back();
        continue;
      }
      if (!cur) fail(at, "an indented setting outside any section");
      const std::string t = trim(s);
      const size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0) fail(at, "expected KEY=VALUE, got \"" + t + "\"");
      std::string key = trim(t.substr(0, eq));
      std::string value = trim(t.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      for (char c : key) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
          fail(at, "not a setting name: \"" + key + "\"");
        }
      }
      cur->params.push_back({key, value, path, line});
    }
  }

 private:
  // '#' starts a comment unless it is inside double quotes.
  static std::string strip_comment(const std::string& s) {
    bool quoted = false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"') quoted = !quoted;
      if (s[i] == '#' && !quoted) return s.substr(0, i);
    }
    return s;
  }
};

using Settings = std::map<std::string, Param>;

// A conn's effective settings: %default, then its also= (in order, recursively), then its own.
class Resolver {
 public:
  Resolver(const std::vector<Section>& sections) {
    for (const auto& s : sections) {
      if (s.kind != "conn") continue;
      if (s.name == "%default") {
        for (const auto& p : s.params)
          set(defaults_, p);
        continue;
      }
      const auto [it, inserted] = conns_.emplace(s.name, &s);
      if (!inserted) {
        fail(s.file + ":" + std::to_string(s.line), "conn " + s.name + " defined twice (first at " +
                                                        it->second->file + ":" +
                                                        std::to_string(it->second->line) + ")");
      }
    }
  }
  Settings effective(const Section& conn) {
    Settings s = defaults_;
    std::vector<std::string> chain;
    for (const auto& [k, p] : own(conn, chain))
      s[k] = p;
    for (auto it = s.begin(); it != s.end();) {
      it = it->second.value.empty() ? s.erase(it) : std::next(it);  // key= resets
    }
    return s;
  }
  bool used_by_also(const std::string& name) const { return also_targets_.count(name) != 0; }
  void collect_also_targets(const std::vector<Section>& sections) {
    for (const auto& s : sections) {
      for (const auto& p : s.params) {
        if (p.key == "also") also_targets_.insert(p.value);
      }
    }
  }

 private:
  static void set(Settings& s, const Param& p) { s[p.key] = p; }
  Settings own(const Section& conn, std::vector<std::string>& chain) {
    if (std::find(chain.begin(), chain.end(), conn.name) != chain.end()) {
      std::string loop;
      for (const auto& c : chain)
        loop += c + " -> ";
      fail(conn.file + ":" + std::to_string(conn.line), "also= loop: " + loop + conn.name);
    }
    chain.push_back(conn.name);
    Settings s;
    for (const auto& p : conn.params) {
      if (p.key != "also") continue;
      const auto it = conns_.find(p.value);
      if (it == conns_.end())
        fail(p.at(), "conn " + conn.name + ": also=" + p.value + ": no such conn");
      for (const auto& [k, v] : own(*it->second, chain))
        s[k] = v;
    }
    for (const auto& p : conn.params) {
      if (p.key != "also") set(s, p);
    }
    chain.pop_back();
    return s;
  }
  Settings defaults_;
  std::map<std::string, const Section*> conns_;
  std::set<std::string> also_targets_;
};

// ---- ipsec.secrets --------------------------------------------------------------------------

struct Psk {
  std::vector<std::string> ids;  // empty: any
  std::string secret;
  std::string at;
};

std::string decode_base64(std::string_view in, const std::string& at) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = kAlphabet.find(c);
    if (v == std::string::npos) fail(at, "PSK: not valid base64 (value not shown)");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string decode_hex(std::string_view in, const std::string& at) {
  std::string out;
  if (in.size() % 2) fail(at, "PSK: odd number of hex digits (value not shown)");
  for (size_t i = 0; i < in.size(); i += 2) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(in.data() + i, in.data() + i + 2, v, 16);
    if (ec != std::errc() || end != in.data() + i + 2)
      fail(at, "PSK: not valid hex (value not shown)");
    out += static_cast<char>(v);
  }
  return out;
}

class SecretsReader {
 public:
  std::vector<Psk> psks;
  std::vector<std::string> notes;

  void read(const std::string& path, int depth, const std::string& from) {
    if (depth > kMaxIncludeDepth) fail(from, "includes nested more than 10 deep (a loop?)");
    const std::string text = read_file(path, from);
    std::istringstream in(text);
    std::string raw;
    int line = 0;
    // An entry may continue on lines that start with white space.
    std::vector<std::pair<int, std::string>> entries;
    while (std::getline(in, raw)) {
      ++line;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      const std::string t = trim(raw);
      if (t.empty() || t[0] == '#') continue;
      if (std::isspace(static_cast<unsigned char>(raw[0])) && !entries.empty() &&
          entries.back().second.find(':') == std::string::npos) {
        entries.back().second += " " + t;
      } else if (std::isspace(static_cast<unsigned char>(raw[0])) && !entries.empty() &&
                 trim(entries.back().second.substr(entries.back().second.find(':') + 1))
                         .find(' ') == std::string::npos) {
        entries.back().second += " " + t;  // "A B : PSK" with the secret on the next line
      } else {
        entries.push_back({line, t});
      }
    }
    for (const auto& [l, e] : entries) {
      const std::string at = path + ":" + std::to_string(l);
      if (e.starts_with("include ") || e.starts_with("include\t")) {
        for (const auto& f : resolve_include(trim(e.substr(8)), path, at))
          read(f, depth + 1, at);
        continue;
      }
      const size_t colon = find_separator(e);
      if (colon == std::string::npos)
        fail(at, "expected \"[IDS] : TYPE SECRET\" (line not shown: it may hold a secret)");
      Psk p;
      p.at = at;
      std::istringstream ids(e.substr(0, colon));
      for (std::string id; ids >> id;)
        p.ids.push_back(id);
      std::string rest = trim(e.substr(colon + 1));
      const size_t sp = rest.find_first_of(" \t");
      const std::string type = rest.substr(0, sp);
      std::string upper;
      for (char c : type)
        upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (upper != "PSK") {
        notes.push_back(at + ": a " + (upper.empty() ? std::string("secret") : upper) +
                        " secret: not carried over (espgw configures pre-shared keys only)");
        continue;
      }
      std::string v = sp == std::string::npos ? "" : trim(rest.substr(sp));
      if (v.empty()) fail(at, "PSK without a secret");
      if ((v.front() == '"' || v.front() == '\'') && v.size() >= 2 && v.back() == v.front()) {
        p.secret = v.substr(1, v.size() - 2);
      } else if (v.starts_with("0x")) {
        p.secret = decode_hex(v.substr(2), at);
      } else if (v.starts_with("0s")) {
        p.secret = decode_base64(v.substr(2), at);
      } else if (v.find_first_of(" \t\"'") != std::string::npos) {
        fail(at, "PSK: a secret with blanks or quotes must be quoted whole (value not shown)");
      } else {
        p.secret = v;
      }
      for (unsigned char c : p.secret) {
        if (c < 0x20 || c == 0x7f) {
          fail(at,
               "PSK: the secret holds binary bytes; espgw's secrets file holds text: replace "
               "it with a printable key on both ends (value not shown)");
        }
      }
      if (p.secret.empty()) fail(at, "PSK: an empty secret");
      psks.push_back(std::move(p));
    }
  }

 private:
  // The ':' that separates the IDs from the type: the first one followed by white space (IPv6
  // addresses in IDs contain ':'); ": PSK" at the start of the line has no IDs.
  static size_t find_separator(const std::string& e) {
    for (size_t i = 0; i < e.size(); ++i) {
      if (e[i] == ':' &&
          (i + 1 == e.size() || std::isspace(static_cast<unsigned char>(e[i + 1])))) {
        return i;
      }
    }
    return std::string::npos;
  }
};

// strongSwan's choice of a shared key for (me, other): each side scores 3 for its exact ID, 1 for
// %any among the IDs, 0 otherwise; an entry without IDs matches anything (1 + 1); the best sum
// wins. Two different secrets with the best sum are refused: which one charon takes depends on
// the order it loaded them in, so the migration would be a guess.
const Psk* find_psk(const std::vector<Psk>& psks, const std::string& me, const std::string& other,
                    const std::string& conn) {
  const Psk* best = nullptr;
  const Psk* tie = nullptr;
  int best_score = 0;
  auto score_of = [](const Psk& p, const std::string& id) {
    int s = 0;
    for (const auto& x : p.ids) {
      if (x == id) s = std::max(s, 3);
      if (x == "%any" || x == "%any6") s = std::max(s, 1);
    }
    return s;
  };
  for (const auto& p : psks) {
    int score = 2;
    if (!p.ids.empty()) {
      const int m = score_of(p, me);
      const int o = score_of(p, other);
      if (m == 0 && o == 0) continue;
      score = m + o;
    }
    if (score > best_score) {
      best = &p;
      tie = nullptr;
      best_score = score;
    } else if (score == best_score && best && p.secret != best->secret) {
      tie = &p;
    }
  }
  if (tie) {
    fail(tie->at, "conn " + conn + ": the PSKs of " + best->at + " and of this line match " + me +
                      " and " + other +
                      " equally well: write the IDs of both ends on the one "
                      "meant (\"" +
                      me + " " + other + " : PSK ...\")");
  }
  return best;
}

// ---- values ---------------------------------------------------------------------------------

// strongSwan time values: a number with s, m, h or d (seconds without).
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

std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    const size_t c = v.find(',', pos);
    const std::string item = trim(v.substr(pos, c == std::string_view::npos ? c : c - pos));
    if (!item.empty()) out.push_back(item);
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  return out;
}

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

std::optional<IpAddress> literal_address(const std::string& v) {
  return IpAddress::parse(v);
}

// The keys mapped below; every other key of a conn is reported.
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

struct Mapped {
  std::string name;
  const Section* section = nullptr;
  IpAddress local, remote;
  std::vector<IpPrefix> local_cidrs, remote_cidrs;
  Settings s;
};

}  // namespace

Result import_ipsec_conf(const std::string& path, const Site& site,
                         const IpsecConfOptions& options) {
  ConfReader conf;
  conf.read(path, 0, "");
  Resolver resolver(conf.sections);
  resolver.collect_also_targets(conf.sections);
  Result r;
  r.notes = conf.notes;

  SecretsReader secrets;
  if (!options.secrets_path.empty()) {
    secrets.read(options.secrets_path, 0, "");
    for (const auto& n : secrets.notes)
      r.notes.push_back(n);
  }

  std::vector<Mapped> conns;
  std::vector<InterfaceAddress> lefts;
  for (const auto& sec : conf.sections) {
    const std::string where = sec.file + ":" + std::to_string(sec.line);
    if (sec.kind == "config") {
      for (const auto& p : sec.params) {
        r.notes.push_back(p.at() + ": config setup: " + p.key + "=" + p.value +
                          ": charon's own settings, not carried over (strongswan.conf and "
                          "espgw-ike's charon set-up apply)");
      }
      continue;
    }
    if (sec.kind == "ca") {
      r.notes.push_back(where + ": ca " + sec.name +
                        ": not carried over (espgw configures "
                        "pre-shared keys only)");
      continue;
    }
    if (sec.name == "%default") continue;
    const Settings s = resolver.effective(sec);
    auto get = [&](const char* k) -> const Param* {
      const auto it = s.find(k);
      return it == s.end() ? nullptr : &it->second;
    };
    const std::string conn = sec.name;
    const Param* autop = get("auto");
    const std::string autov = autop ? autop->value : "ignore";
    if (autov == "ignore") {
      r.notes.push_back(where + ": conn " + conn + ": auto=ignore" +
                        (autop ? "" : " (the default)") +
                        ": strongSwan does not load it, so it is not imported" +
                        (resolver.used_by_also(conn) ? " (it is used through also=)" : ""));
      continue;
    }
    if (autov != "add" && autov != "start" && autov != "route") {
      fail(autop->at(),
           "conn " + conn + ": auto=" + autov + ": expected add, start, route or ignore");
    }
    Mapped m;
    m.section = &sec;
    m.s = s;
    // Tunnel names follow config names: letters, digits, '-', '_', '.', at most 32.
    for (char c : conn)
      m.name +=
          std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '-';
    if (m.name.size() > 32) m.name.resize(32);
    if (m.name != conn) {
      r.notes.push_back(where + ": conn " + conn + ": named \"" + m.name +
                        "\" in espgw (names are letters, digits, '-', '_', '.', at most 32)");
    }
    const Param* type = get("type");
    if (type && type->value != "tunnel") {
      fail(type->at(), "conn " + conn + ": type=" + type->value +
                           " cannot be mapped: espgw does tunnel mode only");
    }
    const Param* authby = get("authby");
    const Param* la = get("leftauth");
    const Param* ra = get("rightauth");
    const bool psk = authby ? (authby->value == "secret" || authby->value == "psk")
                            : (la && la->value == "psk" && ra && ra->value == "psk");
    if (!psk) {
      const Param* p = authby ? authby : la ? la : ra;
      fail(p ? p->at() : where,
           "conn " + conn + ": " +
               (p ? p->key + "=" + p->value
                  : std::string("no authby= (strongSwan's default is pubkey)")) +
               " cannot be mapped: espgw configures pre-shared keys only (authby=secret)");
    }
    for (const char* k : {"leftauth", "rightauth"}) {
      if (const Param* p = get(k); p && p->value != "psk") {
        fail(p->at(), "conn " + conn + ": " + k + "=" + p->value +
                          " cannot be mapped: espgw configures pre-shared keys only");
      }
    }
    // Outer addresses.
    const Param* left = get("left");
    if (site.wan_address) {
      m.local = site.wan_address->address;
      if (left && literal_address(left->value) && !(*literal_address(left->value) == m.local)) {
        r.notes.push_back(left->at() + ": conn " + conn + ": left=" + left->value +
                          " replaced by the WAN address " + m.local.to_string() +
                          " (--wan-address)");
      }
    } else if (left && literal_address(left->value)) {
      m.local = *literal_address(left->value);
    } else {
      fail(left ? left->at() : where,
           "conn " + conn + ": " + (left ? "left=" + left->value : std::string("no left=")) +
               ": espgw needs this gateway's address: give it with --wan-address ADDRESS/LENGTH");
    }
    const Param* right = get("right");
    if (!right || !literal_address(right->value)) {
      fail(right ? right->at() : where,
           "conn " + conn + ": " + (right ? "right=" + right->value : std::string("no right=")) +
               " cannot be mapped: an espgw tunnel needs the peer's IP address");
    }
    m.remote = *literal_address(right->value);
    if (m.local.family != m.remote.family) {
      fail(right->at(), "conn " + conn + ": left and right are of different address families");
    }
    auto subnets = [&](const char* key, const IpAddress& host, std::vector<IpPrefix>& out) {
      const Param* p = get(key);
      if (!p || p->value == "%dynamic") {
        IpPrefix h;
        h.address = host;
        h.length = static_cast<uint8_t>(host.is_v4() ? 32 : 128);
        out.push_back(h);
        r.notes.push_back((p ? p->at() : where) + ": conn " + conn + ": no " + key +
                          ": the host itself, " + h.to_string());
        return;
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
          r.notes.push_back(p->at() + ": conn " + conn + ": " + key + ": " + item +
                            " has host bits set; taken as " + net.to_string() +
                            " (as strongSwan does)");
        }
        out.push_back(net);
      }
    };
    subnets("leftsubnet", m.local, m.local_cidrs);
    subnets("rightsubnet", m.remote, m.remote_cidrs);
    if (!site.local_cidrs.empty() || !site.remote_cidrs.empty()) {
      r.notes.push_back(where + ": conn " + conn +
                        ": --local-cidr/--remote-cidr are not used: ipsec.conf names the subnets");
    }
    for (const auto& [k, p] : s) {
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
      r.notes.push_back(p.at() + ": conn " + conn + ": " + k + "=" + p.value +
                        ": not carried over" +
                        (why != kWhy.end() ? " (" + why->second + ")" : " (no espgw equivalent)"));
    }
    if (!site.wan_address) {
      InterfaceAddress a{m.local, static_cast<uint8_t>(m.local.is_v4() ? 24 : 64)};
      if (std::none_of(lefts.begin(), lefts.end(),
                       [&](const InterfaceAddress& x) { return x.address == a.address; })) {
        lefts.push_back(a);
      }
    }
    conns.push_back(std::move(m));
  }
  if (conns.empty()) {
    throw ImportError(path + ": no conn with auto=add, start or route: nothing to import");
  }

  YamlWriter y;
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
  y.blank();
  y.line(0, "tunnels:");
  for (const auto& m : conns) {
    auto get = [&](const char* k) -> const Param* {
      const auto it = m.s.find(k);
      return it == m.s.end() ? nullptr : &it->second;
    };
    const std::string& conn = m.section->name;
    auto origin = [&](const char* k) {
      const Param* p = get(k);
      return p ? Origin{p->file, p->line, "conn " + conn + ": " + p->key + "=" + p->value}
               : Origin{m.section->file, m.section->line, "conn " + conn};
    };
    y.line(2, "- name: " + m.name, "conn " + conn, origin(""));
    y.line(4, "local: " + m.local.to_string(), "", origin("left"));
    y.line(4, "remote: " + m.remote.to_string(), "", origin("right"));
    y.line(4, "local_cidrs: " + prefix_list(m.local_cidrs), "", origin("leftsubnet"));
    y.line(4, "remote_cidrs: " + prefix_list(m.remote_cidrs), "", origin("rightsubnet"));
    if (const Param* p = get("forceencaps"); p && yes_no(*p, conn)) {
      y.line(4, "nat_t: true", "forceencaps=yes", origin("forceencaps"));
    }
    if (const Param* p = get("replay_window")) {
      y.line(4, "replay_window: " + p->value, "", origin("replay_window"));
    }
    y.line(4, "ike:");
    int version = 2;
    if (const Param* p = get("keyexchange")) {
      if (p->value == "ikev1") {
        version = 1;
      } else if (p->value == "ikev2") {
        version = 2;
      } else if (p->value == "ike") {
        r.notes.push_back(p->at() + ": conn " + conn +
                          ": keyexchange=ike: strongSwan initiates IKEv2 and accepts both; espgw "
                          "uses IKEv2");
      } else {
        fail(p->at(), "conn " + conn + ": keyexchange=" + p->value + ": expected ikev1 or ikev2");
      }
    }
    y.line(6, "version: " + std::to_string(version), "", origin("keyexchange"));
    if (const Param* p = get("leftid"))
      y.line(6, "local_id: " + yaml_quote(p->value), "", origin("leftid"));
    if (const Param* p = get("rightid"))
      y.line(6, "remote_id: " + yaml_quote(p->value), "", origin("rightid"));
    const std::string me = get("leftid") ? get("leftid")->value : m.local.to_string();
    const std::string other = get("rightid") ? get("rightid")->value : m.remote.to_string();
    const Psk* key = find_psk(secrets.psks, me, other, conn);
    if (!key) {
      fail(m.section->file + ":" + std::to_string(m.section->line),
           "conn " + conn + ": no PSK in " +
               (options.secrets_path.empty()
                    ? std::string("ipsec.secrets (none given: --secrets FILE)")
                    : options.secrets_path) +
               " matches " + me + " and " + other);
    }
    r.secrets[m.name] = key->secret;
    y.line(6, "psk_ref: " + m.name, "from " + key->at, Origin{key->at, 0, "conn " + conn});
    auto proposals = [&](const char* k, bool esp) {
      const Param* p = get(k);
      if (!p) return std::string();
      std::string v = p->value;
      std::vector<std::string> items;
      bool strict = false;
      for (auto item : split_list(v)) {
        if (!item.empty() && item.back() == '!') {
          strict = true;
          item.pop_back();
        }
        if (esp) {
          const auto parts = split_esp_proposal(item);
          if (parts.size() > 1) {
            std::string list;
            for (const auto& x : parts)
              list += (list.empty() ? "" : ", ") + x;
            r.notes.push_back(p->at() + ": conn " + conn + ": esp proposal " + item + " became " +
                              list +
                              " (the dataplane takes one algorithm of a kind "
                              "per proposal)");
          }
          items.insert(items.end(), parts.begin(), parts.end());
        } else {
          items.push_back(item);
        }
      }
      if (!strict) {
        r.notes.push_back(p->at() + ": conn " + conn + ": " + k + "=" + v +
                          " has no '!': strongSwan also offered its default proposals, espgw "
                          "offers only those listed");
      }
      std::string out;
      for (const auto& i : items)
        out += (out.empty() ? "" : ", ") + i;
      return out;
    };
    const std::string ike = proposals("ike", false);
    y.line(6, "ike_proposals: [" + (ike.empty() ? std::string("default") : ike) + "]",
           ike.empty() ? "no ike=: charon's default proposals" : "", origin("ike"));
    const std::string esp = proposals("esp", true);
    if (esp.empty()) {
      r.notes.push_back(
          m.section->file + ":" + std::to_string(m.section->line) + ": conn " + conn +
          ": no esp=: strongSwan's defaults include algorithms the dataplane does not "
          "carry; espgw's defaults are used (aes128gcm16-modp2048, "
          "aes128-sha256-modp2048): check that the peer accepts them");
      y.line(6, "esp_proposals: [aes128gcm16-modp2048, aes128-sha256-modp2048]",
             "no esp=: espgw's defaults", origin("esp"));
    } else {
      y.line(6, "esp_proposals: [" + esp + "]", "", origin("esp"));
    }
    auto time_line = [&](std::initializer_list<const char*> keys, const char* yaml_key,
                         uint64_t dflt, const char* dflt_text) {
      for (const char* k : keys) {
        if (const Param* p = get(k)) {
          y.line(6, std::string(yaml_key) + ": " + std::to_string(seconds(*p, conn)), "",
                 origin(k));
          return seconds(*p, conn);
        }
      }
      y.line(6, std::string(yaml_key) + ": " + std::to_string(dflt),
             std::string("strongSwan's default, ") + dflt_text);
      return dflt;
    };
    time_line({"ikelifetime"}, "ike_lifetime_s", 10800, "3h");
    time_line({"lifetime", "keylife"}, "child_lifetime_s", 3600, "1h");
    time_line({"margintime", "rekeymargin"}, "rekey_margin_s", 540, "9m");
    if (const Param* p = get("rekeyfuzz")) {
      std::string v = p->value;
      if (!v.empty() && v.back() == '%') v.pop_back();
      y.line(6, "rekey_fuzz_percent: " + v, "", origin("rekeyfuzz"));
    }
    const Param* action = get("dpdaction");
    const std::string act = action ? action->value : "none";
    if (act == "none") {
      y.line(6, "dpd_delay_s: 0",
             action ? "dpdaction=none" : "no dpdaction: strongSwan's default none",
             origin("dpdaction"));
    } else {
      const std::map<std::string, std::string> kActions = {
          {"clear", "clear"}, {"hold", "trap"}, {"restart", "restart"}};
      const auto it = kActions.find(act);
      if (it == kActions.end()) {
        fail(action->at(),
             "conn " + conn + ": dpdaction=" + act + ": expected none, clear, hold or restart");
      }
      time_line({"dpddelay"}, "dpd_delay_s", 30, "30s");
      if (version == 2) {
        // strongSwan reads dpdtimeout= for IKEv1 only; an IKEv2 peer was dead when charon's
        // retransmissions ran out (about 165 s by default). espgw-up sets those from
        // dpd_timeout_s (config/charon_retransmit.h).
        if (const Param* p = get("dpdtimeout")) {
          r.notes.push_back(p->at() + ": conn " + conn + ": dpdtimeout=" + p->value +
                            ": strongSwan ignores it for IKEv2; dpd_timeout_s: " +
                            std::to_string(config::kDefaultIkev2DpdTimeout) +
                            " (an unanswered DPD declares the peer dead after that long)");
        }
        y.line(6, "dpd_timeout_s: " + std::to_string(config::kDefaultIkev2DpdTimeout),
               "IKEv2: an unanswered DPD declares the peer dead after this long");
      } else {
        time_line({"dpdtimeout"}, "dpd_timeout_s", 150, "150s");
      }
      y.line(6, "dpd_action: " + it->second, "", origin("dpdaction"));
    }
    const std::string& autov = m.s.at("auto").value;
    const std::string start = autov == "start" ? "start" : autov == "route" ? "trap" : "none";
    y.line(6, "start_action: " + start, "auto=" + autov, origin("auto"));
    if (version == 2) {
      const Param* mob = get("mobike");
      const bool on = mob ? yes_no(*mob, conn) : true;
      y.line(6, std::string("mobike: ") + (on ? "true" : "false"),
             mob ? "" : "strongSwan's default for IKEv2", origin("mobike"));
    }
  }
  // Conns with the same subnets on both sides back each other up (the two tunnels of an AWS VPN
  // connection): espgw groups them in a peer, auto=start ones first, then in file order.
  std::map<std::string, std::vector<const Mapped*>> groups;
  std::vector<std::string> order;
  for (const auto& m : conns) {
    auto l = m.local_cidrs;
    auto rc = m.remote_cidrs;
    auto by_text = [](const IpPrefix& a, const IpPrefix& b) {
      return a.to_string() < b.to_string();
    };
    std::sort(l.begin(), l.end(), by_text);
    std::sort(rc.begin(), rc.end(), by_text);
    const std::string key = prefix_list(l) + " " + prefix_list(rc);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&m);
  }
  bool peers = false;
  for (const auto& key : order) {
    auto g = groups[key];
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
    r.notes.push_back(g.front()->section->file + ":" + std::to_string(g.front()->section->line) +
                      ": conns " + names + " carry the same subnets: grouped in peer " + peer +
                      " (traffic takes the first one that is up)");
  }
  y.blank();
  y.line(0, "ike:");
  y.line(2, "secrets_file: " + site.secrets_file, "mode 0600: the pre-shared keys");
  y.move_into(r);
  return r;
}

}  // namespace espgw::import
