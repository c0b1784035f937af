#include "dataplane/crypto/iv_generator.h"

#include <openssl/crypto.h>
#include <sys/random.h>

#include <cstring>
#include <stdexcept>

namespace espgw::crypto {
namespace {
void os_random(uint8_t* out, size_t n) {
  while (n > 0) {
    const ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}
}  // namespace

IvGenerator::IvGenerator() {
  uint8_t key[16];
  uint8_t ctr[16];
  os_random(key, sizeof key);
  os_random(ctr, sizeof ctr);
  ctx_ = EVP_CIPHER_CTX_new();
  const bool ok =
      ctx_ != nullptr && EVP_EncryptInit_ex2(ctx_, EVP_aes_128_ctr(), key, ctr, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  if (!ok) throw std::runtime_error("OpenSSL: cannot set up the IV generator");
  refill();
}

IvGenerator::~IvGenerator() {
  OPENSSL_cleanse(pool_.data(), pool_.size());
  EVP_CIPHER_CTX_free(ctx_);
}

void IvGenerator::refill() noexcept {
  // CTR keystream = encryption of zeros.
  std::memset(pool_.data(), 0, pool_.size());
  int out = 0;
  EVP_EncryptUpdate(ctx_, pool_.data(), &out, pool_.data(), static_cast<int>(pool_.size()));
  used_ = 0;
}

void IvGenerator::fill16(uint8_t* out) noexcept {
  if (used_ + 16 > pool_.size()) refill();
  std::memcpy(out, pool_.data() + used_, 16);
  used_ += 16;
}

uint64_t IvGenerator::next64() noexcept {
  if (used_ + 8 > pool_.size()) refill();
  uint64_t v;
  std::memcpy(&v, pool_.data() + used_, 8);
  used_ += 8;
  return v;
}

}  // namespace espgw::crypto
