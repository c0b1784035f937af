#pragma once
// What every binary's --version prints: "PROGRAM VERSION (commit COMMIT)". The version is the
// project's (meson.build); the commit is the git commit of the source tree it was built from,
// "-dirty" with uncommitted changes (scripts/lib/stamp-version).

#include <string>
#include <string_view>

#include "common/espgw_version.h"

namespace espgw {

inline constexpr std::string_view kVersion = ESPGW_VERSION;
inline constexpr std::string_view kCommit = ESPGW_COMMIT;

inline std::string version_line(std::string_view program) {
  std::string s(program);
  s += ' ';
  s += kVersion;
  s += " (commit ";
  s += kCommit;
  s += ')';
  return s;
}

}  // namespace espgw
