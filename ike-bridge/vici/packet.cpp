#include "ike-bridge/vici/packet.h"

#include <cstring>

namespace espgw::vici {

const char* packet_type_name(PacketType t) noexcept {
  switch (t) {
    case PacketType::kCmdRequest: return "CMD_REQUEST";
    case PacketType::kCmdResponse: return "CMD_RESPONSE";
    case PacketType::kCmdUnknown: return "CMD_UNKNOWN";
    case PacketType::kEventRegister: return "EVENT_REGISTER";
    case PacketType::kEventUnregister: return "EVENT_UNREGISTER";
    case PacketType::kEventConfirm: return "EVENT_CONFIRM";
    case PacketType::kEventUnknown: return "EVENT_UNKNOWN";
    case PacketType::kEvent: return "EVENT";
  }
  return "unknown";
}

bool packet_type_has_name(PacketType t) noexcept {
  return t == PacketType::kCmdRequest || t == PacketType::kEventRegister ||
         t == PacketType::kEventUnregister || t == PacketType::kEvent;
}

bool packet_type_has_message(PacketType t) noexcept {
  return t == PacketType::kCmdRequest || t == PacketType::kCmdResponse || t == PacketType::kEvent;
}

std::string encode_packet(const Packet& p) {
  const char* type = packet_type_name(p.type);
  std::string out(kLengthSize, '\0');
  out.push_back(static_cast<char>(p.type));
  if (packet_type_has_name(p.type)) {
    if (p.name.empty()) throw EncodeError(std::string(type) + ": needs a name");
    if (p.name.size() > kMaxNameLength) {
      throw EncodeError(std::string(type) + ": name of " + std::to_string(p.name.size()) +
                        " bytes (at most 255)");
    }
    out.push_back(static_cast<char>(p.name.size()));
    out += p.name;
  } else if (!p.name.empty()) {
    throw EncodeError(std::string(type) + " has no name, got \"" + p.name + "\"");
  }
  if (packet_type_has_message(p.type)) {
    encode_to(p.message, out);
  } else if (!p.message.empty()) {
    throw EncodeError(std::string(type) + " carries no message");
  }
  const size_t len = out.size() - kLengthSize;
  if (len > kMaxSegmentSize) {
    throw EncodeError(std::string(type) + " \"" + p.name + "\": " + std::to_string(len) +
                      " bytes, over the 512 KiB that charon accepts");
  }
  for (size_t i = 0; i < kLengthSize; ++i) {
    out[i] = static_cast<char>((len >> (8 * (kLengthSize - 1 - i))) & 0xff);
  }
  return out;
}

Packet decode_packet(std::span<const uint8_t> payload) {
  if (payload.empty()) throw DecodeError("empty packet (no type byte)");
  const uint8_t t = payload[0];
  if (t > static_cast<uint8_t>(PacketType::kEvent)) {
    throw DecodeError("unknown packet type " + std::to_string(t));
  }
  Packet p;
  p.type = static_cast<PacketType>(t);
  const char* type = packet_type_name(p.type);
  size_t pos = 1;
  if (packet_type_has_name(p.type)) {
    if (payload.size() < 2) throw DecodeError(std::string(type) + ": name length missing");
    const size_t len = payload[1];
    pos = 2;
    if (len == 0) throw DecodeError(std::string(type) + ": empty name");
    if (payload.size() - pos < len) {
      throw DecodeError(std::string(type) + ": name of " + std::to_string(len) +
                        " bytes runs past the end (" + std::to_string(payload.size() - pos) +
                        " left)");
    }
    p.name.assign(reinterpret_cast<const char*>(payload.data() + pos), len);
    pos += len;
  }
  const auto rest = payload.subspan(pos);
  if (packet_type_has_message(p.type)) {
    try {
      p.message = decode(rest, pos);  // offsets within the packet, as a hex dump shows them
    } catch (const DecodeError& e) {
      throw DecodeError(std::string(type) + (p.name.empty() ? "" : " \"" + p.name + "\"") + ": " +
                        e.what());
    }
  } else if (!rest.empty()) {
    throw DecodeError(std::string(type) + ": " + std::to_string(rest.size()) +
                      " unexpected bytes after the packet");
  }
  return p;
}

void FrameReader::feed(std::span<const uint8_t> bytes) {
  // Drop consumed bytes before growing, so the buffer stays bounded by one segment plus a read.
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > 65536) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void FrameReader::feed(std::string_view bytes) {
  feed(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::optional<std::string> FrameReader::next() {
  const size_t have = buffer_.size() - start_;
  if (have < kLengthSize) return std::nullopt;
  size_t len = 0;
  for (size_t i = 0; i < kLengthSize; ++i) {
    len = (len << 8) | static_cast<uint8_t>(buffer_[start_ + i]);
  }
  if (len == 0) throw DecodeError("segment of length 0 (a packet has at least its type byte)");
  if (len > kMaxSegmentSize) {
    throw DecodeError("segment of " + std::to_string(len) +
                      " bytes announced, over the 512 KiB limit");
  }
  if (have - kLengthSize < len) return std::nullopt;
  std::string payload = buffer_.substr(start_ + kLengthSize, len);
  start_ += kLengthSize + len;
  return payload;
}

std::vector<Packet> decode_stream(std::span<const uint8_t> bytes) {
  FrameReader reader;
  reader.feed(bytes);
  std::vector<Packet> packets;
  while (auto payload = reader.next()) {
    packets.push_back(decode_packet(
        std::span(reinterpret_cast<const uint8_t*>(payload->data()), payload->size())));
  }
  if (reader.buffered() != 0) {
    throw DecodeError("stream ends inside a segment (" + std::to_string(reader.buffered()) +
                      " bytes left over)");
  }
  return packets;
}

}  // namespace espgw::vici
