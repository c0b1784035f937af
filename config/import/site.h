#pragma once
// The parts of a generated config that describe this gateway itself (dataplane, ports, routes,
// the secrets file), shared by the importers.

#include <string>
#include <vector>

#include "config/import/import.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {

// The VPC router's address: the subnet's base address + 1 (AWS reserves it in every subnet).
std::optional<IpAddress> subnet_router(const InterfaceAddress& a);

std::string prefix_list(const std::vector<IpPrefix>& ps);

// dataplane:, interfaces: and routes: for `site`. `wan_address` is the address to put on the WAN
// port when the site has none (a placeholder the operator must check), `why` says what it is.
// Throws ImportError (with `source`) when the site cannot make a valid config.
// `extra` are more WAN addresses the tunnels use (several ipsec.conf `left`s).
void write_site(YamlWriter& y, const Site& site, const InterfaceAddress& wan_address,
                bool wan_is_placeholder, std::string_view why, const std::string& source,
                const std::vector<InterfaceAddress>& extra = {});

// A blank line and the top-level ike: that names the site's secrets file.
void write_secrets_file(YamlWriter& y, const Site& site);

// The outer address tunnels use: the WAN address the site gives, or the placeholder.
IpAddress wan_local(const Site& site, const InterfaceAddress& fallback);

}  // namespace espgw::import
