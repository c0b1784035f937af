#include "dataplane/control/app.h"

#include <malloc.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "common/hex.h"
#include "dataplane/esp/static_sa_params.h"

namespace espgw::dp {
namespace {

std::atomic<bool> g_stop{false};
// Telemetry calls back on DPDK's own thread, which outlives App: each callback holds this lock
// while it uses the App, and ~App clears g_app under it before it tears anything down.
std::mutex g_app_lock;
App* g_app = nullptr;

using nlohmann::json;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// At most one acquire event per tunnel in this time: charon ignores an acquire for a trap while
// it negotiates that CHILD_SA anyway, and a flood into a tunnel that is down must not become a
// flood of events. Short enough that an attempt that failed is retried on the next traffic soon
// (XFRM waits for its larval state to expire, net.core.xfrm_acq_expires, 30 s by default).
constexpr uint64_t kAcquireIntervalMs = 1000;

IpAddress address_of(uint8_t family, const uint8_t* bytes) {
  IpAddress a;
  a.family = family == 4 ? IpFamily::kV4 : IpFamily::kV6;
  std::memcpy(a.bytes.data(), bytes, family == 4 ? 4 : 16);
  return a;
}

int worker_main(void* arg) {
  return static_cast<Worker*>(arg)->run();
}

uint64_t seed_from(void* app_random) {
  return static_cast<crypto::IvGenerator*>(app_random)->next64();
}

std::optional<uint32_t> parse_spi(const json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= UINT32_MAX) return static_cast<uint32_t>(v);
    return std::nullopt;
  }
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    try {
      size_t end = 0;
      const unsigned long v = std::stoul(s, &end, 0);
      if (end == s.size() && v <= UINT32_MAX) return static_cast<uint32_t>(v);
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

// A value from a request, for an error message: echoed only when it cannot be key material
// pasted into the wrong field (config's quote() keeps to the same rule).
std::string shown(const std::string& v) {
  size_t hex = 0;
  bool plain = !v.empty() && v.size() <= 40;
  for (char c : v) {
    hex += std::isxdigit(static_cast<unsigned char>(c)) ? 1 : 0;
    plain &= std::isalnum(static_cast<unsigned char>(c)) || (c != 0 && std::strchr("._:/-", c));
  }
  return plain && hex < 16 ? "\"" + v + "\"" : "(value not shown)";
}

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
  if (d == "in" || d == "inbound") return esp::Direction::kInbound;
  if (d == "out" || d == "outbound") return esp::Direction::kOutbound;
  throw std::invalid_argument("direction must be \"in\" or \"out\", got " + shown(d));
}

constexpr const char* kOpTypes[] = {"route-add",  "route-add-many", "route-replace", "route-del",
                                    "tunnel-add", "tunnel-replace", "tunnel-del",    "sa-add",
                                    "sa-replace", "sa-del",         "sa-flush"};

bool is_op_type(const std::string& type) {
  return std::any_of(std::begin(kOpTypes), std::end(kOpTypes),
                     [&](const char* t) { return type == t; });
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
      throw std::invalid_argument("ike: unknown key \"" + k + "\"");
    }
  }
  // A replay window is needed with ESN (RFC 4303 A2); charon sends 0 only when it disabled it.
  if (p.esn && p.replay_window == 0) p.replay_window = 64;
}

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
    spi = parse_spi(json(std::string(params)));
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

App::App(config::Config cfg, Options opts)
    : cfg_(std::move(cfg)), opts_(std::move(opts)), rt_(cfg_.dataplane) {
  if (opts_.control_socket) cfg_.dataplane.control_socket = *opts_.control_socket;
  if (opts_.crypto) cfg_.dataplane.crypto = *opts_.crypto;
  rt_.cfg = cfg_.dataplane;
  std::lock_guard guard(g_app_lock);
  g_app = this;
}

App::~App() {
  {
    std::lock_guard guard(g_app_lock);
    g_app = nullptr;
  }
  rt_.stop.store(true);
  rte_eal_mp_wait_lcore();
  workers_.clear();
  server_.reset();
  neighbours_.reset();
  if (ports_started_) stop_ports(rt_.ports);
  model_.reset();
  for (auto* r : rt_.to_worker)
    rte_ring_free(r);
  rte_ring_free(rt_.to_control);
}

void App::request_stop() noexcept {
  g_stop.store(true);
}

