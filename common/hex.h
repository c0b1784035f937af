#pragma once
// Hex strings for keys in the config and on the control socket ("0x" prefix optional, ':' allowed
// between bytes as strongSwan writes them).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace espgw {

std::optional<std::vector<uint8_t>> parse_hex(std::string_view text);
std::string to_hex(std::span<const uint8_t> bytes);
// An SPI (or interface ID) as charon, ip-xfrm and espgw's messages write it: "0x0000c0de".
std::string spi_hex(uint32_t spi);

}  // namespace espgw
