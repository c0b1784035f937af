#pragma once
// Keeps charon's connections and shared keys in line with the config's IKE tunnels.
//
// A tunnel whose load-conn and load-shared bytes are those loaded last is not touched at all (no
// load, no terminate, no initiate): a reload that changes nothing keeps every SA. A changed
// tunnel is loaded again; the IKE_SAs negotiated under its old settings are terminated and, with
// start_action start, a new one is initiated. A tunnel that left the config is terminated and
// unloaded with its key. A tunnel whose load-conn charon refuses keeps what it had (charon keeps
// the previous connection), is logged, and is tried again at the next apply.
//
// After (re)connecting to charon the state is "fresh": what was loaded before is forgotten and
// every tunnel is loaded; connections that an earlier espgw-ike loaded and the config no longer
// has are found by their shared key ids (get-shared) and removed. SAs that charon already has
// for a tunnel (espgw-ike restarted, charon did not) are kept.
//
// A tunnel of several lanes (docs/lanes.md) is one unit here: its lanes' connections are loaded in
// one load-conn, and initiated, terminated and unloaded together. Lanes that a tunnel no longer
// has (fewer lanes, or found in charon after a reconnect) are terminated and unloaded.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ike-bridge/espgw_ike/log.h"
#include "ike-bridge/espgw_ike/tunnel_conn.h"
#include "ike-bridge/vici/client.h"

namespace espgw::ike {

struct SyncResult {
  std::vector<std::string> unchanged;  // nothing sent for them
  std::vector<std::string> added;      // loaded for the first time (since connecting)
  std::vector<std::string> changed;    // loaded again, old SAs terminated
  std::vector<std::string> key_only;   // only the pre-shared key was loaded again
  std::vector<std::string> removed;    // terminated and unloaded
  std::vector<std::string> failed;     // charon refused something; see the log
  std::vector<std::string> initiated;  // initiate sent
};

class ConnectionSync {
 public:
  // `terminate_timeout`: how long charon waits for the peer's answer to a DELETE before it
  // drops an IKE_SA anyway (terminate with force).
  ConnectionSync(vici::Requester& charon, Log& log, std::chrono::milliseconds terminate_timeout);

  // Throws vici::ConnectionError when charon went away (the caller reconnects and applies again
  // with fresh = true); refusals by charon are logged and reported in SyncResult::failed.
  SyncResult apply(const std::vector<TunnelConn>& wanted, bool fresh);

  // charon went away: nothing is known to be loaded any more.
  void forget() noexcept { loaded_.clear(); }
  bool is_loaded(const std::string& tunnel) const { return loaded_.count(tunnel) != 0; }

 private:
  struct Loaded {
    std::string conn;                // encoded load-conn argument
    std::string key;                 // encoded load-shared argument (holds the PSK, in memory only)
    std::vector<std::string> lanes;  // the lanes' connection names
  };

  // Sends a command; true when charon answered success = yes. A refusal is logged with what.
  bool command(std::string_view cmd, const vici::Message& args, const std::string& what);
  std::vector<std::string> ike_sa_ids(const std::string& tunnel);
  void terminate_all(const std::string& tunnel, const std::vector<std::string>& ids);
  bool initiate(const std::string& tunnel, const std::string& lane);
  // Terminates and unloads the connections `lanes` of `tunnel`; false if charon refused one.
  bool unload_lanes(const std::string& tunnel, const std::vector<std::string>& lanes);
  void remove(const std::string& tunnel, const std::vector<std::string>& lanes, SyncResult& result);
  // Our connections in charon by tunnel (get-conns): "<tunnel>" and "<tunnel>#k".
  std::map<std::string, std::vector<std::string>> charon_lanes();

  vici::Requester& charon_;
  Log& log_;
  std::chrono::milliseconds terminate_timeout_;
  std::map<std::string, Loaded> loaded_;
};

}  // namespace espgw::ike
