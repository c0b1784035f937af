#include "dataplane/crypto/sa_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "dataplane/crypto/key_memory.h"

namespace espgw::crypto {
namespace {

// Key preparation runs on control threads; one manager serves them all, behind a lock.
struct ControlMgr {
  std::mutex lock;
  IMB_MGR* mgr = nullptr;
  // Where in gcm_key_data the hash-key powers of a short message (H^7 .. H^1, up to 7 blocks)
  // begin: the library's code path for this CPU (the workers' managers pick the same one)
  // decides. The VAES AVX-512 path keeps H^48 .. H^1 in descending order at the end of the table
  // (H^7 at 16 * 56); AVX2 keeps H^8 .. H^1 behind the round keys (H^7 at 16 * 16), SSE and AVX
  // H^1 .. H^8 (H^1 at 16 * 15).
  uint32_t gcm_short_hkeys = 16 * 15;
  ControlMgr() {
    mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) throw std::runtime_error("intel-ipsec-mb: cannot allocate a manager");
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr, &arch);
    const uint64_t vaes = IMB_FEATURE_VAES | IMB_FEATURE_VPCLMULQDQ;
    if (arch == IMB_ARCH_AVX512 && (mgr->features & vaes) == vaes) {
      gcm_short_hkeys = 16 * 56;
    } else if (arch == IMB_ARCH_AVX2 || arch == IMB_ARCH_AVX512) {
      gcm_short_hkeys = 16 * 16;
    }
  }
  ~ControlMgr() { free_mb_mgr(mgr); }
};

// `k`'s lines that a small packet reads (KeyLines): the first line and the round keys (11 or 15,
// from offsetof(SaKeys, imb)), and the lines that hold its bytes [begin, end).
void set_lines(SaKeys& k, size_t begin, size_t end) {
  const size_t first = begin & ~size_t{63};
  k.lines.head = k.alg.key_bytes == 16 ? 4 : 5;
  k.lines.tail = static_cast<uint8_t>((end - first + 63) / 64);
  k.lines.tail_offset = static_cast<uint16_t>(first);
}

ControlMgr& control_mgr() {
  static ControlMgr m;
  return m;
}

uint32_t hmac_block_bytes(esp::Integrity i) {
  return (i == esp::Integrity::kHmacSha384_192 || i == esp::Integrity::kHmacSha512_256) ? 128 : 64;
}

const EVP_MD* hmac_md(esp::Integrity i) {
  switch (i) {
    case esp::Integrity::kHmacSha1_96: return EVP_sha1();
    case esp::Integrity::kHmacSha256_128: return EVP_sha256();
    case esp::Integrity::kHmacSha384_192: return EVP_sha384();
    case esp::Integrity::kHmacSha512_256: return EVP_sha512();
    case esp::Integrity::kNone: break;
  }
  return nullptr;
}

void hash_one_block(IMB_MGR* mgr, esp::Integrity i, const uint8_t* block, uint8_t* state) {
  switch (i) {
    case esp::Integrity::kHmacSha1_96: IMB_SHA1_ONE_BLOCK(mgr, block, state); break;
    case esp::Integrity::kHmacSha256_128: IMB_SHA256_ONE_BLOCK(mgr, block, state); break;
    case esp::Integrity::kHmacSha384_192: IMB_SHA384_ONE_BLOCK(mgr, block, state); break;
    case esp::Integrity::kHmacSha512_256: IMB_SHA512_ONE_BLOCK(mgr, block, state); break;
    case esp::Integrity::kNone: break;
  }
}

}  // namespace

SaKeys::~SaKeys() {
  OPENSSL_cleanse(this, sizeof *this);
}

void* SaKeys::operator new(std::size_t size, std::align_val_t align) {
  return key_alloc(size, static_cast<std::size_t>(align));
}

void SaKeys::operator delete(void* p, std::size_t size, std::align_val_t align) noexcept {
  key_free(p, size, static_cast<std::size_t>(align));
}