void App::start() {
  const uint32_t workers = cfg_.dataplane.workers;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    lcores_.push_back(lcore);
  }
  if (lcores_.size() < workers) {
    throw std::runtime_error(cfg_.source + ": dataplane.workers is " + std::to_string(workers) +
                             " but EAL gave " + std::to_string(lcores_.size()) +
                             " worker lcores (the main lcore runs the control thread): use -l 0-" +
                             std::to_string(workers));
  }
  lcores_.resize(workers);
  rt_.workers = workers;
  rt_.tsc_hz = rte_get_tsc_hz();
  rt_.rcu = std::make_unique<Rcu>(workers);

  uint16_t max_mtu = 1500;
  for (const auto& i : cfg_.interfaces)
    max_mtu = std::max(max_mtu, i.mtu);
  // Room for the largest frame plus the ESP trailer and ICV written into the tailroom.
  const uint32_t data_room =
      std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, max_frame(max_mtu) + 128) +
      RTE_PKTMBUF_HEADROOM;
  const uint32_t ports = static_cast<uint32_t>(cfg_.interfaces.size());
  uint32_t mbufs = cfg_.dataplane.mbufs;
  if (mbufs == 0) {
    // Each port and exception device fills its RX ring and may hold a TX ring's worth in flight.
    mbufs = ports * 2 * (cfg_.dataplane.rx_ring + cfg_.dataplane.tx_ring) + 4 * kBatchMax + 512;
  }
  for (uint32_t w = 0; w < workers; ++w) {
    const std::string name = "espgw_pool_" + std::to_string(w);
    rte_mempool* mp =
        rte_pktmbuf_pool_create(name.c_str(), mbufs, 256, 0, static_cast<uint16_t>(data_room),
                                static_cast<int>(rte_lcore_to_socket_id(lcores_[w])));
    if (mp == nullptr) {
      throw std::runtime_error("cannot create mbuf pool " + name + " (" + std::to_string(mbufs) +
                               " mbufs of " + std::to_string(data_room) +
                               " bytes): " + rte_strerror(rte_errno) +
                               "; give EAL more memory (-m) or set dataplane.mbufs");
    }
    pools_.push_back(mp);
  }
  control_pool_ = rte_pktmbuf_pool_create("espgw_pool_ctl", 1023, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                          SOCKET_ID_ANY);
  if (control_pool_ == nullptr) {
    throw std::runtime_error(std::string("cannot create the control mbuf pool: ") +
                             rte_strerror(rte_errno));
  }
  rt_.to_control =
      rte_ring_create_elem("espgw_to_ctl", sizeof(ControlMsg), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
  for (uint32_t w = 0; w < workers; ++w) {
    rt_.to_worker.push_back(rte_ring_create_elem(("espgw_to_w" + std::to_string(w)).c_str(),
                                                 sizeof(TxRequest), 1024, SOCKET_ID_ANY,
                                                 RING_F_SP_ENQ | RING_F_SC_DEQ));
  }
  if (rt_.to_control == nullptr ||
      std::count(rt_.to_worker.begin(), rt_.to_worker.end(), nullptr) != 0) {
    throw std::runtime_error(std::string("cannot create the control rings: ") +
                             rte_strerror(rte_errno));
  }

  rt_.ports = start_ports(cfg_, workers, pools_);
  ports_started_ = true;

  std::vector<PortDesc> descs;
  for (const auto& p : rt_.ports)
    descs.push_back({p.name, p.mtu, p.addresses});
  model_ = std::make_unique<Model>(std::move(descs), workers);
  try {
    model_->load(cfg_, seed_from, &random_);
    rt_.tables.publish(model_->build(++generation_, now_ms()), *rt_.rcu);
    peer_tracker_.update(*model_, PeerClock::now());
  } catch (const std::exception& e) {
    throw std::runtime_error(cfg_.source + ": " + e.what());
  }

  neighbours_ = std::make_unique<NeighbourManager>(rt_, control_pool_);
  for (const auto& ifc : cfg_.interfaces) {
    const uint16_t port = rt_.ports[static_cast<size_t>(&ifc - cfg_.interfaces.data())].index;
    for (const auto& n : ifc.neighbours)
      neighbours_->add_static(port, n.address, n.mac);
  }
  neighbours_->publish();

  server_ = std::make_unique<ControlServer>(
      cfg_.dataplane.control_socket,
      [this](const std::string& r, bool* subscribe) { return handle(r, subscribe); });

  for (uint32_t w = 0; w < workers; ++w) {
    workers_.push_back(std::make_unique<Worker>(rt_, w, pools_[w], cfg_.dataplane.crypto));
  }
  std::fprintf(stderr, "espgw: crypto %s\n", workers_[0]->crypto->describe().c_str());
  for (uint32_t w = 0; w < workers; ++w) {
    const int rc = rte_eal_remote_launch(worker_main, workers_[w].get(), lcores_[w]);
    if (rc != 0) {
      throw std::runtime_error("cannot launch worker " + std::to_string(w) + " on lcore " +
                               std::to_string(lcores_[w]) + ": " + rte_strerror(-rc));
    }
  }
  neighbours_->announce();
  register_telemetry();
  started_ns_ = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (const auto& p : rt_.ports) {
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof mac, &p.mac);
    std::fprintf(stderr, "espgw: interface %s: port %u, MAC %s, MTU %u%s%s\n", p.name.c_str(),
                 p.port_id, mac, p.mtu, p.kernel_name.empty() ? "" : ", kernel interface ",
                 p.kernel_name.c_str());
  }
  std::fprintf(stderr, "espgw: %u worker(s) running; control socket %s\n", workers,
               server_->path().c_str());
}

