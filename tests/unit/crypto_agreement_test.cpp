// The two crypto backends must be interchangeable: given the same keys, header, IV and plaintext,
// intel-ipsec-mb and OpenSSL produce the same ciphertext and ICV, and each decrypts (and rejects)
// what the other produced. Random bursts mix every algorithm, ESN on and off, sizes from 0 to a
// few KiB, in-place and out-of-place decryption and tampered packets. At the engine level, two
// outbound GCM SAs made from the same parameters and IV seed give byte-identical ESP packets under
// the two backends.
//
// Everything random comes from fixed seeds (kSeed below): a failure names the burst and op and
// reproduces on every run.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/hex.h"
#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/crypto/sa_keys.h"
#include "tests/support/esp_test_util.h"

namespace espgw {
namespace {

using Bytes = std::vector<uint8_t>;
using crypto::BackendKind;
using crypto::CryptoOp;
using esp::Algorithm;

constexpr uint64_t kSeed = 0x6b61742d61677265;  // "kat-agre"

// Draws from the generator directly (not std::uniform_int_distribution, whose output differs
// between standard libraries) so that a seed means the same packets everywhere.
struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  uint64_t below(uint64_t n) { return gen() % n; }
  bool coin(uint64_t one_in = 2) { return below(one_in) == 0; }
  Bytes bytes(size_t n) {
    Bytes b(n);
    for (auto& x : b)
      x = static_cast<uint8_t>(gen());
    return b;
  }
};

struct KeySet {
  Algorithm alg;
  std::unique_ptr<crypto::SaKeys> keys;
  std::string note;
};

// Per algorithm: key sets with RFC-length keys and, for HMAC algorithms, with a key longer than
// any hash block (hashed by prepare_keys, RFC 2104 2), one of 100 bytes (longer than the SHA-1 and
// SHA-256 block, shorter than the SHA-384/512 block) and one shorter than the hash output.
std::vector<KeySet> make_key_sets(Rng& rng) {
  std::vector<KeySet> sets;
  for (const Algorithm& a : esp::all_algorithms()) {
    std::vector<std::pair<size_t, std::string>> auth_lengths = {{a.auth_key_bytes(), "rfc"}};
    if (!a.aead()) {
      auth_lengths.push_back({150, "long-hmac-key"});
      auth_lengths.push_back({100, "100-byte-hmac-key"});
      auth_lengths.push_back({7, "short-hmac-key"});
    }
    for (int copy = 0; copy < 2; ++copy) {
      for (const auto& [len, note] : auth_lengths) {
        sets.push_back({a,
                        crypto::prepare_keys(a, rng.bytes(a.key_bytes), rng.bytes(a.salt_bytes()),
                                             rng.bytes(len)),
                        note});
      }
    }
  }
  return sets;
}

// One ESP packet as CryptoOp sees it: header, IV, payload, ICV. seq_hi and ESN travel beside it.
struct Packet {
  const KeySet* ks;
  Bytes bytes;
  uint32_t ct_len;
  bool esn;
  uint32_t seq_hi;

  uint32_t iv_len() const { return ks->alg.iv_bytes(); }
  uint32_t icv_len() const { return ks->alg.icv_bytes(); }
  uint32_t ct_off() const { return 8 + iv_len(); }
  Bytes payload() const { return {bytes.begin() + ct_off(), bytes.begin() + ct_off() + ct_len}; }

  // dst: nullptr for in place, else where the decrypted payload goes.
  CryptoOp op(uint8_t* dst = nullptr) {
    uint8_t* esp = bytes.data();
    uint8_t* src = esp + ct_off();
    return CryptoOp{ks->keys.get(), esp,          esp + 8, src, dst != nullptr ? dst : src,
                    ct_len,         src + ct_len, seq_hi,  esn, false};
  }
};

std::string describe(const Packet& p) {
  return p.ks->alg.name() + " " + p.ks->note + " len " + std::to_string(p.ct_len) +
         (p.esn ? " esn seq_hi " + std::to_string(p.seq_hi) : "");
}

Packet random_packet(Rng& rng, const std::vector<KeySet>& sets) {
  Packet p;
  p.ks = &sets[rng.below(sets.size())];
  const Algorithm& a = p.ks->alg;
  // Half of them small, where the edge cases are (partial blocks, no payload at all).
  const uint32_t max = rng.coin() ? 128 : 4096;
  if (a.aead()) {
    p.ct_len = static_cast<uint32_t>(rng.below(max + 1));
  } else {
    p.ct_len = static_cast<uint32_t>(rng.below(max / 16 + 1) * 16);
  }
  p.esn = rng.coin();
  p.seq_hi = static_cast<uint32_t>(rng.gen());
  p.bytes = rng.bytes(8 + a.iv_bytes() + p.ct_len + a.icv_bytes());
  return p;
}

class BackendAgreement : public testing::Test {
 protected:
  std::unique_ptr<crypto::CryptoBackend> mb_ = crypto::make_backend(BackendKind::kIpsecMb);
  std::unique_ptr<crypto::CryptoBackend> ossl_ = crypto::make_backend(BackendKind::kOpenSsl);

