#include "ike-bridge/espgw_ike/connection_sync.h"

#include <algorithm>
#include <set>

namespace espgw::ike {

ConnectionSync::ConnectionSync(vici::Requester& charon, Log& log,
                               std::chrono::milliseconds terminate_timeout)
    : charon_(charon), log_(log), terminate_timeout_(terminate_timeout) {}

bool ConnectionSync::command(std::string_view cmd, const vici::Message& args,
                             const std::string& what) {
  try {
    const vici::Message r = charon_.request(cmd, args);
    if (r.value_or("success") == "yes") return true;
    log_.error(what + ": charon refused " + std::string(cmd) + ": " +
               r.value_or("errmsg", "(no reason given)"));
  } catch (const vici::UnknownError& e) {
    log_.error(what + ": " + e.what());
  }
  return false;
}

// The unique ids of the tunnel's IKE_SAs, whatever their state.
std::vector<std::string> ConnectionSync::ike_sa_ids(const std::string& tunnel) {
  std::vector<std::string> ids;
  vici::Message args;
  args.add("ike", tunnel);
  args.add("noblock", "yes");  // do not wait for IKE_SAs that another thread has checked out
  charon_.request_streamed("list-sas", args, "list-sa", [&](const vici::Message& m) {
    if (const vici::Section* sa = m.find_section(tunnel)) ids.push_back(sa->value_or("uniqueid"));
  });
  return ids;
}

void ConnectionSync::terminate_all(const std::string& tunnel, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    vici::Message args;
    args.add("ike-id", id);
    // DELETE and wait this long for the peer's answer, then drop the IKE_SA anyway: a dead peer
    // must not hold up the reload (charon would retransmit for minutes).
    args.add("force", "yes");
    args.add("timeout", std::to_string(terminate_timeout_.count()));
    if (command("terminate", args, "tunnel " + tunnel + ": IKE_SA #" + id)) {
      log_.info("tunnel " + tunnel + ": terminated IKE_SA #" + id);
    }
  }
}

bool ConnectionSync::initiate(const std::string& tunnel) {
  vici::Message args;
  args.add("child", tunnel);
  args.add("ike", tunnel);
  // Return at once: charon goes on in the background, retries per keyingtries, and the outcome
  // arrives as ike-updown / child-updown events (logged by the event connection).
  args.add("timeout", "-1");
  args.add("init-limits", "no");
  if (!command("initiate", args, "tunnel " + tunnel)) return false;
  log_.info("tunnel " + tunnel + ": initiating");
  return true;
}

void ConnectionSync::remove(const std::string& tunnel, SyncResult& result) {
  terminate_all(tunnel, ike_sa_ids(tunnel));
  bool ok = true;
  try {
    const vici::Message r = charon_.request("unload-conn", vici::Message().add("name", tunnel));
    // A connection charon does not have is as good as unloaded (charon restarted in between).
    if (r.value_or("success") != "yes" &&
        r.value_or("errmsg").find("not found") == std::string::npos) {
      log_.error("tunnel " + tunnel + ": charon refused unload-conn: " + r.value_or("errmsg"));
      ok = false;
    }
  } catch (const vici::UnknownError& e) {
    log_.error("tunnel " + tunnel + ": " + e.what());
    ok = false;
  }
  ok = command("unload-shared", vici::Message().add("id", shared_key_id(tunnel)),
               "tunnel " + tunnel) &&
       ok;
  loaded_.erase(tunnel);
  if (ok) {
    log_.info("tunnel " + tunnel + ": removed (terminated, connection and key unloaded)");
    result.removed.push_back(tunnel);
  } else {
    result.failed.push_back(tunnel);
  }
}

SyncResult ConnectionSync::apply(const std::vector<TunnelConn>& wanted, bool fresh) {
  SyncResult result;
  std::set<std::string> wanted_names;
  for (const auto& t : wanted)
    wanted_names.insert(t.name);

  // Tunnels to remove: those we loaded and the config dropped, and after a (re)connect those an
  // earlier espgw-ike loaded (their keys carry our id prefix).
  std::set<std::string> gone;
  if (fresh) {
    loaded_.clear();
    const vici::Message keys = charon_.request("get-shared", {});
    if (const vici::List* ids = keys.find_list("keys")) {
      for (const auto& id : *ids) {
        const std::string name = tunnel_of_shared_key_id(id);
        if (!name.empty() && !wanted_names.count(name)) gone.insert(name);
      }
    }
  }
  for (const auto& [name, loaded] : loaded_) {
    if (!wanted_names.count(name)) gone.insert(name);
  }
  for (const auto& name : gone)
    remove(name, result);

  for (const auto& t : wanted) {
    const std::string conn = vici::encode(t.conn);
    const std::string key = vici::encode(t.shared_key);
    const auto it = loaded_.find(t.name);
    const bool is_new = it == loaded_.end();
    const bool conn_changed = is_new || it->second.conn != conn;
    const bool key_changed = is_new || it->second.key != key;
    if (!conn_changed && !key_changed) {
      result.unchanged.push_back(t.name);
      continue;
    }
    const std::string what = "tunnel " + t.name;
    // The key first: a connection is only useful with it. It replaces the key of the same id.
    if (key_changed && !command("load-shared", t.shared_key, what)) {
      result.failed.push_back(t.name);
      continue;
    }
    if (!conn_changed) {
      it->second.key = key;
      log_.info(what + ": pre-shared key loaded again (connection unchanged)");
      result.key_only.push_back(t.name);
      continue;
    }
    for (const auto& w : t.warnings)
      log_.warning(what + ": " + w);
    // The IKE_SAs there are now were negotiated under the old settings (or, on a fresh start,
    // may be those of a running tunnel that an earlier espgw-ike started).
    const std::vector<std::string> before = ike_sa_ids(t.name);
    if (!command("load-conn", t.conn, what)) {
      // charon keeps the connection it had; so do we (and try again at the next apply).
      if (!is_new) it->second.key = key;
      result.failed.push_back(t.name);
      continue;
    }
    loaded_[t.name] = Loaded{conn, key};
    bool up = !before.empty();
    if (is_new) {
      log_.info(what + ": loaded" +
                (up ? " (charon has IKE_SA #" + before.front() + " for it already: kept)" : ""));
      result.added.push_back(t.name);
    } else {
      log_.info(what + ": changed, loaded again");
      terminate_all(t.name, before);
      up = false;
      result.changed.push_back(t.name);
    }
    if (t.start_action == config::StartAction::kStart && !up && initiate(t.name)) {
      result.initiated.push_back(t.name);
    }
  }
  return result;
}

}  // namespace espgw::ike
