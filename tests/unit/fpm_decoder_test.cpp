// The FPM decoder (dataplane/routing/): frames captured from FRR 8.4.4's dplane_fpm_nl
// (tests/routing/fpm_samples.jsonl, docs/routing.md), checked against the capture's own decoding
// by tests/routing/fpm_listen.py; the stream split every way; IPv6 and the skips on frames built
// here (the builder reproduces a captured frame byte for byte first); every malformed case with
// its counter and resynchronisation.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/hex.h"
#include "dataplane/routing/fpm_decoder.h"

namespace espgw::routing {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<uint8_t>;
using json = nlohmann::json;
using State = FpmDecoder::StreamState;

// --- the captured samples -------------------------------------------------------------------

struct Sample {
  std::string what;
  Bytes frame;
  json decoded;
};

const std::vector<Sample>& samples() {
  static const std::vector<Sample> all = [] {
    const char* env = std::getenv("ESPGW_FPM_SAMPLES");
    const std::string path = env ? env : "tests/routing/fpm_samples.jsonl";
    std::ifstream f(path);
    EXPECT_TRUE(f) << path;
    std::vector<Sample> v;
    for (std::string line; std::getline(f, line);) {
      if (line.empty()) continue;
      const json j = json::parse(line);
      const auto bytes = parse_hex(j.at("frame_hex").get<std::string>());
      EXPECT_TRUE(bytes) << line;
      v.push_back({j.at("what"), bytes.value_or(Bytes{}), j.at("decoded")});
    }
    return v;
  }();
  return all;
}

const Sample& sample(const std::string& what_starts) {
  for (const auto& s : samples())
    if (s.what.rfind(what_starts, 0) == 0) return s;
  ADD_FAILURE() << "no sample \"" << what_starts << "\"";
  static const Sample none;
  return none;
}

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

IpPrefix prefix(const std::string& text) {
  auto p = IpPrefix::parse(text);
  EXPECT_TRUE(p) << text;
  return p.value_or(IpPrefix{});
}

struct Decoded {
  State state;
  std::vector<RouteEvent> events;
};

Decoded decode(FpmDecoder& d, const Bytes& bytes) {
  Decoded r;
  r.state = d.feed(bytes, r.events);
  return r;
}

Decoded decode(const Bytes& bytes, FpmLimits limits = {}) {
  FpmDecoder d(limits);
  return decode(d, bytes);
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes all;
  for (const auto& p : parts)
    all.insert(all.end(), p.begin(), p.end());
  return all;
}

TEST(FpmSamples, AllElevenAreThere) {
  ASSERT_EQ(samples().size(), 11u);
  for (const auto& s : samples())
    EXPECT_FALSE(s.frame.empty()) << s.what;
}

TEST(FpmSamples, StaticRouteWithoutNextHopGroups) {
  const auto r = decode(sample("static route, no nhg").frame);
  EXPECT_EQ(r.state, State::kOpen);
  ASSERT_EQ(r.events.size(), 1u);
  const RouteEvent& e = r.events[0];
  EXPECT_EQ(e.action, RouteAction::kAdd);
  EXPECT_EQ(e.prefix, prefix("10.50.0.0/16"));
  ASSERT_EQ(e.next_hops.size(), 1u);
  EXPECT_EQ(e.next_hops[0], (NextHop{ip("169.254.44.2"), 2, 1}));
  EXPECT_EQ(e.protocol, 196);  // RTPROT_ZSTATIC
  EXPECT_EQ(e.table, 254u);
  EXPECT_EQ(e.metric, 20u);
}

TEST(FpmSamples, EcmpThroughMultipath) {
  for (const char* what : {"static ECMP, no nhg", "BGP ECMP, no nhg"}) {
    SCOPED_TRACE(what);
    const auto r = decode(sample(what).frame);
    ASSERT_EQ(r.events.size(), 1u);
    const RouteEvent& e = r.events[0];
    EXPECT_EQ(e.action, RouteAction::kAdd);
    ASSERT_EQ(e.next_hops.size(), 2u);
    EXPECT_EQ(e.next_hops[0], (NextHop{ip("169.254.44.2"), 2, 1}));
    EXPECT_EQ(e.next_hops[1], (NextHop{ip("169.254.44.6"), 3, 1}));
  }
  EXPECT_EQ(decode(sample("BGP ECMP").frame).events[0].prefix, prefix("10.2.0.0/16"));
  EXPECT_EQ(decode(sample("BGP ECMP").frame).events[0].protocol, 186);  // bgp
}

TEST(FpmSamples, DeleteAndAddInOneFrameBothCome) {
  FpmDecoder d;
  const auto r = decode(d, sample("BGP route update, no nhg").frame);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].action, RouteAction::kDelete);
  EXPECT_EQ(r.events[0].prefix, prefix("10.2.0.0/16"));
  EXPECT_TRUE(r.events[0].next_hops.empty());
  EXPECT_EQ(r.events[1].action, RouteAction::kAdd);
  EXPECT_EQ(r.events[1].prefix, prefix("10.2.0.0/16"));
  ASSERT_EQ(r.events[1].next_hops.size(), 1u);
  EXPECT_EQ(r.events[1].next_hops[0], (NextHop{ip("169.254.44.6"), 3, 1}));
  EXPECT_EQ(d.counters().frames, 1u);
  EXPECT_EQ(d.counters().messages, 2u);
  EXPECT_EQ(d.counters().routes_deleted, 1u);
  EXPECT_EQ(d.counters().routes_added, 1u);
}

