// libFuzzer target: `espgwctl import-ipsec-conf` (config/import/import.h). The input is an
// ipsec.conf and, after a line "#%secrets", an ipsec.secrets, both written into a folder of the
// run's own (tests/fuzz/ipsec_conf_fuzz_seeds.py writes the seeds so). Every input converts or is
// refused with an ImportError or a ConfigError; a config it writes is read back by config::parse
// (import_fuzz.h).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/import/import.h"
#include "tests/fuzz/import_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace espgw;
  static const std::string dir = [] {
    char tmpl[] = "/tmp/espgw-ipsec-conf-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    return std::string(tmpl);
  }();
  static const import::Site site = [] {
    import::Site s;
    s.secrets_file = "/etc/espgw/ipsec.secrets.yaml";
    return s;
  }();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker = "\n#%secrets\n";
  const size_t at = input.find(marker);
  const std::string conf = dir + "/ipsec.conf", secrets = dir + "/ipsec.secrets";
  std::ofstream(conf, std::ios::trunc | std::ios::binary) << input.substr(0, at);
  std::ofstream(secrets, std::ios::trunc | std::ios::binary)
      << (at == std::string::npos ? "" : input.substr(at + marker.size()));
  fuzz::import_then_parse([&] { return import::import_ipsec_conf(conf, site, {secrets}); });
  return 0;
}
