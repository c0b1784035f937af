#pragma once
// The crypto interface the ESP engine drives: one call encrypts or decrypts a whole burst of ESP
// payloads in place. Two implementations: intel-ipsec-mb (default) and OpenSSL 3 EVP (fallback and
// test reference). A backend object belongs to one thread (intel-ipsec-mb: one manager per thread).
//
// What is authenticated follows RFC 4303 and RFC 4106:
//   AES-GCM:  AAD = SPI || [seq_hi] || seq_lo  (12 bytes with ESN, else the 8-byte ESP header);
//             nonce = salt || explicit IV.
//   AES-CBC + HMAC: ICV = HMAC over [esp, src + len) followed by seq_hi when ESN is on.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/crypto_backend_kind.h"
#include "dataplane/crypto/sa_keys.h"

namespace espgw::crypto {

struct CryptoOp {
  const SaKeys* keys;
  const uint8_t* esp;  // ESP header: SPI, sequence number (start of the authenticated data)
  const uint8_t* iv;   // explicit IV (8 bytes GCM, 16 bytes CBC)
  const uint8_t* src;  // cipher region
  uint8_t* dst;        // where the result goes; == src for in-place (encrypt is always in place)
  uint32_t len;        // cipher region length, a multiple of the block for CBC
  uint8_t* icv;        // ICV: written by encrypt, checked by decrypt (== src + len in a packet)
  uint32_t seq_hi;     // high 32 bits of the sequence number (host order), used when esn
  bool esn;
  bool ok;            // out: the operation succeeded (decrypt: the ICV verified)
  bool done = false;  // out, submit() only: finished (ok is set)
};

class CryptoBackend {
 public:
  virtual ~CryptoBackend() = default;
  virtual void encrypt(std::span<CryptoOp> ops) noexcept = 0;
  virtual void decrypt(std::span<CryptoOp> ops) noexcept = 0;
  // Deferred AES-CBC + HMAC: the ops go into intel-ipsec-mb's multi-buffer lanes and finish (ok
  // set, done true) during this call, a later submit() or drain(), or an encrypt()/decrypt()
  // (which empty the lanes); the lanes stay full across bursts instead of running nearly empty
  // at the end of each. Each op must stay where it is until done. Only CBC + HMAC ops: AES-GCM
  // has no lanes. This default (OpenSSL) finishes every op at once.
  virtual void submit(std::span<CryptoOp* const> ops, bool enc) noexcept;
  // Finishes every submitted op.
  virtual void drain() noexcept {}
  virtual BackendKind kind() const noexcept = 0;
  // One line for logs and the demo: library, version and the code path it chose.
  virtual std::string describe() const = 0;
};

// Throws std::runtime_error when the library cannot be initialised. `worker`: the dataplane worker
// the backend is for; intel-ipsec-mb then runs from that worker's own copy of the library where
// its version needs one (imb_copy.h). Without it, the linked library.
std::unique_ptr<CryptoBackend> make_backend(BackendKind kind, int worker = -1);

}  // namespace espgw::crypto
