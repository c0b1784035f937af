// libFuzzer target: the VICI decoder (ike-bridge/vici/) over a byte stream as charon would send
// it: length-prefixed segments, packet headers, message elements. Every input decodes or is
// refused with a DecodeError; what decodes encodes again to bytes that decode to the same tree.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ike-bridge/vici/message.h"
#include "ike-bridge/vici/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace espgw::vici;
  try {
    for (const Packet& p : decode_stream(std::span(data, size))) {
      const std::string again = encode_packet(p);
      const auto round =
          decode_stream(std::span(reinterpret_cast<const uint8_t*>(again.data()), again.size()));
      if (round.size() != 1 || !(round[0] == p)) std::abort();
      (void)to_text(p.message);
    }
  } catch (const DecodeError&) {
  }
  return 0;
}