TEST(FpmSamples, WithdrawNamesThePrefixOnly) {
  const auto r = decode(sample("BGP withdraw").frame);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].action, RouteAction::kDelete);
  EXPECT_EQ(r.events[0].prefix, prefix("10.3.0.0/16"));
  EXPECT_TRUE(r.events[0].next_hops.empty());
  EXPECT_EQ(r.events[0].metric, 20u);
}

TEST(FpmSamples, SkipsAreCountedNotErrors) {
  struct Case {
    const char* what;
    uint64_t FpmCounters::*counter;
  };
  for (const Case& c :
       {Case{"nexthop object", &FpmCounters::skipped_nexthop_messages},
        Case{"nexthop group", &FpmCounters::skipped_nexthop_messages},
        Case{"static route in nhg mode", &FpmCounters::skipped_nexthop_group_routes},
        Case{"connected route", &FpmCounters::skipped_connected},
        Case{"IPv6 link-local connected", &FpmCounters::skipped_connected}}) {
    SCOPED_TRACE(c.what);
    FpmDecoder d;
    const auto r = decode(d, sample(c.what).frame);
    EXPECT_EQ(r.state, State::kOpen);
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(d.counters().*c.counter, 1u);
    EXPECT_EQ(d.counters().skipped(), 1u);
    EXPECT_EQ(d.counters().errors(), 0u);
    EXPECT_EQ(d.last_error(), "");
  }
}

// Every captured route message that espgw takes, against fpm_listen.py's decoding of it.
TEST(FpmSamples, AgreeWithTheCapturesOwnDecoding) {
  size_t checked = 0;
  for (const auto& s : samples()) {
    SCOPED_TRACE(s.what);
    const auto r = decode(s.frame);
    std::vector<RouteEvent> expected;
    for (const json& m : s.decoded) {
      const std::string type = m.at("type");
      if (type != "RTM_NEWROUTE" && type != "RTM_DELROUTE") continue;
      if (m.at("protocol") == "kernel") continue;
      RouteEvent e;
      e.action = type == "RTM_NEWROUTE" ? RouteAction::kAdd : RouteAction::kDelete;
      e.table = m.at("table");
      e.protocol = m.at("protocol") == "bgp" ? 186 : m.at("protocol") == "zstatic" ? 196 : 0;
      bool nhg = false;
      std::string dst;
      NextHop single;
      for (const json& a : m.at("attrs")) {
        const std::string name = a[0];
        if (name == "RTA_DST") dst = a[1];
        if (name == "RTA_PRIORITY") e.metric = a[1];
        if (name == "RTA_NH_ID") nhg = true;
        if (name == "RTA_GATEWAY") single.gateway = ip(a[1].get<std::string>().c_str());
        if (name == "RTA_OIF") single.ifindex = a[1];
        if (name == "RTA_MULTIPATH")
          for (const json& h : a[1])
            e.next_hops.push_back(NextHop{ip(h.at("attrs")[0][1].get<std::string>().c_str()),
                                          h.at("ifindex"), uint16_t(h.at("hops").get<int>() + 1)});
      }
      if (single.gateway || single.ifindex) e.next_hops.push_back(single);
      e.prefix = prefix(dst + "/" + std::to_string(m.at("dst_len").get<int>()));
      if (nhg && e.action == RouteAction::kAdd) continue;
      expected.push_back(e);
    }
    EXPECT_EQ(r.events, expected);
    checked += expected.size();
  }
  EXPECT_EQ(checked, 7u);  // 5 adds (one beside its delete in the update frame), 2 deletes
}

