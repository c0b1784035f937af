// libFuzzer target: the config reader (config/config.h) over any YAML, as espgw,
// espgw-config-check and espgw-ike read the operator's file. Every input is accepted or refused
// with a ConfigError; any other exception, a crash or a sanitizer report is a finding.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  try {
    (void)espgw::config::parse(yaml, "fuzz.yaml");
  } catch (const espgw::config::ConfigError&) {
  }
  return 0;
}
