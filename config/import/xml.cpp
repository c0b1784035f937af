#include "config/import/xml.h"

#include <cctype>
#include <cstdint>

#include "config/import/import.h"

namespace espgw::import {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_name_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == ':' || u >= 0x80;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

constexpr int kMaxDepth = 64;

class Reader {
 public:
  Reader(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  XmlElement document() {
    if (s_.substr(0, 3) == "\xef\xbb\xbf") pos_ = 3;
    skip_misc();
    if (at_end()) fail("no XML element in the file (expected <vpn_connection>)");
    if (peek() != '<') fail("text before the first element (is this an XML file?)");
    XmlElement root = element(0);
    skip_misc();
    if (!at_end())
      fail("content after the end of <" + root.name + "> (line " + std::to_string(root.line) + ")");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(line_, what); }
  [[noreturn]] void fail_at(int line, const std::string& what) const {
    throw ImportError(source_ + ":" + std::to_string(line) + ": " + what);
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  bool starts(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_) {
      if (s_[pos_] == '\n') ++line_;
    }
  }
  void skip_space() {
    while (!at_end() && is_space(peek()))
      advance();
  }
  // Up to and past `end`; the text before it.
  std::string until(std::string_view end, std::string_view what) {
    const int start = line_;
    const size_t at = s_.find(end, pos_);
    if (at == std::string_view::npos)
      fail_at(start, std::string(what) + " not closed by \"" + std::string(end) + "\"");
    std::string out(s_.substr(pos_, at - pos_));
    advance(at - pos_ + end.size());
    return out;
  }
  // Comments, processing instructions (the XML declaration) and a DOCTYPE, with space between.
  void skip_misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) {
        until("-->", "comment");
      } else if (starts("<?")) {
        until("?>", "processing instruction");
      } else if (starts("<!DOCTYPE")) {
        until(">", "DOCTYPE");
      } else {
        return;
      }
    }
  }
  std::string name() {
    const size_t start = pos_;
    while (!at_end() && is_name_char(peek()))
      advance();
    if (pos_ == start) {
      fail(at_end() ? "unexpected end of file in a tag"
                    : std::string("expected a name, got '") + peek() + "'");
    }
    return std::string(s_.substr(start, pos_ - start));
  }
  // Character data up to '<' (or a quote for attribute values), with references replaced.
  std::string decode(std::string_view raw, int line) const {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      const size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) {
        fail_at(line, "'&' that starts no entity (write &amp;)");
      }
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      if (ent == "amp") {
        out += '&';
      } else if (ent == "lt") {
        out += '<';
      } else if (ent == "gt") {
        out += '>';
      } else if (ent == "quot") {
        out += '"';
      } else if (ent == "apos") {
        out += '\'';
      } else if (ent.size() > 1 && ent[0] == '#') {
        const bool hex = ent[1] == 'x' || ent[1] == 'X';
        const std::string_view digits = ent.substr(hex ? 2 : 1);
        uint32_t cp = 0;
        bool ok = !digits.empty();
        for (char c : digits) {
          const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : hex && std::isxdigit(static_cast<unsigned char>(c))
                            ? (c | 0x20) - 'a' + 10
                            : -1;
          if (d < 0 || cp > 0x10ffff) {
            ok = false;
            break;
          }
          cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        }
        if (!ok || cp == 0 || cp > 0x10ffff)
          fail_at(line, "bad character reference &" + std::string(ent) + ";");
        append_utf8(out, cp);
      } else {
        fail_at(line, "unknown entity &" + std::string(ent) + ";");
      }
      i = semi;
    }
    return out;
  }
  XmlElement element(int depth) {
    XmlElement e;
    e.line = line_;
    if (depth > kMaxDepth) fail("elements nested more than " + std::to_string(kMaxDepth) + " deep");
    advance();  // '<'
    e.name = name();
    for (;;) {
      skip_space();
      if (at_end()) fail_at(e.line, "start tag <" + e.name + "> not closed");
      if (starts("/>")) {
        advance(2);
        return e;
      }
      if (peek() == '>') {
        advance();
        break;
      }
      const int at = line_;
      std::string key = name();
      skip_space();
      if (at_end() || peek() != '=')
        fail_at(at, "attribute " + key + " of <" + e.name + "> has no value");
      advance();
      skip_space();
      if (at_end() || (peek() != '"' && peek() != '\'')) {
        fail_at(at, "attribute " + key + " of <" + e.name + ">: value not in quotes");
      }
      const char q = peek();
      advance();
      std::string raw = until(std::string_view(&q, 1), "attribute value");
      e.attributes.emplace_back(std::move(key), decode(raw, at));
    }
    for (;;) {
      if (at_end()) {
        fail("end of file inside <" + e.name + "> (line " + std::to_string(e.line) +
             "): the file is cut short");
      }
      if (starts("</")) {
        const int at = line_;
        advance(2);
        const std::string closing = name();
        skip_space();
        if (at_end() || peek() != '>') fail_at(at, "end tag </" + closing + "> not closed");
        advance();
        if (closing != e.name) {
          fail_at(at, "</" + closing + "> closes <" + e.name + "> (line " + std::to_string(e.line) +
                          ")");
        }
        return e;
      }
      if (starts("<!--")) {
        until("-->", "comment");
      } else if (starts("<![CDATA[")) {
        advance(9);
        e.text += until("]]>", "CDATA section");
      } else if (starts("<?")) {
        until("?>", "processing instruction");
      } else if (peek() == '<') {
        e.children.push_back(element(depth + 1));
      } else {
        const int at = line_;
        const size_t start = pos_;
        while (!at_end() && peek() != '<')
          advance();
        e.text += decode(s_.substr(start, pos_ - start), at);
      }
    }
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

const std::string* XmlElement::attribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return &v;
  }
  return nullptr;
}

XmlElement parse_xml(std::string_view text, const std::string& source) {
  return Reader(text, source).document();
}

}  // namespace espgw::import