// --- splits ---------------------------------------------------------------------------------

Bytes all_samples() {
  std::vector<Bytes> frames;
  for (const auto& s : samples())
    frames.push_back(s.frame);
  return concat(frames);
}

TEST(FpmStream, EveryFrameInOneBuffer) {
  FpmDecoder d;
  const Bytes all = all_samples();
  const auto r = decode(d, all);
  EXPECT_EQ(r.state, State::kOpen);
  EXPECT_EQ(r.events.size(), 7u);
  EXPECT_EQ(d.counters().frames, 11u);
  EXPECT_EQ(d.counters().messages, 12u);
  EXPECT_EQ(d.counters().bytes, all.size());
  EXPECT_EQ(d.counters().skipped(), 5u);
  EXPECT_EQ(d.counters().errors(), 0u);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FpmStream, ByteByByteGivesTheSame) {
  const Bytes all = all_samples();
  FpmDecoder whole;
  const auto expected = decode(whole, all).events;
  FpmDecoder d;
  std::vector<RouteEvent> got;
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t before = got.size();
    ASSERT_EQ(d.feed(std::span(all).subspan(i, 1), got), State::kOpen);
    // Nothing comes out before a frame's last byte.
    if (got.size() != before) {
      EXPECT_EQ(d.buffered(), 0u) << "at byte " << i;
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.counters().frames, whole.counters().frames);
  EXPECT_EQ(d.counters().bytes, whole.counters().bytes);
}

TEST(FpmStream, RandomSplitsGiveTheSame) {
  const Bytes all = concat({all_samples(), all_samples(), all_samples()});
  const auto expected = decode(all).events;
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    FpmDecoder d;
    std::vector<RouteEvent> got;
    for (size_t off = 0; off < all.size();) {
      const size_t n = std::min<size_t>(all.size() - off, 1 + rng() % 150);
      ASSERT_EQ(d.feed(std::span(all).subspan(off, n), got), State::kOpen);
      off += n;
    }
    ASSERT_EQ(got, expected) << "round " << round;
  }
}

TEST(FpmStream, PartialFrameAtResetIsCountedAndForgotten) {
  const Bytes f = sample("BGP withdraw").frame;
  FpmDecoder d;
  std::vector<RouteEvent> out;
  d.feed(std::span(f).first(f.size() - 1), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.buffered(), f.size() - 1);
  d.reset();
  EXPECT_EQ(d.counters().partial_frames_dropped, 1u);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(decode(d, f).events.size(), 1u);  // the new connection starts clean
}

// --- frames built here ----------------------------------------------------------------------

Bytes u16(uint16_t v) {
  Bytes b(2);
  std::memcpy(b.data(), &v, 2);
  return b;
}
Bytes u32(uint32_t v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}
Bytes addr(const char* text) {
  const IpAddress a = ip(text);
  return Bytes(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()));
}

Bytes attr(uint16_t type, const Bytes& value) {
  Bytes b = concat({u16(static_cast<uint16_t>(4 + value.size())), u16(type), value});
  b.resize((b.size() + 3) & ~size_t{3});
  return b;
}

Bytes rtnh(uint8_t hops, uint32_t ifindex, const Bytes& attrs) {
  return concat({u16(static_cast<uint16_t>(8 + attrs.size())), {0, hops}, u32(ifindex), attrs});
}

