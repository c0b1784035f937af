// espgw-exporter: serves espgw's counters for Prometheus on GET /metrics. Each scrape asks
// espgw's control socket for `all` and, when it answers, espgw-ike's status socket for `status`;
// with a config that has a `bgp` section, FRR's vtysh for the tunnels' BGP and BFD sessions;
// a gateway that is down is reported as espgw_up 0 (still HTTP 200, so that the scrape itself
// does not count as failed). Read-only: it sends no command that changes anything.
//   espgw-exporter [--listen ADDR:PORT] [--control-socket PATH | -c CONFIG] [--ike-socket PATH]

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/redact.h"
#include "common/version.h"
#include "frr/bgp_peers.h"
#include "frr/bgp_view.h"
#include "frr/vtysh.h"
#include "metrics/http_server.h"
#include "metrics/prometheus.h"
#include "protocol/client.h"
#include "protocol/socket_paths.h"

namespace {

using espgw::protocol::kDefaultConfig;
using espgw::protocol::kDefaultControlSocket;
using espgw::protocol::kDefaultIkeSocket;

// One request, its answer; throws on any failure (an answer over 64 MiB is one: a scrape must
// not hold an unbounded amount of memory).
nlohmann::json ask(const std::string& path, const nlohmann::json& request, int timeout_s,
                   const char* daemon) {
  return espgw::protocol::ask(path, request, {timeout_s, daemon, size_t{64} << 20});
}

const char* const kUsage =
    R"(usage: espgw-exporter [--listen ADDR:PORT] [--control-socket PATH | -c CONFIG]
                      [--ike-socket PATH] [--timeout SECONDS]
       espgw-exporter --version

Serves espgw's counters in Prometheus's text format on http://ADDR:PORT/metrics.
  --listen ADDR:PORT     default 127.0.0.1:9477 ([::1]:9477 for IPv6, :9477 for all
                         addresses; port 0 picks a free one, printed on stdout)
  --control-socket PATH  espgw's control socket (default: dataplane.control_socket of
                         /etc/espgw/espgw.yaml if readable, else /run/espgw/espgw.sock)
  -c, --config CONFIG    read the control socket's path from this config
  --ike-socket PATH      espgw-ike's status socket (default /run/espgw/espgw-ike.sock);
                         skipped when nothing answers there
  --timeout SECONDS      how long to wait for each socket (and vtysh) per scrape (default 5)

With -c CONFIG (or a readable /etc/espgw/espgw.yaml) that has a bgp section, each scrape
also asks FRR (vtysh -N bgp.frr_instance) for the tunnels' BGP and BFD sessions.
)";

volatile bool g_stop = false;

// The tunnels' BGP sessions into s (docs/metrics.md#bgp): the config read again at each scrape
// (neighbours change with it), then bgpd's summary and bfdd's peers. A failure is a count, not
// a failed scrape.
void scrape_bgp(const std::string& config, int timeout_s, uint64_t& errors,
                espgw::metrics::Scrape& s) {
  espgw::frr::BgpPeers peers;
  try {
    peers = espgw::frr::bgp_peers_from_config(config);
  } catch (const std::exception&) {
    return;  // no config to read: no BGP series (the control socket's path came from elsewhere)
  }
  if (!peers.enabled) return;
  s.bgp_configured = true;
  nlohmann::json bfd;
  try {
    const auto summary =
        espgw::frr::vtysh_json(peers.instance, "show bgp summary json", timeout_s * 1000);
    try {
      bfd = espgw::frr::vtysh_json(peers.instance, "show bfd peers json", timeout_s * 1000);
      s.bfd_known = true;
    } catch (const espgw::frr::FrrUnreachable&) {
      ++errors;
    }
    s.bgp = espgw::frr::bgp_view(peers, summary, bfd);
  } catch (const espgw::frr::FrrUnreachable&) {
    ++errors;
  }
  s.bgp_scrape_errors = errors;
}

void on_signal(int) {
  g_stop = true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9477";
  std::string control;
  std::string config;
  std::string ike = kDefaultIkeSocket;
  int timeout_s = 5;
  uint64_t bgp_errors = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "espgw-exporter: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--version") {
      std::cout << espgw::version_line("espgw-exporter") << '\n';
      return 0;
    } else if (a == "--listen") {
      listen = value();
    } else if (a == "--control-socket" || a == "-s") {
      control = value();
    } else if (a == "-c" || a == "--config") {
      config = value();
    } else if (a == "--ike-socket") {
      ike = value();
    } else if (a == "--timeout") {
      timeout_s = std::atoi(value().c_str());
      if (timeout_s < 1 || timeout_s > 60) {
        std::cerr << "espgw-exporter: --timeout: 1 to 60 seconds\n";
        return 2;
      }
    } else {
      std::cerr << "espgw-exporter: unknown argument " << espgw::quote_option(a) << "\n" << kUsage;
      return 2;
    }
  }
  try {
    if (!control.empty() && !config.empty())
      throw std::runtime_error("give --control-socket or -c, not both");
    const std::string bgp_config =
        !config.empty() ? config : (access(kDefaultConfig, R_OK) == 0 ? kDefaultConfig : "");
    if (control.empty()) {
      const std::string from = config.empty() ? kDefaultConfig : config;
      if (!config.empty() || access(kDefaultConfig, R_OK) == 0) {
        control = espgw::protocol::control_socket_from_config(from);
      } else {
        control = kDefaultControlSocket;
      }
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    espgw::metrics::HttpServer server(listen, [&](const std::string&, const std::string& path) {
      espgw::metrics::HttpResponse r;
      if (path == "/metrics") {
        espgw::metrics::Scrape s;
        const auto t0 = std::chrono::steady_clock::now();
        try {
          s.all = ask(control, {{"cmd", "all"}}, timeout_s, "espgw");
        } catch (const std::exception& e) {
          s.espgw_error = e.what();
        }
        try {
          s.ike_status = ask(ike, {{"cmd", "status"}}, timeout_s, "espgw-ike");
        } catch (const std::exception&) {
          // espgw-ike not running (static SAs, or not installed): its metrics say so
        }
        if (!bgp_config.empty()) scrape_bgp(bgp_config, timeout_s, bgp_errors, s);
        s.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        s.http = server.stats();
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = espgw::metrics::render(s);
      } else if (path == "/") {
        r.content_type = "text/html; charset=utf-8";
        r.body =
            "<html><head><title>espgw exporter</title></head><body><h1>espgw exporter</h1>"
            "<p><a href=\"/metrics\">/metrics</a></p></body></html>\n";
      } else {
        r.status = 404;
        r.body = "not found: try /metrics\n";
      }
      return r;
    });
    std::cout << "espgw-exporter: listening on http://" << server.bound() << "/metrics; espgw at "
              << control << ", espgw-ike at " << ike << std::endl;
    server.serve(g_stop);
  } catch (const std::exception& e) {
    std::cerr << "espgw-exporter: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
