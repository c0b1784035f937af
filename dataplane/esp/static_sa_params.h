#pragma once
// From the config's static SA to the dataplane's SA parameters: what config/config.h describes (a
// tunnel and the keys of one direction) becomes the esp::SaParams that esp::Sa::make() takes. The
// config library stays without the dataplane; the dataplane reads the config.

#include "common/esp_sa_options.h"
#include "config/config.h"
#include "dataplane/esp/sa.h"

namespace espgw::esp {

// The SA parameters a static SA of a tunnel stands for (direction, addresses, options).
SaParams static_sa_params(const config::Tunnel& t, const config::StaticSa& sa, Direction dir);

}  // namespace espgw::esp
