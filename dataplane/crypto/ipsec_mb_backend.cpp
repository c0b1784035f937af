// intel-ipsec-mb backend. GCM goes through the direct API (IMB_AES*_GCM_ENC/DEC) one packet at a
// time: measured here it is cheaper than the job API for every size (59 vs 103 cycles at 64 B:
// docs/platform-notes.md), and a GCM packet needs no multi-buffer lanes. CBC+HMAC goes through the
// job API: encrypt()/decrypt() submit the whole burst (longest packet first) before one flush, so
// that the multi-buffer AES-CBC and SHA code fills its lanes; submit() leaves the lanes full
// across bursts, its jobs finishing as later jobs push them through (or at drain()). A flush per
// burst runs the lanes nearly empty at the end of each: ~200 cycles a packet at IMIX CBC decrypt
// (docs/hot-path-profile.md).

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/bytes.h"
#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/crypto/imb_copy.h"
#include "dataplane/crypto/ipsec_mb_job.h"

namespace espgw::crypto {
namespace {

constexpr size_t kChunk = 64;  // ops handled per job-API round; bounds the scratch below

const char* arch_name(uint32_t arch) {
  switch (arch) {
    case IMB_ARCH_NOAESNI: return "no-AESNI";
    case IMB_ARCH_SSE: return "SSE";
    case IMB_ARCH_AVX: return "AVX";
    case IMB_ARCH_AVX2: return "AVX2";
    case IMB_ARCH_AVX512: return "AVX512";
    default: return "unknown";
  }
}

// The GCM nonce and AAD of one op.
struct GcmInput {
  alignas(16) uint8_t nonce[16];
  uint8_t aad_esn[12];
  const uint8_t* aad;
  uint64_t aad_len;
  void set(const CryptoOp& op) noexcept {
    std::memcpy(nonce, op.keys->salt, 4);
    std::memcpy(nonce + 4, op.iv, 8);
    if (op.esn) {
      std::memcpy(aad_esn, op.esp, 4);
      store_be32(aad_esn + 4, op.seq_hi);
      std::memcpy(aad_esn + 8, op.esp + 4, 4);
      aad = aad_esn;
      aad_len = 12;
    } else {
      aad = op.esp;
      aad_len = 8;
    }
  }
};

// Constant time like CRYPTO_memcmp (no branch on the bytes compared; the loop depends only on the
// ICV length, which is public), without a call into libcrypto per packet. ICVs are 12, 16, 24 or
// 32 bytes.
inline bool tag_equal(const uint8_t* a, const uint8_t* b, uint32_t len) noexcept {
  uint64_t diff = 0;
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  if (i + 4 <= len) {
    uint32_t x, y;
    std::memcpy(&x, a + i, 4);
    std::memcpy(&y, b + i, 4);
    diff |= x ^ y;
  }
  return diff == 0;
}

class IpsecMbBackend final : public CryptoBackend {
 public:
  explicit IpsecMbBackend(const ImbLib& lib) : lib_(lib) {
    mgr_ = lib_.alloc(0);
    if (mgr_ == nullptr) throw std::runtime_error("intel-ipsec-mb: cannot allocate a manager");
    lib_.init(mgr_, &arch_);
    if (arch_ == IMB_ARCH_NONE) {
      lib_.free(mgr_);
      throw std::runtime_error("intel-ipsec-mb: no usable code path on this CPU");
    }
  }
  ~IpsecMbBackend() override { lib_.free(mgr_); }

  BackendKind kind() const noexcept override { return BackendKind::kIpsecMb; }

  std::string describe() const override {
    std::string s = std::string("intel-ipsec-mb ") + imb_get_version_str() + " " + arch_name(arch_);
    if (mgr_->features & IMB_FEATURE_VAES) s += " VAES";
    if (mgr_->features & IMB_FEATURE_VPCLMULQDQ) s += " VPCLMULQDQ";
    if (mgr_->features & IMB_FEATURE_SHANI) s += " SHA-NI";
    if (lib_.own_copy) s += ", a copy per worker";
    return s;
  }