uint64_t App::handled_packets() const {
  uint64_t n = 0;
  for (const auto& w : workers_)
    n += w->counters.packets.get();
  return n;
}

int App::run() {
  std::array<ControlMsg, 64> msgs;
  while (!g_stop.load()) {
    server_->poll(opts_.max_packets ? 1 : 5);
    // Counted before the ring is drained: a worker queues what it asks of this thread (packets to
    // hold, neighbours learned) before it counts the packet, and x86 keeps stores in order, so
    // the drain below sees every message about the packets counted here.
    const bool all_handled = opts_.max_packets != 0 && handled_packets() >= opts_.max_packets;
    {
      std::lock_guard guard(lock_);
      unsigned n;
      while ((n = rte_ring_sc_dequeue_burst_elem(rt_.to_control, msgs.data(), sizeof(ControlMsg),
                                                 msgs.size(), nullptr)) > 0) {
        const uint64_t t = now_ms();
        for (unsigned i = 0; i < n; ++i)
          neighbours_->handle(msgs[i], t);
      }
      neighbours_->tick(now_ms());
    }
    check_lifetimes();
    check_acquires();
    check_peers();
    check_liveness();
    // --max-packets: stop once the packets are handled and the workers have taken what this
    // thread queued for them in return (gratuitous ARPs, ARP requests, released packets); each
    // worker flushes its TX queues on its way out.
    if (all_handled && std::all_of(rt_.to_worker.begin(), rt_.to_worker.end(),
                                   [](rte_ring* r) { return rte_ring_empty(r) != 0; })) {
      break;
    }
  }
  rt_.stop.store(true);
  rte_eal_mp_wait_lcore();
  std::fprintf(stderr, "espgw: stopped after %llu packets\n",
               static_cast<unsigned long long>(handled_packets()));
  if (!opts_.stats_file.empty()) {
    FILE* f = std::fopen(opts_.stats_file.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "espgw: cannot write %s\n", opts_.stats_file.c_str());
      return 1;
    }
    const std::string text = everything().dump(2);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  return 0;
}

json App::everything() {
  return {{"status", status()},
          {"ports", port_counters()},
          {"workers", worker_counters()},
          {"drops", drop_counters()},
          {"sas", sa_list()},
          {"tunnels", tunnel_list()},
          {"routes", route_list()},
          {"neighbours", neighbour_list()},
          {"peers", peer_list()}};
}

