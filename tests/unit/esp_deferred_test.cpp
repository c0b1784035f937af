// EspEngine's deferred calls (encrypt_deferred, decrypt_deferred, reap, drain): AES-CBC + HMAC
// packets left in the crypto lanes across bursts come back once each, in order, with their tag,
// decrypt to the packets that went in, and keep the synchronous calls' drop outcomes (replays,
// forged ICVs); AES-GCM packets finish at once; a ring too full to take a chunk runs it
// synchronously. For both backends (OpenSSL finishes at once but hands back the same way).

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using crypto::BackendKind;

struct Packet {
  std::unique_ptr<test::PacketBuffer> buf;
  std::vector<uint8_t> inner;
};

class EspDeferred : public testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    backend_ = crypto::make_backend(GetParam());
    std::mt19937_64 rng(7);
    cbc_ = test::make_sa_pair(
        {*esp::parse_algorithm("aes128-sha256"), false, false, false, 64, 0x2000, 1}, rng);
    gcm_ = test::make_sa_pair(
        {*esp::parse_algorithm("aes128gcm16"), false, false, false, 64, 0x3000, 1}, rng);
  }

  std::vector<Packet> make(size_t n) {
    std::vector<Packet> v;
    for (size_t i = 0; i < n; ++i) {
      // IMIX-like sizes, so that jobs of different lengths share the lanes.
      const uint32_t size = i % 3 == 0 ? 1400 : i % 3 == 1 ? 20 : 530;
      auto inner = test::ipv4_udp_packet(size, 0, static_cast<uint8_t>(i));
      Packet p{std::make_unique<test::PacketBuffer>(inner), inner};
      p.buf->view().owner = p.buf.get();
      v.push_back(std::move(p));
    }
    return v;
  }

  // encrypt_deferred() on packets [base, base + n), packet i tagged `tag` + i (one call, many
  // tags, as a burst spread over tunnels has); their views as the call left them.
  std::vector<DropReason> encrypt_burst(esp::EspEngine& e, std::vector<Packet>& pkts,
                                        const std::vector<esp::Sa*>& sas, size_t base, size_t n,
                                        uint32_t tag, std::vector<esp::PacketView>& views) {
    views.clear();
    for (size_t i = base; i < base + n; ++i)
      views.push_back(pkts[i].buf->view());
    std::vector<DropReason> reasons(n);
    std::vector<uint32_t> tags;
    for (size_t i = base; i < base + n; ++i)
      tags.push_back(tag + static_cast<uint32_t>(i));
    e.encrypt_deferred(views, std::span(sas).subspan(base, n), tags, reasons);
    return reasons;
  }

  // Reaps everything finished; `drain` finishes the rest first.
  std::vector<esp::Reaped> reap(esp::EspEngine& e, bool drain) {
    if (drain) e.drain();
    std::vector<esp::Reaped> out;
    esp::Reaped r;
    while (e.reap(r))
      out.push_back(r);
    return out;
  }

  std::unique_ptr<crypto::CryptoBackend> backend_;
  test::SaPair cbc_;
  test::SaPair gcm_;
};

