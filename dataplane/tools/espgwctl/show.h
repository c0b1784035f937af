#pragma once
// espgw's answers as text for a terminal: `status` and the `show` tables (without --json).

#include <nlohmann/json.hpp>

#include <string>

#include "dataplane/tools/espgwctl/requests.h"

namespace espgw::ctl {

// The answer `resp` to `req`, shown; `all`: every drop reason, not only those that happened.
// Throws ErrorResponse for `show sas SPI` of an SPI that no SA has.
std::string render(const Request& req, const nlohmann::json& resp, bool all);

}  // namespace espgw::ctl
