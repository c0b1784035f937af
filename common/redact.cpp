#include "common/redact.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace espgw {

namespace {

// A pre-shared key or password as people write one: one word of 8 or more characters, with no
// spaces or quotes, holding a digit and a run of letters and digits that mixes upper and lower
// case (AWS's generated keys are 8 to 64 letters, digits, '.' and '_'; strongSwan's 0s... is
// base64). A name, a path, an address, a sentence or a proposal in the wrong case (AES128-sha256:
// each run in one case) is none of these.
bool looks_like_passphrase(std::string_view s) noexcept {
  if (s.size() < 8 || s.front() == '/' || s.starts_with("./")) return false;
  bool digit = false;
  bool mixed = false;  // some run of letters and digits has both cases
  bool run_upper = false;
  bool run_lower = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      digit |= std::isdigit(u) != 0;
      run_upper |= std::isupper(u) != 0;
      run_lower |= std::islower(u) != 0;
      mixed |= run_upper && run_lower;
    } else if (u < 0x21 || u > 0x7e || c == '"' || c == '\'' || c == '`' || c == ',') {
      return false;
    } else {
      run_upper = run_lower = false;
    }
  }
  return digit && mixed;
}

bool looks_like_hex_key(std::string_view s) noexcept {
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

// A key inside a longer word ("sa-add" and a key pasted after it, a key in a path): a run of 32
// hex digits or more, the shortest key espgw takes (AES-128), with both a letter a-f and a
// decimal digit in it (a random key of 32 digits lacks either once in 10^13; "/aaaa..." is a
// path). Shorter runs are names' (AWS's vpn-0123456789abcdef0 has 17).
bool holds_hex_key(std::string_view s) noexcept {
  size_t run = 0;
  bool letter = false;
  bool digit = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isxdigit(u)) {
      letter |= std::isdigit(u) == 0;
      digit |= std::isdigit(u) != 0;
      if (++run >= 32 && letter && digit) return true;
    } else {
      run = 0;
      letter = digit = false;
    }
  }
  return false;
}

}  // namespace

bool option_looks_like_key(std::string_view arg) noexcept {
  arg.remove_prefix(std::min(arg.find_first_not_of('-'), arg.size()));
  const size_t eq = arg.find('=');
  return looks_like_key(arg) ||
         (eq != std::string_view::npos && looks_like_key(arg.substr(eq + 1)));
}

std::string quote_option(std::string_view arg) {
  return option_looks_like_key(arg) ? std::string(kNotShown) : quote(arg);
}

bool looks_like_key(std::string_view s) noexcept {
  return looks_like_hex_key(s) || looks_like_passphrase(s) || holds_hex_key(s);
}

std::string bare(std::string_view s) {
  return looks_like_key(s) ? std::string(kNotShown) : std::string(s);
}

std::string quote(std::string_view s) {
  if (looks_like_key(s)) return std::string(kNotShown);
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

}  // namespace espgw
