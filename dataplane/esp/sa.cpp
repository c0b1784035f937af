#include "dataplane/esp/sa.h"

#include <cstddef>
#include <cstring>  // explicit_bzero (glibc)
#include <stdexcept>
#include <string>

#include "common/bytes.h"
#include "common/hex.h"
#include "dataplane/common/checksum.h"

#include <openssl/evp.h>

namespace espgw::esp {
namespace {

[[noreturn]] void bad(const SaParams& p, const std::string& what) {
  throw std::invalid_argument("SA spi " + spi_hex(p.spi) + ": " + what);
}

}  // namespace

uint64_t key_fingerprint(const SaParams& p) {
  static constexpr char kLabel[] = "espgw sa-state v1";
  const uint8_t head[5] = {static_cast<uint8_t>(p.direction), static_cast<uint8_t>(p.spi >> 24),
                           static_cast<uint8_t>(p.spi >> 16), static_cast<uint8_t>(p.spi >> 8),
                           static_cast<uint8_t>(p.spi)};
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, kLabel, sizeof kLabel) == 1 &&
            EVP_DigestUpdate(ctx, head, sizeof head) == 1;
  for (const auto* v : {&p.enc_key, &p.salt, &p.auth_key}) {
    const uint8_t n = static_cast<uint8_t>(v->size());
    ok =
        ok && EVP_DigestUpdate(ctx, &n, 1) == 1 && EVP_DigestUpdate(ctx, v->data(), v->size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx, digest, &len) == 1 && len >= 8;
  EVP_MD_CTX_free(ctx);
  if (!ok) return 0;  // 0 matches no record (docs/sa-state.md)
  uint64_t f = 0;
  for (int i = 0; i < 8; ++i)
    f = (f << 8) | digest[i];
  return f == 0 ? 1 : f;
}

Sa::Sa(const SaParams& p, uint32_t workers) : workers_(workers), params_(p) {
  // What every packet reads is the first cache line, the outbound sequence number the second
  // (sa.h; docs/memory.md).
  static_assert(offsetof(Sa, key_lines_) + sizeof key_lines_ <= 64);
  static_assert(offsetof(Sa, next_seq_) == 64);
  static_assert(offsetof(Sa, first_outer_) + sizeof(OuterHeader) <= 128);
}

std::unique_ptr<Sa> Sa::make(const SaParams& p, uint32_t workers, uint64_t iv_seed,
                             const SaStart* start, uint64_t fingerprint) {
  const uint64_t first_seq = start ? start->first_seq : p.first_seq;
  const std::vector<uint8_t>& replay_seen = start ? start->replay_seen : p.replay_seen;
  if (p.spi < 256) bad(p, "SPI values 0-255 are reserved (RFC 4303 2.1)");
  if (p.local.family != p.remote.family) bad(p, "local and remote addresses differ in family");
  if (workers == 0) bad(p, "no workers");
  if (first_seq == 0 || (!p.esn && first_seq > UINT32_MAX)) {
    bad(p, "first sequence number " + std::to_string(first_seq) + " out of range" +
               (p.esn ? "" : " (without ESN: 1 to 4294967295)"));
  }
  if (p.udp_encap && (p.local_port == 0 || p.remote_port == 0)) bad(p, "NAT-T port 0");
  if (p.dscp > 63) bad(p, "DSCP " + std::to_string(p.dscp) + " out of range 0-63");
  if (p.ttl == 0) bad(p, "outer TTL 0");

  std::unique_ptr<Sa> sa(new Sa(p, workers));
  try {
    sa->keys_ = crypto::prepare_keys(p.algorithm, p.enc_key, p.salt, p.auth_key);
    sa->key_lines_ = sa->keys_->lines;
    if (p.direction == Direction::kInbound) {
      sa->replay_ = ReplayWindow(p.replay_window, p.esn);
      sa->replay_.restore(first_seq - 1, replay_seen);
    }
  } catch (const std::exception& e) {
    bad(p, e.what());
  }
  // The description keeps no copy of the keys: only SaKeys holds them, and wipes them.
  auto wipe = [](std::vector<uint8_t>& v) {
    // A plain fill before the free may be optimised out. An empty vector's data() may be null.
    if (!v.empty()) explicit_bzero(v.data(), v.size());
    std::vector<uint8_t>().swap(v);  // and its storage: clear() would keep it, 3 blocks per SA
  };
  wipe(sa->params_.enc_key);
  wipe(sa->params_.salt);
  wipe(sa->params_.auth_key);
  sa->fingerprint_ = fingerprint != 0 ? fingerprint : esp::key_fingerprint(p);
  std::vector<uint8_t>().swap(sa->params_.replay_seen);  // in replay_ now

  sa->spi_be_ = __builtin_bswap32(p.spi);
  sa->iv_base_ = iv_seed;
  sa->next_seq_.store(first_seq, std::memory_order_relaxed);
  sa->counters_ = std::make_unique<SaCounters[]>(workers);

  sa->install_outer(p);

  sa->iv_len_ = static_cast<uint8_t>(p.algorithm.iv_bytes());
  sa->icv_len_ = static_cast<uint8_t>(p.algorithm.icv_bytes());
  sa->align_mask_ = static_cast<uint8_t>(p.algorithm.align_bytes() - 1);
  sa->aead_ = p.algorithm.aead();
  const uint8_t dscp_keep = p.copy_dscp ? 0xfc : 0;
  const uint8_t ecn_keep = p.ecn == EcnMode::kNormal ? 0x03 : 0;
  sa->tos_keep_ = static_cast<uint8_t>(dscp_keep | ecn_keep);
  sa->tos_set_ = p.copy_dscp ? 0 : static_cast<uint8_t>(p.dscp << 2);
  sa->df_keep_ = p.df == DfMode::kCopy ? 0x40 : 0;
  sa->df_set_ = p.df == DfMode::kSet ? 0x40 : 0;
  sa->inbound_ = p.direction == Direction::kInbound;
  sa->esn_ = p.esn;
  return sa;
}

void Sa::install_outer(const SaParams& p) {
  OuterHeader h;
  uint8_t* t = h.bytes;
  const uint8_t proto = p.udp_encap ? 17 : 50;
  size_t ip_len;
  if (p.local.is_v4()) {
    t[0] = 0x45;
    t[8] = p.ttl;
    t[9] = proto;
    std::memcpy(t + 12, p.local.bytes.data(), 4);
    std::memcpy(t + 16, p.remote.bytes.data(), 4);
    ip_len = 20;
  } else {
    t[0] = 0x60;
    t[6] = proto;
    t[7] = p.ttl;
    std::memcpy(t + 8, p.local.bytes.data(), 16);
    std::memcpy(t + 24, p.remote.bytes.data(), 16);
    ip_len = 40;
    h.v6 = true;
  }
  if (p.udp_encap) {
    store_be16(t + ip_len, p.local_port);
    store_be16(t + ip_len + 2, p.remote_port);
  }
  if (!h.v6) h.csum_base = csum_partial(t, 20);
  h.len = static_cast<uint8_t>(ip_len + (p.udp_encap ? 8 : 0));
  h.head = static_cast<uint8_t>(h.len + 8 + p.algorithm.iv_bytes());
  h.udp_encap = p.udp_encap;
  h.udp6 = h.v6 && p.udp_encap;
  if (outer_.load(std::memory_order_relaxed) == nullptr) {
    first_outer_ = h;
    outer_.store(&first_outer_, std::memory_order_release);
    return;
  }
  auto copy = std::make_unique<OuterHeader>(h);
  outer_.store(copy.get(), std::memory_order_release);
  outers_.push_back(std::move(copy));
}

void Sa::retarget(const IpAddress& local, const IpAddress& remote, bool udp_encap,
                  uint16_t local_port, uint16_t remote_port) {
  if (local.family != remote.family) bad(params_, "local and remote addresses differ in family");
  if (udp_encap && (local_port == 0 || remote_port == 0)) bad(params_, "NAT-T port 0");
  params_.local = local;
  params_.remote = remote;
  params_.udp_encap = udp_encap;
  params_.local_port = local_port;
  params_.remote_port = remote_port;
  install_outer(params_);
}

uint64_t Sa::packets() const noexcept {
  uint64_t n = 0;
  for (uint32_t w = 0; w < workers_; ++w)
    n += counters_[w].packets.get();
  return n;
}

uint64_t Sa::bytes() const noexcept {
  uint64_t n = 0;
  for (uint32_t w = 0; w < workers_; ++w)
    n += counters_[w].bytes.get();
  return n;
}

uint64_t Sa::keepalives() const noexcept {
  uint64_t n = 0;
  for (uint32_t w = 0; w < workers_; ++w)
    n += counters_[w].keepalives.get();
  return n;
}

uint64_t Sa::last_use_ns() const noexcept {
  uint64_t t = 0;
  for (uint32_t w = 0; w < workers_; ++w)
    t = std::max(t, counters_[w].last_use_ns.get());
  return t;
}

}  // namespace espgw::esp
