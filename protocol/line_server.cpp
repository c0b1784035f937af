#include "protocol/line_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace espgw::protocol {
namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

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
    if (fd < 0) {
      // Out of descriptors, the listening socket would stay readable and poll() spin: the
      // connection idle longest makes room.
      if ((errno == EMFILE || errno == ENFILE) && make_room()) continue;
      return;
    }
    ++stats_.accepted;
    if (clients() >= kMaxClients && !make_room()) {
      static constexpr char kFull[] =
          "{\"ok\":false,\"error\":\"too many connections to this socket, all of them "
          "subscribed\"}\n";
      (void)send(fd, kFull, sizeof kFull - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      ++stats_.refused;
      continue;
    }
    clients_.push_back({fd, {}, {}, false, false, false, 0, now_ms()});
  }
}

// The connection that is not an event stream and did nothing for longest: closed now (its slot
// stays in clients_ until poll() sweeps it, as poll() maps its descriptors by position).
bool LineServer::make_room() {
  Client* idlest = nullptr;
  for (auto& c : clients_) {
    if (!c.drop && !c.subscribed && (idlest == nullptr || c.active_ms < idlest->active_ms)) {
      idlest = &c;
    }
  }
  if (idlest == nullptr) return false;
  close(idlest->fd);
  idlest->fd = -1;
  idlest->drop = true;
  ++stats_.evicted;
  return true;
}

// The complete request lines of `in`, answered into `out` while the client reads its answers.
void LineServer::serve_lines(Client& c) {
  size_t nl;
  while (c.out.size() < kReadPause && (nl = c.in.find('\n', c.scanned)) != std::string::npos) {
    const std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    c.scanned = 0;
    c.active_ms = now_ms();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    bool subscribe = false;
    c.out += handler_(line, &subscribe);
    c.out += '\n';
    c.subscribed |= subscribe;
  }
  if (c.in.find('\n', c.scanned) == std::string::npos) c.scanned = c.in.size();
}

bool LineServer::read_client(Client& c) {
  char buf[65536];
  // Answers it does not read: its requests wait in the socket until it does (kReadPause).
  while (c.out.size() < kReadPause) {
    // No more than one byte past kMaxRequest is ever taken in, and the buffer grows no further
    // than that: doubling alone would hold 32 MiB for a line cut at 16 MiB.
    const size_t room = std::min(sizeof buf, kMaxRequest + 1 - c.in.size());
    const ssize_t n = read(c.fd, buf, room);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    // std::string gives at least twice its old capacity whatever it is asked for: asked for the
    // limit from a quarter of it or more, it gives exactly that.
    const size_t need = c.in.size() + static_cast<size_t>(n);
    if (const size_t cap = c.in.capacity(); need > cap) {
      c.in.reserve(cap * 4 > kMaxRequest + 1 ? kMaxRequest + 1 : std::max(need, cap * 2));
    }
    c.in.append(buf, static_cast<size_t>(n));
    serve_lines(c);
    if (c.in.size() > kMaxRequest) {
      ++stats_.too_large;
      c.drop = true;
      return false;
    }
  }
  return true;
}

bool LineServer::write_client(Client& c) {
  while (!c.out.empty()) {
    // MSG_NOSIGNAL: a client that closed before reading its answer must not SIGPIPE espgw.
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.out.erase(0, static_cast<size_t>(n));
    c.active_ms = now_ms();
  }
  return true;
}

// Unfinished request lines of all clients together stay under kMaxBuffered: the largest goes.
void LineServer::bound_buffers() {
  size_t total = 0;
  for (const auto& c : clients_)
    total += c.drop ? 0 : c.in.size();
  while (total > kMaxBuffered) {
    Client* largest = nullptr;
    for (auto& c : clients_) {
      if (!c.drop && (largest == nullptr || c.in.size() > largest->in.size())) largest = &c;
    }
    total -= largest->in.size();
    largest->drop = true;
    ++stats_.too_large;
  }
}

void LineServer::broadcast(const std::string& line) {
  for (auto& c : clients_) {
    if (!c.subscribed || c.drop) continue;
    if (c.out.size() > kMaxEvents) {  // it reads no events: it goes, rather than espgw's memory
      c.drop = true;
      ++stats_.slow_readers;
      continue;
    }
    c.out += line;
    c.out += '\n';
    write_client(c);
  }
}

nlohmann::json LineServer::status() const {
  return {{"clients", clients()},
          {"subscribers", subscribers()},
          {"accepted", stats_.accepted},
          {"evicted", stats_.evicted},
          {"refused", stats_.refused},
          {"too_large", stats_.too_large},
          {"slow_readers", stats_.slow_readers}};
}

size_t LineServer::clients() const noexcept {
  return static_cast<size_t>(
      std::count_if(clients_.begin(), clients_.end(), [](const Client& c) { return !c.drop; }));
}

size_t LineServer::subscribers() const noexcept {
  size_t n = 0;
  for (const auto& c : clients_)
    n += c.subscribed && !c.drop ? 1 : 0;
  return n;
}

void LineServer::poll(int timeout_ms, std::span<pollfd> also) {
  std::vector<pollfd> fds;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (auto& c : clients_) {
    const bool reading = !c.read_closed && c.out.size() < kReadPause;
    const int events = (reading ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT);
    fds.push_back({c.fd, static_cast<short>(events), 0});
  }
  const size_t own = fds.size();
  fds.insert(fds.end(), also.begin(), also.end());
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  for (size_t i = 0; i < also.size(); ++i)
    also[i].revents = ready > 0 ? fds[own + i].revents : 0;
  const bool dropped =
      std::any_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.drop; });
  if (ready <= 0 && !dropped) return;
  const size_t polled = clients_.size();
  if (ready > 0 && (fds[0].revents & POLLIN)) accept_client();
  for (size_t i = 0; i < clients_.size(); ++i) {
    Client& c = clients_[i];
    const short ev = i < polled ? fds[i + 1].revents : 0;
    if (!c.drop && !c.read_closed && (ev & (POLLIN | POLLHUP | POLLERR))) {
      c.read_closed = !read_client(c);
    }
  }
  bound_buffers();
  std::vector<Client> keep;
  for (auto& c : clients_) {
    if (c.drop) {
      if (c.fd >= 0) close(c.fd);
      continue;
    }
    bool ok = write_client(c);
    // Requests it sent before reading, taken in while its answers waited (kReadPause): served as
    // it reads them, until none is left or they wait again. Once, the answers of one batch could
    // all be written at once (a reader as fast as the writes) with requests still unserved, and a
    // client whose side was closed was let go with them.
    while (ok && c.out.size() < kReadPause && c.in.find('\n', c.scanned) != std::string::npos) {
      serve_lines(c);
      ok = write_client(c);
    }
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
