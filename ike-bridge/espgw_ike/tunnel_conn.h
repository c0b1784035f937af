#pragma once
// What espgw-ike loads into charon for a tunnel with `ike:` (docs/espgw-ike.md): one VICI
// connection named after the tunnel with one CHILD_SA of the same name, and its pre-shared key.
// A tunnel of N lanes (docs/lanes.md) adds connections "<tunnel>#k" for lanes k = 1..N-1, each
// with its own identities ("lanek.<id>") and interface ID (config::lane_if_id), all in the one
// load-conn message; lane 0 is the tunnel's connection as it is with one lane.
// Built from the config alone, so that the same config always gives the same bytes: a reload
// compares them to decide whether a tunnel changed.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ike-bridge/vici/message.h"

namespace espgw::ike {

struct TunnelConn {
  std::string name;
  std::vector<std::string> lanes;  // the connection (and CHILD_SA) of each lane: lanes[0] = name
  vici::Message conn;        // the load-conn argument: {<name> = {...}, <name>#1 = {...}, ...}
  vici::Message shared_key;  // the load-shared argument; holds the PSK: never print it
  config::StartAction start_action = config::StartAction::kStart;
  std::vector<std::string> warnings;  // values charon cannot take exactly (clamped)
};

// The id of a tunnel's shared key in charon ("espgw-ike:<tunnel>"): unload-shared needs it, and
// at start-up it tells which connections an earlier espgw-ike loaded.
std::string shared_key_id(std::string_view tunnel);
// The tunnel of one of our shared key ids; empty for any other id.
std::string tunnel_of_shared_key_id(std::string_view id);
// The IKE identity of lane k of a tunnel whose identity is `id`: `id` itself for lane 0, else
// "lanek.<id>" (an FQDN identity to charon, also when `id` is an address).
std::string lane_identity(std::string_view id, unsigned lane);

// Throws config::ConfigError when the tunnel has no `ike` or its key is not in `secrets`.
TunnelConn tunnel_conn(const config::Tunnel& tunnel,
                       const std::map<std::string, std::string>& secrets);
// Every tunnel of the config that has `ike`, in config order.
std::vector<TunnelConn> tunnel_conns(const config::Config& config);

// The load-shared argument without its secret, for logs.
inline constexpr std::string_view kSecretKeys[] = {"data"};

// Numbers as charon's VICI parser reads them: it copies at most 15 characters of a value
// (vici_config.c, parse_uint64/parse_bytes: char buf[16]) and silently drops the rest, so longer
// numbers must be written shorter or clamped. Byte counts may use charon's binary suffixes.
struct VNumber {
  std::string text;
  bool clamped = false;  // the value was larger than charon can take; text is the largest
};
VNumber vici_count(uint64_t n);  // packets: decimal, else 0x hex, else clamped
VNumber vici_bytes(uint64_t n);  // bytes: decimal, else rounded up to a whole "NNNG" (GiB)

// The interface ID as swanctl.conf writes it (if_id_from_string(): strtoul base 0).
std::string if_id_text(uint32_t if_id);

}  // namespace espgw::ike