struct Rtm {
  uint16_t type = RTM_NEWROUTE;
  uint16_t flags = 0x501;
  uint8_t family = AF_INET;
  uint8_t dst_len = 16;
  uint8_t table = 254;
  uint8_t protocol = 186;
  uint8_t rtm_type = RTN_UNICAST;
  Bytes attrs;
};

Bytes nlmsg(uint16_t type, uint16_t flags, const Bytes& body) {
  return concat(
      {u32(static_cast<uint32_t>(16 + body.size())), u16(type), u16(flags), u32(0), u32(0), body});
}

Bytes route(const Rtm& r) {
  return nlmsg(
      r.type, r.flags,
      concat({{r.family, r.dst_len, 0, 0, r.table, r.protocol, 0, r.rtm_type}, u32(0), r.attrs}));
}

Bytes frame(const std::vector<Bytes>& messages) {
  const Bytes body = concat(messages);
  const size_t len = 4 + body.size();
  return concat({{1, 1, uint8_t(len >> 8), uint8_t(len)}, body});
}

Rtm bgp(const char* dst, uint8_t len, const Bytes& next_hop_attrs, uint8_t family = AF_INET) {
  Rtm r;
  r.family = family;
  r.dst_len = len;
  r.attrs = concat({attr(RTA_DST, addr(dst)), attr(RTA_PRIORITY, u32(20)), next_hop_attrs});
  return r;
}

TEST(FpmBuilt, BuilderReproducesACapturedFrame) {
  Rtm r =
      bgp("10.3.0.0", 16, concat({attr(RTA_GATEWAY, addr("169.254.44.2")), attr(RTA_OIF, u32(2))}));
  Bytes f = frame({route(r)});
  // The capture's nlmsg_pid is zebra's; the decoder reads nothing of it.
  const Bytes& captured = sample("BGP route, no nhg").frame;
  ASSERT_EQ(f.size(), captured.size());
  std::copy(captured.begin() + 16, captured.begin() + 20, f.begin() + 16);
  EXPECT_EQ(to_hex(f), to_hex(captured));
}

TEST(FpmBuilt, Ipv6RouteEcmpAndWithdraw) {
  const Bytes add = frame({route(
      bgp("2001:db8:100::", 48,
          concat({attr(RTA_GATEWAY, addr("fd00:44::2")), attr(RTA_OIF, u32(4))}), AF_INET6))});
  const Bytes ecmp = frame(
      {route(bgp("2001:db8:200::", 40,
                 attr(RTA_MULTIPATH, concat({rtnh(0, 4, attr(RTA_GATEWAY, addr("fd00:44::2"))),
                                             rtnh(2, 5, attr(RTA_GATEWAY, addr("fd00:44::6")))})),
                 AF_INET6))});
  Rtm withdraw = bgp("2001:db8:100::", 48, {}, AF_INET6);
  withdraw.type = RTM_DELROUTE;
  withdraw.rtm_type = 0;
  const Bytes del = frame({route(withdraw)});
  Rtm def = bgp("::", 0, attr(RTA_GATEWAY, addr("fd00:44::2")), AF_INET6);
  def.attrs = concat({attr(RTA_PRIORITY, u32(20)), attr(RTA_GATEWAY, addr("fd00:44::2"))});
  const Bytes default_route = frame({route(def)});

  FpmDecoder d;
  const auto r = decode(d, concat({add, ecmp, del, default_route}));
  EXPECT_EQ(d.last_error(), "");
  ASSERT_EQ(r.events.size(), 4u);
  EXPECT_EQ(r.events[0].prefix, prefix("2001:db8:100::/48"));
  EXPECT_EQ(r.events[0].next_hops, (std::vector<NextHop>{{ip("fd00:44::2"), 4, 1}}));
  EXPECT_EQ(r.events[1].prefix, prefix("2001:db8:200::/40"));
  EXPECT_EQ(r.events[1].next_hops,
            (std::vector<NextHop>{{ip("fd00:44::2"), 4, 1}, {ip("fd00:44::6"), 5, 3}}));
  EXPECT_EQ(r.events[2].action, RouteAction::kDelete);
  EXPECT_EQ(r.events[2].prefix, prefix("2001:db8:100::/48"));
  EXPECT_EQ(r.events[3].prefix, prefix("::/0"));  // no RTA_DST: the default route
}

