#pragma once
// Unpredictable IVs for AES-CBC (RFC 3602 3: the IV "MUST be chosen at random" and be
// unpredictable to an attacker). One generator per worker: AES-128-CTR keystream under a key drawn
// from the OS (getrandom), produced 4 KiB at a time, so an IV costs a 16-byte copy.

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace espgw::crypto {

class IvGenerator {
 public:
  IvGenerator();  // throws std::runtime_error if the OS or OpenSSL cannot provide a key
  ~IvGenerator();
  IvGenerator(const IvGenerator&) = delete;
  IvGenerator& operator=(const IvGenerator&) = delete;

  void fill16(uint8_t* out) noexcept;
  uint64_t next64() noexcept;  // also used to seed per-SA GCM IV counters

 private:
  void refill() noexcept;

  EVP_CIPHER_CTX* ctx_ = nullptr;
  uint32_t used_;
  alignas(64) std::array<uint8_t, 4096> pool_{};
};

}  // namespace espgw::crypto
