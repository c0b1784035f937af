// Micro-benchmarks of the ESP engine (dataplane/esp) and, in the same binary, of the raw
// intel-ipsec-mb cipher on the same packets, so that the engine's overhead is a ratio.
//
// Every benchmark works on one ring of kRingPackets packet buffers laid out as DPDK mbufs,
// processed in bursts of 32. One benchmark iteration is one pass over the ring; only the pass
// itself is timed (manual time, steady_clock), the restoring between passes is not:
//   esp/encrypt/<backend>/<alg>/<size>  EspEngine::encrypt(); untimed: the original inner packets
//   are
//                                       copied back into the buffers.
//   esp/decrypt/<backend>/<alg>/<size>  EspEngine::inbound(): parse, SA lookup (SPI hash table),
//                                       anti-replay check, decrypt + ICV verify, window update,
//                                       trailer and inner checks. Untimed: the decrypted inner
//                                       packets are encrypted again by an intel-ipsec-mb engine
//                                       with the next sequence numbers, so every pass decrypts
//                                       genuinely valid, never-seen packets through the real replay
//                                       window.
//   raw/encrypt/<alg>/<size>            intel-ipsec-mb alone on the same ESP payloads: GCM by
//   raw/decrypt/<alg>/<size>            IMB_AES128/256_GCM_ENC/DEC per packet (AAD = the 8-byte ESP
//                                       header); CBC+HMAC by the job API, a burst submitted, then
//                                       flushed. Untimed work as for the engine's benchmark.
// Sizes are inner IP packet sizes: 64, 1400, and IMIX (7:4:1 of 64/570/1518 in a fixed order).
// Counters: ns_per_pkt, Mpps, Gbps (inner IP bytes) per core, from the median pass of the run (the
// Time column is the mean pass). Any drop, wrong length or wrong byte fails the benchmark
// (SkipWithError), and the binary then exits non-zero.

#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/crypto/ipsec_mb_job.h"
#include "dataplane/esp/esp_engine.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using crypto::BackendKind;
using esp::Algorithm;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kBurst = 32;
constexpr uint32_t kRingBursts = 6;
// 192 packets: a multiple of the IMIX pattern, and small enough (432 KiB of buffers) to stay in
// the L2 cache, for the engine and the raw cipher alike.
constexpr uint32_t kRingPackets = kBurst * kRingBursts;
// DPDK's default mbuf: 128 bytes of rte_mbuf, 128 of headroom, 2048 of data room.
constexpr uint32_t kStride = 2304;
constexpr uint32_t kMbufStruct = 128;
constexpr uint32_t kHeadroom = 128;
constexpr uint32_t kBufLen = kStride - kMbufStruct;
constexpr uint32_t kSpi = 0x1000;

bool g_failed = false;  // any benchmark found a wrong result: the binary exits non-zero

void fail(benchmark::State& state, const char* why) {
  g_failed = true;
  state.SkipWithError(why);
}

struct SizeMix {
  const char* name;
  std::vector<uint32_t> pattern;  // inner IP packet sizes, repeated over the ring
};

const std::vector<SizeMix>& size_mixes() {
  static const std::vector<SizeMix> mixes = {
      {"64", {64}},
      {"imix", {64, 570, 64, 64, 1518, 64, 570, 64, 64, 570, 64, 570}},  // 7:4:1
      {"1400", {1400}},
  };
  return mixes;
}

// The packet buffers. views() are what the engine sees; inner(i) the original inner packet i.
class Ring {
 public:
  explicit Ring(const std::vector<uint32_t>& pattern)
      : mem_(static_cast<uint8_t*>(std::aligned_alloc(64, kRingPackets * kStride))) {
    static_assert(kRingPackets % 12 == 0);
    std::memset(mem_.get(), 0, kRingPackets * kStride);
    for (uint32_t i = 0; i < kRingPackets; ++i) {
      const uint32_t size = pattern[i % pattern.size()];
      inner_.push_back(test::ipv4_udp_packet(size - 28, 0, static_cast<uint8_t>(i)));
      inner_bytes_ += size;
    }
    load_inner();
  }

