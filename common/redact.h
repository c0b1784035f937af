#pragma once
// The one rule for repeating input in a message (an error, a log line, a CLI's complaint): a value
// that may be key material is never repeated, wherever it was written by mistake (a key pasted
// into a name, an SPI or an unknown option). Key material is what a key looks like when written:
// 16 hex digits or more, marked as hex by a 0x, a letter a-f or strongSwan's aa:bb:... form. A
// plain decimal number, a name, a path or a proposal is shown, so that the message can say what
// was wrong.
//
// Every C++ binary uses these two (config, the control socket's errors, espgwctl, the importers).
// The charon plugin (C) repeats no input at all: it logs only SPIs and algorithm names
// (ike-bridge/plugin/kernel_espgw_ipsec.c). Two other guards sit beside this rule: VICI messages
// hide their secret fields by name (ike-bridge/vici/message.h), and espgwctl scrubs the keys and
// pre-shared keys it read from everything it prints (dataplane/tools/espgwctl/secrets.h).

#include <string>
#include <string_view>

namespace espgw {

bool looks_like_key(std::string_view s) noexcept;

// A value as a message shows it: quoted, escaped, cut at 80 characters; or, when it looks like key
// material, kNotShown instead.
std::string quote(std::string_view s);
inline constexpr std::string_view kNotShown = "(value not shown: it looks like key material)";

}  // namespace espgw