TEST(FpmBuilt, RtaTableOverridesRtmTable) {
  Rtm r = bgp("10.9.0.0", 16, attr(RTA_GATEWAY, addr("169.254.44.2")));
  r.table = 252;  // RT_TABLE_COMPAT, as the kernel writes for tables over 255
  r.attrs = concat({r.attrs, attr(RTA_TABLE, u32(254))});
  EXPECT_EQ(decode(frame({route(r)})).events.size(), 1u);
  r.attrs = concat({r.attrs, attr(RTA_TABLE, u32(1000))});  // the last one wins
  FpmDecoder d;
  EXPECT_TRUE(decode(d, frame({route(r)})).events.empty());
  EXPECT_EQ(d.counters().skipped_other_table, 1u);
  FpmDecoder vrf({.max_frame = kFpmMaxFrameSize, .filter = {.table = 1000}});
  const auto got = decode(vrf, frame({route(r)})).events;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].table, 1000u);
}

TEST(FpmBuilt, WhatEspgwDoesNotTakeIsCounted) {
  const Bytes gw = attr(RTA_GATEWAY, addr("169.254.44.2"));
  struct Case {
    const char* what;
    Bytes frame;
    uint64_t FpmCounters::*counter;
  };
  Rtm ll6 = bgp("fe80::", 64, attr(RTA_GATEWAY, addr("fe80::1")), AF_INET6);
  Rtm ll4 = bgp("169.254.10.0", 24, gw);
  Rtm other_table = bgp("10.9.0.0", 16, gw);
  other_table.table = 10;
  Rtm mpls = bgp("10.9.0.0", 16, gw);
  mpls.family = 28;  // AF_MPLS: zebra's LSPs
  Rtm blackhole = bgp("10.9.0.0", 16, {});
  blackhole.rtm_type = RTN_BLACKHOLE;
  Rtm via = bgp("10.9.0.0", 16, attr(RTA_VIA, concat({u16(AF_INET6), addr("fd00::1")})));
  Rtm encap = bgp("10.9.0.0", 16, concat({gw, attr(RTA_ENCAP_TYPE, u16(1)), attr(RTA_ENCAP, {})}));
  Rtm mp_via =
      bgp("10.9.0.0", 16,
          attr(RTA_MULTIPATH, rtnh(0, 2, attr(RTA_VIA, concat({u16(10), addr("fd00::1")})))));
  Rtm nothing = bgp("10.9.0.0", 16, {});
  Rtm nhid = bgp("10.9.0.0", 16, attr(RTA_NH_ID, u32(12)));
  for (const Case& c : {
           Case{"IPv6 link-local from BGP", frame({route(ll6)}), &FpmCounters::skipped_link_local},
           Case{"IPv4 link-local", frame({route(ll4)}), &FpmCounters::skipped_link_local},
           Case{"table 10", frame({route(other_table)}), &FpmCounters::skipped_other_table},
           Case{"AF_MPLS", frame({route(mpls)}), &FpmCounters::skipped_other_family},
           Case{"blackhole", frame({route(blackhole)}), &FpmCounters::skipped_route_type},
           Case{"RTA_VIA", frame({route(via)}), &FpmCounters::skipped_unsupported_next_hop},
           Case{"RTA_ENCAP", frame({route(encap)}), &FpmCounters::skipped_unsupported_next_hop},
           Case{"RTA_VIA in a multipath member", frame({route(mp_via)}),
                &FpmCounters::skipped_unsupported_next_hop},
           Case{"no next hop", frame({route(nothing)}), &FpmCounters::skipped_no_next_hop},
           Case{"RTA_NH_ID", frame({route(nhid)}), &FpmCounters::skipped_nexthop_group_routes},
           Case{"NLMSG_NOOP", frame({nlmsg(NLMSG_NOOP, 0, {})}),
                &FpmCounters::skipped_unknown_type},
           Case{"RTM_NEWNEIGH", frame({nlmsg(RTM_NEWNEIGH, 0, Bytes(12))}),
                &FpmCounters::skipped_unknown_type},
           Case{"RTM_DELNEXTHOP", frame({nlmsg(RTM_DELNEXTHOP, 0, Bytes(8))}),
                &FpmCounters::skipped_nexthop_messages},
       }) {
    SCOPED_TRACE(c.what);
    FpmDecoder d;
    const auto r = decode(d, c.frame);
    EXPECT_EQ(r.state, State::kOpen);
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(d.counters().*c.counter, 1u);
    EXPECT_EQ(d.counters().skipped(), 1u);
    EXPECT_EQ(d.counters().errors(), 0u) << d.last_error();
  }
}

