#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace espgw::metrics {
namespace {

constexpr size_t kMaxRequest = 8192;  // a request head, beyond which 431
constexpr int kIoTimeoutMs = 5000;    // to read a head from the accept, to write its answer
constexpr int kPollMs = 200;          // serve() looks at `stop` at least this often
constexpr int kAcceptBurst = 16;      // per turn: the connections' requests are read first
constexpr int kListenBacklog = 128;   // a burst of connects between two turns is not dropped
constexpr int kAcceptPauseMs = 100;   // descriptors ran out: the listening socket rests

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
  }
}

// The whole answer: status line, headers and, unless it answers a HEAD, the body.
std::string serialize(const HttpResponse& r, bool head) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += r.extra_headers;
  out += "Connection: close\r\n\r\n";
  if (!head) out += r.body;
  return out;
}

HttpResponse plain(int status, const std::string& text, std::string extra_headers = "") {
  return {status, "text/plain; charset=utf-8", text + "\n", std::move(extra_headers)};
}

}  // namespace

HttpServer::HttpServer(const std::string& listen, Handler handler) : handler_(std::move(handler)) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("--listen: expected ADDRESS:PORT, got \"" + listen + "\"");
  std::string host = listen.substr(0, colon);
  const std::string port_s = listen.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc() || end != port_s.data() + port_s.size() || port > 65535) {
    throw std::runtime_error("--listen: bad port \"" + port_s + "\"");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
      throw std::runtime_error("--listen: bad address \"" + host + "\"");
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (host.empty() || host == "*") {
      a->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      throw std::runtime_error("--listen: bad address \"" + host + "\"");
    }
    len = sizeof *a;
  }
  fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, kListenBacklog) != 0) {
    const int e = errno;
    close(fd_);
    throw std::runtime_error("cannot listen on " + listen + ": " + std::strerror(e));
  }
  sockaddr_storage got{};
  socklen_t got_len = sizeof got;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&got), &got_len);
  char b[INET6_ADDRSTRLEN] = {};
  if (got.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<sockaddr_in6*>(&got);
    inet_ntop(AF_INET6, &a->sin6_addr, b, sizeof b);
    bound_ = std::string(b);
    bound_.insert(bound_.begin(), '[');
    bound_ += "]:";
    bound_ += std::to_string(ntohs(a->sin6_port));
  } else {
    const auto* a = reinterpret_cast<sockaddr_in*>(&got);
    inet_ntop(AF_INET, &a->sin_addr, b, sizeof b);
    bound_ = std::string(b) + ":" + std::to_string(ntohs(a->sin_port));
  }
}

HttpServer::~HttpServer() {
  for (auto& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (fd_ >= 0) close(fd_);
}

HttpServer::Stats HttpServer::stats() const {
  Stats s = stats_;
  s.open = 0;
  for (const auto& c : conns_)
    s.open += c.fd >= 0 ? 1 : 0;
  return s;
}

void HttpServer::serve(const volatile bool& stop) {
  while (!stop) {
    try {
      turn();
    } catch (...) {
      // Only allocation throws here (the handler's exceptions become 500 answers): each
      // connection keeps its state and its deadline. Rest a little before the next turn.
      poll(nullptr, 0, 10);
    }
  }
}

// One poll() over the listening socket and the open connections: what is ready is read or
// written, new connections accepted, and those past their deadline closed.
void HttpServer::turn() {
  std::array<pollfd, kMaxConnections + 1> fds{};
  std::array<Connection*, kMaxConnections + 1> who{};  // nullptr: the listening socket
  size_t n = 0;
  const auto now = Clock::now();
  auto wake = now + std::chrono::milliseconds(kPollMs);
  if (now >= accept_paused_until_) {
    fds[n] = {fd_, POLLIN, 0};
    who[n++] = nullptr;
  } else {
    wake = std::min(wake, accept_paused_until_);
  }
  for (auto& c : conns_) {
    if (c.fd < 0) continue;
    fds[n] = {c.fd, static_cast<short>(c.answering ? POLLOUT : POLLIN), 0};
    who[n++] = &c;
    wake = std::min(wake, c.deadline);
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
  if (poll(fds.data(), n, static_cast<int>(std::max<decltype(ms)>(ms, 0))) < 0) return;
  // Deadlines are judged at the poll: a request that came while a handler ran is read first.
  const auto polled = Clock::now();
  bool listening = false;
  for (size_t i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    if (who[i] == nullptr) {
      listening = true;
    } else if (who[i]->fd >= 0) {
      who[i]->answering ? on_writable(*who[i]) : on_readable(*who[i]);
    }
  }
  if (listening) accept_some(Clock::now());
  for (auto& c : conns_) {
    if (c.fd < 0 || polled < c.deadline) continue;
    if (c.answering) {
      finish(c, &Stats::timeout);
    } else {
      refuse(c, 408, &Stats::timeout);
    }
  }
}

void HttpServer::accept_some(Clock::time_point now) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_until_ = now + std::chrono::milliseconds(kAcceptPauseMs);
      return;  // EAGAIN: none waiting
    }
    ++stats_.accepted;
    Connection* slot = nullptr;
    for (auto& c : conns_) {
      if (c.fd < 0) {
        slot = &c;
        break;
      }
    }
    if (slot == nullptr) {
      slot = victim();
      finish(*slot, &Stats::evicted);
    }
    slot->fd = fd;
    slot->seq = ++seq_;
    slot->deadline = now + std::chrono::milliseconds(kIoTimeoutMs);
    on_readable(*slot);  // a scraper sends its request at once: it may be here already
  }
}

