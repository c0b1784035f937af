#include "dataplane/control/sa_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "common/hex.h"
#include "common/write_all.h"

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

uint64_t SaStateFile::jump(uint64_t peak_pps, uint32_t interval_ms) noexcept {
  // 4 intervals at the peak rate; a rate so high that this overflows jumps the most there is.
  const uint64_t ms = uint64_t{4} * (interval_ms == 0 ? 1000 : interval_ms);
  if (peak_pps > UINT64_MAX / ms) return UINT64_MAX / 2;
  return std::max(kMinJump, peak_pps * ms / 1000);
}

std::string SaStateFile::load(uint64_t now_ms) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return errno == ENOENT ? "" : path_ + ": cannot open: " + std::strerror(errno);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<SaStateRecord> got;
  try {
    Contents c = parse(ss.str());
    loaded_interval_ms_ = c.interval_ms;
    got = std::move(c.sas);
    neighbours_ = std::move(c.neighbours);
  } catch (const std::exception& e) {
    const std::string aside = path_ + ".bad";
    const bool moved = std::rename(path_.c_str(), aside.c_str()) == 0;
    return path_ + ": " + e.what() + "; nothing of it used" +
           (moved ? " (moved to " + aside + ")" : "");
  }
  for (auto& r : got) {
    r.sampled_ms = 0;
    r.gone_ms = now_ms;  // kept kKeepMs unless an SA takes it up
    records_[key_of(r)] = std::move(r);
  }
  loaded_ = got.size();
  return "";
}

void SaStateFile::sample(const Model& live, uint64_t now_ms) {
  std::map<Key, bool> seen_now;
  auto take = [&](const SaRecord& rec) {
    const esp::Sa& sa = *rec.sa;
    SaStateRecord fresh;
    fresh.direction = sa.params().direction;
    fresh.spi = sa.spi();
    fresh.fingerprint = sa.key_fingerprint();
    if (fresh.fingerprint == 0) return;
    const Key k = key_of(fresh);
    seen_now[k] = true;
    SaStateRecord& r = records_.try_emplace(k, std::move(fresh)).first->second;
    r.tunnel = rec.tunnel;
    if (r.direction == esp::Direction::kOutbound) {
      const uint64_t seq = sa.next_seq() - 1;
      if (r.sampled_ms != 0 && now_ms > r.sampled_ms && seq > r.seq) {
        r.peak_pps = std::max(r.peak_pps, (seq - r.seq) * 1000 / (now_ms - r.sampled_ms));
      }
      r.seq = seq;
    } else {
      r.seen = sa.replay().snapshot(&r.seq);
    }
    r.sampled_ms = now_ms;
    r.gone_ms = 0;
  };
  for (const auto& [spi, rec] : live.inbound())
    take(rec);
  for (const auto& [spi, rec] : live.outbound())
    take(rec);
  for (auto it = records_.begin(); it != records_.end();) {
    SaStateRecord& r = it->second;
    if (!seen_now.contains(it->first)) {
      if (r.gone_ms == 0) r.gone_ms = now_ms;
      if (now_ms - r.gone_ms > kKeepMs) {
        it = records_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

std::string SaStateFile::text() const {
  json sas = json::array();
  for (const auto& [k, r] : records_) {
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
  for (const auto& n : neighbours_) {
    neighbours.push_back({{"interface", n.interface},
                          {"ip", n.ip.to_string()},
                          {"mac", config::mac_to_string(n.mac)}});
  }
  return json{{"espgw_sa_state", kFormat},
              {"interval_ms", effective_ms_},
              {"sas", sas},
              {"neighbours", neighbours}}
             .dump(1) +
         "\n";
}

SaStateFile::Contents SaStateFile::parse(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw std::invalid_argument("not a JSON object");
  if (doc.value("espgw_sa_state", 0) != kFormat) {
    throw std::invalid_argument("not an espgw SA state file of format " + std::to_string(kFormat));
  }
  if (!doc.contains("sas") || !doc["sas"].is_array())
    throw std::invalid_argument("no \"sas\" list");
  Contents c;
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

bool SaStateFile::write(std::string* error) {
  int err = write_once(error);
  // A full disk: the records of SAs that went matter least; without them the file may fit.
  if ((err == ENOSPC || err == EDQUOT) &&
      std::erase_if(records_, [](const auto& kv) { return kv.second.gone_ms != 0; }) != 0) {
    err = write_once(error);
  }
  if (err != 0) {
    ++write_errors_;
    return false;
  }
  ++writes_;
  return true;
}

int SaStateFile::write_once(std::string* error) const {
  const std::string body = text();
  const std::string tmp = path_ + ".tmp";
  auto fail = [&](const char* what, int err) {
    if (error) *error = path_ + ": " + what + ": " + std::strerror(err);
    ::unlink(tmp.c_str());
    return err;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create the new file", errno);
  if (const int err = write_all(fd, body); err != 0) {
    ::close(fd);
    return fail("cannot write", err);
  }
  if (::close(fd) != 0) return fail("cannot write", errno);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return fail("cannot rename into place", errno);
  return 0;
}

std::optional<esp::SaStart> SaStateFile::resume(const esp::SaParams& p, uint64_t fingerprint) {
  if (fingerprint == 0) return std::nullopt;
  auto it = records_.find({static_cast<uint8_t>(p.direction), p.spi, fingerprint});
  if (it == records_.end()) return std::nullopt;
  SaStateRecord& r = it->second;
  const uint64_t limit = p.esn ? UINT64_MAX : UINT32_MAX;
  esp::SaStart start;
  if (p.direction == esp::Direction::kOutbound) {
    const uint64_t j = jump(r.peak_pps, std::max(effective_ms_, loaded_interval_ms_));
    // Past the end of the sequence space: the SA starts at its last number and stops after it
    // (its hard limit), so that charon rekeys it.
    start.first_seq = r.seq >= limit - 1 || j >= limit - 1 - r.seq ? limit : r.seq + 1 + j;
  } else {
    if (r.seq >= limit) return std::nullopt;
    start.first_seq = r.seq + 1;
    start.replay_seen = r.seen;
  }
  r.sampled_ms = 0;  // the jump is no rate
  ++resumed_;
  return start;
}

}  // namespace espgw::dp