  // Views on the original inner packets, bytes copied back in.
  void load_inner() noexcept {
    reset_views();
    for (uint32_t i = 0; i < kRingPackets; ++i)
      std::memcpy(views_[i].data(), inner_[i].data(), inner_[i].size());
  }
  // Views on the inner packets, bytes left as they are (a decryption has just put them back).
  void reset_views() noexcept {
    for (uint32_t i = 0; i < kRingPackets; ++i) {
      views_[i] = {mem_.get() + i * kStride + kMbufStruct, kBufLen, kHeadroom,
                   static_cast<uint32_t>(inner_[i].size()), nullptr};
    }
  }
  // True when every view holds its inner packet; full: compare the bytes too.
  bool holds_inner(bool full) const noexcept {
    for (uint32_t i = 0; i < kRingPackets; ++i) {
      const esp::PacketView& v = views_[i];
      if (v.data_off != kHeadroom || v.data_len != inner_[i].size()) return false;
      if (full && std::memcmp(v.data(), inner_[i].data(), v.data_len) != 0) return false;
    }
    return true;
  }

  std::span<esp::PacketView> burst(uint32_t b) noexcept {
    return {views_.data() + b * kBurst, kBurst};
  }
  std::span<esp::PacketView> all() noexcept { return views_; }
  const esp::PacketView& view(uint32_t i) const noexcept { return views_[i]; }
  uint64_t inner_bytes() const noexcept { return inner_bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> mem_;
  std::array<esp::PacketView, kRingPackets> views_{};
  std::vector<std::vector<uint8_t>> inner_;
  uint64_t inner_bytes_ = 0;
};

// The SA lookup of the inbound path: SPI -> SA in an open-addressed table, as the dataplane's SA
// hash does it (one multiplicative hash, one probe for a hit).
class SpiTable {
 public:
  void insert(esp::Sa* sa) noexcept {
    uint32_t h = hash(sa->spi());
    while (slots_[h].sa != nullptr)
      h = (h + 1) & (kSlots - 1);
    slots_[h] = {sa->spi(), sa};
  }
  esp::Sa* find(uint32_t spi) const noexcept {
    for (uint32_t h = hash(spi);; h = (h + 1) & (kSlots - 1)) {
      if (slots_[h].sa == nullptr) return nullptr;
      if (slots_[h].spi == spi) return slots_[h].sa;
    }
  }

 private:
  static constexpr uint32_t kSlots = 1024;
  static uint32_t hash(uint32_t spi) noexcept { return (spi * 0x9e3779b1u) >> 22; }
  struct Slot {
    uint32_t spi;
    esp::Sa* sa;
  };
  std::array<Slot, kSlots> slots_{};
};

test::SaPair make_pair(const Algorithm& alg) {
  std::mt19937_64 rng(0x5eed);
  test::SaPairOptions o;
  o.algorithm = alg;
  o.replay_window = 1024;
  o.spi = kSpi;
  return test::make_sa_pair(o, rng);
}

bool all_passed(std::span<const DropReason> reasons) noexcept {
  for (DropReason r : reasons) {
    if (r != DropReason::kNone) return false;
  }
  return true;
}

// One pass over the ring through the engine. Not inlined, so that profiles (callgrind
// --toggle-collect) can isolate exactly the timed work.
[[gnu::noinline]] void engine_encrypt_pass(esp::EspEngine& engine, std::span<esp::Sa* const> sas,
                                           Ring& ring,
                                           std::array<DropReason, kRingPackets>& reasons) noexcept {
  for (uint32_t b = 0; b < kRingBursts; ++b)
    engine.encrypt(ring.burst(b), sas, std::span(reasons.data() + b * kBurst, kBurst));
}

[[gnu::noinline]] void engine_decrypt_pass(esp::EspEngine& engine, const SpiTable& table,
                                           Ring& ring,
                                           std::array<DropReason, kRingPackets>& reasons) noexcept {
  auto lookup = [&table](const esp::InboundMeta& m) { return table.find(m.spi); };
  for (uint32_t b = 0; b < kRingBursts; ++b)
    engine.inbound(ring.burst(b), lookup, std::span(reasons.data() + b * kBurst, kBurst));
}

// Encrypts the whole ring (the views must hold inner packets).
bool encrypt_ring(esp::EspEngine& engine, esp::Sa* sa, Ring& ring,
                  std::array<DropReason, kRingPackets>& reasons) noexcept {
  std::array<esp::Sa*, kBurst> sas;
  sas.fill(sa);
  engine_encrypt_pass(engine, sas, ring, reasons);
  return all_passed(reasons);
}

bool decrypt_ring(esp::EspEngine& engine, const SpiTable& table, Ring& ring,
                  std::array<DropReason, kRingPackets>& reasons) noexcept {
  engine_decrypt_pass(engine, table, ring, reasons);
  return all_passed(reasons);
}

// Times passes. Google Benchmark's time is the mean pass (manual time); the counters come from the
// median pass, which a preemption or a neighbour's cache traffic during a few passes does not move
// (this machine is shared).
class PassTimer {
 public:
  explicit PassTimer(benchmark::State& state) : state_(state) {
    passes_.reserve(static_cast<size_t>(state.max_iterations));
  }
  template <class Pass>
  void time(Pass&& pass) {
    const auto t0 = Clock::now();
    pass();
    const auto t1 = Clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    state_.SetIterationTime(s);
    passes_.push_back(s);
  }
  // ns_per_pkt, Mpps and Gbps (inner IP bytes) of the median pass.
  void report(const Ring& ring) {
    if (state_.error_occurred() || passes_.empty()) return;
    auto mid = passes_.begin() + static_cast<std::ptrdiff_t>(passes_.size() / 2);
    std::nth_element(passes_.begin(), mid, passes_.end());
    const double s = *mid;
    state_.counters["ns_per_pkt"] = s * 1e9 / kRingPackets;
    state_.counters["Mpps"] = kRingPackets / s / 1e6;
    state_.counters["Gbps"] = static_cast<double>(ring.inner_bytes()) * 8 / s / 1e9;
  }

