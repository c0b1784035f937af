// espgw-exporter: serves espgw's counters for Prometheus on GET /metrics. Each scrape asks
// espgw's control socket for `all` and, when it answers, espgw-ike's status socket for `status`;
// a gateway that is down is reported as espgw_up 0 (still HTTP 200, so that the scrape itself
// does not count as failed). Read-only: it sends no command that changes anything.
//   espgw-exporter [--listen ADDR:PORT] [--control-socket PATH | -c CONFIG] [--ike-socket PATH]

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "metrics/http_server.h"
#include "metrics/prometheus.h"

namespace {

using nlohmann::json;

constexpr const char* kDefaultConfig = "/etc/espgw/espgw.yaml";
constexpr const char* kDefaultSocket = "/run/espgw/espgw.sock";
constexpr const char* kDefaultIkeSocket = "/run/espgw/espgw-ike.sock";

const char* const kUsage =
    R"(usage: espgw-exporter [--listen ADDR:PORT] [--control-socket PATH | -c CONFIG]
                      [--ike-socket PATH] [--timeout SECONDS]

Serves espgw's counters in Prometheus's text format on http://ADDR:PORT/metrics.
  --listen ADDR:PORT     default 127.0.0.1:9477 ([::1]:9477 for IPv6, :9477 for all
                         addresses; port 0 picks a free one, printed on stdout)
  --control-socket PATH  espgw's control socket (default: dataplane.control_socket of
                         /etc/espgw/espgw.yaml if readable, else /run/espgw/espgw.sock)
  -c, --config CONFIG    read the control socket's path from this config
  --ike-socket PATH      espgw-ike's status socket (default /run/espgw/espgw-ike.sock);
                         skipped when nothing answers there
  --timeout SECONDS      how long to wait for each socket per scrape (default 5)
)";

volatile bool g_stop = false;

void on_signal(int) {
  g_stop = true;
}

// One JSON request line, one JSON answer line; throws on any failure.
json ask(const std::string& path, const json& request, int timeout_s) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  timeval tv{};
  tv.tv_sec = timeout_s;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno));
  }
  const std::string line = request.dump() + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("cannot send to " + path);
  }
  std::string resp;
  char buf[65536];
  while (resp.find('\n') == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("no complete answer from " + path);
    resp.append(buf, static_cast<size_t>(n));
    if (resp.size() > (64u << 20)) throw std::runtime_error("answer too large from " + path);
  }
  json j = json::parse(resp.substr(0, resp.find('\n')));
  if (!j.is_object() || !j.value("ok", false))
    throw std::runtime_error(path + " answered with an error");
  return j;
}

std::string socket_from_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(std::strerror(errno));
  const YAML::Node root = YAML::Load(f);
  const YAML::Node dp = root.IsMap() ? root["dataplane"] : YAML::Node();
  if (dp && dp.IsMap() && dp["control_socket"] && dp["control_socket"].IsScalar()) {
    return dp["control_socket"].Scalar();
  }
  return kDefaultSocket;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9477";
  std::string control;
  std::string config;
  std::string ike = kDefaultIkeSocket;
  int timeout_s = 5;
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
      std::cerr << "espgw-exporter: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }
  try {
    if (!control.empty() && !config.empty())
      throw std::runtime_error("give --control-socket or -c, not both");
    if (control.empty()) {
      const std::string from = config.empty() ? kDefaultConfig : config;
      if (!config.empty() || access(kDefaultConfig, R_OK) == 0) {
        control = socket_from_config(from);
      } else {
        control = kDefaultSocket;
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
          s.all = ask(control, {{"cmd", "all"}}, timeout_s);
        } catch (const std::exception& e) {
          s.espgw_error = e.what();
        }
        try {
          s.ike_status = ask(ike, {{"cmd", "status"}}, timeout_s);
        } catch (const std::exception&) {
          // espgw-ike not running (static SAs, or not installed): its metrics say so
        }
        s.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
