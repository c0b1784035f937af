// ESP outbound, tunnel mode (RFC 4303 3.1.2, 3.3): sequence numbers, framing, encryption.

#include <array>
#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/esp/esp_engine.h"

namespace espgw::esp {
namespace {

// RFC 4303 2.4: pad bytes are 1, 2, 3, ...
constexpr std::array<uint8_t, 16> kPadBytes = {1, 2,  3,  4,  5,  6,  7,  8,
                                               9, 10, 11, 12, 13, 14, 15, 16};

// RFC 6936 does not let IPv6 UDP go without a checksum here, so it is computed over the finished
// packet (rare: NAT-T over IPv6).
void udp6_checksum(uint8_t* ip6) noexcept {
  uint8_t* udp = ip6 + 40;
  const uint16_t len = load_be16(udp + 4);
  uint32_t sum = csum_partial(ip6 + 8, 32);  // source and destination addresses
  sum += len;
  sum += 17;
  store_be16(udp + 6, 0);
  uint16_t c = csum_fold(csum_partial(udp, len, sum));
  store_be16(udp + 6, c == 0 ? 0xffff : c);
}

// The outer header template is 20, 28, 40 or 48 bytes. Two fixed-size, possibly overlapping copies
// instead of memcpy(len): GCC turns a variable-length copy into `rep movsq`, whose start-up cost
// was a fifth of the whole 64-byte encryption.
inline void copy_outer(uint8_t* dst, const uint8_t* src, uint32_t len) noexcept {
  if (len <= 32) {
    std::memcpy(dst, src, 16);
  } else {
    std::memcpy(dst, src, 32);
  }
  std::memcpy(dst + len - 16, src + len - 16, 16);
}

}  // namespace

void EspEngine::encrypt(std::span<PacketView> pkts, std::span<Sa* const> sas,
                        std::span<DropReason> reasons) noexcept {
  encrypt_chunks(pkts, sas, reasons, {});
}

void EspEngine::encrypt_deferred(std::span<PacketView> pkts, std::span<Sa* const> sas,
                                 std::span<const uint32_t> tags,
                                 std::span<DropReason> reasons) noexcept {
  encrypt_chunks(pkts, sas, reasons, tags);
}

void EspEngine::encrypt_chunks(std::span<PacketView> pkts, std::span<Sa* const> sas,
                               std::span<DropReason> reasons,
                               std::span<const uint32_t> tags) noexcept {
  for (size_t base = 0; base < pkts.size(); base += kMaxBurst) {
    const size_t n = std::min<size_t>(kMaxBurst, pkts.size() - base);
    encrypt_chunk(pkts.subspan(base, n), sas.subspan(base, n), reasons.subspan(base, n),
                  tags.empty() ? tags : tags.subspan(base, n));
  }
}

// One atomic add reserves sequence numbers for a run of packets of one SA. Without ESN the SA
// stops at 2^32 - 1 (RFC 4303 3.3.3: the counter must not cycle); with ESN at 2^64 - 1.
void EspEngine::reserve_sequence(Sa& sa, size_t first, size_t end,
                                 std::span<DropReason> reasons) noexcept {
  const uint64_t count = end - first;
  if (sa.stopped_.load(std::memory_order_relaxed)) {
    for (size_t i = first; i < end; ++i)
      reasons[i] = DropReason::kSaStopped;
    return;
  }
  const uint64_t limit = sa.esn_ ? UINT64_MAX : UINT32_MAX;
  const uint64_t seq0 = sa.next_seq_.fetch_add(count, std::memory_order_relaxed);
  // The usual case: the whole run fits. seq0 is never 0 unless the 64-bit ESN counter wrapped.
  if (seq0 != 0 && seq0 <= limit - (count - 1)) {
    for (uint64_t k = 0; k < count; ++k)
      seq_[first + k] = seq0 + k;
    return;
  }
  bool exhausted = false;
  for (uint64_t k = 0; k < count; ++k) {
    // With ESN the 64-bit counter itself wraps after 2^64 - 1: a burst that starts at 0 comes
    // after one that ended exactly at the limit, and must not send 0, 1, 2, ...
    if (exhausted || seq0 > limit - k || seq0 + k == 0) {
      reasons[first + k] = DropReason::kSeqOverflow;
      exhausted = true;
    } else {
      seq_[first + k] = seq0 + k;
    }
  }
  if (exhausted) sa.stopped_.store(true, std::memory_order_relaxed);
}

inline DropReason EspEngine::frame(Sa& sa, PacketView& p, uint64_t seq,
                                   crypto::CryptoOp& op) noexcept {
  const uint32_t len = p.data_len;
  uint8_t* inner = p.data();
  uint8_t next_header;
  uint8_t tos;
  uint8_t inner_df;  // 0x40 when the inner packet must not be fragmented
  if (len >= 20 && (inner[0] >> 4) == 4) {
    next_header = 4;
    tos = inner[1];
    inner_df = inner[6] & 0x40;
  } else if (len >= 40 && (inner[0] >> 4) == 6) {
    next_header = 41;
    tos = static_cast<uint8_t>((inner[0] << 4) | (inner[1] >> 4));
    inner_df = 0x40;  // IPv6 is never fragmented on the way
  } else {
    return DropReason::kInnerHeader;
  }
  return frame_as(sa, p, seq, op, next_header, tos, inner_df);
}

inline DropReason EspEngine::frame_as(Sa& sa, PacketView& p, uint64_t seq, crypto::CryptoOp& op,
                                      uint8_t next_header, uint8_t tos, uint8_t inner_df) noexcept {
  const uint32_t len = p.data_len;
  uint8_t* inner = p.data();
  const OuterHeader& oh = sa.outer();
  const uint32_t icv = sa.icv_len_;
  const uint32_t ct_len = (len + 2 + sa.align_mask_) & ~uint32_t{sa.align_mask_};
  const uint32_t pad = ct_len - len - 2;
  const uint32_t head = oh.head;
  if (p.headroom() < head || p.tailroom() < ct_len - len + icv) return DropReason::kNoBufferRoom;
  const uint32_t total = head + ct_len + icv;
  if (total - (oh.v6 ? 40 : 0) > 65535) return DropReason::kTooBig;

  // Padding 1, 2, 3, ... (at most 3 for GCM, 15 for CBC) in one or two 8-byte stores: the room
  // behind the payload is pad + 2 + ICV >= 14 bytes, and the ICV overwrites what is past the
  // trailer.
  uint8_t* t = inner + len;
  std::memcpy(t, kPadBytes.data(), 8);
  if (pad > 6) std::memcpy(t + 8, kPadBytes.data() + 8, 8);
  t[pad] = static_cast<uint8_t>(pad);
  t[pad + 1] = next_header;

  uint8_t* o = inner - head;
  copy_outer(o, oh.bytes, oh.len);
  const uint8_t out_tos = static_cast<uint8_t>((tos & sa.tos_keep_) | sa.tos_set_);
  uint32_t ip_len;
  if (!oh.v6) {
    ip_len = 20;
    const uint16_t id = ip_id_++;
    const uint8_t df = static_cast<uint8_t>((inner_df & sa.df_keep_) | sa.df_set_);
    o[1] = out_tos;
    store_be16(o + 2, static_cast<uint16_t>(total));
    store_be16(o + 4, id);
    o[6] = df;
    // From the SA's precomputed sum and the values just written, not by reading the header back:
    // that read followed the header's stores so closely that it stalled on store forwarding.
    const uint32_t sum = oh.csum_base + out_tos + total + id + (uint32_t{df} << 8);
    store_be16(o + 10, csum_fold(sum));
  } else {
    ip_len = 40;
    o[0] = static_cast<uint8_t>(0x60 | out_tos >> 4);
    o[1] = static_cast<uint8_t>(out_tos << 4);
    store_be16(o + 4, static_cast<uint16_t>(total - 40));
  }
  if (oh.len != ip_len) store_be16(o + ip_len + 4, static_cast<uint16_t>(total - ip_len));

  uint8_t* esp = o + oh.len;
  std::memcpy(esp, &sa.spi_be_, 4);
  store_be32(esp + 4, static_cast<uint32_t>(seq));
  uint8_t* iv = esp + 8;
  if (sa.aead_) {
    store_be64(iv, sa.iv_base_ + seq);
  } else {
    iv_.fill16(iv);
  }

  op.keys = sa.keys_.get();
  op.esp = esp;
  op.iv = iv;
  op.src = inner;
  op.dst = inner;
  op.len = ct_len;
  op.icv = inner + ct_len;
  op.seq_hi = static_cast<uint32_t>(seq >> 32);
  op.esn = sa.esn_;
  op.ok = false;

  p.data_off -= head;
  p.data_len = total;
  return DropReason::kNone;
}

void EspEngine::encrypt_chunk(std::span<PacketView> pkts, std::span<Sa* const> sas,
                              std::span<DropReason> reasons,
                              std::span<const uint32_t> tags) noexcept {
  const size_t n = pkts.size();
  const bool defer = !tags.empty() && room_for(n);
  for (size_t i = 0; i < n; ++i)
    reasons[i] = DropReason::kNone;

  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && sas[j] == sas[i])
      ++j;
    reserve_sequence(*sas[i], i, j, reasons);
    i = j;
  }

  uint32_t nops = 0;
  nsubmit_ = 0;
  for (size_t i = 0; i < n; ++i) {
    if (reasons[i] != DropReason::kNone) continue;
    Sa& sa = *sas[i];
    inner_len_[i] = pkts[i].data_len;
    if (defer && !sa.aead_) {
      Deferred& d = next_slot();
      reasons[i] = frame(sa, pkts[i], seq_[i], d.op);
      if (reasons[i] != DropReason::kNone) continue;
      d.view = pkts[i];
      d.sa = &sa;
      d.inner_len = inner_len_[i];
      d.tag = tags[i];
      d.outbound = true;
      commit_slot(d);
      reasons[i] = kDeferred;
      continue;
    }
    reasons[i] = frame(sa, pkts[i], seq_[i], ops_[nops]);
    if (reasons[i] == DropReason::kNone) op_pkt_[nops++] = static_cast<uint16_t>(i);
  }

  backend_.encrypt(std::span(ops_.data(), nops));
  submit_committed(true);

  bool dropped = nops + nsubmit_ != n;
  TrafficRun run;
  for (uint32_t k = 0; k < nops; ++k) {
    const size_t i = op_pkt_[k];
    Sa& sa = *sas[i];
    if (!ops_[k].ok) {
      reasons[i] = DropReason::kCryptoError;
      dropped = true;
      continue;
    }
    if (sa.outer().udp6) udp6_checksum(pkts[i].data());
    count_traffic(run, sa, inner_len_[i]);
  }
  flush_traffic(run);
  if (dropped) count_drops(sas, reasons);
}

