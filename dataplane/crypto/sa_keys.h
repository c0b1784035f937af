#pragma once
// Key material of one SA, prepared once at SA install for both backends: the raw keys (OpenSSL
// re-keys its contexts from them) and intel-ipsec-mb's precomputed forms (GCM hash-key tables, AES
// round keys, HMAC inner and outer hash states). Allocated in key pages (key_memory.h: not in core
// dumps), wiped on destruction; never printed.

#include <intel-ipsec-mb.h>

#include <cstdint>
#include <memory>
#include <new>
#include <span>

#include "common/esp_algorithm.h"

namespace espgw::crypto {

inline constexpr uint32_t kMaxHmacKeyBytes = 128;  // one SHA-512 block

// The lines of an SaKeys that encrypting or decrypting a small packet reads: from its start, the
// first line (algorithm, salt) and the round keys; then `tail` lines from `tail_offset`: for GCM
// the hash-key powers of a short message (H^7 .. H^1, up to 7 blocks; where they are in
// gcm_key_data depends on the library's code path), for CBC the HMAC pad states. esp::Sa keeps a
// copy in its own first line, so that loading the keys ahead for a burst spread over many SAs
// (dataplane/stages/route.cpp) does not first wait for the keys' first line.
struct KeyLines {
  uint8_t head = 0;
  uint8_t tail = 0;
  uint16_t tail_offset = 0;
  void prefetch(const void* keys) const noexcept {
    const char* p = static_cast<const char*>(keys);
    for (uint32_t line = 0; line < head; ++line)
      __builtin_prefetch(p + 64 * line);
    for (uint32_t line = 0; line < tail; ++line)
      __builtin_prefetch(p + tail_offset + 64 * line);
  }
};

struct alignas(64) SaKeys {
  esp::Algorithm alg;
  uint8_t cipher_key[32];
  uint8_t salt[4];  // GCM: the 4 bytes that follow the key in IKE's keying material
  uint32_t auth_key_len;
  KeyLines lines;  // set by prepare_keys()

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

  SaKeys() = default;
  SaKeys(const SaKeys&) = delete;
  SaKeys& operator=(const SaKeys&) = delete;
  ~SaKeys();

  // In key pages (key_memory.h), not on the heap.
  static void* operator new(std::size_t size, std::align_val_t align);
  static void operator delete(void* p, std::size_t size, std::align_val_t align) noexcept;
};

// Checks key lengths against the algorithm and prepares both forms. Throws std::invalid_argument
// naming what is wrong (never the key bytes). HMAC keys longer than the hash block are hashed
// first (RFC 2104 2), so the published vectors with long keys work too.
std::unique_ptr<SaKeys> prepare_keys(const esp::Algorithm& alg, std::span<const uint8_t> cipher_key,
                                     std::span<const uint8_t> salt,
                                     std::span<const uint8_t> auth_key);

}  // namespace espgw::crypto
