#include "common/crypto_backend_kind.h"

namespace espgw::crypto {

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