  crypto::CryptoBackend& backend(int i) { return i == 0 ? *mb_ : *ossl_; }
  static const char* label(int i) { return i == 0 ? "intel-ipsec-mb" : "OpenSSL"; }
};

TEST_F(BackendAgreement, RandomBurstsEncryptAlikeAndCrossDecrypt) {
  Rng rng(kSeed);
  const auto sets = make_key_sets(rng);
  constexpr int kBursts = 160;
  size_t ops_total = 0, tampered_total = 0, out_of_place_total = 0;
  int failures = 0;
  auto fail = [&](int burst, size_t k, const Packet& p, const std::string& what) {
    ADD_FAILURE() << "burst " << burst << " op " << k << " (" << describe(p) << "): " << what;
    ++failures;
  };

  for (int burst = 0; burst < kBursts && failures < 10; ++burst) {
    // Up to 100 ops: past intel-ipsec-mb backend's 64-op rounds and the engine's kMaxBurst.
    const size_t n = 1 + rng.below(100);
    std::vector<Packet> plain(n);
    for (auto& p : plain)
      p = random_packet(rng, sets);
    ops_total += n;

    // Encrypt the same packets on both backends.
    std::vector<Packet> sealed[2] = {plain, plain};
    for (int b = 0; b < 2; ++b) {
      std::vector<CryptoOp> ops;
      for (auto& p : sealed[b])
        ops.push_back(p.op());
      backend(b).encrypt(ops);
      for (size_t k = 0; k < n; ++k) {
        if (!ops[k].ok) fail(burst, k, plain[k], std::string(label(b)) + " encrypt not ok");
      }
    }
    for (size_t k = 0; k < n; ++k) {
      const Packet& p = plain[k];
      const Bytes& a = sealed[0][k].bytes;
      if (a != sealed[1][k].bytes) {
        fail(burst, k, p,
             "ciphertext/ICV differ:\n  ipsec-mb " + to_hex(a) + "\n  openssl  " +
                 to_hex(sealed[1][k].bytes));
      }
      // Header and IV are inputs: left as they were.
      if (!std::equal(a.begin(), a.begin() + p.ct_off(), p.bytes.begin())) {
        fail(burst, k, p, "encrypt changed the header or IV");
      }
      if (p.ct_len >= 16 && sealed[0][k].payload() == p.payload()) {
        fail(burst, k, p, "payload not encrypted");
      }
    }

    // Cross-decrypt: what one backend sealed, the other opens. Some packets are tampered with
    // (one bit anywhere in header, IV, ciphertext or ICV, or a wrong seq_hi under ESN); some are
    // decrypted out of place, which must leave the packet as it was (ESN re-sync relies on it).
    for (int b = 0; b < 2; ++b) {
      std::vector<Packet> in = sealed[1 - b];
      std::vector<bool> expect_ok(n, true), out_of_place(n, false);
      std::vector<Bytes> dst(n);
      std::vector<Bytes> before(n);
      for (size_t k = 0; k < n; ++k) {
        Packet& p = in[k];
        if (rng.coin(4)) {
          if (p.esn && rng.coin(3)) {
            p.seq_hi ^= 1u << rng.below(32);
          } else {
            p.bytes[rng.below(p.bytes.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
          }
          expect_ok[k] = false;
          ++tampered_total;
        } else if (!p.esn && rng.coin(4)) {
          p.seq_hi ^= 0x00010000;  // ignored without ESN
        }
        if (rng.coin(3)) {
          out_of_place[k] = true;
          dst[k].assign(p.ct_len + 1, 0xee);
          ++out_of_place_total;
        }
        before[k] = p.bytes;
      }
      std::vector<CryptoOp> ops;
      for (size_t k = 0; k < n; ++k)
        ops.push_back(in[k].op(out_of_place[k] ? dst[k].data() : nullptr));
      backend(b).decrypt(ops);
      for (size_t k = 0; k < n; ++k) {
        const Packet& p = in[k];
        const std::string who = std::string(label(b)) + " decrypting " + label(1 - b) + "'s";
        if (ops[k].ok != expect_ok[k]) {
          fail(burst, k, p, who + (expect_ok[k] ? ": rejected" : ": accepted a tampered packet"));
          continue;
        }
        if (out_of_place[k]) {
          if (p.bytes != before[k]) fail(burst, k, p, who + ": out-of-place decrypt changed it");
          if (dst[k].back() != 0xee) fail(burst, k, p, who + ": wrote past dst");
        }
        if (!expect_ok[k]) continue;
        const Bytes got = out_of_place[k] ? Bytes(dst[k].begin(), dst[k].end() - 1) : p.payload();
        if (got != plain[k].payload()) fail(burst, k, p, who + ": wrong plaintext");
        if (!out_of_place[k] &&
            !std::equal(p.bytes.begin() + p.ct_off() + p.ct_len, p.bytes.end(),
                        sealed[1 - b][k].bytes.begin() + p.ct_off() + p.ct_len)) {
          fail(burst, k, p, who + ": ICV not left in place");
        }
      }
    }
  }
  // The run covered what it claims to (the numbers are fixed by kSeed).
  EXPECT_GT(ops_total, 5000u);
  EXPECT_GT(tampered_total, 1000u);
  EXPECT_GT(out_of_place_total, 1000u);
}

// Every algorithm, every CBC block count and GCM length up to 300 bytes, ESN on and off, one op
// at a time: a systematic sweep next to the random bursts.
TEST_F(BackendAgreement, SweepOfSmallSizes) {
  Rng rng(kSeed + 1);
  const auto sets = make_key_sets(rng);
  for (const KeySet& ks : sets) {
    if (ks.note != "rfc") continue;
    const Algorithm& a = ks.alg;
    for (uint32_t len = 0; len <= 300; len += a.aead() ? 1 : 16) {
      for (bool esn : {false, true}) {
        Packet p{&ks, rng.bytes(8 + a.iv_bytes() + len + a.icv_bytes()), len, esn,
                 static_cast<uint32_t>(rng.gen())};
        Packet q = p;
        CryptoOp op_mb = p.op(), op_ossl = q.op();
        mb_->encrypt({&op_mb, 1});
        ossl_->encrypt({&op_ossl, 1});
        ASSERT_TRUE(op_mb.ok && op_ossl.ok) << describe(p);
        ASSERT_EQ(to_hex(p.bytes), to_hex(q.bytes)) << describe(p);
        CryptoOp back = q.op();
        mb_->decrypt({&back, 1});
        ASSERT_TRUE(back.ok) << describe(p);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Engine level: EspEngine::encrypt on each backend, two outbound SAs from the same parameters and
// IV seed. GCM only: its IV is iv_seed + sequence number, so equal inputs give equal packets
// (a CBC IV comes from each engine's own random generator). The IPv4 outer header carries each
// engine's own random IP ID (and so its own checksum); everything else must match, and for an
// IPv6 outer header that is the whole packet.
// ---------------------------------------------------------------------------------------------
struct EngineCase {
  Algorithm alg;
  bool esn;
  bool udp;
  bool outer_v6;
};

class EngineAgreement : public testing::TestWithParam<EngineCase> {};

TEST_P(EngineAgreement, SameSaParamsAndIvSeedGiveIdenticalGcmPackets) {
  const EngineCase& c = GetParam();
  Rng rng(kSeed + 2);
  std::mt19937_64 pair_rng(kSeed + 3);
  // With ESN, start just below 2^32 so that the run crosses into seq_hi = 1.
  const uint64_t first_seq = c.esn ? (uint64_t{1} << 32) - 40 : 1;
  auto pair =
      test::make_sa_pair({c.alg, c.esn, c.udp, c.outer_v6, 1024, 0x5eed0001, first_seq}, pair_rng);
  const uint64_t iv_seed = rng.gen();
  auto sa_mb = esp::Sa::make(pair.params, 1, iv_seed);
  auto sa_ossl = esp::Sa::make(pair.params, 1, iv_seed);
  // The matching inbound SAs, one per receiving engine (each has its own replay window).
  esp::SaParams in = pair.params;
  in.direction = esp::Direction::kInbound;
  std::swap(in.local, in.remote);
  std::swap(in.local_port, in.remote_port);
  auto in_mb = esp::Sa::make(in, 1, 0);
  auto in_ossl = esp::Sa::make(in, 1, 0);

  auto be_mb = crypto::make_backend(BackendKind::kIpsecMb);
  auto be_ossl = crypto::make_backend(BackendKind::kOpenSsl);
  esp::EspEngine eng_mb(*be_mb, 0), eng_ossl(*be_ossl, 0);
  const uint32_t ip_len = c.outer_v6 ? 40 : 20;

  size_t compared = 0;
  for (int burst = 0; burst < 4; ++burst) {
    const size_t n = 1 + rng.below(50);
    std::vector<Bytes> inner(n);
    std::vector<std::unique_ptr<test::PacketBuffer>> buf_mb, buf_ossl;
    std::vector<esp::PacketView> pv_mb, pv_ossl;
    for (size_t k = 0; k < n; ++k) {
      const auto size = static_cast<uint32_t>(rng.below(1401));
      const auto seed = static_cast<uint8_t>(rng.gen());
      inner[k] =
          rng.coin() ? test::ipv6_udp_packet(size, 0, seed) : test::ipv4_udp_packet(size, 0, seed);
      buf_mb.push_back(std::make_unique<test::PacketBuffer>(inner[k]));
      buf_ossl.push_back(std::make_unique<test::PacketBuffer>(inner[k]));
      pv_mb.push_back(buf_mb.back()->view());
      pv_ossl.push_back(buf_ossl.back()->view());
    }
    std::vector<esp::Sa*> sas_mb(n, sa_mb.get()), sas_ossl(n, sa_ossl.get());
    std::vector<DropReason> r_mb(n), r_ossl(n);
    eng_mb.encrypt(pv_mb, sas_mb, r_mb);
    eng_ossl.encrypt(pv_ossl, sas_ossl, r_ossl);

    for (size_t k = 0; k < n; ++k) {
      SCOPED_TRACE("burst " + std::to_string(burst) + " packet " + std::to_string(k));
      ASSERT_EQ(r_mb[k], DropReason::kNone) << drop_reason_name(r_mb[k]);
      ASSERT_EQ(r_ossl[k], DropReason::kNone) << drop_reason_name(r_ossl[k]);
      const esp::PacketView& a = pv_mb[k];
      const esp::PacketView& b = pv_ossl[k];
      Bytes pa(a.data(), a.data() + a.data_len), pb(b.data(), b.data() + b.data_len);
      ASSERT_EQ(pa.size(), pb.size());
      if (!c.outer_v6) {
        // The per-engine IP ID and the header checksum that covers it.
        for (size_t off : {4, 5, 10, 11})
          pa[off] = pb[off] = 0;
      }
      EXPECT_EQ(to_hex(pa), to_hex(pb));
      // The GCM IV on the wire is iv_seed + the 64-bit sequence number (sa.h).
      const uint32_t esp_off = ip_len + (c.udp ? 8 : 0);
      const uint64_t seq = first_seq + compared;
      EXPECT_EQ(load_be32(pa.data() + esp_off + 4), static_cast<uint32_t>(seq));
      EXPECT_EQ(load_be64(pa.data() + esp_off + 8), iv_seed + seq);
      ++compared;
    }

    // Each engine opens the other's packets.
    std::vector<DropReason> d_mb(n), d_ossl(n);
    eng_mb.inbound(
        pv_ossl, [&](const esp::InboundMeta&) { return in_mb.get(); }, d_mb);
    eng_ossl.inbound(
        pv_mb, [&](const esp::InboundMeta&) { return in_ossl.get(); }, d_ossl);
    for (size_t k = 0; k < n; ++k) {
      ASSERT_EQ(d_mb[k], DropReason::kNone) << drop_reason_name(d_mb[k]);
      ASSERT_EQ(d_ossl[k], DropReason::kNone) << drop_reason_name(d_ossl[k]);
      EXPECT_EQ(Bytes(pv_ossl[k].data(), pv_ossl[k].data() + pv_ossl[k].data_len), inner[k]);
      EXPECT_EQ(Bytes(pv_mb[k].data(), pv_mb[k].data() + pv_mb[k].data_len), inner[k]);
    }
  }
  EXPECT_EQ(sa_mb->next_seq(), first_seq + compared);
  EXPECT_EQ(sa_ossl->next_seq(), first_seq + compared);
}

std::vector<EngineCase> engine_cases() {
  std::vector<EngineCase> v;
  for (const Algorithm& a : esp::all_algorithms()) {
    if (!a.aead()) continue;
    for (int flags = 0; flags < 8; ++flags)
      v.push_back({a, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Gcm, EngineAgreement, testing::ValuesIn(engine_cases()),
                         [](const testing::TestParamInfo<EngineCase>& p) {
                           const EngineCase& c = p.param;
                           return c.alg.name() + (c.esn ? "_esn" : "") + (c.udp ? "_natt" : "") +
                                  (c.outer_v6 ? "_out6" : "_out4");
                         });

}  // namespace
}  // namespace espgw
