#pragma once
// A minimal HTTP/1.1 server for one scrape endpoint: one connection at a time, one request per
// connection (answered with Connection: close), bounded reads and writes. Enough for Prometheus;
// no keep-alive, no chunked bodies, no TLS (bind it to loopback or a management address).

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
  using Handler = std::function<HttpResponse(const std::string& method, const std::string& path)>;
  // "127.0.0.1:9477", "[::1]:9477", ":9477" (all addresses); port 0 picks a free one.
  HttpServer(const std::string& listen, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string bound() const { return bound_; }  // "127.0.0.1:40123"
  // Serves until `stop` becomes true (checked at least every 200 ms).
  void serve(const volatile bool& stop);

 private:
  void handle(int fd);
  int fd_ = -1;
  std::string bound_;
  Handler handler_;
};

}  // namespace espgw::metrics
