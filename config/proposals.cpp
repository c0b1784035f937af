#include <algorithm>
#include <cctype>
#include <iterator>
#include <span>

#include "config/parser.h"

// strongSwan proposal strings. A proposal is strongSwan's "alg-alg-...": keywords from its
// proposal_keywords_static.txt, which are case-sensitive. espgw accepts the subset below (with
// strongSwan's aliases), so that a config never offers a peer an ESP transform the dataplane
// cannot carry.

namespace espgw::config {

enum class TokenKind : uint8_t { kAead, kCipher, kIntegrity, kPrf, kGroup, kEsn };

struct Keyword {
  std::string_view name;
  TokenKind kind;
  std::string_view canonical;  // the name esp::parse_algorithm and the docs use
};

namespace {

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

}  // namespace

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
  if (!proposal_keywords(v, text, kind, found)) return false;
  return proposal_combination(v, text, kind, found);
}

// The keywords of a proposal, in order: each known for its kind, each once.
bool Parser::proposal_keywords(const Value& v, const std::string& text, ProposalKind kind,
                               std::vector<const Keyword*>& found) {
  const std::string in = " in proposal " + quote(text);
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
      unknown_keyword(v, token, kind, in);
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
  return true;
}

// A token that is no keyword of this kind: say what it is instead (upper case, the other kind's)
// or what it is closest to.
// in: " in proposal \"...\"".
void Parser::unknown_keyword(const Value& v, const std::string& token, ProposalKind kind,
                             const std::string& in) {
  const bool esp = kind == ProposalKind::kEsp;
  const std::string expected = " (expected " + known_keywords(kind) + ")";
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
}

// What the keywords make together: one encryption algorithm, with integrity unless it is an
// AEAD; for ESP a transform the dataplane carries, for IKE a PRF where needed and a DH group.
bool Parser::proposal_combination(const Value& v, const std::string& text, ProposalKind kind,
                                  const std::vector<const Keyword*>& found) {
  const bool esp = kind == ProposalKind::kEsp;
  const std::string in = " in proposal " + quote(text);
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
    if (integrities) {
      // Appended in two steps: "-" + std::string(...) trips GCC 12's -Wrestrict (a false
      // positive of its inliner, GCC bug 105329) once this function is small enough to inline.
      name += '-';
      name += first(TokenKind::kIntegrity)->canonical;
    }
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

}  // namespace espgw::config
