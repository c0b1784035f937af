#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace espgw::metrics {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kIoTimeoutMs = 5000;

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

bool send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, kIoTimeoutMs) <= 0) return false;
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
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
  if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd_, 16) != 0) {
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
  if (fd_ >= 0) close(fd_);
}

void HttpServer::serve(const volatile bool& stop) {
  while (!stop) {
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, 200);
    if (r <= 0) continue;
    const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) continue;
    handle(c);
    close(c);
  }
}

void HttpServer::handle(int fd) {
  std::string req;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoTimeoutMs);
  auto respond = [&](const HttpResponse& r, bool head) {
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
    out += "Content-Type: " + r.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += r.extra_headers;
    out += "Connection: close\r\n\r\n";
    if (!head) out += r.body;
    send_all(fd, out);
  };
  auto error = [&](int status, const std::string& msg) {
    respond({status, "text/plain; charset=utf-8", msg + "\n", ""}, false);
  };
  while (!http_head_complete(req)) {
    if (req.size() > kMaxRequest) return error(431, "request header too large");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return error(408, "request timeout");
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[2048];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;  // the client went away
    req.append(buf, static_cast<size_t>(n));
  }
  const HttpRequest r = parse_http_request(req);
  if (r.status == 405) {
    return respond({405, "text/plain; charset=utf-8", r.error + "\n", "Allow: GET, HEAD\r\n"},
                   false);
  }
  if (r.status != 0) return error(r.status, r.error);
  respond(handler_(r.method, r.path), r.method == "HEAD");
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
