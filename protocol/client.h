#pragma once
// The client side of the control protocol, without DPDK: one request line to a Unix socket, its
// answer line back (docs/control-protocol.md#framing). espgwctl, espgw-exporter and espgwctl's
// `ike status` (espgw-ike's status socket) use it; every message names the socket and the daemon
// that should serve it.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace espgw::protocol {

// The socket could not be reached, or gave no complete answer in time.
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The daemon answered, but not with {"ok": true, ...}: its error message, or what was wrong with
// the answer.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ClientOptions {
  int timeout_s = 30;            // for connecting, sending and the answer; 0: wait forever
  std::string daemon = "espgw";  // who serves the socket ("espgw", "espgw-ike"), for messages
  size_t max_answer = 0;         // an answer longer than this is an error; 0: no limit
};

// One connection, one request line out (`request` without its '\n'), the answer line back
// without its '\n'. Throws Unreachable.
std::string exchange(const std::string& path, const std::string& request,
                     const ClientOptions& options = {});
// An answer line as a JSON object; throws Refused for one that is not.
nlohmann::json parse_answer(const std::string& line, const std::string& path,
                            const ClientOptions& options = {});
// Throws Refused with the daemon's error unless the answer says "ok": true.
void check_ok(const nlohmann::json& answer, const ClientOptions& options = {});
// All three: the answer to `request`, which was a success.
nlohmann::json ask(const std::string& path, const nlohmann::json& request,
                   const ClientOptions& options = {});

}  // namespace espgw::protocol
