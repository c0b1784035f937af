#pragma once
// Helpers of every config test (config_*_test.cpp, config_ike_*_test.cpp): one line of a config
// text changed, the line a text is on, and the error message a load throws, in the documented
// shape
//   FILE:LINE: key.path[index].sub: what is wrong "value"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "config/config.h"

namespace espgw::config::test_util {

// base with the one occurrence of `from` replaced by `to`.
inline std::string with(std::string_view base, std::string_view from, std::string_view to) {
  std::string s(base);
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the config: " << from;
  if (at == std::string::npos) return s;
  EXPECT_EQ(s.find(from, at + 1), std::string::npos) << "more than once in the config: " << from;
  s.replace(at, from.size(), to);
  return s;
}

// 1-based line of the first occurrence of needle.
inline int line_of(std::string_view text, std::string_view needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "not in the text: " << needle;
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// The message of one error of t.yaml: on the line where `needle` is, naming path, saying what.
inline std::string at(std::string_view yaml, std::string_view needle, std::string_view path,
                      std::string_view what) {
  std::string want = "t.yaml:" + std::to_string(line_of(yaml, needle)) + ": ";
  if (!path.empty()) want += std::string(path) + ": ";
  return want + std::string(what);
}

// The message that `load` throws, handed to `check` first (which looks for secrets in it); ""
// when it does not throw.
template <typename Load, typename Check>
std::string error_of_call(Load&& load, Check&& check) {
  try {
    load();
  } catch (const ConfigError& e) {
    check(e.what());
    return e.what();
  }
  ADD_FAILURE() << "loaded without error";
  return "";
}

}  // namespace espgw::config::test_util
