// The App's side of the SA state file (sa_state.h, docs/sa-state.md): loading it at start,
// sampling and writing it from the control loop, its status.

#include <cstdio>
#include <stdexcept>
#include <string_view>

#include "dataplane/control/app.h"

namespace espgw::dp {

using nlohmann::json;

void App::start_sa_state() {
  const config::DataplaneConfig& d = cfg_.dataplane;
  if (d.sa_state_interval_ms == 0) return;
  sa_state_ = std::make_unique<SaStateFile>(d.sa_state_path(), d.sa_state_interval_ms);
  std::string error;
  if (!sa_state_->lock(&error)) {
    throw std::runtime_error(
        cfg_.source + ": dataplane.sa_state_file" +
        (d.sa_state_file.empty() ? " (not set: beside dataplane.control_socket)" : "") + ": " +
        error + "; give each espgw its own sa_state_file or control_socket");
  }
  error = sa_state_->load(now_ms(), d.legacy_sa_state_path());
  if (!error.empty()) std::fprintf(stderr, "espgw: SA state: %s\n", error.c_str());
  if (sa_state_->loaded() != 0) {
    std::fprintf(stderr, "espgw: SA state: %llu SA(s) from %s, taken up as they are added again\n",
                 static_cast<unsigned long long>(sa_state_->loaded()),
                 sa_state_->loaded_from().c_str());
  }
  next_sa_state_ms_ = now_ms() + d.sa_state_interval_ms;
}

void App::remember_neighbours() {
  if (!sa_state_) return;
  size_t n = 0;
  for (const NeighbourRecord& r : sa_state_->neighbours()) {
    for (const auto& p : rt_.ports) {
      if (p.name == r.interface) {
        neighbours_->add_remembered(p.index, r.ip, r.mac, now_ms());
        ++n;
      }
    }
  }
  if (n != 0) std::fprintf(stderr, "espgw: SA state: %zu neighbour(s) remembered, probed\n", n);
}

void App::check_sa_state(bool now) {
  std::lock_guard guard(lock_);
  if (!sa_state_ || (!now && now_ms() < next_sa_state_ms_)) return;
  const uint64_t t = now_ms();
  sa_state_->sample(*model_, t);
  std::vector<NeighbourRecord> learned;
  for (const auto& v : neighbours_->list()) {
    if (std::string_view(v.state) == "reachable" || std::string_view(v.state) == "probe") {
      learned.push_back({rt_.ports[v.port].name, v.ip, v.mac});
    }
  }
  sa_state_->set_neighbours(std::move(learned));
  std::string error;
  const bool ok = sa_state_->write(&error);
  // A write that takes long (many SAs) is not repeated more often than every 4 of its durations,
  // and the file says so: the jump after a restart covers the interval kept in fact.
  const uint64_t took = now_ms() - t;
  sa_state_->set_effective_interval_ms(static_cast<uint32_t>(std::min<uint64_t>(4 * took, 60000)));
  next_sa_state_ms_ = now_ms() + sa_state_->effective_interval_ms();
  if (!ok && error != sa_state_error_) {
    std::fprintf(stderr, "espgw: SA state not saved: %s (the last file written stays)\n",
                 error.c_str());
  } else if (ok && !sa_state_error_.empty()) {
    std::fprintf(stderr, "espgw: SA state saved again to %s\n", sa_state_->path().c_str());
  }
  sa_state_error_ = ok ? "" : error;
}

json App::sa_state_status() const {
  if (!sa_state_) return {{"enabled", false}};
  json j = {{"enabled", true},
            {"path", sa_state_->path()},
            {"interval_ms", sa_state_->interval_ms()},
            {"effective_interval_ms", sa_state_->effective_interval_ms()},
            {"records", sa_state_->records()},
            {"loaded", sa_state_->loaded()},
            {"resumed", sa_state_->resumed()},
            {"writes", sa_state_->writes()},
            {"write_errors", sa_state_->write_errors()}};
  if (!sa_state_error_.empty()) j["error"] = sa_state_error_;
  return j;
}

}  // namespace espgw::dp
