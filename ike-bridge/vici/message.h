#pragma once
// VICI messages: the tree of sections, key/values and lists that strongSwan's vici plugin
// exchanges (src/libcharon/plugins/vici/README.md, "Message format"), and its binary encoding.
//
//   element       type  name (u8 length)  value (u16 length, network order)
//   SECTION_START  1    yes               -
//   SECTION_END    2    -                 -
//   KEY_VALUE      3    yes               yes
//   LIST_START     4    yes               -
//   LIST_ITEM      5    -                 yes
//   LIST_END       6    -                 -
//
// Values are byte strings; charon writes numbers as decimal text. Decoding is bounds-checked
// everywhere: a truncated or hostile message gives a DecodeError naming the byte offset, never a
// crash or an unbounded allocation.

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace espgw::vici {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class EncodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ElementType : uint8_t {
  kSectionStart = 1,
  kSectionEnd = 2,
  kKeyValue = 3,
  kListStart = 4,
  kListItem = 5,
  kListEnd = 6,
};

inline constexpr size_t kMaxNameLength = 255;     // u8 length
inline constexpr size_t kMaxValueLength = 65535;  // u16 length
// Sections nest to "arbitrary levels" in the README; charon's own messages use at most five
// (list-sa: conn, child-sas, child, and for rekey events old/new). The limit keeps a hostile
// message from driving the decoder (and anything walking the tree) into deep recursion.
inline constexpr size_t kMaxDepth = 32;

using List = std::vector<std::string>;

// A section: named entries in the order they came. Keys should be unique in a section (README);
// the decoder keeps duplicates as they came and the find_* functions return the first.
class Section {
 public:
  struct Entry;

  Section() = default;
  Section(const Section&);
  Section(Section&&) noexcept;
  Section& operator=(const Section&);
  Section& operator=(Section&&) noexcept;
  ~Section();

  // Adders return *this (or the new section) for chaining; an existing key is not replaced.
  Section& add(std::string key, std::string value);
  Section& add(std::string key, List items);
  Section& add_section(std::string key);
  List& add_list(std::string key);
  Section& add(std::string key, Section section);

  const std::string* find_value(std::string_view key) const noexcept;
  const List* find_list(std::string_view key) const noexcept;
  const Section* find_section(std::string_view key) const noexcept;
  // The value of `key`, or `fallback` when absent or not a key/value.
  std::string value_or(std::string_view key, std::string_view fallback = {}) const;

  const std::vector<Entry>& entries() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_.empty(); }

  bool operator==(const Section& other) const;

 private:
  std::vector<Entry> entries_;
};

struct Section::Entry {
  std::string name;
  std::variant<std::string, List, Section> value;
  bool operator==(const Entry&) const = default;
};

// The root of a request, response or event is an unnamed section.
using Message = Section;

// The encoded elements of `message` (without any packet header). Throws EncodeError for a name
// that is empty or longer than 255 bytes, a value longer than 65535 bytes, or nesting past
// kMaxDepth.
std::string encode(const Message& message);
void encode_to(const Message& message, std::string& out);

// Decodes a whole buffer of elements. Throws DecodeError ("byte N: what") for an unknown element
// type, a length that runs past the end, an empty name, SECTION_END without a section, an element
// other than LIST_ITEM/LIST_END inside a list, LIST_ITEM/LIST_END outside one, an unclosed section
// or list at the end, or nesting past kMaxDepth. Offsets in messages count from `offset` (the
// message's place in its packet).
Message decode(std::span<const uint8_t> data, size_t offset = 0);
Message decode(std::string_view data);

// A readable, indented dump in swanctl's --raw style:
//   name {
//     key = value
//     list = [a, b]
//   }
// Values that are not printable ASCII are shown as hex (0x...). `hide` lists keys whose values
// are replaced by "(not shown)" at any depth.
std::string to_text(const Message& message, std::span<const std::string_view> hide = {});

}  // namespace espgw::vici
