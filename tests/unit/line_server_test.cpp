// The control socket's server (protocol/line_server.h) against a subscriber that never reads its
// events: once kMaxEvents wait unread it is closed and counted, and the server's memory for it
// goes with it; a subscriber that reads keeps every event. The request-side limits run against a
// real espgw in tests/control/test_hostile_client.py.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "protocol/line_server.h"

namespace espgw::protocol {
namespace {

int connect_to(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST(LineServer, ASubscriberThatNeverReadsIsClosed) {
  char dir[] = "/tmp/line_server_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s.sock";
  LineServer server(path, [](const std::string&, bool* subscribe) {
    *subscribe = true;
    return std::string("{\"ok\":true}");
  });
  const int quiet = connect_to(path);
  const int reader = connect_to(path);
  for (int fd : {quiet, reader})
    ASSERT_EQ(write(fd, "{\"cmd\":\"subscribe\"}\n", 20), 20);
  while (server.subscribers() < 2)
    server.poll(100);
  const std::string event(4000, 'e');
  size_t read_back = 0;
  char buf[65536];
  for (size_t sent = 0; sent < 2 * LineServer::kMaxEvents; sent += event.size() + 1) {
    server.broadcast(event);
    server.poll(0);
    ssize_t n;
    while ((n = recv(reader, buf, sizeof buf, MSG_DONTWAIT)) > 0)
      read_back += static_cast<size_t>(n);
  }
  EXPECT_EQ(server.stats().slow_readers, 1u);
  EXPECT_EQ(server.subscribers(), 1u);
  EXPECT_GT(read_back, LineServer::kMaxEvents);
  close(quiet);
  close(reader);
  std::system(("rm -rf " + std::string(dir)).c_str());
}

// The server's side of the connection to `path` (SO_ACCEPTCONN off, bound to the path): this
// process's descriptor, as LineServer accepted it.
int accepted_fd(const std::string& path) {
  for (int fd = 3; fd < 1024; ++fd) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t olen = sizeof listening;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sun_family == AF_UNIX && path == addr.sun_path &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == 0 && listening == 0) {
      return fd;
    }
  }
  return -1;
}

// A client that sends requests without reading until the server pauses (kReadPause), closes its
// side and then reads: every request is answered, in order, before the server closes. The server
// used to close once its answers were written and the client's side was closed, with requests it
// had read during the pause still unserved (espgw_ike_status_hostile saw 4841 of 6912 answers
// once in CI). That needs one write to hand the client a whole batch of answers: a send buffer
// of 16 MiB on the server's side (SO_SNDBUFFORCE, root) makes it so every time, here; the old
// server fails this test.
TEST(LineServer, RequestsReadDuringAPauseAreAnsweredAfterTheClientClosesItsSide) {
  char dir[] = "/tmp/line_server_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s.sock";
  int served = 0;
  LineServer server(path, [&served](const std::string&, bool*) {
    ++served;
    return std::string(4000, 'a');
  });
  const int fd = connect_to(path);
  while (server.clients() == 0)
    server.poll(100);
  const int server_fd = accepted_fd(path);
  ASSERT_GE(server_fd, 0);
  const int big = 16 << 20;
  if (setsockopt(server_fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0) {
    close(fd);
    std::system(("rm -rf " + std::string(dir)).c_str());
    GTEST_SKIP() << "SO_SNDBUFFORCE needs CAP_NET_ADMIN";
  }
  // 20,000 requests, 80 MB of answers: the server pauses with requests read and not served.
  constexpr int kAsked = 20000;
  std::string requests;
  for (int i = 0; i < kAsked; ++i)
    requests += "r\n";
  ASSERT_EQ(send(fd, requests.data(), requests.size(), 0), static_cast<ssize_t>(requests.size()));
  for (int before = -1; before != served;) {
    before = served;
    server.poll(10);
  }
  ASSERT_LT(served, kAsked) << "the server never paused";
  shutdown(fd, SHUT_WR);
  // The client reads all there is, then the server goes on, until it closes.
  size_t lines = 0;
  char buf[1 << 16];
  for (int rounds = 0; rounds < 10000; ++rounds) {
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
      lines += static_cast<size_t>(std::count(buf, buf + n, '\n'));
    if (n == 0) break;  // the server closed
    server.poll(0);
  }
  EXPECT_EQ(lines, static_cast<size_t>(kAsked));
  EXPECT_EQ(served, kAsked);
  close(fd);
  std::system(("rm -rf " + std::string(dir)).c_str());
}

}  // namespace
}  // namespace espgw::protocol
