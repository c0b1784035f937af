#pragma once
// The SA state file's records and text (docs/sa-state.md): what SaStateFile (sa_state.h) keeps,
// writes and reads back. Without DPDK, so that the reader can be fuzzed (tests/fuzz).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/esp_sa_options.h"
#include "common/ip_address.h"

namespace espgw::dp {

struct SaStateRecord {
  esp::Direction direction = esp::Direction::kOutbound;
  uint32_t spi = 0;
  uint64_t fingerprint = 0;  // esp::key_fingerprint()
  std::string tunnel;
  uint64_t seq = 0;           // outbound: the last sent; inbound: the highest received
  std::vector<uint8_t> seen;  // inbound: the replay bitmap below seq (ReplayWindow::snapshot())
  uint64_t peak_pps = 0;      // outbound: the fastest it sent between two samples
  uint64_t sampled_ms = 0;    // this process's steady clock; 0: read from the file
  uint64_t gone_ms = 0;       // when its SA was last missing (0: live at the last sample)
  friend bool operator==(const SaStateRecord&, const SaStateRecord&) = default;
};

// A neighbour learned by ARP or ND, kept with the SAs: a restarted espgw uses it at once and
// probes it, instead of resolving every next hop again while traffic waits in the hold queue.
struct NeighbourRecord {
  std::string interface;
  IpAddress ip;
  std::array<uint8_t, 6> mac{};
  friend bool operator==(const NeighbourRecord&, const NeighbourRecord&) = default;
};

struct SaStateContents {
  uint32_t interval_ms = 0;  // the interval the writer kept
  std::vector<SaStateRecord> sas;
  std::vector<NeighbourRecord> neighbours;
  friend bool operator==(const SaStateContents&, const SaStateContents&) = default;
};

// The file's text, and the text read back: throws std::invalid_argument naming what is wrong
// ("sas[3]: ..."). parse_sa_state(format_sa_state(c)) == c, but for sampled_ms and gone_ms.
std::string format_sa_state(const SaStateContents& c);
SaStateContents parse_sa_state(const std::string& text);

}  // namespace espgw::dp
