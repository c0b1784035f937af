#pragma once
// A small XML reader for AWS's CustomerGatewayConfiguration: elements, attributes, text, comments,
// CDATA, the five predefined entities and character references. No DTDs, namespaces or
// encodings other than UTF-8. Every element remembers its line, so that errors can name it.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace espgw::import {

struct XmlElement {
  std::string name;
  int line = 0;  // of its start tag
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<XmlElement> children;
  std::string text;  // the character data directly inside, concatenated

  const std::string* attribute(std::string_view key) const;
};

// The root element. Throws ImportError "SOURCE:LINE: ..." on malformed input.
XmlElement parse_xml(std::string_view text, const std::string& source);

}  // namespace espgw::import
