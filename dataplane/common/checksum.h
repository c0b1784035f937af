#pragma once
// Internet checksum (RFC 1071) and incremental update (RFC 1624).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/bytes.h"

namespace espgw {

// One's-complement sum of len bytes (big-endian 16-bit words), not yet folded or inverted.
inline uint32_t csum_partial(const uint8_t* p, size_t len, uint32_t sum = 0) noexcept {
  while (len >= 2) {
    sum += load_be16(p);
    p += 2;
    len -= 2;
  }
  if (len) sum += static_cast<uint32_t>(p[0]) << 8;
  return sum;
}

inline uint16_t csum_fold(uint32_t sum) noexcept {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Whether an IPv4 header of ihl bytes (a multiple of 4, at least 20) has a correct checksum. The
// one's-complement sum does not depend on byte order (RFC 1071 2(B)), so the header is summed in
// native 32-bit words into 64 bits and folded once: a fifth of csum_partial()'s loads and no
// byte swaps, on every packet that arrives.
inline bool ipv4_header_checksum_ok(const uint8_t* hdr, uint32_t ihl) noexcept {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < ihl; i += 4) {
    uint32_t w;
    std::memcpy(&w, hdr + i, 4);
    sum += w;
  }
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// IPv4 header checksum: call with the checksum field zeroed.
inline uint16_t ipv4_header_checksum(const uint8_t* hdr, size_t len) noexcept {
  return csum_fold(csum_partial(hdr, len));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit word that changed from old to now.
inline void csum_replace16(uint8_t* csum_field, uint16_t old_word, uint16_t new_word) noexcept {
  uint32_t sum = static_cast<uint16_t>(~load_be16(csum_field));
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  store_be16(csum_field, csum_fold(sum));
}

}  // namespace espgw
