// Anti-replay (RFC 4303 3.4.3 and Appendix A): the window alone against the RFC's rules and a
// reference model, then through EspEngine with real encryption: the window moves only after the
// ICV verified, two copies in one burst, and the ESN re-synchronisation of Appendix A3.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>

#include "common/bytes.h"
#include "tests/support/esp_craft.h"
#include "tests/support/esp_test_util.h"
#include "tests/support/sa_test_access.h"

namespace espgw {
namespace {

using esp::ReplayWindow;
constexpr uint64_t k2p32 = uint64_t{1} << 32;
constexpr DropReason kOk = DropReason::kNone;
constexpr DropReason kOld = DropReason::kReplayOld;
constexpr DropReason kDup = DropReason::kReplayDuplicate;

// check() then update(), as the engine does for a packet whose ICV verified.
DropReason receive(ReplayWindow& w, uint32_t seq_lo) {
  const auto c = w.check(seq_lo);
  if (c.reason != kOk) return c.reason;
  return w.update(c.seq);
}

TEST(ReplayWindow, InOrder) {
  ReplayWindow w(64, false);
  for (uint32_t s = 1; s <= 1000; ++s) {
    ASSERT_EQ(receive(w, s), kOk) << s;
    EXPECT_EQ(w.top(), s);
  }
  // Everything still inside the window is now a duplicate, everything left of it is old.
  for (uint32_t s = 1000 - 63; s <= 1000; ++s)
    EXPECT_EQ(w.check(s).reason, kDup) << s;
  for (uint32_t s = 1; s < 1000 - 63; ++s)
    EXPECT_EQ(w.check(s).reason, kOld) << s;
}

TEST(ReplayWindow, ReorderedInsideTheWindow) {
  ReplayWindow w(64, false);
  ASSERT_EQ(receive(w, 100), kOk);
  // 37..99 are inside (100 - 37 = 63 < 64), in any order, once each.
  for (uint32_t s = 99; s >= 37; s -= 2)
    EXPECT_EQ(receive(w, s), kOk) << s;
  for (uint32_t s = 38; s <= 99; s += 2)
    EXPECT_EQ(receive(w, s), kOk) << s;
  EXPECT_EQ(w.top(), 100u);
  EXPECT_EQ(w.check(36).reason, kOld);
  EXPECT_EQ(w.check(37).reason, kDup);
  EXPECT_EQ(w.check(101).reason, kOk);
  // A packet newer than the top but older than one already seen ahead of it.
  ASSERT_EQ(receive(w, 110), kOk);
  EXPECT_EQ(receive(w, 105), kOk);
  EXPECT_EQ(receive(w, 105), kDup);
}

TEST(ReplayWindow, Duplicate) {
  ReplayWindow w(128, false);
  ASSERT_EQ(receive(w, 5), kOk);
  EXPECT_EQ(w.check(5).reason, kDup);
  // update() checks again: the second of two copies that both passed check() in one burst.
  EXPECT_EQ(w.update(5), kDup);
  ASSERT_EQ(receive(w, 3), kOk);
  EXPECT_EQ(w.update(3), kDup);
  EXPECT_EQ(w.top(), 5u);
}

TEST(ReplayWindow, TooOld) {
  ReplayWindow w(64, false);
  ASSERT_EQ(receive(w, 1000), kOk);
  EXPECT_EQ(w.check(1000 - 64).reason, kOld);
  EXPECT_EQ(w.update(1000 - 64), kOld);
  EXPECT_EQ(w.check(1).reason, kOld);
  EXPECT_EQ(receive(w, 1000 - 63), kOk);
  EXPECT_EQ(w.top(), 1000u);
}

TEST(ReplayWindow, LargeJumps) {
  ReplayWindow w(64, false);
  for (uint32_t s = 1; s <= 64; ++s)
    ASSERT_EQ(receive(w, s), kOk);
  // Exactly one window ahead: 65..128 fresh, the old bits must be gone.
  ASSERT_EQ(receive(w, 128), kOk);
  for (uint32_t s = 65; s < 128; ++s)
    EXPECT_EQ(w.check(s).reason, kOk) << s;
  EXPECT_EQ(w.check(64).reason, kOld);
  // Far beyond the window: nothing of the old map may survive as a false duplicate.
  ASSERT_EQ(receive(w, 128 + 64 * 1000 + 17), kOk);
  for (uint32_t s = 128 + 64 * 1000 + 17 - 63; s < 128 + 64 * 1000 + 17; ++s)
    EXPECT_EQ(w.check(s).reason, kOk) << s;
  ASSERT_EQ(receive(w, 0xfffffff0u), kOk);
  EXPECT_EQ(w.check(0xfffffff0u - 64).reason, kOld);
  EXPECT_EQ(w.check(0xfffffff0u - 63).reason, kOk);
  EXPECT_EQ(receive(w, 0xffffffffu), kOk);
  EXPECT_EQ(w.top(), 0xffffffffu);

  // 64-bit: a jump of more than 2^32 (the ESN re-synchronisation moves the window like this).
  ReplayWindow e(64, true);
  for (uint32_t s = 1; s <= 70; ++s)
    ASSERT_EQ(receive(e, s), kOk);
  const uint64_t far = 70 + 3 * k2p32 + 5;
  ASSERT_EQ(e.update(far), kOk);
  EXPECT_EQ(e.top(), far);
  for (uint64_t s = far - 63; s < far; ++s) {
    const auto c = e.check(static_cast<uint32_t>(s));
    EXPECT_EQ(c.reason, kOk) << s;
    EXPECT_EQ(c.seq, s);
  }
  EXPECT_EQ(e.update(far), kDup);
  EXPECT_EQ(e.update(70), kOld);
}

TEST(ReplayWindow, SizesRoundUpToBlocks) {
  EXPECT_EQ(ReplayWindow(1, false).size(), 64u);
  EXPECT_EQ(ReplayWindow(64, false).size(), 64u);
  EXPECT_EQ(ReplayWindow(65, false).size(), 128u);
  EXPECT_EQ(ReplayWindow(128, false).size(), 128u);
  EXPECT_EQ(ReplayWindow(1000, false).size(), 1024u);
  EXPECT_EQ(ReplayWindow(4096, true).size(), 4096u);
  EXPECT_EQ(ReplayWindow(65536, true).size(), 65536u);
  EXPECT_THROW(ReplayWindow(65537, false), std::invalid_argument);
  EXPECT_THROW(ReplayWindow(UINT32_MAX, true), std::invalid_argument);
}

class ReplayWindowSize : public testing::TestWithParam<uint32_t> {};

// The edges of each window size, exactly: W packets fit, the W+1-th oldest does not.
TEST_P(ReplayWindowSize, Edges) {
  const uint32_t asked = GetParam();
  ReplayWindow w(asked, false);
  const uint32_t size = w.size();
  EXPECT_EQ(size, (asked + 63) / 64 * 64);
  const uint32_t top = 3 * size + 7;
  ASSERT_EQ(receive(w, top), kOk);
  for (uint32_t s = top - 1; s > top - size; --s)
    ASSERT_EQ(receive(w, s), kOk) << s;
  for (uint32_t s = top - size + 1; s <= top; ++s)
    ASSERT_EQ(w.check(s).reason, kDup) << s;
  EXPECT_EQ(w.check(top - size).reason, kOld);
  // Sliding by one block at a time clears exactly what left the window.
  for (uint32_t step = 1; step <= 2 * size; step += 61) {
    ASSERT_EQ(receive(w, top + step), kOk);
    EXPECT_EQ(w.check(top + step).reason, kDup);
    EXPECT_EQ(w.check(top + step - size).reason, kOld);
  }
}

// A reference model written straight from RFC 4303 3.4.3 (and A2.2 for ESN: of the candidates
// seq_hi - 1, seq_hi, seq_hi + 1, the one that puts the packet within [T - W + 1, T - W + 2^32]),
// against the bitmap over long pseudo-random streams of in-order, reordered, duplicated, old
// and jumping packets.
class Model {
 public:
  // After reset(start): start is the top, nothing is marked as received.
  Model(uint64_t window, bool esn, uint64_t start) : top_(start), w_(window), esn_(esn) {}
  // The full sequence number the receiver infers, or nullopt if none is possible.
  std::optional<uint64_t> infer(uint32_t lo) const {
    if (!esn_) return lo;
    // Signed arithmetic: the streams here stay far below 2^62, so nothing overflows.
    const int64_t bottom = static_cast<int64_t>(top_) - static_cast<int64_t>(w_) + 1;
    const int64_t th = static_cast<int64_t>(top_ >> 32);
    for (int64_t hi = th - 1; hi <= th + 1; ++hi) {
      if (hi < 0) continue;
      const int64_t full = static_cast<int64_t>((static_cast<uint64_t>(hi) << 32) | lo);
      if (full >= bottom && full < bottom + static_cast<int64_t>(k2p32)) {
        return static_cast<uint64_t>(full);
      }
    }
    return std::nullopt;
  }
  DropReason check(uint64_t s) const {
    if (s == 0) return kOld;
    if (w_ == 0 || s > top_) return kOk;
    if (top_ - s >= w_) return kOld;
    return seen_.count(s) ? kDup : kOk;
  }
  void update(uint64_t s) {
    top_ = std::max(top_, s);
    seen_.insert(s);
    while (!seen_.empty() && top_ - *seen_.begin() >= w_)
      seen_.erase(seen_.begin());
  }
  uint64_t top() const { return top_; }

