#include "dataplane/tools/espgwctl/command_line.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "common/redact.h"
#include "common/version.h"
#include "dataplane/tools/espgwctl/secrets.h"
#include "protocol/messages.h"
#include "protocol/socket_paths.h"

namespace espgw::ctl {

using protocol::kDefaultConfig;
using protocol::kDefaultControlSocket;

const char* const kUsage =
    R"(usage: espgwctl [-s SOCKET | -c CONFIG] [--json] [--all] [-t SECONDS] COMMAND

commands:
  status
  show counters|ports|workers|drops|tunnels|routes|neighbours|peers
  show sas [SPI]
  lanes [TUNNEL]        each lane of the tunnels of several lanes (or of TUNNEL)
  sa add|replace TUNNEL in|out SPI ALGORITHM KEY [SALT] [AUTHKEY]
  sa add|replace TUNNEL in|out --sa-json FILE|-
  sa del in|out SPI
  route add|replace PREFIX [via GATEWAY] dev INTERFACE
  route del PREFIX
  tunnel add|replace --json FILE|-
  tunnel del NAME
  apply FILE|-          a transaction: a JSON list of ops, applied whole or not at all
  stop
  ike status            IKE and CHILD_SAs of the IKE tunnels, from espgw-ike
  bgp [TUNNEL]          the tunnels' BGP sessions (state, prefixes, flaps, BFD), from FRR
                        (vtysh -N bgp.frr_instance of -c CONFIG)

offline commands (no socket; espgwctl COMMAND --help):
  import-aws FILE       an AWS VPN connection's configuration download -> config
                        (static or BGP routing; --frr-dir DIR: FRR's files too)
  import-ipsec-conf FILE  strongSwan's ipsec.conf and ipsec.secrets -> config
  mesh --regions FILE -o DIR  the configs of a full mesh of regions (--bgp: BGP and BFD)

options:
  -s, --socket SOCKET   the control socket (default: dataplane.control_socket of
                        /etc/espgw/espgw.yaml if readable, else /run/espgw/espgw.sock);
                        for ike: espgw-ike's socket (default: espgw-ike.sock in the
                        folder of the config's ike.vici_socket, /run/espgw/espgw-ike.sock)
  -c, --config CONFIG   read the socket path from this config file
  --json                print espgw's response as it came (one JSON line)
  --all                 show drops: every reason, not only those that happened
  -t, --timeout SECONDS wait this long for an answer (default 30; 0 = forever)
  -h, --help            this text
  --version             the version and git commit

SPIs are decimal or 0x hex. SALT is for GCM (or give KEY as key||salt); AUTHKEY for
AES-CBC. A key on the command line is visible to other users through ps: prefer
--sa-json FILE (mode 0600) or --sa-json - on stdin.
)";

namespace {

// Positions of KEY, SALT and AUTHKEY in `sa add|replace TUNNEL DIR SPI ALG KEY [SALT] [AUTHKEY]`.
constexpr size_t kFirstKeyWord = 6;

}  // namespace

bool is_sa_set(const std::vector<std::string>& w) {
  return w.size() >= 2 && w[0] == "sa" && (w[1] == "add" || w[1] == "replace");
}

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The keys first, so that no message below can print one.
  {
    std::vector<std::string> w;
    bool opts = true;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (opts && a == "--") {
        opts = false;
      } else if (opts && (a == "-s" || a == "--socket" || a == "-c" || a == "--config" ||
                          a == "-t" || a == "--timeout" || a == "--sa-json")) {
        ++i;
      } else if (opts && a == "--json" && w.size() == 2 && w[0] == "tunnel") {
        ++i;
      } else if (!opts || a == "-" || !a.starts_with("-")) {
        w.push_back(a);
        if (is_sa_set(w) && w.size() > kFirstKeyWord) g_secrets.add(a);
      }
    }
  }
  bool opts = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (!opts || a == "-" || !a.starts_with("-")) {
      inv.words.push_back(a);
    } else if (a == "--") {
      opts = false;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(kExitOk);
    } else if (a == "--version") {
      std::cout << version_line("espgwctl") << '\n';
      std::exit(kExitOk);
    } else if (a == "-s" || a == "--socket") {
      inv.socket = value();
    } else if (a == "-c" || a == "--config") {
      inv.config = value();
    } else if (a == "-t" || a == "--timeout") {
      const std::string v = value();
      const auto n = protocol::parse_u32(v);  // any 32-bit decimal
      if (!n || v.starts_with("0x") || *n > 86400) {
        throw UsageError("--timeout: expected 0 to 86400 seconds, got " + quote(v));
      }
      inv.timeout_s = static_cast<int>(*n);
    } else if (a == "--json" && inv.words.size() == 2 && inv.words[0] == "tunnel" &&
               (inv.words[1] == "add" || inv.words[1] == "replace") && !inv.tunnel_file &&
               i + 1 < args.size()) {
      inv.tunnel_file = value();
    } else if (a == "--json") {
      inv.json_out = true;
    } else if (a == "--all") {
      inv.all = true;
    } else if (a == "--sa-json") {
      inv.sa_file = value();
    } else {
      throw UsageError("unknown option " + quote_option(a));
    }
  }
  if (inv.socket && inv.config) throw UsageError("give -s SOCKET or -c CONFIG, not both");
  if (inv.words.empty()) throw UsageError("no command given");
  return inv;
}

void expect_args(const std::vector<std::string>& w, size_t min, size_t max,
                 const std::string& form) {
  if (w.size() < min || w.size() > max) throw UsageError("usage: espgwctl " + form);
}

std::string socket_path(const Invocation& inv) {
  if (inv.socket) return *inv.socket;
  if (inv.config) {
    try {
      return protocol::control_socket_from_config(*inv.config);
    } catch (const std::exception& e) {
      throw UsageError(*inv.config + ": cannot read the socket path: " + e.what());
    }
  }
  if (access(kDefaultConfig, R_OK) == 0) {
    try {
      return protocol::control_socket_from_config(kDefaultConfig);
    } catch (const std::exception& e) {
      err(std::string(kDefaultConfig) + ": cannot read the socket path (" + e.what() +
          "); trying " + kDefaultControlSocket);
    }
  }
  return kDefaultControlSocket;
}

std::string ike_socket_path(const Invocation& inv) {
  if (inv.socket) return *inv.socket;
  const std::string config = inv.config.value_or(kDefaultConfig);
  if (inv.config || access(kDefaultConfig, R_OK) == 0) {
    try {
      return protocol::ike_socket_from_config(config);
    } catch (const std::exception& e) {
      if (inv.config) throw UsageError(config + ": cannot read the socket path: " + e.what());
      err(config + ": cannot read the socket path (" + e.what() + "); trying the default");
    }
  }
  return protocol::kDefaultIkeSocket;
}

}  // namespace espgw::ctl