TEST(FpmBuilt, DeleteInNextHopGroupModeStillComes) {
  // With next-hop groups on, an update is RTM_DELROUTE + RTM_NEWROUTE(RTA_NH_ID): the route must
  // go rather than stay on its old next hops.
  Rtm del = bgp("10.2.0.0", 16, attr(RTA_NH_ID, u32(12)));
  del.type = RTM_DELROUTE;
  const Rtm add = bgp("10.2.0.0", 16, attr(RTA_NH_ID, u32(14)));
  FpmDecoder d;
  const auto r = decode(d, frame({route(del), route(add)}));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].action, RouteAction::kDelete);
  EXPECT_EQ(d.counters().skipped_nexthop_group_routes, 1u);
}

// --- malformed input ------------------------------------------------------------------------

TEST(FpmMalformed, BadHeaderClosesAndStaysClosedUntilReset) {
  const Bytes good = sample("BGP withdraw").frame;
  for (const Bytes& header : {Bytes{2, 1, 0, 8}, Bytes{0, 1, 0, 8}, Bytes{1, 2, 0, 8},  // protobuf
                              Bytes{1, 0, 0, 8}}) {
    SCOPED_TRACE(to_hex(header));
    FpmDecoder d;
    const Bytes stream = concat({good, header, Bytes(4), good});
    const auto r = decode(d, stream);
    EXPECT_EQ(r.state, State::kClose);
    EXPECT_EQ(r.events.size(), 1u);  // the frame before it
    EXPECT_EQ(d.buffered(), 0u);     // what followed the bad header is gone
    EXPECT_EQ(d.counters().bad_fpm_header, 1u);
    EXPECT_THAT(d.last_error(), HasSubstr("FPM stream offset 48: version"));
    EXPECT_THAT(d.last_error(), HasSubstr("closing the connection"));
    // Nothing more is taken from this connection.
    EXPECT_EQ(decode(d, good).state, State::kClose);
    EXPECT_TRUE(decode(d, good).events.empty());
    d.reset();
    EXPECT_EQ(decode(d, good).events.size(), 1u);
    EXPECT_EQ(d.state(), State::kOpen);
  }
}

TEST(FpmMalformed, LengthUnderTheHeaderCloses) {
  for (uint8_t len : {0, 1, 3}) {
    FpmDecoder d;
    const auto r = decode(d, Bytes{1, 1, 0, len});
    EXPECT_EQ(r.state, State::kClose);
    EXPECT_EQ(d.counters().bad_fpm_length, 1u);
    EXPECT_THAT(d.last_error(), HasSubstr("under the 4-byte header"));
  }
  // An empty frame (header only) is odd but well formed.
  FpmDecoder d;
  EXPECT_EQ(decode(d, Bytes{1, 1, 0, 4}).state, State::kOpen);
  EXPECT_EQ(d.counters().frames, 1u);
}

TEST(FpmMalformed, LengthOverTheLimitClosesOnTheHeaderAlone) {
  FpmDecoder d({.max_frame = 64});
  const auto r = decode(d, Bytes{1, 1, 0, 65});  // the rest never needs to arrive
  EXPECT_EQ(r.state, State::kClose);
  EXPECT_EQ(d.counters().bad_fpm_length, 1u);
  EXPECT_THAT(d.last_error(), HasSubstr("frame length 65 over the limit of 64"));
  EXPECT_EQ(decode(Bytes{1, 1, 0xff, 0xff}).state, State::kOpen);  // the default: any u16
}