std::unique_ptr<SaKeys> prepare_keys(const esp::Algorithm& alg, std::span<const uint8_t> cipher_key,
                                     std::span<const uint8_t> salt,
                                     std::span<const uint8_t> auth_key) {
  const std::string name = alg.name();
  if (cipher_key.size() != alg.key_bytes) {
    throw std::invalid_argument(name + ": encryption key must be " + std::to_string(alg.key_bytes) +
                                " bytes, got " + std::to_string(cipher_key.size()));
  }
  if (salt.size() != alg.salt_bytes()) {
    throw std::invalid_argument(name + ": salt must be " + std::to_string(alg.salt_bytes()) +
                                " bytes, got " + std::to_string(salt.size()));
  }
  if (alg.aead() ? !auth_key.empty() : auth_key.empty()) {
    throw std::invalid_argument(
        name + (alg.aead() ? ": AEAD takes no integrity key" : ": integrity key missing"));
  }

  auto k = std::make_unique<SaKeys>();
  std::memset(static_cast<void*>(k.get()), 0, sizeof *k);
  k->alg = alg;
  std::memcpy(k->cipher_key, cipher_key.data(), cipher_key.size());
  if (!salt.empty()) std::memcpy(k->salt, salt.data(), salt.size());

  auto& cm = control_mgr();
  std::lock_guard guard(cm.lock);
  if (alg.aead()) {
    if (alg.key_bytes == 16) {
      IMB_AES128_GCM_PRE(cm.mgr, k->cipher_key, &k->imb.gcm);
    } else {
      IMB_AES256_GCM_PRE(cm.mgr, k->cipher_key, &k->imb.gcm);
    }
    // H^7 .. H^1: 7 powers of 16 bytes from where they begin.
    const size_t hkeys = offsetof(SaKeys, imb) + cm.gcm_short_hkeys;
    set_lines(*k, hkeys, hkeys + 16 * 7);
    return k;
  }

  if (alg.key_bytes == 16) {
    IMB_AES_KEYEXP_128(cm.mgr, k->cipher_key, k->imb.cbc.enc_round_keys, k->imb.cbc.dec_round_keys);
  } else {
    IMB_AES_KEYEXP_256(cm.mgr, k->cipher_key, k->imb.cbc.enc_round_keys, k->imb.cbc.dec_round_keys);
  }

  const uint32_t block = hmac_block_bytes(alg.integrity);
  if (auth_key.size() > block) {
    unsigned int len = 0;
    if (EVP_Digest(auth_key.data(), auth_key.size(), k->imb.cbc.auth_key, &len,
                   hmac_md(alg.integrity), nullptr) != 1) {
      throw std::runtime_error(name + ": hashing the long integrity key failed");
    }
    k->auth_key_len = len;
  } else {
    std::memcpy(k->imb.cbc.auth_key, auth_key.data(), auth_key.size());
    k->auth_key_len = static_cast<uint32_t>(auth_key.size());
  }

  uint8_t pad[kMaxHmacKeyBytes];
  for (uint32_t i = 0; i < block; ++i)
    pad[i] = static_cast<uint8_t>(k->imb.cbc.auth_key[i] ^ 0x36);
  hash_one_block(cm.mgr, alg.integrity, pad, k->imb.cbc.ipad_state);
  for (uint32_t i = 0; i < block; ++i)
    pad[i] = static_cast<uint8_t>(k->imb.cbc.auth_key[i] ^ 0x5c);
  hash_one_block(cm.mgr, alg.integrity, pad, k->imb.cbc.opad_state);
  OPENSSL_cleanse(pad, sizeof pad);
  set_lines(*k, offsetof(SaKeys, imb) + offsetof(SaKeys::Imb::Cbc, ipad_state),
            offsetof(SaKeys, imb) + offsetof(SaKeys::Imb::Cbc, opad_state) + 64);
  return k;
}

}  // namespace espgw::crypto