TEST_P(EspDeferred, EncryptThenDecryptAcrossBursts) {
  esp::EspEngine sender(*backend_, 0);
  esp::EspEngine receiver(*backend_, 1);
  auto pkts = make(96);
  // Every fourth packet under the GCM SA: finished at once, never deferred.
  std::vector<esp::Sa*> sas;
  for (size_t i = 0; i < pkts.size(); ++i)
    sas.push_back(i % 4 == 3 ? gcm_.out.get() : cbc_.out.get());

  std::vector<void*> order;           // CBC packets, in the order they were handed over
  std::vector<uint32_t> order_index;  // and their indexes
  std::vector<esp::Reaped> reaped;
  std::vector<esp::PacketView> views;
  for (size_t base = 0; base < pkts.size(); base += 16) {
    const auto reasons = encrypt_burst(sender, pkts, sas, base, 16, 7, views);
    for (size_t k = 0; k < 16; ++k) {
      const size_t i = base + k;
      if (sas[i] == gcm_.out.get()) {
        EXPECT_EQ(reasons[k], DropReason::kNone);
        pkts[i].buf->view() = views[k];
      } else {
        ASSERT_EQ(reasons[k], kDeferred);
        order.push_back(pkts[i].buf.get());
        order_index.push_back(static_cast<uint32_t>(i));
      }
    }
    for (auto& r : reap(sender, false))
      reaped.push_back(r);
  }
  if (GetParam() == BackendKind::kIpsecMb) {
    EXPECT_NE(sender.deferred(), 0u) << "the lanes were flushed: nothing stayed across bursts";
  }
  for (auto& r : reap(sender, true))
    reaped.push_back(r);
  EXPECT_EQ(sender.deferred(), 0u);
  ASSERT_EQ(reaped.size(), order.size());
  for (size_t k = 0; k < reaped.size(); ++k) {
    EXPECT_EQ(reaped[k].view.owner, order[k]) << "out of order at " << k;
    EXPECT_EQ(reaped[k].reason, DropReason::kNone);
    EXPECT_EQ(reaped[k].tag, 7u + order_index[k]) << "its own packet's tag";
    EXPECT_TRUE(reaped[k].outbound);
    static_cast<test::PacketBuffer*>(reaped[k].view.owner)->view() = reaped[k].view;
  }
  EXPECT_EQ(cbc_.out->packets(), order.size());
  EXPECT_EQ(gcm_.out->packets(), pkts.size() - order.size());

  // Back through the receiver, the CBC ones deferred with their index as the tag.
  views.clear();
  std::vector<esp::Sa*> in_sas;
  std::vector<uint32_t> tags;
  for (size_t i = 0; i < pkts.size(); ++i) {
    views.push_back(pkts[i].buf->view());
    in_sas.push_back(sas[i] == gcm_.out.get() ? gcm_.in.get() : cbc_.in.get());
    tags.push_back(static_cast<uint32_t>(i));
  }
  std::vector<esp::InboundMeta> meta(views.size());
  std::vector<DropReason> reasons(views.size());
  receiver.parse_inbound(views, meta, reasons);
  receiver.decrypt_deferred(views, meta, in_sas, tags, reasons);
  std::vector<bool> seen(pkts.size(), false);
  for (size_t i = 0; i < pkts.size(); ++i) {
    if (reasons[i] == kDeferred) continue;
    ASSERT_EQ(reasons[i], DropReason::kNone) << i << ": " << drop_reason_name(reasons[i]);
    ASSERT_EQ(in_sas[i], gcm_.in.get()) << "a CBC packet was not deferred";
    pkts[i].buf->view() = views[i];
    EXPECT_EQ(pkts[i].buf->bytes(), pkts[i].inner) << i;
    seen[i] = true;
  }
  uint32_t last = 0;
  for (auto& r : reap(receiver, true)) {
    ASSERT_EQ(r.reason, DropReason::kNone) << drop_reason_name(r.reason);
    EXPECT_FALSE(r.outbound);
    EXPECT_EQ(r.sa, cbc_.in.get());
    EXPECT_GE(r.tag, last) << "out of order";
    last = r.tag;
    ASSERT_FALSE(seen[r.tag]) << "reaped twice: " << r.tag;
    seen[r.tag] = true;
    pkts[r.tag].buf->view() = r.view;
    EXPECT_EQ(pkts[r.tag].buf->bytes(), pkts[r.tag].inner) << r.tag;
  }
  for (size_t i = 0; i < pkts.size(); ++i)
    EXPECT_TRUE(seen[i]) << "lost: " << i;
  EXPECT_EQ(cbc_.in->packets(), order.size());
  EXPECT_EQ(receiver.deferred(), 0u);
}

