#include "protocol/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace espgw::protocol {

using nlohmann::json;

namespace {

struct Closer {
  int fd;
  ~Closer() { close(fd); }
};

}  // namespace

std::string exchange(const std::string& path, const std::string& request, const ClientOptions& o) {
  const std::string& daemon = o.daemon;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    throw Unreachable("cannot connect to " + path + ": path too long for a Unix socket");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Unreachable(std::string("cannot create a socket: ") + std::strerror(errno));
  const Closer closer{fd};
  if (o.timeout_s > 0) {
    timeval tv{};
    tv.tv_sec = o.timeout_s;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    std::string why = std::strerror(e);
    if (e == ENOENT) {
      why += " (is " + daemon + " running? -s SOCKET or -c CONFIG names another socket)";
    } else if (e == ECONNREFUSED) {
      why += " (a socket file that no " + daemon + " serves: " + daemon + " is not running)";
    } else if (e == EACCES || e == EPERM) {
      why += " (the socket is mode 0600: run espgwctl as " + daemon + "'s user, root)";
    }
    throw Unreachable("cannot connect to " + path + ": " + why);
  }
  const std::string line = request + "\n";
  for (size_t sent = 0; sent < line.size();) {
    // MSG_NOSIGNAL: a daemon that closes first must not SIGPIPE the client.
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Unreachable("cannot send to " + path + ": " + std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[65536];
  for (;;) {
    const size_t nl = response.find('\n');
    if (nl != std::string::npos) {
      response.resize(nl);
      return response;
    }
    if (o.max_answer != 0 && response.size() > o.max_answer) {
      throw Unreachable("answer too large from " + daemon + " on " + path);
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      throw Unreachable("no answer from " + daemon + " on " + path + " within " +
                        std::to_string(o.timeout_s) + " s");
    }
    if (n < 0) throw Unreachable("cannot read from " + path + ": " + std::strerror(errno));
    if (n == 0) {
      throw Unreachable(daemon + " closed the connection on " + path +
                        " before answering completely");
    }
    response.append(buf, static_cast<size_t>(n));
  }
}

json parse_answer(const std::string& line, const std::string& path, const ClientOptions& o) {
  json resp;
  try {
    resp = json::parse(line);
  } catch (const json::exception&) {
    throw Refused(o.daemon + " on " + path + " answered with something that is not JSON");
  }
  if (!resp.is_object()) throw Refused(o.daemon + " on " + path + " answered with no object");
  return resp;
}

void check_ok(const json& resp, const ClientOptions& o) {
  if (resp.value("ok", false)) return;
  const json e = resp.value("error", json());
  throw Refused(e.is_string() ? e.get<std::string>() : o.daemon + " refused the request");
}

json ask(const std::string& path, const json& request, const ClientOptions& o) {
  json resp = parse_answer(exchange(path, request.dump(), o), path, o);
  check_ok(resp, o);
  return resp;
}

}  // namespace espgw::protocol
