// ESP inbound, tunnel mode (RFC 4303 3.4): outer header checks, anti-replay pre-check, ICV
// verification and decryption, window update, trailer and inner header checks, RFC 6040 ECN.

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/esp/esp_engine.h"

namespace espgw::esp {
namespace {

constexpr uint8_t kProtoEsp = 50;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6Fragment = 44;
constexpr uint8_t kNextHeaderIpv4 = 4;
constexpr uint8_t kNextHeaderIpv6 = 41;
constexpr uint8_t kNextHeaderDummy = 59;

constexpr uint8_t kEcnNotEct = 0;
constexpr uint8_t kEcnEct1 = 1;
constexpr uint8_t kEcnEct0 = 2;
constexpr uint8_t kEcnCe = 3;

DropReason parse_one(PacketView& p, InboundMeta& m) noexcept {
  const uint8_t* d = p.data();
  const uint32_t len = p.data_len;
  if (len < 1) return DropReason::kTruncated;
  uint32_t l4;
  uint32_t total;
  uint8_t proto;
  const uint8_t version = d[0] >> 4;
  if (version == 4) {
    if (len < 20) return DropReason::kTruncated;
    l4 = (d[0] & 0x0fu) * 4;
    if (l4 < 20) return DropReason::kBadIpHeader;
    if (l4 > len) return DropReason::kTruncated;
    total = load_be16(d + 2);
    if (total < l4 || total > len) return DropReason::kIpLength;
    if (load_be16(d + 6) & 0x3fff) return DropReason::kOuterFragment;
    proto = d[9];
    m.outer_ecn = d[1] & 3;
  } else if (version == 6) {
    if (len < 40) return DropReason::kTruncated;
    l4 = 40;
    total = 40u + load_be16(d + 4);
    if (total > len) return DropReason::kIpLength;
    proto = d[6];
    if (proto == kProtoIpv6Fragment) return DropReason::kOuterFragment;
    m.outer_ecn = (d[1] >> 4) & 3;
  } else {
    return DropReason::kBadIpHeader;
  }
  // Frames shorter than the Ethernet minimum arrive padded: the IP length is the truth.
  p.data_len = total;

  if (proto == kProtoEsp) {
    m.udp = false;
    m.esp_off = static_cast<uint16_t>(l4);
  } else if (proto == kProtoUdp) {
    if (total - l4 < 8) return DropReason::kTruncated;
    if (load_be16(d + l4 + 4) != total - l4) return DropReason::kIpLength;
    m.udp = true;
    m.esp_off = static_cast<uint16_t>(l4 + 8);
    const uint32_t payload = total - m.esp_off;
    // RFC 3948 2.2 and 2.3: a NAT-keepalive (one 0xff byte) and IKE (non-ESP marker, four zero
    // bytes) share the port; the dataplane hands those to the kernel before they get here.
    if (payload == 1 && d[m.esp_off] == 0xff) return DropReason::kNotEsp;
    if (payload >= 4 && load_be32(d + m.esp_off) == 0) return DropReason::kNotEsp;
  } else {
    return DropReason::kNotEsp;
  }
  if (total - m.esp_off < 8) return DropReason::kTruncated;
  m.spi = load_be32(d + m.esp_off);
  if (m.spi < 256) return DropReason::kReservedSpi;
  return DropReason::kNone;
}

}  // namespace

void EspEngine::parse_inbound(std::span<PacketView> pkts, std::span<InboundMeta> meta,
                              std::span<DropReason> reasons) noexcept {
  for (size_t i = 0; i < pkts.size(); ++i) {
    reasons[i] = parse_one(pkts[i], meta[i]);
    if (reasons[i] != DropReason::kNone) drops_.add(reasons[i]);
  }
}

void EspEngine::decrypt(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
                        std::span<Sa* const> sas, std::span<DropReason> reasons) noexcept {
  decrypt_deferred(pkts, meta, sas, {}, reasons);  // no tags: nothing is deferred
}

void EspEngine::decrypt_deferred(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
                                 std::span<Sa* const> sas, std::span<const uint32_t> tags,
                                 std::span<DropReason> reasons) noexcept {
  for (size_t base = 0; base < pkts.size(); base += kMaxBurst) {
    const size_t n = std::min<size_t>(kMaxBurst, pkts.size() - base);
    decrypt_chunk(pkts.subspan(base, n), meta.subspan(base, n), sas.subspan(base, n),
                  tags.empty() ? tags : tags.subspan(base, n), reasons.subspan(base, n));
  }
}

inline DropReason EspEngine::finish_inbound(Sa& sa, PacketView& p, const InboundMeta& m,
                                            const crypto::CryptoOp& op, uint64_t seq) noexcept {
  const DropReason replay = sa.replay_.update(seq);
  if (replay != DropReason::kNone) return replay;
  sa.auth_failures_ = 0;

  uint8_t* pt = op.dst;
  const uint32_t ct_len = op.len;
  const uint32_t pad = pt[ct_len - 2];
  const uint8_t next_header = pt[ct_len - 1];
  if (pad + 2 > ct_len) return DropReason::kBadPadLength;
  const uint8_t* pad_bytes = pt + ct_len - 2 - pad;
  for (uint32_t k = 0; k < pad; ++k) {
    if (pad_bytes[k] != k + 1) return DropReason::kBadPadding;
  }
  if (next_header == kNextHeaderDummy) return DropReason::kDummy;
  const uint32_t payload = ct_len - 2 - pad;
  if (payload == 0) return DropReason::kZeroLengthPayload;

  uint32_t inner_len;
  uint8_t inner_ecn;
  if (next_header == kNextHeaderIpv4) {
    if (payload < 20 || (pt[0] >> 4) != 4 || (pt[0] & 0x0f) < 5) return DropReason::kInnerHeader;
    inner_len = load_be16(pt + 2);
    if (inner_len < (pt[0] & 0x0fu) * 4) return DropReason::kInnerHeader;
    inner_ecn = pt[1] & 3;
  } else if (next_header == kNextHeaderIpv6) {
    if (payload < 40 || (pt[0] >> 4) != 6) return DropReason::kInnerHeader;
    inner_len = 40u + load_be16(pt + 4);
    inner_ecn = (pt[1] >> 4) & 3;
  } else {
    return DropReason::kBadNextHeader;
  }
  // Shorter than the payload is fine: that is TFC padding (RFC 4303 2.7).
  if (inner_len > payload) return DropReason::kInnerLength;
  // A router drops an IPv4 header whose checksum is wrong (RFC 1812 5.2.2), as classify does for
  // packets off the wire; an authenticated one is no exception (the kernel's ip_rcv checks it
  // after decapsulation too). Forwarded, the TTL's incremental update would keep it wrong.
  if (next_header == kNextHeaderIpv4 && !ipv4_header_checksum_ok(pt, (pt[0] & 0x0fu) * 4)) {
    return DropReason::kIpChecksum;
  }

  // RFC 6040 4.2 decapsulation.
  uint8_t ecn = inner_ecn;
  if (m.outer_ecn == kEcnCe) {
    if (inner_ecn == kEcnNotEct) return DropReason::kEcnCeNotEct;
    ecn = kEcnCe;
  } else if (m.outer_ecn == kEcnEct1 && inner_ecn == kEcnEct0) {
    ecn = kEcnEct1;
  }
  if (ecn != inner_ecn) {
    if (next_header == kNextHeaderIpv4) {
      const uint16_t old_word = load_be16(pt);
      pt[1] = static_cast<uint8_t>((pt[1] & 0xfc) | ecn);
      csum_replace16(pt + 10, old_word, load_be16(pt));
    } else {
      pt[1] = static_cast<uint8_t>((pt[1] & 0xcf) | (ecn << 4));
    }
  }

  p.data_off = static_cast<uint32_t>(pt - p.buf);
  p.data_len = inner_len;
  return DropReason::kNone;
}

// The SA has no owner yet (the first worker to decrypt under it takes it), or its owner has neither
// claimed it nor decrypted under it for kOwnerIdleNs (RSS reconfigured, a NAT rebinding, af_packet
// rollover moved the flow): this worker takes it over. Otherwise the packet is another worker's.
bool EspEngine::claim(Sa& sa) noexcept {
  const uint64_t now_ms = now_ns_ / 1'000'000;
  const uint64_t mine = (now_ms << 32) | index_;
  uint64_t word = sa.owner_.load(std::memory_order_relaxed);
  const uint32_t owner = static_cast<uint32_t>(word);
  if (owner == kNoOwner) {
    // Lost to another worker that claimed it first: the packet is that worker's.
    return sa.owner_.compare_exchange_strong(word, mine, std::memory_order_acquire,
                                             std::memory_order_relaxed);
  }
  const uint32_t since_ms = static_cast<uint32_t>(word >> 32);
  const uint64_t used_ms =
      owner < sa.workers_ ? sa.counters_[owner].last_use_ns.get() / 1'000'000 : 0;
  const uint64_t idle_ms = kOwnerIdleNs / 1'000'000;
  if (static_cast<uint32_t>(now_ms) - since_ms < idle_ms || now_ms < used_ms + idle_ms) {
    return false;
  }
  if (!sa.owner_.compare_exchange_strong(word, mine, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
    return false;
  }
  sa.owner_moves_.add();
  return true;
}

void EspEngine::decrypt_chunk(std::span<PacketView> pkts, std::span<const InboundMeta> meta,
                              std::span<Sa* const> sas, std::span<const uint32_t> tags,
                              std::span<DropReason> reasons) noexcept {
  const size_t n = pkts.size();
  const bool defer = !tags.empty() && room_for(n);
  nsubmit_ = 0;
  uint32_t nops = 0;
  std::array<uint16_t, kMaxBurst> resync_pkt;
  std::array<crypto::CryptoOp, kMaxBurst>& ops = ops_;
  uint32_t nresync = 0;
  // Packets already dropped by parse_inbound() were counted there; new drops are counted where
  // they happen (rare), so that no pass over the burst is needed for them.
  auto drop = [&](size_t i, DropReason r) {
    reasons[i] = r;
    count_drop(sas[i], r);
  };
  // A dummy packet (a lane's keepalive, docs/lanes.md "Lane liveness") passed the ICV and replay
  // checks: the SA is in use, but there is nothing to deliver. The caller frees it (reason set);
  // it is counted as a keepalive, not as a drop.
  auto keepalive = [&](size_t i, Sa& sa) {
    reasons[i] = DropReason::kDummy;
    count_keepalive_in(sa);
  };

  const Sa* owned = nullptr;  // the last SA this worker was found to own: one check per run
  for (size_t i = 0; i < n; ++i) {
    if (reasons[i] != DropReason::kNone) continue;
    Sa* sa = sas[i];
    if (sa == nullptr || !sa->inbound_) {
      drop(i, DropReason::kUnknownSpi);
      continue;
    }
    if (sa != owned) {
      if (!own(*sa)) {
        drop(i, DropReason::kSaOtherWorker);
        continue;
      }
      owned = sa;
    }
    const InboundMeta& m = meta[i];
    if (sa->outer().udp_encap != m.udp) {
      drop(i, DropReason::kEncapMismatch);
      continue;
    }
    uint8_t* esp = pkts[i].data() + m.esp_off;
    const uint32_t esp_len = pkts[i].data_len - m.esp_off;
    const uint32_t iv = sa->iv_len_;
    const uint32_t icv = sa->icv_len_;
    if (esp_len < 8 + iv + icv + sa->align_mask_ + 1) {
      drop(i, DropReason::kTruncated);
      continue;
    }
    const uint32_t ct_len = esp_len - 8 - iv - icv;
    if ((ct_len & sa->align_mask_) != 0) {
      drop(i, DropReason::kBadCipherLength);
      continue;
    }
    const ReplayWindow::Check chk = sa->replay_.check(load_be32(esp + 4));
    if (chk.reason != DropReason::kNone) {
      drop(i, chk.reason);
      continue;
    }
    seq_[i] = chk.seq;
    if (sa->esn_ && sa->params_.esn_resync_threshold != 0 &&
        sa->auth_failures_ >= sa->params_.esn_resync_threshold) {
      resync_pkt[nresync++] = static_cast<uint16_t>(i);
      continue;
    }
    Deferred* d = defer && !sa->aead_ ? &next_slot() : nullptr;
    crypto::CryptoOp& op = d != nullptr ? d->op : ops[nops];
    op.keys = sa->keys_.get();
    op.esp = esp;
    op.iv = esp + 8;
    op.src = esp + 8 + iv;
    op.dst = esp + 8 + iv;
    op.len = ct_len;
    op.icv = esp + 8 + iv + ct_len;
    op.seq_hi = static_cast<uint32_t>(chk.seq >> 32);
    op.esn = sa->esn_;
    op.ok = false;
    if (d != nullptr) {
      d->view = pkts[i];
      d->sa = sa;
      d->seq = chk.seq;
      d->meta = m;
      d->tag = tags[i];
      d->outbound = false;
      commit_slot(*d);
      reasons[i] = kDeferred;
      continue;
    }
    op_pkt_[nops++] = static_cast<uint16_t>(i);
  }

  backend_.decrypt(std::span(ops.data(), nops));
  submit_committed(false);

  TrafficRun run;
  for (uint32_t k = 0; k < nops; ++k) {
    const size_t i = op_pkt_[k];
    Sa& sa = *sas[i];
    if (!ops[k].ok) {
      ++sa.auth_failures_;
      drop(i, DropReason::kAuthFailed);
      continue;
    }
    const DropReason r = finish_inbound(sa, pkts[i], meta[i], ops[k], seq_[i]);
    if (r == DropReason::kNone) {
      count_traffic(run, sa, pkts[i].data_len);
    } else if (r == DropReason::kDummy) {
      keepalive(i, sa);
    } else {
      drop(i, r);
    }
  }

  for (uint32_t k = 0; k < nresync; ++k) {
    const size_t i = resync_pkt[k];
    Sa& sa = *sas[i];
    const InboundMeta& m = meta[i];
    uint8_t* esp = pkts[i].data() + m.esp_off;
    const uint32_t iv = sa.iv_len_;
    const uint32_t ct_len = pkts[i].data_len - m.esp_off - 8 - iv - sa.icv_len_;
    crypto::CryptoOp op{sa.keys_.get(),
                        esp,
                        esp + 8,
                        esp + 8 + iv,
                        resync_buf_.get(),
                        ct_len,
                        esp + 8 + iv + ct_len,
                        static_cast<uint32_t>(seq_[i] >> 32),
                        true,
                        false};
    const DropReason r = resync(sa, pkts[i], m, op, seq_[i]);
    if (r == DropReason::kNone) {
      count_traffic(run, sa, pkts[i].data_len);
    } else if (r == DropReason::kDummy) {
      keepalive(i, sa);
    } else {
      drop(i, r);
    }
  }
  flush_traffic(run);
}

DropReason EspEngine::finish_deferred_inbound(Deferred& d) noexcept {
  Sa& sa = *d.sa;
  if (!d.op.ok) {
    ++sa.auth_failures_;
    return DropReason::kAuthFailed;
  }
  const DropReason r = finish_inbound(sa, d.view, d.meta, d.op, d.seq);
  if (r == DropReason::kNone) {
    count_traffic(reap_run_, sa, d.view.data_len);
  } else if (r == DropReason::kDummy) {
    count_keepalive_in(sa);
  }
  return r;
}

// RFC 4303 Appendix A3: after many consecutive ICV failures the receiver may have lost 2^32 or
// more packets. Verify with the inferred seq_hi and, failing that, with seq_hi + 1. Decryption goes
// to a scratch buffer so the ciphertext survives for the second trial.
DropReason EspEngine::resync(Sa& sa, PacketView& p, const InboundMeta& m, crypto::CryptoOp& op,
                             uint64_t seq) noexcept {
  // An earlier packet of this burst may have re-synchronised the window already: infer seq_hi
  // again from the window as it is now, or every later packet of the burst would verify only
  // at seq_hi + 1 and be counted as one more re-synchronisation.
  const ReplayWindow::Check chk = sa.replay_.check(static_cast<uint32_t>(seq));
  if (chk.reason != DropReason::kNone) return chk.reason;
  seq = chk.seq;
  op.seq_hi = static_cast<uint32_t>(seq >> 32);
  backend_.decrypt(std::span(&op, 1));
  if (!op.ok) {
    seq = sa.replay_.next_subspace(seq);
    op.seq_hi = static_cast<uint32_t>(seq >> 32);
    backend_.decrypt(std::span(&op, 1));
    if (!op.ok) {
      ++sa.auth_failures_;
      return DropReason::kAuthFailed;
    }
    esn_resyncs_.add();
  }
  std::memcpy(const_cast<uint8_t*>(op.src), op.dst, op.len);
  op.dst = const_cast<uint8_t*>(op.src);
  return finish_inbound(sa, p, m, op, seq);
}

}  // namespace espgw::esp
