#pragma once
// The ESP transforms espgw carries: what AWS VPN and strongSwan propose. Names follow strongSwan's
// proposal keywords (aes128gcm16, aes256-sha256, ...). Vocabulary shared by the config (which
// names and checks them) and the dataplane (which carries them); it needs no crypto library.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace espgw::esp {

enum class Cipher : uint8_t { kAesGcm16, kAesCbc };

enum class Integrity : uint8_t {
  kNone,            // AEAD
  kHmacSha1_96,     // RFC 2404
  kHmacSha256_128,  // RFC 4868
  kHmacSha384_192,  // RFC 4868
  kHmacSha512_256,  // RFC 4868
};

struct Algorithm {
  Cipher cipher = Cipher::kAesGcm16;
  uint8_t key_bytes = 16;  // 16 or 32
  Integrity integrity = Integrity::kNone;

  bool aead() const noexcept { return cipher == Cipher::kAesGcm16; }
  // Explicit IV carried in each packet: 8 for GCM (RFC 4106 3.1), 16 for CBC (RFC 3602 3).
  uint32_t iv_bytes() const noexcept { return aead() ? 8 : 16; }
  // Ciphertext alignment: the cipher block for CBC, 4 bytes for GCM (RFC 4303 2.4).
  uint32_t align_bytes() const noexcept { return aead() ? 4 : 16; }
  // Inline: the CBC + HMAC path asks per packet.
  uint32_t icv_bytes() const noexcept {
    switch (integrity) {
      case Integrity::kNone: return 16;
      case Integrity::kHmacSha1_96: return 12;
      case Integrity::kHmacSha256_128: return 16;
      case Integrity::kHmacSha384_192: return 24;
      case Integrity::kHmacSha512_256: return 32;
    }
    return 0;
  }
  // HMAC key length (RFC 2404, RFC 4868 2.1.1: the key is as long as the hash output).
  uint32_t auth_key_bytes() const noexcept;
  // Salt bytes that follow the key in IKE's keying material (RFC 4106 8.1).
  uint32_t salt_bytes() const noexcept { return aead() ? 4 : 0; }
  std::string name() const;

  friend bool operator==(const Algorithm&, const Algorithm&) = default;
};

// Accepts strongSwan's keywords: aes128gcm16 / aes128gcm128, aes256gcm16, aes128-sha1,
// aes256-sha256 (= sha2_256), -sha384, -sha512.
std::optional<Algorithm> parse_algorithm(std::string_view name);

// Every supported algorithm, in a fixed order (tests and benchmarks iterate this).
std::span<const Algorithm> all_algorithms() noexcept;

}  // namespace espgw::esp
