#pragma once
// Which crypto library the dataplane encrypts with, by name: the config's dataplane.crypto and
// espgw's --crypto choose one. The backends themselves are in dataplane/crypto/crypto_backend.h.

#include <cstdint>
#include <optional>
#include <string_view>

namespace espgw::crypto {

enum class BackendKind : uint8_t { kIpsecMb, kOpenSsl };

std::optional<BackendKind> parse_backend(std::string_view name);  // "ipsec-mb" | "openssl"
std::string_view backend_name(BackendKind kind) noexcept;

}  // namespace espgw::crypto