std::string App::handle(const std::string& request, bool* subscribe) {
  json resp;
  try {
    const json req = json::parse(request);
    if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      throw std::invalid_argument("request needs a \"cmd\" string");
    }
    const std::string cmd = req["cmd"];
    if (cmd == "status") {
      resp = status();
    } else if (cmd == "all") {
      resp = everything();
    } else if (cmd == "counters") {
      resp = {
          {"ports", port_counters()}, {"workers", worker_counters()}, {"drops", drop_counters()}};
    } else if (cmd == "sas") {
      std::optional<uint32_t> spi;
      if (req.contains("spi")) {
        spi = parse_spi(req["spi"]);
        if (!spi) throw std::invalid_argument("sas: \"spi\" must be a 32-bit number");
      }
      resp = {{"sas", sa_list(spi)}};
    } else if (cmd == "tunnels") {
      resp = {{"tunnels", tunnel_list()}};
    } else if (cmd == "routes") {
      resp = {{"routes", route_list()}};
    } else if (cmd == "neighbours") {
      resp = {{"neighbours", neighbour_list()}};
    } else if (cmd == "peers") {
      resp = {{"peers", peer_list()}};
    } else if (cmd == "apply") {
      if (!req.contains("ops") || !req["ops"].is_array()) {
        throw std::invalid_argument("apply needs an \"ops\" list");
      }
      resp = apply(req["ops"]);
    } else if (cmd == "stop") {
      request_stop();
      resp = json::object();
    } else if (cmd == "spi-alloc") {
      resp = {{"spi", spi_hex(alloc_spi())}};
    } else if (cmd == "sa-query") {
      resp = sa_query(req);
    } else if (cmd == "sa-update") {
      resp = sa_update(req);
    } else if (cmd == "if-last-use") {
      resp = if_last_use(req);
    } else if (cmd == "subscribe") {
      if (subscribe == nullptr) throw std::invalid_argument("subscribe needs a connection");
      *subscribe = true;
      resp = json::object();
    } else if (!is_op_type(cmd)) {
      std::string ops;
      for (const char* t : kOpTypes)
        ops += std::string(", ") + t;
      throw std::invalid_argument("unknown cmd " + shown(cmd) +
                                  " (expected one of: status, all, counters, sas, tunnels, routes, "
                                  "neighbours, peers, apply, stop, spi-alloc, sa-query, sa-update, "
                                  "if-last-use, subscribe" +
                                  ops + ")");
    } else {
      json op = req;
      op["op"] = cmd;
      op.erase("cmd");
      resp = apply(json::array({op}));
    }
    resp["ok"] = true;
  } catch (const json::parse_error& e) {
    // nlohmann's message ends with the last token read, which may be part of a key: say where
    // only.
    resp = {{"ok", false},
            {"error", "bad request: not valid JSON (syntax error at byte " +
                          std::to_string(std::min(e.byte, request.size())) + " of " +
                          std::to_string(request.size()) + ")"}};
  } catch (const json::exception& e) {
    resp = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  } catch (const std::exception& e) {
    resp = {{"ok", false}, {"error", e.what()}};
  }
  // An error may quote a value cut at a byte limit inside a UTF-8 sequence: replace such bytes
  // rather than throw out of the control loop (which would end espgw).
  std::string out = resp.dump(-1, ' ', false, json::error_handler_t::replace);
  // A bulk load (a request of megabytes) leaves its parse tree's memory free but resident in the
  // heap: handed back, resident memory is what the tables hold.
  if (request.size() >= (size_t{1} << 20)) malloc_trim(0);
  return out;
}

json App::apply(const json& ops) {
  std::lock_guard guard(lock_);
  Model next = *model_;
  for (size_t i = 0; i < ops.size(); ++i) {
    try {
      apply_op(next, ops[i]);
    } catch (const std::exception& e) {
      const json& op = ops[i];
      const std::string type = op.is_object() && op.contains("op") && op["op"].is_string()
                                   ? op["op"].get<std::string>()
                                   : "";
      throw std::invalid_argument("ops[" + std::to_string(i) + "]" +
                                  (is_op_type(type) ? " " + type : "") + ": " + e.what() +
                                  " (nothing was changed)");
    }
  }
  std::unique_ptr<Snapshot> snap;
  try {
    snap = next.build(generation_ + 1, now_ms());
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string(e.what()) + " (nothing was changed)");
  }
  const auto peers_before = model_->peer_active();
  *model_ = std::move(next);
  rt_.tables.publish(std::move(snap), *rt_.rcu);
  ++generation_;
  peer_tracker_.update(*model_, PeerClock::now());
  log_peer_changes(peers_before);
  return {{"generation", generation_}};
}

