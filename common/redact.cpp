#include "common/redact.h"

#include <cctype>
#include <cstdio>

namespace espgw {

bool looks_like_key(std::string_view s) noexcept {
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
