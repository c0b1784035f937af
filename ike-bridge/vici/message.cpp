#include "ike-bridge/vici/message.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace espgw::vici {

Section::Section(const Section&) = default;
Section::Section(Section&&) noexcept = default;
Section& Section::operator=(const Section&) = default;
Section& Section::operator=(Section&&) noexcept = default;
Section::~Section() = default;

bool Section::operator==(const Section& other) const {
  return entries_ == other.entries_;
}

Section& Section::add(std::string key, std::string value) {
  entries_.push_back(Entry{std::move(key), std::move(value)});
  return *this;
}

Section& Section::add(std::string key, List items) {
  entries_.push_back(Entry{std::move(key), std::move(items)});
  return *this;
}

Section& Section::add(std::string key, Section section) {
  entries_.push_back(Entry{std::move(key), std::move(section)});
  return *this;
}

List& Section::add_list(std::string key) {
  entries_.push_back(Entry{std::move(key), List{}});
  return std::get<List>(entries_.back().value);
}

Section& Section::add_section(std::string key) {
  entries_.push_back(Entry{std::move(key), Section{}});
  return std::get<Section>(entries_.back().value);
}

namespace {

template <typename T>
const T* find_as(const std::vector<Section::Entry>& entries, std::string_view key) noexcept {
  for (const auto& e : entries) {
    if (e.name == key) return std::get_if<T>(&e.value);
  }
  return nullptr;
}

}  // namespace

const std::string* Section::find_value(std::string_view key) const noexcept {
  return find_as<std::string>(entries_, key);
}

const List* Section::find_list(std::string_view key) const noexcept {
  return find_as<List>(entries_, key);
}

const Section* Section::find_section(std::string_view key) const noexcept {
  return find_as<Section>(entries_, key);
}

std::string Section::value_or(std::string_view key, std::string_view fallback) const {
  const std::string* v = find_value(key);
  return v ? *v : std::string(fallback);
}

// ---- encoding ------------------------------------------------------------------------------

namespace {

void put_name(std::string& out, const std::string& name, const char* what) {
  if (name.empty()) throw EncodeError(std::string(what) + ": empty name");
  if (name.size() > kMaxNameLength) {
    throw EncodeError(std::string(what) + " \"" + name.substr(0, 32) + "...\": name of " +
                      std::to_string(name.size()) + " bytes (at most 255)");
  }
  out.push_back(static_cast<char>(name.size()));
  out += name;
}

void put_value(std::string& out, const std::string& value, const std::string& owner) {
  if (value.size() > kMaxValueLength) {
    throw EncodeError("value of \"" + owner + "\": " + std::to_string(value.size()) +
                      " bytes (at most 65535)");
  }
  out.push_back(static_cast<char>(value.size() >> 8));
  out.push_back(static_cast<char>(value.size() & 0xff));
  out += value;
}

void put_type(std::string& out, ElementType t) {
  out.push_back(static_cast<char>(t));
}

void encode_section(const Section& s, std::string& out, size_t depth) {
  for (const auto& e : s.entries()) {
    if (const auto* value = std::get_if<std::string>(&e.value)) {
      put_type(out, ElementType::kKeyValue);
      put_name(out, e.name, "key");
      put_value(out, *value, e.name);
    } else if (const auto* list = std::get_if<List>(&e.value)) {
      put_type(out, ElementType::kListStart);
      put_name(out, e.name, "list");
      for (const auto& item : *list) {
        put_type(out, ElementType::kListItem);
        put_value(out, item, e.name);
      }
      put_type(out, ElementType::kListEnd);
    } else {
      if (depth + 1 > kMaxDepth) {
        throw EncodeError("section \"" + e.name + "\": nested deeper than " +
                          std::to_string(kMaxDepth) + " levels");
      }
      put_type(out, ElementType::kSectionStart);
      put_name(out, e.name, "section");
      encode_section(std::get<Section>(e.value), out, depth + 1);
      put_type(out, ElementType::kSectionEnd);
    }
  }
}

}  // namespace

void encode_to(const Message& message, std::string& out) {
  encode_section(message, out, 0);
}

std::string encode(const Message& message) {
  std::string out;
  encode_to(message, out);
  return out;
}

// ---- decoding ------------------------------------------------------------------------------

namespace {

const char* type_name(uint8_t t) {
  switch (static_cast<ElementType>(t)) {
    case ElementType::kSectionStart: return "SECTION_START";
    case ElementType::kSectionEnd: return "SECTION_END";
    case ElementType::kKeyValue: return "KEY_VALUE";
    case ElementType::kListStart: return "LIST_START";
    case ElementType::kListItem: return "LIST_ITEM";
    case ElementType::kListEnd: return "LIST_END";
  }
  return "unknown";
}

class Decoder {
 public:
  Decoder(std::span<const uint8_t> data, size_t offset) : data_(data), offset_(offset) {}

