// ipsec.secrets: its PSK entries (quoted, plain, 0x hex or 0s base64), `include`, and the key
// strongSwan takes for a pair of IDs (ipsec_conf.h). Other kinds of secret are noted, not carried.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <sstream>
#include <string_view>
#include <utility>

#include "config/import/ipsec_conf.h"
#include "config/import/text.h"

namespace espgw::import::ipsec {
namespace {

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

// The entries of a secrets file with their lines. An entry may continue on lines that start with
// white space.
std::vector<std::pair<int, std::string>> entries_of(std::vector<std::string> lines) {
  std::vector<std::pair<int, std::string>> entries;
  int line = 0;
  for (auto& raw : lines) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string t = trim(raw);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(raw[0])) && !entries.empty() &&
        entries.back().second.find(':') == std::string::npos) {
      entries.back().second += " " + t;
    } else if (std::isspace(static_cast<unsigned char>(raw[0])) && !entries.empty() &&
               trim(entries.back().second.substr(entries.back().second.find(':') + 1)).find(' ') ==
                   std::string::npos) {
      entries.back().second += " " + t;  // "A B : PSK" with the secret on the next line
    } else {
      entries.push_back({line, t});
    }
  }
  return entries;
}

// The ':' that separates the IDs from the type: the first one followed by white space (IPv6
// addresses in IDs contain ':'); ": PSK" at the start of the line has no IDs.
size_t find_separator(const std::string& e) {
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == ':' && (i + 1 == e.size() || std::isspace(static_cast<unsigned char>(e[i + 1])))) {
      return i;
    }
  }
  return std::string::npos;
}

// The secret of a PSK entry, as written after "PSK".
std::string psk_secret(const std::string& v, const std::string& at) {
  std::string secret;
  if (v.empty()) fail(at, "PSK without a secret");
  if ((v.front() == '"' || v.front() == '\'') && v.size() >= 2 && v.back() == v.front()) {
    secret = v.substr(1, v.size() - 2);
  } else if (v.starts_with("0x")) {
    secret = decode_hex(v.substr(2), at);
  } else if (v.starts_with("0s")) {
    secret = decode_base64(v.substr(2), at);
  } else if (v.find_first_of(" \t\"'") != std::string::npos) {
    fail(at, "PSK: a secret with blanks or quotes must be quoted whole (value not shown)");
  } else {
    secret = v;
  }
  for (unsigned char c : secret) {
    if (c < 0x20 || c == 0x7f) {
      fail(at,
           "PSK: the secret holds binary bytes; espgw's secrets file holds text: replace "
           "it with a printable key on both ends (value not shown)");
    }
  }
  if (secret.empty()) fail(at, "PSK: an empty secret");
  return secret;
}

}  // namespace

void SecretsReader::read(const std::string& path, int depth, const std::string& from) {
  for (const auto& [l, e] : entries_of(read_lines(path, depth, from)))
    entry(e, path, l, depth);
}

void SecretsReader::entry(const std::string& e, const std::string& path, int line, int depth) {
  const std::string at = path + ":" + std::to_string(line);
  if (e.starts_with("include ") || e.starts_with("include\t")) {
    for (const auto& f : resolve_include(trim(e.substr(8)), path, at))
      read(f, depth + 1, at);
    return;
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
  const std::string type = upper(rest.substr(0, sp));
  if (type != "PSK") {
    notes.push_back(at + ": a " + (type.empty() ? std::string("secret") : type) +
                    " secret: not carried over (espgw configures pre-shared keys only)");
    return;
  }
  p.secret = psk_secret(sp == std::string::npos ? "" : trim(rest.substr(sp)), at);
  psks.push_back(std::move(p));
}

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

}  // namespace espgw::import::ipsec
