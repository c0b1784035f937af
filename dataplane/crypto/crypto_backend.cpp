#include "dataplane/crypto/crypto_backend.h"

namespace espgw::crypto {

std::unique_ptr<CryptoBackend> make_ipsec_mb_backend(int worker);
std::unique_ptr<CryptoBackend> make_openssl_backend();

void CryptoBackend::submit(std::span<CryptoOp* const> ops, bool enc) noexcept {
  for (CryptoOp* op : ops) {
    if (enc) {
      encrypt(std::span(op, 1));
    } else {
      decrypt(std::span(op, 1));
    }
    op->done = true;
  }
}

std::unique_ptr<CryptoBackend> make_backend(BackendKind kind, int worker) {
  return kind == BackendKind::kIpsecMb ? make_ipsec_mb_backend(worker) : make_openssl_backend();
}

}  // namespace espgw::crypto
