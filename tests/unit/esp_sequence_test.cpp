// Outbound sequence numbers (RFC 4303 3.3.3): consecutive per SA across bursts and SAs interleaved
// in one burst; without ESN the SA stops at 2^32 - 1 instead of cycling, mid-burst if need be.

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

uint32_t sent_seq(const test::PacketBuffer& buf) {
  return load_be32(buf.bytes().data() + 24);  // outer IPv4 (20) + SPI (4)
}

TEST(EspSequence, ConsecutivePerSaWithInterleavedSas) {
  std::mt19937_64 rng(11);
  auto a = test::make_sa_pair({esp::Algorithm{}}, rng);
  test::SaPairOptions ob;
  ob.spi = 0x2000;
  ob.first_seq = 100;
  auto b = test::make_sa_pair(ob, rng);
  auto backend = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  esp::EspEngine engine(*backend, 0);

  std::vector<test::PacketBuffer> bufs;
  bufs.reserve(6);
  for (int i = 0; i < 6; ++i)
    bufs.emplace_back(test::ipv4_udp_packet(10));
  std::vector<esp::PacketView> views;
  for (auto& buf : bufs)
    views.push_back(buf.view());
  std::vector<esp::Sa*> sas = {a.out.get(), a.out.get(), b.out.get(),
                               a.out.get(), b.out.get(), b.out.get()};
  std::vector<DropReason> reasons(6);
  engine.encrypt(views, sas, reasons);
  const uint32_t expect[6] = {1, 2, 100, 3, 101, 102};
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(reasons[i], DropReason::kNone);
    bufs[i].view() = views[i];
    EXPECT_EQ(sent_seq(bufs[i]), expect[i]) << "packet " << i;
  }
  EXPECT_EQ(a.out->next_seq(), 4u);
  EXPECT_EQ(b.out->next_seq(), 103u);
}

TEST(EspSequence, StopsAtTheLastNumberWithoutEsn) {
  std::mt19937_64 rng(12);
  test::SaPairOptions o;
  o.first_seq = UINT32_MAX - 1;
  auto pair = test::make_sa_pair(o, rng);
  auto backend = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  esp::EspEngine engine(*backend, 0);

  std::vector<test::PacketBuffer> bufs;
  bufs.reserve(6);
  for (int i = 0; i < 4; ++i)
    bufs.emplace_back(test::ipv4_udp_packet(10));
  std::vector<esp::PacketView> views;
  for (auto& buf : bufs)
    views.push_back(buf.view());
  std::vector<esp::Sa*> sas(4, pair.out.get());
  std::vector<DropReason> reasons(4);
  engine.encrypt(views, sas, reasons);
  EXPECT_EQ(reasons[0], DropReason::kNone);
  EXPECT_EQ(reasons[1], DropReason::kNone);
  EXPECT_EQ(reasons[2], DropReason::kSeqOverflow);
  EXPECT_EQ(reasons[3], DropReason::kSeqOverflow);
  bufs[1].view() = views[1];
  EXPECT_EQ(sent_seq(bufs[1]), UINT32_MAX);
  EXPECT_TRUE(pair.out->stopped());
  EXPECT_EQ(pair.out->drops(DropReason::kSeqOverflow), 2u);
  EXPECT_EQ(pair.out->packets(), 2u);

  test::PacketBuffer more(test::ipv4_udp_packet(10));
  esp::Sa* sa = pair.out.get();
  DropReason reason;
  engine.encrypt({&more.view(), 1}, {&sa, 1}, {&reason, 1});
  EXPECT_EQ(reason, DropReason::kSaStopped);
  EXPECT_EQ(engine.drops()[DropReason::kSaStopped], 1u);
}

}  // namespace
}  // namespace espgw
