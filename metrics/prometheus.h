#pragma once
// Prometheus text exposition (format 0.0.4) of espgw's state: what the control socket's `all`
// answers, when espgw-ike runs its `status`, and with BGP the tunnels' sessions from FRR. Families
// are written whole, each with its HELP and TYPE lines; counters end in _total; label values are
// escaped (\\, \", \n).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/http_server.h"

namespace espgw::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
std::string format_value(double v);

// Collects samples by family, then renders them in the order the families were first declared.
class Exposition {
 public:
  enum class Type { kCounter, kGauge };
  void declare(const std::string& name, Type type, const std::string& help);
  // The family must have been declared.
  void sample(const std::string& name, const Labels& labels, double value);
  std::string render() const;

 private:
  struct Family {
    std::string name;
    Type type;
    std::string help;
    std::vector<std::string> samples;
  };
  std::vector<Family> families_;
};

// Per-lane series (docs/metrics.md#lanes): only for tunnels of more than one lane (at most 64 by
// config), and at most this many lanes in all per scrape; the lanes beyond it are left out and
// counted in espgw_lane_series_omitted.
inline constexpr size_t kMaxLaneSeries = 4096;

struct Scrape {
  std::optional<nlohmann::json> all;         // espgw's `all`; empty: espgw did not answer
  std::string espgw_error;                   // why not
  std::optional<nlohmann::json> ike_status;  // espgw-ike's `status`; empty: not reachable
  // BGP (docs/metrics.md#bgp), only where the config has a `bgp` section: frr/bgp_view.h's view
  // of the tunnels' sessions, empty when FRR did not answer; bfd_known: bfdd answered.
  bool bgp_configured = false;
  std::optional<nlohmann::json> bgp;
  bool bfd_known = false;
  uint64_t bgp_scrape_errors = 0;  // vtysh calls that failed since the exporter started
  double duration_s = 0;
  // The exporter's own HTTP server's connections (docs/metrics.md); empty: no such series.
  std::optional<HttpServer::Stats> http;
};

std::string render(const Scrape& s);

}  // namespace espgw::metrics
