#pragma once
// espgw's process, one class over several files, each named for what it holds:
//   startup.cpp       start-up and teardown: mbuf pools, rings, ports, tables, workers
//   control_loop.cpp  the control thread's loop: control socket, neighbour resolution, stop
//   ops.cpp           the control socket's commands and the ops of a transaction, as tables
//   sa_lifecycle.cpp  SA lifetimes, acquires, peers' failback checks, liveness checks, lanes
//   sa_state_loop.cpp the SA state file (sa_state.h): loaded at start, written every interval
//   reports.cpp       the reports (status, counters, SAs, tunnels, routes, ...) for the control
//                     socket and DPDK telemetry (telemetry.cpp)

#include <rte_mempool.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/control/fpm_listener.h"
#include "dataplane/control/inside_interfaces.h"
#include "dataplane/control/lane_watch.h"
#include "dataplane/control/liveness.h"
#include "dataplane/control/neighbour_manager.h"
#include "dataplane/control/peer_state.h"
#include "dataplane/control/sa_state.h"
#include "dataplane/crypto/iv_generator.h"
#include "dataplane/tables/model.h"
#include "dataplane/worker/runtime.h"
#include "dataplane/worker/worker.h"
#include "protocol/commands.h"
#include "protocol/line_server.h"

namespace espgw::dp {

struct Options {
  std::string config_path;
  std::optional<std::string> control_socket;
  std::optional<crypto::BackendKind> crypto;
  uint64_t max_packets = 0;  // stop once the workers have handled this many (tests)
  std::string stats_file;    // at exit, every counter as JSON (tests)
};

class App {
 public:
  App(config::Config cfg, Options opts);
  ~App();

  // Everything that can fail at start fails here, with the reason (std::exception).
  void start();  // startup.cpp
  // The control loop; returns the exit code.
  int run();  // control_loop.cpp
  static void request_stop() noexcept;

  // One control-socket request (a JSON line) to one response (a JSON line): control_loop.cpp,
  // through the table of commands (ops.cpp).
  std::string handle(const std::string& request, bool* subscribe = nullptr);

  // Reports, shared by the control socket and telemetry (reports.cpp).
  nlohmann::json status();
  nlohmann::json port_counters();
  nlohmann::json worker_counters();
  nlohmann::json drop_counters();
  nlohmann::json sa_list(std::optional<uint32_t> only_spi = std::nullopt, bool with_state = false);
  nlohmann::json tunnel_list();
  nlohmann::json route_list();
  nlohmann::json neighbour_list();
  nlohmann::json neighbour_counters();  // the control thread's ARP and ND: requests, resolved
  nlohmann::json peer_list();           // the tunnel in use of each peer (PeerTracker)
  nlohmann::json everything();          // all of the above

 private:
  // startup.cpp: start() in its steps.
  void take_lcores(uint32_t workers);
  void create_pools(uint32_t workers);
  void create_rings(uint32_t workers);
  void load_tables(uint32_t workers);  // the Model from the config, its first snapshot
  void start_neighbours();             // the static neighbours, published
  void start_fpm();                    // routing.fpm: the FPM listener (fpm.cpp)
  void start_inside();                 // the inside interfaces of route-based tunnels
  void launch_workers(uint32_t workers);
  void log_started(uint32_t workers) const;

  // ops.cpp: the commands, from name to handler, and the ops of a transaction (`apply`, or
  // one op as a command of its own), from type to handler.
  struct Request {
    const nlohmann::json& body;  // the request, an object with a "cmd" string
    bool* subscribe;             // set: the connection becomes an event stream
  };
  using Commands = protocol::Table<nlohmann::json (*)(App&, const Request&)>;
  using ChangeOps = protocol::Table<void (*)(App&, Model& next, const nlohmann::json& op,
                                             const std::string& type)>;
  static const Commands& commands();
  static const ChangeOps& change_ops();
  nlohmann::json apply(const nlohmann::json& ops);
  // A changed copy of the Model and the snapshot built from it take over (under lock_): the
  // tables published, the generation counted, the peers' tunnel choices followed and logged.
  void commit(Model next, std::unique_ptr<Snapshot> snap);
  void apply_op(Model& next, const nlohmann::json& op);
  // The config that an op's object is checked against: the interfaces and dataplane settings
  // espgw runs with (a tunnel op adds the routes as they are then).
  config::Config op_context() const;
  uint32_t alloc_spi();
  nlohmann::json sa_query(const nlohmann::json& req);
  nlohmann::json sa_update(const nlohmann::json& req);
  nlohmann::json if_last_use(const nlohmann::json& req);

