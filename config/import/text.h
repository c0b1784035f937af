#pragma once
// Small text helpers the importers share: trimming, case folding, comma lists.

#include <string>
#include <string_view>
#include <vector>

namespace espgw::import {

// `s` without leading and trailing white space.
std::string trim(std::string_view s);

// `s` in lower case (ASCII).
std::string lower(std::string_view s);

// `s` in upper case (ASCII).
std::string upper(std::string_view s);

// "a, b,,c" -> {"a", "b", "c"}: the items between commas, trimmed, empty ones left out.
std::vector<std::string> split_list(std::string_view v);

}  // namespace espgw::import
