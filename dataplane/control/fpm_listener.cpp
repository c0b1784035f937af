// zebra's FPM connection and the grace timing; see fpm_listener.h.
#include "dataplane/control/fpm_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace espgw::dp {

void FpmGrace::connected(uint64_t now_ms) {
  connected_ = true;
  sweep_pending_ = true;
  sweep_at_ms_ = deadline_ms_ ? *deadline_ms_ : now_ms + grace_ms_;
}

void FpmGrace::closed(uint64_t now_ms) {
  connected_ = false;
  if (!deadline_ms_) deadline_ms_ = now_ms + grace_ms_;
}

FpmGrace::Action FpmGrace::due(uint64_t now_ms) {
  if (!connected_) {
    if (!deadline_ms_ || now_ms < *deadline_ms_) return Action::kNone;
    deadline_ms_.reset();
    sweep_pending_ = false;
    return Action::kClearAll;
  }
  if (!sweep_pending_ || now_ms < sweep_at_ms_) return Action::kNone;
  sweep_pending_ = false;
  deadline_ms_.reset();
  return Action::kSweepStale;
}

std::optional<uint64_t> FpmGrace::grace_left_ms(uint64_t now_ms) const {
  if (!deadline_ms_) return std::nullopt;
  return *deadline_ms_ > now_ms ? *deadline_ms_ - now_ms : 0;
}

namespace {

std::string sockaddr_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  port = ntohs(a->sin6_port);
  std::string out = "[";  // appended: GCC 12 warns (-Wrestrict) on "[" + string + "]:"
  out.append(host);
  out.append("]:");
  out.append(std::to_string(port));
  return out;
}

}  // namespace

FpmListener::FpmListener(const config::FpmConfig& cfg) {
  sockaddr_storage ss{};
  socklen_t len;
  if (cfg.address.is_v4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(cfg.port);
    std::memcpy(&a->sin_addr, cfg.address.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(cfg.port);
    std::memcpy(&a->sin6_addr, cfg.address.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  listen_ = sockaddr_text(ss);
  listen_fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (listen_fd_ < 0 || setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(listen_fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      listen(listen_fd_, 4) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("routing.fpm: cannot listen on " + listen_ + ": " + why);
  }
}

FpmListener::~FpmListener() {
  close_conn();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void FpmListener::close_conn() {
  if (conn_ >= 0) ::close(conn_);
  conn_ = -1;
  peer_.clear();
  decoder_.reset();
}

void FpmListener::add_pollfds(std::vector<pollfd>& out) const {
  out.push_back({listen_fd_, POLLIN, 0});
  if (conn_ >= 0) out.push_back({conn_, POLLIN, 0});
}

FpmListener::Turn FpmListener::poll(std::vector<routing::RouteEvent>& out) {
  Turn turn;
  // The newest waiting connection wins: zebra reconnects with a fresh one, and an older one
  // would be a zebra that has gone.
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    if (conn_ >= 0) ++counters_.replaced;
    close_conn();
    conn_ = fd;
    peer_ = sockaddr_text(ss);
    ++counters_.connections;
    turn.accepted = true;
  }
  if (conn_ < 0) return turn;
  std::array<uint8_t, 65536> buf;
  size_t total = 0;
  while (total < kMaxReadPerTurn) {
    const ssize_t n = ::recv(conn_, buf.data(), buf.size(), 0);
    if (n > 0) {
      total += static_cast<size_t>(n);
      if (decoder_.feed({buf.data(), static_cast<size_t>(n)}, out) ==
          routing::FpmDecoder::StreamState::kClose) {
        ++counters_.closed_bad_stream;
        close_conn();
        turn.closed = true;
        break;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ++counters_.read_errors;
    } else {
      ++counters_.closed_by_peer;
    }
    close_conn();
    turn.closed = true;
    break;
  }
  return turn;
}

}  // namespace espgw::dp
