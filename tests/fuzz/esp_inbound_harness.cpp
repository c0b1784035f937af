#include "tests/fuzz/esp_inbound_harness.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "common/bytes.h"
#include "tests/support/esp_craft.h"
#include "tests/support/esp_test_util.h"
#include "tests/support/sa_test_access.h"

namespace espgw::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;
using esp::Algorithm;
using esp::Cipher;
using esp::Integrity;

constexpr uint64_t k2p32 = uint64_t{1} << 32;

// Where the windows start: both A2.2 cases, the 2^32 boundary, the top of the 64-bit space.
constexpr std::array<uint64_t, 16> kWindowTops = {0,
                                                  1,
                                                  63,
                                                  64,
                                                  1000,
                                                  0x7fffffff,
                                                  0xffffffc0,
                                                  0xfffffffe,
                                                  0xffffffff,
                                                  k2p32,
                                                  k2p32 + 10,
                                                  5 * k2p32 + 100,
                                                  7 * k2p32 - 3,
                                                  0xffffffff00000010,
                                                  UINT64_MAX - 70,
                                                  UINT64_MAX - 1};

struct SaSpec {
  uint32_t spi;
  Algorithm alg;
  bool esn;
  bool udp;
  uint32_t window;
  uint32_t resync_threshold;
  esp::Direction direction = esp::Direction::kInbound;
};

const std::array<SaSpec, 7> kSas = {{
    {0x100, {Cipher::kAesGcm16, 16, Integrity::kNone}, false, false, 64, 16},
    {0x101, {Cipher::kAesCbc, 32, Integrity::kHmacSha256_128}, false, false, 128, 16},
    {0x102, {Cipher::kAesGcm16, 32, Integrity::kNone}, true, false, 1024, 4},
    {0x103, {Cipher::kAesCbc, 16, Integrity::kHmacSha1_96}, true, true, 64, 0},
    {0x104, {Cipher::kAesGcm16, 16, Integrity::kNone}, false, true, 0, 16},
    {0x105, {Cipher::kAesCbc, 32, Integrity::kHmacSha512_256}, true, true, 65536, 1},
    {0x106,
     {Cipher::kAesGcm16, 16, Integrity::kNone},
     false,
     false,
     64,
     16,
     esp::Direction::kOutbound},
}};

[[noreturn]] void fail(const char* what, size_t i, DropReason r) {
  std::fprintf(stderr, "esp_inbound_fuzz: %s (packet %zu, reason %s)\n", what, i,
               std::string(drop_reason_name(r)).c_str());
  std::abort();
}

}  // namespace

struct InboundHarness::State {
  std::array<std::unique_ptr<crypto::CryptoBackend>, 2> backends;
  std::array<std::unique_ptr<esp::EspEngine>, 2> engines;
  std::array<std::unique_ptr<esp::Sa>, kSas.size()> sas;

  esp::Sa* lookup(uint32_t spi) const {
    for (const auto& sa : sas) {
      if (sa->spi() == spi) return sa.get();
    }
    return nullptr;
  }
};

InboundHarness::InboundHarness() : s_(std::make_unique<State>()) {
  s_->backends[0] = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  s_->backends[1] = crypto::make_backend(crypto::BackendKind::kOpenSsl);
  for (int b = 0; b < 2; ++b)
    s_->engines[b] = std::make_unique<esp::EspEngine>(*s_->backends[b], 0);
  std::mt19937_64 rng(0x65737067);  // fixed keys: the seeds are sealed under them
  auto random_bytes = [&](size_t n) {
    Bytes v(n);
    for (auto& x : v)
      x = static_cast<uint8_t>(rng());
    return v;
  };
  for (size_t i = 0; i < kSas.size(); ++i) {
    const SaSpec& k = kSas[i];
    esp::SaParams p;
    p.spi = k.spi;
    p.direction = k.direction;
    p.algorithm = k.alg;
    p.enc_key = random_bytes(k.alg.key_bytes);
    p.salt = random_bytes(k.alg.salt_bytes());
    p.auth_key = random_bytes(k.alg.auth_key_bytes());
    p.local = *IpAddress::parse("198.51.100.1");
    p.remote = *IpAddress::parse("203.0.113.2");
    p.udp_encap = k.udp;
    p.esn = k.esn;
    p.replay_window = k.window;
    p.esn_resync_threshold = k.resync_threshold;
    s_->sas[i] = esp::Sa::make(p, 1, rng());
  }
}

