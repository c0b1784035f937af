#pragma once
// A minimal HTTP/1.1 server for one scrape endpoint: one connection at a time, one request per
// connection (answered with Connection: close), bounded reads and writes. Enough for Prometheus;
// no keep-alive, no chunked bodies, no TLS (bind it to loopback or a management address).

#include <functional>
#include <string>

namespace espgw::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // "Allow: GET, HEAD\r\n"
};

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