// At capacity: the connection that has waited longest without a complete request, else (all of
// them are being answered) the oldest.
HttpServer::Connection* HttpServer::victim() {
  Connection* idle = nullptr;
  Connection* oldest = nullptr;
  for (auto& c : conns_) {
    if (c.fd < 0) continue;
    if (!c.answering && (idle == nullptr || c.seq < idle->seq)) idle = &c;
    if (oldest == nullptr || c.seq < oldest->seq) oldest = &c;
  }
  return idle != nullptr ? idle : oldest;
}

void HttpServer::on_readable(Connection& c) {
  char buf[4096];
  for (;;) {
    const size_t room = kMaxRequest + 1 - c.in.size();  // > 0: beyond kMaxRequest it is refused
    const ssize_t n = recv(c.fd, buf, std::min(sizeof buf, room), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return finish(c, &Stats::closed_by_client);
    const size_t old = c.in.size();
    c.in.append(buf, static_cast<size_t>(n));
    // Only the new bytes and the 3 before them can complete the head.
    if (http_head_complete(std::string_view(c.in).substr(old > 3 ? old - 3 : 0))) return answer(c);
    if (c.in.size() > kMaxRequest) return refuse(c, 431, &Stats::too_large);
  }
}

void HttpServer::answer(Connection& c) {
  const HttpRequest r = parse_http_request(c.in);
  HttpResponse resp;
  if (r.status == 405) {
    resp = plain(405, r.error, "Allow: GET, HEAD\r\n");
  } else if (r.status != 0) {
    resp = plain(r.status, r.error);
  } else {
    try {
      resp = handler_(r.method, r.path);
    } catch (...) {
      resp = plain(500, "internal error");
    }
  }
  std::string().swap(c.in);
  c.out = serialize(resp, r.status == 0 && r.method == "HEAD");
  c.sent = 0;
  c.answering = true;
  c.deadline = Clock::now() + std::chrono::milliseconds(kIoTimeoutMs);
  on_writable(c);
}

void HttpServer::on_writable(Connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      return finish(c, &Stats::closed_by_client);
    }
  }
  finish(c, &Stats::answered);
}

// 408 or 431: nothing has been written to the connection yet, so the short answer fits its
// socket's buffer in one try; then closed whether it went or not.
void HttpServer::refuse(Connection& c, int status, uint64_t Stats::*outcome) {
  const std::string out = serialize(
      plain(status, status == 408 ? "request timeout" : "request header too large"), false);
  (void)send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  finish(c, outcome);
}

void HttpServer::finish(Connection& c, uint64_t Stats::*outcome) {
  close(c.fd);
  ++(stats_.*outcome);
  c.fd = -1;
  c.answering = false;
  c.sent = 0;
  std::string().swap(c.in);  // their memory goes back: an idle slot holds none
  std::string().swap(c.out);
}

bool http_head_complete(std::string_view head) noexcept {
  return head.find("\r\n\r\n") != std::string_view::npos ||
         head.find("\n\n") != std::string_view::npos;
}

HttpRequest parse_http_request(std::string_view head) {
  HttpRequest r;
  auto fail = [&](int status, const char* what) {
    r.status = status;
    r.error = what;
    r.method.clear();
    r.path.clear();
    return r;
  };
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const size_t s1 = line.find(' ');
  const size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
  if (s1 == std::string_view::npos || s2 == std::string_view::npos)
    return fail(400, "bad request line");
  r.method = line.substr(0, s1);
  const std::string_view target = line.substr(s1 + 1, s2 - s1 - 1);
  if (!line.substr(s2 + 1).starts_with("HTTP/1.")) return fail(505, "HTTP/1.x only");
  if (target.empty() || target[0] != '/') return fail(400, "bad request target");
  r.path = target.substr(0, target.find('?'));
  if (r.method != "GET" && r.method != "HEAD") return fail(405, "GET or HEAD only");
  return r;
}

}  // namespace espgw::metrics
