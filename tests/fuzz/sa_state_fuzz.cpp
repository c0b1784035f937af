// The SA state file's reader (dataplane/control/sa_state_format.h): espgw reads the file at start,
// and whatever is on the disk (a truncated write, another program's file, a tampered one) must
// be refused with std::invalid_argument and nothing else. What it accepts, written again and read
// back, is the same, and writes the same text.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "dataplane/control/sa_state_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using espgw::dp::format_sa_state;
  using espgw::dp::parse_sa_state;
  const std::string text(reinterpret_cast<const char*>(data), size);
  espgw::dp::SaStateContents c;
  try {
    c = parse_sa_state(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string written = format_sa_state(c);
  const espgw::dp::SaStateContents back = parse_sa_state(written);
  if (!(back == c)) __builtin_trap();
  if (format_sa_state(back) != written) __builtin_trap();
  return 0;
}