  void encrypt(std::span<CryptoOp> ops) noexcept override { run(ops, true); }
  void decrypt(std::span<CryptoOp> ops) noexcept override { run(ops, false); }

  void submit(std::span<CryptoOp* const> ops, bool enc) noexcept override {
    for (CryptoOp* op : ops)
      submit_cbc(*op, enc);
  }

  void drain() noexcept override {
    while (IMB_JOB* job = IMB_FLUSH_JOB(mgr_))
      complete(job);
  }

 private:
  // A CBC job's computed tag and (ESN) the received ICV, by the job's slot in the manager: it
  // lives as long as the job, across bursts for submit()'s.
  struct Scratch {
    alignas(16) uint8_t tag[64];
    uint8_t saved_icv[32];
  };
  Scratch& scratch_of(const IMB_JOB* job) noexcept {
    return job_scratch_[static_cast<size_t>(job - mgr_->jobs) % IMB_MAX_JOBS];
  }

  void run(std::span<CryptoOp> ops, bool enc) noexcept {
    // Burst of mixed algorithms: GCM ops go straight through, CBC ops are queued as jobs.
    for (size_t base = 0; base < ops.size(); base += kChunk) {
      const size_t n = std::min(kChunk, ops.size() - base);
      // The library reads the nonce (and an ESN AAD) with masked vector loads, which cannot be
      // forwarded from the stores that built them: built right before each call, every call
      // stalled until those stores reached L1. Built for the whole chunk first, they are there.
      for (size_t i = 0; i < n; ++i) {
        if (ops[base + i].keys->alg.aead()) gcm_in_[i].set(ops[base + i]);
      }
      uint32_t ncbc = 0;
      bool any_gcm_dec = false;
      for (size_t i = 0; i < n; ++i) {
        CryptoOp& op = ops[base + i];
        if (op.keys->alg.aead()) {
          if (enc) {
            gcm_encrypt(op, gcm_in_[i]);
          } else {
            gcm_decrypt(op, gcm_in_[i], gcm_tag_[i].tag);
            any_gcm_dec = true;
          }
        } else {
          cbc_order_[ncbc++] = static_cast<uint8_t>(i);
        }
      }
      if (ncbc != 0) submit_cbc_burst(ops.subspan(base, n), ncbc, enc);
      // The computed tags are compared once the whole chunk is through, not right behind the
      // library's store of each tag (which the compare's loads would wait for).
      if (any_gcm_dec) {
        for (size_t i = 0; i < n; ++i) {
          CryptoOp& op = ops[base + i];
          if (op.keys->alg.aead()) op.ok = tag_equal(gcm_tag_[i].tag, op.icv, 16);
        }
      }
      if (ncbc != 0) drain();
    }
  }

  // The multi-buffer lanes (16 with AVX512) run in step until the shortest job in them is done,
  // and the flush at the end of the burst finishes what is left with the other lanes idle: a
  // long packet submitted last runs almost alone. For decryption (hash, then cipher) longest
  // first lets the short packets fill the lanes that free up, so the flush has only short jobs
  // left: IMIX AES-128-CBC/HMAC-SHA2-256 decryption 409 -> 377 ns per packet in esp_bench. For
  // encryption (cipher, then hash) it measured 2% slower, so the order is left as it came.
  // Insertion sort: at most kChunk ops, mostly in order already when the sizes repeat.
  void submit_cbc_burst(std::span<CryptoOp> ops, uint32_t ncbc, bool enc) noexcept {
    for (uint32_t i = 1; i < ncbc && !enc; ++i) {
      const uint8_t idx = cbc_order_[i];
      const uint32_t len = ops[idx].len;
      uint32_t j = i;
      while (j > 0 && ops[cbc_order_[j - 1]].len < len) {
        cbc_order_[j] = cbc_order_[j - 1];
        --j;
      }
      cbc_order_[j] = idx;
    }
    for (uint32_t k = 0; k < ncbc; ++k)
      submit_cbc(ops[cbc_order_[k]], enc);
  }