  Message run() {
    // An explicit stack instead of recursion: the depth is checked before anything is pushed.
    std::vector<Section*> stack;
    Message root;
    stack.push_back(&root);
    List* list = nullptr;  // the open list, if any
    size_t list_at = 0;
    std::vector<size_t> section_at;
    while (pos_ < data_.size()) {
      const size_t at = pos_;
      const uint8_t t = data_[pos_++];
      if (list != nullptr) {
        if (t == static_cast<uint8_t>(ElementType::kListItem)) {
          list->push_back(value(at));
          continue;
        }
        if (t == static_cast<uint8_t>(ElementType::kListEnd)) {
          list = nullptr;
          continue;
        }
        fail(at, std::string(type_name(t)) + " (type " + std::to_string(t) +
                     ") inside a list; only LIST_ITEM and LIST_END may follow LIST_START");
      }
      switch (static_cast<ElementType>(t)) {
        case ElementType::kSectionStart: {
          std::string n = name(at);
          if (stack.size() > kMaxDepth) {
            fail(at, "sections nested deeper than " + std::to_string(kMaxDepth) + " levels");
          }
          stack.push_back(&stack.back()->add_section(std::move(n)));
          section_at.push_back(at);
          break;
        }
        case ElementType::kSectionEnd:
          if (stack.size() == 1) fail(at, "SECTION_END without an open section");
          stack.pop_back();
          section_at.pop_back();
          break;
        case ElementType::kKeyValue: {
          std::string n = name(at);
          stack.back()->add(std::move(n), value(at));
          break;
        }
        case ElementType::kListStart: {
          std::string n = name(at);
          list = &stack.back()->add_list(std::move(n));
          list_at = at;
          break;
        }
        case ElementType::kListItem: fail(at, "LIST_ITEM outside a list");
        case ElementType::kListEnd: fail(at, "LIST_END without an open list");
        default: fail(at, "unknown element type " + std::to_string(t));
      }
    }
    if (list != nullptr) fail(list_at, "list not closed at the end of the message");
    if (stack.size() > 1) {
      fail(section_at.back(), "section not closed at the end of the message (" +
                                  std::to_string(stack.size() - 1) + " open)");
    }
    return root;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw DecodeError("byte " + std::to_string(at + offset_) + ": " + what);
  }

  std::string name(size_t element_at) {
    if (pos_ >= data_.size()) fail(element_at, "name length missing (message ends)");
    const size_t len = data_[pos_++];
    if (len == 0) fail(element_at, "empty name");
    if (data_.size() - pos_ < len) {
      fail(element_at, "name of " + std::to_string(len) + " bytes runs past the end (" +
                           std::to_string(data_.size() - pos_) + " left)");
    }
    std::string n(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len;
    return n;
  }

  std::string value(size_t element_at) {
    if (data_.size() - pos_ < 2) fail(element_at, "value length missing (message ends)");
    const size_t len = (static_cast<size_t>(data_[pos_]) << 8) | data_[pos_ + 1];
    pos_ += 2;
    if (data_.size() - pos_ < len) {
      fail(element_at, "value of " + std::to_string(len) + " bytes runs past the end (" +
                           std::to_string(data_.size() - pos_) + " left)");
    }
    std::string v(reinterpret_cast<const char*>(data_.data() + pos_), len);
    pos_ += len;
    return v;
  }

  std::span<const uint8_t> data_;
  size_t offset_;
  size_t pos_ = 0;
};

}  // namespace

Message decode(std::span<const uint8_t> data, size_t offset) {
  return Decoder(data, offset).run();
}

Message decode(std::string_view data) {
  return decode(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

// ---- text ----------------------------------------------------------------------------------

namespace {

bool printable(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

std::string shown(std::string_view v) {
  if (printable(v)) return std::string(v);
  std::string s = "0x";
  for (char c : v) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(c));
    s += b;
  }
  return s;
}

void text_section(const Section& s, std::span<const std::string_view> hide, size_t indent,
                  std::string& out) {
  const std::string pad(indent * 2, ' ');
  auto hidden = [&](const std::string& name) {
    return std::find(hide.begin(), hide.end(), name) != hide.end();
  };
  for (const auto& e : s.entries()) {
    out += pad + shown(e.name);
    if (const auto* value = std::get_if<std::string>(&e.value)) {
      out += " = " + (hidden(e.name) ? std::string("(not shown)") : shown(*value)) + "\n";
    } else if (const auto* list = std::get_if<List>(&e.value)) {
      out += " = [";
      for (size_t i = 0; i < list->size(); ++i) {
        if (i) out += ", ";
        out += hidden(e.name) ? std::string("(not shown)") : shown((*list)[i]);
      }
      out += "]\n";
    } else {
      out += " {\n";
      text_section(std::get<Section>(e.value), hide, indent + 1, out);
      out += pad + "}\n";
    }
  }
}

}  // namespace

std::string to_text(const Message& message, std::span<const std::string_view> hide) {
  std::string out;
  text_section(message, hide, 0, out);
  return out;
}

}  // namespace espgw::vici
