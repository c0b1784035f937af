#pragma once
// The server side of a JSON-lines socket: a Unix stream socket, mode 0600 (root only: espgw's SA
// requests carry keys), one request per line, one response per line, in order, and event lines to
// the connections that subscribed. Single-threaded and without DPDK: espgw serves its control
// socket with it from the control thread's loop (dataplane/control/control_loop.cpp), espgw-ike its
// status socket from its poll() loop (ike-bridge/espgw_ike/main.cpp). docs/control-protocol.md
// describes the framing.

#include <poll.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

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

 private:
  struct Client {
    int fd;
    std::string in;
    std::string out;
    bool subscribed = false;
    bool read_closed = false;  // EOF or an error: only the answers left to send
  };
  void accept_client();
  bool read_client(Client& c);
  bool write_client(Client& c);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::vector<Client> clients_;
};

}  // namespace espgw::protocol
