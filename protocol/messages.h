#pragma once
// The control protocol's vocabulary, shared by the servers (espgw's control socket, espgw-ike's
// status socket) and the clients (espgwctl, espgw-exporter): numbers and SPIs as requests write
// them, directions, how a request line becomes a response line and how a value from a request may
// be quoted in an error (common/redact.h's rule, as everywhere). docs/control-protocol.md is the
// protocol's description.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace espgw::protocol {

// A 32-bit number written as decimal or 0x hex ("4097", "0x1001"): an SPI or an interface ID on
// espgwctl's command line and in a request's strings. Nothing else (no sign, no spaces).
std::optional<uint32_t> parse_u32(std::string_view text);
// A request's "spi": a number, or a string that parse_u32 reads.
std::optional<uint32_t> spi_from_json(const nlohmann::json& value);

// "in" or "out" for the words a request or espgwctl accepts ("in", "inbound", "out",
// "outbound"); nullopt for any other.
std::optional<std::string> direction_word(std::string_view word);

// One request line to one response line. The line must be a JSON object with a "cmd" string;
// `run` answers it with the command's members, to which "ok": true is added. Any failure becomes
// {"ok": false, "error": MESSAGE}: a line that is not JSON is described by the position of the
// error only (the text around it may be a key), and bytes of a value cut inside a UTF-8 sequence
// are replaced, so that no request can throw out of a server's loop.
std::string respond(const std::string& line,
                    const std::function<nlohmann::json(const nlohmann::json& request)>& run);

}  // namespace espgw::protocol
