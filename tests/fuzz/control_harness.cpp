#include "tests/fuzz/control_harness.h"

#include <rte_ethdev.h>
#include <sched.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/control/app.h"
#include "tests/fuzz/dpdk_fuzz_env.h"
#include "tests/support/app_test_access.h"

namespace espgw::fuzz {
namespace {

using nlohmann::json;

// LAB ONLY: these keys are published in this repository.
constexpr char kConfig[] = R"(
dataplane:
  workers: 1
  crypto: ipsec-mb
  sa_state_interval_ms: 0
interfaces:
  - name: wan
    device: net_ring0
    mac: 02:00:00:00:0a:01
    addresses: [198.51.100.1/24, 2001:db8::1/64]
    exception: none
  - name: lan
    device: net_ring1
    mac: 02:00:00:00:0a:02
    addresses: [10.1.0.1/24, fd00:1::1/64]
    exception: none
    neighbours: [{address: 10.1.0.9, mac: 02:00:00:00:0c:09}]
routes:
  - {prefix: 0.0.0.0/0, interface: wan, via: 198.51.100.254}
  - {prefix: 10.9.0.0/16, interface: lan, via: 10.1.0.9}
tunnels:
  - name: east
    local: 198.51.100.1
    remote: 203.0.113.2
    local_cidrs: [10.1.0.0/24]
    remote_cidrs: [10.2.0.0/16]
    static_sa:
      outbound: {spi: 0x1001, algorithm: aes128gcm16, key: 0x9a8b7c6d5e4f30211203f4e5d6c7b8a9c1d2e3f4}
      inbound: {spi: 0x2001, algorithm: aes128-sha256, key: 0x3c4d5e6f708192a3b4c5d6e7f8091a2b, auth_key: 0x5f6e7d8c9bab0c1d2e3f405162738495a6b7c8d9eaf0b1c2d3e4f5061728394a}
)";

constexpr const char* kConfigKeys[] = {
    "9a8b7c6d5e4f30211203f4e5d6c7b8a9", "3c4d5e6f708192a3b4c5d6e7f8091a2b",
    "5f6e7d8c9bab0c1d2e3f405162738495", "a6b7c8d9eaf0b1c2d3e4f5061728394a"};

[[noreturn]] void fail(const std::string& what, const std::string& request,
                       const std::string& response) {
  std::fprintf(stderr, "control harness: %s\n  request:  %.400s\n  response: %.400s\n",
               what.c_str(), request.c_str(), response.c_str());
  std::abort();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A key-like value: hex of 16 digits or more (0x allowed), of at least 4 different digits (so
// that runs of zeros, which the response's own numbers hold, are not taken for a key).
std::optional<std::string> hex_key(const std::string& v) {
  std::string h = lower(v);
  if (h.starts_with("0x")) h.erase(0, 2);
  if (h.size() < 16 || !std::all_of(h.begin(), h.end(), [](char c) { return std::isxdigit(c); })) {
    return std::nullopt;
  }
  if (std::set<char>(h.begin(), h.end()).size() < 4) return std::nullopt;
  return h;
}

// The hex keys a request gives under "key", "salt" or "auth_key", anywhere in it.
void given_keys(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "key" || k == "salt" || k == "auth_key") && v.is_string()) {
        if (auto h = hex_key(v.get<std::string>())) out.push_back(*h);
      }
      given_keys(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      given_keys(v, out);
  }
}

}  // namespace

struct ControlHarness::State {
  std::unique_ptr<dp::App> app;
  std::optional<dp::Model> initial;
  std::string dir;
  uint64_t runs = 0;
  bool verbose = std::getenv("CONTROL_HARNESS_VERBOSE") != nullptr;  // each request, answered
};