 private:
  benchmark::State& state_;
  std::vector<double> passes_;
};

// ---- the engine ----

void bm_encrypt(benchmark::State& state, Algorithm alg, BackendKind kind, const SizeMix* mix) {
  auto backend = crypto::make_backend(kind);
  auto check_backend = crypto::make_backend(BackendKind::kOpenSsl);
  test::SaPair pair = make_pair(alg);
  esp::EspEngine engine(*backend, 0);
  esp::EspEngine checker(*check_backend, 0);
  SpiTable table;
  table.insert(pair.in.get());
  Ring ring(mix->pattern);
  std::array<DropReason, kRingPackets> reasons;

  // One untimed pass proves that what is measured is right: the ring decrypts (by OpenSSL) back to
  // the inner packets byte for byte.
  if (!encrypt_ring(engine, pair.out.get(), ring, reasons) ||
      !decrypt_ring(checker, table, ring, reasons) || !ring.holds_inner(true)) {
    fail(state, "encrypted packets did not decrypt to the inner packets");
    return;
  }

  std::array<esp::Sa*, kBurst> sas;
  sas.fill(pair.out.get());
  PassTimer timer(state);
  for (auto _ : state) {
    ring.load_inner();
    timer.time([&] { engine_encrypt_pass(engine, sas, ring, reasons); });
    if (!all_passed(reasons)) {
      fail(state, "the engine dropped a packet while encrypting");
      break;
    }
  }
  timer.report(ring);
}

void bm_decrypt(benchmark::State& state, Algorithm alg, BackendKind kind, const SizeMix* mix) {
  auto tx_backend = crypto::make_backend(BackendKind::kIpsecMb);
  auto rx_backend = crypto::make_backend(kind);
  test::SaPair pair = make_pair(alg);
  esp::EspEngine tx(*tx_backend, 0);
  esp::EspEngine rx(*rx_backend, 0);
  SpiTable table;
  table.insert(pair.in.get());
  Ring ring(mix->pattern);
  std::array<DropReason, kRingPackets> reasons;

  if (!encrypt_ring(tx, pair.out.get(), ring, reasons) || !decrypt_ring(rx, table, ring, reasons) ||
      !ring.holds_inner(true) || !encrypt_ring(tx, pair.out.get(), ring, reasons)) {
    fail(state, "set-up pass failed: packets did not round-trip");
    return;
  }

  PassTimer timer(state);
  for (auto _ : state) {
    timer.time([&] { engine_decrypt_pass(rx, table, ring, reasons); });
    if (!all_passed(reasons) || !ring.holds_inner(false)) {
      fail(state, "the engine dropped or mangled a valid packet while decrypting");
      break;
    }
    // Next pass: the same inner packets under the next sequence numbers.
    if (!encrypt_ring(tx, pair.out.get(), ring, reasons)) {
      fail(state, "re-encryption failed");
      break;
    }
  }
  // The last pass's re-encryption is never decrypted.
  if (!state.error_occurred() &&
      pair.in->replay().top() != pair.out->next_seq() - 1 - kRingPackets) {
    fail(state, "the replay window did not follow the sequence numbers");
  }
  timer.report(ring);
}

// ---- the raw cipher ----

// Where the ESP fields of one framed packet are, for the raw calls.
struct RawOp {
  uint8_t* esp;
  uint8_t* iv;
  uint8_t* payload;
  uint32_t len;
  uint8_t* icv;
  alignas(16) uint8_t nonce[16];  // GCM: salt || explicit IV
  alignas(16) uint8_t tag[32];    // decrypt: the computed tag goes here
};

class RawCipher {
 public:
  RawCipher(const Algorithm& alg, const crypto::SaKeys& keys) : alg_(alg), keys_(keys) {
    mgr_ = alloc_mb_mgr(0);
    if (mgr_ == nullptr) throw std::runtime_error("intel-ipsec-mb: cannot allocate a manager");
    init_mb_mgr_auto(mgr_, nullptr);
  }
  ~RawCipher() { free_mb_mgr(mgr_); }
  RawCipher(const RawCipher&) = delete;
  RawCipher& operator=(const RawCipher&) = delete;

