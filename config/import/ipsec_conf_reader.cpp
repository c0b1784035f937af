// ipsec.conf in strongSwan's starter syntax: its sections and settings, `include`, and a conn's
// effective settings through also= and conn %default (ipsec_conf.h). Also the file reading and
// include resolution that ipsec.secrets shares.

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/import/ipsec_conf.h"
#include "config/import/text.h"

namespace espgw::import::ipsec {
namespace {

constexpr int kMaxIncludeDepth = 10;

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

// '#' starts a comment unless it is inside double quotes.
std::string strip_comment(const std::string& s) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == '#' && !quoted) return s.substr(0, i);
  }
  return s;
}

}  // namespace

[[noreturn]] void fail(const std::string& at, const std::string& what) {
  throw ImportError(at + ": " + what);
}

std::vector<std::string> read_lines(const std::string& path, int depth, const std::string& from) {
  if (depth > kMaxIncludeDepth) fail(from, "includes nested more than 10 deep (a loop?)");
  std::istringstream in(read_file(path, from));
  std::vector<std::string> lines;
  for (std::string raw; std::getline(in, raw);)
    lines.push_back(std::move(raw));
  return lines;
}

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

void ConfReader::read(const std::string& path, int depth, const std::string& from) {
  const std::vector<std::string> lines = read_lines(path, depth, from);
  Section* cur = nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line = static_cast<int>(i) + 1;
    std::string s = strip_comment(lines[i]);
    if (trim(s).empty()) continue;
    if (!std::isspace(static_cast<unsigned char>(s[0]))) {
      cur = section_line(s, path, line, depth);
      continue;
    }
    setting_line(cur, s, path, line);
  }
}

Section* ConfReader::section_line(const std::string& s, const std::string& path, int line,
                                  int depth) {
  const std::string at = path + ":" + std::to_string(line);
  std::istringstream words(s);
  std::string kw;
  std::string name;
  std::string more;
  words >> kw >> name;
  std::getline(words, more);
  if (kw == "include") {
    for (const auto& f : resolve_include(trim(s.substr(7)), path, at))
      read(f, depth + 1, at);
    return nullptr;
  }
  if (kw == "version") {
    notes.push_back(at + ": version " + name + ": not needed (ignored)");
    return nullptr;
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
  return &sections.back();
}

void ConfReader::setting_line(Section* cur, const std::string& s, const std::string& path,
                              int line) {
  const std::string at = path + ":" + std::to_string(line);
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

// ---- also= and %default ---------------------------------------------------------------------

Resolver::Resolver(const std::vector<Section>& sections) {
  for (const auto& s : sections) {
    if (s.kind != "conn") continue;
    if (s.name == "%default") {
      for (const auto& p : s.params)
        defaults_[p.key] = p;
      continue;
    }
    const auto [it, inserted] = conns_.emplace(s.name, &s);
    if (!inserted) {
      fail(s.at(), "conn " + s.name + " defined twice (first at " + it->second->at() + ")");
    }
  }
  for (const auto& s : sections) {
    for (const auto& p : s.params) {
      if (p.key == "also") also_targets_.insert(p.value);
    }
  }
}

Settings Resolver::effective(const Section& conn) const {
  Settings s = defaults_;
  std::vector<std::string> chain;
  for (const auto& [k, p] : own(conn, chain))
    s[k] = p;
  for (auto it = s.begin(); it != s.end();) {
    it = it->second.value.empty() ? s.erase(it) : std::next(it);  // key= resets
  }
  return s;
}

Settings Resolver::own(const Section& conn, std::vector<std::string>& chain) const {
  if (std::find(chain.begin(), chain.end(), conn.name) != chain.end()) {
    std::string loop;
    for (const auto& c : chain)
      loop += c + " -> ";
    fail(conn.at(), "also= loop: " + loop + conn.name);
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
    if (p.key != "also") s[p.key] = p;
  }
  chain.pop_back();
  return s;
}

}  // namespace espgw::import::ipsec