 private:
  uint64_t top_ = 0;
  uint64_t w_;
  bool esn_;
  std::set<uint64_t> seen_;
};

void run_against_model(uint32_t asked, bool esn, uint64_t start, uint32_t seed) {
  ReplayWindow w(asked, esn);
  Model m(w.size(), esn, start);
  w.reset(start);
  std::mt19937_64 rng(seed);
  const uint64_t size = w.size();
  // Without ESN the stream must stay below 2^32 for 20000 steps.
  const uint64_t far = esn ? uint64_t{1} << 20 : uint64_t{1} << 14;
  uint64_t accepted = 0;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t top = m.top();
    uint64_t s;
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: s = top + 1; break;
      case 3: s = top - std::min<uint64_t>(top, rng() % (size + 8)); break;  // reordered / old
      case 4: s = top - std::min<uint64_t>(top, rng() % 8); break;           // recent dup
      case 5: s = top + 1 + rng() % (2 * size); break;                       // within 2 windows
      case 6: s = top + 1 + rng() % far; break;                              // far jump
      default: s = top - std::min<uint64_t>(top, rng() % (4 * size)); break;
    }
    if (!esn && s > UINT32_MAX) s = UINT32_MAX - rng() % 4;
    const uint32_t lo = static_cast<uint32_t>(s);
    const auto c = w.check(lo);
    const auto inferred = m.infer(lo);
    if (!inferred) {
      ASSERT_EQ(c.reason, kOld) << "step " << step << " seq " << s;
      continue;
    }
    ASSERT_EQ(c.seq, *inferred) << "step " << step << " seq " << s;
    ASSERT_EQ(c.reason, m.check(*inferred)) << "step " << step << " seq " << s;
    // A wrongly inferred seq_hi would fail the ICV: only the true one reaches update().
    if (c.reason != kOk || *inferred != s) continue;
    ASSERT_EQ(w.update(s), kOk) << "step " << step;
    m.update(s);
    ++accepted;
    ASSERT_EQ(w.top(), m.top());
  }
  EXPECT_GT(accepted, 8000u);
}