DropReason EspEngine::finish_outbound(Deferred& d) noexcept {
  if (!d.op.ok) return DropReason::kCryptoError;
  if (d.sa->outer().udp6) udp6_checksum(d.view.data());
  count_traffic(reap_run_, *d.sa, d.inner_len);
  return DropReason::kNone;
}

DropReason EspEngine::encrypt_dummy(Sa& sa, PacketView& p) noexcept {
  constexpr uint8_t kNextHeaderDummy = 59;
  std::array<DropReason, 1> reason{DropReason::kNone};
  Sa* const one[1] = {&sa};
  reserve_sequence(sa, 0, 1, reason);
  if (reason[0] == DropReason::kNone) {
    reason[0] = frame_as(sa, p, seq_[0], ops_[0], kNextHeaderDummy, 0, 0);
  }
  if (reason[0] == DropReason::kNone) {
    backend_.encrypt(std::span(ops_.data(), 1));
    if (!ops_[0].ok) reason[0] = DropReason::kCryptoError;
  }
  if (reason[0] != DropReason::kNone) {
    count_drops(one, reason);
    return reason[0];
  }
  if (sa.outer().udp6) udp6_checksum(p.data());
  SaCounters& c = sa.counters_for(index_);
  c.keepalives.add();
  c.last_use_ns.set(now_ns_);
  keepalives_out_.add();
  return DropReason::kNone;
}

}  // namespace espgw::esp
