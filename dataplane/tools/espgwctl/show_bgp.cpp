#include "dataplane/tools/espgwctl/show_bgp.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/redact.h"
#include "dataplane/tools/espgwctl/secrets.h"
#include "dataplane/tools/espgwctl/table.h"
#include "frr/bgp_peers.h"
#include "frr/bgp_view.h"
#include "frr/vtysh.h"
#include "protocol/client.h"
#include "protocol/socket_paths.h"

namespace espgw::ctl {
namespace {

using nlohmann::json;

std::string bgp_table(const json& view) {
  Table t(
      {"TUNNEL", "NEIGHBOUR", ">AS", "STATE", ">UPTIME", ">RECEIVED", ">SENT", ">FLAPS", "BFD"});
  for (const auto& s : view) {
    const json up = s.value("uptime_s", json());
    t.add({text_of(s["tunnel"]), text_of(s["neighbour"]), text_of(s["remote_asn"]),
           text_of(s["state"]), up.is_number() ? human_seconds(up.get<uint64_t>()) : "-",
           text_of(s["prefixes_received"]), text_of(s["prefixes_sent"]), text_of(s["flaps"]),
           text_of(s["bfd"])});
  }
  return t.render();
}

}  // namespace

int run_bgp(const Invocation& inv) {
  const auto& w = inv.words;
  if (inv.all || inv.sa_file || inv.socket) {
    throw UsageError("usage: espgwctl bgp [TUNNEL] [--json] [-c CONFIG]");
  }
  expect_args(w, 1, 2, "bgp [TUNNEL] [--json] [-c CONFIG]");
  const std::string config = inv.config.value_or(protocol::kDefaultConfig);
  frr::BgpPeers peers;
  try {
    peers = frr::bgp_peers_from_config(config);
  } catch (const std::exception& e) {
    throw UsageError(std::string("cannot read the config: ") + e.what());
  }
  if (!peers.enabled) throw ErrorResponse(config + " has no bgp section: FRR runs no sessions");
  if (w.size() == 2) {
    std::erase_if(peers.neighbours, [&](const frr::BgpNeighbour& n) { return n.tunnel != w[1]; });
    if (peers.neighbours.empty()) {
      throw ErrorResponse("tunnel " + quote(w[1]) + " has no bgp section in " + config);
    }
  }
  // -t 0 (forever) still gets a deadline: vtysh never blocks an operator for long.
  const int timeout_ms = (inv.timeout_s == 0 ? 3600 : inv.timeout_s) * 1000;
  json summary;
  json bfd;
  try {
    summary = frr::vtysh_json(peers.instance, "show bgp summary json", timeout_ms);
  } catch (const frr::FrrUnreachable& e) {
    throw protocol::Unreachable(std::string("FRR (instance ") + peers.instance +
                                ") does not answer: " + e.what());
  }
  bool any_bfd = false;
  for (const auto& n : peers.neighbours)
    any_bfd = any_bfd || n.bfd;
  std::string bfd_error;
  try {
    bfd = frr::vtysh_json(peers.instance, "show bfd peers json", timeout_ms);
  } catch (const frr::FrrUnreachable& e) {
    bfd_error = e.what();  // bfdd down: the sessions are still worth showing
  }
  const json view = frr::bgp_view(peers, summary, bfd);
  if (inv.json_out) {
    out(json{{"instance", peers.instance}, {"sessions", view}}.dump() + "\n");
  } else {
    out(bgp_table(view));
  }
  if (!bfd_error.empty() && any_bfd) err("BFD state unknown: " + bfd_error);
  return kExitOk;
}

}  // namespace espgw::ctl
