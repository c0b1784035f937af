// espgw-esp-demo: pushes packets through the ESP engine with both crypto backends and prints a
// table. Each row encrypts a batch with one backend, decrypts it with the other, and checks that
// every inner packet came back byte for byte; the rate is the encrypt+decrypt pair on one core.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/esp/esp_engine.h"

using namespace espgw;

namespace {

constexpr uint32_t kHeadroom = 128;
constexpr uint32_t kBuf = 2048;
constexpr uint32_t kBurst = 32;

void make_inner(uint8_t* p, uint32_t size, uint32_t n) {
  std::memset(p, 0, size);
  p[0] = 0x45;
  store_be16(p + 2, static_cast<uint16_t>(size));
  p[8] = 64;
  p[9] = 17;
  store_be32(p + 12, 0xac320000u | (n & 0xffff));  // 172.50.x.x
  store_be32(p + 16, 0xac3c0001u);                 // 172.60.0.1
  store_be16(p + 10, ipv4_header_checksum(p, 20));
  for (uint32_t i = 20; i < size; ++i)
    p[i] = static_cast<uint8_t>(i * 7 + n);
}

struct Row {
  bool ok;
  uint64_t packets;
  double mpps;
};

Row run(const esp::Algorithm& alg, uint32_t size, crypto::BackendKind enc_kind, uint64_t packets) {
  std::mt19937_64 rng(size);
  auto bytes = [&](size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v)
      b = static_cast<uint8_t>(rng());
    return v;
  };
  esp::SaParams p;
  p.spi = 0xc0de0001;
  p.algorithm = alg;
  p.enc_key = bytes(alg.key_bytes);
  p.salt = bytes(alg.salt_bytes());
  p.auth_key = bytes(alg.auth_key_bytes());
  p.local = *IpAddress::parse("198.51.100.1");
  p.remote = *IpAddress::parse("203.0.113.2");
  p.replay_window = 4096;
  esp::SaParams in = p;
  in.direction = esp::Direction::kInbound;
  auto out_sa = esp::Sa::make(p, 1, rng());
  auto in_sa = esp::Sa::make(in, 1, rng());

  const auto dec_kind = enc_kind == crypto::BackendKind::kIpsecMb ? crypto::BackendKind::kOpenSsl
                                                                  : crypto::BackendKind::kIpsecMb;
  auto enc_backend = crypto::make_backend(enc_kind);
  auto dec_backend = crypto::make_backend(dec_kind);
  esp::EspEngine tx(*enc_backend, 0);
  esp::EspEngine rx(*dec_backend, 0);

  std::vector<uint8_t> mem(kBurst * kBuf);
  std::vector<uint8_t> expect(size);
  std::array<esp::PacketView, kBurst> views;
  std::array<esp::Sa*, kBurst> sas;
  sas.fill(out_sa.get());
  std::array<DropReason, kBurst> reasons;
  bool ok = true;
  const auto start = std::chrono::steady_clock::now();
  uint64_t done = 0;
  while (done < packets) {
    for (uint32_t i = 0; i < kBurst; ++i) {
      views[i] = {mem.data() + i * kBuf, kBuf, kHeadroom, size, nullptr};
      make_inner(views[i].data(), size, static_cast<uint32_t>(done + i));
    }
    tx.encrypt(views, sas, reasons);
    for (auto r : reasons)
      ok &= r == DropReason::kNone;
    rx.inbound(
        views, [&](const esp::InboundMeta&) { return in_sa.get(); }, reasons);
    for (uint32_t i = 0; i < kBurst; ++i) {
      make_inner(expect.data(), size, static_cast<uint32_t>(done + i));
      ok &= reasons[i] == DropReason::kNone && views[i].data_len == size &&
            std::memcmp(views[i].data(), expect.data(), size) == 0;
    }
    done += kBurst;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ok &= in_sa->packets() == done && out_sa->packets() == done;
  return {ok, done, done / secs / 1e6};
}

}  // namespace

int main() {
  auto mb = crypto::make_backend(crypto::BackendKind::kIpsecMb);
  auto ossl = crypto::make_backend(crypto::BackendKind::kOpenSsl);
  std::printf("crypto backends: %s | %s\n\n", mb->describe().c_str(), ossl->describe().c_str());
  std::printf("%-15s %6s  %-22s %8s  %-6s %s\n", "algorithm", "size", "backend (enc -> dec)",
              "packets", "result", "Mpps (enc+dec)");
  bool all_ok = true;
  for (const auto& alg : esp::all_algorithms()) {
    for (uint32_t size : {64u, 570u, 1400u}) {
      for (auto kind : {crypto::BackendKind::kIpsecMb, crypto::BackendKind::kOpenSsl}) {
        const Row r = run(alg, size, kind, 20000);
        const std::string dir = std::string(crypto::backend_name(kind)) + " -> " +
                                (kind == crypto::BackendKind::kIpsecMb ? "openssl" : "ipsec-mb");
        std::printf("%-15s %6u  %-22s %8llu  %-6s %.2f\n", alg.name().c_str(), size, dir.c_str(),
                    static_cast<unsigned long long>(r.packets), r.ok ? "ok" : "FAIL", r.mpps);
        all_ok &= r.ok;
      }
    }
  }
  std::printf("\n%s\n", all_ok ? "every packet decrypted to its original bytes"
                               : "SOME PACKETS DID NOT SURVIVE");
  return all_ok ? 0 : 1;
}