  // Reads the ESP layout of the framed ring (every packet is an outer IPv4 + ESP packet).
  void locate(const Ring& ring) noexcept {
    const uint32_t iv = alg_.iv_bytes();
    for (uint32_t i = 0; i < kRingPackets; ++i) {
      const esp::PacketView& v = ring.view(i);
      RawOp& op = ops_[i];
      op.esp = v.data() + 20;
      op.iv = op.esp + 8;
      op.payload = op.iv + iv;
      op.icv = v.data() + v.data_len - alg_.icv_bytes();
      op.len = static_cast<uint32_t>(op.icv - op.payload);
      std::memcpy(op.nonce, keys_.salt, 4);
      std::memcpy(op.nonce + 4, op.iv, 8);
    }
  }

  [[gnu::noinline]] void encrypt_pass() noexcept {
    if (alg_.aead() && alg_.key_bytes == 16) {
      for (RawOp& op : ops_) {
        gcm_context_data ctx;
        IMB_AES128_GCM_ENC(mgr_, &keys_.imb.gcm, &ctx, op.payload, op.payload, op.len, op.nonce,
                           op.esp, 8, op.icv, 16);
      }
    } else if (alg_.aead()) {
      for (RawOp& op : ops_) {
        gcm_context_data ctx;
        IMB_AES256_GCM_ENC(mgr_, &keys_.imb.gcm, &ctx, op.payload, op.payload, op.len, op.nonce,
                           op.esp, 8, op.icv, 16);
      }
    } else {
      for (uint32_t b = 0; b < kRingBursts; ++b)
        cbc_burst(b, true);
    }
  }
  [[gnu::noinline]] void decrypt_pass() noexcept {
    if (alg_.aead() && alg_.key_bytes == 16) {
      for (RawOp& op : ops_) {
        gcm_context_data ctx;
        IMB_AES128_GCM_DEC(mgr_, &keys_.imb.gcm, &ctx, op.payload, op.payload, op.len, op.nonce,
                           op.esp, 8, op.tag, 16);
      }
    } else if (alg_.aead()) {
      for (RawOp& op : ops_) {
        gcm_context_data ctx;
        IMB_AES256_GCM_DEC(mgr_, &keys_.imb.gcm, &ctx, op.payload, op.payload, op.len, op.nonce,
                           op.esp, 8, op.tag, 16);
      }
    } else {
      for (uint32_t b = 0; b < kRingBursts; ++b)
        cbc_burst(b, false);
    }
  }

  // After decrypt_pass(): every computed tag equals the packet's ICV.
  bool tags_match() const noexcept {
    for (const RawOp& op : ops_) {
      if (std::memcmp(op.tag, op.icv, alg_.icv_bytes()) != 0) return false;
    }
    return true;
  }
  uint32_t failed_jobs() const noexcept { return failed_; }

 private:
  void cbc_burst(uint32_t b, bool enc) noexcept {
    for (uint32_t k = 0; k < kBurst; ++k) {
      RawOp& op = ops_[b * kBurst + k];
      IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
      crypto::set_cbc_hmac_job(job, keys_, enc, op.esp, op.iv, op.payload, op.payload, op.len);
      job->auth_tag_output = enc ? op.icv : op.tag;
      job->auth_tag_output_len_in_bytes = alg_.icv_bytes();
      if (IMB_JOB* done = IMB_SUBMIT_JOB(mgr_)) failed_ += done->status != IMB_STATUS_COMPLETED;
    }
    while (IMB_JOB* done = IMB_FLUSH_JOB(mgr_))
      failed_ += done->status != IMB_STATUS_COMPLETED;
  }

