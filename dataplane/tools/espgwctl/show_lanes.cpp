#include "dataplane/tools/espgwctl/show_lanes.h"

#include "dataplane/tools/espgwctl/command_line.h"
#include "dataplane/tools/espgwctl/table.h"

namespace espgw::ctl {

using nlohmann::json;

std::string lanes_table(const json& tunnels, const std::optional<std::string>& tunnel) {
  Table t({"TUNNEL", ">LANE", "STATE", "SPI IN", "SPI OUT", "PORTS", ">WORKER", ">PACKETS IN",
           ">BYTES IN", ">PACKETS OUT", ">BYTES OUT", ">BUCKETS"});
  bool found = false;
  for (const auto& x : tunnels) {
    const std::string name = x.value("name", "");
    const json lanes = x.value("lanes", json::array());
    if (tunnel ? name != *tunnel : lanes.size() < 2) continue;
    found = true;
    for (const auto& l : lanes) {
      const json sport = l.value("sport", json());
      const std::string ports =
          sport.is_null() ? "-" : text_of(sport) + "->" + text_of(l.value("dport", json()));
      t.add({name, text_of(l.value("lane", json())), text_of(l.value("state", json())),
             text_of(l.value("spi_in", json())), text_of(l.value("spi_out", json())), ports,
             text_of(l.value("worker", json())), text_of(l.value("packets_in", json())),
             human_bytes(number_of(l.value("bytes_in", json()))),
             text_of(l.value("packets_out", json())),
             human_bytes(number_of(l.value("bytes_out", json()))),
             text_of(l.value("buckets", json()))});
    }
  }
  if (tunnel && !found) throw ErrorResponse("no tunnel " + *tunnel);
  if (t.empty()) return "no tunnel has lanes\n";
  return t.render();
}

}  // namespace espgw::ctl
