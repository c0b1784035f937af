#include "config/charon_retransmit.h"

namespace espgw::config {

double retransmit_span_factor(double base, uint32_t tries) noexcept {
  double sum = 0, term = 1;
  for (uint32_t i = 0; i <= tries; ++i) {
    sum += term;
    term *= base;
  }
  return sum;
}

std::optional<CharonRetransmit> charon_retransmit(const Config& cfg) {
  std::optional<CharonRetransmit> out;
  for (const auto& t : cfg.tunnels) {
    if (!t.ike || t.ike->version != 2) continue;
    if (out && t.ike->dpd_timeout_s >= out->gives_up_after_s) continue;
    out = CharonRetransmit{};
    out->gives_up_after_s = t.ike->dpd_timeout_s;
    out->tunnel = t.name;
  }
  if (out) {
    out->timeout_s =
        out->gives_up_after_s / retransmit_span_factor(kRetransmitBase, kRetransmitTries);
  }
  return out;
}

}  // namespace espgw::config
