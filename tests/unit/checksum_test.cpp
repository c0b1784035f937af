// ipv4_header_checksum_ok() (native 32-bit words) against csum_partial() (RFC 1071, 16-bit
// big-endian words) on random headers with and without options, right and wrong.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "dataplane/common/checksum.h"

namespace espgw {
namespace {

TEST(Checksum, Ipv4HeaderCheckAgreesWithRfc1071) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    const uint32_t ihl = 20 + 4 * (rng() % 11);  // 20 to 60 bytes
    std::vector<uint8_t> h(ihl);
    for (auto& b : h)
      b = static_cast<uint8_t>(rng());
    h[10] = h[11] = 0;
    store_be16(h.data() + 10, ipv4_header_checksum(h.data(), ihl));
    EXPECT_TRUE(ipv4_header_checksum_ok(h.data(), ihl));
    EXPECT_EQ(csum_fold(csum_partial(h.data(), ihl)), 0);
    // One flipped bit anywhere is seen by both.
    const uint32_t bit = rng() % (ihl * 8);
    h[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(ipv4_header_checksum_ok(h.data(), ihl));
    EXPECT_NE(csum_fold(csum_partial(h.data(), ihl)), 0);
  }
}

TEST(Checksum, KnownHeader) {
  // RFC 1071's worked example is of 16-bit words; this is a captured IPv4 header.
  const uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_TRUE(ipv4_header_checksum_ok(h, 20));
}

}  // namespace
}  // namespace espgw