InboundHarness::~InboundHarness() = default;

void InboundHarness::run(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const uint8_t ctl = data[0];
  const int b = (ctl & kOpenSsl) ? 1 : 0;
  esp::EspEngine& engine = *s_->engines[b];
  const uint64_t top = kWindowTops[ctl >> 4];
  for (size_t i = 0; i < kSas.size(); ++i) {
    esp::Sa& sa = *s_->sas[i];
    esp::SaTestAccess::replay(sa).reset(kSas[i].esn ? top : std::min<uint64_t>(top, UINT32_MAX));
    esp::SaTestAccess::set_auth_failures(sa, 0);
  }

  Bytes pkt;
  Bytes plaintext;
  bool crafted = false;
  bool icv_must_verify = false;
  if (!(ctl & kCrafted)) {
    pkt.assign(data + 1, data + size);
  } else {
    crafted = true;
    uint8_t h[kCraftedHeader] = {};
    std::memcpy(h, data + 1, std::min(kCraftedHeader, size - 1));
    const uint8_t* rest = data + 1 + std::min(kCraftedHeader, size - 1);
    const size_t rest_len = size - 1 - std::min(kCraftedHeader, size - 1);
    const size_t idx = h[0] % kSas.size();
    const SaSpec& spec = kSas[idx];
    esp::Sa& sa = *s_->sas[idx];
    uint64_t seq = load_be64(h + 1);
    if (!spec.esn) seq = static_cast<uint32_t>(seq);
    const uint8_t flags = h[10];
    const Algorithm& a = spec.alg;
    if (flags & kAddTrailer) {
      plaintext = test::esp_plaintext(std::span(rest, rest_len), a, h[11]);
    } else {
      plaintext.assign(rest, rest + rest_len);
      if (!a.aead()) plaintext.resize(plaintext.size() / 16 * 16);
    }
    uint8_t iv[16];
    store_be64(iv, seq * 0x9e3779b97f4a7c15u);
    store_be64(iv + 8, ~seq);
    // Sealed under the other backend than the one that opens it: a differential check too.
    Bytes e =
        test::seal_esp(*s_->backends[1 - b], sa.keys(), spec.esn, spec.spi, seq, iv, plaintext);
    if (e.empty()) fail("sealing failed", 0, DropReason::kNone);
    if (flags & kCorruptIcv) e.back() ^= 0x01;
    if (flags & kArmResync) esp::SaTestAccess::set_auth_failures(sa, spec.resync_threshold);
    test::OuterSpec o;
    o.v6 = (flags & kOuterV6) != 0;
    o.udp = spec.udp != ((flags & kOtherEncap) != 0);
    o.tos = h[9];
    pkt = test::wrap_outer(o, e);

    // Would the receiver try the right sequence number? Then the ICV must verify.
    if (!(flags & (kCorruptIcv | kOtherEncap)) && spec.direction == esp::Direction::kInbound &&
        e.size() >= 8 + a.iv_bytes() + a.icv_bytes() + a.align_bytes() &&
        plaintext.size() % a.align_bytes() == 0) {
      const auto c = sa.replay().check(static_cast<uint32_t>(seq));
      const bool armed = spec.esn && (flags & kArmResync) && spec.resync_threshold != 0;
      icv_must_verify =
          c.reason == DropReason::kNone &&
          (c.seq == seq || (armed && (c.seq >> 32) != UINT32_MAX && c.seq + k2p32 == seq));
    }
  }

  const int copies = (ctl & kDuplicate) ? 2 : 1;
  const int passes = (ctl & kTwice) ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    // Exact-size heap buffers: AddressSanitizer flags any access outside the packet.
    std::array<std::unique_ptr<uint8_t[]>, 2> bufs;
    std::array<esp::PacketView, 2> views{};
    for (int c = 0; c < copies; ++c) {
      bufs[c] = std::make_unique<uint8_t[]>(std::max<size_t>(pkt.size(), 1));
      if (!pkt.empty()) std::memcpy(bufs[c].get(), pkt.data(), pkt.size());
      views[c].buf = bufs[c].get();
      views[c].buf_len = static_cast<uint32_t>(pkt.size());
      views[c].data_off = 0;
      views[c].data_len = static_cast<uint32_t>(pkt.size());
    }
    std::array<DropReason, 2> reasons{};
    uint64_t before = 0;
    for (size_t k = 0; k < kDropReasonCount; ++k)
      before += engine.drops()[static_cast<DropReason>(k)];
    const uint64_t keepalives_before = engine.keepalives_in();

    engine.inbound(
        std::span(views.data(), copies),
        [&](const esp::InboundMeta& m) { return s_->lookup(m.spi); },
        std::span(reasons.data(), copies));

    uint64_t after = 0;
    for (size_t k = 0; k < kDropReasonCount; ++k)
      after += engine.drops()[static_cast<DropReason>(k)];
    uint64_t dropped = 0;
    uint64_t keepalives = 0;  // authentic dummy packets: counted as keepalives, not drops
    for (int c = 0; c < copies; ++c) {
      const DropReason r = reasons[c];
      const esp::PacketView& v = views[c];
      if (r >= DropReason::kCount) fail("reason out of range", c, r);
      if (r == DropReason::kDummy) {
        ++keepalives;
        continue;
      }
      if (r != DropReason::kNone) {
        ++dropped;
        if (r == DropReason::kAuthFailed && icv_must_verify && pass == 0 && c == 0) {
          fail("a correctly sealed packet failed its ICV", c, r);
        }
        continue;
      }
      if (v.data_off > v.buf_len || v.data_len > v.buf_len - v.data_off || v.data_len < 20) {
        fail("accepted packet outside its buffer", c, r);
      }
      const uint8_t* d = v.data();
      const uint32_t inner_len = (d[0] >> 4) == 4   ? load_be16(d + 2)
                                 : (d[0] >> 4) == 6 ? 40u + load_be16(d + 4)
                                                    : 0u;
      if (inner_len != v.data_len) fail("accepted packet with a wrong inner length", c, r);
      if (crafted) {
        // The inner packet is the sealed plaintext, but for the ECN bits (RFC 6040) and, for
        // IPv4, the header checksum that follows them.
        if (v.data_len > plaintext.size()) fail("inner packet longer than the plaintext", c, r);
        for (uint32_t k = 0; k < v.data_len; ++k) {
          const bool ecn_byte = k == 1 || ((d[0] >> 4) == 4 && (k == 10 || k == 11));
          if (!ecn_byte && d[k] != plaintext[k]) fail("inner packet differs", c, r);
        }
      }
    }
    if (after - before != dropped) fail("drop counters do not add up", 0, DropReason::kNone);
    if (engine.keepalives_in() - keepalives_before != keepalives) {
      fail("keepalive counter does not add up", 0, DropReason::kDummy);
    }
  }
}