  Algorithm alg_;
  const crypto::SaKeys& keys_;
  IMB_MGR* mgr_ = nullptr;
  uint32_t failed_ = 0;
  std::array<RawOp, kRingPackets> ops_{};
};

void bm_raw_encrypt(benchmark::State& state, Algorithm alg, const SizeMix* mix) {
  auto backend = crypto::make_backend(BackendKind::kIpsecMb);
  test::SaPair pair = make_pair(alg);
  esp::EspEngine engine(*backend, 0);
  Ring ring(mix->pattern);
  std::array<DropReason, kRingPackets> reasons;
  if (!encrypt_ring(engine, pair.out.get(), ring, reasons)) {
    fail(state, "framing failed");
    return;
  }
  RawCipher raw(alg, pair.out->keys());
  raw.locate(ring);

  PassTimer timer(state);
  for (auto _ : state) {
    ring.load_inner();  // the same untimed work as the engine's benchmark
    timer.time([&] { raw.encrypt_pass(); });
  }
  if (raw.failed_jobs() != 0) fail(state, "intel-ipsec-mb failed a job");
  timer.report(ring);
}

void bm_raw_decrypt(benchmark::State& state, Algorithm alg, const SizeMix* mix) {
  auto backend = crypto::make_backend(BackendKind::kIpsecMb);
  test::SaPair pair = make_pair(alg);
  esp::EspEngine engine(*backend, 0);
  Ring ring(mix->pattern);
  std::array<DropReason, kRingPackets> reasons;
  if (!encrypt_ring(engine, pair.out.get(), ring, reasons)) {
    fail(state, "framing failed");
    return;
  }
  RawCipher raw(alg, pair.out->keys());
  raw.locate(ring);
  // Untimed check: the raw calls verify and restore real packets.
  raw.decrypt_pass();
  ring.reset_views();
  if (!raw.tags_match() || !ring.holds_inner(true) ||
      !encrypt_ring(engine, pair.out.get(), ring, reasons)) {
    fail(state, "raw decryption did not give back the inner packets");
    return;
  }

  PassTimer timer(state);
  for (auto _ : state) {
    raw.locate(ring);  // picks up this pass's IVs
    timer.time([&] { raw.decrypt_pass(); });
    if (raw.failed_jobs() != 0 || !raw.tags_match()) {
      fail(state, "intel-ipsec-mb failed a job or computed a wrong tag");
      break;
    }
    ring.reset_views();
    if (!encrypt_ring(engine, pair.out.get(), ring, reasons)) {
      fail(state, "re-encryption failed");
      break;
    }
  }
  timer.report(ring);
}

void register_all() {
  for (const Algorithm& alg : esp::all_algorithms()) {
    for (const SizeMix& mix : size_mixes()) {
      const std::string tail = alg.name() + "/" + mix.name;
      // Raw and engine side by side, so that they run close together in time.
      std::vector<benchmark::internal::Benchmark*> b;
      b.push_back(
          benchmark::RegisterBenchmark(("raw/encrypt/" + tail).c_str(), bm_raw_encrypt, alg, &mix));
      for (BackendKind kind : {BackendKind::kIpsecMb, BackendKind::kOpenSsl}) {
        const std::string name =
            "esp/encrypt/" + std::string(crypto::backend_name(kind)) + "/" + tail;
        b.push_back(benchmark::RegisterBenchmark(name.c_str(), bm_encrypt, alg, kind, &mix));
      }
      b.push_back(
          benchmark::RegisterBenchmark(("raw/decrypt/" + tail).c_str(), bm_raw_decrypt, alg, &mix));
      for (BackendKind kind : {BackendKind::kIpsecMb, BackendKind::kOpenSsl}) {
        const std::string name =
            "esp/decrypt/" + std::string(crypto::backend_name(kind)) + "/" + tail;
        b.push_back(benchmark::RegisterBenchmark(name.c_str(), bm_decrypt, alg, kind, &mix));
      }
      for (auto* bench : b)
        bench->UseManualTime()->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace espgw

int main(int argc, char** argv) {
  using namespace espgw;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::AddCustomContext("ipsec_mb", crypto::make_backend(BackendKind::kIpsecMb)->describe());
  benchmark::AddCustomContext("openssl", crypto::make_backend(BackendKind::kOpenSsl)->describe());
  benchmark::AddCustomContext("ring", std::to_string(kRingBursts) + " bursts of " +
                                          std::to_string(kBurst) +
                                          " packets, one iteration = one pass, " +
                                          std::to_string(kStride) + "-byte mbuf-like buffers");
  register_all();
  const size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return ran == 0 || g_failed ? 1 : 0;
}
