#pragma once
// The answer to {"cmd": "status"} on espgw-ike's socket (docs/espgw-ike.md): every IKE tunnel of
// the config with what charon has for it (list-conns, list-sas), numbers as JSON numbers, SPIs as
// "0x..." strings as on espgw's control socket. IKE_SAs of connections that are not ours are
// listed apart, so that nothing charon does goes unseen.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ike-bridge/vici/client.h"

namespace espgw::ike {

struct CharonView {
  bool connected = false;
  std::string socket;
  std::string version;                 // charon's, from the version command
  std::vector<vici::Message> conns;    // list-conn events
  std::vector<vici::Message> ike_sas;  // list-sa events
};

// Asks charon (version, list-conns, list-sas). Throws vici::Error.
CharonView query_charon(vici::Requester& charon);

nlohmann::json status_json(const config::Config& config, const CharonView& view);

// One IKE_SA / CHILD_SA of a list-sa or event message as status JSON (also for tests).
nlohmann::json ike_sa_json(const vici::Section& ike);
nlohmann::json child_sa_json(const vici::Section& child);

}  // namespace espgw::ike
