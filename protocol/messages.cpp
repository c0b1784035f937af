#include "protocol/messages.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace espgw::protocol {

using nlohmann::json;

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint64_t base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c))) {
      d = static_cast<uint64_t>(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = v * base + d;
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<uint32_t> spi_from_json(const json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= UINT32_MAX) return static_cast<uint32_t>(v);
    return std::nullopt;
  }
  if (j.is_string()) return parse_u32(j.get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<std::string> direction_word(std::string_view d) {
  if (d == "in" || d == "inbound") return "in";
  if (d == "out" || d == "outbound") return "out";
  return std::nullopt;
}

std::string respond(const std::string& line, const std::function<json(const json&)>& run) {
  json resp;
  try {
    const json req = json::parse(line);
    if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      throw std::invalid_argument("request needs a \"cmd\" string");
    }
    resp = run(req);
    resp["ok"] = true;
  } catch (const json::parse_error& e) {
    // nlohmann's message ends with the last token read, which may be part of a key: say where
    // only.
    resp = {{"ok", false},
            {"error", "bad request: not valid JSON (syntax error at byte " +
                          std::to_string(std::min(e.byte, line.size())) + " of " +
                          std::to_string(line.size()) + ")"}};
  } catch (const json::exception& e) {
    resp = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  } catch (const std::exception& e) {
    resp = {{"ok", false}, {"error", e.what()}};
  }
  // An error may quote a value cut at a byte limit inside a UTF-8 sequence: replace such bytes
  // rather than throw out of the server's loop (which would end the daemon).
  return resp.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace espgw::protocol
