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

bool ConnectionSync::initiate(const std::string& tunnel, const std::string& lane) {
  vici::Message args;
  args.add("child", lane);
  args.add("ike", lane);
  // Return at once: charon goes on in the background, retries per keyingtries, and the outcome
  // arrives as ike-updown / child-updown events (logged by the event connection).
  args.add("timeout", "-1");
  args.add("init-limits", "no");
  const std::string what = lane == tunnel ? "tunnel " + tunnel : "tunnel " + tunnel + " " + lane;
  if (!command("initiate", args, what)) return false;
  log_.info(what + ": initiating");
  return true;
}

std::map<std::string, std::vector<std::string>> ConnectionSync::charon_lanes() {
  std::map<std::string, std::vector<std::string>> out;
  const vici::Message r = charon_.request("get-conns", {});
  if (const vici::List* conns = r.find_list("conns")) {
    for (const auto& name : *conns) {
      const std::string tunnel = name.substr(0, name.find('#'));
      out[tunnel].push_back(name);
    }
  }
  return out;
}

bool ConnectionSync::unload_lanes(const std::string& tunnel,
                                  const std::vector<std::string>& lanes) {
  bool ok = true;
  for (const auto& lane : lanes) {
    terminate_all(tunnel, ike_sa_ids(lane));
    try {
      const vici::Message r = charon_.request("unload-conn", vici::Message().add("name", lane));
      // A connection charon does not have is as good as unloaded (charon restarted in between).
      if (r.value_or("success") != "yes" &&
          r.value_or("errmsg").find("not found") == std::string::npos) {
        log_.error("tunnel " + tunnel + ": charon refused unload-conn " + lane + ": " +
                   r.value_or("errmsg"));
        ok = false;
      }
    } catch (const vici::UnknownError& e) {
      log_.error("tunnel " + tunnel + ": " + e.what());
      ok = false;
    }
  }
  return ok;
}

void ConnectionSync::remove(const std::string& tunnel, const std::vector<std::string>& lanes,
                            SyncResult& result) {
  bool ok = unload_lanes(tunnel, lanes);
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
  // Each gone tunnel with the lanes to unload: those we loaded, or after a (re)connect those charon
  // has under its name.
  std::map<std::string, std::vector<std::string>> gone;
  std::map<std::string, std::vector<std::string>> in_charon;
  if (fresh) {
    loaded_.clear();
    const vici::Message keys = charon_.request("get-shared", {});
    if (const vici::List* ids = keys.find_list("keys")) {
      for (const auto& id : *ids) {
        const std::string name = tunnel_of_shared_key_id(id);
        if (!name.empty()) in_charon[name];
      }
    }
    if (!in_charon.empty()) {
      for (auto& [name, lanes] : charon_lanes()) {
        if (in_charon.count(name)) in_charon[name] = std::move(lanes);
      }
    }
    for (auto& [name, lanes] : in_charon) {
      if (lanes.empty()) lanes.push_back(name);
      if (!wanted_names.count(name)) gone[name] = lanes;
    }
  }
  for (const auto& [name, loaded] : loaded_) {
    if (!wanted_names.count(name)) gone[name] = loaded.lanes;
  }
  for (const auto& [name, lanes] : gone)
    remove(name, lanes, result);

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
    // may be those of a running tunnel that an earlier espgw-ike started). Per lane.
    std::vector<std::vector<std::string>> before;
    size_t up_lanes = 0;
    for (const auto& lane : t.lanes) {
      before.push_back(ike_sa_ids(lane));
      up_lanes += before.back().empty() ? 0 : 1;
    }
    // Lanes loaded before that the tunnel no longer has: by us, or by an earlier espgw-ike.
    std::vector<std::string> dropped;
    const std::set<std::string> now(t.lanes.begin(), t.lanes.end());
    for (const auto& lane :
         is_new ? (fresh ? in_charon[t.name] : std::vector<std::string>{}) : it->second.lanes) {
      if (!now.count(lane)) dropped.push_back(lane);
    }
    if (!command("load-conn", t.conn, what)) {
      // charon keeps the connection it had; so do we (and try again at the next apply).
      if (!is_new) it->second.key = key;
      result.failed.push_back(t.name);
      continue;
    }
    loaded_[t.name] = Loaded{conn, key, t.lanes};
    if (!dropped.empty() && !unload_lanes(t.name, dropped)) result.failed.push_back(t.name);
    if (is_new) {
      std::string kept;
      for (const auto& ids : before) {
        if (!ids.empty()) kept += (kept.empty() ? "#" : ", #") + ids.front();
      }
      log_.info(what + ": loaded" +
                (t.lanes.size() > 1 ? " (" + std::to_string(t.lanes.size()) + " lanes)" : "") +
                (kept.empty() ? "" : " (charon has IKE_SA " + kept + " for it already: kept)"));
      result.added.push_back(t.name);
    } else {
      log_.info(what + ": changed, loaded again");
      for (size_t k = 0; k < before.size(); ++k) {
        terminate_all(t.name, before[k]);
        before[k].clear();
      }
      up_lanes = 0;
      result.changed.push_back(t.name);
    }
    if (t.start_action != config::StartAction::kStart || up_lanes == t.lanes.size()) continue;
    // All lanes at once (docs/lanes.md): each its own IKE_SA, over the one IKE port.
    bool any = false;
    for (size_t k = 0; k < t.lanes.size(); ++k) {
      if (before[k].empty()) any = initiate(t.name, t.lanes[k]) || any;
    }
    if (any) result.initiated.push_back(t.name);
  }
  return result;
}

}  // namespace espgw::ike