TEST_P(EspDeferred, ReplaysAndForgeriesAreCountedWhenReaped) {
  esp::EspEngine sender(*backend_, 0);
  esp::EspEngine receiver(*backend_, 1);
  auto pkts = make(3);
  esp::Sa* out = cbc_.out.get();
  for (auto& p : pkts) {
    DropReason r;
    sender.encrypt({&p.buf->view(), 1}, {&out, 1}, {&r, 1});
    ASSERT_EQ(r, DropReason::kNone);
  }
  // The first packet twice (a replay inside one burst: both pass the check before decryption),
  // the second with its last ICV byte flipped.
  std::vector<esp::PacketView> views = {pkts[0].buf->view(), pkts[1].buf->view(),
                                        pkts[2].buf->view()};
  auto copy = pkts[0].buf->bytes();
  test::PacketBuffer again(copy);
  views.push_back(again.view());
  uint8_t* last = views[1].data() + views[1].data_len - 1;
  *last ^= 1;
  std::vector<esp::Sa*> sas(views.size(), cbc_.in.get());
  std::vector<uint32_t> tags = {0, 1, 2, 3};
  std::vector<esp::InboundMeta> meta(views.size());
  std::vector<DropReason> reasons(views.size());
  receiver.parse_inbound(views, meta, reasons);
  receiver.decrypt_deferred(views, meta, sas, tags, reasons);
  for (auto r : reasons)
    EXPECT_EQ(r, kDeferred);
  auto reaped = reap(receiver, true);
  ASSERT_EQ(reaped.size(), 4u);
  EXPECT_EQ(reaped[0].reason, DropReason::kNone);
  EXPECT_EQ(reaped[1].reason, DropReason::kAuthFailed);
  EXPECT_EQ(reaped[2].reason, DropReason::kNone);
  EXPECT_EQ(reaped[3].reason, DropReason::kReplayDuplicate);
  EXPECT_EQ(cbc_.in->drops(DropReason::kAuthFailed), 1u);
  EXPECT_EQ(cbc_.in->drops(DropReason::kReplayDuplicate), 1u);
  EXPECT_EQ(receiver.drops()[DropReason::kAuthFailed], 1u);
  EXPECT_EQ(cbc_.in->packets(), 2u);
}

TEST_P(EspDeferred, AFullRingRunsSynchronously) {
  esp::EspEngine sender(*backend_, 0);
  auto pkts = make(640);
  std::vector<esp::Sa*> sas(pkts.size(), cbc_.out.get());
  size_t deferred = 0;
  size_t at_once = 0;
  std::vector<esp::PacketView> views;
  for (size_t base = 0; base < pkts.size(); base += 64) {
    for (auto r : encrypt_burst(sender, pkts, sas, base, 64, 1, views)) {
      if (r == kDeferred) {
        ++deferred;
      } else {
        EXPECT_EQ(r, DropReason::kNone);
        ++at_once;
      }
    }
  }
  EXPECT_EQ(deferred, 512u);  // the ring's size: the two chunks after it ran synchronously
  EXPECT_EQ(at_once, 128u);
  EXPECT_EQ(reap(sender, true).size(), 512u);
  EXPECT_EQ(cbc_.out->packets(), 640u);
}

// One call of more packets than the engine takes at once (kMaxBurst): each packet's tag goes with
// it past the chunk boundary (route() hands a whole burst of many tunnels over in one call).
TEST_P(EspDeferred, TagsFollowTheirPacketsPastAChunk) {
  esp::EspEngine sender(*backend_, 0);
  constexpr size_t kCount = esp::kMaxBurst + esp::kMaxBurst / 2;
  auto pkts = make(kCount);
  std::vector<esp::Sa*> sas(pkts.size(), cbc_.out.get());
  std::vector<esp::PacketView> views;
  for (auto r : encrypt_burst(sender, pkts, sas, 0, kCount, 100, views))
    ASSERT_EQ(r, kDeferred);
  const auto reaped = reap(sender, true);
  ASSERT_EQ(reaped.size(), kCount);
  for (size_t k = 0; k < kCount; ++k) {
    EXPECT_EQ(reaped[k].view.owner, pkts[k].buf.get()) << k;
    EXPECT_EQ(reaped[k].tag, 100u + k) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, EspDeferred,
                         testing::Values(BackendKind::kIpsecMb, BackendKind::kOpenSsl),
                         [](const testing::TestParamInfo<BackendKind>& i) {
                           return std::string(crypto::backend_name(i.param)) == "ipsec-mb"
                                      ? std::string("ipsec_mb")
                                      : std::string("openssl");
                         });

}  // namespace
}  // namespace espgw
