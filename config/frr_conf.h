#pragma once
// FRR's config beside espgw (docs/routing.md): zebra's, bgpd's and bfdd's files, rendered from
// the espgw config for the daemons that run with `-N <bgp.frr_instance>`. zebra sends its routes
// to espgw over FPM (routing.fpm); bgpd has one neighbour per peer inside address of every tunnel
// with `bgp:`, and sends each neighbour the `announce` prefixes only; bfdd holds the `espgw`
// profile the neighbours with bfd use. The text is deterministic: the same config gives the same
// bytes, so that a tool can tell a change by comparing them.

#include "config/config.h"

#include <string>

namespace espgw::config {

struct FrrConf {
  std::string zebra, bgpd, bfdd;
};

// The names the rendered text uses (route maps, prefix lists, the BFD profile).
inline constexpr const char* kFrrBfdProfile = "espgw";
inline constexpr const char* kFrrAnnounceMap = "espgw-announce";
inline constexpr const char* kFrrAcceptMap = "espgw-accept";

// Requires cfg.bgp.enabled() and a router ID (the parser gives one); throws ConfigError if not.
FrrConf render_frr(const Config& cfg);

}  // namespace espgw::config
