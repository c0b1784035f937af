// The control socket's server (protocol/line_server.h) against a subscriber that never reads its
// events: once kMaxEvents wait unread it is closed and counted, and the server's memory for it
// goes with it; a subscriber that reads keeps every event. The request-side limits run against a
// real espgw in tests/control/test_hostile_client.py.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

}  // namespace
}  // namespace espgw::protocol
