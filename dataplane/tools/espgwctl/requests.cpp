#include "dataplane/tools/espgwctl/requests.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "common/redact.h"
#include "dataplane/tools/espgwctl/secrets.h"
#include "protocol/messages.h"

namespace espgw::ctl {
namespace {

using nlohmann::json;

std::string read_input(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  if (f.bad()) throw UsageError(path + ": cannot read: " + std::strerror(errno));
  return text;
}

// A JSON file; its keys join the secrets. A syntax error names the line and column only: the
// text around it may be a key.
json read_json(const std::string& path) {
  const std::string text = read_input(path);
  const std::string name = path == "-" ? "standard input" : path;
  try {
    json j = json::parse(text);
    g_secrets.add_from(j);
    return j;
  } catch (const json::parse_error& e) {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < std::min(e.byte ? e.byte - 1 : 0, text.size()); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw UsageError(name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                     ": not valid JSON");
  }
}

std::string parse_direction(const std::string& d) {
  const auto word = protocol::direction_word(d);
  if (!word) throw UsageError("direction must be in or out, got " + quote(d));
  return *word;
}

uint32_t spi_arg(const std::string& s) {
  const auto spi = protocol::parse_u32(s);
  if (!spi) throw UsageError("SPI must be a 32-bit number, decimal or 0x hex, got " + quote(s));
  return *spi;
}

// The verb of `NOUN add|replace|del ...` (route, tunnel); a UsageError for any other.
const std::string& change_verb(const std::vector<std::string>& w) {
  const std::string& noun = w[0];
  if (w.size() < 2) throw UsageError("usage: espgwctl " + noun + " add|replace|del ...");
  if (w[1] != "add" && w[1] != "replace" && w[1] != "del") {
    throw UsageError(noun + ": unknown " + quote(w[1]) + " (add, replace, del)");
  }
  return w[1];
}

}  // namespace

Request build_request(const Invocation& inv) {
  const auto& w = inv.words;
  const std::string& cmd = w[0];
  using View = Request::View;
  const bool sa_set = is_sa_set(w);
  if (inv.sa_file && !sa_set) throw UsageError("--sa-json is for sa add and sa replace");
  if (cmd == "status") {
    expect_args(w, 1, 1, "status");
    return {{{"cmd", "status"}}, View::kStatus};
  }
  if (cmd == "lanes" || (cmd == "show" && w.size() >= 2 && w[1] == "lanes")) {
    const size_t at = cmd == "lanes" ? 1 : 2;  // `show lanes` says the same
    expect_args(w, at, at + 1, cmd == "lanes" ? "lanes [TUNNEL]" : "show lanes [TUNNEL]");
    Request r{{{"cmd", "tunnels"}}, View::kLanes};
    if (w.size() > at) r.tunnel = w[at];
    return r;
  }
  if (cmd == "show") {
    if (w.size() < 2) throw UsageError("usage: espgwctl show WHAT (see espgwctl --help)");
    const std::string& what = w[1];
    if (what == "sas") {
      expect_args(w, 2, 3, "show sas [SPI]");
      Request r{{{"cmd", "sas"}}, View::kSas};
      if (w.size() == 3) {
        r.spi = spi_arg(w[2]);
        r.body["spi"] = *r.spi;
      }
      return r;
    }
    static const std::pair<const char*, std::pair<const char*, View>> kShows[] = {
        {"counters", {"counters", View::kCounters}},
        {"ports", {"counters", View::kPorts}},
        {"workers", {"counters", View::kWorkers}},
        {"drops", {"counters", View::kDrops}},
        {"tunnels", {"tunnels", View::kTunnels}},
        {"routes", {"routes", View::kRoutes}},
        {"neighbours", {"neighbours", View::kNeighbours}},
        {"neighbors", {"neighbours", View::kNeighbours}},
        {"peers", {"peers", View::kPeers}},
    };
    for (const auto& [name, target] : kShows) {
      if (what == name) {
        expect_args(w, 2, 2, "show " + what);
        return {{{"cmd", target.first}}, target.second};
      }
    }
    throw UsageError("show: unknown " + quote(what) +
                     " (counters, ports, workers, drops, sas, tunnels, lanes, routes, "
                     "neighbours, peers)");
  }
  if (cmd == "sa") {
    if (w.size() < 2) throw UsageError("usage: espgwctl sa add|replace|del ...");
    if (w[1] == "del") {
      expect_args(w, 4, 4, "sa del in|out SPI");
      return {{{"cmd", "sa-del"}, {"direction", parse_direction(w[2])}, {"spi", spi_arg(w[3])}},
              View::kChange};
    }
    if (!sa_set) throw UsageError("sa: unknown " + quote(w[1]) + " (add, replace, del)");
    json body = {{"cmd", "sa-" + w[1]}};
    if (inv.sa_file) {
      expect_args(w, 4, 4, "sa " + w[1] + " TUNNEL in|out --sa-json FILE|-");
      body["sa"] = read_json(*inv.sa_file);
      if (!body["sa"].is_object()) {
        throw UsageError(*inv.sa_file + ": expected a JSON object {spi, algorithm, key, ...}");
      }
    } else {
      // Never name the words from KEY on: they are key material.
      if (w.size() < 7 || w.size() > 9) {
        throw UsageError("usage: espgwctl sa " + w[1] +
                         " TUNNEL in|out SPI ALGORITHM KEY [SALT] [AUTHKEY]");
      }
      const std::string& alg = w[5];
      json sa = {{"spi", spi_arg(w[4])}, {"algorithm", alg}, {"key", w[6]}};
      const bool aead = alg.find("gcm") != std::string::npos;
      if (w.size() == 9) {
        sa["salt"] = w[7];
        sa["auth_key"] = w[8];
      } else if (w.size() == 8) {
        sa[aead ? "salt" : "auth_key"] = w[7];
      }
      body["sa"] = sa;
    }
    body["tunnel"] = w[2];
    body["direction"] = parse_direction(w[3]);
    return {body, View::kChange};
  }
  if (cmd == "route") {
    if (change_verb(w) == "del") {
      expect_args(w, 3, 3, "route del PREFIX");
      return {{{"cmd", "route-del"}, {"prefix", w[2]}}, View::kChange};
    }
    const std::string form = "route " + w[1] + " PREFIX [via GATEWAY] dev INTERFACE";
    if (w.size() < 5 || w.size() % 2 == 0) throw UsageError("usage: espgwctl " + form);
    json route = {{"prefix", w[2]}};
    for (size_t i = 3; i + 1 < w.size(); i += 2) {
      const char* field = w[i] == "via" ? "via" : w[i] == "dev" ? "interface" : nullptr;
      if (field == nullptr || route.contains(field)) throw UsageError("usage: espgwctl " + form);
      route[field] = w[i + 1];
    }
    if (!route.contains("interface")) throw UsageError("usage: espgwctl " + form);
    return {{{"cmd", "route-" + w[1]}, {"route", route}}, View::kChange};
  }
  if (cmd == "tunnel") {
    if (change_verb(w) == "del") {
      expect_args(w, 3, 3, "tunnel del NAME");
      return {{{"cmd", "tunnel-del"}, {"name", w[2]}}, View::kChange};
    }
    if (w.size() != 2 || !inv.tunnel_file) {
      throw UsageError("usage: espgwctl tunnel " + w[1] + " --json FILE|-");
    }
    json t = read_json(*inv.tunnel_file);
    if (!t.is_object()) {
      throw UsageError(*inv.tunnel_file + ": expected a JSON object, a tunnel as in the config");
    }
    return {{{"cmd", "tunnel-" + w[1]}, {"tunnel", t}}, View::kChange};
  }
  if (cmd == "apply") {
    expect_args(w, 2, 2, "apply FILE|-");
    json ops = read_json(w[1]);
    if (ops.is_object() && ops.contains("ops")) ops = ops["ops"];
    if (!ops.is_array()) {
      throw UsageError(w[1] + ": expected a JSON list of ops (or {\"ops\": [...]})");
    }
    Request r{{{"cmd", "apply"}, {"ops", ops}}, View::kApply};
    r.ops = ops.size();
    return r;
  }
  if (cmd == "stop") {
    expect_args(w, 1, 1, "stop");
    return {{{"cmd", "stop"}}, View::kStop};
  }
  throw UsageError("unknown command " + quote(cmd) + " (see espgwctl --help)");
}

}  // namespace espgw::ctl
