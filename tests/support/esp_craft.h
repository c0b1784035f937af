#pragma once
// Hand-built ESP packets. The bad-input tests and the fuzzer need packets that the engine's
// encrypt() never makes (bad padding, odd next headers, arbitrary inner packets) yet that carry a
// valid ICV, so that the checks behind ICV verification are reached: the plaintext is laid out
// here and sealed with a crypto backend directly.

#include <cstdint>
#include <span>
#include <vector>

#include "common/esp_algorithm.h"
#include "dataplane/crypto/crypto_backend.h"

namespace espgw::test {

struct OuterSpec {
  bool v6 = false;
  bool udp = false;    // RFC 3948 UDP header before the ESP header
  uint8_t tos = 0;     // IPv4 TOS / IPv6 traffic class (DSCP and ECN)
  uint16_t frag = 0;   // IPv4 flags and fragment offset word
  uint8_t v4_ihl = 5;  // IPv4 header length in words (options are zero-filled)
  uint16_t src_port = 4500;
  uint16_t dst_port = 4500;
};

// RFC 4303 2.4 plaintext: payload, pad bytes 1, 2, 3, ... up to the algorithm's alignment plus
// extra_pad blocks, pad length, next header.
std::vector<uint8_t> esp_plaintext(std::span<const uint8_t> payload, const esp::Algorithm& alg,
                                   uint8_t next_header, uint32_t extra_pad_blocks = 0);

// ESP header (SPI, low 32 bits of seq), IV (zero-extended to the algorithm's length), the
// encrypted plaintext and the ICV (seq's high half authenticated when esn). CBC needs a plaintext
// of whole blocks: returns an empty vector when the backend refuses.
std::vector<uint8_t> seal_esp(crypto::CryptoBackend& backend, const crypto::SaKeys& keys, bool esn,
                              uint32_t spi, uint64_t seq, std::span<const uint8_t> iv,
                              std::span<const uint8_t> plaintext);

// The outer IPv4 or IPv6 header (plus UDP) around an ESP packet: lengths and IPv4 checksum set,
// protocol 50 or 17.
std::vector<uint8_t> wrap_outer(const OuterSpec& o, std::span<const uint8_t> esp);

}  // namespace espgw::test