ControlHarness::ControlHarness() : s_(std::make_unique<State>()) {
  // Route-based tunnels that a request adds make TUN devices: in a network namespace of the
  // harness's own where it may make one (as root), else they fail and are refused.
  if (unshare(CLONE_NEWNET) != 0) std::perror("control harness: unshare(CLONE_NEWNET)");
  start_eal("control_fuzz", 2);
  char tmpl[] = "/tmp/control_fuzz.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("control harness: mkdtemp");
    std::exit(1);
  }
  s_->dir = tmpl;
  try {
    config::Config cfg = config::parse(kConfig, "control_harness");
    cfg.dataplane.control_socket = s_->dir + "/espgw.sock";
    s_->app = std::make_unique<dp::App>(cfg, dp::Options{});
    // The ports' mbufs: the App's own pools are made by start_idle(), after the ports; a ring
    // port's RX queue needs one only to be set up.
    rte_mempool* pool = rte_pktmbuf_pool_create("control_fuzz", 255, 0, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    std::vector<dp::Port> ports;
    for (uint16_t i = 0; i < 2; ++i) {
      const config::Interface& ifc = cfg.interfaces[i];
      dp::Port p;
      p.name = ifc.name;
      p.index = i;
      p.port_id = start_ring_port(i, pool);
      std::copy(ifc.mac->begin(), ifc.mac->end(), p.mac.addr_bytes);
      p.mtu = ifc.mtu;
      p.addresses = ifc.addresses;
      ports.push_back(std::move(p));
    }
    dp::AppTestAccess::start_idle(*s_->app, std::move(ports), cfg.dataplane.control_socket);
    s_->initial.emplace(dp::AppTestAccess::model(*s_->app));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "control harness: %s\n", e.what());
    std::exit(1);
  }
}

ControlHarness::~ControlHarness() = default;

void ControlHarness::run(const uint8_t* data, size_t size) {
  State& s = *s_;
  const std::string request(reinterpret_cast<const char*>(data), size);
  bool subscribe = false;
  const uint64_t generation = dp::AppTestAccess::generation(*s.app);
  const std::string response = s.app->handle(request, &subscribe);
  if (s.verbose) std::fprintf(stderr, "%.200s\n  -> %.300s\n", request.c_str(), response.c_str());
  if (response.find('\n') != std::string::npos) fail("a response of two lines", request, response);
  json r;
  try {
    r = json::parse(response);
  } catch (const json::exception&) {
    fail("a response that is not JSON", request, response);
  }
  if (!r.is_object() || !r.contains("ok") || !r["ok"].is_boolean()) {
    fail("a response without a boolean \"ok\"", request, response);
  }
  if (!r["ok"].get<bool>() &&
      (!r.contains("error") || !r["error"].is_string() || r["error"].get<std::string>().empty())) {
    fail("a refusal without an error", request, response);
  }
  // The config's keys never come out of the App; a request that holds one may have it quoted
  // back as the name it gave (common/redact.h decides), which the next check covers for keys.
  const std::string low = lower(response);
  const std::string low_request = lower(request);
  for (const char* k : kConfigKeys) {
    if (low.find(k) != std::string::npos && low_request.find(k) == std::string::npos) {
      fail("a config key in a response", request, response);
    }
  }
  std::vector<std::string> keys;
  try {
    given_keys(json::parse(request), keys);
  } catch (const json::exception&) {
  }
  // Inside a longer word, a key is key material from 32 hex digits (AES-128's) with a letter
  // and a decimal digit (common/redact.h); otherwise only as a whole value.
  for (const auto& k : keys) {
    const bool whole = low.find('"' + k + '"') != std::string::npos ||
                       low.find("\"0x" + k + '"') != std::string::npos;
    const bool embedded_is_key = k.size() >= 32 &&
                                 std::any_of(k.begin(), k.end(), [](char c) { return c >= 'a'; }) &&
                                 std::any_of(k.begin(), k.end(), [](char c) { return c <= '9'; });
    if (embedded_is_key ? low.find(k) != std::string::npos : whole)
      fail("a key of the request in its response", request, response);
  }
  // A refusal changes nothing (a transaction is applied whole or not at all). What a change
  // changed goes back to the tables it started with. Every 64th request, the App still answers.
  if (dp::AppTestAccess::generation(*s.app) != generation) {
    if (!r["ok"].get<bool>()) fail("a refused request changed the tables", request, response);
    dp::AppTestAccess::restore(*s.app, *s.initial);
  }
  dp::AppTestAccess::drain(*s.app);
  if (++s.runs % 64 == 0) {
    const std::string status = s.app->handle(R"({"cmd":"status"})");
    if (status.find("\"ok\":true") == std::string::npos) fail("status refused", request, status);
  }
}

}  // namespace espgw::fuzz
