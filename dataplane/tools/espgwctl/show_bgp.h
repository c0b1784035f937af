#pragma once
// `espgwctl bgp [TUNNEL] [--json] [-c CONFIG]`: each BGP neighbour of the config's tunnels (or of
// TUNNEL) with its session as FRR sees it: state, uptime, prefixes received and sent, flaps, BFD
// (frr/bgp_view.h). Read from `vtysh -N <bgp.frr_instance>`, not from espgw: FRR runs the
// sessions (docs/routing.md "Reading state for operators").

#include "dataplane/tools/espgwctl/command_line.h"

namespace espgw::ctl {

// Exit kExitOk; UsageError for a bad command line; ErrorResponse for a config without `bgp` or a
// TUNNEL without it; protocol::Unreachable when FRR does not answer (exit 3).
int run_bgp(const Invocation& inv);

}  // namespace espgw::ctl
