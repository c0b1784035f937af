// The exporter's per-lane series (metrics/prometheus.h, docs/metrics.md#lanes): one set per lane
// of a tunnel of several lanes, none for a one-lane tunnel, and at most kMaxLaneSeries lanes in
// all, the rest counted in espgw_lane_series_omitted.

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "metrics/prometheus.h"

namespace espgw::metrics {
namespace {

using nlohmann::json;

// A `tunnels` entry of `lanes` lanes, as the control socket reports it.
json tunnel(const std::string& name, size_t lanes) {
  json t = {{"name", name}, {"outbound_spi", "0x00000001"}, {"lanes", json::array()}};
  for (size_t k = 0; k < lanes; ++k) {
    t["lanes"].push_back({{"lane", k},
                          {"state", k == 1 ? "silent" : "up"},
                          {"packets_in", 10 * k},
                          {"bytes_in", 1000 * k},
                          {"packets_out", 20 * k},
                          {"bytes_out", 2000 * k}});
  }
  return t;
}

size_t lines_starting(const std::string& text, const std::string& start) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.rfind(start, 0) == 0;
  return n;
}

TEST(MetricsLanes, PerLaneOfTunnelsOfSeveralLanes) {
  Scrape s;
  s.all = json{{"tunnels", json::array({tunnel("one", 1), tunnel("wide", 4)})}};
  const std::string text = render(s);
  EXPECT_EQ(lines_starting(text, "espgw_lane_up{"), 4u);
  EXPECT_EQ(lines_starting(text, "espgw_lane_up{tunnel=\"one\""), 0u);
  EXPECT_NE(text.find("espgw_lane_up{tunnel=\"wide\",lane=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("espgw_lane_up{tunnel=\"wide\",lane=\"3\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("espgw_lane_packets_total{tunnel=\"wide\",lane=\"3\",direction=\"in\"} 30\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("espgw_lane_bytes_total{tunnel=\"wide\",lane=\"2\",direction=\"out\"} 4000\n"),
      std::string::npos);
  EXPECT_NE(text.find("espgw_lane_series_omitted 0\n"), std::string::npos);
}

TEST(MetricsLanes, CappedInAll) {
  Scrape s;
  s.all = json{{"tunnels", json::array()}};
  const size_t tunnels = kMaxLaneSeries / 64 + 6;  // 6 tunnels of 64 lanes too many
  for (size_t t = 0; t < tunnels; ++t) {
    std::string name = "t";
    name += std::to_string(t);
    (*s.all)["tunnels"].push_back(tunnel(name, 64));
  }
  const std::string text = render(s);
  EXPECT_EQ(lines_starting(text, "espgw_lane_up{"), kMaxLaneSeries);
  EXPECT_EQ(lines_starting(text, "espgw_lane_packets_total{"), 2 * kMaxLaneSeries);
  EXPECT_NE(text.find("espgw_lane_series_omitted 384\n"), std::string::npos);
}

}  // namespace
}  // namespace espgw::metrics
