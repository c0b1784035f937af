// Sa::retarget(): new outer addresses and NAT-T ports for a live SA (a NAT mapping changed,
// MOBIKE). The next packet leaves with the new header; the sequence number, replay window and
// counters carry on as if nothing happened.

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

esp::Algorithm gcm() {
  return *esp::parse_algorithm("aes128gcm16");
}

DropReason encrypt_one(esp::EspEngine& e, esp::Sa* sa, test::PacketBuffer& buf) {
  esp::PacketView* v = &buf.view();
  DropReason r;
  e.encrypt({v, 1}, {&sa, 1}, {&r, 1});
  return r;
}

DropReason decrypt_one(esp::EspEngine& e, esp::Sa* sa, test::PacketBuffer& buf) {
  esp::PacketView* v = &buf.view();
  DropReason r;
  e.inbound({v, 1}, [&](const esp::InboundMeta&) { return sa; }, {&r, 1});
  return r;
}

TEST(SaRetarget, OutboundKeepsItsSequenceAndSendsTheNewHeader) {
  std::mt19937_64 rng(7);
  auto pair = test::make_sa_pair({gcm(), false, true, false, 128, 0x4242}, rng);
  auto backend = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  esp::EspEngine tx(*backend, 0);
  esp::EspEngine rx(*backend, 0);

  test::PacketBuffer first(test::ipv4_udp_packet(100));
  ASSERT_EQ(encrypt_one(tx, pair.out.get(), first), DropReason::kNone);
  auto b = first.bytes();
  EXPECT_EQ(load_be32(&b[16]), 0xcb007102u);  // 203.0.113.2
  EXPECT_EQ(load_be16(&b[22]), 4500);
  EXPECT_EQ(load_be32(&b[28 + 4]), 1u);  // ESP sequence number

  pair.out->retarget(*IpAddress::parse("198.51.100.1"), *IpAddress::parse("203.0.113.9"), true,
                     4500, 62001);
  test::PacketBuffer second(test::ipv4_udp_packet(100));
  ASSERT_EQ(encrypt_one(tx, pair.out.get(), second), DropReason::kNone);
  b = second.bytes();
  EXPECT_EQ(load_be32(&b[16]), 0xcb007109u);  // 203.0.113.9
  EXPECT_EQ(load_be16(&b[22]), 62001);
  EXPECT_EQ(load_be32(&b[28 + 4]), 2u);  // the sequence carried on
  // The outer IPv4 checksum comes from the new header's precomputed sum.
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2)
    sum += load_be16(&b[i]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
  EXPECT_EQ(pair.out->packets(), 2u);

  // The peer's inbound SA (which never moved) still takes both, in order.
  ASSERT_EQ(decrypt_one(rx, pair.in.get(), first), DropReason::kNone);
  ASSERT_EQ(decrypt_one(rx, pair.in.get(), second), DropReason::kNone);
  EXPECT_EQ(pair.in->replay().top(), 2u);
}

TEST(SaRetarget, EncapsulationCanBeTurnedOffAndInboundFollows) {
  std::mt19937_64 rng(8);
  auto pair = test::make_sa_pair({gcm(), false, true, false, 128, 0x4343}, rng);
  auto backend = crypto::make_backend(crypto::BackendKind::kOpenSsl);
  esp::EspEngine tx(*backend, 0);
  esp::EspEngine rx(*backend, 0);

  // The NAT went away: both ends drop UDP encapsulation, and the window stays where it was.
  test::PacketBuffer one(test::ipv4_udp_packet(60));
  ASSERT_EQ(encrypt_one(tx, pair.out.get(), one), DropReason::kNone);
  ASSERT_EQ(decrypt_one(rx, pair.in.get(), one), DropReason::kNone);
  const auto& p = pair.params;
  pair.out->retarget(p.local, p.remote, false, 0, 0);
  pair.in->retarget(p.remote, p.local, false, 0, 0);
  test::PacketBuffer two(test::ipv4_udp_packet(60));
  ASSERT_EQ(encrypt_one(tx, pair.out.get(), two), DropReason::kNone);
  EXPECT_EQ(two.bytes()[9], 50);  // plain ESP now
  ASSERT_EQ(decrypt_one(rx, pair.in.get(), two), DropReason::kNone);
  EXPECT_EQ(pair.in->replay().top(), 2u);
  // A straggler still in UDP is refused as the encapsulation the SA no longer has.
  test::PacketBuffer late(test::ipv4_udp_packet(60));
  pair.out->retarget(p.local, p.remote, true, 4500, 4500);
  ASSERT_EQ(encrypt_one(tx, pair.out.get(), late), DropReason::kNone);
  EXPECT_EQ(decrypt_one(rx, pair.in.get(), late), DropReason::kEncapMismatch);
}

TEST(SaRetarget, MixedFamiliesAreRefusedAndChangeNothing) {
  std::mt19937_64 rng(9);
  auto pair = test::make_sa_pair({gcm(), false, false, false, 128, 0x4444}, rng);
  EXPECT_THROW(pair.out->retarget(*IpAddress::parse("198.51.100.1"),
                                  *IpAddress::parse("2001:db8::9"), false, 0, 0),
               std::invalid_argument);
  EXPECT_EQ(pair.out->params().remote.to_string(), "203.0.113.2");
  EXPECT_FALSE(pair.out->outer().v6);
}

}  // namespace
}  // namespace espgw
