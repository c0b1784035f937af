// The control socket's commands and the ops of a transaction, each a table from name to handler
// with each handler beside its name (protocol/commands.h), and the handlers that change the
// running state: `apply` (a transaction: every op on a copy of the model, one build, one publish),
// the SA requests of charon's kernel-espgw plugin (spi-alloc, sa-query, sa-update, if-last-use).
// docs/control-protocol.md describes each.

#include <malloc.h>
#include <rte_cycles.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/hex.h"
#include "common/redact.h"
#include "dataplane/control/app.h"
#include "dataplane/esp/static_sa_params.h"
#include "protocol/messages.h"

namespace espgw::dp {
namespace {

using nlohmann::json;

// An op's string member; absent is "", another type is an error that names the member.
std::string string_field(const json& op, const char* key) {
  if (!op.contains(key)) return "";
  if (!op[key].is_string()) {
    throw std::invalid_argument(std::string("\"") + key + "\" must be a string, got " +
                                op[key].type_name());
  }
  return op[key].get<std::string>();
}

// A tunnel's interface ID (config::tunnel_if_id): a 32-bit number. get<uint32_t>() alone would
// truncate a larger one onto some other tunnel's ID.
uint32_t if_id_field(const json& op) {
  if (!op.contains("if_id") || !op["if_id"].is_number_unsigned() ||
      op["if_id"].get<uint64_t>() > UINT32_MAX) {
    throw std::invalid_argument("\"if_id\" must be a 32-bit number");
  }
  return static_cast<uint32_t>(op["if_id"].get<uint64_t>());
}

esp::Direction parse_direction(const json& op) {
  const std::string d = string_field(op, "direction");
  const auto word = protocol::direction_word(d);
  if (!word) throw std::invalid_argument("direction must be \"in\" or \"out\", got " + quote(d));
  return *word == "in" ? esp::Direction::kInbound : esp::Direction::kOutbound;
}

std::optional<uint32_t> spi_member(const json& req) {
  return protocol::spi_from_json(req.value("spi", json()));
}

// What IKE negotiated for an SA, over what the tunnel's config would give it (docs/ike-bridge.md).
void apply_ike_options(const json& o, esp::SaParams& p, SaLifetime& life) {
  if (!o.is_object()) throw std::invalid_argument("\"ike\" must be an object");
  auto boolean = [&](const char* k) {
    if (!o[k].is_boolean())
      throw std::invalid_argument(std::string("ike.") + k + " must be true or false");
    return o[k].get<bool>();
  };
  auto number = [&](const char* k, uint64_t max) {
    if (!o[k].is_number_unsigned() || o[k].get<uint64_t>() > max) {
      throw std::invalid_argument(std::string("ike.") + k + " must be a number up to " +
                                  std::to_string(max));
    }
    return o[k].get<uint64_t>();
  };
  auto address = [&](const char* k) {
    auto a = o[k].is_string() ? IpAddress::parse(o[k].get<std::string>()) : std::nullopt;
    if (!a) throw std::invalid_argument(std::string("ike.") + k + " must be an IP address");
    return *a;
  };
  for (const auto& [k, v] : o.items()) {
    if (k == "local") {
      p.local = address("local");
    } else if (k == "remote") {
      p.remote = address("remote");
    } else if (k == "nat_t") {
      p.udp_encap = boolean("nat_t");
    } else if (k == "local_port") {
      p.local_port = static_cast<uint16_t>(number("local_port", 65535));
    } else if (k == "remote_port") {
      p.remote_port = static_cast<uint16_t>(number("remote_port", 65535));
    } else if (k == "esn") {
      p.esn = boolean("esn");
    } else if (k == "replay_window") {
      p.replay_window = static_cast<uint32_t>(number("replay_window", esp::ReplayWindow::kMaxSize));
    } else if (k == "soft_bytes") {
      life.soft_bytes = number("soft_bytes", UINT64_MAX);
    } else if (k == "hard_bytes") {
      life.hard_bytes = number("hard_bytes", UINT64_MAX);
    } else if (k == "soft_packets") {
      life.soft_packets = number("soft_packets", UINT64_MAX);
    } else if (k == "hard_packets") {
      life.hard_packets = number("hard_packets", UINT64_MAX);
    } else if (k == "copy_df") {
      p.df = boolean("copy_df") ? esp::DfMode::kCopy : esp::DfMode::kClear;
    } else if (k == "copy_ecn") {
      p.ecn = boolean("copy_ecn") ? esp::EcnMode::kNormal : esp::EcnMode::kCompatibility;
    } else if (k == "copy_dscp") {
      p.copy_dscp = boolean("copy_dscp");
    } else if (k == "reqid") {
      number("reqid", UINT32_MAX);
    } else if (k == "src_ts" || k == "dst_ts") {
      if (!v.is_array()) throw std::invalid_argument("ike." + k + " must be a list of prefixes");
      for (const auto& ts : v) {
        if (!ts.is_string() || !IpPrefix::parse(ts.get<std::string>())) {
          throw std::invalid_argument("ike." + k + ": not a prefix: " + ts.dump());
        }
      }
    } else {
      throw std::invalid_argument("ike: unknown key " + quote(k));
    }
  }
  // A replay window is needed with ESN (RFC 4303 A2); charon sends 0 only when it disabled it.
  if (p.esn && p.replay_window == 0) p.replay_window = 64;
}

}  // namespace

// ---- the commands ------------------------------------------------------------------------------

const App::Commands& App::commands() {
  static const Commands table = [] {
    Commands t{
        {"status", [](App& a, const Request&) { return a.status(); }},
        {"all", [](App& a, const Request&) { return a.everything(); }},
        {"counters",
         [](App& a, const Request&) {
           return json{{"ports", a.port_counters()},
                       {"workers", a.worker_counters()},
                       {"drops", a.drop_counters()},
                       {"neighbour_resolution", a.neighbour_counters()}};
         }},
        // With "spi": only the SAs of that SPI, both directions.
        {"sas",
         [](App& a, const Request& r) {
           std::optional<uint32_t> spi;
           if (r.body.contains("spi")) {
             spi = protocol::spi_from_json(r.body["spi"]);
             if (!spi) throw std::invalid_argument("sas: \"spi\" must be a 32-bit number");
           }
           // One SA's detail, or "state": true, brings each inbound SA's replay bitmap too.
           const bool state = spi.has_value() || r.body.value("state", false) == true;
           return json{{"sas", a.sa_list(spi, state)}};
         }},
        {"tunnels",
         [](App& a, const Request&) {
           return json{{"tunnels", a.tunnel_list()}};
         }},
        {"routes",
         [](App& a, const Request&) {
           return json{{"routes", a.route_list()}};
         }},
        {"neighbours",
         [](App& a, const Request&) {
           return json{{"neighbours", a.neighbour_list()}};
         }},
        {"peers",
         [](App& a, const Request&) {
           return json{{"peers", a.peer_list()}};
         }},
        // A transaction: the ops of change_ops(), applied whole or not at all.
        {"apply",
         [](App& a, const Request& r) {
           if (!r.body.contains("ops") || !r.body["ops"].is_array()) {
             throw std::invalid_argument("apply needs an \"ops\" list");
           }
           return a.apply(r.body["ops"]);
         }},
        {"stop",
         [](App&, const Request&) {
           request_stop();
           return json::object();
         }},
        // charon's kernel-espgw plugin: an inbound SPI that no SA has, reserved for 5 minutes.
        {"spi-alloc",
         [](App& a, const Request&) {
           return json{{"spi", spi_hex(a.alloc_spi())}};
         }},
        {"sa-query", [](App& a, const Request& r) { return a.sa_query(r.body); }},
        {"sa-update", [](App& a, const Request& r) { return a.sa_update(r.body); }},
        {"if-last-use", [](App& a, const Request& r) { return a.if_last_use(r.body); }},
        // The connection becomes an event stream: expire, acquire, liveness (sa_lifecycle.cpp).
        {"subscribe",
         [](App&, const Request& r) {
           if (r.subscribe == nullptr) throw std::invalid_argument("subscribe needs a connection");
           *r.subscribe = true;
           return json::object();
         }},
    };
    // Each op of a transaction is also a command of its own: a transaction of one op.
    for (const auto& op : change_ops().entries()) {
      t.add(op.name, [](App& a, const Request& r) {
        json one = r.body;
        one["op"] = r.body["cmd"];
        one.erase("cmd");
        return a.apply(json::array({one}));
      });
    }
    return t;
  }();
  return table;
}

// ---- the ops of a transaction ------------------------------------------------------------------

const App::ChangeOps& App::change_ops() {
  // route-add, route-replace: objects are checked against the routes as they are now, with the
  // earlier ops of this transaction applied, not against the config file espgw started with. A
  // route is checked against the interfaces only; a tunnel needs the routes (a route to its
  // peer), so only tunnel ops copy them (a copy per op made a million route-adds quadratic).
  static constexpr auto route_set = [](App& a, Model& next, const json& op,
                                       const std::string& type) {
    if (!op.contains("route")) throw std::invalid_argument(type + " needs \"route\"");
    next.add_route(config::parse_route(a.op_context(), op["route"].dump(), type + ".route"),
                   type == "route-replace");
  };
  static constexpr auto tunnel_set = [](App& a, Model& next, const json& op,
                                        const std::string& type) {
    const bool replace = type == "tunnel-replace";
    if (!op.contains("tunnel")) throw std::invalid_argument(type + " needs \"tunnel\"");
    config::Config context = a.op_context();
    context.routes = next.routes().to_config();
    const config::Tunnel t = config::parse_tunnel(context, op["tunnel"].dump(), type + ".tunnel");
    next.add_tunnel(t, replace);
    if (t.static_sa) {
      next.add_sa(t.name, esp::static_sa_params(t, t.static_sa->inbound, esp::Direction::kInbound),
                  a.random_.next64(), replace);
      next.add_sa(t.name,
                  esp::static_sa_params(t, t.static_sa->outbound, esp::Direction::kOutbound),
                  a.random_.next64(), replace);
    }
  };
  static constexpr auto sa_set = [](App& a, Model& next, const json& op, const std::string& type) {
    std::string tunnel;
    std::optional<uint8_t> id_lane;  // the lane that the if_id names (config::lane_if_id)
    if (op.contains("if_id")) {
      const uint32_t if_id = if_id_field(op);
      uint8_t k = 0;
      const config::Tunnel* byid = next.tunnel_by_if_id(if_id, &k);
      if (byid == nullptr)
        throw std::invalid_argument("no tunnel with if_id " + std::to_string(if_id));
      tunnel = byid->name;
      id_lane = k;
    } else {
      tunnel = string_field(op, "tunnel");
    }
    auto t = next.tunnels().find(tunnel);
    if (t == next.tunnels().end()) throw std::invalid_argument("no tunnel " + quote(tunnel));
    if (!op.contains("sa")) throw std::invalid_argument(type + " needs \"sa\"");
    const esp::Direction dir = parse_direction(op);
    const config::StaticSa sa = config::parse_static_sa(op["sa"].dump(), type + ".sa", dir);
    esp::SaParams params = esp::static_sa_params(t->second, sa, dir);
    SaLifetime life;
    SaOrigin origin = SaOrigin::kControl;
    if (op.contains("ike")) {
      origin = SaOrigin::kIke;
      apply_ike_options(op["ike"], params, life);
    }
    uint8_t lane = 0;
    if (op.contains("lane")) {
      if (!op["lane"].is_number_unsigned() || op["lane"].get<uint64_t>() >= t->second.lanes) {
        throw std::invalid_argument("lane must be a number below the tunnel's lanes (" +
                                    std::to_string(t->second.lanes) + ")");
      }
      lane = static_cast<uint8_t>(op["lane"].get<uint64_t>());
      if (id_lane && *id_lane != lane) {
        throw std::invalid_argument("lane " + std::to_string(lane) + " is not that of the if_id (" +
                                    std::to_string(*id_lane) + ")");
      }
    } else if (id_lane) {
      lane = *id_lane;
    }
    next.add_sa(tunnel, params, a.random_.next64(), type == "sa-replace", origin, life, lane);
    if (dir == esp::Direction::kInbound) a.spi_reserved_.erase(sa.spi);
  };
  static const ChangeOps table{
      {"route-add", route_set},
      // Many prefixes to one next hop: the first is checked as a route-add would be (interface,
      // next hop, families); the others need only parse as prefixes of the same family. A YAML
      // parse per route was most of the time of a million route-adds.
      {"route-add-many",
       [](App& a, Model& next, const json& op, const std::string& type) {
         if (!op.contains("prefixes") || !op["prefixes"].is_array() || op["prefixes"].empty()) {
           throw std::invalid_argument("route-add-many needs a non-empty \"prefixes\" list");
         }
         json first = {{"prefix", op["prefixes"][0]}, {"interface", string_field(op, "interface")}};
         if (op.contains("via")) first["via"] = op["via"];
         config::Route r = config::parse_route(a.op_context(), first.dump(), type + ".route");
         const IpFamily family = r.prefix.address.family;
         const auto& prefixes = op["prefixes"];
         next.reserve_routes(prefixes.size());
         for (size_t i = 0; i < prefixes.size(); ++i) {
           if (i != 0) {
             const auto p = prefixes[i].is_string()
                                ? IpPrefix::parse(prefixes[i].get<std::string>())
                                : std::nullopt;
             if (!p || p->address.family != family) {
               throw std::invalid_argument("route-add-many: prefixes[" + std::to_string(i) +
                                           "]: not a prefix of the first one's family");
             }
             r.prefix = *p;
           }
           next.add_route(r, false);
         }
       }},
      {"route-replace", route_set},
      {"route-del",
       [](App&, Model& next, const json& op, const std::string&) {
         const std::string prefix = string_field(op, "prefix");
         auto p = IpPrefix::parse(prefix);
         if (!p) throw std::invalid_argument("route-del: bad prefix " + quote(prefix));
         next.remove_route(*p);
       }},
      {"tunnel-add", tunnel_set},
      {"tunnel-replace", tunnel_set},
      {"tunnel-del",
       [](App&, Model& next, const json& op, const std::string&) {
         const std::string name = string_field(op, "name");
         if (next.tunnels().count(name) == 0) {
           throw std::invalid_argument("no tunnel " + quote(name));
         }
         next.remove_tunnel(name);
       }},
      {"sa-add", sa_set},
      {"sa-replace", sa_set},
      {"sa-del",
       [](App&, Model& next, const json& op, const std::string&) {
         const auto spi = spi_member(op);
         if (!spi) throw std::invalid_argument("sa-del needs a 32-bit numeric \"spi\"");
         next.remove_sa(parse_direction(op), *spi);
       }},
      // Every SA that charon installed (origin ike), or that came over this socket (control).
      {"sa-flush",
       [](App&, Model& next, const json& op, const std::string&) {
         const std::string origin = op.value("origin", "");
         if (origin != "ike" && origin != "control") {
           throw std::invalid_argument("sa-flush: origin must be \"ike\" or \"control\"");
         }
         next.flush_sas(origin == "ike" ? SaOrigin::kIke : SaOrigin::kControl);
       }},
  };
  return table;
}

config::Config App::op_context() const {
  config::Config context;
  context.source = cfg_.source;
  context.dataplane = cfg_.dataplane;
  context.interfaces = cfg_.interfaces;
  return context;
}

json App::apply(const json& ops) {
  std::lock_guard guard(lock_);
  // A flush and re-add (charon's plugin resyncing) makes new SA objects of live SAs: the state
  // they take up is the live one as it is now (docs/sa-state.md).
  if (sa_state_ && std::any_of(ops.begin(), ops.end(), [](const json& op) {
        return op.is_object() && op.value("op", json()) == "sa-flush";
      })) {
    sa_state_->sample(*model_, now_ms());
  }
  Model next = *model_;
  const uint64_t resumed_before = next.resumed();
  for (size_t i = 0; i < ops.size(); ++i) {
    try {
      apply_op(next, ops[i]);
    } catch (const std::exception& e) {
      const json& op = ops[i];
      const std::string type = op.is_object() && op.contains("op") && op["op"].is_string()
                                   ? op["op"].get<std::string>()
                                   : "";
      throw std::invalid_argument("ops[" + std::to_string(i) + "]" +
                                  (change_ops().contains(type) ? " " + type : "") + ": " +
                                  e.what() + " (nothing was changed)");
    }
  }
  std::unique_ptr<Snapshot> snap;
  try {
    snap = next.build(generation_ + 1, now_ms());
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string(e.what()) + " (nothing was changed)");
  }
  const uint64_t resumed = next.resumed() - resumed_before;
  commit(std::move(next), std::move(snap));
  // resumed: SAs of this transaction that took up an earlier state (charon's plugin has no
  // rekey done when all it re-added did).
  json out = {{"generation", generation_}};
  if (resumed != 0) out["resumed"] = resumed;
  return out;
}

