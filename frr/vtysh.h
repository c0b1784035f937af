#pragma once
// FRR's state as vtysh gives it: `vtysh -N <instance> -c '<command>'`, run with a deadline, its
// JSON answer parsed. For the operators' views (espgwctl bgp, espgw-exporter); never on a path
// that carries packets.

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace espgw::frr {

inline constexpr const char* kVtysh = "/usr/bin/vtysh";

// FRR does not answer: vtysh missing, no daemon of the instance running ("Exiting: failed to
// connect to any daemons."), the daemon the command is for not running ("bgpd is not running"),
// the deadline passed, or an answer that is not JSON. what() says which, with vtysh's own words.
struct FrrUnreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The JSON vtysh prints for `command` (which must end in "json"). Waits at most timeout_ms for
// vtysh to finish, then kills it. The answer is limited to 64 MiB. `vtysh` is the binary
// (kVtysh; the tests may name another).
nlohmann::json vtysh_json(const std::string& instance, const std::string& command, int timeout_ms,
                          const std::string& vtysh = kVtysh);

}  // namespace espgw::frr
