#pragma once
// The server side of a JSON-lines socket: a Unix stream socket, mode 0600 (root only: espgw's SA
// requests carry keys), one request per line, one response per line, in order, and event lines to
// the connections that subscribed. Single-threaded and without DPDK: espgw serves its control
// socket with it from the control thread's loop (dataplane/control/control_loop.cpp), espgw-ike its
// status socket from its poll() loop (ike-bridge/espgw_ike/main.cpp). docs/control-protocol.md
// describes the framing.

#include <poll.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace espgw::protocol {

class LineServer {
 public:
  // Returns the response line. Setting *subscribe makes the connection an event stream: it then
  // receives every broadcast() line.
  using Handler = std::function<std::string(const std::string& request, bool* subscribe)>;

  // Throws std::runtime_error naming the path when the socket cannot be created. `what` and
  // `daemon` name the socket and its server in those messages (espgw-ike: "status socket",
  // "espgw-ike").
  LineServer(std::string path, Handler handler, std::string what = "control socket",
             std::string daemon = "espgw");
  ~LineServer();
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  // Waits up to timeout_ms for activity and serves what arrived. `also`: the caller's own
  // descriptors to wait on in the same poll() (espgw-ike's signals and VICI events); their
  // revents are set on return.
  void poll(int timeout_ms, std::span<pollfd> also = {});
  const std::string& path() const noexcept { return path_; }
  // One line to every subscribed connection (queued; sent from poll()).
  void broadcast(const std::string& line);
  size_t subscribers() const noexcept;
  size_t clients() const noexcept;  // open connections
  // clients(), subscribers() and stats() as both daemons' status shows them (espgw's
  // status.control_socket, espgw-ike's status_socket; docs/control-protocol.md#limits).
  nlohmann::json status() const;

  // What a hostile or broken client can hold (docs/control-protocol.md#limits).
  static constexpr size_t kMaxClients = 256;         // connections open at once
  static constexpr size_t kMaxRequest = 16u << 20;   // one request line
  static constexpr size_t kMaxBuffered = 64u << 20;  // unfinished request lines, all clients
  static constexpr size_t kReadPause = 1u << 20;     // answers unread: stop reading its requests
  static constexpr size_t kMaxEvents = 16u << 20;    // events unread by a subscriber
  struct Stats {
    uint64_t accepted = 0;
    uint64_t evicted = 0;       // the connection idle longest, closed to make room for a new one
    uint64_t refused = 0;       // a new connection with every slot taken by subscribers
    uint64_t too_large = 0;     // a request line over kMaxRequest, or the largest over kMaxBuffered
    uint64_t slow_readers = 0;  // a subscriber with kMaxEvents unread
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  struct Client {
    int fd;
    std::string in;
    std::string out;
    bool subscribed = false;
    bool read_closed = false;  // EOF or an error: only the answers left to send
    bool drop = false;         // to be closed now, unanswered
    size_t scanned = 0;        // bytes of `in` known to hold no newline
    uint64_t active_ms = 0;    // its last request or read answer
  };
  void accept_client();
  bool make_room();  // closes the idlest client that is not subscribed; false: none
  bool read_client(Client& c);
  void serve_lines(Client& c);
  bool write_client(Client& c);
  void bound_buffers();

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::vector<Client> clients_;
  Stats stats_;
};

}  // namespace espgw::protocol