void App::commit(Model next, std::unique_ptr<Snapshot> snap) {
  const auto peers_before = model_->peer_active();
  *model_ = std::move(next);
  rt_.tables.publish(std::move(snap), *rt_.rcu);
  ++generation_;
  peer_tracker_.update(*model_, PeerClock::now());
  log_peer_changes(peers_before);
  // Each change copied the Model and built a whole Snapshot; the old ones are gone now. What they
  // held goes back to the system, not only to malloc's free lists: at 100,000 SAs that is
  // hundreds of MiB of small nodes spread over the heap, which would stay resident. At most once
  // a second, as a trim walks the free chunks (milliseconds at that size) and charon installs SAs
  // in bursts.
  if (const uint64_t now = now_ms(); now >= last_trim_ms_ + 1000) {
    malloc_trim(0);
    last_trim_ms_ = now;
  }
}

void App::apply_op(Model& next, const json& op) {
  if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
    throw std::invalid_argument("each op needs an \"op\" string");
  }
  const std::string type = op["op"];
  change_ops().at(type, "op")(*this, next, op, type);
}

// ---- charon's SA requests ----------------------------------------------------------------------

uint32_t App::alloc_spi() {
  std::lock_guard guard(lock_);
  const uint64_t now = now_ms();
  std::erase_if(spi_reserved_, [&](const auto& kv) { return kv.second < now; });
  for (;;) {
    const auto spi = static_cast<uint32_t>(random_.next64());
    if (spi < 0x100 || model_->inbound().count(spi) != 0 || spi_reserved_.count(spi) != 0) {
      continue;
    }
    spi_reserved_[spi] = now + 300000;
    return spi;
  }
}

