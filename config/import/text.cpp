// Small text helpers the importers share (text.h).

#include "config/import/text.h"

#include <cctype>

namespace espgw::import {

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s)
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out;
  for (char c : s)
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
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

}  // namespace espgw::import
