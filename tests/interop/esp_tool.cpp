// espgw-esp-tool: one SA of the ESP engine on the command line, for interop scripts. Reads packets
// as hex lines on stdin, pushes them through EspEngine::encrypt (outbound) or EspEngine::inbound
// (inbound) in bursts, as a worker does, and writes one line per packet: the resulting packet in
// hex, or "drop <reason>" with the drop reason's counter name (dataplane/common/drop_reason.h).
//
// Buffers are laid out as the dataplane's mbufs are: 128 bytes of headroom (RTE_PKTMBUF_HEADROOM)
// in a buffer of --buf-size bytes (RTE_MBUF_DEFAULT_BUF_SIZE), so a packet too big for an mbuf is
// dropped here as it would be there.

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/hex.h"
#include "common/ip_address.h"
#include "dataplane/esp/esp_engine.h"

using namespace espgw;

namespace {

constexpr uint32_t kHeadroom = 128;  // RTE_PKTMBUF_HEADROOM

constexpr std::string_view kUsage = R"(usage: espgw-esp-tool encrypt|decrypt [options] < packets
  Reads one packet per line in hex (blank lines and lines starting with # are skipped) and writes
  one line per packet: the result in hex, or "drop <reason>".
  encrypt: inner IPv4/IPv6 packets in, outer ESP packets out (EspEngine::encrypt).
  decrypt: outer ESP packets in, inner packets out (EspEngine::inbound).

  --spi N               SPI, decimal or 0x-hex, 256 or more (required)
  --alg NAME            aes128gcm16, aes256gcm16, aes128-sha1, ..., aes256-sha512 (required)
  --enc-key HEX         AES key alone (required)
  --salt HEX            GCM salt, the 4 bytes that follow the key in IKE's keying material
  --auth-key HEX        HMAC key (AES-CBC algorithms)
  --local ADDR          this gateway's outer address (required)
  --remote ADDR         the peer's outer address (required)
  --natt                RFC 3948 ESP-in-UDP
  --local-port N        NAT-T port of this gateway (default 4500)
  --remote-port N       NAT-T port of the peer (default 4500)
  --esn                 64-bit extended sequence numbers
  --first-seq N         encrypt: the first sequence number sent; decrypt: the anti-replay window
                        starts just below it (default 1)
  --replay-window N     inbound anti-replay window, 0 disables (default 64)
  --backend NAME        ipsec-mb or openssl (default ipsec-mb)
  --burst N             packets per engine call, 1 to 64 (default 32)
  --buf-size N          bytes per packet buffer, headroom included (default 2176)
  --stats               print the SA's counters and the drop counters on stderr at the end
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string quoted(std::string_view v) {
  return "\"" + std::string(v) + "\"";
}

// Decimal, or hexadecimal with a 0x prefix.
template <class T>
T parse_number(std::string_view name, std::string_view v, T min, T max) {
  std::string_view digits = v;
  int base = 10;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, base);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
    throw UsageError(std::string(name) + ": " + quoted(v) + " is not a number");
  }
  if (n < min || n > max) {
    throw UsageError(std::string(name) + ": " + std::to_string(n) + " is out of range " +
                     std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<T>(n);
}

// Key material: the value is never echoed, only its length.
std::vector<uint8_t> parse_key(std::string_view name, std::string_view v) {
  auto bytes = parse_hex(v);
  if (!bytes) {
    throw UsageError(std::string(name) + ": not a hex string (" + std::to_string(v.size()) +
                     " characters; value not shown)");
  }
  return *bytes;
}

IpAddress parse_address(std::string_view name, std::string_view v) {
  auto a = IpAddress::parse(v);
  if (!a)
    throw UsageError(std::string(name) + ": " + quoted(v) + " is not an IPv4 or IPv6 address");
  return *a;
}

struct Options {
  esp::Direction direction = esp::Direction::kOutbound;
  esp::SaParams sa;
  crypto::BackendKind backend = crypto::BackendKind::kIpsecMb;
  uint32_t burst = 32;
  uint32_t buf_size = 2176;
  bool stats = false;
};

Options parse_args(int argc, char** argv) {
  if (argc < 2) throw UsageError("missing the command: encrypt or decrypt");
  Options o;
  const std::string_view cmd = argv[1];
  if (cmd == "encrypt") {
    o.direction = esp::Direction::kOutbound;
  } else if (cmd == "decrypt") {
    o.direction = esp::Direction::kInbound;
  } else {
    throw UsageError("unknown command " + quoted(cmd) + ": expected encrypt or decrypt");
  }

  static const std::map<std::string_view, bool> kTakesValue = {
      {"--spi", true},           {"--alg", true},      {"--enc-key", true},
      {"--salt", true},          {"--auth-key", true}, {"--local", true},
      {"--remote", true},        {"--natt", false},    {"--local-port", true},
      {"--remote-port", true},   {"--esn", false},     {"--first-seq", true},
      {"--replay-window", true}, {"--backend", true},  {"--burst", true},
      {"--buf-size", true},      {"--stats", false},
  };
  std::map<std::string_view, std::string_view> given;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const auto it = kTakesValue.find(arg);
    if (it == kTakesValue.end()) throw UsageError("unknown option " + quoted(arg));
    if (given.contains(arg)) throw UsageError(std::string(arg) + ": given twice");
    if (it->second && !has_value) {
      if (i + 1 >= argc) throw UsageError(std::string(arg) + ": missing value");
      value = argv[++i];
    } else if (!it->second && has_value) {
      throw UsageError(std::string(arg) + ": takes no value");
    }
    given[it->first] = value;
  }
  for (std::string_view required : {"--spi", "--alg", "--enc-key", "--local", "--remote"}) {
    if (!given.contains(required)) throw UsageError(std::string(required) + ": required");
  }

  esp::SaParams& p = o.sa;
  p.direction = o.direction;
  p.spi = parse_number<uint32_t>("--spi", given["--spi"], 256, UINT32_MAX);
  const auto alg = esp::parse_algorithm(given["--alg"]);
  if (!alg) {
    throw UsageError("--alg: unknown algorithm " + quoted(given["--alg"]) +
                     " (aes128gcm16, aes256gcm16, aes128-sha1, aes256-sha256, aes128-sha384, "
                     "aes256-sha512, ...)");
  }
  p.algorithm = *alg;
  const std::string name = alg->name();

  p.enc_key = parse_key("--enc-key", given["--enc-key"]);
  if (p.enc_key.size() != alg->key_bytes) {
    throw UsageError("--enc-key: " + name + " takes a " + std::to_string(alg->key_bytes) +
                     "-byte key, got " + std::to_string(p.enc_key.size()) + " bytes");
  }
  if (alg->aead()) {
    if (!given.contains("--salt")) throw UsageError("--salt: required for " + name);
    p.salt = parse_key("--salt", given["--salt"]);
    if (p.salt.size() != alg->salt_bytes()) {
      throw UsageError("--salt: " + name + " takes a " + std::to_string(alg->salt_bytes()) +
                       "-byte salt, got " + std::to_string(p.salt.size()) + " bytes");
    }
    if (given.contains("--auth-key")) {
      throw UsageError("--auth-key: " + name + " is an AEAD and takes no integrity key");
    }
  } else {
    if (given.contains("--salt")) throw UsageError("--salt: " + name + " takes no salt");
    if (!given.contains("--auth-key")) throw UsageError("--auth-key: required for " + name);
    p.auth_key = parse_key("--auth-key", given["--auth-key"]);
  }

  p.local = parse_address("--local", given["--local"]);
  p.remote = parse_address("--remote", given["--remote"]);
  if (p.local.family != p.remote.family) {
    throw UsageError("--local " + p.local.to_string() + " and --remote " + p.remote.to_string() +
                     " are of different address families");
  }
  p.udp_encap = given.contains("--natt");
  for (auto [opt, port] :
       {std::pair{"--local-port", &p.local_port}, std::pair{"--remote-port", &p.remote_port}}) {
    if (!given.contains(opt)) continue;
    if (!p.udp_encap) throw UsageError(std::string(opt) + ": only with --natt");
    *port = parse_number<uint16_t>(opt, given[opt], 1, 65535);
  }
  p.esn = given.contains("--esn");
  if (given.contains("--first-seq")) {
    p.first_seq = parse_number<uint64_t>(p.esn ? "--first-seq" : "--first-seq (without --esn)",
                                         given["--first-seq"], 1, p.esn ? UINT64_MAX : UINT32_MAX);
  }
  if (given.contains("--replay-window")) {
    if (o.direction != esp::Direction::kInbound) {
      throw UsageError("--replay-window: only with decrypt");
    }
    p.replay_window = parse_number<uint32_t>("--replay-window", given["--replay-window"], 0,
                                             esp::ReplayWindow::kMaxSize);
    if (p.esn && p.replay_window == 0) {
      throw UsageError("--replay-window: 0 (disabled) cannot be used with --esn");
    }
  }
  if (given.contains("--backend")) {
    const auto b = crypto::parse_backend(given["--backend"]);
    if (!b) {
      throw UsageError("--backend: unknown backend " + quoted(given["--backend"]) +
                       " (ipsec-mb or openssl)");
    }
    o.backend = *b;
  }
  if (given.contains("--burst")) {
    o.burst = parse_number<uint32_t>("--burst", given["--burst"], 1, esp::kMaxBurst);
  }
  if (given.contains("--buf-size")) {
    o.buf_size =
        parse_number<uint32_t>("--buf-size", given["--buf-size"], kHeadroom + 64, 65535 + 512);
  }
  o.stats = given.contains("--stats");
  return o;
}

// Every packet line of stdin, decoded; blank lines and # comments are skipped.
std::vector<std::vector<uint8_t>> read_packets(uint32_t buf_size) {
  std::vector<std::vector<uint8_t>> packets;
  std::string line;
  for (uint64_t lineno = 1; std::getline(std::cin, line); ++lineno) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    auto bytes = parse_hex(std::string_view(line).substr(first, last - first + 1));
    if (!bytes) {
      throw UsageError("stdin line " + std::to_string(lineno) + ": not a hex string");
    }
    if (bytes->size() > buf_size - kHeadroom) {
      throw UsageError("stdin line " + std::to_string(lineno) + ": a packet of " +
                       std::to_string(bytes->size()) + " bytes does not fit a " +
                       std::to_string(buf_size) + "-byte buffer after " +
                       std::to_string(kHeadroom) + " bytes of headroom (--buf-size)");
    }
    packets.push_back(std::move(*bytes));
  }
  return packets;
}

