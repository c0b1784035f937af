#pragma once
// charon's events as one readable log line each: the tunnel (the IKE_SA's config name), the
// IKE_SA and CHILD_SA unique ids, SPIs in hex, states, addresses and algorithms. VICI events
// carry no key material; these lines add none.
//
//   ike-updown: tunnel t2 IKE_SA #1 up, ESTABLISHED, IKEv2 192.0.2.1[4500] <-> 192.0.2.2[4500],
//     SPIs 4c5e1a2b3c4d5e6f_i 0123456789abcdef_r, AES_CBC-128/HMAC_SHA2_256_128/...
//   child-updown: tunnel t2 IKE_SA #1 CHILD_SA t2 #2 up, INSTALLED, ESP in UDP, SPIs in
//     0xc1a2b3c4 out 0x0badf00d, AES_GCM_16-128, 10.1.0.0/24 === 10.2.0.0/24
//   child-rekey: tunnel t2 IKE_SA #1 CHILD_SA t2 #2 -> #4, SPIs in 0x... out 0x... -> in 0x...
//   log: [IKE] t2 #1: message

#include <optional>
#include <string>
#include <string_view>

#include "ike-bridge/vici/message.h"

namespace espgw::ike {

// The events espgw-ike subscribes to (log only when asked for).
inline constexpr std::string_view kStateEvents[] = {"ike-updown", "ike-rekey", "child-updown",
                                                    "child-rekey"};

// One line for an event; for `log`, nullopt when its level is above `max_log_level`.
std::optional<std::string> describe_event(std::string_view name, const vici::Message& message,
                                          int max_log_level = 1);

}  // namespace espgw::ike
