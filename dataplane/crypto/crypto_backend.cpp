#include "dataplane/crypto/crypto_backend.h"

namespace espgw::crypto {

std::unique_ptr<CryptoBackend> make_ipsec_mb_backend();
std::unique_ptr<CryptoBackend> make_openssl_backend();

std::unique_ptr<CryptoBackend> make_backend(BackendKind kind) {
  return kind == BackendKind::kIpsecMb ? make_ipsec_mb_backend() : make_openssl_backend();
}

std::optional<BackendKind> parse_backend(std::string_view name) {
  if (name == "ipsec-mb" || name == "ipsecmb" || name == "intel-ipsec-mb") {
    return BackendKind::kIpsecMb;
  }
  if (name == "openssl") return BackendKind::kOpenSsl;
  return std::nullopt;
}

std::string_view backend_name(BackendKind kind) noexcept {
  return kind == BackendKind::kIpsecMb ? "ipsec-mb" : "openssl";
}

}  // namespace espgw::crypto