void App::apply_op(Model& next, const json& op) {
  if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
    throw std::invalid_argument("each op needs an \"op\" string");
  }
  const std::string type = op["op"];
  const bool replace = type.ends_with("-replace");
  // Objects are checked against the routes as they are now, with the earlier ops of this
  // transaction applied, not against the config file espgw started with.
  config::Config context;
  context.source = cfg_.source;
  context.dataplane = cfg_.dataplane;
  context.interfaces = cfg_.interfaces;
  // A route is checked against the interfaces only; a tunnel needs the routes (a route to its
  // peer), so only tunnel ops copy them (a copy per op made a million route-adds quadratic).
  if (type == "route-add" || type == "route-replace") {
    if (!op.contains("route")) throw std::invalid_argument(type + " needs \"route\"");
    next.add_route(config::parse_route(context, op["route"].dump(), type + ".route"), replace);
  } else if (type == "route-add-many") {
    // Many prefixes to one next hop: the first is checked as a route-add would be (interface,
    // next hop, families); the others need only parse as prefixes of the same family. A YAML
    // parse per route was most of the time of a million route-adds.
    if (!op.contains("prefixes") || !op["prefixes"].is_array() || op["prefixes"].empty()) {
      throw std::invalid_argument("route-add-many needs a non-empty \"prefixes\" list");
    }
    json first = {{"prefix", op["prefixes"][0]}, {"interface", string_field(op, "interface")}};
    if (op.contains("via")) first["via"] = op["via"];
    config::Route r = config::parse_route(context, first.dump(), type + ".route");
    const IpFamily family = r.prefix.address.family;
    const auto& prefixes = op["prefixes"];
    next.reserve_routes(prefixes.size());
    for (size_t i = 0; i < prefixes.size(); ++i) {
      if (i != 0) {
        const auto p = prefixes[i].is_string() ? IpPrefix::parse(prefixes[i].get<std::string>())
                                               : std::nullopt;
        if (!p || p->address.family != family) {
          throw std::invalid_argument("route-add-many: prefixes[" + std::to_string(i) +
                                      "]: not a prefix of the first one's family");
        }
        r.prefix = *p;
      }
      next.add_route(r, false);
    }
  } else if (type == "route-del") {
    const std::string prefix = string_field(op, "prefix");
    auto p = IpPrefix::parse(prefix);
    if (!p) throw std::invalid_argument("route-del: bad prefix " + shown(prefix));
    next.remove_route(*p);
  } else if (type == "tunnel-add" || type == "tunnel-replace") {
    if (!op.contains("tunnel")) throw std::invalid_argument(type + " needs \"tunnel\"");
    context.routes = next.routes();
    const config::Tunnel t = config::parse_tunnel(context, op["tunnel"].dump(), type + ".tunnel");
    next.add_tunnel(t, replace);
    if (t.static_sa) {
      next.add_sa(t.name, esp::static_sa_params(t, t.static_sa->inbound, esp::Direction::kInbound),
                  random_.next64(), replace);
      next.add_sa(t.name, esp::static_sa_params(t, t.static_sa->outbound, esp::Direction::kOutbound),
                  random_.next64(), replace);
    }
  } else if (type == "tunnel-del") {
    const std::string name = string_field(op, "name");
    if (next.tunnels().count(name) == 0) throw std::invalid_argument("no tunnel " + shown(name));
    next.remove_tunnel(name);
  } else if (type == "sa-add" || type == "sa-replace") {
    std::string tunnel;
    if (op.contains("if_id")) {
      const uint32_t if_id = if_id_field(op);
      const config::Tunnel* byid = next.tunnel_by_if_id(if_id);
      if (byid == nullptr)
        throw std::invalid_argument("no tunnel with if_id " + std::to_string(if_id));
      tunnel = byid->name;
    } else {
      tunnel = string_field(op, "tunnel");
    }
    auto t = next.tunnels().find(tunnel);
    if (t == next.tunnels().end()) throw std::invalid_argument("no tunnel " + shown(tunnel));
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
    next.add_sa(tunnel, params, random_.next64(), replace, origin, life);
    if (dir == esp::Direction::kInbound) spi_reserved_.erase(sa.spi);
  } else if (type == "sa-flush") {
    const std::string origin = op.value("origin", "");
    if (origin != "ike" && origin != "control") {
      throw std::invalid_argument("sa-flush: origin must be \"ike\" or \"control\"");
    }
    next.flush_sas(origin == "ike" ? SaOrigin::kIke : SaOrigin::kControl);
  } else if (type == "sa-del") {
    const auto spi = parse_spi(op.value("spi", json()));
    if (!spi) throw std::invalid_argument("sa-del needs a 32-bit numeric \"spi\"");
    next.remove_sa(parse_direction(op), *spi);
  } else {
    std::string known;
    for (const char* t : kOpTypes)
      known += std::string(known.empty() ? "" : ", ") + t;
    throw std::invalid_argument("unknown op " + shown(type) + " (expected one of: " + known + ")");
  }
}

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

uint64_t App::dataplane_now_ns() const {
  const uint64_t tsc = rte_rdtsc();
  return tsc / rt_.tsc_hz * 1000000000ull + (tsc % rt_.tsc_hz) * 1000000000ull / rt_.tsc_hz;
}

