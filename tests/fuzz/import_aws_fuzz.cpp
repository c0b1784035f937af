// libFuzzer target: `espgwctl import-aws` (config/import/import.h) over any download, text or XML
// (the importer tells them apart by the first character). Every input converts or is refused
// with an ImportError or a ConfigError; a config it writes is read back by config::parse, which
// accepts it or refuses it with a ConfigError. Anything else is a finding.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/import/import.h"
#include "tests/fuzz/import_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace espgw;
  static const import::Site site = [] {
    import::Site s;
    s.wan_device = "0000:00:06.0";
    s.wan_address = import::InterfaceAddress::parse("172.31.1.10/24");
    s.local_cidrs = {*IpPrefix::parse("10.20.0.0/16")};
    s.secrets_file = "/etc/espgw/aws.secrets.yaml";
    return s;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::import_then_parse([&] { return import::import_aws(text, "fuzz.txt", site, {}); });
  return 0;
}
