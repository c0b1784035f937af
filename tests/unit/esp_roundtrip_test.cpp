// Encrypt with one backend, decrypt with the other, for every algorithm and framing option; the
// inner packet must come back byte for byte, and the outer packet must be the RFC 4303 layout.

#include <gtest/gtest.h>

#include <tuple>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using crypto::BackendKind;
using esp::Algorithm;

struct Case {
  Algorithm alg;
  bool esn;
  bool udp;
  bool outer_v6;
  bool inner_v6;
  BackendKind enc;
  BackendKind dec;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string n = c.alg.name() + (c.esn ? "_esn" : "") + (c.udp ? "_natt" : "") +
                  (c.outer_v6 ? "_out6" : "_out4") + (c.inner_v6 ? "_in6" : "_in4") + "_" +
                  std::string(crypto::backend_name(c.enc)) + "_to_" +
                  std::string(crypto::backend_name(c.dec));
  for (auto& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const auto& a : esp::all_algorithms()) {
    for (int flags = 0; flags < 16; ++flags) {
      const BackendKind enc = (flags & 8) ? BackendKind::kOpenSsl : BackendKind::kIpsecMb;
      const BackendKind dec = (flags & 8) ? BackendKind::kIpsecMb : BackendKind::kOpenSsl;
      v.push_back({a, (flags & 1) != 0, (flags & 2) != 0, false, (flags & 4) != 0, enc, dec});
    }
    v.push_back({a, true, true, true, true, BackendKind::kIpsecMb, BackendKind::kOpenSsl});
    v.push_back({a, false, false, true, false, BackendKind::kOpenSsl, BackendKind::kIpsecMb});
  }
  return v;
}

class EspRoundTrip : public testing::TestWithParam<Case> {};

TEST_P(EspRoundTrip, InnerPacketSurvives) {
  const Case& c = GetParam();
  std::mt19937_64 rng(42);
  auto pair = test::make_sa_pair(
      {c.alg, c.esn, c.udp, c.outer_v6, 128, 0x12345678, c.esn ? (uint64_t{7} << 32) - 3 : 1}, rng);
  auto enc_backend = crypto::make_backend(c.enc);
  auto dec_backend = crypto::make_backend(c.dec);
  esp::EspEngine sender(*enc_backend, 0);
  esp::EspEngine receiver(*dec_backend, 0);

  for (uint32_t size : {0u, 1u, 13u, 14u, 15u, 16u, 100u, 1372u, 1472u}) {
    SCOPED_TRACE("payload " + std::to_string(size));
    const auto inner = c.inner_v6 ? test::ipv6_udp_packet(size, 0xb8, static_cast<uint8_t>(size))
                                  : test::ipv4_udp_packet(size, 0xb8, static_cast<uint8_t>(size));
    test::PacketBuffer buf(inner);
    esp::PacketView* pv = &buf.view();
    esp::Sa* out_sa = pair.out.get();
    DropReason reason;
    sender.encrypt({pv, 1}, {&out_sa, 1}, {&reason, 1});
    ASSERT_EQ(reason, DropReason::kNone) << drop_reason_name(reason);

    const auto outer = buf.bytes();
    const uint32_t ip_len = c.outer_v6 ? 40 : 20;
    const uint32_t esp_off = ip_len + (c.udp ? 8 : 0);
    // Outer header: protocol, lengths, DSCP copied (0xb8 = EF), ESP header.
    if (c.outer_v6) {
      EXPECT_EQ(outer[6], c.udp ? 17 : 50);
      EXPECT_EQ(load_be16(&outer[4]), outer.size() - 40);
    } else {
      EXPECT_EQ(outer[9], c.udp ? 17 : 50);
      EXPECT_EQ(outer[1], 0xb8);
      EXPECT_EQ(load_be16(&outer[2]), outer.size());
      EXPECT_EQ(ipv4_header_checksum(outer.data(), 20), 0) << "outer header checksum";
    }
    if (c.udp) {
      EXPECT_EQ(load_be16(&outer[ip_len]), 4500);
      EXPECT_EQ(load_be16(&outer[ip_len + 2]), 4500);
      EXPECT_EQ(load_be16(&outer[ip_len + 4]), outer.size() - ip_len);
      if (!c.outer_v6) {
        EXPECT_EQ(load_be16(&outer[ip_len + 6]), 0);  // RFC 3948 2.1
      }
    }
    EXPECT_EQ(load_be32(&outer[esp_off]), 0x12345678u);
    const uint32_t ct = outer.size() - esp_off - 8 - c.alg.iv_bytes() - c.alg.icv_bytes();
    EXPECT_EQ(ct % c.alg.align_bytes(), 0u);

    esp::Sa* in_sa = pair.in.get();
    receiver.inbound({pv, 1},
                     [&](const esp::InboundMeta& m) {
                       EXPECT_EQ(m.spi, 0x12345678u);
                       return in_sa;
                     },
                     {&reason, 1});
    ASSERT_EQ(reason, DropReason::kNone) << drop_reason_name(reason);
    EXPECT_EQ(buf.bytes(), inner);
  }
  EXPECT_EQ(pair.out->packets(), 9u);
  EXPECT_EQ(pair.in->packets(), 9u);
  EXPECT_EQ(pair.in->bytes(), pair.out->bytes());
}

INSTANTIATE_TEST_SUITE_P(All, EspRoundTrip, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace espgw
