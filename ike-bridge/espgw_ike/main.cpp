// espgw-ike: drives strongSwan's charon over VICI from espgw's config (docs/espgw-ike.md).
//   espgw-ike [--config FILE] [--vici PATH] [--status-socket PATH] [--foreground]
//             [--charon-log LEVEL] [--timeout SECONDS]
//
// One thread, one poll(): signals (signalfd), the status socket, charon's event connection. VICI
// commands go out on a second connection, one at a time, each bounded by --timeout.
// SIGHUP reloads the config, SIGTERM/SIGINT stop espgw-ike and leave charon's state alone.

#include <sys/signalfd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/redact.h"
#include "common/version.h"
#include "config/config.h"
#include "ike-bridge/espgw_ike/connection_sync.h"
#include "ike-bridge/espgw_ike/event_log.h"
#include "ike-bridge/espgw_ike/ike_status.h"
#include "ike-bridge/espgw_ike/log.h"
#include "ike-bridge/espgw_ike/tunnel_conn.h"
#include "ike-bridge/vici/client.h"
#include "protocol/commands.h"
#include "protocol/line_server.h"
#include "protocol/messages.h"
#include "protocol/socket_paths.h"

namespace {

using namespace espgw;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kRetry = 1s;  // between attempts to reach charon

const char* const kUsage =
    R"(usage: espgw-ike [--config FILE] [--vici PATH] [--status-socket PATH] [--foreground]
                 [--charon-log LEVEL] [--timeout SECONDS]

Loads the IKE tunnels of espgw's config into strongSwan's charon over VICI, initiates them,
logs charon's IKE and CHILD_SA events and serves their state on a status socket
(espgwctl ike status).

  --config FILE          espgw's config (default /etc/espgw/espgw.yaml)
  --vici PATH            charon's VICI socket (default: ike.vici_socket of the config)
  --status-socket PATH   where to serve the status (default: espgw-ike.sock in the folder
                         of the config's ike.vici_socket, e.g. /run/espgw/espgw-ike.sock)
  --foreground           stay in the foreground and log to stderr (default: a daemon that
                         logs to syslog)
  --charon-log LEVEL     also log charon's own log messages up to LEVEL (0 or 1; charon
                         hands out no more over VICI)
  --timeout SECONDS      how long to wait for each answer from charon (default 10)
  -h, --help             this text
  --version              the version and git commit

SIGHUP reloads the config: unchanged tunnels are not touched, changed ones are loaded again
and re-initiated, removed ones terminated and unloaded. SIGTERM stops espgw-ike and leaves
charon's connections and SAs as they are.
)";

struct Options {
  std::string config = protocol::kDefaultConfig;
  std::optional<std::string> vici;
  std::optional<std::string> status_socket;
  bool foreground = false;
  std::optional<int> charon_log;
  std::chrono::milliseconds timeout = 10s;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    auto integer = [&](int lo, int hi) {
      const std::string v = value();
      char* end = nullptr;
      errno = 0;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || n < lo || n > hi) {
        throw UsageError(a + ": expected " + std::to_string(lo) + " to " + std::to_string(hi) +
                         ", got " + quote(v));
      }
      return static_cast<int>(n);
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--version") {
      std::cout << version_line("espgw-ike") << '\n';
      std::exit(0);
    } else if (a == "--config" || a == "-c") {
      o.config = value();
    } else if (a == "--vici") {
      o.vici = value();
    } else if (a == "--status-socket") {
      o.status_socket = value();
    } else if (a == "--foreground" || a == "-f") {
      o.foreground = true;
    } else if (a == "--charon-log") {
      o.charon_log = integer(0, 4);
    } else if (a == "--timeout") {
      o.timeout = std::chrono::seconds(integer(1, 3600));
    } else {
      throw UsageError("unknown option " + quote_option(a) + " (see espgw-ike --help)");
    }
  }
  return o;
}

std::string names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& n : v)
    s += (s.empty() ? "" : ", ") + n;
  return s;
}

