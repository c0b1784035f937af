#pragma once
// espgwctl's command line: its options, the command's words, its exit codes and where the socket
// it talks to is. The keys among the words join the secrets (secrets.h) before anything can be
// printed.
//   espgwctl [-s SOCKET | -c CONFIG] [--json] [--all] [-t SECONDS] COMMAND ...
// Exit: 0 ok, 1 espgw answered with an error (printed to stderr), 2 usage error (a bad command
// line, or a FILE that cannot be read or is not JSON), 3 the socket cannot be reached.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace espgw::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

extern const char* const kUsage;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// An answer that says no (exit 1); protocol::Refused says the same for the daemon's own errors.
struct ErrorResponse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Invocation {
  std::optional<std::string> socket;
  std::optional<std::string> config;
  bool json_out = false;
  bool all = false;
  int timeout_s = 30;
  std::vector<std::string> words;  // the command and its arguments
  std::optional<std::string> tunnel_file;
  std::optional<std::string> sa_file;
};

Invocation parse_command_line(int argc, char** argv);
// `sa add` or `sa replace`: the commands whose words carry keys.
bool is_sa_set(const std::vector<std::string>& w);
// w has min to max words, else a UsageError showing `form`.
void expect_args(const std::vector<std::string>& w, size_t min, size_t max,
                 const std::string& form);

// espgw's control socket: -s, else dataplane.control_socket of -c CONFIG or of
// /etc/espgw/espgw.yaml if readable, else /run/espgw/espgw.sock.
std::string socket_path(const Invocation& inv);
// espgw-ike's status socket: -s, else beside ike.vici_socket of the config, else the default.
std::string ike_socket_path(const Invocation& inv);

}  // namespace espgw::ctl
