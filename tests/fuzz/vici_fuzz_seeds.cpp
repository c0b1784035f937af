// Writes the seed corpus of vici_decode_fuzz: streams of packets shaped as charon's (a list-sa
// event, a command response, confirmations, a request with lists), one file each.
//   vici_fuzz_seeds DIR

#include <fstream>
#include <iostream>
#include <string>

#include "ike-bridge/vici/packet.h"

int main(int argc, char** argv) {
  using namespace espgw::vici;
  if (argc != 2) {
    std::cerr << "usage: vici_fuzz_seeds DIR\n";
    return 2;
  }
  Message sa;
  Section& ike = sa.add_section("t2");
  ike.add("uniqueid", "1").add("state", "ESTABLISHED").add("initiator-spi", "0123456789abcdef");
  Section& child = ike.add_section("child-sas").add_section("t2-1");
  child.add("spi-in", "c1a2b3c4").add("local-ts", List{"10.1.0.0/24"}).add("remote-ts", List{});
  Message conn;
  conn.add_section("t2").add("proposals", List{"aes128-sha256-modp2048"}).add("version", "2");
  const std::string seeds[] = {
      encode_packet({PacketType::kEvent, "list-sa", sa}),
      encode_packet({PacketType::kCmdResponse, "", Message().add("success", "yes")}) +
          encode_packet({PacketType::kEventConfirm, "", {}}),
      encode_packet({PacketType::kCmdRequest, "load-conn", conn}),
      encode_packet({PacketType::kEventRegister, "ike-updown", {}}) +
          encode_packet({PacketType::kCmdUnknown, "", {}}) +
          encode_packet({PacketType::kEventUnknown, "", {}}),
  };
  int n = 0;
  for (const auto& s : seeds) {
    std::ofstream f(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
    f.write(s.data(), static_cast<std::streamsize>(s.size()));
  }
  return 0;
}
