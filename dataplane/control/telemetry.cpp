#include "dataplane/control/telemetry.h"

#include <rte_telemetry.h>

#include <cerrno>
#include <mutex>
#include <optional>

#include "dataplane/control/app.h"
#include "protocol/messages.h"

namespace espgw::dp {
namespace {

// Telemetry calls back on DPDK's own thread, which outlives App: each callback holds this lock
// while it uses the App, and ~App clears g_app under it before it tears anything down.
std::mutex g_app_lock;
App* g_app = nullptr;

using nlohmann::json;

// DPDK telemetry: a dict of scalars, one level of containers below it.
void add_scalars(rte_tel_data* d, const json& obj) {
  for (const auto& [k, v] : obj.items()) {
    const std::string name = k.substr(0, RTE_TEL_MAX_STRING_LEN - 1);
    if (v.is_number_unsigned() || v.is_number_integer()) {
      rte_tel_data_add_dict_u64(d, name.c_str(), v.get<uint64_t>());
    } else if (v.is_boolean()) {
      rte_tel_data_add_dict_u64(d, name.c_str(), v.get<bool>() ? 1 : 0);
    } else if (v.is_string()) {
      rte_tel_data_add_dict_string(
          d, name.c_str(), v.get<std::string>().substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
    }
  }
}

void to_telemetry(rte_tel_data* d, const json& obj) {
  rte_tel_data_start_dict(d);
  add_scalars(d, obj);
  for (const auto& [k, v] : obj.items()) {
    if (!v.is_object()) continue;
    rte_tel_data* child = rte_tel_data_alloc();
    if (child == nullptr) continue;
    rte_tel_data_start_dict(child);
    add_scalars(child, v);
    rte_tel_data_add_dict_container(d, k.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str(), child, 0);
  }
}

// Runs report(App&) -> json under g_app_lock; no exception may reach DPDK's C code.
template <class Fn>
int with_app(rte_tel_data* d, Fn&& report) {
  std::lock_guard guard(g_app_lock);
  if (g_app == nullptr) return -ENODEV;
  try {
    to_telemetry(d, report(*g_app));
  } catch (const std::exception&) {
    return -ENOMEM;
  }
  return 0;
}

int tel_ports(const char*, const char*, rte_tel_data* d) {
  return with_app(d, [](App& app) { return app.port_counters(); });
}
int tel_workers(const char*, const char*, rte_tel_data* d) {
  return with_app(d, [](App& app) { return app.worker_counters(); });
}
int tel_drops(const char*, const char*, rte_tel_data* d) {
  return with_app(d, [](App& app) { return app.drop_counters(); });
}
int tel_sas(const char*, const char* params, rte_tel_data* d) {
  std::optional<uint32_t> spi;
  if (params != nullptr && *params != '\0') {
    spi = protocol::spi_from_json(json(std::string(params)));
    if (!spi) return -EINVAL;
  }
  return with_app(d, [&](App& app) {
    json out = json::object();
    for (const auto& sa : app.sa_list(spi)) {
      json flat = sa;
      for (const auto& [reason, n] : sa["drops"].items())
        flat["drop_" + reason] = n;
      flat.erase("drops");
      out[sa["direction"].get<std::string>() + "_" + sa["spi"].get<std::string>()] = flat;
    }
    return out;
  });
}
int tel_tunnels(const char*, const char*, rte_tel_data* d) {
  return with_app(d, [](App& app) {
    json out = json::object();
    for (const auto& t : app.tunnel_list()) {
      json flat = t;
      flat.erase("local_cidrs");
      flat.erase("remote_cidrs");
      out[t["name"].get<std::string>()] = flat;
    }
    return out;
  });
}
int tel_peers(const char*, const char*, rte_tel_data* d) {
  return with_app(d, [](App& app) { return peers_for_telemetry(app.peer_list()); });
}

}  // namespace

void telemetry_attach(App* app) {
  std::lock_guard guard(g_app_lock);
  g_app = app;
}

void telemetry_detach() {
  std::lock_guard guard(g_app_lock);
  g_app = nullptr;
}

void register_telemetry() {
  rte_telemetry_register_cmd("/espgw/ports", tel_ports, "Per-port packet and byte counters");
  rte_telemetry_register_cmd("/espgw/workers", tel_workers, "Per-worker counters and busy ratio");
  rte_telemetry_register_cmd("/espgw/drops", tel_drops, "Drops by reason, all workers");
  rte_telemetry_register_cmd("/espgw/sas", tel_sas,
                             "Per-SA counters. Parameters: SPI (optional, e.g. 0x1000)");
  rte_telemetry_register_cmd("/espgw/tunnels", tel_tunnels, "Tunnels, their MTU and SA in use");
  rte_telemetry_register_cmd("/espgw/peers", tel_peers,
                             "Peers: the tunnel in use, since when, moves, each tunnel up or down");
}

}  // namespace espgw::dp
