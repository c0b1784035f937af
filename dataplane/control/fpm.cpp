// zebra's routes on the control thread (docs/routing.md "Design: espgw takes zebra's routes over
// FPM"): the FPM listener read once per loop turn, what the turn read applied as one transaction
// on a copy of the Model (so zebra's delete + add of a prefix is a replace with no gap, and a
// withdraw is gone from the published tables by the end of the turn), the grace period and the
// stale sweep, and the FPM part of the status report.

#include <net/if.h>

#include <cstdio>

#include "dataplane/control/app.h"

namespace espgw::dp {

using nlohmann::json;

void App::start_fpm() {
  const config::FpmConfig& c = cfg_.routing.fpm;
  if (!c.enabled) return;
  fpm_ = std::make_unique<FpmListener>(c);
  fpm_grace_ = std::make_unique<FpmGrace>(uint64_t{c.grace_s} * 1000);
  std::fprintf(stderr, "espgw: FPM: listening on %s (grace %u s, distance %u)\n",
               fpm_->listen_address().c_str(), c.grace_s, c.distance);
}

// RTA_OIF -> tunnel: the kernel ifindex of each route-based tunnel's inside interface (by its
// name: inside_interface or config::inside_interface_name()), looked up again whenever the
// tables changed (a tunnel added or removed, its interface made). Under lock_.
void App::follow_inside_ifindex() {
  if (fpm_ifindex_generation_ == generation_) return;
  fpm_ifindex_generation_ = generation_;
  std::map<uint32_t, std::string> m;
  for (const auto& [name, t] : model_->tunnels()) {
    if (!t.route_based()) continue;
    const std::string ifname =
        t.inside_interface.empty() ? config::inside_interface_name(name) : t.inside_interface;
    if (const unsigned idx = if_nametoindex(ifname.c_str()); idx != 0) m[idx] = name;
  }
  model_->set_inside_ifindex(std::move(m));
}

void App::check_fpm() {
  if (!fpm_) return;
  fpm_events_.clear();
  const FpmListener::Turn turn = fpm_->poll(fpm_events_);
  const uint64_t now = now_ms();
  if (turn.accepted) {
    fpm_grace_->connected(now);
    std::fprintf(stderr, "espgw: FPM: connection from %s\n", fpm_->peer().c_str());
  }
  if (turn.closed && !fpm_->connected()) {
    fpm_grace_->closed(now);
    std::fprintf(stderr, "espgw: FPM: connection closed; routes kept for %u s\n",
                 cfg_.routing.fpm.grace_s);
  }
  const FpmGrace::Action action = fpm_grace_->due(now);
  if (!turn.accepted && fpm_events_.empty() && action == FpmGrace::Action::kNone) return;

  std::lock_guard guard(lock_);
  follow_inside_ifindex();
  // A new connection: every route is stale until the dump names it again. The marks change
  // nothing the workers see, so they need no build of their own.
  if (turn.accepted) model_->fpm().mark_stale();
  if (fpm_events_.empty() && action == FpmGrace::Action::kNone) return;
  Model next = *model_;
  const HopResolver resolver = next.resolver();
  for (const auto& e : fpm_events_) {
    if (e.action == routing::RouteAction::kAdd) {
      const size_t ok = resolver.resolvable(e.next_hops);
      if (ok == 0) ++fpm_counters_.routes_unresolved;
      fpm_counters_.next_hops_unresolved += e.next_hops.size() - ok;
    }
    next.fpm().apply(e);
  }
  next.fpm().prune();
  if (action == FpmGrace::Action::kSweepStale) {
    const size_t n = next.fpm().sweep_stale();
    fpm_counters_.swept_stale += n;
    if (n != 0) std::fprintf(stderr, "espgw: FPM: %zu stale route(s) swept\n", n);
  } else if (action == FpmGrace::Action::kClearAll) {
    const size_t n = next.fpm().clear();
    fpm_counters_.cleared_after_grace += n;
    std::fprintf(stderr, "espgw: FPM: grace period over: %zu route(s) removed\n", n);
  }
  std::unique_ptr<Snapshot> snap;
  try {
    snap = next.build(generation_ + 1, now);
  } catch (const std::exception& e) {
    // The Model stays as it was: what zebra sent this turn is lost until its next dump.
    ++fpm_counters_.transactions_failed;
    std::fprintf(stderr, "espgw: FPM: %zu route event(s) not applied: %s\n", fpm_events_.size(),
                 e.what());
    return;
  }
  commit(std::move(next), std::move(snap));
  ++fpm_counters_.transactions;
  fpm_counters_.events_applied += fpm_events_.size();
}

json App::fpm_status() const {
  if (!fpm_) return {{"enabled", false}};
  const uint64_t now = now_ms();
  json decoder = json::object();
  fpm_->decoder().counters().for_each([&](const char* name, uint64_t v) { decoder[name] = v; });
  const FpmListenerCounters& lc = fpm_->counters();
  const auto left = fpm_grace_->grace_left_ms(now);
  return {{"enabled", true},
          {"listen", fpm_->listen_address()},
          {"connected", fpm_->connected()},
          {"peer", fpm_->peer()},
          {"routes", model_->fpm().size()},
          {"stale", model_->fpm().stale_count()},
          {"sweep_pending", fpm_grace_->sweep_pending()},
          {"grace_left_ms", left ? json(*left) : json(nullptr)},
          {"distance", model_->fpm_distance()},
          {"connections", lc.connections},
          {"connections_replaced", lc.replaced},
          {"closed_by_peer", lc.closed_by_peer},
          {"closed_bad_stream", lc.closed_bad_stream},
          {"read_errors", lc.read_errors},
          {"transactions", fpm_counters_.transactions},
          {"transactions_failed", fpm_counters_.transactions_failed},
          {"events_applied", fpm_counters_.events_applied},
          {"routes_unresolved", fpm_counters_.routes_unresolved},
          {"routes_recursive", rt_.tables.get()->fpm_recursive},
          {"next_hops_unresolved", fpm_counters_.next_hops_unresolved},
          {"swept_stale", fpm_counters_.swept_stale},
          {"cleared_after_grace", fpm_counters_.cleared_after_grace},
          {"last_error", fpm_->decoder().last_error()},
          {"decoder", decoder}};
}

}  // namespace espgw::dp
