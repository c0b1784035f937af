// espgwctl: the operator's CLI over espgw's control socket (docs/control-protocol.md), over
// espgw-ike's status socket for `ike status` (docs/espgw-ike.md), and over FRR's vtysh for `bgp`
// (show_bgp.h).
//   espgwctl [-s SOCKET | -c CONFIG] [--json] [--all] [-t SECONDS] COMMAND ...
// Its parts: the command line and the exit codes (command_line.h), the commands as requests
// (requests.h), the answers as text (show.h, show_lanes.h, show_ike.h), the keys it must never
// print (secrets.h); the socket itself is protocol/client.h's. The offline commands (import-aws,
// import-ipsec-conf, mesh) are config/import's.
//
// Keys given on the command line or in a FILE are never printed back: every message espgwctl
// prints, its own or espgw's, has them replaced first.

#include <iostream>
#include <string>

#include "common/redact.h"
#include "config/import/import.h"
#include "dataplane/tools/espgwctl/command_line.h"
#include "dataplane/tools/espgwctl/requests.h"
#include "dataplane/tools/espgwctl/secrets.h"
#include "dataplane/tools/espgwctl/show.h"
#include "dataplane/tools/espgwctl/show_bgp.h"
#include "dataplane/tools/espgwctl/show_ike.h"
#include "protocol/client.h"

namespace espgw::ctl {
namespace {

using nlohmann::json;

// One request to `daemon` on `path`; the answer as it came with --json (also an error's), else
// as `show` makes it. Throws for an error answer after printing it with --json.
template <class Show>
int ask(const Invocation& inv, const std::string& path, const json& request, const char* daemon,
        Show&& show) {
  const protocol::ClientOptions options{inv.timeout_s, daemon};
  const std::string line = protocol::exchange(path, request.dump(), options);
  const json resp = protocol::parse_answer(line, path, options);
  if (inv.json_out) out(line + "\n");
  protocol::check_ok(resp, options);
  if (!inv.json_out) out(show(resp));
  return kExitOk;
}

// `ike status`: espgw-ike's socket, not espgw's.
int run_ike(const Invocation& inv) {
  const auto& w = inv.words;
  if (inv.all || inv.sa_file) throw UsageError("usage: espgwctl ike status [--json]");
  expect_args(w, 2, 2, "ike status [--json]");
  if (w[1] != "status") throw UsageError("ike: unknown " + quote(w[1]) + " (status)");
  return ask(inv, ike_socket_path(inv), {{"cmd", "status"}}, "espgw-ike", ike_status_text);
}

int run(int argc, char** argv) {
  const Invocation inv = parse_command_line(argc, argv);
  if (inv.words[0] == "ike") return run_ike(inv);
  if (inv.words[0] == "bgp") return run_bgp(inv);
  const Request req = build_request(inv);
  return ask(inv, socket_path(inv), req.body, "espgw",
             [&](const json& resp) { return render(req, resp, inv.all); });
}

}  // namespace
}  // namespace espgw::ctl

int main(int argc, char** argv) {
  using namespace espgw::ctl;
  if (argc >= 2 && espgw::import::is_offline_command(argv[1])) {
    return espgw::import::run_offline_command(argc, argv);
  }
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    err(e.what());
    if (argc <= 1) std::cerr << kUsage;
    return kExitUsage;
  } catch (const espgw::protocol::Unreachable& e) {
    err(e.what());
    return kExitUnreachable;
  } catch (const std::exception& e) {  // ErrorResponse, protocol::Refused and the rest
    err(e.what());
    return kExitError;
  }
}
