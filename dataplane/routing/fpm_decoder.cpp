#include "dataplane/routing/fpm_decoder.h"

namespace espgw::routing {

FpmDecoder::StreamState FpmDecoder::feed(std::span<const uint8_t> bytes,
                                         std::vector<RouteEvent>& out) {
  if (state_ == StreamState::kClose) return state_;
  counters_.bytes += bytes.size();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  while (take_frame(out)) {
  }
  if (state_ == StreamState::kClose || start_ == buffer_.size()) {  // nothing more will be read
    buffer_.clear();
    start_ = 0;
  } else if (start_ >= buffer_.size() / 2) {  // a partial frame left: move it to the front
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  return state_;
}

bool FpmDecoder::take_frame(std::vector<RouteEvent>& out) {
  const size_t left = buffered();
  if (left < kFpmHeaderSize) return false;
  const uint8_t* h = buffer_.data() + start_;
  const size_t len = size_t{h[2]} << 8 | h[3];
  const auto at = [&] { return "FPM stream offset " + std::to_string(stream_offset_) + ": "; };
  if (h[0] != kFpmVersion || h[1] != kFpmTypeNetlink) {
    ++counters_.bad_fpm_header;
    last_error_ = at() + "version " + std::to_string(h[0]) + ", type " + std::to_string(h[1]) +
                  " (1 and 1, netlink, expected): closing the connection";
    state_ = StreamState::kClose;
    return false;
  }
  if (len < kFpmHeaderSize || len > limits_.max_frame) {
    ++counters_.bad_fpm_length;
    last_error_ =
        at() + "frame length " + std::to_string(len) +
        (len < kFpmHeaderSize ? " under the 4-byte header"
                              : " over the limit of " + std::to_string(limits_.max_frame)) +
        ": closing the connection";
    state_ = StreamState::kClose;
    return false;
  }
  if (left < len) return false;
  ++counters_.frames;
  std::string error;
  const std::span<const uint8_t> payload(h + kFpmHeaderSize, len - kFpmHeaderSize);
  decode_netlink_frame(payload, limits_.filter, counters_, out, error);
  if (!error.empty()) last_error_ = at() + error;
  start_ += len;
  stream_offset_ += len;
  return true;
}

void FpmDecoder::reset() noexcept {
  if (buffered() > 0) ++counters_.partial_frames_dropped;
  buffer_.clear();
  start_ = 0;
  stream_offset_ = 0;
  state_ = StreamState::kOpen;
}

}  // namespace espgw::routing
