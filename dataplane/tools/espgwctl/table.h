#pragma once
// Text for a terminal: aligned tables and the values in their cells (show.cpp, show_ike.cpp).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace espgw::ctl {

// 1536 -> "1.5 KiB".
std::string human_bytes(uint64_t n);
// 75 -> "1m15s", 7300 -> "2h01m": the two largest units.
std::string human_seconds(uint64_t s);
// A value as a cell shows it: strings as they are, yes/no, "-" for null, lists joined by ", ".
std::string text_of(const nlohmann::json& v);
// An unsigned number, else 0.
uint64_t number_of(const nlohmann::json& v);

class Table {
 public:
  // A header that starts with '>' is right-aligned (numbers).
  explicit Table(std::vector<std::string> headers) {
    for (auto& h : headers) {
      right_.push_back(!h.empty() && h[0] == '>');
      headers_.push_back(right_.back() ? h.substr(1) : h);
    }
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const noexcept { return rows_.empty(); }
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace espgw::ctl