  void gcm_encrypt(CryptoOp& op, const GcmInput& in) noexcept {
    struct gcm_context_data ctx;
    if (op.keys->alg.key_bytes == 16) {
      IMB_AES128_GCM_ENC(mgr_, &op.keys->imb.gcm, &ctx, op.dst, op.src, op.len, in.nonce, in.aad,
                         in.aad_len, op.icv, 16);
    } else {
      IMB_AES256_GCM_ENC(mgr_, &op.keys->imb.gcm, &ctx, op.dst, op.src, op.len, in.nonce, in.aad,
                         in.aad_len, op.icv, 16);
    }
    op.ok = true;
  }

  void gcm_decrypt(CryptoOp& op, const GcmInput& in, uint8_t* tag) noexcept {
    struct gcm_context_data ctx;
    if (op.keys->alg.key_bytes == 16) {
      IMB_AES128_GCM_DEC(mgr_, &op.keys->imb.gcm, &ctx, op.dst, op.src, op.len, in.nonce, in.aad,
                         in.aad_len, tag, 16);
    } else {
      IMB_AES256_GCM_DEC(mgr_, &op.keys->imb.gcm, &ctx, op.dst, op.src, op.len, in.nonce, in.aad,
                         in.aad_len, tag, 16);
    }
  }

  void submit_cbc(CryptoOp& op, bool enc) noexcept {
    const uint32_t icv_len = op.keys->alg.icv_bytes();
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    Scratch& s = scratch_of(job);
    set_cbc_hmac_job(job, *op.keys, enc, op.esp, op.iv, op.src, op.dst, op.len);
    job->auth_tag_output_len_in_bytes = icv_len;
    job->user_data = &op;
    if (op.esn) {
      // RFC 4303 2.2.1: seq_hi is hashed after the payload but not sent. The job API wants one
      // contiguous region, so it goes where the ICV will be; the ICV is written afterwards.
      if (!enc) std::memcpy(s.saved_icv, op.icv, icv_len);
      store_be32(op.icv, op.seq_hi);
      job->msg_len_to_hash_in_bytes += 4;
      job->auth_tag_output = s.tag;
    } else {
      job->auth_tag_output = enc ? op.icv : s.tag;
    }
    if (IMB_JOB* done = IMB_SUBMIT_JOB(mgr_)) complete(done);
  }

  void complete(IMB_JOB* job) noexcept {
    auto& op = *static_cast<CryptoOp*>(job->user_data);
    const Scratch& s = scratch_of(job);
    const uint32_t icv_len = op.keys->alg.icv_bytes();
    const bool enc = job->cipher_direction == IMB_DIR_ENCRYPT;
    const bool done = job->status == IMB_STATUS_COMPLETED;
    if (enc) {
      if (op.esn) std::memcpy(op.icv, s.tag, icv_len);
      op.ok = done;
    } else {
      const uint8_t* received = op.esn ? s.saved_icv : op.icv;
      op.ok = done && tag_equal(s.tag, received, icv_len);
      if (op.esn) std::memcpy(op.icv, s.saved_icv, icv_len);
    }
    op.done = true;
  }

  const ImbLib& lib_;  // where mgr_ comes from (imb_copy.h)
  IMB_MGR* mgr_ = nullptr;
  IMB_ARCH arch_ = IMB_ARCH_NONE;
  std::array<Scratch, IMB_MAX_JOBS> job_scratch_{};
  struct GcmTag {
    alignas(16) uint8_t tag[16];
  };
  std::array<GcmTag, kChunk> gcm_tag_{};
  std::array<GcmInput, kChunk> gcm_in_{};
  std::array<uint8_t, kChunk> cbc_order_{};  // a chunk's CBC ops, by index, in submission order
};

}  // namespace

std::unique_ptr<CryptoBackend> make_ipsec_mb_backend(int worker) {
  static const ImbLib linked;
  return std::make_unique<IpsecMbBackend>(
      worker < 0 ? linked : imb_for_worker(static_cast<uint32_t>(worker)));
}

}  // namespace espgw::crypto
