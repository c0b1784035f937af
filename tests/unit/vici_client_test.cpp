// The VICI client against a scripted charon on the other end of a socketpair: request/response,
// streamed commands, unknown commands and events, timeouts, a peer that closes or sends garbage.

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ike-bridge/vici/client.h"

namespace espgw::vici {
namespace {

using namespace std::chrono_literals;

// The server side: reads packets and answers as the script says, on its own thread.
class FakeCharon {
 public:
  using Script = std::function<void(FakeCharon&)>;

  explicit FakeCharon(Script script) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_fd_ = fds[0];
    server_ = Connection::adopt(fds[1], "fake charon");
    thread_ = std::thread([this, script = std::move(script)] {
      try {
        script(*this);
      } catch (const std::exception& e) {
        error_ = e.what();
      }
    });
  }
  ~FakeCharon() {
    if (thread_.joinable()) thread_.join();
  }

  Connection client_connection() { return Connection::adopt(client_fd_, "test"); }

  Packet expect(PacketType type, const std::string& name = "") {
    Packet p = server_.receive(Clock::now() + 5s);
    EXPECT_EQ(p.type, type) << packet_type_name(p.type);
    if (!name.empty()) {
      EXPECT_EQ(p.name, name);
    }
    return p;
  }
  void send(PacketType type, const std::string& name = "", Message m = {}) {
    server_.send(Packet{type, name, std::move(m)}, Clock::now() + 5s);
  }
  void send_raw(const std::string& bytes) {
    ASSERT_EQ(::send(server_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void close() { server_.close(); }
  // Waits until the client closed its end.
  void expect_closed() { EXPECT_THROW(server_.receive(Clock::now() + 5s), ConnectionError); }
  void join() {
    thread_.join();
    EXPECT_EQ(error_, "");
  }

 private:
  int client_fd_ = -1;
  Connection server_;
  std::thread thread_;
  std::string error_;
};

// {name = {uniqueid = id}}, as list-sa events are shaped.
Message sa_event(const std::string& name, const std::string& id) {
  Message m;
  m.add_section(name).add("uniqueid", id);
  return m;
}

TEST(ViciClient, RequestAndResponse) {
  FakeCharon charon([](FakeCharon& c) {
    Packet req = c.expect(PacketType::kCmdRequest, "version");
    EXPECT_TRUE(req.message.empty());
    c.send(PacketType::kCmdResponse, "", Message().add("daemon", "charon").add("version", "5.9.8"));
    req = c.expect(PacketType::kCmdRequest, "load-shared");
    EXPECT_EQ(req.message.value_or("type"), "IKE");
    c.send(PacketType::kCmdResponse, "", Message().add("success", "yes"));
  });
  Client client("test", 2s);
  client.adopt(charon.client_connection());
  EXPECT_EQ(client.request("version", {}).value_or("version"), "5.9.8");
  EXPECT_EQ(client.request("load-shared", Message().add("type", "IKE")).value_or("success"), "yes");
  charon.join();
}

TEST(ViciClient, StreamedCommandRegistersCollectsAndUnregisters) {
  FakeCharon charon([](FakeCharon& c) {
    c.expect(PacketType::kEventRegister, "list-sa");
    // An event of another stream, left over on this connection, comes first: ignored.
    c.send(PacketType::kEvent, "list-conn", Message().add("stale", "1"));
    c.send(PacketType::kEventConfirm);
    Packet req = c.expect(PacketType::kCmdRequest, "list-sas");
    EXPECT_EQ(req.message.value_or("noblock"), "yes");
    c.send(PacketType::kEvent, "list-sa", sa_event("a", "1"));
    c.send(PacketType::kEvent, "list-sa", sa_event("b", "2"));
    c.send(PacketType::kCmdResponse);
    c.expect(PacketType::kEventUnregister, "list-sa");
    c.send(PacketType::kEventConfirm);
  });
  Client client("test", 2s);
  client.adopt(charon.client_connection());
  std::vector<std::string> ids;
  client.request_streamed("list-sas", Message().add("noblock", "yes"), "list-sa",
                          [&](const Message& m) {
                            ASSERT_FALSE(m.entries().empty());
                            const auto& sa = std::get<Section>(m.entries()[0].value);
                            ids.push_back(sa.value_or("uniqueid"));
                          });
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(client.connected());
  charon.join();
}

TEST(ViciClient, UnknownCommandLeavesTheConnectionUsable) {
  FakeCharon charon([](FakeCharon& c) {
    c.expect(PacketType::kCmdRequest, "frobnicate");
    c.send(PacketType::kCmdUnknown);
    c.expect(PacketType::kCmdRequest, "version");
    c.send(PacketType::kCmdResponse, "", Message().add("version", "5.9.8"));
  });
  Client client("test", 2s);
  client.adopt(charon.client_connection());
  try {
    client.request("frobnicate", {});
    FAIL();
  } catch (const UnknownError& e) {
    EXPECT_STREQ(e.what(), "charon has no command \"frobnicate\"");
  }
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.request("version", {}).value_or("version"), "5.9.8");
  charon.join();
}

TEST(ViciClient, ATimeoutClosesTheConnection) {
  FakeCharon charon([](FakeCharon& c) {
    c.expect(PacketType::kCmdRequest, "initiate");
    c.expect_closed();  // never answers; sees the client give up
  });
  Client client("test", 200ms);
  client.adopt(charon.client_connection());
  const auto start = Clock::now();
  EXPECT_THROW(client.request("initiate", {}), TimeoutError);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_FALSE(client.connected());
  charon.join();
}

TEST(ViciClient, APeerThatClosesOrSendsGarbageGivesAConnectionError) {
  {
    FakeCharon charon([](FakeCharon& c) {
      c.expect(PacketType::kCmdRequest, "version");
      c.close();
    });
    Client client("test", 2s);
    client.adopt(charon.client_connection());
    try {
      client.request("version", {});
      FAIL();
    } catch (const ConnectionError& e) {
      EXPECT_STREQ(e.what(), "VICI test: charon closed the connection");
    }
    EXPECT_FALSE(client.connected());
    charon.join();
  }
  {
    FakeCharon charon([](FakeCharon& c) {
      c.expect(PacketType::kCmdRequest, "version");
      c.send_raw(std::string("\x00\x00\x00\x03\x01\x03\x00", 7));  // KEY_VALUE with no name
      c.expect_closed();
    });
    Client client("test", 2s);
    client.adopt(charon.client_connection());
    try {
      client.request("version", {});
      FAIL();
    } catch (const ConnectionError& e) {
      EXPECT_STREQ(e.what(),
                   "VICI test: malformed packet from charon: CMD_RESPONSE: byte 1: empty name");
    }
    charon.join();
  }
  {
    FakeCharon charon([](FakeCharon& c) {
      c.expect(PacketType::kCmdRequest, "version");
      c.send(PacketType::kEventConfirm);  // no command is answered with that
      c.expect_closed();
    });
    Client client("test", 2s);
    client.adopt(charon.client_connection());
    EXPECT_THROW(client.request("version", {}), ConnectionError);
    charon.join();
  }
}

TEST(ViciClient, ConnectingToNothingSaysWhy) {
  Client client("/nonexistent/charon.vici", 1s);
  try {
    client.connect();
    FAIL();
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to charon's VICI socket "
                                         "/nonexistent/charon.vici: No such file or directory"),
              std::string::npos)
        << e.what();
  }
}

TEST(ViciEvents, RegistersAndDeliversEventsThatCameEarly) {
  FakeCharon charon([](FakeCharon& c) {
    c.expect(PacketType::kEventRegister, "ike-updown");
    c.send(PacketType::kEventConfirm);
    c.expect(PacketType::kEventRegister, "child-updown");
    c.send(PacketType::kEvent, "ike-updown", Message().add("up", "yes"));  // before the confirm
    c.send(PacketType::kEventConfirm);
    c.expect(PacketType::kEventRegister, "no-such-event");
    c.send(PacketType::kEventUnknown);
    c.send(PacketType::kEvent, "child-updown", sa_event("t", "7"));
    c.close();
  });
  EventClient events("test", 2s);
  try {
    events.adopt(charon.client_connection(), {"ike-updown", "child-updown", "no-such-event"});
    FAIL();
  } catch (const UnknownError& e) {
    EXPECT_STREQ(e.what(), "charon has no event no-such-event");
  }
  charon.join();  // everything has been sent and the server end is closed
  std::vector<Event> got = events.read();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].name, "ike-updown");
  EXPECT_EQ(got[1].name, "child-updown");
  EXPECT_THROW(events.read(), ConnectionError);  // then charon's close
  EXPECT_FALSE(events.connected());
}

}  // namespace
}  // namespace espgw::vici
