#include "ike-bridge/vici/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace espgw::vici {

// ---- Connection ----------------------------------------------------------------------------

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      reader_(std::move(other.reader_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    reader_ = std::move(other.reader_);
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reader_ = FrameReader{};
}

Connection Connection::open(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    throw ConnectionError("VICI socket \"" + path + "\": not a usable Unix socket path");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ConnectionError(std::string("cannot create a socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    std::string why = std::strerror(e);
    if (e == ENOENT) why += " (is charon running, with the vici plugin on this socket?)";
    if (e == ECONNREFUSED) why += " (a socket file that no charon serves)";
    throw ConnectionError("cannot connect to charon's VICI socket " + path + ": " + why);
  }
  // Non-blocking from here: every wait is a poll() with a deadline.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return adopt(fd, path);
}

Connection Connection::adopt(int fd, std::string name) {
  Connection c;
  c.fd_ = fd;
  c.name_ = std::move(name);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return c;
}

void Connection::fail(const std::string& what) {
  close();
  throw ConnectionError("VICI " + name_ + ": " + what);
}

namespace {

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

}  // namespace

void Connection::send(const Packet& packet, Clock::time_point deadline) {
  if (fd_ < 0) throw ConnectionError("VICI " + name_ + ": not connected");
  const std::string bytes = encode_packet(packet);  // EncodeError: our bug, connection intact
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(std::string("cannot send: ") + std::strerror(errno));
    }
    pollfd p{fd_, POLLOUT, 0};
    const int r = ::poll(&p, 1, ms_until(deadline));
    if (r == 0) {
      close();
      throw TimeoutError("VICI " + name_ + ": charon did not take our " +
                         packet_type_name(packet.type) + " in time");
    }
    if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
  }
}

Connection::ReadResult Connection::read_some(Clock::time_point deadline) {
  for (;;) {
    uint8_t buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      reader_.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kClosed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(std::string("cannot read: ") + std::strerror(errno));
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, ms_until(deadline));
    if (r == 0) return ReadResult::kTimeout;
    if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
  }
}

void Connection::fail_closed() {
  fail(reader_.buffered() ? "charon closed the connection in the middle of a packet"
                          : "charon closed the connection");
}

std::optional<Packet> Connection::take_packet() {
  std::optional<std::string> payload;
  try {
    payload = reader_.next();
    if (!payload) return std::nullopt;
    return decode_packet(
        std::span(reinterpret_cast<const uint8_t*>(payload->data()), payload->size()));
  } catch (const DecodeError& e) {
    fail(std::string("malformed packet from charon: ") + e.what());
  }
}

Packet Connection::receive(Clock::time_point deadline) {
  if (fd_ < 0) throw ConnectionError("VICI " + name_ + ": not connected");
  for (;;) {
    if (auto p = take_packet()) return std::move(*p);
    switch (read_some(deadline)) {
      case ReadResult::kData: break;
      case ReadResult::kClosed: fail_closed();
      case ReadResult::kTimeout:
        close();
        throw TimeoutError("VICI " + name_ + ": no answer from charon in time");
    }
  }
}

std::vector<Packet> Connection::receive_available() {
  if (fd_ < 0) throw ConnectionError("VICI " + name_ + ": not connected");
  std::vector<Packet> packets;
  // A bounded number of reads, so that a peer that never stops sending cannot keep us here.
  for (int reads = 0; reads < 64; ++reads) {
    const ReadResult r = read_some(Clock::time_point{});  // a past deadline: no waiting
    while (auto p = take_packet())
      packets.push_back(std::move(*p));
    if (r == ReadResult::kTimeout) break;
    if (r == ReadResult::kClosed) {
      // The packets that came before the close are still delivered; the next call reports it.
      if (packets.empty()) fail_closed();
      ::shutdown(fd_, SHUT_RDWR);
      break;
    }
  }
  return packets;
}

// ---- Client --------------------------------------------------------------------------------

Client::Client(std::string path, std::chrono::milliseconds timeout)
    : path_(std::move(path)), timeout_(timeout) {}

void Client::connect() {
  conn_ = Connection::open(path_);
}

void Client::adopt(Connection connection) {
  conn_ = std::move(connection);
}