// An error inside a frame: the FPM length still holds, so the stream goes on at the next frame.
void expect_frame_error(const Bytes& bad, uint64_t FpmCounters::*counter, const char* message,
                        size_t events_from_bad = 0) {
  const Bytes good = sample("BGP withdraw").frame;
  FpmDecoder d;
  const auto r = decode(d, concat({good, bad, good}));
  EXPECT_EQ(r.state, State::kOpen);
  EXPECT_EQ(r.events.size(), 2 + events_from_bad);
  EXPECT_EQ(d.counters().*counter, 1u);
  EXPECT_EQ(d.counters().errors(), 1u);
  EXPECT_EQ(d.counters().frames, 3u);
  EXPECT_THAT(d.last_error(), HasSubstr("FPM stream offset 48: "));
  EXPECT_THAT(d.last_error(), HasSubstr(message));
}

TEST(FpmMalformed, NetlinkLengthThatOverrunsDropsTheWholeFrame) {
  const Bytes del = sample("BGP withdraw").frame;
  const Bytes first(del.begin() + 4, del.end());  // a good RTM_DELROUTE
  Bytes second = route(bgp("10.7.0.0", 16, attr(RTA_GATEWAY, addr("169.254.44.2"))));
  second[0] += 4;  // nlmsg_len 4 bytes past the frame's end
  {
    SCOPED_TRACE("overrun");
    expect_frame_error(frame({first, second}), &FpmCounters::bad_netlink_length,
                       "netlink message 1 at frame offset 44: nlmsg_len 56 with 52 byte(s) left");
  }
  Bytes short_len = first;
  short_len[0] = 8;
  {
    SCOPED_TRACE("nlmsg_len under nlmsghdr");
    expect_frame_error(frame({short_len}), &FpmCounters::bad_netlink_length, "nlmsg_len 8");
  }
  {
    SCOPED_TRACE("a tail shorter than nlmsghdr");
    expect_frame_error(frame({first, Bytes(12)}), &FpmCounters::bad_netlink_length,
                       "12 byte(s), shorter than nlmsghdr");
  }
}

