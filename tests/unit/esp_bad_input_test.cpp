// Every drop reason the ESP engine produces (dataplane/common/drop_reason.h), under both crypto
// backends and several algorithm and framing combinations. Each case asserts the exact reason,
// that the worker's counter for it went up by exactly one (and no other), and, once the SA is
// known, the same of the SA's counter. Packets that must fail behind ICV verification (padding,
// next header, inner header) are sealed by hand with a valid ICV (tests/support/esp_craft.h).
//
// Every inbound packet lies in a buffer with no head- or tailroom whose last byte is followed by a
// PROT_NONE page, so a read past the packet's end faults the test ("never a read outside the
// packet"); outbound buffers end at such a page too, right after the tailroom they were given.
//
// Over 800 lines: one parameterised table of every engine drop reason, whose closing check
// (AllReasonsCovered, at the end) needs every reason produced by this one binary.

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "tests/support/esp_craft.h"
#include "tests/support/esp_test_util.h"
#include "tests/support/guarded_buffer.h"
#include "tests/support/sa_test_access.h"

namespace espgw {
namespace {

using crypto::BackendKind;
using esp::Algorithm;
using esp::Cipher;
using esp::Integrity;
using Bytes = std::vector<uint8_t>;

constexpr DropReason kOk = DropReason::kNone;
constexpr uint64_t k2p32 = uint64_t{1} << 32;

// The reasons this binary produced, checked against the whole list at the end.
std::set<DropReason>& seen_reasons() {
  static std::set<DropReason> s;
  return s;
}

struct Config {
  Algorithm alg;
  bool esn;
  bool udp;
  bool outer_v6;
  BackendKind backend;
};

std::string config_name(const testing::TestParamInfo<Config>& info) {
  const Config& c = info.param;
  std::string n = c.alg.name() + (c.esn ? "_esn" : "") + (c.udp ? "_natt" : "") +
                  (c.outer_v6 ? "_v6" : "_v4") + "_" + std::string(crypto::backend_name(c.backend));
  for (auto& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

// Delegates to a real backend, then reports every operation as failed.
class FailingBackend final : public crypto::CryptoBackend {
 public:
  explicit FailingBackend(crypto::CryptoBackend& real) : real_(real) {}
  void encrypt(std::span<crypto::CryptoOp> ops) noexcept override {
    real_.encrypt(ops);
    for (auto& op : ops)
      op.ok = false;
  }
  void decrypt(std::span<crypto::CryptoOp> ops) noexcept override {
    real_.decrypt(ops);
    for (auto& op : ops)
      op.ok = false;
  }
  BackendKind kind() const noexcept override { return real_.kind(); }
  std::string describe() const override { return "failing " + real_.describe(); }

 private:
  crypto::CryptoBackend& real_;
};

void fix_v4_checksum(Bytes& p, size_t ihl = 20) {
  if (p.size() < ihl) return;
  p[10] = p[11] = 0;
  store_be16(&p[10], ipv4_header_checksum(p.data(), ihl));
}

class EspBadInput : public testing::TestWithParam<Config> {
 protected:
  static constexpr uint32_t kSpi = 0x1000;

  void SetUp() override {
    const Config& c = GetParam();
    backend_ = crypto::make_backend(c.backend);
    sender_ = std::make_unique<esp::EspEngine>(*backend_, 0);
    engine_ = std::make_unique<esp::EspEngine>(*backend_, 0);
    // ESN SAs start just below 2^32, so that the tests cross the boundary.
    next_seq_ = c.esn ? k2p32 - 20 : 5;
    test::SaPairOptions o;
    o.algorithm = c.alg;
    o.esn = c.esn;
    o.udp_encap = c.udp;
    o.outer_v6 = c.outer_v6;
    o.spi = kSpi;
    o.first_seq = next_seq_;
    pair_ = test::make_sa_pair(o, rng_);
  }

  const Config& cfg() const { return GetParam(); }
  const Algorithm& alg() const { return GetParam().alg; }
  uint32_t ip_len() const { return cfg().outer_v6 ? 40 : 20; }
  uint32_t esp_off() const { return ip_len() + (cfg().udp ? 8 : 0); }
  test::OuterSpec outer(uint8_t tos = 0) const {
    test::OuterSpec o;
    o.v6 = cfg().outer_v6;
    o.udp = cfg().udp;
    o.tos = tos;
    return o;
  }

  // A valid packet made by the engine's own encrypt(), with the next sequence number.
  Bytes valid(const Bytes& inner) {
    esp::SaTestAccess::set_next_seq(*pair_.out, next_seq_++);
    test::PacketBuffer buf(inner);
    esp::PacketView* pv = &buf.view();
    esp::Sa* sa = pair_.out.get();
    DropReason r;
    sender_->encrypt({pv, 1}, {&sa, 1}, {&r, 1});
    EXPECT_EQ(r, kOk);
    return buf.bytes();
  }
  Bytes valid(uint32_t payload = 20) { return valid(test::ipv4_udp_packet(payload)); }
  // The ESP part (header to ICV) of a packet framed as this SA frames it.
  Bytes esp_part(const Bytes& pkt) const { return Bytes(pkt.begin() + esp_off(), pkt.end()); }

  // A plaintext sealed by hand with the SA's keys and the next sequence number.
  Bytes crafted(const Bytes& plaintext, uint8_t outer_tos = 0) {
    const uint64_t seq = next_seq_++;
    last_crafted_seq_ = seq;
    std::array<uint8_t, 16> iv;
    for (auto& b : iv)
      b = static_cast<uint8_t>(rng_());
    const Bytes e =
        test::seal_esp(*backend_, pair_.in->keys(), cfg().esn, kSpi, seq, iv, plaintext);
    EXPECT_FALSE(e.empty());
    return test::wrap_outer(outer(outer_tos), e);
  }

  struct Counts {
    std::array<uint64_t, kDropReasonCount> engine{};
    std::array<uint64_t, kDropReasonCount> sa{};
    uint64_t packets = 0;
    uint64_t keepalives = 0;  // the engine's and the SA's (dummy packets: not drops)
  };
  static Counts counts(const esp::EspEngine& e, const esp::Sa& sa) {
    Counts c;
    for (size_t k = 0; k < static_cast<size_t>(kFirstDataplaneReason); ++k) {
      c.engine[k] = e.drops()[static_cast<DropReason>(k)];
      c.sa[k] = sa.drops(static_cast<DropReason>(k));
    }
    c.packets = sa.packets();
    c.keepalives = e.keepalives_in() + e.keepalives_out() + sa.keepalives();
    return c;
  }
  static void expect_counted(const Counts& before, const Counts& after, DropReason want,
                             bool sa_known, const std::string& what) {
    for (size_t k = 0; k < static_cast<size_t>(kFirstDataplaneReason); ++k) {
      const auto r = static_cast<DropReason>(k);
      const uint64_t one = r == want && want != kOk && want != DropReason::kDummy ? 1 : 0;
      EXPECT_EQ(after.engine[k] - before.engine[k], one)
          << what << ": worker counter " << drop_reason_name(r);
      EXPECT_EQ(after.sa[k] - before.sa[k], sa_known ? one : 0)
          << what << ": SA counter " << drop_reason_name(r);
    }
    EXPECT_EQ(after.packets - before.packets, want == kOk ? 1u : 0u) << what;
    // A dummy packet is a keepalive (docs/lanes.md "Lane liveness"): the engine's and the SA's.
    EXPECT_EQ(after.keepalives - before.keepalives,
              want == DropReason::kDummy && sa_known ? 2u : 0u)
        << what;
    seen_reasons().insert(want);
  }

  // One packet through inbound(), in a guarded buffer with no head- or tailroom. The lookup
  // finds `sa` (the inbound SA by default) by its SPI.
  DropReason inbound(const Bytes& pkt, Bytes* inner = nullptr, esp::Sa* sa = nullptr) {
    if (sa == nullptr) sa = pair_.in.get();
    test::GuardedBuffer buf(pkt, 0, 0);
    esp::PacketView* pv = &buf.view();
    DropReason r = DropReason::kCount;
    engine_->inbound({pv, 1},
                     [&](const esp::InboundMeta& m) { return m.spi == sa->spi() ? sa : nullptr; },
                     {&r, 1});
    if (inner != nullptr) *inner = r == kOk ? buf.bytes() : Bytes{};
    return r;
  }

  void expect_in(const Bytes& pkt, DropReason want, bool sa_known, const std::string& what) {
    const Counts before = counts(*engine_, *pair_.in);
    const DropReason r = inbound(pkt);
    EXPECT_EQ(r, want) << what << ": got " << drop_reason_name(r) << ", want "
                       << drop_reason_name(want);
    expect_counted(before, counts(*engine_, *pair_.in), want, sa_known, what);
  }
  void expect_in_ok(const Bytes& pkt, const Bytes& inner, const std::string& what) {
    const Counts before = counts(*engine_, *pair_.in);
    Bytes got;
    EXPECT_EQ(inbound(pkt, &got), kOk) << what;
    EXPECT_EQ(got, inner) << what;
    expect_counted(before, counts(*engine_, *pair_.in), kOk, true, what);
  }

  // One inner packet through encrypt() in a guarded buffer with the given room.
  DropReason outbound(esp::EspEngine& e, esp::Sa& sa, const Bytes& inner, uint32_t headroom,
                      uint32_t tailroom, Bytes* outer_pkt = nullptr) {
    test::GuardedBuffer buf(inner, headroom, tailroom);
    esp::PacketView* pv = &buf.view();
    esp::Sa* s = &sa;
    DropReason r = DropReason::kCount;
    e.encrypt({pv, 1}, {&s, 1}, {&r, 1});
    if (outer_pkt != nullptr) *outer_pkt = buf.bytes();
    return r;
  }
  void expect_out(esp::Sa& sa, const Bytes& inner, DropReason want, const std::string& what,
                  uint32_t headroom = 128, uint32_t tailroom = 128, esp::EspEngine* e = nullptr) {
    if (e == nullptr) e = sender_.get();
    const Counts before = counts(*e, sa);
    const DropReason r = outbound(*e, sa, inner, headroom, tailroom);
    EXPECT_EQ(r, want) << what << ": got " << drop_reason_name(r) << ", want "
                       << drop_reason_name(want);
    expect_counted(before, counts(*e, sa), want, true, what);
  }

  // Overhead of this SA: head (outer + ESP header + IV) and tail (padding, trailer, ICV).
  uint32_t head_room() const { return esp_off() + 8 + alg().iv_bytes(); }
  uint32_t tail_room(uint32_t len) const {
    const uint32_t a = alg().align_bytes();
    return (len + 2 + a - 1) / a * a - len + alg().icv_bytes();
  }

  std::mt19937_64 rng_{20240601};
  std::unique_ptr<crypto::CryptoBackend> backend_;
  std::unique_ptr<esp::EspEngine> sender_;
  std::unique_ptr<esp::EspEngine> engine_;
  test::SaPair pair_;
  uint64_t next_seq_ = 1;
  uint64_t last_crafted_seq_ = 0;
};

// ---- Outer headers ----

TEST_P(EspBadInput, TruncatedAtEveryLength) {
  const Bytes inner = test::ipv4_udp_packet(17);
  const Bytes pkt = valid(inner);
  const uint32_t full = static_cast<uint32_t>(pkt.size());
  const uint32_t ip = ip_len();
  const uint64_t top = pair_.in->replay().top();
  for (uint32_t len = 0; len < full; ++len) {
    const std::string at = "length " + std::to_string(len) + " of " + std::to_string(full);
    Bytes t(pkt.begin(), pkt.begin() + len);
    // Lengths as they were: the IP header claims more than the buffer holds.
    expect_in(t, len < ip ? DropReason::kTruncated : DropReason::kIpLength, false,
              at + ", lengths kept");

    // Lengths adjusted to the truncated packet: every header agrees, the content is short.
    Bytes a = t;
    if (cfg().outer_v6) {
      if (len >= 40) store_be16(&a[4], static_cast<uint16_t>(len - 40));
    } else if (len >= 4) {
      store_be16(&a[2], static_cast<uint16_t>(len));
      fix_v4_checksum(a);
    }
    if (cfg().udp && len >= ip + 6) store_be16(&a[ip + 4], static_cast<uint16_t>(len - ip));
    DropReason want;
    bool known = false;
    const uint32_t min_esp = 8 + alg().iv_bytes() + alg().icv_bytes() + alg().align_bytes();
    if (len < esp_off() + 8) {
      want = DropReason::kTruncated;
    } else if (len - esp_off() < min_esp) {
      want = DropReason::kTruncated;
      known = true;
    } else if ((len - esp_off() - 8 - alg().iv_bytes() - alg().icv_bytes()) % alg().align_bytes()) {
      want = DropReason::kBadCipherLength;
      known = true;
    } else {
      want = DropReason::kAuthFailed;
      known = true;
    }
    expect_in(a, want, known, at + ", lengths adjusted");

    // NAT-T: the IP length adjusted, the UDP length not.
    if (cfg().udp && len >= ip + 8) {
      Bytes u = t;
      if (cfg().outer_v6) {
        store_be16(&u[4], static_cast<uint16_t>(len - 40));
      } else {
        store_be16(&u[2], static_cast<uint16_t>(len));
        fix_v4_checksum(u);
      }
      expect_in(u, DropReason::kIpLength, false, at + ", UDP length kept");
    }
  }
  EXPECT_EQ(pair_.in->replay().top(), top);
  EXPECT_EQ(engine_->esn_resyncs(), 0u);
  expect_in_ok(pkt, inner, "the whole packet");
}

TEST_P(EspBadInput, BadIpHeader) {
  const Bytes pkt = valid();
  for (uint8_t version = 0; version < 16; ++version) {
    if (version == 4 || version == 6) continue;
    Bytes b = pkt;
    b[0] = static_cast<uint8_t>(version << 4 | (b[0] & 0x0f));
    expect_in(b, DropReason::kBadIpHeader, false, "version " + std::to_string(version));
  }
  test::OuterSpec o = outer();
  o.v6 = false;
  Bytes v4 = test::wrap_outer(o, esp_part(pkt));
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes b = v4;
    b[0] = static_cast<uint8_t>(0x40 | ihl);
    expect_in(b, DropReason::kBadIpHeader, false, "IHL " + std::to_string(ihl));
  }
  // A header length beyond the packet.
  Bytes b(v4.begin(), v4.begin() + 24);
  b[0] = 0x47;
  store_be16(&b[2], 24);
  expect_in(b, DropReason::kTruncated, false, "IHL 7 in 24 bytes");
  expect_in({}, DropReason::kTruncated, false, "empty");
  expect_in({0x45}, DropReason::kTruncated, false, "one byte");
  expect_in(Bytes(39, 0x60), DropReason::kTruncated, false, "39 bytes of IPv6");
}

TEST_P(EspBadInput, InconsistentIpLengths) {
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes pkt = valid(inner);
  test::OuterSpec o4 = outer(), o6 = outer();
  o4.v6 = false;
  o6.v6 = true;
  const Bytes v4 = test::wrap_outer(o4, esp_part(pkt));
  const Bytes v6 = test::wrap_outer(o6, esp_part(pkt));
  for (uint16_t total :
       {static_cast<uint16_t>(v4.size() + 1), uint16_t{65535}, uint16_t{19}, uint16_t{0}}) {
    Bytes b = v4;
    store_be16(&b[2], total);
    fix_v4_checksum(b);
    expect_in(b, DropReason::kIpLength, false, "IPv4 total length " + std::to_string(total));
  }
  {
    test::OuterSpec opt = o4;
    opt.v4_ihl = 6;
    Bytes b = test::wrap_outer(opt, esp_part(pkt));
    store_be16(&b[2], 23);
    fix_v4_checksum(b, 24);
    expect_in(b, DropReason::kIpLength, false, "IPv4 total length inside its options");
  }
  for (uint16_t plen : {static_cast<uint16_t>(v6.size() - 40 + 1), uint16_t{65535}}) {
    Bytes b = v6;
    store_be16(&b[4], plen);
    expect_in(b, DropReason::kIpLength, false, "IPv6 payload length " + std::to_string(plen));
  }
  for (const Bytes& base : {v4, v6}) {
    if (!cfg().udp) break;
    const uint32_t ip = (base[0] >> 4) == 6 ? 40 : 20;
    const uint16_t right = static_cast<uint16_t>(base.size() - ip);
    for (uint16_t ulen : {static_cast<uint16_t>(right + 1), static_cast<uint16_t>(right - 1),
                          uint16_t{8}, uint16_t{0}, uint16_t{65535}}) {
      Bytes b = base;
      store_be16(&b[ip + 4], ulen);
      expect_in(b, DropReason::kIpLength, false, "UDP length " + std::to_string(ulen));
    }
  }
  // Ethernet padding behind the IP packet is not an error: the IP length is the truth.
  Bytes padded = pkt;
  padded.resize(pkt.size() + 11, 0);
  expect_in_ok(padded, inner, "trailing Ethernet padding");
  // Nor are IPv4 options.
  if (!cfg().outer_v6) {
    test::OuterSpec opt = o4;
    opt.v4_ihl = 15;
    expect_in_ok(test::wrap_outer(opt, esp_part(valid(inner))), inner, "IPv4 options");
  }
}

TEST_P(EspBadInput, OuterFragments) {
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes pkt = valid(inner);
  test::OuterSpec o = outer();
  o.v6 = false;
  for (uint16_t frag : {uint16_t{0x2000}, uint16_t{0x0001}, uint16_t{0x1fff}, uint16_t{0x3fff},
                        uint16_t{0x6000}, uint16_t{0x00b9}}) {
    o.frag = frag;
    expect_in(test::wrap_outer(o, esp_part(pkt)), DropReason::kOuterFragment, false,
              "IPv4 flags/offset " + std::to_string(frag));
  }
  o.v6 = true;
  Bytes v6 = test::wrap_outer(o, esp_part(pkt));
  v6[6] = 44;
  expect_in(v6, DropReason::kOuterFragment, false, "IPv6 fragment header");
  // DF alone is no fragment; the reserved bit is not looked at.
  o.v6 = false;
  o.frag = 0x4000;
  expect_in_ok(test::wrap_outer(o, esp_part(pkt)), inner, "DF");
}

TEST_P(EspBadInput, NotEsp) {
  for (bool v6 : {false, true}) {
    test::OuterSpec o;
    o.v6 = v6;
    o.udp = true;
    const std::string fam = v6 ? "IPv6 " : "IPv4 ";
    // RFC 3948 2.3: NAT-keepalive, one 0xff byte.
    expect_in(test::wrap_outer(o, Bytes{0xff}), DropReason::kNotEsp, false, fam + "keepalive");
    // RFC 3948 2.2: IKE behind the non-ESP marker.
    Bytes ike(4 + 28, 0);
    ike[4] = 0x11;  // initiator SPI
    ike[4 + 17] = 0x20;
    ike[4 + 18] = 34;  // IKE_SA_INIT
    expect_in(test::wrap_outer(o, ike), DropReason::kNotEsp, false, fam + "non-ESP marker");
    expect_in(test::wrap_outer(o, Bytes(4, 0)), DropReason::kNotEsp, false,
              fam + "bare non-ESP marker");
    // Other protocols.
    o.udp = false;
    Bytes tcp = test::wrap_outer(o, Bytes(20, 0));
    if (v6) {
      tcp[6] = 6;
    } else {
      tcp[9] = 6;
      fix_v4_checksum(tcp);
    }
    expect_in(tcp, DropReason::kNotEsp, false, fam + "TCP");
    Bytes other = tcp;
    if (v6) {
      other[6] = 0;  // hop-by-hop options: extension headers are not walked
    } else {
      other[9] = 1;
      fix_v4_checksum(other);
    }
    expect_in(other, DropReason::kNotEsp, false, fam + "ICMP / hop-by-hop");
    // A one-byte UDP payload that is not a keepalive, and an empty one: too short for ESP.
    o.udp = true;
    expect_in(test::wrap_outer(o, Bytes{0x00}), DropReason::kTruncated, false, fam + "1 byte");
    expect_in(test::wrap_outer(o, Bytes{}), DropReason::kTruncated, false, fam + "0 bytes");
    expect_in(test::wrap_outer(o, Bytes{0, 0, 0x10, 0, 0, 0, 0}), DropReason::kTruncated, false,
              fam + "7 bytes");
  }
}

// ---- SPI and SA ----

TEST_P(EspBadInput, ReservedSpis) {
  const Bytes pkt = valid();
  for (bool udp : {false, true}) {
    test::OuterSpec o = outer();
    o.udp = udp;
    Bytes b = test::wrap_outer(o, esp_part(pkt));
    const uint32_t off = (o.v6 ? 40 : 20) + (udp ? 8 : 0);
    for (uint32_t spi = 0; spi < 256; ++spi) {
      store_be32(&b[off], spi);
      // In UDP, SPI 0 is the non-ESP marker of IKE (RFC 3948 2.2).
      const DropReason want = udp && spi == 0 ? DropReason::kNotEsp : DropReason::kReservedSpi;
      expect_in(b, want, false, std::string(udp ? "UDP " : "") + "SPI " + std::to_string(spi));
    }
  }
}

TEST_P(EspBadInput, UnknownSpi) {
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes pkt = valid(inner);
  for (uint32_t spi : {256u, kSpi + 1, 0xffffffffu, kSpi << 8}) {
    Bytes b = pkt;
    store_be32(&b[esp_off()], spi);
    expect_in(b, DropReason::kUnknownSpi, false, "SPI " + std::to_string(spi));
  }
  // An outbound SA under the SPI is no inbound SA.
  const Counts before = counts(*engine_, *pair_.in);
  EXPECT_EQ(inbound(pkt, nullptr, pair_.out.get()), DropReason::kUnknownSpi);
  const Counts after = counts(*engine_, *pair_.in);
  EXPECT_EQ(after.engine[static_cast<size_t>(DropReason::kUnknownSpi)] -
                before.engine[static_cast<size_t>(DropReason::kUnknownSpi)],
            1u);
  EXPECT_EQ(after.sa, before.sa);
  expect_in_ok(pkt, inner, "the right SPI");
}

TEST_P(EspBadInput, EncapsulationMismatch) {
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes pkt = valid(inner);
  test::OuterSpec o = outer();
  o.udp = !o.udp;
  expect_in(test::wrap_outer(o, esp_part(pkt)), DropReason::kEncapMismatch, true,
            o.udp ? "ESP-in-UDP to a plain ESP SA" : "plain ESP to a NAT-T SA");
  expect_in_ok(pkt, inner, "as the SA frames it");
}

// One writer per inbound SA (dataplane/esp/sa.h, owner_): the first worker to decrypt under it
// owns it; a packet on another worker is dropped and counted, the replay window untouched; once
// the owner has been idle for kOwnerIdleNs the other worker takes it over (owner_moves).
TEST_P(EspBadInput, InboundSaHasOneWriterWorker) {
  constexpr uint64_t kT0 = 5'000'000'000;
  esp::EspEngine other(*backend_, 1);
  engine_->set_now(kT0);
  const Bytes inner = test::ipv4_udp_packet(20);
  expect_in_ok(valid(inner), inner, "first packet, worker 0");
  EXPECT_EQ(pair_.in->owner(), 0u);
  const uint64_t top = pair_.in->replay().top();

  // Worker 1, half a second later: worker 0's SA.
  other.set_now(kT0 + 500'000'000);
  const Bytes second = valid(inner);
  {
    const Counts before = counts(other, *pair_.in);
    test::GuardedBuffer buf(second, 0, 0);
    esp::PacketView* pv = &buf.view();
    DropReason r = DropReason::kCount;
    esp::Sa* sa = pair_.in.get();
    other.inbound({pv, 1}, [&](const esp::InboundMeta&) { return sa; }, {&r, 1});
    EXPECT_EQ(r, DropReason::kSaOtherWorker) << drop_reason_name(r);
    expect_counted(before, counts(other, *pair_.in), DropReason::kSaOtherWorker, true,
                   "worker 1 while worker 0 owns the SA");
  }
  EXPECT_EQ(pair_.in->replay().top(), top) << "the other worker touched the replay window";
  EXPECT_EQ(pair_.in->owner(), 0u);
  EXPECT_EQ(pair_.in->owner_moves(), 0u);

  // Worker 0 idle for 1.5 s: worker 1 takes the SA over, and the same packet now passes.
  other.set_now(kT0 + 1'500'000'000);
  {
    test::GuardedBuffer buf(second, 0, 0);
    esp::PacketView* pv = &buf.view();
    DropReason r = DropReason::kCount;
    esp::Sa* sa = pair_.in.get();
    other.inbound({pv, 1}, [&](const esp::InboundMeta&) { return sa; }, {&r, 1});
    EXPECT_EQ(r, kOk) << drop_reason_name(r);
  }
  EXPECT_EQ(pair_.in->owner(), 1u);
  EXPECT_EQ(pair_.in->owner_moves(), 1u);
  EXPECT_GT(pair_.in->replay().top(), top);

  // Worker 0 again, just after the takeover: now worker 1's SA.
  engine_->set_now(kT0 + 1'600'000'000);
  expect_in(valid(inner), DropReason::kSaOtherWorker, true, "worker 0 after the takeover");
}

// ---- Lengths, replay and ICV ----

TEST_P(EspBadInput, BadCipherLength) {
  const Bytes pkt = valid();
  for (uint32_t extra = 1; extra < alg().align_bytes(); ++extra) {
    Bytes e = esp_part(pkt);
    e.insert(e.end() - alg().icv_bytes(), extra, 0xab);
    expect_in(test::wrap_outer(outer(), e), DropReason::kBadCipherLength, true,
              "ciphertext + " + std::to_string(extra));
  }
  // A whole extra block is the right shape and fails the ICV instead.
  Bytes e = esp_part(pkt);
  e.insert(e.end() - alg().icv_bytes(), alg().align_bytes(), 0xab);
  expect_in(test::wrap_outer(outer(), e), DropReason::kAuthFailed, true, "one block more");
}

TEST_P(EspBadInput, Replay) {
  next_seq_ = cfg().esn ? 3 * k2p32 + 1000 : 1000;
  esp::SaTestAccess::replay(*pair_.in).reset(next_seq_ - 1);
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes first = valid(inner);
  const Bytes second = valid(inner);
  expect_in_ok(first, inner, "first");
  expect_in(first, DropReason::kReplayDuplicate, true, "first again");
  next_seq_ += 64;
  const Bytes ahead = valid(inner);
  expect_in_ok(ahead, inner, "a window ahead");
  // With ESN, A2.2 infers a packet left of the window into the next subspace: it fails the ICV
  // (RFC 4303 A2.2, last paragraph). Without ESN it is simply too old.
  expect_in(second, cfg().esn ? DropReason::kAuthFailed : DropReason::kReplayOld, true,
            "left behind by the window");
  expect_in(ahead, DropReason::kReplayDuplicate, true, "ahead again");
  if (cfg().esn) {
    // Subspace 0, window spanning "below zero": a low half that would need seq_hi -1 is old.
    esp::SaTestAccess::replay(*pair_.in).reset(10);
    next_seq_ = k2p32 - 30;
    expect_in(valid(inner), DropReason::kReplayOld, true, "below sequence number 0");
  }
}

TEST_P(EspBadInput, EveryFlippedBitFailsTheIcv) {
  const Bytes inner = test::ipv4_udp_packet(30);
  const Bytes pkt = valid(inner);
  const uint64_t top = pair_.in->replay().top();
  const uint32_t off = esp_off();
  uint32_t flips = 0;
  for (size_t byte = off; byte < pkt.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes f = pkt;
      f[byte] ^= static_cast<uint8_t>(1u << bit);
      const std::string at = "byte " + std::to_string(byte - off) + " bit " + std::to_string(bit);
      if (byte < off + 4) {
        const uint32_t spi = load_be32(&f[off]);
        const DropReason want = cfg().udp && spi == 0 ? DropReason::kNotEsp
                                : spi < 256           ? DropReason::kReservedSpi
                                                      : DropReason::kUnknownSpi;
        expect_in(f, want, false, "SPI " + at);
      } else {
        expect_in(f, DropReason::kAuthFailed, true, at);
      }
      ++flips;
    }
  }
  EXPECT_EQ(flips, (pkt.size() - off) * 8);
  EXPECT_EQ(pair_.in->replay().top(), top);
  EXPECT_EQ(engine_->esn_resyncs(), 0u);
  expect_in_ok(pkt, inner, "the original");
}

// ---- Behind the ICV: trailer and inner packet, sealed by hand ----

TEST_P(EspBadInput, BadPadLength) {
  const Bytes inner = test::ipv4_udp_packet(10);
  Bytes pt = test::esp_plaintext(inner, alg(), 4);
  const size_t n = pt.size();
  for (size_t pad : {n - 1, n, size_t{255}}) {
    if (pad > 255) continue;
    Bytes b = pt;
    b[n - 2] = static_cast<uint8_t>(pad);
    expect_in(crafted(b), DropReason::kBadPadLength, true, "pad length " + std::to_string(pad));
    // The ICV verified, so the window moved (RFC 4303 3.4.3), though the packet was dropped.
    EXPECT_EQ(pair_.in->replay().top(), last_crafted_seq_);
  }
  // The longest pad length that fits: the whole plaintext is padding, which is not 1, 2, 3...
  Bytes b = pt;
  b[n - 2] = static_cast<uint8_t>(n - 2);
  expect_in(crafted(b), DropReason::kBadPadding, true, "pad length n - 2");
}

TEST_P(EspBadInput, BadPadBytes) {
  const Bytes inner = test::ipv4_udp_packet(11);
  const Bytes pt = test::esp_plaintext(inner, alg(), 4, 1);
  const size_t pad = pt[pt.size() - 2];
  ASSERT_GE(pad, alg().align_bytes());
  for (size_t k = 0; k < pad; ++k) {
    Bytes b = pt;
    b[inner.size() + k] ^= 0x40;
    expect_in(crafted(b), DropReason::kBadPadding, true, "pad byte " + std::to_string(k));
  }
  Bytes zeros = pt;
  std::fill(zeros.begin() + static_cast<ptrdiff_t>(inner.size()), zeros.end() - 2, 0);
  expect_in(crafted(zeros), DropReason::kBadPadding, true, "zero pad bytes");
  // Correct extra padding (RFC 4303 2.4 allows up to 255 bytes) is fine.
  expect_in_ok(crafted(pt), inner, "extra padding");
  expect_in_ok(crafted(test::esp_plaintext(inner, alg(), 4, 255 / alg().align_bytes() - 1)), inner,
               "near 255 bytes of padding");
}

TEST_P(EspBadInput, DummyPacket) {
  Bytes junk(33);
  for (size_t i = 0; i < junk.size(); ++i)
    junk[i] = static_cast<uint8_t>(i * 7);
  expect_in(crafted(test::esp_plaintext(junk, alg(), 59)), DropReason::kDummy, true, "dummy");
  expect_in(crafted(test::esp_plaintext({}, alg(), 59)), DropReason::kDummy, true, "empty dummy");
  expect_in(crafted(test::esp_plaintext(test::ipv4_udp_packet(5), alg(), 59)), DropReason::kDummy,
            true, "dummy carrying an IPv4 packet");
}

TEST_P(EspBadInput, BadNextHeader) {
  const Bytes inner = test::ipv4_udp_packet(20);
  for (uint8_t nh : {0, 1, 6, 17, 47, 50, 58, 60, 253, 255}) {
    expect_in(crafted(test::esp_plaintext(inner, alg(), nh)), DropReason::kBadNextHeader, true,
              "next header " + std::to_string(nh));
  }
}

TEST_P(EspBadInput, ZeroLengthPayload) {
  expect_in(crafted(test::esp_plaintext({}, alg(), 4)), DropReason::kZeroLengthPayload, true,
            "IPv4");
  expect_in(crafted(test::esp_plaintext({}, alg(), 41)), DropReason::kZeroLengthPayload, true,
            "IPv6");
}

TEST_P(EspBadInput, BadInnerHeader) {
  const Bytes v4 = test::ipv4_udp_packet(40);
  const Bytes v6 = test::ipv6_udp_packet(40);
  auto bad = [&](const Bytes& inner, uint8_t nh, const std::string& what) {
    expect_in(crafted(test::esp_plaintext(inner, alg(), nh)), DropReason::kInnerHeader, true, what);
  };
  bad(v6, 4, "IPv6 under next header 4");
  bad(v4, 41, "IPv4 under next header 41");
  bad(Bytes(v4.begin(), v4.begin() + 19), 4, "19 bytes of IPv4");
  bad(Bytes(v6.begin(), v6.begin() + 39), 41, "39 bytes of IPv6");
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes b = v4;
    b[0] = static_cast<uint8_t>(0x40 | ihl);
    bad(b, 4, "inner IHL " + std::to_string(ihl));
  }
  for (uint16_t total : {0, 1, 19}) {
    Bytes b = v4;
    store_be16(&b[2], total);
    bad(b, 4, "inner total length " + std::to_string(total));
  }
  Bytes opt = v4;
  opt[0] = 0x46;
  store_be16(&opt[2], 23);
  bad(opt, 4, "inner total length inside the options");
  Bytes version = v4;
  version[0] = 0x05;
  bad(version, 4, "inner version 0");
  version = v6;
  version[0] = 0x70;
  bad(version, 41, "inner version 7");
}

// RFC 1812 5.2.2, as classify checks packets off the wire; found by pipeline_fuzz: forwarded,
// such a packet left with its checksum still wrong after the TTL's incremental update.
TEST_P(EspBadInput, InnerIpv4ChecksumWrong) {
  Bytes v4 = test::ipv4_udp_packet(40);
  v4[10] ^= 0x01;
  expect_in(crafted(test::esp_plaintext(v4, alg(), 4)), DropReason::kIpChecksum, true,
            "inner IPv4 checksum off by one bit");
  Bytes opt = test::ipv4_udp_packet(40);
  opt.insert(opt.begin() + 20, 4, 0);  // an IHL of 6: the option word is summed too
  opt[0] = 0x46;
  store_be16(&opt[2], static_cast<uint16_t>(opt.size()));
  fix_v4_checksum(opt, 24);
  opt[21] = 1;
  expect_in(crafted(test::esp_plaintext(opt, alg(), 4)), DropReason::kIpChecksum, true,
            "inner IPv4 option changed under its checksum");
}

TEST_P(EspBadInput, InnerLengthBeyondThePayload) {
  for (uint16_t extra : {1, 2, 100}) {
    Bytes v4 = test::ipv4_udp_packet(40);
    store_be16(&v4[2], static_cast<uint16_t>(v4.size() + extra));
    expect_in(crafted(test::esp_plaintext(v4, alg(), 4)), DropReason::kInnerLength, true,
              "IPv4 + " + std::to_string(extra));
    Bytes v6 = test::ipv6_udp_packet(40);
    store_be16(&v6[4], static_cast<uint16_t>(v6.size() - 40 + extra));
    expect_in(crafted(test::esp_plaintext(v6, alg(), 41)), DropReason::kInnerLength, true,
              "IPv6 + " + std::to_string(extra));
  }
  Bytes big = test::ipv4_udp_packet(40);
  store_be16(&big[2], 65535);
  expect_in(crafted(test::esp_plaintext(big, alg(), 4)), DropReason::kInnerLength, true,
            "IPv4 65535");
  // Shorter than the payload is TFC padding (RFC 4303 2.7): accepted, cut to the inner length.
  const Bytes v4 = test::ipv4_udp_packet(40);
  Bytes tfc = v4;
  tfc.resize(v4.size() + 37, 0);
  expect_in_ok(crafted(test::esp_plaintext(tfc, alg(), 4)), v4, "TFC padding");
}

// ---- RFC 6040 ECN ----

void set_outer_ecn(Bytes& p, uint8_t ecn) {
  if ((p[0] >> 4) == 6) {
    p[1] = static_cast<uint8_t>((p[1] & 0xcf) | ecn << 4);
  } else {
    p[1] = static_cast<uint8_t>((p[1] & 0xfc) | ecn);
    fix_v4_checksum(p);
  }
}

TEST_P(EspBadInput, EcnCeOverNotEct) {
  for (bool inner_v6 : {false, true}) {
    const Bytes inner =
        inner_v6 ? test::ipv6_udp_packet(20, 0xb8) : test::ipv4_udp_packet(20, 0xb8);
    Bytes pkt = valid(inner);
    set_outer_ecn(pkt, 3);
    expect_in(pkt, DropReason::kEcnCeNotEct, true, inner_v6 ? "IPv6 inner" : "IPv4 inner");
  }
  // The rest of the RFC 6040 4.2 table: outer ECT over not-ECT leaves it, CE marks ECT inner
  // packets, ECT(1) over ECT(0) gives ECT(1). The IPv4 checksum stays right.
  struct Row {
    uint8_t outer, inner, out;
  };
  for (const Row& row : {Row{1, 0, 0}, Row{2, 0, 0}, Row{3, 2, 3}, Row{3, 1, 3}, Row{1, 2, 1},
                         Row{2, 1, 1}, Row{0, 3, 3}, Row{1, 3, 3}, Row{3, 3, 3}, Row{0, 2, 2}}) {
    const std::string what =
        "outer " + std::to_string(row.outer) + " inner " + std::to_string(row.inner);
    const Bytes inner4 = test::ipv4_udp_packet(20, static_cast<uint8_t>(0xb8 | row.inner));
    Bytes pkt = valid(inner4);
    set_outer_ecn(pkt, row.outer);
    Bytes want = test::ipv4_udp_packet(20, static_cast<uint8_t>(0xb8 | row.out));
    expect_in_ok(pkt, want, what + " (IPv4)");
    const Bytes inner6 = test::ipv6_udp_packet(20, static_cast<uint8_t>(0xb8 | row.inner));
    pkt = valid(inner6);
    set_outer_ecn(pkt, row.outer);
    want = test::ipv6_udp_packet(20, static_cast<uint8_t>(0xb8 | row.out));
    expect_in_ok(pkt, want, what + " (IPv6)");
  }
}

// ---- Outbound ----

TEST_P(EspBadInput, SequenceOverflowWithoutEsn) {
  esp::SaParams p = pair_.params;
  p.esn = false;
  p.first_seq = UINT32_MAX - 1;
  p.direction = esp::Direction::kOutbound;
  auto sa = esp::Sa::make(p, 1, 1);
  const Bytes inner = test::ipv4_udp_packet(20);
  Bytes out;
  ASSERT_EQ(outbound(*sender_, *sa, inner, 128, 128, &out), kOk);
  EXPECT_EQ(load_be32(&out[esp_off() + 4]), UINT32_MAX - 1);
  ASSERT_EQ(outbound(*sender_, *sa, inner, 128, 128, &out), kOk);
  EXPECT_EQ(load_be32(&out[esp_off() + 4]), UINT32_MAX);  // 2^32 - 1 is sent
  EXPECT_FALSE(sa->stopped());
  expect_out(*sa, inner, DropReason::kSeqOverflow, "2^32 would wrap");
  EXPECT_TRUE(sa->stopped());
  expect_out(*sa, inner, DropReason::kSaStopped, "after the overflow");
  expect_out(*sa, inner, DropReason::kSaStopped, "and again");
  EXPECT_EQ(sa->packets(), 2u);

  // A burst that runs over the end: the packets that fit go, the rest overflow.
  auto sa2 = esp::Sa::make(p, 1, 2);
  std::vector<std::unique_ptr<test::GuardedBuffer>> bufs;
  std::vector<esp::PacketView> views;
  for (int i = 0; i < 4; ++i) {
    bufs.push_back(std::make_unique<test::GuardedBuffer>(inner, 128, 128));
    views.push_back(bufs.back()->view());
  }
  std::vector<esp::Sa*> sas(4, sa2.get());
  std::vector<DropReason> r(4);
  sender_->encrypt(views, sas, r);
  EXPECT_EQ(
      r, (std::vector<DropReason>{kOk, kOk, DropReason::kSeqOverflow, DropReason::kSeqOverflow}));
  EXPECT_TRUE(sa2->stopped());
  EXPECT_EQ(sa2->drops(DropReason::kSeqOverflow), 2u);
}

// With ESN the counter stops at 2^64 - 1 (RFC 4303 3.3.3: it must not cycle), whether the
// last packet ends a burst or not.
TEST_P(EspBadInput, SequenceOverflowWithEsn) {
  esp::SaParams p = pair_.params;
  p.esn = true;
  p.first_seq = UINT64_MAX - 1;
  p.direction = esp::Direction::kOutbound;
  auto sa = esp::Sa::make(p, 1, 1);
  const Bytes inner = test::ipv4_udp_packet(20);
  Bytes out;
  ASSERT_EQ(outbound(*sender_, *sa, inner, 128, 128, &out), kOk);
  ASSERT_EQ(outbound(*sender_, *sa, inner, 128, 128, &out), kOk);
  EXPECT_EQ(load_be32(&out[esp_off() + 4]), UINT32_MAX);  // 2^64 - 1 is sent
  EXPECT_FALSE(sa->stopped());
  expect_out(*sa, inner, DropReason::kSeqOverflow, "2^64 would wrap to 0");
  EXPECT_TRUE(sa->stopped());
  expect_out(*sa, inner, DropReason::kSaStopped, "after the overflow");
  EXPECT_EQ(sa->packets(), 2u);

  auto sa2 = esp::Sa::make(p, 1, 2);
  std::vector<std::unique_ptr<test::GuardedBuffer>> bufs;
  std::vector<esp::PacketView> views;
  for (int i = 0; i < 4; ++i) {
    bufs.push_back(std::make_unique<test::GuardedBuffer>(inner, 128, 128));
    views.push_back(bufs.back()->view());
  }
  std::vector<esp::Sa*> sas(4, sa2.get());
  std::vector<DropReason> r(4);
  sender_->encrypt(views, sas, r);
  EXPECT_EQ(
      r, (std::vector<DropReason>{kOk, kOk, DropReason::kSeqOverflow, DropReason::kSeqOverflow}));
  EXPECT_TRUE(sa2->stopped());
}

TEST_P(EspBadInput, EsnCounterRunsOnPast2To32) {
  if (!cfg().esn) GTEST_SKIP() << "ESN only";
  esp::SaTestAccess::set_next_seq(*pair_.out, k2p32 - 2);
  esp::SaTestAccess::replay(*pair_.in).reset(k2p32 - 3);
  const Bytes inner = test::ipv4_udp_packet(20);
  for (uint64_t s = k2p32 - 2; s <= k2p32 + 1; ++s) {
    Bytes out;
    ASSERT_EQ(outbound(*sender_, *pair_.out, inner, 128, 128, &out), kOk);
    EXPECT_EQ(load_be32(&out[esp_off() + 4]), static_cast<uint32_t>(s));
    expect_in_ok(out, inner, "seq " + std::to_string(s));
  }
  EXPECT_FALSE(pair_.out->stopped());
}

TEST_P(EspBadInput, NoBufferRoom) {
  const Bytes inner = test::ipv4_udp_packet(33);
  const uint32_t head = head_room();
  const uint32_t tail = tail_room(static_cast<uint32_t>(inner.size()));
  expect_out(*pair_.out, inner, DropReason::kNoBufferRoom, "headroom - 1", head - 1, tail);
  expect_out(*pair_.out, inner, DropReason::kNoBufferRoom, "tailroom - 1", head, tail - 1);
  expect_out(*pair_.out, inner, DropReason::kNoBufferRoom, "no room", 0, 0);
  // Exactly enough: the packet fills the buffer up to both guard pages.
  Bytes out;
  ASSERT_EQ(outbound(*sender_, *pair_.out, inner, head, tail, &out), kOk);
  EXPECT_EQ(out.size(), head + inner.size() + tail);
  next_seq_ = pair_.out->next_seq();
  expect_in_ok(out, inner, "the packet made in an exact buffer");
}

TEST_P(EspBadInput, TooBig) {
  const uint32_t head = head_room();
  // The largest inner packet whose outer packet still fits 65535 (IPv4 total length, or IPv6
  // payload length, which does not count the fixed header).
  uint32_t largest = 65535;
  while (head + largest + tail_room(largest) - (cfg().outer_v6 ? 40 : 0) > 65535)
    --largest;
  const Bytes fits = test::ipv4_udp_packet(largest - 28);
  Bytes out;
  ASSERT_EQ(outbound(*sender_, *pair_.out, fits, head, tail_room(largest), &out), kOk);
  next_seq_ = pair_.out->next_seq();
  expect_in_ok(out, fits, "the largest packet");
  if (largest < 65535) {
    const Bytes big = test::ipv4_udp_packet(largest + 1 - 28);
    expect_out(*pair_.out, big, DropReason::kTooBig, "one byte more", head, 4096);
  }
  const Bytes max = test::ipv4_udp_packet(65535 - 28);
  expect_out(*pair_.out, max, DropReason::kTooBig, "65535", head, 4096);
}

TEST_P(EspBadInput, BadInnerPacket) {
  const Bytes v4 = test::ipv4_udp_packet(20);
  const Bytes v6 = test::ipv6_udp_packet(20);
  expect_out(*pair_.out, {}, DropReason::kInnerHeader, "empty");
  expect_out(*pair_.out, Bytes(v4.begin(), v4.begin() + 19), DropReason::kInnerHeader,
             "19 bytes of IPv4");
  expect_out(*pair_.out, Bytes(v6.begin(), v6.begin() + 39), DropReason::kInnerHeader,
             "39 bytes of IPv6");
  for (uint8_t version : {0, 1, 5, 7, 15}) {
    Bytes b = v4;
    b[0] = static_cast<uint8_t>(version << 4 | 5);
    expect_out(*pair_.out, b, DropReason::kInnerHeader, "version " + std::to_string(version));
  }
  expect_out(*pair_.out, v4, kOk, "then a good one");
}

TEST_P(EspBadInput, CryptoError) {
  FailingBackend failing(*backend_);
  esp::EspEngine e(failing, 0);
  expect_out(*pair_.out, test::ipv4_udp_packet(20), DropReason::kCryptoError, "encrypt refused",
             128, 128, &e);
  // Inbound, a failed operation is indistinguishable from a bad ICV.
  const Bytes pkt = valid();
  test::GuardedBuffer buf(pkt, 0, 0);
  esp::PacketView* pv = &buf.view();
  esp::Sa* in = pair_.in.get();
  DropReason r;
  e.inbound({pv, 1}, [&](const esp::InboundMeta&) { return in; }, {&r, 1});
  EXPECT_EQ(r, DropReason::kAuthFailed);
  EXPECT_EQ(e.drops()[DropReason::kAuthFailed], 1u);
}

// A burst mixing every kind of failure: each packet gets its own reason, the counters add up.
TEST_P(EspBadInput, MixedBurst) {
  const Bytes inner = test::ipv4_udp_packet(20);
  const Bytes good1 = valid(inner);
  const Bytes good2 = valid(inner);
  Bytes forged = valid(inner);
  forged.back() ^= 1;
  Bytes unknown = good1;
  store_be32(&unknown[esp_off()], kSpi + 7);
  Bytes version = good1;
  version[0] = 0x25;
  const Bytes dummy = crafted(test::esp_plaintext({}, alg(), 59));
  const std::vector<Bytes> pkts = {good1, forged, unknown, good1, version, dummy, good2};
  const std::vector<DropReason> want = {kOk,
                                        DropReason::kAuthFailed,
                                        DropReason::kUnknownSpi,
                                        DropReason::kReplayDuplicate,
                                        DropReason::kBadIpHeader,
                                        DropReason::kDummy,
                                        kOk};
  std::vector<std::unique_ptr<test::GuardedBuffer>> bufs;
  std::vector<esp::PacketView> views;
  for (const auto& p : pkts) {
    bufs.push_back(std::make_unique<test::GuardedBuffer>(p, 0, 0));
    views.push_back(bufs.back()->view());
  }
  const Counts before = counts(*engine_, *pair_.in);
  std::vector<DropReason> r(pkts.size());
  esp::Sa* in = pair_.in.get();
  engine_->inbound(
      views, [&](const esp::InboundMeta& m) { return m.spi == kSpi ? in : nullptr; }, r);
  EXPECT_EQ(r, want);
  const Counts after = counts(*engine_, *pair_.in);
  for (DropReason d : {DropReason::kAuthFailed, DropReason::kUnknownSpi,
                       DropReason::kReplayDuplicate, DropReason::kBadIpHeader}) {
    const size_t k = static_cast<size_t>(d);
    EXPECT_EQ(after.engine[k] - before.engine[k], 1u) << drop_reason_name(d);
    const bool known = d != DropReason::kUnknownSpi && d != DropReason::kBadIpHeader;
    EXPECT_EQ(after.sa[k] - before.sa[k], known ? 1u : 0u) << drop_reason_name(d);
  }
  EXPECT_EQ(after.packets - before.packets, 2u);
  EXPECT_EQ(after.engine[static_cast<size_t>(DropReason::kDummy)],
            before.engine[static_cast<size_t>(DropReason::kDummy)]);
  EXPECT_EQ(after.keepalives - before.keepalives, 2u);  // a keepalive, not a drop
  EXPECT_EQ(Bytes(views[0].data(), views[0].data() + views[0].data_len), inner);
  EXPECT_EQ(Bytes(views[6].data(), views[6].data() + views[6].data_len), inner);
}

const Algorithm kGcm128{Cipher::kAesGcm16, 16, Integrity::kNone};
const Algorithm kGcm256{Cipher::kAesGcm16, 32, Integrity::kNone};
const Algorithm kCbcSha1{Cipher::kAesCbc, 16, Integrity::kHmacSha1_96};
const Algorithm kCbcSha256{Cipher::kAesCbc, 32, Integrity::kHmacSha256_128};
const Algorithm kCbcSha384{Cipher::kAesCbc, 32, Integrity::kHmacSha384_192};
const Algorithm kCbcSha512{Cipher::kAesCbc, 16, Integrity::kHmacSha512_256};

std::vector<Config> configs() {
  std::vector<Config> v;
  for (BackendKind b : {BackendKind::kIpsecMb, BackendKind::kOpenSsl}) {
    v.push_back({kGcm128, false, false, false, b});
    v.push_back({kGcm256, true, true, true, b});
    v.push_back({kCbcSha1, false, true, false, b});
    v.push_back({kCbcSha256, true, false, true, b});
    v.push_back({kCbcSha384, true, true, false, b});
    v.push_back({kCbcSha512, false, false, true, b});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, EspBadInput, testing::ValuesIn(configs()), config_name);

// Every engine reason in drop_reason.h was produced by some test above (when the whole binary
// runs); the dataplane's own reasons are covered by the scenario tests.
class AllReasonsCovered : public testing::Environment {
 public:
  void TearDown() override {
    if (GTEST_FLAG_GET(filter) != "*") return;
    for (size_t k = 0; k < static_cast<size_t>(kFirstDataplaneReason); ++k) {
      const auto r = static_cast<DropReason>(k);
      EXPECT_TRUE(seen_reasons().count(r)) << "no test produced " << drop_reason_name(r);
    }
  }
};
const auto* const kCoverage = testing::AddGlobalTestEnvironment(new AllReasonsCovered);

}  // namespace
}  // namespace espgw
