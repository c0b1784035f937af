#include "common/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace espgw {

IpAddress IpAddress::v4(uint32_t host_order) noexcept {
  IpAddress a;
  a.family = IpFamily::kV4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::kV4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::kV6;
    return a;
  }
  return std::nullopt;
}

uint32_t IpAddress::v4_host() const noexcept {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse_with_host_bits(std::string_view text) {
  const auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max_len = addr->is_v4() ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
        len > max_len) {
      return std::nullopt;
    }
  }
  return IpPrefix{*addr, static_cast<uint8_t>(len)};
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto p = parse_with_host_bits(text);
  if (!p) return std::nullopt;
  // Host bits set ("10.0.0.1/16") is almost always a typo for the network; refuse it.
  const unsigned max_len = p->address.is_v4() ? 32 : 128;
  for (unsigned bit = p->length; bit < max_len; ++bit) {
    if (p->address.bytes[bit / 8] & (0x80u >> (bit % 8))) return std::nullopt;
  }
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const noexcept {
  if (a.family != address.family) return false;
  unsigned full = length / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (a.bytes[i] != address.bytes[i]) return false;
  }
  if (const unsigned rest = length % 8) {
    const uint8_t mask = static_cast<uint8_t>(0xFF00u >> rest);
    if ((a.bytes[full] & mask) != (address.bytes[full] & mask)) return false;
  }
  return true;
}

std::string IpPrefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

size_t IpPrefixHash::operator()(const IpPrefix& p) const noexcept {
  uint64_t a;
  uint64_t b;
  std::memcpy(&a, p.address.bytes.data(), 8);
  std::memcpy(&b, p.address.bytes.data() + 8, 8);
  const uint64_t family = static_cast<uint8_t>(p.address.family);
  const uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b + p.length + (family << 8));
  return static_cast<size_t>((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull >> 16);
}

}  // namespace espgw