json App::sa_query(const json& req) {
  std::lock_guard guard(lock_);
  const auto spi = spi_member(req);
  if (!spi) throw std::invalid_argument("sa-query needs a numeric \"spi\"");
  const auto& table =
      parse_direction(req) == esp::Direction::kInbound ? model_->inbound() : model_->outbound();
  auto it = table.find(*spi);
  if (it == table.end()) throw std::invalid_argument("no such SA " + spi_hex(*spi));
  const esp::Sa& sa = *it->second.sa;
  json out = {{"bytes", sa.bytes()}, {"packets", sa.packets()}};
  if (const uint64_t last = sa.last_use_ns(); last != 0) {
    const uint64_t now = dataplane_now_ns();
    out["last_use_s"] = now > last ? (now - last) / 1000000000ull : 0;
  }
  return out;
}

// Not an op of `apply`: the SA's outer header is swapped in the running SA at once, so it cannot
// be part of a transaction that might still fail. Everything is checked before anything changes.
json App::sa_update(const json& req) {
  std::lock_guard guard(lock_);
  const auto spi = spi_member(req);
  if (!spi) throw std::invalid_argument("sa-update needs a numeric \"spi\"");
  const esp::Direction dir = parse_direction(req);
  const auto& table = dir == esp::Direction::kInbound ? model_->inbound() : model_->outbound();
  auto it = table.find(*spi);
  if (it == table.end()) throw std::invalid_argument("no such SA " + spi_hex(*spi));
  const esp::SaParams& cur = it->second.sa->params();
  esp::SaParams next = cur;
  SaLifetime unused;
  json o = json::object();
  for (const char* k : {"local", "remote", "nat_t", "local_port", "remote_port"}) {
    if (req.contains(k)) o[k] = req[k];
  }
  for (const auto& [k, v] : req.items()) {
    if (k != "cmd" && k != "direction" && k != "spi" && !o.contains(k)) {
      throw std::invalid_argument("sa-update: unknown key " + quote(k));
    }
  }
  apply_ike_options(o, next, unused);
  if (next.local.family != next.remote.family) {
    throw std::invalid_argument("sa-update: local and remote addresses differ in family");
  }
  if (next.udp_encap && (next.local_port == 0 || next.remote_port == 0)) {
    throw std::invalid_argument("sa-update: NAT-T port 0");
  }
  // The new remote must be reachable through a port before anything changes (the routes do not
  // change here, so the rebuilt snapshot will find the same next hop).
  const Snapshot& now = *rt_.tables.get();
  const NextHop* nh = next.remote.is_v4() ? now.lookup4(next.remote.v4_host())
                                          : now.lookup6(next.remote.bytes.data());
  if (nh == nullptr || nh->kind != NextHopKind::kPort) {
    throw std::invalid_argument("sa-update: " + next.remote.to_string() +
                                " is not reachable through a port (nothing was changed)");
  }
  Model trial = *model_;
  trial.update_sa(dir, *spi, next.local, next.remote, next.udp_encap, next.local_port,
                  next.remote_port);
  std::unique_ptr<Snapshot> snap = trial.build(generation_ + 1, now_ms());
  *model_ = std::move(trial);
  rt_.tables.publish(std::move(snap), *rt_.rcu);
  ++generation_;
  peer_tracker_.update(*model_, PeerClock::now());
  return {{"generation", generation_}};
}

json App::if_last_use(const json& req) {
  std::lock_guard guard(lock_);
  // Per lane: charon asks per CHILD_SA, and each lane's CHILD_SA has its lane's if_id.
  uint8_t lane = 0;
  const config::Tunnel* t = model_->tunnel_by_if_id(if_id_field(req), &lane);
  if (t == nullptr) throw std::invalid_argument("no tunnel with that if_id");
  const auto& table =
      parse_direction(req) == esp::Direction::kInbound ? model_->inbound() : model_->outbound();
  uint64_t last = 0;
  for (const auto& [spi, rec] : table) {
    if (rec.tunnel == t->name && rec.lane == lane) last = std::max(last, rec.sa->last_use_ns());
  }
  json out = json::object();
  if (last != 0) {
    const uint64_t now = dataplane_now_ns();
    out["last_use_s"] = now > last ? (now - last) / 1000000000ull : 0;
  }
  return out;
}

}  // namespace espgw::dp
