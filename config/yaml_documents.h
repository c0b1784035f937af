#pragma once
// The documents of a YAML text, for every file espgw reads as YAML (the config, the secrets file):
// the first one built, and where a second one begins (an error for each of them).
//
// Not yaml-cpp's YAML::LoadAll: in yaml-cpp 0.7 it loops for ever, allocating without bound, on a
// document that begins with a stray ',' (one comma is enough; tests/fuzz/config_parse_fuzz found
// it). Here the documents are counted first, two at most, by a parser with a handler that builds
// nothing, and a document that does not move the parser on is a syntax error; then YAML::Load
// builds the first.

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace espgw::config {

struct YamlDocuments {
  YAML::Node first;                // null for an empty text
  std::optional<int> second_line;  // 1-based line where a second document begins
};

// Throws YAML::Exception (with its mark) for a syntax error, as YAML::LoadAll does.
YamlDocuments load_documents(const std::string& text);

}  // namespace espgw::config
