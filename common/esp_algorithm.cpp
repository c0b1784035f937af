#include "common/esp_algorithm.h"

#include <array>

namespace espgw::esp {
namespace {

constexpr std::array kAll = {
    Algorithm{Cipher::kAesGcm16, 16, Integrity::kNone},
    Algorithm{Cipher::kAesGcm16, 32, Integrity::kNone},
    Algorithm{Cipher::kAesCbc, 16, Integrity::kHmacSha1_96},
    Algorithm{Cipher::kAesCbc, 32, Integrity::kHmacSha1_96},
    Algorithm{Cipher::kAesCbc, 16, Integrity::kHmacSha256_128},
    Algorithm{Cipher::kAesCbc, 32, Integrity::kHmacSha256_128},
    Algorithm{Cipher::kAesCbc, 16, Integrity::kHmacSha384_192},
    Algorithm{Cipher::kAesCbc, 32, Integrity::kHmacSha384_192},
    Algorithm{Cipher::kAesCbc, 16, Integrity::kHmacSha512_256},
    Algorithm{Cipher::kAesCbc, 32, Integrity::kHmacSha512_256},
};

std::string_view integrity_name(Integrity i) {
  switch (i) {
    case Integrity::kNone: return "";
    case Integrity::kHmacSha1_96: return "sha1";
    case Integrity::kHmacSha256_128: return "sha256";
    case Integrity::kHmacSha384_192: return "sha384";
    case Integrity::kHmacSha512_256: return "sha512";
  }
  return "";
}

}  // namespace

uint32_t Algorithm::auth_key_bytes() const noexcept {
  switch (integrity) {
    case Integrity::kNone: return 0;
    case Integrity::kHmacSha1_96: return 20;
    case Integrity::kHmacSha256_128: return 32;
    case Integrity::kHmacSha384_192: return 48;
    case Integrity::kHmacSha512_256: return 64;
  }
  return 0;
}

std::string Algorithm::name() const {
  std::string n = key_bytes == 16 ? "aes128" : "aes256";
  if (aead()) return n + "gcm16";
  return n + "-" + std::string(integrity_name(integrity));
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  Algorithm a;
  if (name.starts_with("aes128")) {
    a.key_bytes = 16;
  } else if (name.starts_with("aes256")) {
    a.key_bytes = 32;
  } else {
    return std::nullopt;
  }
  name.remove_prefix(6);
  if (name == "gcm16" || name == "gcm128") {
    a.cipher = Cipher::kAesGcm16;
    a.integrity = Integrity::kNone;
    return a;
  }
  a.cipher = Cipher::kAesCbc;
  if (name == "-sha1" || name == "-sha") {
    a.integrity = Integrity::kHmacSha1_96;
  } else if (name == "-sha256" || name == "-sha2_256") {
    a.integrity = Integrity::kHmacSha256_128;
  } else if (name == "-sha384" || name == "-sha2_384") {
    a.integrity = Integrity::kHmacSha384_192;
  } else if (name == "-sha512" || name == "-sha2_512") {
    a.integrity = Integrity::kHmacSha512_256;
  } else {
    return std::nullopt;
  }
  return a;
}

std::span<const Algorithm> all_algorithms() noexcept {
  return kAll;
}

}  // namespace espgw::esp
