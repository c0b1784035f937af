// A packet changed in transit fails ICV verification, whatever byte changed (ESP header, IV,
// ciphertext, trailer, ICV), with every algorithm and both backends; the replay window does not
// move, and the untouched packet is still accepted afterwards.

#include <gtest/gtest.h>

#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using crypto::BackendKind;

struct Case {
  esp::Algorithm alg;
  BackendKind dec;
};

class EspTamper : public testing::TestWithParam<Case> {};

TEST_P(EspTamper, AnyChangedByteFailsVerification) {
  const Case& c = GetParam();
  std::mt19937_64 rng(3);
  auto pair = test::make_sa_pair({c.alg}, rng);
  auto enc_backend = crypto::make_backend(BackendKind::kIpsecMb);
  auto dec_backend = crypto::make_backend(c.dec);
  esp::EspEngine sender(*enc_backend, 0);
  esp::EspEngine receiver(*dec_backend, 0);
  esp::Sa* out_sa = pair.out.get();
  esp::Sa* in_sa = pair.in.get();
  auto lookup = [&](const esp::InboundMeta&) { return in_sa; };

  const auto inner = test::ipv4_udp_packet(61);
  test::PacketBuffer original(inner);
  DropReason reason;
  sender.encrypt({&original.view(), 1}, {&out_sa, 1}, {&reason, 1});
  ASSERT_EQ(reason, DropReason::kNone);
  const auto outer = original.bytes();

  const uint32_t esp_off = 20;
  uint64_t failures = 0;
  for (uint32_t at = esp_off + 4; at < outer.size(); ++at) {  // every byte after the SPI
    SCOPED_TRACE("byte " + std::to_string(at));
    auto changed = outer;
    changed[at] ^= 0x01;
    test::PacketBuffer buf(changed);
    receiver.inbound({&buf.view(), 1}, lookup, {&reason, 1});
    if (at < esp_off + 8) {
      // The sequence number: either still verifies nothing (auth failure) or is out of window.
      EXPECT_NE(reason, DropReason::kNone);
      failures += reason == DropReason::kAuthFailed;
    } else {
      EXPECT_EQ(reason, DropReason::kAuthFailed);
      ++failures;
    }
  }
  EXPECT_EQ(in_sa->drops(DropReason::kAuthFailed), failures);
  EXPECT_EQ(in_sa->replay().top(), 0u);

  test::PacketBuffer good(outer);
  receiver.inbound({&good.view(), 1}, lookup, {&reason, 1});
  EXPECT_EQ(reason, DropReason::kNone);
  EXPECT_EQ(good.bytes(), inner);
  EXPECT_EQ(in_sa->replay().top(), 1u);
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const auto& a : esp::all_algorithms()) {
    v.push_back({a, BackendKind::kIpsecMb});
    v.push_back({a, BackendKind::kOpenSsl});
  }
  return v;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string n = info.param.alg.name() + "_" + std::string(crypto::backend_name(info.param.dec));
  for (auto& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(All, EspTamper, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace espgw
