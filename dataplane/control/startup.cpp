// espgw's start-up and teardown: worker lcores, mbuf pools, the control rings, ports, the first
// tables, neighbours, the control socket, the workers. Everything that can fail at start fails in
// App::start(), with the reason.

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "dataplane/control/app.h"
#include "dataplane/control/telemetry.h"

namespace espgw::dp {
namespace {

int worker_main(void* arg) {
  return static_cast<Worker*>(arg)->run();
}

uint64_t seed_from(void* app_random) {
  return static_cast<crypto::IvGenerator*>(app_random)->next64();
}

}  // namespace

App::App(config::Config cfg, Options opts)
    : cfg_(std::move(cfg)), opts_(std::move(opts)), rt_(cfg_.dataplane) {
  if (opts_.control_socket) cfg_.dataplane.control_socket = *opts_.control_socket;
  if (opts_.crypto) cfg_.dataplane.crypto = *opts_.crypto;
  rt_.cfg = cfg_.dataplane;
  lane_watch_ = LaneWatch(cfg_.dataplane.lane_keepalive_ms != 0 ? cfg_.dataplane.lane_dead_ms : 0);
  telemetry_attach(this);
}

App::~App() {
  telemetry_detach();
  rt_.stop.store(true);
  rte_eal_mp_wait_lcore();
  workers_.clear();
  server_.reset();
  neighbours_.reset();
  inside_.reset();  // closing the TUN devices removes the inside interfaces
  if (ports_started_) stop_ports(rt_.ports);
  model_.reset();
  for (auto* r : rt_.to_worker)
    rte_ring_free(r);
  rte_ring_free(rt_.to_control);
  rte_ring_free(rt_.to_inside);
}

void App::start() {
  const uint32_t workers = cfg_.dataplane.workers;
  // The control socket first: a second espgw on it stops here, before it touches a port or the
  // first one's SA state file (beside the socket). Served from the control loop, once started.
  server_ = std::make_unique<protocol::LineServer>(
      cfg_.dataplane.control_socket,
      [this](const std::string& r, bool* subscribe) { return handle(r, subscribe); });
  take_lcores(workers);
  rt_.workers = workers;
  rt_.tsc_hz = rte_get_tsc_hz();
  rt_.rcu = std::make_unique<Rcu>(workers);
  create_pools(workers);
  create_rings(workers);
  rt_.ports = start_ports(cfg_, workers, pools_);
  ports_started_ = true;
  kernel_interfaces_.resize(rt_.ports.size());
  load_tables(workers);
  start_neighbours();
  start_inside();
  start_fpm();
  launch_workers(workers);
  neighbours_->announce();
  register_telemetry();
  started_ns_ = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  log_started(workers);
}

// The worker lcores EAL gave (the main lcore runs the control thread), one per worker.
void App::take_lcores(uint32_t workers) {
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
}

// One mbuf pool per worker on its lcore's socket, and the control thread's own.
void App::create_pools(uint32_t workers) {
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
}

// The workers' mailbox to the control thread, and the control thread's to each worker.
void App::create_rings(uint32_t workers) {
  rt_.to_control =
      rte_ring_create_elem("espgw_to_ctl", sizeof(ControlMsg), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
  rt_.to_inside = rte_ring_create_elem("espgw_to_inside", sizeof(InsidePacket), 4096, SOCKET_ID_ANY,
                                       RING_F_SC_DEQ);
  for (uint32_t w = 0; w < workers; ++w) {
    rt_.to_worker.push_back(rte_ring_create_elem(("espgw_to_w" + std::to_string(w)).c_str(),
                                                 sizeof(TxRequest), 1024, SOCKET_ID_ANY,
                                                 RING_F_SP_ENQ | RING_F_SC_DEQ));
  }
  if (rt_.to_control == nullptr || rt_.to_inside == nullptr ||
      std::count(rt_.to_worker.begin(), rt_.to_worker.end(), nullptr) != 0) {
    throw std::runtime_error(std::string("cannot create the control rings: ") +
                             rte_strerror(rte_errno));
  }
}

void App::load_tables(uint32_t workers) {
  std::vector<PortDesc> descs;
  for (const auto& p : rt_.ports)
    descs.push_back({p.name, p.mtu, p.addresses});
  model_ = std::make_unique<Model>(std::move(descs), workers);
  start_sa_state();
  model_->set_resume(sa_state_.get());
  try {
    model_->load(cfg_, seed_from, &random_);
    rt_.tables.publish(model_->build(++generation_, now_ms()), *rt_.rcu);
    peer_tracker_.update(*model_, PeerClock::now());
  } catch (const std::exception& e) {
    throw std::runtime_error(cfg_.source + ": " + e.what());
  }
}

void App::start_neighbours() {
  neighbours_ = std::make_unique<NeighbourManager>(rt_, control_pool_);
  for (const auto& ifc : cfg_.interfaces) {
    const uint16_t port = rt_.ports[static_cast<size_t>(&ifc - cfg_.interfaces.data())].index;
    for (const auto& n : ifc.neighbours)
      neighbours_->add_static(port, n.address, n.mac);
  }
  remember_neighbours();
  neighbours_->publish();
}

// Route-based tunnels' inside interfaces, before the workers run: a device that cannot be made
// fails the start.
void App::start_inside() {
  inside_ = std::make_unique<InsideInterfaces>(rt_, control_pool_);
  try {
    inside_->sync(*model_, *rt_.tables.get(), true);
  } catch (const std::exception& e) {
    throw std::runtime_error(cfg_.source + ": " + e.what());
  }
  inside_generation_ = generation_;
}

void App::launch_workers(uint32_t workers) {
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
}

void App::log_started(uint32_t workers) const {
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

}  // namespace espgw::dp
