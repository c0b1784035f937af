#pragma once
// zebra's FPM connection on the control thread (docs/routing.md "The listener"): a non-blocking
// TCP listener on routing.fpm's address and port, one connection at a time (a new one replaces
// the old), read into the FPM decoder once per control-loop turn. The App applies what a turn
// read as one transaction on a copy of the Model.
//
// FpmGrace holds the timing of the disconnect grace and the stale sweep, without sockets, so
// that the unit test drives it with a clock of its own.

#include <poll.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/routing/fpm_decoder.h"

namespace espgw::dp {

// What FPM routes must undergo at a moment (docs/routing.md "Disconnect and grace"):
//   - the connection closes: the routes stay until the grace period (grace_ms) ends, then all
//     go (kClearAll);
//   - a connection comes: the App marks every FPM route stale; the dump and what follows refresh
//     the marks; when the grace period that began at the last close ends (or grace_ms after a
//     connection that replaced another without a close), the ones still stale go (kSweepStale).
// Not sooner: zebra's dump has no end marker, and a restarted zebra dumps before bgpd has given
// it its routes again (measured: seconds later), so a sweep when the dump goes quiet would take
// live routes away. The grace period starts at a close and ends only with a sweep or a clear, so
// a connection that comes and goes cannot keep stale routes forever.
class FpmGrace {
 public:
  enum class Action : uint8_t { kNone, kSweepStale, kClearAll };

  explicit FpmGrace(uint64_t grace_ms) : grace_ms_(grace_ms) {}

  void connected(uint64_t now_ms);
  void closed(uint64_t now_ms);
  // What is due now; each action is returned once.
  Action due(uint64_t now_ms);

  bool is_connected() const noexcept { return connected_; }
  bool sweep_pending() const noexcept { return sweep_pending_; }
  // Time left of the grace period that a close started (nullopt: none running).
  std::optional<uint64_t> grace_left_ms(uint64_t now_ms) const;

 private:
  uint64_t grace_ms_;
  bool connected_ = false;
  bool sweep_pending_ = false;
  uint64_t sweep_at_ms_ = 0;             // with sweep_pending_
  std::optional<uint64_t> deadline_ms_;  // end of the grace period a close started
};

struct FpmListenerCounters {
  uint64_t connections = 0;  // accepted
  uint64_t replaced = 0;     // a connection closed because a new one came
  uint64_t closed_by_peer = 0;
  uint64_t closed_bad_stream = 0;  // the decoder asked for it (a bad FPM header)
  uint64_t read_errors = 0;
};

class FpmListener {
 public:
  // Listens at once; throws std::runtime_error naming the address when it cannot.
  explicit FpmListener(const config::FpmConfig& cfg);
  ~FpmListener();
  FpmListener(const FpmListener&) = delete;
  FpmListener& operator=(const FpmListener&) = delete;

  struct Turn {
    bool accepted = false;  // a new connection (the previous one, if any, is closed)
    bool closed = false;    // the connection went (and no new one came this turn)
  };
  // Accepts a waiting connection and reads what is there (at most kMaxReadPerTurn bytes), adding
  // the decoded route events to `out`. Never blocks.
  Turn poll(std::vector<routing::RouteEvent>& out);

  static constexpr size_t kMaxReadPerTurn = size_t{8} << 20;

  // The listening socket and the connection (POLLIN), appended to `out`: the control loop waits
  // on them with its other descriptors, so a frame wakes it at once.
  void add_pollfds(std::vector<pollfd>& out) const;

  bool connected() const noexcept { return conn_ >= 0; }
  const std::string& peer() const noexcept { return peer_; }
  const routing::FpmDecoder& decoder() const noexcept { return decoder_; }
  const FpmListenerCounters& counters() const noexcept { return counters_; }
  const std::string& listen_address() const noexcept { return listen_; }

 private:
  void close_conn();

  int listen_fd_ = -1;
  int conn_ = -1;
  std::string listen_;
  std::string peer_;
  routing::FpmDecoder decoder_;
  FpmListenerCounters counters_;
};

}  // namespace espgw::dp
