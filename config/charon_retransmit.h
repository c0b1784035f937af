#pragma once
// charon's IKEv2 retransmission schedule, derived from the config's DPD settings.
//
// strongSwan 5.9.8 ignores dpd_timeout for IKEv2: a peer is dead when the retransmissions of a
// DPD request run out, after retransmit_timeout x (1 + base + base^2 + ... + base^tries). Those
// three settings are global (charon.retransmit_*): they govern every IKEv2 exchange of every
// tunnel, IKE_SA_INIT, IKE_AUTH and rekeys included. espgw reads an IKEv2 tunnel's
// `dpd_timeout_s` as "a liveness check that gets no answer for this long declares the peer dead",
// and `espgw-up` writes the schedule below into charon's strongswan.conf so that it holds, for the
// shortest such timeout of the config (docs/ike-ha.md "Failover as shipped").

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"

namespace espgw::config {

// Five transmissions (the request and four retransmissions), each wait 1.4 times the previous:
// an exchange fails only when five in a row go unanswered, at any dpd_timeout_s.
inline constexpr double kRetransmitBase = 1.4;
inline constexpr uint32_t kRetransmitTries = 4;
// An IKEv2 dpd_timeout_s below this would retransmit an IKE_SA_INIT to a distant or busy peer
// before its answer could arrive (the first wait is dpd_timeout_s / 10.95); above the maximum the
// first retransmission of a lost packet would wait minutes.
inline constexpr uint32_t kMinIkev2DpdTimeout = 5;
inline constexpr uint32_t kMaxIkev2DpdTimeout = 300;
// The default for an IKEv2 tunnel (an IKEv1 tunnel's is 30, charon's dpd_timeout).
inline constexpr uint32_t kDefaultIkev2DpdTimeout = 10;

struct CharonRetransmit {
  double timeout_s = 0;  // charon.retransmit_timeout: the first wait
  double base = kRetransmitBase;
  uint32_t tries = kRetransmitTries;
  uint32_t gives_up_after_s = 0;  // the sum of the waits: the dpd_timeout_s it was made for
  std::string tunnel;             // the IKEv2 tunnel with that (shortest) dpd_timeout_s
};

// The sum 1 + base + ... + base^tries.
double retransmit_span_factor(double base, uint32_t tries) noexcept;

// The schedule for the config's IKEv2 tunnels: the shortest dpd_timeout_s among them decides.
// nullopt when there is no IKEv2 tunnel (charon's defaults then apply).
std::optional<CharonRetransmit> charon_retransmit(const Config& cfg);

}  // namespace espgw::config
