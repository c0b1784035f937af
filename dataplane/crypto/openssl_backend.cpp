// OpenSSL 3 EVP backend: the fallback where intel-ipsec-mb cannot run, and the reference the tests
// compare intel-ipsec-mb against. Contexts are created once per backend (so per thread) and
// re-keyed per packet from the SA's raw keys; re-keying an existing context allocates nothing.

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/bytes.h"
#include "dataplane/crypto/crypto_backend.h"

namespace espgw::crypto {
namespace {

const char* digest_name(esp::Integrity i) {
  switch (i) {
    case esp::Integrity::kHmacSha1_96: return "SHA1";
    case esp::Integrity::kHmacSha256_128: return "SHA256";
    case esp::Integrity::kHmacSha384_192: return "SHA384";
    case esp::Integrity::kHmacSha512_256: return "SHA512";
    case esp::Integrity::kNone: break;
  }
  return nullptr;
}

class OpenSslBackend final : public CryptoBackend {
 public:
  OpenSslBackend() {
    const char* names[4] = {"AES-128-GCM", "AES-256-GCM", "AES-128-CBC", "AES-256-CBC"};
    for (int i = 0; i < 4; ++i) {
      ciphers_[i] = EVP_CIPHER_fetch(nullptr, names[i], nullptr);
      ctx_[i] = EVP_CIPHER_CTX_new();
      if (ciphers_[i] == nullptr || ctx_[i] == nullptr ||
          EVP_CipherInit_ex2(ctx_[i], ciphers_[i], nullptr, nullptr, 1, nullptr) != 1) {
        throw std::runtime_error(std::string("OpenSSL: cannot set up ") + names[i]);
      }
    }
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac_ == nullptr) throw std::runtime_error("OpenSSL: no HMAC");
    for (int i = 1; i <= 4; ++i) {
      auto integ = static_cast<esp::Integrity>(i);
      mac_ctx_[i] = EVP_MAC_CTX_new(mac_);
      OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(
                                  OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name(integ)), 0),
                              OSSL_PARAM_construct_end()};
      if (mac_ctx_[i] == nullptr || EVP_MAC_CTX_set_params(mac_ctx_[i], params) != 1) {
        throw std::runtime_error(std::string("OpenSSL: cannot set up HMAC-") + digest_name(integ));
      }
    }
  }

  ~OpenSslBackend() override {
    for (auto* c : ctx_)
      EVP_CIPHER_CTX_free(c);
    for (auto* c : ciphers_)
      EVP_CIPHER_free(c);
    for (auto* m : mac_ctx_)
      EVP_MAC_CTX_free(m);
    EVP_MAC_free(mac_);
  }

  BackendKind kind() const noexcept override { return BackendKind::kOpenSsl; }
  std::string describe() const override { return OpenSSL_version(OPENSSL_VERSION); }

  void encrypt(std::span<CryptoOp> ops) noexcept override {
    for (auto& op : ops)
      op.ok = op.keys->alg.aead() ? gcm(op, true) : cbc_hmac_encrypt(op);
  }
  void decrypt(std::span<CryptoOp> ops) noexcept override {
    for (auto& op : ops)
      op.ok = op.keys->alg.aead() ? gcm(op, false) : cbc_hmac_decrypt(op);
  }

 private:
  EVP_CIPHER_CTX* cipher_ctx(const esp::Algorithm& a) const noexcept {
    return ctx_[(a.aead() ? 0 : 2) + (a.key_bytes == 32 ? 1 : 0)];
  }

  bool gcm(CryptoOp& op, bool enc) noexcept {
    EVP_CIPHER_CTX* ctx = cipher_ctx(op.keys->alg);
    uint8_t nonce[12];
    std::memcpy(nonce, op.keys->salt, 4);
    std::memcpy(nonce + 4, op.iv, 8);
    uint8_t aad[12];
    int aad_len = 8;
    std::memcpy(aad, op.esp, 8);
    if (op.esn) {
      std::memcpy(aad, op.esp, 4);
      store_be32(aad + 4, op.seq_hi);
      std::memcpy(aad + 8, op.esp + 4, 4);
      aad_len = 12;
    }
    int out = 0;
    if (EVP_CipherInit_ex2(ctx, nullptr, op.keys->cipher_key, nonce, enc ? 1 : 0, nullptr) != 1 ||
        EVP_CipherUpdate(ctx, nullptr, &out, aad, aad_len) != 1) {
      return false;
    }
    if (op.len != 0 && EVP_CipherUpdate(ctx, op.dst, &out, op.src, static_cast<int>(op.len)) != 1) {
      return false;
    }
    if (enc) {
      return EVP_CipherFinal_ex(ctx, op.dst + op.len, &out) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, op.icv) == 1;
    }
    uint8_t tag[16];
    std::memcpy(tag, op.icv, 16);
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
           EVP_CipherFinal_ex(ctx, op.dst + op.len, &out) == 1;
  }

  bool hmac(const CryptoOp& op, uint8_t* tag) noexcept {
    EVP_MAC_CTX* m = mac_ctx_[static_cast<int>(op.keys->alg.integrity)];
    size_t out = 0;
    uint8_t hi[4];
    store_be32(hi, op.seq_hi);
    return EVP_MAC_init(m, op.keys->imb.cbc.auth_key, op.keys->auth_key_len, nullptr) == 1 &&
           EVP_MAC_update(m, op.esp, static_cast<size_t>(op.src + op.len - op.esp)) == 1 &&
           (!op.esn || EVP_MAC_update(m, hi, 4) == 1) && EVP_MAC_final(m, tag, &out, 64) == 1;
  }

  bool cbc(const CryptoOp& op, bool enc) noexcept {
    if (op.len == 0) return true;
    EVP_CIPHER_CTX* ctx = cipher_ctx(op.keys->alg);
    int out = 0;
    return EVP_CipherInit_ex2(ctx, nullptr, op.keys->cipher_key, op.iv, enc ? 1 : 0, nullptr) ==
               1 &&
           EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
           EVP_CipherUpdate(ctx, op.dst, &out, op.src, static_cast<int>(op.len)) == 1 &&
           EVP_CipherFinal_ex(ctx, op.dst + out, &out) == 1;
  }

  bool cbc_hmac_encrypt(CryptoOp& op) noexcept {
    uint8_t tag[64];
    if (!cbc(op, true) || !hmac(op, tag)) return false;
    std::memcpy(op.icv, tag, op.keys->alg.icv_bytes());
    return true;
  }

  bool cbc_hmac_decrypt(CryptoOp& op) noexcept {
    uint8_t tag[64];
    if (!hmac(op, tag)) return false;
    const bool verified = CRYPTO_memcmp(tag, op.icv, op.keys->alg.icv_bytes()) == 0;
    return cbc(op, false) && verified;
  }

  std::array<EVP_CIPHER*, 4> ciphers_{};
  std::array<EVP_CIPHER_CTX*, 4> ctx_{};
  EVP_MAC* mac_ = nullptr;
  std::array<EVP_MAC_CTX*, 5> mac_ctx_{};  // indexed by esp::Integrity
};

}  // namespace

std::unique_ptr<CryptoBackend> make_openssl_backend() {
  return std::make_unique<OpenSslBackend>();
}

}  // namespace espgw::crypto
