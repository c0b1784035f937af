#pragma once
// Key material of one SA, prepared once at SA install for both backends: the raw keys (OpenSSL
// re-keys its contexts from them) and intel-ipsec-mb's precomputed forms (GCM hash-key tables, AES
// round keys, HMAC inner and outer hash states). Wiped on destruction; never printed.

#include <intel-ipsec-mb.h>

#include <cstdint>
#include <memory>
#include <span>

#include "common/esp_algorithm.h"

namespace espgw::crypto {

inline constexpr uint32_t kMaxHmacKeyBytes = 128;  // one SHA-512 block

struct alignas(64) SaKeys {
  esp::Algorithm alg;
  uint8_t cipher_key[32];
  uint8_t salt[4];  // GCM: the 4 bytes that follow the key in IKE's keying material
  uint32_t auth_key_len;
  // The lines that a small packet reads beyond the round keys: for GCM the hash-key powers of a
  // short message (H^7 .. H^1, up to 7 blocks; their place in gcm_key_data depends on the
  // library's code path), for CBC the HMAC pad states. The offset in this struct of the first
  // line, and how many lines. Set by prepare_keys(); prefetch() loads them with the first lines.
  uint16_t hot_tail = 0;
  uint8_t hot_tail_lines = 0;

  // intel-ipsec-mb forms; which member is live follows alg.cipher.
  union Imb {
    alignas(64) struct gcm_key_data gcm;
    struct Cbc {
      alignas(16) uint8_t enc_round_keys[16 * 15];
      alignas(16) uint8_t dec_round_keys[16 * 15];
      alignas(16) uint8_t ipad_state[64];  // hash state after the block key ^ 0x36
      alignas(16) uint8_t opad_state[64];  // hash state after the block key ^ 0x5c
      // The HMAC key itself (OpenSSL keys its MAC from it): here, because only CBC + HMAC has
      // one and the union is as large as GCM's hash-key table anyway (128 bytes less per SA).
      uint8_t auth_key[kMaxHmacKeyBytes];
    } cbc;
  } imb;
  static_assert(sizeof(Imb::Cbc) <= sizeof(gcm_key_data));

  // What encrypting or decrypting a small packet reads: this line (algorithm, salt), the round
  // keys, and the hot tail. For a burst spread over many SAs (dataplane/stages/route.cpp). Static,
  // with where to look passed in (esp::Sa keeps head_lines() and the hot tail in its own first
  // line): reading them here would wait for this struct's first line before the other loads could
  // start.
  uint8_t head_lines() const noexcept {
    return alg.key_bytes == 16 ? 4 : 5;
  }  // + 11 or 15 round keys
  static void prefetch(const SaKeys* k, uint32_t head_lines, uint32_t hot_tail,
                       uint32_t hot_tail_lines) noexcept {
    const char* p = reinterpret_cast<const char*>(k);
    for (uint32_t line = 0; line < head_lines; ++line)
      __builtin_prefetch(p + 64 * line);
    for (uint32_t line = 0; line < hot_tail_lines; ++line)
      __builtin_prefetch(p + hot_tail + 64 * line);
  }

  SaKeys() = default;
  SaKeys(const SaKeys&) = delete;
  SaKeys& operator=(const SaKeys&) = delete;
  ~SaKeys();
};

// Checks key lengths against the algorithm and prepares both forms. Throws std::invalid_argument
// naming what is wrong (never the key bytes). HMAC keys longer than the hash block are hashed
// first (RFC 2104 2), so the published vectors with long keys work too.
std::unique_ptr<SaKeys> prepare_keys(const esp::Algorithm& alg, std::span<const uint8_t> cipher_key,
                                     std::span<const uint8_t> salt,
                                     std::span<const uint8_t> auth_key);

}  // namespace espgw::crypto