  // sa_lifecycle.cpp
  // Byte and packet lifetimes, checked from the control loop; sends expire events.
  void check_lifetimes();
  // Traffic into IKE tunnels without an SA, from the workers' mailboxes: sends acquire events,
  // at most one per tunnel per kAcquireIntervalMs.
  void check_acquires();
  uint64_t acquire_count(const std::string& tunnel) const;  // lock_ held
  // A peer's choice of tunnel that changes with time alone (a failback hold that ended, the peer
  // sending under a new tunnel's SAs): rebuilds and publishes the tables (Model::peer_choice_due).
  void check_peers();
  void log_peer_changes(const std::map<std::string, std::string>& before) const;
  // Tunnels that send but hear nothing: "liveness" events, so charon checks the peer at once
  // (dataplane/control/liveness.h).
  void check_liveness();
  // Lanes that hear nothing, or are heard again: their buckets move (dataplane/control/
  // lane_watch.h), and the tables are published.
  void check_lanes();
  // Builds and publishes the tables from the Model as it is (generation + 1); false, logged, when
  // the build fails. Under lock_.
  bool republish(const char* what, uint64_t now);
  // Route-based tunnels' inside interfaces (inside_interfaces.h): follows the tunnels after a
  // change (a new generation), moves the packets both ways. Once a loop turn.
  void check_inside();
  // control_loop.cpp: the exception taps' kernel interfaces, every kKernelCheckMs. One set down
  // refuses what the workers hand it (exception_down, worker.cpp); logged when it goes and when
  // it comes back, and once up again dressed as at start (redress_kernel_interface): the kernel
  // dropped its routes and IPv6 addresses. espgw never sets it up itself: whoever set it down
  // decides.
  void check_kernel_interfaces();
  nlohmann::json kernel_interface_status() const;  // lock_ held (reports.cpp)
  // sa_state.cpp's file (docs/sa-state.md): loaded before the config's SAs are made; the SAs'
  // state sampled and written every sa_state_interval_ms, and once more at stop. A failed write
  // is logged when it starts failing and when it works again.
  void start_sa_state();
  void remember_neighbours();  // the state file's neighbours, on their interfaces
  void check_sa_state(bool now);
  nlohmann::json sa_state_status() const;                                  // lock_ held
  nlohmann::json control_socket_status() const;                            // reports.cpp
  void add_inside(nlohmann::json& tunnel, const std::string& name) const;  // reports.cpp, lock_
  // fpm.cpp: zebra's routes. Once a loop turn: what the FPM connection brought, as one
  // transaction; the grace period and the stale sweep.
  void check_fpm();
  void wait_for_events(int timeout_ms);  // control_loop.cpp
  void follow_inside_ifindex();          // lock_ held
  nlohmann::json fpm_status() const;     // lock_ held
  // Now on the clock the workers stamp SAs with (TSC based), in ns.
  uint64_t dataplane_now_ns() const;

  // control_loop.cpp
  static uint64_t now_ms();  // the control thread's clock (steady)
  uint64_t handled_packets() const;

  config::Config cfg_;
  Options opts_;
  Runtime rt_;
  std::vector<rte_mempool*> pools_;
  rte_mempool* control_pool_ = nullptr;
  std::unique_ptr<Model> model_;
  uint64_t generation_ = 0;
  uint64_t last_trim_ms_ = 0;  // commit()'s last malloc_trim
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> lcores_;
  std::unique_ptr<NeighbourManager> neighbours_;
  std::unique_ptr<protocol::LineServer> server_;
  crypto::IvGenerator random_;
  std::mutex lock_;  // the model and publishing, against telemetry's thread
  bool ports_started_ = false;
  std::map<uint32_t, uint64_t> spi_reserved_;
  uint64_t next_lifetime_check_ms_ = 0;  // handed out by spi-alloc: SPI -> until (ms)
  uint64_t next_peer_check_ms_ = 0;
  PeerTracker peer_tracker_;  // updated after every published build, under lock_
  struct AcquireState {
    uint64_t last_ms = 0;  // last event sent
    uint64_t sent = 0;     // events sent (the tunnel's `acquires` counter)
  };
  std::map<std::string, AcquireState> acquires_;  // by tunnel name
  LivenessWatch liveness_;                        // lock_ held
  uint64_t next_liveness_check_ms_ = 0;
  LaneWatch lane_watch_{0};  // lock_ held
  uint64_t next_lane_check_ms_ = 0;
  uint64_t started_ns_ = 0;
  std::unique_ptr<FpmListener> fpm_;  // null without routing.fpm
  std::unique_ptr<FpmGrace> fpm_grace_;
  std::vector<routing::RouteEvent> fpm_events_;  // one turn's
  std::vector<pollfd> pollset_;                  // wait_for_events()'s, with the FPM sockets
  uint64_t fpm_ifindex_generation_ = ~uint64_t{0};
  struct FpmApplyCounters {
    uint64_t transactions = 0;
    uint64_t transactions_failed = 0;  // the build refused the turn's changes (logged)
    uint64_t events_applied = 0;
    uint64_t routes_unresolved = 0;     // an add none of whose next hops resolved: not installed
    uint64_t next_hops_unresolved = 0;  // next hops of adds that did not resolve
    uint64_t swept_stale = 0;           // routes a reconnect's dump did not name again
    uint64_t cleared_after_grace = 0;   // routes removed when the grace period ended
  };
  FpmApplyCounters fpm_counters_;
  std::unique_ptr<SaStateFile> sa_state_;  // null: sa_state_interval_ms 0; lock_ held
  uint64_t next_sa_state_ms_ = 0;
  std::string sa_state_error_;                // the last write's error, "" when it worked
  std::unique_ptr<InsideInterfaces> inside_;  // lock_ held
  uint64_t inside_generation_ = 0;            // the generation inside_ last followed

  struct KernelInterface {
    bool present = true;     // the interface could be read when last looked at
    bool up = true;          // IFF_UP then
    bool dressed = true;     // its addresses and routes applied since it was last up
    uint64_t went_down = 0;  // times it was found down (or gone)
    uint64_t redressed = 0;  // times its addresses and routes were applied again
    std::string error;       // the last dressing's error, "" when it worked
  };
  std::vector<KernelInterface> kernel_interfaces_;  // per port (rt_.ports); lock_ held
  uint64_t next_kernel_check_ms_ = 0;

  friend struct AppTestAccess;  // tests/support/app_test_access.h: the control fuzzer's App
};

}  // namespace espgw::dp