TEST_P(ReplayWindowSize, MatchesReferenceModel) {
  run_against_model(GetParam(), false, 0, 1);
  run_against_model(GetParam(), false, UINT32_MAX - (uint64_t{1} << 26), 2);
}

TEST_P(ReplayWindowSize, MatchesReferenceModelEsn) {
  run_against_model(GetParam(), true, 0, 3);
  // Starts just below the 2^32 boundary so that the stream crosses it (both A2.2 cases).
  run_against_model(GetParam(), true, k2p32 - 5000, 4);
  run_against_model(GetParam(), true, 7 * k2p32 - GetParam() / 2, 5);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReplayWindowSize, testing::Values(64u, 128u, 1000u, 4096u, 65536u));

// RFC 4303 A2.2, case A: Tl >= W - 1, the window lies within one subspace.
TEST(ReplayWindowEsn, InferenceWindowInOneSubspace) {
  ReplayWindow w(64, true);
  const uint64_t top = 5 * k2p32 + 1000;  // Th = 5, Tl = 1000
  w.reset(top);
  // Seql >= Tl - W + 1 = 937: same subspace.
  auto c = w.check(937);
  EXPECT_EQ(c.reason, kOk);
  EXPECT_EQ(c.seq, 5 * k2p32 + 937);
  c = w.check(2000);
  EXPECT_EQ(c.seq, 5 * k2p32 + 2000);
  c = w.check(UINT32_MAX);
  EXPECT_EQ(c.seq, 5 * k2p32 + UINT32_MAX);
  // Seql < 937: the next subspace (the sender wrapped its low half).
  c = w.check(936);
  EXPECT_EQ(c.reason, kOk);
  EXPECT_EQ(c.seq, 6 * k2p32 + 936);
  c = w.check(0);
  EXPECT_EQ(c.reason, kOk);
  EXPECT_EQ(c.seq, 6 * k2p32);
  // Tl == W - 1 exactly is still case A.
  w.reset(5 * k2p32 + 63);
  EXPECT_EQ(w.check(0).seq, 5 * k2p32 + 0);
  EXPECT_EQ(w.check(0).reason, kOk);
  // Crossing the boundary in order: ..., 2^32 - 1, 2^32 (Seql = 0), 2^32 + 1.
  ReplayWindow x(64, true);
  x.reset(k2p32 - 3);
  for (uint64_t s = k2p32 - 2; s <= k2p32 + 2; ++s) {
    const auto r = x.check(static_cast<uint32_t>(s));
    ASSERT_EQ(r.reason, kOk);
    ASSERT_EQ(r.seq, s);
    ASSERT_EQ(x.update(r.seq), kOk);
  }
  EXPECT_EQ(x.top(), k2p32 + 2);
}

