#pragma once
// The intel-ipsec-mb job for the AES-CBC + HMAC of one ESP packet, as the intel-ipsec-mb backend
// submits it; bench/esp_bench.cpp's raw-cipher baseline fills its jobs with the same function, so
// that the two measure the same job. Inline: the backend fills one per packet.

#include <intel-ipsec-mb.h>

#include <cstdint>

#include "common/esp_algorithm.h"
#include "dataplane/crypto/sa_keys.h"

namespace espgw::crypto {

inline IMB_HASH_ALG imb_hash_alg(esp::Integrity i) noexcept {
  switch (i) {
    case esp::Integrity::kHmacSha1_96: return IMB_AUTH_HMAC_SHA_1;
    case esp::Integrity::kHmacSha256_128: return IMB_AUTH_HMAC_SHA_256;
    case esp::Integrity::kHmacSha384_192: return IMB_AUTH_HMAC_SHA_384;
    case esp::Integrity::kHmacSha512_256: return IMB_AUTH_HMAC_SHA_512;
    case esp::Integrity::kNone: break;
  }
  return IMB_AUTH_NULL;
}

// Sets all of `job` but the tag (auth_tag_output and its length: keys.alg.icv_bytes()) and the
// user data, for the packet whose ESP header is at `esp`: the `len` bytes at `src` enciphered or
// deciphered (CBC, the 16-byte IV at `iv`) into `dst`, and [esp, src + len) hashed (HMAC, after
// the cipher when encrypting, before it when decrypting). With `len` 0 the job only hashes.
inline void set_cbc_hmac_job(IMB_JOB* job, const SaKeys& keys, bool enc, const uint8_t* esp,
                             const uint8_t* iv, const uint8_t* src, uint8_t* dst,
                             uint32_t len) noexcept {
  job->cipher_direction = enc ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
  job->chain_order = enc ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
  job->cipher_mode = len != 0 ? IMB_CIPHER_CBC : IMB_CIPHER_NULL;
  job->enc_keys = keys.imb.cbc.enc_round_keys;
  job->dec_keys = keys.imb.cbc.dec_round_keys;
  job->key_len_in_bytes = keys.alg.key_bytes;
  job->src = esp;
  job->dst = dst;
  job->cipher_start_src_offset_in_bytes = static_cast<uint64_t>(src - esp);
  job->msg_len_to_cipher_in_bytes = len;
  job->iv = iv;
  job->iv_len_in_bytes = 16;
  job->hash_alg = imb_hash_alg(keys.alg.integrity);
  job->u.HMAC._hashed_auth_key_xor_ipad = keys.imb.cbc.ipad_state;
  job->u.HMAC._hashed_auth_key_xor_opad = keys.imb.cbc.opad_state;
  job->hash_start_src_offset_in_bytes = 0;
  job->msg_len_to_hash_in_bytes = static_cast<uint64_t>(src + len - esp);
}

}  // namespace espgw::crypto
