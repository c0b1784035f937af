#include "dataplane/tools/espgwctl/table.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace espgw::ctl {

using nlohmann::json;

std::string human_seconds(uint64_t s) {
  const auto two = [](uint64_t big, const char* b, uint64_t small, const char* u, uint64_t v) {
    char out[48];
    std::snprintf(out, sizeof out, "%llu%s%02llu%s", static_cast<unsigned long long>(v / big), b,
                  static_cast<unsigned long long>(v % big / small), u);
    return std::string(out);
  };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return two(60, "m", 1, "s", s);
  if (s < 86400) return two(3600, "h", 60, "m", s);
  return two(86400, "d", 3600, "h", s);
}

std::string human_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof b, "%.1f %s", v, kUnits[u]);
  return b;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : ", ") + text_of(x);
    return s.empty() ? "-" : s;
  }
  return v.dump();
}

uint64_t number_of(const json& v) {
  return v.is_number_unsigned() ? v.get<uint64_t>() : 0;
}

std::string Table::render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c)
    width[c] = headers_[c].size();
  for (const auto& r : rows_) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], r[c].size());
  }
  std::string s;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      if (c) l += "  ";
      l += right_[c] ? pad + cell : cell + pad;
    }
    while (!l.empty() && l.back() == ' ')
      l.pop_back();
    s += l + "\n";
  };
  line(headers_);
  for (const auto& r : rows_)
    line(r);
  return s;
}

}  // namespace espgw::ctl
