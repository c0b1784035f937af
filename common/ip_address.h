#pragma once
// An IPv4 or IPv6 address and prefix, as the config, the control socket and the ESP engine see
// them.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace espgw {

enum class IpFamily : uint8_t { kV4 = 4, kV6 = 6 };

struct IpAddress {
  IpFamily family = IpFamily::kV4;
  // IPv4 uses the first 4 bytes, in network order.
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(uint32_t host_order) noexcept;
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const noexcept { return family == IpFamily::kV4; }
  bool is_v6() const noexcept { return family == IpFamily::kV6; }
  size_t size() const noexcept { return is_v4() ? 4 : 16; }
  // Host-order value of an IPv4 address.
  uint32_t v4_host() const noexcept;
  std::string to_string() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;

  // "10.0.0.0/16", "fd00::/64"; a bare address is a host prefix. Host bits must be zero.
  static std::optional<IpPrefix> parse(std::string_view text);
  // As parse(), but host bits may be set ("198.51.100.1/24": an interface's address and its
  // connected prefix length).
  static std::optional<IpPrefix> parse_with_host_bits(std::string_view text);
  bool contains(const IpAddress& a) const noexcept;
  std::string to_string() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

// For unordered containers of prefixes (a million routes: a strong mix, no std::hash of bytes).
struct IpPrefixHash {
  size_t operator()(const IpPrefix& p) const noexcept;
};

}  // namespace espgw
