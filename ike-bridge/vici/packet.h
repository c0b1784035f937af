#pragma once
// VICI packets and their framing (strongSwan's src/libcharon/plugins/vici/README.md, "Transport
// protocol" and "Packet layer"):
//
//   u32 length (network order, not counting itself) | u8 packet type | [u8 name length, name]
//   | [message elements]
//
// Named types: CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT. Types with a message:
// CMD_REQUEST, CMD_RESPONSE, EVENT. charon refuses segments over 512 KiB; so do we.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ike-bridge/vici/message.h"

namespace espgw::vici {

enum class PacketType : uint8_t {
  kCmdRequest = 0,
  kCmdResponse = 1,
  kCmdUnknown = 2,
  kEventRegister = 3,
  kEventUnregister = 4,
  kEventConfirm = 5,
  kEventUnknown = 6,
  kEvent = 7,
};

inline constexpr size_t kMaxSegmentSize = 512 * 1024;  // charon's VICI_MESSAGE_SIZE_MAX
inline constexpr size_t kLengthSize = 4;

const char* packet_type_name(PacketType t) noexcept;
bool packet_type_has_name(PacketType t) noexcept;
bool packet_type_has_message(PacketType t) noexcept;

struct Packet {
  PacketType type = PacketType::kCmdRequest;
  std::string name;  // command or event name, for the named types
  Message message;   // for the types that carry one

  bool operator==(const Packet&) const = default;
};

// The segment (length header included). Throws EncodeError for a name missing on a named type,
// longer than 255 bytes, given on an unnamed type, a message on a type without one, or a segment
// over kMaxSegmentSize.
std::string encode_packet(const Packet& packet);

// One segment's payload (after the length header). Throws DecodeError for an unknown type, a
// missing or truncated name, trailing bytes after a packet without a message, or a malformed
// message.
Packet decode_packet(std::span<const uint8_t> payload);

// Reassembles segments from a byte stream: feed what recv() returned, then take segments out.
// A length header over kMaxSegmentSize (or zero: every packet has a type byte) is an error at
// once, before anything of that size is buffered.
class FrameReader {
 public:
  void feed(std::span<const uint8_t> bytes);
  void feed(std::string_view bytes);
  // The next complete segment's payload, if one is complete. Throws DecodeError for a bad length.
  std::optional<std::string> next();
  // Bytes received but not yet part of a returned segment (a partial segment at EOF is an error).
  size_t buffered() const noexcept { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  size_t start_ = 0;
};

// Decodes a byte stream of segments completely (a fuzzing and test entry point): every segment
// must be a valid packet and the stream must end on a segment boundary. Returns the packets.
std::vector<Packet> decode_stream(std::span<const uint8_t> bytes);

}  // namespace espgw::vici
