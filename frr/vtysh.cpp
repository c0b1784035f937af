#include "frr/vtysh.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <vector>

extern char** environ;

namespace espgw::frr {
namespace {

constexpr size_t kMaxAnswer = size_t{64} << 20;

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (pipe2(fd, O_CLOEXEC) != 0) throw FrrUnreachable(std::string("pipe: ") + strerror(errno));
  }
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void close_end(int i) {
    if (fd[i] >= 0) close(fd[i]);
    fd[i] = -1;
  }
};

// vtysh's stderr without its note about a vtysh.conf it did not find: what it says of FRR.
std::string why(const std::string& err) {
  std::istringstream in(err);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (line.empty() || line.find("Can't open configuration file") != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

}  // namespace

nlohmann::json vtysh_json(const std::string& instance, const std::string& command, int timeout_ms,
                          const std::string& vtysh) {
  const std::string what = "vtysh -N " + instance + " -c '" + command + "'";
  Pipe out;
  Pipe err;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {vtysh, "-N", instance, "-c", command};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, vtysh.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw FrrUnreachable(what + ": cannot run " + vtysh + ": " + strerror(rc));
  out.close_end(1);
  err.close_end(1);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string answer;
  std::string errors;
  bool timed_out = false;
  bool too_big = false;
  pollfd fds[2] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && n > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      const ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        std::string& to = i == 0 ? answer : errors;
        if (to.size() + static_cast<size_t>(got) > kMaxAnswer) {
          too_big = true;
          break;
        }
        to.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds[i].fd = -1;
      }
    }
    if (too_big) break;
  }
  if (timed_out || too_big) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    throw FrrUnreachable(what + ": no answer within " + std::to_string(timeout_ms) + " ms");
  }
  if (too_big) throw FrrUnreachable(what + ": an answer over 64 MiB");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string said = why(errors);
    throw FrrUnreachable(what + ": " + (said.empty() ? "failed" : said) +
                         (WIFEXITED(status) ? " (exit " + std::to_string(WEXITSTATUS(status)) + ")"
                                            : " (killed by a signal)"));
  }
  try {
    return nlohmann::json::parse(answer);
  } catch (const nlohmann::json::exception&) {
    std::string said = why(answer + "\n" + errors);
    if (said.size() > 200) said = said.substr(0, 200) + "...";
    throw FrrUnreachable(what + ": not JSON: " + said);
  }
}

}  // namespace espgw::frr