json App::sa_query(const json& req) {
  std::lock_guard guard(lock_);
  const auto spi = parse_spi(req.value("spi", json()));
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
  const auto spi = parse_spi(req.value("spi", json()));
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
      throw std::invalid_argument("sa-update: unknown key \"" + k + "\"");
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
  const config::Tunnel* t = model_->tunnel_by_if_id(if_id_field(req));
  if (t == nullptr) throw std::invalid_argument("no tunnel with that if_id");
  const auto& table =
      parse_direction(req) == esp::Direction::kInbound ? model_->inbound() : model_->outbound();
  uint64_t last = 0;
  for (const auto& [spi, rec] : table) {
    if (rec.tunnel == t->name) last = std::max(last, rec.sa->last_use_ns());
  }
  json out = json::object();
  if (last != 0) {
    const uint64_t now = dataplane_now_ns();
    out["last_use_s"] = now > last ? (now - last) / 1000000000ull : 0;
  }
  return out;
}

void App::check_lifetimes() {
  const uint64_t now = now_ms();
  if (now < next_lifetime_check_ms_) return;
  next_lifetime_check_ms_ = now + 100;
  std::vector<json> events;
  {
    std::lock_guard guard(lock_);
    for (const auto* table : {&model_->inbound(), &model_->outbound()}) {
      const bool inbound = table == &model_->inbound();
      for (const auto& entry : *table) {
        // Named, not a structured binding: clang 14 cannot capture bindings in the lambdas below.
        const uint32_t spi = entry.first;
        const SaRecord& rec = entry.second;
        const SaLifetime& l = rec.lifetime;
        if (!l.any()) continue;
        const uint64_t bytes = rec.sa->bytes();
        const uint64_t packets = rec.sa->packets();
        auto past = [&](uint64_t b, uint64_t p) {
          return (b != 0 && bytes >= b) || (p != 0 && packets >= p);
        };
        auto event = [&](bool hard) {
          const auto& p = rec.sa->params();
          return json{{"event", "expire"},
                      {"direction", inbound ? "in" : "out"},
                      {"spi", spi_hex(spi)},
                      {"hard", hard},
                      {"local", p.local.to_string()},
                      {"remote", p.remote.to_string()},
                      {"tunnel", rec.tunnel}};
        };
        if (!rec.expired->first && past(l.soft_bytes, l.soft_packets)) {
          rec.expired->first = true;
          events.push_back(event(false));
        }
        if (!rec.expired->second && past(l.hard_bytes, l.hard_packets)) {
          rec.expired->second = true;
          rec.sa->stop();
          events.push_back(event(true));
        }
      }
    }
  }
  for (const auto& e : events) {
    std::fprintf(stderr, "espgw: SA %s %s reached its %s lifetime\n",
                 e["spi"].get<std::string>().c_str(), e["direction"].get<std::string>().c_str(),
                 e["hard"].get<bool>() ? "hard" : "soft");
    server_->broadcast(e.dump());
  }
}

void App::check_acquires() {
  std::vector<AcquireSignal> signals;
  for (const auto& w : workers_)
    w->acquire.drain([&](const AcquireSignal& a) { signals.push_back(a); });
  if (signals.empty()) return;
  std::vector<json> events;
  const uint64_t now = now_ms();
  {
    std::lock_guard guard(lock_);
    const Snapshot* s = rt_.tables.get();
    for (const AcquireSignal& a : signals) {
      // The tunnel as it stands now: it may have gone, lost its ike: section or come up since
      // the worker posted.
      const auto t = std::find_if(s->tunnels.begin(), s->tunnels.end(),
                                  [&](const auto& te) { return te.acquire_if_id == a.if_id; });
      if (t == s->tunnels.end() || t->outbound != nullptr) continue;
      AcquireState& st = acquires_[t->name];
      if (st.sent != 0 && now < st.last_ms + kAcquireIntervalMs) continue;
      st.last_ms = now;
      ++st.sent;
      events.push_back({{"event", "acquire"},
                        {"tunnel", t->name},
                        {"if_id", a.if_id},
                        {"src", address_of(a.family, a.src).to_string()},
                        {"dst", address_of(a.family, a.dst).to_string()}});
    }
    std::erase_if(acquires_,
                  [&](const auto& kv) { return model_->tunnels().count(kv.first) == 0; });
  }
  for (const auto& e : events) {
    std::fprintf(stderr, "espgw: tunnel %s: traffic from %s to %s and no SA: acquire\n",
                 e["tunnel"].get<std::string>().c_str(), e["src"].get<std::string>().c_str(),
                 e["dst"].get<std::string>().c_str());
    server_->broadcast(e.dump());
  }
}

void App::check_liveness() {
  const uint64_t now = now_ms();
  if (now < next_liveness_check_ms_) return;
  next_liveness_check_ms_ = now + 100;
  std::vector<json> events;
  {
    std::lock_guard guard(lock_);
    events = liveness_.check(*model_, dataplane_now_ns(), now);
  }
  for (const auto& e : events)
    server_->broadcast(e.dump());
}

