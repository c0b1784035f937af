// The outer header options of an outbound SA: DSCP copy or set, RFC 6040 ECN normal or
// compatibility mode, DF copy, set or clear; with a valid IPv4 header checksum in every case.

#include <gtest/gtest.h>

#include <tuple>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using esp::DfMode;
using esp::EcnMode;

struct Options {
  bool copy_dscp;
  EcnMode ecn;
  DfMode df;
  bool inner_v6;
  bool inner_df;
};

std::vector<Options> all_options() {
  std::vector<Options> v;
  for (bool copy : {true, false}) {
    for (EcnMode ecn : {EcnMode::kNormal, EcnMode::kCompatibility}) {
      for (DfMode df : {DfMode::kCopy, DfMode::kSet, DfMode::kClear}) {
        v.push_back({copy, ecn, df, true, true});
        for (bool inner_df : {true, false})
          v.push_back({copy, ecn, df, false, inner_df});
      }
    }
  }
  return v;
}

class EspOuterHeader : public testing::TestWithParam<Options> {};

TEST_P(EspOuterHeader, FollowsTheSaOptions) {
  const Options& o = GetParam();
  std::mt19937_64 rng(7);
  auto pair = test::make_sa_pair({esp::Algorithm{}}, rng);
  esp::SaParams p = pair.params;
  p.copy_dscp = o.copy_dscp;
  p.dscp = 10;  // AF11
  p.ecn = o.ecn;
  p.df = o.df;
  auto sa = esp::Sa::make(p, 1, rng());
  auto backend = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  esp::EspEngine engine(*backend, 0);

  const uint8_t inner_tos = 0xb9;            // DSCP 46 (EF), ECN ECT(1)
  for (int round = 0; round < 3; ++round) {  // several IDs, so several checksums
    const auto inner = o.inner_v6 ? test::ipv6_udp_packet(100, inner_tos)
                                  : test::ipv4_udp_packet(100, inner_tos, 0, o.inner_df);
    test::PacketBuffer buf(inner);
    esp::PacketView* pv = &buf.view();
    esp::Sa* s = sa.get();
    DropReason reason;
    engine.encrypt({pv, 1}, {&s, 1}, {&reason, 1});
    ASSERT_EQ(reason, DropReason::kNone);
    const auto outer = buf.bytes();

    const uint8_t dscp = o.copy_dscp ? inner_tos >> 2 : 10;
    const uint8_t ecn = o.ecn == EcnMode::kNormal ? (inner_tos & 3) : 0;
    EXPECT_EQ(outer[1], dscp << 2 | ecn);
    const bool df = o.df == DfMode::kSet || (o.df == DfMode::kCopy && (o.inner_v6 || o.inner_df));
    EXPECT_EQ(outer[6], df ? 0x40 : 0);
    EXPECT_EQ(outer[7], 0);
    EXPECT_EQ(load_be16(&outer[2]), outer.size());
    EXPECT_EQ(ipv4_header_checksum(outer.data(), 20), 0) << "outer header checksum";
  }
}

std::string options_name(const testing::TestParamInfo<Options>& info) {
  const Options& o = info.param;
  std::string n = std::string(o.copy_dscp ? "dscp_copy" : "dscp_set") +
                  (o.ecn == EcnMode::kNormal ? "_ecn_normal" : "_ecn_compat") +
                  (o.df == DfMode::kCopy  ? "_df_copy"
                   : o.df == DfMode::kSet ? "_df_set"
                                          : "_df_clear") +
                  (o.inner_v6   ? "_in6"
                   : o.inner_df ? "_in4_df"
                                : "_in4");
  return n;
}

INSTANTIATE_TEST_SUITE_P(All, EspOuterHeader, testing::ValuesIn(all_options()), options_name);

}  // namespace
}  // namespace espgw
