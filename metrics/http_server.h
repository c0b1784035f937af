#pragma once
// A minimal HTTP/1.1 server for one scrape endpoint: one request per connection (answered with
// Connection: close), GET and HEAD only; no keep-alive, no chunked bodies, no TLS (bind it to
// loopback or a management address). One thread polls the listening socket and up to
// kMaxConnections connections, all non-blocking, so that no client holds up the others:
//   - a request head is read into a buffer of its own, at most 8 KiB (431 beyond), and must be
//     complete within 5 s of the accept (408, closed);
//   - the handler is called synchronously once the head is complete; its answer must be taken by
//     the client within 5 s, or the connection is closed;
//   - at capacity a new connection is still served: the one that has waited longest without a
//     complete request is closed (evicted), else the oldest.
// Each outcome is counted (stats(); docs/metrics.md). Limits: docs/metrics.md#the-http-server.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace espgw::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // "Allow: GET, HEAD\r\n"
};

// A request's head as the server reads it: complete once a blank line ends it (CRLF or LF).
bool http_head_complete(std::string_view head) noexcept;

// The request line of a complete head. status 0: a GET or HEAD of `path` (the query cut off);
// otherwise the answer to give: 400 (bad request line or target), 405 (another method: answered
// with Allow: GET, HEAD), 505 (not HTTP/1.x), with `error` its text. Fuzzed by
// tests/fuzz/http_request_fuzz.cpp.
struct HttpRequest {
  int status = 0;
  std::string error;
  std::string method;
  std::string path;
};
HttpRequest parse_http_request(std::string_view head);

class HttpServer {
 public:
  static constexpr size_t kMaxConnections = 64;

  // Connections since the server started, by how they ended; accepted = the outcomes + open.
  struct Stats {
    uint64_t accepted = 0;
    uint64_t answered = 0;          // the whole answer written (any status but 408 and 431)
    uint64_t evicted = 0;           // closed to make room for a new one
    uint64_t timeout = 0;           // head not complete, or answer not taken, in time
    uint64_t too_large = 0;         // head over 8 KiB (431)
    uint64_t closed_by_client = 0;  // gone before its head was complete or its answer taken
    uint64_t open = 0;              // now, a scrape's own connection included
  };

  using Handler = std::function<HttpResponse(const std::string& method, const std::string& path)>;
  // "127.0.0.1:9477", "[::1]:9477", ":9477" (all addresses); port 0 picks a free one.
  HttpServer(const std::string& listen, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string bound() const { return bound_; }  // "127.0.0.1:40123"
  // Serves until `stop` becomes true (checked at least every 200 ms). Throws nothing.
  void serve(const volatile bool& stop);
  Stats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    int fd = -1;       // -1: a free slot
    uint64_t seq = 0;  // accept order
    Clock::time_point deadline;
    std::string in;   // the head so far
    std::string out;  // the answer, once the head is complete
    size_t sent = 0;  // of out
    bool answering = false;
  };
  void turn();
  void accept_some(Clock::time_point now);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void answer(Connection& c);
  void refuse(Connection& c, int status, uint64_t Stats::*outcome);  // 408 or 431, then close
  void finish(Connection& c, uint64_t Stats::*outcome);
  Connection* victim();

  int fd_ = -1;
  std::string bound_;
  Handler handler_;
  std::array<Connection, kMaxConnections> conns_;
  Stats stats_;
  uint64_t seq_ = 0;
  Clock::time_point accept_paused_until_{};  // descriptors ran out: the listening socket rests
};

}  // namespace espgw::metrics
