// The exporter's FPM series (metrics/prometheus.h, docs/metrics.md#fpm) from status.fpm: the
// connection and the routes as gauges, the decoder's and listener's counters as counters by
// reason; nothing when routing.fpm is off.

#include <gtest/gtest.h>

#include <string>

#include "metrics/prometheus.h"

namespace espgw::metrics {
namespace {

using nlohmann::json;

// status.fpm as espgw reports it (dataplane/control/fpm.cpp), after a reconnect and a sweep.
json fpm_status() {
  return {{"enabled", true},
          {"listen", "127.0.0.1:2620"},
          {"connected", false},
          {"peer", ""},
          {"routes", 3},
          {"stale", 1},
          {"sweep_pending", false},
          {"grace_left_ms", 1500},
          {"distance", 20},
          {"connections", 2},
          {"connections_replaced", 0},
          {"closed_by_peer", 2},
          {"closed_bad_stream", 0},
          {"read_errors", 0},
          {"transactions", 7},
          {"transactions_failed", 1},
          {"events_applied", 11},
          {"routes_unresolved", 4},
          {"next_hops_unresolved", 5},
          {"swept_stale", 1},
          {"cleared_after_grace", 2},
          {"last_error", ""},
          {"decoder",
           {{"bytes", 744},
            {"frames", 9},
            {"messages", 11},
            {"routes_added", 8},
            {"routes_deleted", 3},
            {"skipped_nexthop_group_routes", 6},
            {"skipped_link_local", 2},
            {"bad_fpm_header", 0},
            {"bad_route_message", 1},
            {"partial_frames_dropped", 1}}}};
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsFpm, SeriesFromStatus) {
  Scrape s;
  s.all = json{{"status", {{"fpm", fpm_status()}}}};
  const std::string t = render(s);
  EXPECT_TRUE(has(t, "# TYPE espgw_fpm_connected gauge"));
  EXPECT_TRUE(has(t, "espgw_fpm_connected 0"));
  EXPECT_TRUE(has(t, "espgw_fpm_routes 3"));
  EXPECT_TRUE(has(t, "espgw_fpm_stale_routes 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_grace_left_seconds 1.5"));
  EXPECT_TRUE(has(t, "# TYPE espgw_fpm_connections_total counter"));
  EXPECT_TRUE(has(t, "espgw_fpm_connections_total 2"));
  EXPECT_TRUE(has(t, "espgw_fpm_disconnects_total{reason=\"peer\"} 2"));
  EXPECT_TRUE(has(t, "espgw_fpm_disconnects_total{reason=\"bad_stream\"} 0"));
  EXPECT_TRUE(has(t, "espgw_fpm_route_events_total{action=\"add\"} 8"));
  EXPECT_TRUE(has(t, "espgw_fpm_route_events_total{action=\"delete\"} 3"));
  EXPECT_TRUE(has(t, "# TYPE espgw_fpm_skipped_total counter"));
  EXPECT_TRUE(has(t, "espgw_fpm_skipped_total{reason=\"nexthop_group_routes\"} 6"));
  EXPECT_TRUE(has(t, "espgw_fpm_skipped_total{reason=\"link_local\"} 2"));
  EXPECT_TRUE(has(t, "espgw_fpm_errors_total{reason=\"bad_route_message\"} 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_errors_total{reason=\"partial_frames_dropped\"} 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_refused_total{reason=\"unresolved\"} 4"));
  EXPECT_TRUE(has(t, "espgw_fpm_refused_total{reason=\"next_hop_unresolved\"} 5"));
  EXPECT_TRUE(has(t, "espgw_fpm_refused_total{reason=\"build_failed\"} 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_removed_total{reason=\"stale\"} 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_removed_total{reason=\"grace_over\"} 2"));
  // Counts that are not reasons (bytes, frames) are not in the reason series.
  EXPECT_EQ(t.find("reason=\"bytes\""), std::string::npos);
}

TEST(MetricsFpm, ConnectedAndNoGraceRunning) {
  json f = fpm_status();
  f["connected"] = true;
  f["grace_left_ms"] = nullptr;
  Scrape s;
  s.all = json{{"status", {{"fpm", f}}}};
  const std::string t = render(s);
  EXPECT_TRUE(has(t, "espgw_fpm_connected 1"));
  EXPECT_TRUE(has(t, "espgw_fpm_grace_left_seconds 0"));
}

TEST(MetricsFpm, NoneWhenOff) {
  for (const json& fpm : {json{{"enabled", false}}, json()}) {
    Scrape s;
    s.all = json{{"status", {{"fpm", fpm}}}};
    EXPECT_EQ(render(s).find("espgw_fpm_"), std::string::npos) << fpm.dump();
  }
}

}  // namespace
}  // namespace espgw::metrics
