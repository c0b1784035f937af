#include "dataplane/control/sa_state_format.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "common/hex.h"
#include "config/config.h"

namespace espgw::dp {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;

uint64_t hex64(const json& v, const char* what) {
  if (!v.is_string()) throw std::invalid_argument(std::string(what) + " must be a hex string");
  const auto bytes = parse_hex(v.get<std::string>());
  if (!bytes || bytes->empty() || bytes->size() > 8) {
    throw std::invalid_argument(std::string(what) + " must be 1 to 8 bytes of hex");
  }
  uint64_t n = 0;
  for (uint8_t b : *bytes)
    n = (n << 8) | b;
  return n;
}

std::string fingerprint_hex(uint64_t f) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(f));
  return s;
}

}  // namespace

std::string format_sa_state(const SaStateContents& c) {
  json sas = json::array();
  for (const auto& r : c.sas) {
    json j = {{"direction", r.direction == esp::Direction::kInbound ? "in" : "out"},
              {"spi", spi_hex(r.spi)},
              {"key_id", fingerprint_hex(r.fingerprint)},
              {"tunnel", r.tunnel}};
    if (r.direction == esp::Direction::kOutbound) {
      j["oseq"] = r.seq;
      j["peak_pps"] = r.peak_pps;
    } else {
      j["seq"] = r.seq;
      j["replay_bitmap"] = to_hex(r.seen);
    }
    sas.push_back(std::move(j));
  }
  json neighbours = json::array();
  for (const auto& n : c.neighbours) {
    neighbours.push_back({{"interface", n.interface},
                          {"ip", n.ip.to_string()},
                          {"mac", config::mac_to_string(n.mac)}});
  }
  return json{{"espgw_sa_state", kFormat},
              {"interval_ms", c.interval_ms},
              {"sas", sas},
              {"neighbours", neighbours}}
             .dump(1) +
         "\n";
}

namespace {

SaStateContents parse_document(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw std::invalid_argument("not a JSON object");
  // Read as what it is first: a huge or fractional number converted to int is undefined
  // (sa_state_fuzz, 1.8e53).
  const json format = doc.value("espgw_sa_state", json());
  if (!format.is_number_unsigned() || format.get<uint64_t>() != kFormat) {
    throw std::invalid_argument("not an espgw SA state file of format " + std::to_string(kFormat));
  }
  if (!doc.contains("sas") || !doc["sas"].is_array())
    throw std::invalid_argument("no \"sas\" list");
  SaStateContents c;
  const json iv = doc.value("interval_ms", json());
  if (!iv.is_number_unsigned() || iv.get<uint64_t>() > 3'600'000) {
    throw std::invalid_argument("interval_ms must be a number of milliseconds up to an hour");
  }
  c.interval_ms = iv.get<uint32_t>();
  std::vector<SaStateRecord>& out = c.sas;
  size_t i = 0;
  for (const auto& j : doc["sas"]) {
    const std::string at = "sas[" + std::to_string(i++) + "]";
    try {
      if (!j.is_object()) throw std::invalid_argument("not an object");
      SaStateRecord r;
      const std::string d = j.value("direction", "");
      if (d != "in" && d != "out") throw std::invalid_argument("direction must be in or out");
      r.direction = d == "in" ? esp::Direction::kInbound : esp::Direction::kOutbound;
      r.spi = static_cast<uint32_t>(hex64(j.value("spi", json()), "spi"));
      r.fingerprint = hex64(j.value("key_id", json()), "key_id");
      r.tunnel = j.value("tunnel", "");
      auto number = [&](const char* k) {
        if (!j.contains(k) || !j[k].is_number_unsigned()) {
          throw std::invalid_argument(std::string(k) + " must be a number");
        }
        return j[k].get<uint64_t>();
      };
      if (r.direction == esp::Direction::kOutbound) {
        r.seq = number("oseq");
        r.peak_pps = number("peak_pps");
      } else {
        r.seq = number("seq");
        // An SA that received nothing has an empty bitmap: "".
        const auto bits =
            !j.contains("replay_bitmap") || !j["replay_bitmap"].is_string() ? std::nullopt
            : j["replay_bitmap"] == "" ? std::optional<std::vector<uint8_t>>(std::in_place)
                                       : parse_hex(j["replay_bitmap"].get<std::string>());
        if (!bits || bits->size() > esp::kMaxReplayWindow / 8) {
          throw std::invalid_argument("replay_bitmap must be hex of at most " +
                                      std::to_string(esp::kMaxReplayWindow / 8) + " bytes");
        }
        r.seen = *bits;
      }
      out.push_back(std::move(r));
    } catch (const std::exception& e) {
      throw std::invalid_argument(at + ": " + e.what());
    }
  }
  if (doc.contains("neighbours")) {
    if (!doc["neighbours"].is_array()) throw std::invalid_argument("\"neighbours\" is not a list");
    i = 0;
    for (const auto& j : doc["neighbours"]) {
      const std::string at = "neighbours[" + std::to_string(i++) + "]";
      NeighbourRecord n;
      const auto ip = j.is_object() && j.value("ip", json()).is_string()
                          ? IpAddress::parse(j["ip"].get<std::string>())
                          : std::nullopt;
      const auto mac = j.is_object() && j.value("mac", json()).is_string()
                           ? config::parse_mac(j["mac"].get<std::string>())
                           : std::nullopt;
      if (!ip || !mac || !j.value("interface", json()).is_string()) {
        throw std::invalid_argument(at + ": needs interface, ip and mac");
      }
      n.interface = j["interface"].get<std::string>();
      n.ip = *ip;
      n.mac = *mac;
      c.neighbours.push_back(std::move(n));
    }
  }
  return c;
}

}  // namespace

SaStateContents parse_sa_state(const std::string& text) {
  try {
    return parse_document(text);
  } catch (const json::exception& e) {  // a member of another type than it should have
    throw std::invalid_argument(std::string("not a state file: ") + e.what());
  }
}

}  // namespace espgw::dp