std::vector<Bytes> InboundHarness::seeds() {
  std::vector<Bytes> out;
  const std::array<Bytes, 4> inners = {test::ipv4_udp_packet(0), test::ipv4_udp_packet(37, 0xb9),
                                       test::ipv6_udp_packet(20, 0x02),
                                       test::ipv4_udp_packet(200, 0x02)};
  // Raw mode: valid packets for every SA, each backend, window at 0, sequence number 1.
  for (size_t i = 0; i < kSas.size(); ++i) {
    const SaSpec& spec = kSas[i];
    for (size_t n = 0; n < inners.size(); ++n) {
      const uint8_t nh = (inners[n][0] >> 4) == 6 ? 41 : 4;
      const Bytes pt = test::esp_plaintext(inners[n], spec.alg, nh);
      uint8_t iv[16] = {static_cast<uint8_t>(n), 1, 2, 3};
      const Bytes e =
          test::seal_esp(*s_->backends[0], s_->sas[i]->keys(), spec.esn, spec.spi, 1 + n, iv, pt);
      test::OuterSpec o;
      o.udp = spec.udp;
      o.v6 = n == 2;
      o.tos = n == 3 ? 0x03 : 0;
      Bytes in = {static_cast<uint8_t>((n & 1) ? kOpenSsl : 0)};
      const Bytes p = test::wrap_outer(o, e);
      in.insert(in.end(), p.begin(), p.end());
      out.push_back(in);
    }
  }
  // Crafted mode: for every SA, a well-formed inner packet, one with its own trailer, and the
  // corner cases behind the ICV.
  auto crafted = [&](uint8_t ctl, uint8_t sa, uint64_t seq, uint8_t tos, uint8_t flags, uint8_t nh,
                     const Bytes& body) {
    Bytes in = {static_cast<uint8_t>(kCrafted | ctl), sa};
    in.resize(in.size() + 8);
    store_be64(&in[2], seq);
    in.push_back(tos);
    in.push_back(flags);
    in.push_back(nh);
    in.insert(in.end(), body.begin(), body.end());
    out.push_back(in);
  };
  for (uint8_t i = 0; i < kSas.size(); ++i) {
    const Algorithm& a = kSas[i].alg;
    crafted(0, i, 1, 0, kAddTrailer, 4, inners[1]);
    crafted(kOpenSsl, i, 2, 0, kAddTrailer | kOuterV6, 41, inners[2]);
    crafted(kDuplicate, i, 3, 0x03, kAddTrailer, 4, inners[3]);
    crafted(kTwice | 0x30, i, 64, 0x01, kAddTrailer, 4, inners[3]);
    crafted(0, i, 5, 0, 0, 0, test::esp_plaintext(inners[0], a, 4));
    crafted(kOpenSsl, i, 6, 0, 0, 0, test::esp_plaintext({}, a, 59));
    crafted(0, i, 7, 0, 0, 0, test::esp_plaintext(inners[3], a, 4, 3));
    crafted(0, i, 8, 0, kAddTrailer, 6, inners[1]);
    crafted(0, i, 9, 0, kAddTrailer | kCorruptIcv, 4, inners[1]);
    crafted(0, i, 10, 0, kAddTrailer | kOtherEncap, 4, inners[1]);
    // ESN: windows near 2^32 (preset 8) and a sender 2^32 ahead with re-synchronisation armed.
    crafted(0x80, i, k2p32 + 5, 0, kAddTrailer, 4, inners[1]);
    crafted(0x20, i, k2p32 + 5, 0, kAddTrailer | kArmResync, 4, inners[1]);
  }
  // Outer oddities: keepalive, non-ESP marker, fragment, IPv6 with an extension header.
  test::OuterSpec o;
  o.udp = true;
  for (const Bytes& p : {test::wrap_outer(o, Bytes{0xff}), test::wrap_outer(o, Bytes(32, 0))}) {
    Bytes in = {0};
    in.insert(in.end(), p.begin(), p.end());
    out.push_back(in);
  }
  o.udp = false;
  o.frag = 0x2000;
  Bytes v4frag = test::wrap_outer(o, Bytes(40, 0x11));
  o.frag = 0;
  o.v6 = true;
  Bytes v6frag = test::wrap_outer(o, Bytes(40, 0x11));
  v6frag[6] = 44;
  Bytes v6hop = v6frag;
  v6hop[6] = 0;
  for (const Bytes& p : {v4frag, v6frag, v6hop}) {
    Bytes in = {0};
    in.insert(in.end(), p.begin(), p.end());
    out.push_back(in);
  }
  return out;
}

}  // namespace espgw::fuzz