TEST(FpmMalformed, BadRouteMessageDropsThatMessageOnly) {
  const Bytes gw = attr(RTA_GATEWAY, addr("169.254.44.2"));
  struct Case {
    const char* what;
    Bytes message;
    const char* error;
  };
  Rtm short_gw = bgp("10.7.0.0", 16, attr(RTA_GATEWAY, Bytes{169, 254, 44}));
  Rtm v6_dst_in_v4 = bgp("10.7.0.0", 16, gw);
  v6_dst_in_v4.attrs = concat({attr(RTA_DST, addr("2001:db8::")), gw});
  Rtm long_dst = bgp("10.7.0.0", 33, gw);
  Rtm host_bits = bgp("10.7.0.1", 16, gw);
  Rtm no_dst = bgp("10.7.0.0", 16, gw);
  no_dst.attrs = gw;
  Rtm short_oif = bgp("10.7.0.0", 16, concat({gw, attr(RTA_OIF, u16(2))}));
  Rtm short_prio = bgp("10.7.0.0", 16, gw);
  short_prio.attrs = concat({attr(RTA_DST, addr("10.7.0.0")), attr(RTA_PRIORITY, Bytes{20}), gw});
  Rtm attr_overrun = bgp("10.7.0.0", 16, gw);
  attr_overrun.attrs.back() = 0;  // keep the length; fix the attribute's header below
  attr_overrun.attrs = concat({attr_overrun.attrs, u16(40), u16(RTA_OIF), u32(2)});
  Rtm attr_tiny = bgp("10.7.0.0", 16, concat({gw, u16(2), u16(RTA_OIF)}));
  Rtm attr_tail = bgp("10.7.0.0", 16, concat({gw, Bytes{1, 2}}));
  Rtm mp_overrun = bgp("10.7.0.0", 16, attr(RTA_MULTIPATH, concat({u16(40), {0, 0}, u32(2), gw})));
  Rtm mp_empty_hop = bgp("10.7.0.0", 16, attr(RTA_MULTIPATH, rtnh(0, 0, {})));
  Rtm mp_short = bgp("10.7.0.0", 16, attr(RTA_MULTIPATH, Bytes{8, 0, 0, 0}));
  Rtm mp_and_gw = bgp("10.7.0.0", 16, concat({gw, attr(RTA_MULTIPATH, rtnh(0, 2, gw))}));
  Rtm mp_bad_gw =
      bgp("10.7.0.0", 16, attr(RTA_MULTIPATH, rtnh(0, 2, attr(RTA_GATEWAY, addr("fd00::1")))));
  const Bytes short_rtmsg = nlmsg(RTM_NEWROUTE, 0x501, Bytes{2, 16, 0, 0, 254, 186, 0, 1});
  for (const Case& c : {
           Case{"rtmsg truncated", short_rtmsg, "rtmsg truncated: 8 of 12 bytes"},
           Case{"3-byte gateway", route(short_gw), "RTA_GATEWAY of 3 bytes in an IPv4 route"},
           Case{"IPv6 RTA_DST in IPv4", route(v6_dst_in_v4), "RTA_DST of 16 bytes in an IPv4"},
           Case{"dst_len 33", route(long_dst), "dst_len 33 in an IPv4 route"},
           Case{"host bits", route(host_bits), "10.7.0.1 has host bits set beyond /16"},
           Case{"no RTA_DST", route(no_dst), "dst_len 16 without RTA_DST"},
           Case{"2-byte RTA_OIF", route(short_oif), "RTA_OIF of 2 bytes (4 expected)"},
           Case{"1-byte RTA_PRIORITY", route(short_prio), "RTA_PRIORITY of 1 bytes"},
           Case{"attribute past the message", route(attr_overrun), "attribute 4 of length 40"},
           Case{"attribute under its header", route(attr_tiny), "attribute 4 of length 2"},
           Case{"bytes after the last attribute", route(attr_tail), "2 byte(s) after the last"},
           Case{"rtnexthop past RTA_MULTIPATH", route(mp_overrun), "member 0: rtnh_len 40"},
           Case{"rtnexthop with nothing", route(mp_empty_hop),
                "member 0: neither a gateway nor an interface"},
           Case{"RTA_MULTIPATH shorter than rtnexthop", route(mp_short),
                "member 0: 4 byte(s), shorter than an rtnexthop"},
           Case{"RTA_MULTIPATH beside RTA_GATEWAY", route(mp_and_gw),
                "RTA_MULTIPATH beside RTA_GATEWAY or RTA_OIF"},
           Case{"IPv6 gateway in an IPv4 multipath", route(mp_bad_gw),
                "member 0: RTA_GATEWAY of 16 bytes"},
       }) {
    SCOPED_TRACE(c.what);
    expect_frame_error(frame({c.message}), &FpmCounters::bad_route_message, c.error);
  }
}

TEST(FpmMalformed, InAnUpdatePairTheGoodDeleteStillComes) {
  // Keeping the old next hops of a route whose new ones are unreadable would be worse than a
  // withdraw: the delete goes through, the bad add is counted (netlink_route.h).
  Rtm del = bgp("10.2.0.0", 16, {});
  del.type = RTM_DELROUTE;
  const Rtm bad_add = bgp("10.2.0.0", 16, attr(RTA_GATEWAY, Bytes{1}));
  FpmDecoder d;
  const auto r = decode(d, frame({route(del), route(bad_add)}));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].action, RouteAction::kDelete);
  EXPECT_EQ(d.counters().bad_route_message, 1u);
  EXPECT_THAT(d.last_error(), HasSubstr("frame offset 44 (RTM_NEWROUTE)"));
}

TEST(FpmCounters, ForEachNamesEveryCounter) {
  FpmDecoder d;
  decode(d, all_samples());
  size_t n = 0;
  uint64_t sum_skips = 0;
  d.counters().for_each([&](const char* name, uint64_t v) {
    ++n;
    if (std::string(name).rfind("skipped_", 0) == 0) sum_skips += v;
  });
  EXPECT_EQ(n, sizeof(FpmCounters) / sizeof(uint64_t));
  EXPECT_EQ(sum_skips, d.counters().skipped());
}

}  // namespace
}  // namespace espgw::routing
