#pragma once
// What both importer fuzz targets check (import_aws_fuzz.cpp, import_ipsec_conf_fuzz.cpp): the
// import converts or refuses with an ImportError or a ConfigError, and a config it writes is read
// back by config::parse, which accepts it or refuses it with a ConfigError. Anything else
// escapes, and libFuzzer reports it.

#include "config/config.h"
#include "config/import/import.h"

namespace espgw::fuzz {

template <class Import>
void import_then_parse(Import&& run_import) {
  import::Result r;
  try {
    r = run_import();
  } catch (const import::ImportError&) {
    return;
  } catch (const config::ConfigError&) {
    return;
  }
  try {
    (void)config::parse(r.yaml, "imported.yaml");
  } catch (const config::ConfigError&) {
  }
}

}  // namespace espgw::fuzz
