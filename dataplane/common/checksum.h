#pragma once
// Internet checksum (RFC 1071) and incremental update (RFC 1624).

#include <cstddef>
#include <cstdint>

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
