#pragma once
// The one rule for repeating input in a message (an error, a log line, a CLI's complaint): a value
// that may be key material is never repeated, wherever it was written by mistake (a key pasted
// into a name, an SPI, an MTU or an unknown option). Key material is what a key looks like when
// written:
//   - a key: 16 hex digits or more, marked as hex by a 0x, a letter a-f or strongSwan's
//     aa:bb:... form; or, inside a longer word, a run of 32 hex digits or more with a letter a-f
//     and a decimal digit (a key pasted after a prefix: "sa-add8f14e4...");
//   - a pre-shared key or password: one word of 8 or more characters with a digit and a run of
//     letters and digits in both cases (AWS's generated keys, base64).
// A plain decimal number, a name, a path, an address or a proposal (AES128-sha256 too) is shown,
// so that the message can say what was wrong. A name that mixes cases within a word and has a
// digit (VpcA-to-VpcB-1) is not: the rule errs on the side of the secret. A key of lower-case
// letters and digits only is beyond any rule that still shows names.
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
// The same for a command-line argument: the option without its dashes, and a value after '='
// ("--key=0x...").
bool option_looks_like_key(std::string_view arg) noexcept;
// An unknown option as a message shows it: quote()'s, with option_looks_like_key().
std::string quote_option(std::string_view arg);

// A value as a message shows it: quoted, escaped, cut at 80 characters; or, when it looks like key
// material, kNotShown instead.
std::string quote(std::string_view s);
inline constexpr std::string_view kNotShown = "(value not shown: it looks like key material)";
// The same without quotes or escapes, for names a message lists (a name holds no quotes).
std::string bare(std::string_view s);

}  // namespace espgw
