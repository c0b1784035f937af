#pragma once
// `espgwctl lanes [TUNNEL]`: each lane of the tunnels of several lanes (or of TUNNEL), from the
// `tunnels` answer (docs/control-protocol.md#reading, docs/lanes.md), as a table.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace espgw::ctl {

// One row per lane. Without `tunnel`: the tunnels of more than one lane ("no tunnel has lanes"
// when none has); with it: that tunnel's lanes, whatever their number. Throws ErrorResponse for a
// tunnel espgw does not have.
std::string lanes_table(const nlohmann::json& tunnels, const std::optional<std::string>& tunnel);

}  // namespace espgw::ctl