void App::check_peers() {
  const uint64_t now = now_ms();
  if (now < next_peer_check_ms_) return;
  next_peer_check_ms_ = now + 50;
  std::lock_guard guard(lock_);
  if (!model_->peer_choice_due(now)) return;
  const auto before = model_->peer_active();
  try {
    rt_.tables.publish(model_->build(generation_ + 1, now), *rt_.rcu);
  } catch (const std::exception& e) {
    // The same model built a moment ago: not expected; try again in a second.
    std::fprintf(stderr, "espgw: cannot rebuild the tables for a peer's tunnel: %s\n", e.what());
    next_peer_check_ms_ = now + 1000;
    return;
  }
  ++generation_;
  peer_tracker_.update(*model_, PeerClock::now());
  log_peer_changes(before);
}

void App::log_peer_changes(const std::map<std::string, std::string>& before) const {
  for (const auto& [peer, tunnel] : model_->peer_active()) {
    const auto was = before.find(peer);
    if (was == before.end() || was->second == tunnel) continue;
    std::fprintf(stderr, "espgw: peer %s: traffic goes into tunnel %s (was %s)\n", peer.c_str(),
                 tunnel.c_str(), was->second.c_str());
  }
}

json App::status() {
  std::lock_guard guard(lock_);
  json ports = json::array();
  for (const auto& p : rt_.ports)
    ports.push_back(p.name);
  return {{"version", "0.1.0"},
          {"workers", rt_.workers},
          {"crypto", workers_.empty() ? "" : workers_[0]->crypto->describe()},
          {"interfaces", ports},
          {"generation", generation_},
          {"tunnels", model_->tunnels().size()},
          {"inbound_sas", model_->inbound().size()},
          {"outbound_sas", model_->outbound().size()},
          {"packets", handled_packets()}};
}

json App::port_counters() {
  json out = json::object();
  for (const auto& p : rt_.ports) {
    uint64_t v[6] = {};
    for (const auto& w : workers_) {
      const PortCounters& c = w->port_counters[p.index];
      v[0] += c.rx_packets.get();
      v[1] += c.rx_bytes.get();
      v[2] += c.tx_packets.get();
      v[3] += c.tx_bytes.get();
      v[4] += c.to_kernel.get();
      v[5] += c.from_kernel.get();
    }
    rte_eth_stats st{};
    rte_eth_stats_get(p.port_id, &st);
    out[p.name] = {{"rx_packets", v[0]},          {"rx_bytes", v[1]},
                   {"tx_packets", v[2]},          {"tx_bytes", v[3]},
                   {"to_kernel", v[4]},           {"from_kernel", v[5]},
                   {"nic_rx_missed", st.imissed}, {"nic_rx_errors", st.ierrors},
                   {"nic_tx_errors", st.oerrors}};
  }
  return out;
}

json App::worker_counters() {
  json out = json::object();
  for (const auto& w : workers_) {
    const WorkerCounters& c = w->counters;
    const uint64_t total = c.total_tsc.get();
    out[std::to_string(w->index)] = {{"lcore", lcores_[w->index]},
                                     {"loops", c.loops.get()},
                                     {"busy_loops", c.busy_loops.get()},
                                     {"busy_percent", total ? c.busy_tsc.get() * 100 / total : 0},
                                     {"busy_tsc", c.busy_tsc.get()},
                                     {"total_tsc", total},
                                     {"tsc_hz", rt_.tsc_hz},
                                     {"packets", c.packets.get()},
                                     {"icmp_sent", c.icmp_sent.get()},
                                     {"icmp_suppressed", c.icmp_suppressed.get()},
                                     {"fragments", c.fragments.get()},
                                     {"mss_clamped", c.mss_clamped.get()},
                                     {"arp_nd_replies", c.arp_replies.get()},
                                     {"held_for_neighbour", c.held.get()},
                                     {"esn_resyncs", w->engine.esn_resyncs()}};
  }
  return out;
}

json App::drop_counters() {
  std::lock_guard guard(lock_);
  json out = json::object();
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    const auto reason = static_cast<DropReason>(r);
    uint64_t n = neighbours_ ? neighbours_->drops()[reason] : 0;
    for (const auto& w : workers_)
      n += w->drops[reason] + w->engine.drops()[reason];
    out[std::string(drop_reason_name(reason))] = n;
  }
  return out;
}