// Case B: Tl < W - 1, the window spans two subspaces.
TEST(ReplayWindowEsn, InferenceWindowSpanningTwoSubspaces) {
  ReplayWindow w(64, true);
  const uint64_t top = 3 * k2p32 + 10;  // window [3*2^32 - 53, 3*2^32 + 10]
  w.reset(top);
  ASSERT_EQ(w.update(3 * k2p32 - 20), kOk);
  // Seql >= Tl - W + 1 (mod 2^32): the older subspace, Th - 1.
  auto c = w.check(static_cast<uint32_t>(-20));
  EXPECT_EQ(c.seq, 3 * k2p32 - 20);
  EXPECT_EQ(c.reason, kDup);
  c = w.check(static_cast<uint32_t>(-53));
  EXPECT_EQ(c.seq, 3 * k2p32 - 53);
  EXPECT_EQ(c.reason, kOk);
  c = w.check(UINT32_MAX);
  EXPECT_EQ(c.seq, 3 * k2p32 - 1);
  EXPECT_EQ(c.reason, kOk);
  // Seql < Tl - W + 1: the current subspace, Th.
  c = w.check(static_cast<uint32_t>(-54));
  EXPECT_EQ(c.seq, 3 * k2p32 + UINT32_MAX - 53);
  EXPECT_EQ(c.reason, kOk);  // far ahead: inferred new (the ICV decides)
  c = w.check(5);
  EXPECT_EQ(c.seq, 3 * k2p32 + 5);
  EXPECT_EQ(c.reason, kOk);
  c = w.check(11);
  EXPECT_EQ(c.seq, 3 * k2p32 + 11);
}

TEST(ReplayWindowEsn, EdgesOfThe64BitSpace) {
  // Case B in subspace 0: there is no subspace -1.
  ReplayWindow w(64, true);
  w.reset(10);
  EXPECT_EQ(w.check(UINT32_MAX).reason, kOld);
  EXPECT_EQ(w.check(static_cast<uint32_t>(-53)).reason, kOld);
  EXPECT_EQ(w.check(static_cast<uint32_t>(-54)).reason, kOk);  // Th = 0, far ahead
  // Case A in the last subspace: Th + 1 would wrap the 64-bit counter.
  ReplayWindow e(64, true);
  e.reset((uint64_t{UINT32_MAX} << 32) | 1000);
  EXPECT_EQ(e.check(10).reason, kOld);
  EXPECT_EQ(e.check(999).seq, (uint64_t{UINT32_MAX} << 32) | 999);
  EXPECT_EQ(e.check(2000).reason, kOk);
}

