// The control thread's loop: the control socket's requests, the workers' messages (neighbour
// resolution), the SA lifecycle's checks (sa_lifecycle.cpp), the exception taps' kernel
// interfaces, and the stop conditions.

#include <malloc.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "dataplane/control/app.h"
#include "dataplane/port/netlink.h"
#include "protocol/messages.h"

namespace espgw::dp {
namespace {

std::atomic<bool> g_stop{false};

// How often the exception taps' kernel interfaces are looked at: one SIOCGIFFLAGS each.
constexpr uint64_t kKernelCheckMs = 100;

}  // namespace

uint64_t App::now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void App::request_stop() noexcept {
  g_stop.store(true);
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
    wait_for_events(opts_.max_packets ? 1 : 5);
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
    check_lanes();
    check_fpm();
    check_inside();
    check_sa_state(false);
    check_kernel_interfaces();
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
  check_sa_state(true);  // the workers stopped: the numbers are final
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

// One poll() over the control socket, the inside interfaces and the FPM connection: whichever
// has something wakes the loop. The inside interfaces read their revents back.
void App::wait_for_events(int timeout_ms) {
  std::vector<pollfd>& inside = inside_->pollfds();
  if (!fpm_) {
    server_->poll(timeout_ms, inside);
    return;
  }
  pollset_.assign(inside.begin(), inside.end());
  fpm_->add_pollfds(pollset_);
  server_->poll(timeout_ms, pollset_);
  for (size_t i = 0; i < inside.size(); ++i)
    inside[i].revents = pollset_[i].revents;
}

void App::check_kernel_interfaces() {
  const uint64_t now = now_ms();
  if (now < next_kernel_check_ms_) return;
  next_kernel_check_ms_ = now + kKernelCheckMs;
  for (size_t i = 0; i < rt_.ports.size() && i < kernel_interfaces_.size(); ++i) {
    const Port& p = rt_.ports[i];
    if (p.kernel_name.empty()) continue;
    KernelInterface& k = kernel_interfaces_[i];
    // A tap's interface that was deleted does not come back (net_tap made it at start): one of
    // the same name made since is not ours to dress.
    if (!k.present) continue;
    const netlink::LinkState state = netlink::link_state(p.kernel_name);
    if (state == netlink::LinkState::kUnknown) continue;  // asked again next time
    const bool present = state != netlink::LinkState::kGone;
    if (state != netlink::LinkState::kUp) {
      if (k.up || !present) {
        std::fprintf(stderr,
                     "espgw: interface %s: kernel interface %s is %s: packets for the kernel are "
                     "dropped (exception_down) %s\n",
                     p.name.c_str(), p.kernel_name.c_str(), present ? "down" : "gone",
                     present ? "until it is up again" : "until espgw is restarted");
        std::lock_guard guard(lock_);
        if (k.up) ++k.went_down;
        k.up = false;
        k.present = present;
        k.dressed = false;
      }
      continue;
    }
    if (k.up && k.dressed) continue;
    // Up again (or its last dressing failed): the kernel took its routes and IPv6 addresses down
    // with it. Without lock_: netlink answers in its own time, and nothing here is the model's.
    std::string error;
    try {
      redress_kernel_interface(p, cfg_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!k.up || error != k.error) {
      if (error.empty()) {
        std::fprintf(stderr,
                     "espgw: interface %s: kernel interface %s is up: its MTU, addresses and "
                     "routes applied again\n",
                     p.name.c_str(), p.kernel_name.c_str());
      } else {
        std::fprintf(stderr, "espgw: interface %s: kernel interface %s is up, not dressed: %s\n",
                     p.name.c_str(), p.kernel_name.c_str(), error.c_str());
      }
    }
    std::lock_guard guard(lock_);
    k.up = true;
    k.present = true;
    k.dressed = error.empty();
    if (k.dressed) ++k.redressed;
    k.error = std::move(error);
  }
}

void App::check_inside() {
  std::lock_guard guard(lock_);
  if (inside_generation_ != generation_) {
    inside_->sync(*model_, *rt_.tables.get(), false);
    inside_generation_ = generation_;
  }
  inside_->deliver();
  inside_->poll(false);
}

std::string App::handle(const std::string& request, bool* subscribe) {
  std::string out = protocol::respond(request, [&](const nlohmann::json& req) {
    return commands().at(req["cmd"].get<std::string>(), "cmd")(*this, {req, subscribe});
  });
  // A bulk load (a request of megabytes) leaves its parse tree's memory free but resident in the
  // heap: handed back, resident memory is what the tables hold.
  if (request.size() >= (size_t{1} << 20)) malloc_trim(0);
  return out;
}

}  // namespace espgw::dp