void print_stats(const esp::EspEngine& engine, const esp::Sa& sa) {
  std::fprintf(stderr, "sa 0x%08x: packets %llu bytes %llu next_seq %llu replay_top %llu\n",
               sa.spi(), static_cast<unsigned long long>(sa.packets()),
               static_cast<unsigned long long>(sa.bytes()),
               static_cast<unsigned long long>(sa.next_seq()),
               static_cast<unsigned long long>(sa.replay().top()));
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    if (const uint64_t n = engine.drops()[static_cast<DropReason>(r)]) {
      std::fprintf(stderr, "drop %s: %llu\n", kDropReasonNames[r].data(),
                   static_cast<unsigned long long>(n));
    }
  }
}

int run(const Options& o) {
  std::random_device rd;
  const uint64_t iv_seed = (uint64_t{rd()} << 32) | rd();
  auto sa = esp::Sa::make(o.sa, 1, iv_seed);
  auto backend = crypto::make_backend(o.backend);
  esp::EspEngine engine(*backend, 0);
  engine.set_now(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::steady_clock::now().time_since_epoch())
                                           .count()));

  const auto packets = read_packets(o.buf_size);
  std::vector<uint8_t> mem(size_t{o.buf_size} * o.burst);
  std::vector<esp::PacketView> views(o.burst);
  std::vector<esp::Sa*> sas(o.burst, sa.get());
  std::vector<DropReason> reasons(o.burst);
  std::string out;
  for (size_t base = 0; base < packets.size(); base += o.burst) {
    const size_t n = std::min<size_t>(o.burst, packets.size() - base);
    for (size_t i = 0; i < n; ++i) {
      const auto& pkt = packets[base + i];
      uint8_t* buf = mem.data() + i * o.buf_size;
      std::memset(buf, 0, o.buf_size);
      std::memcpy(buf + kHeadroom, pkt.data(), pkt.size());
      views[i] = {buf, o.buf_size, kHeadroom, static_cast<uint32_t>(pkt.size()), nullptr};
    }
    std::span<esp::PacketView> burst(views.data(), n);
    std::span<DropReason> burst_reasons(reasons.data(), n);
    if (o.direction == esp::Direction::kOutbound) {
      engine.encrypt(burst, std::span<esp::Sa* const>(sas.data(), n), burst_reasons);
    } else {
      // The dataplane's SA table holds one SA here: found by SPI, or none.
      engine.inbound(
          burst, [&](const esp::InboundMeta& m) { return m.spi == sa->spi() ? sa.get() : nullptr; },
          burst_reasons);
    }
    for (size_t i = 0; i < n; ++i) {
      if (reasons[i] == DropReason::kNone) {
        out += to_hex({views[i].data(), views[i].data_len});
      } else {
        out += "drop ";
        out += drop_reason_name(reasons[i]);
      }
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
  }
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "espgw-esp-tool: writing stdout failed\n");
    return 1;
  }
  if (o.stats) print_stats(engine, *sa);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  Options o;
  try {
    o = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "espgw-esp-tool: %s\n(espgw-esp-tool --help lists the options)\n",
                 e.what());
    return 2;
  }
  try {
    return run(o);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "espgw-esp-tool: %s\n", e.what());
    return 2;
  } catch (const std::invalid_argument& e) {
    // Sa::make names the field (and never prints key bytes).
    std::fprintf(stderr, "espgw-esp-tool: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "espgw-esp-tool: %s\n", e.what());
    return 1;
  }
}