namespace {

std::string quoted(std::string_view s) {
  std::string q;  // not "\"" + s + "\"": GCC 12 warns falsely on that (-Wrestrict)
  q.reserve(s.size() + 2);
  q.push_back('"');
  q.append(s);
  q.push_back('"');
  return q;
}

}  // namespace

Message Client::request(std::string_view command, const Message& args) {
  return request_streamed(command, args, {}, {});
}

void Client::event_registration(PacketType type, std::string_view event) {
  Connection& c = conn_;
  c.send(Packet{type, std::string(event), {}}, deadline());
  for (;;) {
    Packet p = c.receive(deadline());
    if (p.type == PacketType::kEventConfirm) return;
    if (p.type == PacketType::kEventUnknown) {
      throw UnknownError("charon has no event " + quoted(event));
    }
    if (p.type == PacketType::kEvent) continue;  // a late event of an earlier stream
    c.close();
    throw ConnectionError("VICI " + path_ + ": " + packet_type_name(p.type) + " while " +
                          (type == PacketType::kEventRegister ? "registering" : "unregistering") +
                          " event " + quoted(event));
  }
}

Message Client::request_streamed(std::string_view command, const Message& args,
                                 std::string_view event,
                                 const std::function<void(const Message&)>& on_event) {
  Connection& c = conn_;  // not connected: send() says so; connect() is the caller's to call
  if (!event.empty()) event_registration(PacketType::kEventRegister, event);
  c.send(Packet{PacketType::kCmdRequest, std::string(command), args}, deadline());
  Message response;
  for (;;) {
    Packet p = c.receive(deadline());  // the deadline restarts with each packet of the stream
    if (p.type == PacketType::kEvent) {
      if (!event.empty() && p.name == event && on_event) {
        try {
          on_event(p.message);
        } catch (...) {
          c.close();  // the rest of the stream would be mistaken for the next command's
          throw;
        }
      }
      continue;
    }
    if (p.type == PacketType::kCmdResponse) {
      response = std::move(p.message);
      break;
    }
    if (p.type == PacketType::kCmdUnknown) {
      if (!event.empty()) event_registration(PacketType::kEventUnregister, event);
      throw UnknownError("charon has no command " + quoted(command));
    }
    c.close();
    throw ConnectionError("VICI " + path_ + ": " + packet_type_name(p.type) +
                          " in answer to command " + quoted(command));
  }
  if (!event.empty()) event_registration(PacketType::kEventUnregister, event);
  return response;
}

// ---- EventClient ---------------------------------------------------------------------------

EventClient::EventClient(std::string path, std::chrono::milliseconds timeout)
    : path_(std::move(path)), timeout_(timeout) {}

void EventClient::connect(const std::vector<std::string>& events) {
  adopt(Connection::open(path_), events);
}

void EventClient::adopt(Connection connection, const std::vector<std::string>& events) {
  conn_ = std::move(connection);
  early_.clear();
  subscribe(events);
}

void EventClient::subscribe(const std::vector<std::string>& events) {
  std::vector<std::string> unknown;
  for (const auto& name : events) {
    conn_.send(Packet{PacketType::kEventRegister, name, {}}, Clock::now() + timeout_);
    for (bool done = false; !done;) {
      Packet p = conn_.receive(Clock::now() + timeout_);
      switch (p.type) {
        case PacketType::kEventConfirm: done = true; break;
        case PacketType::kEventUnknown:
          unknown.push_back(name);
          done = true;
          break;
        case PacketType::kEvent: early_.push_back(Event{p.name, std::move(p.message)}); break;
        default:
          conn_.close();
          throw ConnectionError("VICI " + path_ + ": " + packet_type_name(p.type) +
                                " while registering event \"" + name + "\"");
      }
    }
  }
  if (!unknown.empty()) {
    std::string names;
    for (const auto& n : unknown)
      names += (names.empty() ? "" : ", ") + n;
    throw UnknownError("charon has no event " + names);
  }
}

std::vector<Event> EventClient::read() {
  std::vector<Event> events = std::move(early_);
  early_.clear();
  for (auto& p : conn_.receive_available()) {
    if (p.type != PacketType::kEvent) {
      conn_.close();
      throw ConnectionError("VICI " + path_ + ": " + packet_type_name(p.type) +
                            " on the event connection");
    }
    events.push_back(Event{std::move(p.name), std::move(p.message)});
  }
  return events;
}

}  // namespace espgw::vici
