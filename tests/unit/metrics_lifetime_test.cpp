// How near an SA is to its hard lifetime, as espgw-exporter reports it (metrics/prometheus.h,
// docs/metrics.md): espgw_sa_lifetime_used_ratio per limit the SA has (bytes, packets, the 2^32
// sequence numbers of an outbound SA without ESN) and espgw_ike_child_sa_expires_in_seconds, the
// time left of a tunnel's newest INSTALLED CHILD_SA. The shipped alert EspgwSaNearHardLifetime
// reads both (metrics/alerts/espgw-rules.yml).

#include <gtest/gtest.h>

#include <string>

#include "metrics/prometheus.h"

namespace espgw::metrics {
namespace {

using nlohmann::json;

const std::string kOutLabels =
    R"(spi="0x00001001",direction="out",tunnel="east",algorithm="aes128gcm16")";
const std::string kInLabels =
    R"(spi="0x00002001",direction="in",tunnel="east",algorithm="aes128gcm16")";

json sa(const char* spi, const char* direction, bool esn) {
  return {{"spi", spi}, {"direction", direction}, {"tunnel", "east"}, {"algorithm", "aes128gcm16"},
          {"esn", esn}, {"packets", 300},         {"bytes", 45000},   {"drops", json::object()}};
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsLifetime, BytesPacketsAndSequence) {
  json out = sa("0x00001001", "out", false);
  out["next_seq"] = 1073741825;  // a quarter of the sequence numbers used
  out["hard_bytes"] = 90000;
  json in = sa("0x00002001", "in", false);
  in["hard_packets"] = 1200;
  in["soft_packets"] = 1000;
  Scrape s;
  s.all = json{{"sas", json::array({out, in})}};
  const std::string text = render(s);
  EXPECT_TRUE(has(text, "espgw_sa_lifetime_used_ratio{" + kOutLabels + ",limit=\"bytes\"} 0.5"))
      << text;
  EXPECT_TRUE(has(text, "espgw_sa_lifetime_used_ratio{" + kOutLabels +
                            ",limit=\"sequence\"} 0.25000000005820766"))
      << text;
  EXPECT_TRUE(has(text, "espgw_sa_lifetime_used_ratio{" + kInLabels + ",limit=\"packets\"} 0.25"))
      << text;
  // No limit it does not have: no packets limit outbound, no bytes or sequence inbound.
  EXPECT_EQ(text.find("espgw_sa_lifetime_used_ratio{" + kOutLabels + ",limit=\"packets\"}"),
            std::string::npos);
  EXPECT_EQ(text.find("espgw_sa_lifetime_used_ratio{" + kInLabels + ",limit=\"bytes\"}"),
            std::string::npos);
  EXPECT_EQ(text.find("espgw_sa_lifetime_used_ratio{" + kInLabels + ",limit=\"sequence\"}"),
            std::string::npos);
}

TEST(MetricsLifetime, NoSequenceLimitWithEsn) {
  json out = sa("0x00001001", "out", true);
  out["next_seq"] = 4294967000;
  Scrape s;
  s.all = json{{"sas", json::array({out})}};
  EXPECT_EQ(render(s).find("espgw_sa_lifetime_used_ratio{"), std::string::npos);
}

TEST(MetricsLifetime, NewestInstalledChildSa) {
  Scrape s;
  s.ike_status = json{
      {"tunnels",
       json::array(
           {{{"name", "east"},
             {"state", "ESTABLISHED"},
             {"ike_sas",
              json::array({{{"state", "ESTABLISHED"},
                            {"child_sas",
                             json::array({{{"state", "INSTALLED"}, {"expires_in_s", 120}},
                                          {{"state", "INSTALLED"}, {"expires_in_s", 3300}},
                                          {{"state", "REKEYED"}, {"expires_in_s", 9000}}})}}})}},
            {{"name", "west"}, {"state", "CONNECTING"}, {"ike_sas", json::array()}}})}};
  const std::string text = render(s);
  EXPECT_TRUE(has(text, "espgw_ike_child_sa_expires_in_seconds{tunnel=\"east\"} 3300")) << text;
  EXPECT_EQ(text.find("espgw_ike_child_sa_expires_in_seconds{tunnel=\"west\"}"), std::string::npos);
}

}  // namespace
}  // namespace espgw::metrics
