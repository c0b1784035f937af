// libFuzzer target: the secrets file (ike.secrets_file, config/secrets.cpp). The input is the
// secrets file of config/examples/aws-vpn.yaml, written 0600 into a folder of the run's own, and
// the example is loaded as espgw loads it (config::load_file). Every input loads or is refused
// with a ConfigError, and no message repeats a line of the secrets file that looks like a key.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/redact.h"
#include "config/config.h"

namespace {

struct Files {
  std::string dir, config, secrets;
};

const Files& files() {
  static const Files f = [] {
    Files x;
    char tmpl[] = "/tmp/espgw-secrets-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    x.dir = tmpl;
    x.config = x.dir + "/aws-vpn.yaml";
    x.secrets = x.dir + "/aws-vpn.secrets.yaml";
    std::ifstream in(ESPGW_EXAMPLES "/aws-vpn.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    const std::string from = "/etc/espgw/aws-vpn.secrets.yaml";
    const size_t at = yaml.find(from);
    if (at == std::string::npos) std::abort();
    yaml.replace(at, from.size(), x.secrets);
    std::ofstream(x.config) << yaml;
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Files& f = files();
  const std::string input(reinterpret_cast<const char*>(data), size);
  {
    std::ofstream out(f.secrets, std::ios::trunc | std::ios::binary);
    out << input;
  }
  chmod(f.secrets.c_str(), 0600);
  try {
    (void)espgw::config::load_file(f.config);
  } catch (const espgw::config::ConfigError& e) {
    // Nothing of the file that looks like key material is repeated.
    const std::string what = e.what();
    std::istringstream words(input);
    for (std::string w; words >> w;)
      if (w.size() >= 16 && espgw::looks_like_key(w) && what.find(w) != std::string::npos)
        std::abort();
  }
  return 0;
}
