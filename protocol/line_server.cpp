#include "protocol/line_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace espgw::protocol {
namespace {
constexpr size_t kMaxRequest = 16 << 20;  // docs/control-protocol.md#framing
}

LineServer::LineServer(std::string path, Handler handler, std::string what, std::string daemon)
    : path_(std::move(path)), handler_(std::move(handler)) {
  sockaddr_un addr{};
  if (path_.size() >= sizeof addr.sun_path) {
    throw std::runtime_error(what + " " + path_ + ": path too long");
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw std::runtime_error(what + ": " + std::string(strerror(errno)));
  // A stale socket from a crashed run is replaced; a live one is refused below by bind().
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    const bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(probe);
    if (live) {
      close(listen_fd_);
      throw std::runtime_error(what + " " + path_ + ": another " + daemon + " is running there");
    }
    unlink(path_.c_str());
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  const mode_t old = umask(0177);
  const int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0 || chmod(path_.c_str(), 0600) != 0 || listen(listen_fd_, 16) != 0) {
    const std::string err = strerror(errno);
    close(listen_fd_);
    throw std::runtime_error(what + " " + path_ + ": " + err);
  }
}

LineServer::~LineServer() {
  for (auto& c : clients_)
    close(c.fd);
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(path_.c_str());
  }
}

void LineServer::accept_client() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    clients_.push_back({fd, {}, {}, false});
  }
}

bool LineServer::read_client(Client& c) {
  char buf[65536];
  for (;;) {
    const ssize_t n = read(c.fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.in.append(buf, static_cast<size_t>(n));
    if (c.in.size() > kMaxRequest) return false;
    size_t nl;
    while ((nl = c.in.find('\n')) != std::string::npos) {
      const std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      bool subscribe = false;
      c.out += handler_(line, &subscribe);
      c.out += '\n';
      c.subscribed |= subscribe;
    }
  }
}

bool LineServer::write_client(Client& c) {
  while (!c.out.empty()) {
    // MSG_NOSIGNAL: a client that closed before reading its answer must not SIGPIPE espgw.
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.out.erase(0, static_cast<size_t>(n));
  }
  return true;
}

void LineServer::broadcast(const std::string& line) {
  for (auto& c : clients_) {
    if (!c.subscribed) continue;
    c.out += line;
    c.out += '\n';
    write_client(c);
  }
}

size_t LineServer::subscribers() const noexcept {
  size_t n = 0;
  for (const auto& c : clients_)
    n += c.subscribed ? 1 : 0;
  return n;
}

void LineServer::poll(int timeout_ms, std::span<pollfd> also) {
  std::vector<pollfd> fds;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (auto& c : clients_) {
    const int events = (c.read_closed ? 0 : POLLIN) | (c.out.empty() ? 0 : POLLOUT);
    fds.push_back({c.fd, static_cast<short>(events), 0});
  }
  const size_t own = fds.size();
  fds.insert(fds.end(), also.begin(), also.end());
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  for (size_t i = 0; i < also.size(); ++i)
    also[i].revents = ready > 0 ? fds[own + i].revents : 0;
  if (ready <= 0) return;
  const size_t polled = clients_.size();
  if (fds[0].revents & POLLIN) accept_client();
  std::vector<Client> keep;
  for (size_t i = 0; i < clients_.size(); ++i) {
    Client& c = clients_[i];
    const short ev = i < polled ? fds[i + 1].revents : 0;
    if (!c.read_closed && (ev & (POLLIN | POLLHUP | POLLERR))) c.read_closed = !read_client(c);
    const bool ok = write_client(c);
    // A client that sent its requests and closed its side still gets the whole answer, as fast
    // as it reads it: the control thread does not wait for it.
    if (ok && (!c.read_closed || !c.out.empty())) {
      keep.push_back(std::move(c));
    } else {
      close(c.fd);
    }
  }
  clients_ = std::move(keep);
}

}  // namespace espgw::protocol
