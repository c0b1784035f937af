#pragma once
// espgwctl's commands as requests for espgw's control socket (docs/control-protocol.md): what to
// send and how to show the answer (show.h).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/tools/espgwctl/command_line.h"

namespace espgw::ctl {

// What to send and how to show the answer.
struct Request {
  nlohmann::json body;
  enum class View {
    kStatus,
    kCounters,
    kPorts,
    kWorkers,
    kDrops,
    kSas,
    kTunnels,
    kLanes,
    kRoutes,
    kNeighbours,
    kPeers,
    kChange,
    kApply,
    kStop
  } view;
  std::optional<uint32_t> spi;        // show sas SPI
  std::optional<std::string> tunnel;  // lanes TUNNEL
  size_t ops = 0;                     // apply
};

// Throws UsageError for words that make no request; reads the FILEs of --sa-json, --json and
// apply (their keys join the secrets).
Request build_request(const Invocation& inv);

}  // namespace espgw::ctl
