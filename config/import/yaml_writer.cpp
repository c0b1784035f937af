#include "config/import/yaml_writer.h"

#include <cstdio>

namespace espgw::import {

std::string yaml_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void YamlWriter::line(int indent, std::string_view text, std::string_view comment,
                      const Origin& origin) {
  std::string l(static_cast<size_t>(indent), ' ');
  l += text;
  if (!comment.empty()) {
    l += "  # ";
    l += comment;
  }
  lines_.push_back(std::move(l));
  if (origin.line > 0 || !origin.file.empty()) origins_[line_count()] = origin;
}

void YamlWriter::comment(int indent, std::string_view text) {
  const std::string lead = std::string(static_cast<size_t>(indent), ' ') + "#";
  constexpr size_t kWidth = 100;
  std::string cur = lead;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '\n') {
      lines_.push_back(cur);
      cur = lead;
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(pos, end - pos);
    if (cur.size() > lead.size() && cur.size() + 1 + word.size() > kWidth) {
      lines_.push_back(cur);
      cur = lead;
    }
    cur += " ";
    cur += word;
    pos = end < text.size() && text[end] == ' ' ? end + 1 : end;
  }
  if (cur.size() > lead.size() || text.empty()) lines_.push_back(cur);
}

void YamlWriter::placeholder(int indent, std::string_view text, std::string_view what) {
  line(indent, text, std::string("EDIT: ") + std::string(what));
  placeholders_.push_back("line " + std::to_string(line_count()) + ": " + std::string(what));
}

std::string YamlWriter::text() const {
  std::string out;
  for (const auto& l : lines_) {
    out += l;
    out += '\n';
  }
  return out;
}

void YamlWriter::move_into(Result& r) const {
  r.yaml = text();
  r.origins = origins_;
  r.placeholders = placeholders_;
}

}  // namespace espgw::import
