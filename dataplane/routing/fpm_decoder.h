#pragma once
// zebra's FPM stream (dplane_fpm_nl, docs/routing.md "FPM from zebra") to route events. Feed it
// what recv() returned, split anywhere; it reassembles frames and decodes every netlink message
// in each (zebra 8.4 sends RTM_DELROUTE + RTM_NEWROUTE for one prefix in one frame).
//
//   u8 version (1) | u8 type (1: netlink) | u16 length, network order, header included | netlink
//
// No DPDK and no sockets: the control thread's listener owns the connection and this decoder.
//
// Resynchronisation: TCP carries no frame marker, so a header that is wrong (version, type, or a
// length under 4 or over the limit) leaves nothing to resynchronise on. feed() then returns
// kClose: the caller closes the connection, and zebra reconnects within 3 s and sends its full
// dump again. Everything after a good header is bounded by its length, so errors inside a frame
// drop that frame or message only (netlink_route.h) and the stream goes on.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dataplane/routing/fpm_counters.h"
#include "dataplane/routing/netlink_route.h"
#include "dataplane/routing/route_event.h"

namespace espgw::routing {

inline constexpr size_t kFpmHeaderSize = 4;
inline constexpr uint8_t kFpmVersion = 1;
inline constexpr uint8_t kFpmTypeNetlink = 1;
// fpm.h's FPM_MAX_MSG_LEN is 4096, but dplane_fpm_nl does not keep to it: it builds a frame from
// its 8 KiB netlink buffer (two messages for an update) and asserts only that the length fits
// the u16. The default limit is therefore the u16's; a smaller one bounds the buffer further.
inline constexpr size_t kFpmMaxFrameSize = 65535;

struct FpmLimits {
  size_t max_frame = kFpmMaxFrameSize;  // header included
  RouteFilter filter;
};

class FpmDecoder {
 public:
  enum class StreamState : uint8_t {
    kOpen,   // read on
    kClose,  // a bad FPM header: close the connection, then reset() before the next one
  };

  explicit FpmDecoder(FpmLimits limits = {}) : limits_(limits) {}

  // Appends the events of every frame that `bytes` completes to `out`, in stream order. Once it
  // has returned kClose it consumes nothing more until reset(). Throws only std::bad_alloc.
  StreamState feed(std::span<const uint8_t> bytes, std::vector<RouteEvent>& out);

  // For a new connection: drops a partial frame (counted) and the closed state; keeps counters.
  void reset() noexcept;

  StreamState state() const noexcept { return state_; }
  const FpmCounters& counters() const noexcept { return counters_; }
  // The latest error, naming its byte offset in the stream ("" when none yet).
  const std::string& last_error() const noexcept { return last_error_; }
  // Bytes held towards a frame not yet complete (always under the frame limit; 0 once closed).
  size_t buffered() const noexcept { return buffer_.size() - start_; }

 private:
  bool take_frame(std::vector<RouteEvent>& out);

  FpmLimits limits_;
  StreamState state_ = StreamState::kOpen;
  FpmCounters counters_;
  std::string last_error_;
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;            // first byte of buffer_ not yet consumed
  uint64_t stream_offset_ = 0;  // of buffer_[start_] in this connection's stream
};

}  // namespace espgw::routing