json App::sa_list(std::optional<uint32_t> only_spi) {
  std::lock_guard guard(lock_);
  json out = json::array();
  auto add = [&](const SaRecord& rec, bool inbound) {
    const esp::Sa& sa = *rec.sa;
    if (only_spi && *only_spi != sa.spi()) return;
    json drops = json::object();
    for (size_t r = 1; r < kDropReasonCount; ++r) {
      const uint64_t n = sa.drops(static_cast<DropReason>(r));
      if (n) drops[std::string(drop_reason_name(static_cast<DropReason>(r)))] = n;
    }
    const auto& p = sa.params();
    json j = {{"spi", spi_hex(sa.spi())},
              {"direction", inbound ? "in" : "out"},
              {"tunnel", rec.tunnel},
              {"origin", rec.origin == SaOrigin::kIke      ? "ike"
                         : rec.origin == SaOrigin::kConfig ? "config"
                                                           : "control"},
              {"algorithm", sa.algorithm().name()},
              {"esn", p.esn},
              {"nat_t", p.udp_encap},
              {"local", p.local.to_string()},
              {"remote", p.remote.to_string()},
              {"packets", sa.packets()},
              {"bytes", sa.bytes()},
              {"last_use_ns", sa.last_use_ns()},
              {"drops", drops}};
    if (p.udp_encap) {  // NAT-T ports: a NAT mapping change moves them (sa-update)
      j["local_port"] = p.local_port;
      j["remote_port"] = p.remote_port;
    }
    if (inbound) {
      j["replay_window"] = sa.replay().size();
      j["highest_seq"] = sa.replay().top();
    } else {
      j["next_seq"] = sa.next_seq();
      j["stopped"] = sa.stopped();
      auto a = model_->active_outbound().find(rec.tunnel);
      j["in_use"] = a != model_->active_outbound().end() && a->second == sa.spi();
      j.update(peer_sa_members(*model_, rec.tunnel));
    }
    out.push_back(std::move(j));
  };
  for (const auto& [spi, rec] : model_->inbound())
    add(rec, true);
  for (const auto& [spi, rec] : model_->outbound())
    add(rec, false);
  return out;
}

uint64_t App::acquire_count(const std::string& tunnel) const {
  const auto it = acquires_.find(tunnel);
  return it == acquires_.end() ? 0 : it->second.sent;
}

json App::tunnel_list() {
  std::lock_guard guard(lock_);
  json out = json::array();
  const Snapshot* s = rt_.tables.get();
  for (const auto& te : s->tunnels) {
    json lc = json::array();
    json rc = json::array();
    for (const auto& c : te.local_cidrs)
      lc.push_back(c.to_string());
    for (const auto& c : te.remote_cidrs)
      rc.push_back(c.to_string());
    out.push_back({{"name", te.name},
                   {"local", te.local.to_string()},
                   {"remote", te.remote.to_string()},
                   {"egress", rt_.ports[te.egress_port].name},
                   {"inner_mtu", te.inner_mtu},
                   {"mss", te.mss4},
                   {"outbound_spi", te.outbound ? spi_hex(te.outbound->spi()) : ""},
                   {"acquires", acquire_count(te.name)},
                   {"liveness_checks", liveness_.sent(te.name)},
                   {"local_cidrs", lc},
                   {"remote_cidrs", rc}});
  }
  return out;
}

json App::route_list() {
  std::lock_guard guard(lock_);
  json out = json::array();
  for (const auto& p : model_->ports()) {
    for (const auto& a : p.addresses) {
      out.push_back({{"prefix", a.to_string()}, {"interface", p.name}, {"origin", "connected"}});
    }
  }
  for (const auto& r : model_->routes()) {
    json j = {{"prefix", r.prefix.to_string()}, {"interface", r.interface}, {"origin", "static"}};
    if (r.via) j["via"] = r.via->to_string();
    out.push_back(j);
  }
  for (const auto& [name, t] : model_->tunnels()) {
    for (const auto& c : t.remote_cidrs) {
      json j = {{"prefix", c.to_string()}, {"tunnel", name}, {"origin", "tunnel"}};
      j.update(peer_route_members(*model_, name));
      out.push_back(std::move(j));
    }
  }
  return out;
}

json App::neighbour_list() {
  std::lock_guard guard(lock_);
  json out = json::array();
  for (const auto& n : neighbours_->list()) {
    out.push_back({{"address", n.ip.to_string()},
                   {"interface", n.port < rt_.ports.size() ? rt_.ports[n.port].name : ""},
                   {"mac", config::mac_to_string(n.mac)},
                   {"state", n.state}});
  }
  return out;
}

json App::peer_list() {
  std::lock_guard guard(lock_);
  return peer_tracker_.report(*model_, PeerClock::now());
}

void App::register_telemetry() {
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
