#include "dataplane/crypto/crypto_backend.h"

namespace espgw::crypto {

std::unique_ptr<CryptoBackend> make_ipsec_mb_backend();
std::unique_ptr<CryptoBackend> make_openssl_backend();

std::unique_ptr<CryptoBackend> make_backend(BackendKind kind) {
  return kind == BackendKind::kIpsecMb ? make_ipsec_mb_backend() : make_openssl_backend();
}

}  // namespace espgw::crypto