class EspgwIke {
 public:
  EspgwIke(Options options, config::Config config, ike::Log& log)
      : options_(std::move(options)),
        config_(std::move(config)),
        log_(log),
        charon_(vici_path(), options_.timeout),
        events_(vici_path(), options_.timeout),
        sync_(charon_, log_, std::chrono::milliseconds(2000)) {
    for (auto e : ike::kStateEvents)
      event_names_.emplace_back(e);
    if (options_.charon_log) event_names_.emplace_back("log");
  }

  std::string vici_path() const { return options_.vici.value_or(config_.ike.vici_socket); }
  std::string status_path() const {
    return options_.status_socket.value_or(protocol::ike_socket_for(config_.ike.vici_socket));
  }

  int run(int signal_fd) {
    protocol::LineServer server(
        status_path(),
        [this](const std::string& line, bool*) {
          return protocol::respond(line, [this](const json& req) {
            return commands().at(req["cmd"].get<std::string>(), "cmd")(*this, req);
          });
        },
        "status socket", "espgw-ike");
    server_ = &server;
    log_.info("status on " + server.path() + "; charon's VICI socket " + vici_path() + "; " +
              std::to_string(ike::tunnel_conns(config_).size()) + " IKE tunnel(s) in " +
              options_.config);
    if (!options_.foreground && daemon(0, 0) != 0) {
      log_.error(std::string("cannot become a daemon: ") + std::strerror(errno));
      return 1;
    }
    Clock::time_point next_attempt = Clock::now();
    for (;;) {
      if (!connected_ && Clock::now() >= next_attempt) {
        connect();
        next_attempt = Clock::now() + kRetry;
      }
      int timeout_ms = -1;
      if (!connected_) {
        timeout_ms = static_cast<int>(std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - Clock::now())
                   .count()));
      }
      pollfd mine[2] = {{signal_fd, POLLIN, 0}, {connected_ ? events_.fd() : -1, POLLIN, 0}};
      server.poll(timeout_ms, mine);
      if (mine[0].revents & POLLIN) {
        signalfd_siginfo si{};
        if (read(signal_fd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGHUP) {
            reload();
          } else {
            log_.info(std::string("stopping on ") + strsignal(static_cast<int>(si.ssi_signo)) +
                      "; charon's connections and SAs stay as they are");
            return 0;
          }
        }
      }
      if (connected_ && (mine[1].revents & (POLLIN | POLLHUP | POLLERR))) read_events();
    }
  }

 private:
  void connect() {
    try {
      charon_.connect();
      events_.connect(event_names_);
      const vici::Message v = charon_.request("version", {});
      log_.info("connected to " + v.value_or("daemon", "charon") + " " + v.value_or("version") +
                " on " + vici_path());
      connected_ = true;
      unreachable_logged_ = false;
      apply(true);
    } catch (const vici::Error& e) {
      disconnected(e.what());
    }
  }

  void disconnected(const std::string& why) {
    const bool was = connected_;
    connected_ = false;
    charon_.disconnect();
    events_.disconnect();
    sync_.forget();
    if (was) {
      log_.warning("lost charon: " + why + "; reconnecting, then loading every tunnel again");
    } else if (!unreachable_logged_) {
      log_.warning(why + "; trying again every second");
      unreachable_logged_ = true;
    }
  }

  void apply(bool fresh) {
    std::vector<ike::TunnelConn> wanted;
    try {
      wanted = ike::tunnel_conns(config_);
    } catch (const config::ConfigError& e) {
      log_.error(e.what());
      return;
    }
    try {
      const ike::SyncResult r = sync_.apply(wanted, fresh);
      std::string summary = fresh ? "loaded into charon: " : "reloaded: ";
      auto part = [&](const char* what, const std::vector<std::string>& v) {
        if (!v.empty()) summary += std::string(what) + " " + names(v) + "; ";
      };
      part("unchanged", r.unchanged);
      part("added", r.added);
      part("changed", r.changed);
      part("new key for", r.key_only);
      part("removed", r.removed);
      part("FAILED", r.failed);
      part("initiated", r.initiated);
      if (summary.ends_with("; ")) summary.resize(summary.size() - 2);
      if (wanted.empty() && r.removed.empty()) summary += "no IKE tunnels";
      log_.info(summary);
    } catch (const vici::ConnectionError& e) {
      disconnected(e.what());
    }
  }

  void reload() {
    log_.info("SIGHUP: reloading " + options_.config);
    config::Config next;
    try {
      next = config::load_file(options_.config);
    } catch (const config::ConfigError& e) {
      log_.error(std::string("reload failed, keeping the running config:\n") + e.what());
      return;
    }
    const std::string old_vici = vici_path();
    const std::string old_status = status_path();
    config_ = std::move(next);
    if (status_path() != old_status) {
      log_.warning("the status socket stays " + old_status + " until espgw-ike restarts");
      options_.status_socket = old_status;
    }
    if (vici_path() != old_vici) {
      log_.info("charon's VICI socket is now " + vici_path());
      charon_ = vici::Client(vici_path(), options_.timeout);
      events_ = vici::EventClient(vici_path(), options_.timeout);
      disconnected("the VICI socket changed");
      return;  // the next connect loads everything
    }
    if (connected_) apply(false);
  }

  void read_events() {
    try {
      for (const auto& e : events_.read()) {
        if (auto line = ike::describe_event(e.name, e.message, options_.charon_log.value_or(-1))) {
          log_.info(*line);
        }
      }
    } catch (const vici::ConnectionError& e) {
      disconnected(e.what());
    }
  }

  // The status socket's commands (docs/espgw-ike.md).
  using Commands = protocol::Table<json (*)(EspgwIke&, const json& request)>;
  static const Commands& commands() {
    static const Commands table{
        {"status", [](EspgwIke& app, const json&) { return app.status(); }},
    };
    return table;
  }

  // Throws for charon's error; the server answers it as {"ok": false, "error": "charon: ..."}.
  json status() {
    ike::CharonView view;
    view.socket = vici_path();
    if (connected_) {
      try {
        view = ike::query_charon(charon_);
        view.socket = vici_path();
      } catch (const vici::ConnectionError& e) {
        disconnected(e.what());
        view = {};
        view.socket = vici_path();
      } catch (const vici::Error& e) {
        throw std::runtime_error(std::string("charon: ") + e.what());
      }
    }
    json j = ike::status_json(config_, view);
    // Its clients and what the server's limits did (docs/control-protocol.md#limits).
    if (server_ != nullptr) j["status_socket"] = server_->status();
    return j;
  }

  Options options_;
  config::Config config_;
  ike::Log& log_;
  const protocol::LineServer* server_ = nullptr;  // run()'s, while it runs
  vici::Client charon_;
  vici::EventClient events_;
  ike::ConnectionSync sync_;
  std::vector<std::string> event_names_;
  bool connected_ = false;
  bool unreachable_logged_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "espgw-ike: " << e.what() << "\n";
    return 2;
  }
  std::unique_ptr<ike::Log> log;
  if (options.foreground) {
    log = std::make_unique<ike::StderrLog>();
  } else {
    log = std::make_unique<ike::SyslogLog>();
  }
  // Reloads read the same file, wherever the daemon's working directory is.
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(options.config, ec);
  if (!ec) options.config = absolute.string();
  config::Config config;
  try {
    config = config::load_file(options.config);
  } catch (const config::ConfigError& e) {
    std::cerr << "espgw-ike: " << e.what() << "\n";
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT})
    sigaddset(&signals, s);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::cerr << "espgw-ike: signalfd: " << std::strerror(errno) << "\n";
    return 1;
  }
  const bool foreground = options.foreground;
  try {
    EspgwIke app(std::move(options), std::move(config), *log);
    return app.run(signal_fd);
  } catch (const std::exception& e) {
    if (!foreground) log->error(std::string("start-up failed: ") + e.what());  // syslog too
    std::cerr << "espgw-ike: start-up failed: " << e.what() << "\n";
    return 1;
  }
}
