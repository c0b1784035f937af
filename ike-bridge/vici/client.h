#pragma once
// A VICI client over charon's Unix socket.
//
// VICI has no request ids: one command at a time per connection, and a response belongs to the
// last request. So a connection whose request timed out is closed (a late response would be taken
// for the next request's), and events are read on a second connection (EventClient) that sends
// no commands. Streamed commands (list-sas, list-conns) register their event on the command
// connection for the duration of the command, as libvici does.

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ike-bridge/vici/message.h"
#include "ike-bridge/vici/packet.h"

namespace espgw::vici {

// Any failure of the client. The subclasses say whether the connection is still usable.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The connection is gone or unusable (cannot connect, closed by charon, I/O error, a packet that
// does not decode or does not fit the exchange); it has been closed. Reconnect to go on.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// No answer in time. A ConnectionError: the connection was closed (see above).
class TimeoutError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// charon does not know the command (CMD_UNKNOWN) or the event (EVENT_UNKNOWN); the connection is
// still usable.
class UnknownError : public Error {
 public:
  using Error::Error;
};

using Clock = std::chrono::steady_clock;

// One stream connection: framing, deadlines, nothing of the exchange's meaning.
class Connection {
 public:
  Connection() = default;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Throws ConnectionError (the path, and why: no such socket, nobody listening, permissions).
  static Connection open(const std::string& path);
  // Wraps a connected stream socket (tests use socketpair()); takes ownership.
  static Connection adopt(int fd, std::string name);

  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  const std::string& name() const noexcept { return name_; }
  void close() noexcept;

  // Throw ConnectionError / TimeoutError, and close the connection when they do.
  void send(const Packet& packet, Clock::time_point deadline);
  Packet receive(Clock::time_point deadline);
  // Reads what has arrived without waiting; returns the complete packets (possibly none).
  std::vector<Packet> receive_available();

 private:
  enum class ReadResult { kData, kTimeout, kClosed };
  [[noreturn]] void fail(const std::string& what);
  [[noreturn]] void fail_closed();
  ReadResult read_some(Clock::time_point deadline);
  std::optional<Packet> take_packet();

  int fd_ = -1;
  std::string name_;
  FrameReader reader_;
};

// What espgw-ike asks of charon; Client is the real one, tests put a recorder in its place.
class Requester {
 public:
  virtual ~Requester() = default;
  // The response message. Throws Error.
  virtual Message request(std::string_view command, const Message& args) = 0;
  // A command whose results come as `event` packets before its response (list-sas: list-sa).
  virtual Message request_streamed(std::string_view command, const Message& args,
                                   std::string_view event,
                                   const std::function<void(const Message&)>& on_event) = 0;
};

// The command connection.
class Client final : public Requester {
 public:
  // `timeout`: how long to wait for each packet of an answer.
  Client(std::string path, std::chrono::milliseconds timeout);

  void connect();  // throws ConnectionError
  void adopt(Connection connection);
  bool connected() const noexcept { return conn_.is_open(); }
  void disconnect() noexcept { conn_.close(); }
  const std::string& path() const noexcept { return path_; }

  Message request(std::string_view command, const Message& args) override;
  Message request_streamed(std::string_view command, const Message& args, std::string_view event,
                           const std::function<void(const Message&)>& on_event) override;

 private:
  Clock::time_point deadline() const { return Clock::now() + timeout_; }
  void event_registration(PacketType type, std::string_view event);

  std::string path_;
  std::chrono::milliseconds timeout_;
  Connection conn_;
};

struct Event {
  std::string name;
  Message message;
};

// The event connection: registers for events, then only reads.
class EventClient {
 public:
  EventClient(std::string path, std::chrono::milliseconds timeout);

  // Connects and registers every event; throws ConnectionError, UnknownError (an event charon
  // does not have; the connection stays open with the others registered).
  void connect(const std::vector<std::string>& events);
  void adopt(Connection connection, const std::vector<std::string>& events);
  bool connected() const noexcept { return conn_.is_open(); }
  void disconnect() noexcept { conn_.close(); }
  int fd() const noexcept { return conn_.fd(); }

  // The events that have arrived, without waiting. Throws ConnectionError when charon closed
  // the connection (charon stopped) or sent something that is not an event.
  std::vector<Event> read();

 private:
  void subscribe(const std::vector<std::string>& events);

  std::string path_;
  std::chrono::milliseconds timeout_;
  Connection conn_;
  std::vector<Event> early_;  // events that came while registering
};

}  // namespace espgw::vici
