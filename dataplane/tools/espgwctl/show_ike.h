#pragma once
// `espgwctl ike status`: espgw-ike's status answer (docs/espgw-ike.md) as text for a terminal.

#include <nlohmann/json.hpp>

#include <string>

namespace espgw::ctl {

std::string ike_status_text(const nlohmann::json& status);

}  // namespace espgw::ctl
