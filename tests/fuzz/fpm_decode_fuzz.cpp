// libFuzzer target: the FPM decoder (dataplane/routing/) over a byte stream as zebra's
// dplane_fpm_nl would send it: FPM headers, netlink headers, rtmsg, attributes, RTA_MULTIPATH.
// Every input decodes without a crash; the same bytes split at other places give the same events,
// state and counters; every event is a well-formed prefix, and an add has a next hop.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "dataplane/routing/fpm_decoder.h"

namespace {

using espgw::routing::FpmCounters;
using espgw::routing::FpmDecoder;
using espgw::routing::RouteAction;
using espgw::routing::RouteEvent;

std::vector<uint64_t> values(const FpmCounters& c) {
  std::vector<uint64_t> v;
  c.for_each([&](const char*, uint64_t x) { v.push_back(x); });
  return v;
}

void check(const RouteEvent& e) {
  const auto& a = e.prefix.address;
  const unsigned width = a.is_v4() ? 32 : 128;
  if (e.prefix.length > width) std::abort();
  for (unsigned bit = e.prefix.length; bit < width; ++bit)
    if (a.bytes[bit / 8] & (0x80 >> (bit % 8))) std::abort();
  if (e.action == RouteAction::kAdd && e.next_hops.empty()) std::abort();
  for (const auto& h : e.next_hops)
    if (h.gateway && h.gateway->family != a.family) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  // A small limit too, so that the over-the-limit path is reachable with short inputs.
  const size_t limit = size > 0 && (data[0] & 1) ? 256 : espgw::routing::kFpmMaxFrameSize;

  FpmDecoder whole({.max_frame = limit});
  std::vector<RouteEvent> expected;
  const auto state = whole.feed(in, expected);
  for (const auto& e : expected)
    check(e);
  if (whole.buffered() >= limit) std::abort();

  FpmDecoder split({.max_frame = limit});
  std::vector<RouteEvent> got;
  const size_t step = size > 1 ? 1 + data[size - 1] % 23 : 1;
  for (size_t off = 0; off < size; off += step)
    split.feed(in.subspan(off, std::min(step, size - off)), got);
  if (split.state() != state || got != expected) std::abort();
  // bytes counts what was offered; after kClose the rest is refused unread, so compare the others.
  auto a = values(whole.counters()), b = values(split.counters());
  a[0] = b[0] = 0;
  if (a != b) std::abort();
  return 0;
}
