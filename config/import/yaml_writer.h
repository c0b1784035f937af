#pragma once
// Builds the YAML text of a generated config line by line, so that it keeps the comments an
// operator needs and each line can remember which input line it came from (for errors).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/import/import.h"

namespace espgw::import {

// A YAML scalar in double quotes, escaped: safe for any string (identities, pre-shared keys).
std::string yaml_quote(std::string_view s);

class YamlWriter {
 public:
  // One line at `indent` spaces; an optional trailing "# comment"; where it came from.
  void line(int indent, std::string_view text, std::string_view comment = {},
            const Origin& origin = {});
  // "# text", wrapped at 100 columns.
  void comment(int indent, std::string_view text);
  void blank() { lines_.emplace_back(); }
  // A line the operator must edit: its comment starts with "EDIT:" and it is listed in
  // placeholders() with its line number.
  void placeholder(int indent, std::string_view text, std::string_view what);

  int line_count() const noexcept { return static_cast<int>(lines_.size()); }
  std::string text() const;
  void move_into(Result& r) const;

 private:
  std::vector<std::string> lines_;
  std::map<int, Origin> origins_;
  std::vector<std::string> placeholders_;
};

}  // namespace espgw::import