TEST(ReplayWindow, SequenceNumberZeroIsNeverAccepted) {
  for (uint32_t size : {0u, 64u, 1024u}) {
    ReplayWindow w(size, false);
    EXPECT_EQ(w.check(0).reason, kOld) << size;
    EXPECT_EQ(w.update(0), kOld) << size;
    ASSERT_EQ(receive(w, 1), kOk);
    EXPECT_EQ(w.check(0).reason, kOld) << size;
  }
  ReplayWindow e(64, true);
  EXPECT_EQ(e.check(0).reason, kOld);
  EXPECT_EQ(e.check(0).seq, 0u);
  EXPECT_EQ(e.update(0), kOld);
  // With ESN a zero low half is a real packet once past 2^32: 2^32 is not 0.
  e.reset(k2p32 - 1);
  const auto c = e.check(0);
  EXPECT_EQ(c.reason, kOk);
  EXPECT_EQ(c.seq, k2p32);
}

TEST(ReplayWindow, ZeroDisablesTheCheckWithoutEsn) {
  ReplayWindow w(0, false);
  EXPECT_EQ(w.size(), 0u);
  ASSERT_EQ(receive(w, 1000), kOk);
  EXPECT_EQ(receive(w, 1000), kOk);  // duplicates pass: the check is off
  EXPECT_EQ(receive(w, 1), kOk);     // so do old packets
  EXPECT_EQ(w.top(), 1000u);
  ASSERT_EQ(receive(w, UINT32_MAX), kOk);
  EXPECT_EQ(receive(w, 2), kOk);
  EXPECT_EQ(w.check(0).reason, kOld);
}

TEST(ReplayWindow, ZeroIsRefusedWithEsn) {
  EXPECT_THROW(ReplayWindow(0, true), std::invalid_argument);
  std::mt19937_64 rng(1);
  esp::Algorithm gcm;
  test::SaPairOptions o{gcm, true, false, false, 0};
  EXPECT_THROW(test::make_sa_pair(o, rng), std::invalid_argument);
  o.esn = false;
  EXPECT_NO_THROW(test::make_sa_pair(o, rng));
}

TEST(ReplayWindow, ResetStartsAfresh) {
  ReplayWindow w(64, false);
  for (uint32_t s = 1; s <= 64; ++s)
    ASSERT_EQ(receive(w, s), kOk);
  w.reset(1000);
  EXPECT_EQ(w.top(), 1000u);
  EXPECT_EQ(w.check(990).reason, kOk);
  EXPECT_EQ(w.check(936).reason, kOld);
}

// ---- Through the engine, with real encryption ----

using crypto::BackendKind;
using Param = std::tuple<esp::Algorithm, BackendKind>;

