// libFuzzer target: the exporter's HTTP request parser (metrics/http_server.h), which reads what
// any client of the metrics port sends. Every input parses without a crash; an accepted request
// is a GET or HEAD of a path that starts with '/' and holds no query, space or line break; a
// refused one is 400, 405 or 505 with a message and nothing else.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using espgw::metrics::parse_http_request;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)espgw::metrics::http_head_complete(in);
  const auto r = parse_http_request(in);
  if (r.status == 0) {
    if (r.method != "GET" && r.method != "HEAD") std::abort();
    if (r.path.empty() || r.path[0] != '/') std::abort();
    if (r.path.find_first_of("? \r\n") != std::string_view::npos) std::abort();
  } else if (r.status == 400 || r.status == 405 || r.status == 505) {
    if (r.error.empty() || !r.method.empty() || !r.path.empty()) std::abort();
  } else {
    std::abort();
  }
  return 0;
}