std::string param_name(const testing::TestParamInfo<Param>& info) {
  std::string n = std::get<0>(info.param).name() + "_" +
                  std::string(crypto::backend_name(std::get<1>(info.param)));
  for (auto& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

class ReplayEngine : public testing::TestWithParam<Param> {
 protected:
  void make(bool esn, uint32_t window = 64, uint32_t resync_threshold = 16) {
    test::SaPairOptions o;
    o.algorithm = std::get<0>(GetParam());
    o.esn = esn;
    o.replay_window = window;
    pair_ = test::make_sa_pair(o, rng_);
    if (resync_threshold != 16) {
      esp::SaParams in = pair_.params;
      in.direction = esp::Direction::kInbound;
      std::swap(in.local, in.remote);
      in.esn_resync_threshold = resync_threshold;
      pair_.in = esp::Sa::make(in, 1, rng_());
    }
  }
  // A packet from the outbound SA with the given sequence number.
  std::vector<uint8_t> packet(uint64_t seq) {
    esp::SaTestAccess::set_next_seq(*pair_.out, seq);
    test::PacketBuffer buf(test::ipv4_udp_packet(40));
    esp::PacketView* pv = &buf.view();
    esp::Sa* sa = pair_.out.get();
    DropReason r;
    sender_.encrypt({pv, 1}, {&sa, 1}, {&r, 1});
    EXPECT_EQ(r, kOk);
    return buf.bytes();
  }
  std::vector<DropReason> receive(const std::vector<std::vector<uint8_t>>& pkts) {
    std::vector<std::unique_ptr<test::PacketBuffer>> bufs;
    std::vector<esp::PacketView> views;
    for (const auto& p : pkts) {
      bufs.push_back(std::make_unique<test::PacketBuffer>(p));
      views.push_back(bufs.back()->view());
    }
    std::vector<DropReason> reasons(pkts.size());
    esp::Sa* in = pair_.in.get();
    receiver_.inbound(
        views, [&](const esp::InboundMeta&) { return in; }, reasons);
    for (size_t i = 0; i < pkts.size(); ++i) {
      if (reasons[i] == kOk) {
        EXPECT_EQ(std::vector<uint8_t>(views[i].data(), views[i].data() + views[i].data_len),
                  test::ipv4_udp_packet(40));
      }
    }
    return reasons;
  }
  DropReason receive_one(const std::vector<uint8_t>& p) { return receive({p})[0]; }
  uint64_t drops(DropReason r) const { return receiver_.drops()[r]; }

  std::mt19937_64 rng_{2024};
  std::unique_ptr<crypto::CryptoBackend> backend_ = crypto::make_backend(std::get<1>(GetParam()));
  esp::EspEngine sender_{*backend_, 0};
  esp::EspEngine receiver_{*backend_, 0};
  test::SaPair pair_;
};

TEST_P(ReplayEngine, WindowMovesOnlyAfterTheIcvVerified) {
  make(false);
  for (uint64_t s = 1; s <= 3; ++s)
    ASSERT_EQ(receive_one(packet(s)), kOk);
  ASSERT_EQ(pair_.in->replay().top(), 3u);
  const auto esp_off = 20u;

  // A forged packet claiming a sequence number far ahead: passes the pre-check, fails the ICV,
  // and must leave the window where it was.
  auto forged = packet(4);
  store_be32(&forged[esp_off + 4], 0x7fffff00u);
  EXPECT_EQ(receive_one(forged), DropReason::kAuthFailed);
  EXPECT_EQ(pair_.in->replay().top(), 3u);
  store_be32(&forged[esp_off + 4], UINT32_MAX);
  EXPECT_EQ(receive_one(forged), DropReason::kAuthFailed);
  EXPECT_EQ(pair_.in->replay().top(), 3u);
  // A genuine header with a broken ICV.
  auto bad_icv = packet(1000);
  bad_icv.back() ^= 1;
  EXPECT_EQ(receive_one(bad_icv), DropReason::kAuthFailed);
  EXPECT_EQ(pair_.in->replay().top(), 3u);
  EXPECT_EQ(drops(DropReason::kAuthFailed), 3u);
  EXPECT_EQ(pair_.in->drops(DropReason::kAuthFailed), 3u);

  // Had the window moved to 0x7fffff00, these would all be "too old".
  EXPECT_EQ(receive_one(packet(4)), kOk);
  EXPECT_EQ(receive_one(packet(100)), kOk);
  EXPECT_EQ(receive_one(packet(37)), kOk);
  EXPECT_EQ(receive_one(packet(36)), kOld);
  EXPECT_EQ(receive_one(packet(100)), kDup);
  EXPECT_EQ(pair_.in->replay().top(), 100u);
  EXPECT_EQ(pair_.in->packets(), 6u);
  EXPECT_EQ(pair_.in->drops(kOld), 1u);
  EXPECT_EQ(pair_.in->drops(kDup), 1u);
}

// A packet sealed with a valid ICV under sequence number 0 (the engine's sender never makes one)
// is refused before decryption, whatever the window; with window 0, duplicates pass.
TEST_P(ReplayEngine, SequenceNumberZeroAndWindowZero) {
  for (uint32_t window : {64u, 0u}) {
    make(false, window);
    const auto pt = test::esp_plaintext(test::ipv4_udp_packet(40), std::get<0>(GetParam()), 4);
    const uint8_t iv[16] = {1, 2, 3};
    const auto esp0 = test::seal_esp(*backend_, pair_.in->keys(), false, 0x1000, 0, iv, pt);
    ASSERT_FALSE(esp0.empty());
    const auto zero = test::wrap_outer({}, esp0);
    EXPECT_EQ(receive_one(zero), kOld) << window;
    // The same plaintext under sequence number 1 is fine: only the 0 was wrong.
    const auto esp1 = test::seal_esp(*backend_, pair_.in->keys(), false, 0x1000, 1, iv, pt);
    EXPECT_EQ(receive_one(test::wrap_outer({}, esp1)), kOk) << window;
    const auto p = packet(100);
    EXPECT_EQ(receive_one(p), kOk) << window;
    EXPECT_EQ(receive_one(p), window == 0 ? kOk : kDup) << window;
    EXPECT_EQ(receive_one(packet(2)), window == 0 ? kOk : kOld) << window;
    EXPECT_EQ(receive_one(zero), kOld) << window;
  }
}

TEST_P(ReplayEngine, TwoCopiesInOneBurst) {
  make(false);
  const auto p = packet(1);
  auto r = receive({p, p});
  EXPECT_EQ(r[0], kOk);
  EXPECT_EQ(r[1], kDup);
  EXPECT_EQ(drops(kDup), 1u);
  EXPECT_EQ(pair_.in->drops(kDup), 1u);
  EXPECT_EQ(pair_.in->packets(), 1u);

  // Interleaved with other packets, and three copies.
  const auto a = packet(2);
  const auto b = packet(3);
  r = receive({a, b, a, a, b, p});
  EXPECT_EQ(r, (std::vector<DropReason>{kOk, kOk, kDup, kDup, kDup, kDup}));
  EXPECT_EQ(drops(kDup), 5u);
  EXPECT_EQ(pair_.in->drops(kDup), 5u);
  EXPECT_EQ(pair_.in->packets(), 3u);

  // A jump and a packet it pushes out of the window, in one burst, newest first.
  const auto old = packet(4);
  const auto jump = packet(4 + 64);
  r = receive({jump, old});
  EXPECT_EQ(r[0], kOk);
  EXPECT_EQ(r[1], kOld);
}

TEST_P(ReplayEngine, EsnAcrossTheBoundary) {
  make(true);
  esp::SaTestAccess::replay(*pair_.in).reset(k2p32 - 3);
  for (uint64_t s = k2p32 - 2; s <= k2p32 + 2; ++s)
    ASSERT_EQ(receive_one(packet(s)), kOk) << s;
  // A reordered packet from just before the boundary, arriving after it (A2.2 case B).
  EXPECT_EQ(receive_one(packet(k2p32 - 10)), kOk);
  EXPECT_EQ(receive_one(packet(k2p32 - 10)), kDup);
  // Older than the window: A2.2 infers it into the current subspace, far ahead, and the ICV
  // (computed with the true seq_hi) fails. The window does not move.
  EXPECT_EQ(receive_one(packet(k2p32 - 70)), DropReason::kAuthFailed);
  EXPECT_EQ(pair_.in->replay().top(), k2p32 + 2);
}

// RFC 4303 Appendix A3: a sender more than 2^32 ahead is only found by trying seq_hi + 1 after
// a run of ICV failures.
TEST_P(ReplayEngine, EsnResynchronisation) {
  make(true);
  for (uint64_t s = 1; s <= 10; ++s)
    ASSERT_EQ(receive_one(packet(s)), kOk);
  const uint64_t ahead = 10 + k2p32 + 50;
  for (uint32_t k = 0; k < 16; ++k) {
    ASSERT_EQ(receive_one(packet(ahead + k)), DropReason::kAuthFailed) << k;
    EXPECT_EQ(pair_.in->replay().top(), 10u);
  }
  EXPECT_EQ(receiver_.esn_resyncs(), 0u);
  EXPECT_EQ(esp::SaTestAccess::auth_failures(*pair_.in), 16u);
  // A forged packet in re-synchronisation mode: both trials fail, nothing moves.
  auto forged = packet(ahead + 16);
  forged[forged.size() - 1] ^= 0x80;
  EXPECT_EQ(receive_one(forged), DropReason::kAuthFailed);
  EXPECT_EQ(receiver_.esn_resyncs(), 0u);
  EXPECT_EQ(pair_.in->replay().top(), 10u);

  EXPECT_EQ(receive_one(packet(ahead + 17)), kOk);
  EXPECT_EQ(receiver_.esn_resyncs(), 1u);
  EXPECT_EQ(pair_.in->replay().top(), ahead + 17);
  EXPECT_EQ(esp::SaTestAccess::auth_failures(*pair_.in), 0u);
  // From now on the normal path, no further re-synchronisation.
  EXPECT_EQ(receive_one(packet(ahead + 18)), kOk);
  EXPECT_EQ(receive_one(packet(ahead + 16)), kOk);
  EXPECT_EQ(receive_one(packet(ahead + 17)), kDup);
  EXPECT_EQ(receive_one(packet(11)), DropReason::kAuthFailed);  // old subspace: misinferred
  EXPECT_EQ(receiver_.esn_resyncs(), 1u);
  EXPECT_EQ(pair_.in->drops(DropReason::kAuthFailed), 18u);
  EXPECT_EQ(drops(DropReason::kAuthFailed), 18u);
}

TEST_P(ReplayEngine, EsnResynchronisationNeedsConsecutiveFailures) {
  make(true);
  ASSERT_EQ(receive_one(packet(1)), kOk);
  const uint64_t ahead = k2p32 + 100;
  for (uint32_t k = 0; k < 15; ++k)
    ASSERT_EQ(receive_one(packet(ahead + k)), DropReason::kAuthFailed);
  ASSERT_EQ(receive_one(packet(2)), kOk);  // resets the run
  for (uint32_t k = 15; k < 30; ++k)
    ASSERT_EQ(receive_one(packet(ahead + k)), DropReason::kAuthFailed);
  EXPECT_EQ(receiver_.esn_resyncs(), 0u);
  ASSERT_EQ(receive_one(packet(ahead + 30)), DropReason::kAuthFailed);  // the 16th in a row
  EXPECT_EQ(receive_one(packet(ahead + 31)), kOk);
  EXPECT_EQ(receiver_.esn_resyncs(), 1u);
}

TEST_P(ReplayEngine, EsnResynchronisationThresholdZeroDisablesIt) {
  make(true, 64, 0);
  ASSERT_EQ(receive_one(packet(1)), kOk);
  for (uint32_t k = 0; k < 100; ++k)
    ASSERT_EQ(receive_one(packet(k2p32 + 10 + k)), DropReason::kAuthFailed);
  EXPECT_EQ(receiver_.esn_resyncs(), 0u);
  EXPECT_EQ(pair_.in->replay().top(), 1u);
}

TEST_P(ReplayEngine, EsnResynchronisationCustomThresholdAndBursts) {
  make(true, 1024, 3);
  ASSERT_EQ(receive_one(packet(5)), kOk);
  // seq_hi 1 while the receiver infers 0. The run of failures is judged per burst (the decision
  // is taken before the burst's ICVs are checked), so the whole first burst fails.
  std::vector<std::vector<uint8_t>> burst;
  for (uint32_t k = 0; k < 6; ++k)
    burst.push_back(packet(k2p32 + 6 + k));
  EXPECT_EQ(receive(burst), std::vector<DropReason>(6, DropReason::kAuthFailed));
  EXPECT_EQ(receiver_.esn_resyncs(), 0u);
  burst.clear();
  for (uint32_t k = 6; k < 10; ++k)
    burst.push_back(packet(k2p32 + 6 + k));
  EXPECT_EQ(receive(burst), std::vector<DropReason>(4, kOk));
  EXPECT_EQ(pair_.in->replay().top(), k2p32 + 15);
  EXPECT_EQ(pair_.in->packets(), 5u);
  // One re-synchronisation: the window jumped into the next subspace once.
  EXPECT_EQ(receiver_.esn_resyncs(), 1u);
  // Two subspaces ahead is out of reach even in re-synchronisation mode.
  for (uint32_t k = 0; k < 8; ++k)
    EXPECT_EQ(receive_one(packet(3 * k2p32 + 20 + k)), DropReason::kAuthFailed);
  EXPECT_EQ(pair_.in->replay().top(), k2p32 + 15);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ReplayEngine,
    testing::Combine(
        testing::Values(esp::Algorithm{esp::Cipher::kAesGcm16, 16, esp::Integrity::kNone},
                        esp::Algorithm{esp::Cipher::kAesCbc, 16, esp::Integrity::kHmacSha256_128}),
        testing::Values(BackendKind::kIpsecMb, BackendKind::kOpenSsl)),
    param_name);

}  // namespace
}  // namespace espgw
