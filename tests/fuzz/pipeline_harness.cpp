#include "tests/fuzz/pipeline_harness.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/bytes.h"
#include "config/config.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"
#include "dataplane/tables/model.h"
#include "dataplane/worker/worker.h"
#include "tests/fuzz/dpdk_fuzz_env.h"
#include "tests/support/esp_craft.h"
#include "tests/support/sa_test_access.h"
#include "tests/support/worker_test_access.h"

namespace espgw::fuzz {
namespace {

using dp::kNoPort;

// The gateway (the device strings are not probed: the harness makes the ports). The peer's
// outer addresses are those esp_craft.h's wrap_outer() writes as the source.
// LAB ONLY: these keys are published in this repository.
constexpr char kConfig[] = R"(
dataplane:
  workers: 1
  crypto: ipsec-mb
  control_socket: /nonexistent/pipeline-fuzz.sock
  sa_state_interval_ms: 0
interfaces:
  - name: wan
    device: net_ring0
    mac: 02:00:00:00:0a:01
    addresses: [198.51.100.1/24, 2001:db8::1/64]
    mtu: 1400
  - name: lan
    device: net_ring2
    mac: 02:00:00:00:0a:02
    addresses: [10.1.0.1/24, fd00:1::1/64]
routes:
  - {prefix: 0.0.0.0/0, interface: wan, via: 198.51.100.254}
  - {prefix: 10.9.0.0/16, interface: lan, via: 10.1.0.9}
  - {prefix: 10.8.0.0/16, interface: lan, via: 10.1.0.8}
  - {prefix: "fd00:9::/48", interface: lan, via: "fd00:1::9"}
tunnels:
  - name: t4
    local: 198.51.100.1
    remote: 203.0.113.2
    local_cidrs: [10.1.0.0/24, 10.9.0.0/16]
    remote_cidrs: [10.2.0.0/16]
    static_sa:
      outbound: {spi: 0x1001, algorithm: aes128gcm16, key: 0x000102030405060708090a0b0c0d0e0f10111213}
      inbound: {spi: 0x2001, algorithm: aes128gcm16, key: 0x202122232425262728292a2b2c2d2e2f, salt: 0x30313233}
  - name: t6
    local: 2001:db8::1
    remote: 2001:db8::2
    local_cidrs: ["fd00:1::/64"]
    remote_cidrs: ["fd00:2::/48"]
    static_sa:
      outbound: {spi: 0x1002, algorithm: aes128-sha256, key: 0x404142434445464748494a4b4c4d4e4f, auth_key: 0x505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f}
      inbound: {spi: 0x2002, algorithm: aes128-sha256, key: 0x707172737475767778797a7b7c7d7e7f, auth_key: 0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f}
)";

constexpr std::array<uint8_t, 6> kPeerMac = {0x02, 0, 0, 0, 0x0b, 0x01};
constexpr uint32_t kDataRoom = 2048 + 256 + RTE_PKTMBUF_HEADROOM;
constexpr size_t kMaxFrame = 2048 + 128;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "pipeline harness: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

uint64_t fixed_seed(void*) {
  return 0x0123456789abcdefull;
}

void put_eth(std::vector<uint8_t>& f, const uint8_t* dst, const uint8_t* src, uint16_t type) {
  f.insert(f.begin(), 14, 0);
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, src, 6);
  store_be16(f.data() + 12, type);
}

}  // namespace

struct PipelineHarness::State {
  config::Config cfg;
  rte_mempool* pool = nullptr;
  std::unique_ptr<dp::Runtime> rt;
  std::unique_ptr<dp::Model> model;
  std::unique_ptr<dp::Snapshot> snap;
  dp::NeighbourSnapshot neigh;
  std::unique_ptr<dp::Worker> worker;
  std::unique_ptr<crypto::CryptoBackend> sealer;
  uint64_t now_tsc = 0;
  Outcome last;
  // Faults for the next run(): filler mbufs of a pool of their own fill a port's ring.
  rte_mempool* filler = nullptr;
  bool fill_tx[2] = {false, false};
  bool fill_control = false;
  std::vector<rte_mbuf*> taken;  // take_mbufs()
  uint64_t fill_ring(uint16_t port_id);
  void unfill_ring(uint16_t port_id, uint64_t n);
  bool verbose = std::getenv("PIPELINE_HARNESS_VERBOSE") != nullptr;  // each turn's outcomes

  // Frames a port sent, checked and freed; returns how many.
  uint64_t drain_port(const dp::Port& p, bool check_ip);
  uint64_t drain_rings();  // held and inside packets, freed; returns how many
  uint64_t drops() const;
  std::vector<uint8_t> craft(const uint8_t* data, size_t size) const;
  void reset_sas();
};

uint64_t PipelineHarness::State::drain_port(const dp::Port& p, bool check_ip) {
  uint64_t n = 0;
  rte_mbuf* m[32];
  for (uint16_t got; (got = rte_eth_rx_burst(p.port_id, 0, m, 32)) != 0;) {
    for (uint16_t i = 0; i < got; ++i) {
      const auto* f = rte_pktmbuf_mtod(m[i], const uint8_t*);
      const uint32_t len = m[i]->data_len;
      // A broken check names the frame: port, length and its first 64 bytes.
      auto expect = [&](bool ok, const char* what) {
        if (ok) return;
        std::fprintf(stderr, "pipeline harness: port %s, frame of %u bytes:", p.name.c_str(), len);
        for (uint32_t b = 0; b < std::min<uint32_t>(len, 64); ++b)
          std::fprintf(stderr, "%s%02x", b % 16 ? " " : "\n  ", f[b]);
        std::fprintf(stderr, "\n");
        fail(what);
      };
      expect(m[i]->nb_segs == 1 && len == m[i]->pkt_len, "a sent frame in segments");
      expect(len >= 14, "a sent frame shorter than Ethernet");
      const uint16_t type = load_be16(f + 12);
      if (check_ip && (type == 0x0800 || type == 0x86dd)) {
        expect(std::memcmp(f + 6, p.mac.addr_bytes, 6) == 0, "an IP frame not from the port's MAC");
        const uint8_t* ip = f + 14;
        const uint32_t room = len - 14;
        uint32_t ip_len = 0;
        if (type == 0x0800) {
          expect(room >= 20 && (ip[0] >> 4) == 4 && (ip[0] & 15) >= 5, "a bad IPv4 header sent");
          expect(ipv4_header_checksum_ok(ip, (ip[0] & 15u) * 4), "an IPv4 checksum wrong");
          ip_len = load_be16(ip + 2);
        } else {
          expect(room >= 40 && (ip[0] >> 4) == 6, "a bad IPv6 header sent");
          ip_len = 40u + load_be16(ip + 4);
        }
        expect(ip_len <= room, "an IP packet longer than its frame");
        expect(ip_len <= p.mtu, "an IP packet over the port's MTU");
      }
      rte_pktmbuf_free(m[i]);
      ++n;
    }
  }
  return n;
}

uint64_t PipelineHarness::State::drain_rings() {
  uint64_t n = 0;
  dp::ControlMsg msg;
  while (rte_ring_sc_dequeue_elem(rt->to_control, &msg, sizeof msg) == 0) {
    if (msg.type == dp::ControlMsg::Type::kHold) {
      rte_pktmbuf_free(msg.mbuf);
      ++n;
    }
  }
  dp::InsidePacket in;
  while (rte_ring_sc_dequeue_elem(rt->to_inside, &in, sizeof in) == 0) {
    rte_pktmbuf_free(in.mbuf);
    ++n;
  }
  return n;
}

// A net_ring port's RX and TX are one ring: fillers sent on it wait there, first in line.
uint64_t PipelineHarness::State::fill_ring(uint16_t port_id) {
  uint64_t n = 0;
  for (;;) {
    rte_mbuf* m = rte_pktmbuf_alloc(filler);
    check(m != nullptr, "the filler pool is empty");
    if (rte_eth_tx_burst(port_id, 0, &m, 1) == 0) {
      rte_pktmbuf_free(m);
      return n;
    }
    ++n;
  }
}

void PipelineHarness::State::unfill_ring(uint16_t port_id, uint64_t n) {
  while (n != 0) {
    rte_mbuf* m[32];
    const uint16_t got =
        rte_eth_rx_burst(port_id, 0, m, static_cast<uint16_t>(std::min<uint64_t>(n, 32)));
    check(got != 0, "fillers gone from a ring");
    for (uint16_t i = 0; i < got; ++i) {
      check(m[i]->pool == filler, "a frame ahead of the fillers");
      rte_pktmbuf_free(m[i]);
    }
    n -= got;
  }
}

uint64_t PipelineHarness::State::drops() const {
  uint64_t n = 0;  // the stages' and the ESP engine's, as espgw reports them
  for (size_t r = 0; r < kDropReasonCount; ++r)
    n += worker->drops.count[r].get() + worker->engine.drops().count[r].get();
  return n;
}

void PipelineHarness::State::reset_sas() {
  for (const auto& [spi, rec] : model->inbound()) {
    esp::SaTestAccess::replay(*rec.sa).reset(0);
    esp::SaTestAccess::set_auth_failures(*rec.sa, 0);
  }
  for (const auto& [spi, rec] : model->outbound())
    esp::SaTestAccess::set_next_seq(*rec.sa, 1);
}

std::vector<uint8_t> PipelineHarness::State::craft(const uint8_t* data, size_t size) const {
  if (size < kPipeCraftedHeader) return {};
  const uint64_t seq = load_be64(data);
  const uint8_t flags = data[8];
  const bool v6 = flags & kCraftV6Tunnel;
  const esp::Sa& sa = *model->inbound().at(v6 ? 0x2002 : 0x2001).sa;
  const std::span<const uint8_t> inner(data + 9, size - 9);
  const uint8_t next = !inner.empty() && (inner[0] >> 4) == 6 ? 41 : 4;
  const auto plain = test::esp_plaintext(inner, sa.algorithm(), next);
  const std::array<uint8_t, 16> iv = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  auto esp = test::seal_esp(*sealer, sa.keys(), false, sa.spi(), seq, iv, plain);
  if (esp.empty()) return {};
  if (flags & kCraftCorruptIcv) esp.back() ^= 0x01;
  test::OuterSpec o;
  o.v6 = v6;
  auto frame = test::wrap_outer(o, esp);
  put_eth(frame, rt->ports[0].mac.addr_bytes, kPeerMac.data(), v6 ? 0x86dd : 0x0800);
  return frame;
}

std::vector<uint8_t> ipv4_packet(uint32_t src, uint32_t dst, uint8_t proto, size_t payload,
                                 uint8_t ttl, bool df) {
  std::vector<uint8_t> p(20 + payload, 0);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<uint16_t>(p.size()));
  store_be16(&p[4], 0x1234);
  if (df) p[6] = 0x40;
  p[8] = ttl;
  p[9] = proto;
  store_be32(&p[12], src);
  store_be32(&p[16], dst);
  store_be16(&p[10], ipv4_header_checksum(p.data(), 20));
  if (proto == 1 && payload >= 8) p[20] = 8;  // echo request
  if (proto == 6 && payload >= 24) {          // a SYN with an MSS option of 1460
    p[32] = 0x60;
    p[33] = 0x02;
    p[40] = 2;
    p[41] = 4;
    store_be16(&p[42], 1460);
  }
  if (proto == 17 && payload >= 8) {  // IKE
    store_be16(&p[20], 500);
    store_be16(&p[22], 500);
    store_be16(&p[24], static_cast<uint16_t>(payload));
  }
  return p;
}

PipelineHarness::PipelineHarness() : s_(std::make_unique<State>()) {
  start_eal("pipeline_fuzz", 4);
  State& s = *s_;
  try {
    s.cfg = config::parse(kConfig, "pipeline_harness");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline harness: %s\n", e.what());
    std::exit(1);
  }
  s.pool = rte_pktmbuf_pool_create("fuzz_pipeline", 2047, 0, 0, kDataRoom, SOCKET_ID_ANY);
  check(s.pool != nullptr, "no mbuf pool");
  s.rt = std::make_unique<dp::Runtime>(s.cfg.dataplane);
  s.rt->workers = 1;
  s.rt->tsc_hz = rte_get_tsc_hz();
  s.rt->to_control = rte_ring_create_elem("fuzz_to_ctl", sizeof(dp::ControlMsg), 4096,
                                          SOCKET_ID_ANY, RING_F_SC_DEQ);
  s.rt->to_inside = rte_ring_create_elem("fuzz_to_inside", sizeof(dp::InsidePacket), 4096,
                                         SOCKET_ID_ANY, RING_F_SC_DEQ);
  s.rt->to_worker.push_back(rte_ring_create_elem("fuzz_to_w0", sizeof(dp::TxRequest), 1024,
                                                 SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
  check(s.rt->to_control && s.rt->to_inside && s.rt->to_worker[0], "no rings");
  std::vector<dp::PortDesc> descs;
  for (uint16_t i = 0; i < 2; ++i) {
    const config::Interface& ifc = s.cfg.interfaces[i];
    dp::Port p;
    p.name = ifc.name;
    p.index = i;
    p.port_id = start_ring_port(2u * i, s.pool);
    p.exc_port_id = start_ring_port(2u * i + 1, s.pool);
    std::memcpy(p.mac.addr_bytes, ifc.mac->data(), 6);
    p.mtu = ifc.mtu;
    p.addresses = ifc.addresses;
    descs.push_back({p.name, p.mtu, p.addresses});
    s.rt->ports.push_back(std::move(p));
  }
  try {
    s.model = std::make_unique<dp::Model>(std::move(descs), 1);
    s.model->load(s.cfg, fixed_seed, nullptr);
    s.snap = s.model->build(1, 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline harness: %s\n", e.what());
    std::exit(1);
  }
  // Resolved: the default route's next hop, the IPv6 peer, two LAN hosts and one LAN next hop.
  // 10.1.0.8 (10.8.0.0/16's next hop) and every other LAN address are not: held.
  auto nb = [](uint16_t port, uint8_t last) {
    dp::Neighbour n;
    n.mac = {0x02, 0, 0, 0, static_cast<uint8_t>(0x0b + port), last};
    n.port = port;
    return n;
  };
  s.neigh.v4 = FlatMap<uint32_t, dp::Neighbour, U32Hash>(
      {{0xc63364feu, nb(0, 1)}, {0x0a010002u, nb(1, 2)}, {0x0a010009u, nb(1, 9)}});
  dp::Ip6Key peer6{};
  dp::Ip6Key host6{};
  const uint8_t p6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const uint8_t h6[16] = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::memcpy(peer6.bytes.data(), p6, 16);
  std::memcpy(host6.bytes.data(), h6, 16);
  s.neigh.v6 =
      FlatMap<dp::Ip6Key, dp::Neighbour, dp::Ip6Hash>({{peer6, nb(0, 2)}, {host6, nb(1, 2)}});
  s.worker = std::make_unique<dp::Worker>(*s.rt, 0, s.pool, crypto::BackendKind::kIpsecMb);
  s.worker->snap = s.snap.get();
  s.worker->neigh = &s.neigh;
  s.sealer = crypto::make_backend(crypto::BackendKind::kOpenSsl);
  s.filler = rte_pktmbuf_pool_create("fuzz_filler", 2047, 0, 0, 256, SOCKET_ID_ANY);
  check(s.filler != nullptr, "no filler pool");
  s.now_tsc = s.rt->tsc_hz;
}

PipelineHarness::~PipelineHarness() = default;

const PipelineHarness::Outcome& PipelineHarness::last() const {
  return s_->last;
}

void PipelineHarness::fill_tx_ring(unsigned port) {
  s_->fill_tx[port & 1] = true;
}

void PipelineHarness::fill_control_ring() {
  s_->fill_control = true;
}

void PipelineHarness::take_mbufs(size_t leave) {
  while (rte_mempool_avail_count(s_->pool) > leave)
    s_->taken.push_back(rte_pktmbuf_alloc(s_->pool));
}

void PipelineHarness::give_back_mbufs() {
  for (rte_mbuf* m : s_->taken)
    rte_pktmbuf_free(m);
  s_->taken.clear();
}

void PipelineHarness::run(const uint8_t* data, size_t size) {
  if (size == 0) return;
  State& s = *s_;
  const uint8_t ctl = data[0];
  ++data;
  --size;
  const uint8_t enter = ctl & kEnterMask;
  std::vector<uint8_t> frame;
  if (ctl & kPipeCrafted) {
    frame = s.craft(data, size);
  } else {
    frame.assign(data, data + std::min(size, kMaxFrame));
    if (ctl & kPipeAddEthernet) {
      const bool v6 = !frame.empty() && (frame[0] >> 4) == 6;
      const dp::Port& p = s.rt->ports[enter & 1];
      put_eth(frame, p.mac.addr_bytes, kPeerMac.data(), v6 ? 0x86dd : 0x0800);
    }
  }
  if (frame.empty() || frame.size() > kMaxFrame) return;
  // The crafted frames enter the WAN; the others where byte 0 says.
  const uint8_t where = (ctl & kPipeCrafted) ? kEnterWan : enter;
  const dp::Port& port = s.rt->ports[where & 1];
  const bool from_kernel = where >= kEnterWanKernel;
  s.reset_sas();
  dp::Worker& w = *s.worker;
  for (int pass = 0; pass < ((ctl & kPipeTwice) ? 2 : 1); ++pass) {
    // One second on per turn: the rate limits refill, as they would between packets far apart.
    s.now_tsc += s.rt->tsc_hz;
    w.now_tsc = s.now_tsc;
    w.engine.set_now(s.now_tsc / s.rt->tsc_hz * 1000000000ull);
    const uint16_t n = (ctl & kPipeDuplicate) ? 2 : 1;
    rte_mbuf* m[2];
    check(rte_pktmbuf_alloc_bulk(s.pool, m, n) == 0, "the pool is empty before a turn");
    for (uint16_t i = 0; i < n; ++i) {
      char* p = rte_pktmbuf_append(m[i], static_cast<uint16_t>(frame.size()));
      check(p != nullptr, "a frame larger than an mbuf");
      std::memcpy(p, frame.data(), frame.size());
    }
    std::array<uint64_t, kDropReasonCount> by_reason{};
    for (size_t r = 0; r < kDropReasonCount; ++r)
      by_reason[r] = w.drops.count[r].get() + w.engine.drops().count[r].get();
    const uint64_t drops_before = s.drops();
    uint64_t fillers[2] = {};
    for (unsigned p = 0; p < 2; ++p) {
      if (s.fill_tx[p]) fillers[p] = s.fill_ring(s.rt->ports[p].port_id);
    }
    if (s.fill_control) {
      dp::ControlMsg msg{};
      msg.type = dp::ControlMsg::Type::kLearn;
      while (rte_ring_mp_enqueue_elem(s.rt->to_control, &msg, sizeof msg) == 0) {
      }
    }
    if (from_kernel) {
      dp::stages::from_kernel(w, port, m, n);
    } else {
      dp::stages::classify(w, port, m, n);
    }
    // A reaped packet may make one for the lanes (an ICMP error into the CBC tunnel), whose
    // error makes none: two turns at most, and a third finds the lanes empty.
    check(dp::WorkerTestAccess::end_turn(w, 3) <= 2 && w.engine.deferred() == 0,
          "packets left in the crypto lanes");
    const uint64_t dropped = s.drops() - drops_before;
    const uint64_t held = s.drain_rings();
    for (unsigned p = 0; p < 2; ++p)
      s.unfill_ring(s.rt->ports[p].port_id, fillers[p]);
    s.fill_tx[0] = s.fill_tx[1] = s.fill_control = false;
    uint64_t sent[2][2] = {};  // [port][0: the port, 1: its kernel interface]
    for (const dp::Port& p : s.rt->ports) {
      sent[p.index][0] = s.drain_port(p, !from_kernel);
      sent[p.index][1] = s.drain_port({p.name, p.index, p.exc_port_id}, false);
    }
    const uint64_t outcomes = dropped + held + sent[0][0] + sent[0][1] + sent[1][0] + sent[1][1];
    s.last = Outcome{};
    std::memcpy(s.last.sent, sent, sizeof sent);
    s.last.held = held;
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      s.last.drops[r] = w.drops.count[r].get() + w.engine.drops().count[r].get() - by_reason[r];
    }
    if (s.verbose) {
      std::fprintf(stderr,
                   "pass %d: wan %llu, wan kernel %llu, lan %llu, lan kernel %llu, held %llu, "
                   "dropped %llu\n",
                   pass, static_cast<unsigned long long>(sent[0][0]),
                   static_cast<unsigned long long>(sent[0][1]),
                   static_cast<unsigned long long>(sent[1][0]),
                   static_cast<unsigned long long>(sent[1][1]),
                   static_cast<unsigned long long>(held), static_cast<unsigned long long>(dropped));
      for (size_t r = 0; r < kDropReasonCount; ++r) {
        const uint64_t c = w.drops.count[r].get() + w.engine.drops().count[r].get();
        if (c != 0) {
          std::fprintf(stderr, "  %s: %llu so far\n",
                       std::string(drop_reason_name(static_cast<DropReason>(r))).c_str(),
                       static_cast<unsigned long long>(c));
        }
      }
    }
    if (outcomes < n) {
      std::fprintf(stderr, "pipeline harness: pass %d: %u frame(s) in, %llu outcome(s)\n", pass, n,
                   static_cast<unsigned long long>(outcomes));
      fail("a frame without an outcome (sent, to the kernel, held or dropped)");
    }
    check(rte_mempool_in_use_count(s.pool) == s.taken.size(), "an mbuf left out of the pool");
  }
}

std::vector<std::vector<uint8_t>> PipelineHarness::seeds() {
  std::vector<std::vector<uint8_t>> out;
  const auto ipv4 = ipv4_packet;
  auto ipv6 = [](uint8_t src_first, uint8_t src_last, uint8_t dst_first, uint8_t dst_last,
                 uint8_t proto, size_t payload, uint8_t hops) {
    std::vector<uint8_t> p(40 + payload, 0);
    p[0] = 0x60;
    store_be16(&p[4], static_cast<uint16_t>(payload));
    p[6] = proto;
    p[7] = hops;
    const uint8_t pre[2][4] = {{0xfd, 0, 0, 1}, {0xfd, 0, 0, 2}};
    std::memcpy(&p[8], pre[src_first], 4);
    p[23] = src_last;
    std::memcpy(&p[24], pre[dst_first], 4);
    p[39] = dst_last;
    if (proto == 58 && payload >= 8) p[40] = 128;  // echo request
    return p;
  };
  auto raw = [&](uint8_t ctl, const std::vector<uint8_t>& pkt) {
    std::vector<uint8_t> in{static_cast<uint8_t>(ctl | kPipeAddEthernet)};
    in.insert(in.end(), pkt.begin(), pkt.end());
    out.push_back(std::move(in));
  };
  auto crafted = [&](uint8_t ctl, uint64_t seq, uint8_t flags, const std::vector<uint8_t>& pkt) {
    std::vector<uint8_t> in{static_cast<uint8_t>(ctl | kPipeCrafted)};
    for (int i = 7; i >= 0; --i)
      in.push_back(static_cast<uint8_t>(seq >> (8 * i)));
    in.push_back(flags);
    in.insert(in.end(), pkt.begin(), pkt.end());
    out.push_back(std::move(in));
  };
  const uint32_t lan_host = 0x0a010002;   // 10.1.0.2, resolved
  const uint32_t lan_other = 0x0a01004d;  // 10.1.0.77, not: held
  const uint32_t remote = 0x0a020005;     // 10.2.0.5, into t4
  const uint32_t internet = 0x08080808;   // the default route
  // LAN -> tunnel: ping, a SYN (MSS clamp), DF clear and too large (fragments), DF set (ICMP
  // fragmentation needed), TTL 1 (time exceeded), twice in one burst.
  raw(kEnterLan, ipv4(lan_host, remote, 1, 64, 64, false));
  raw(kEnterLan, ipv4(lan_host, remote, 6, 24, 64, true));
  raw(kEnterLan, ipv4(lan_host, remote, 17, 1370, 64, false));
  raw(kEnterLan, ipv4(lan_host, remote, 17, 1370, 64, true));
  raw(kEnterLan, ipv4(lan_host, remote, 1, 64, 1, false));
  raw(kEnterLan | kPipeDuplicate, ipv4(lan_host, remote, 1, 64, 64, false));
  // LAN -> internet (forwarded out of the WAN), LAN -> a held LAN next hop, a martian.
  raw(kEnterLan, ipv4(lan_host, internet, 1, 64, 64, false));
  raw(kEnterLan, ipv4(lan_host, internet, 17, 1460, 64, false));
  raw(kEnterLan, ipv4(lan_host, 0x0a080001, 1, 64, 64, false));
  raw(kEnterLan, ipv4(0x7f000001, remote, 1, 64, 64, false));
  // WAN: IKE to us (the kernel), a ping to us, transit to the LAN.
  raw(kEnterWan, ipv4(0xcb007102, 0xc6336401, 17, 100, 64, false));
  raw(kEnterWan, ipv4(0xcb007102, 0xc6336401, 1, 56, 64, false));
  raw(kEnterWan, ipv4(internet, lan_host, 1, 56, 64, false));
  raw(kEnterWan, ipv4(internet, lan_host, 17, 1460, 64, false));
  // IPv6: LAN -> t6 (CBC + HMAC), too large for it, hop limit 1; a held LAN neighbour.
  raw(kEnterLan, ipv6(0, 2, 1, 5, 58, 64, 64));
  raw(kEnterLan, ipv6(0, 2, 1, 5, 17, 1340, 64));
  raw(kEnterLan, ipv6(0, 2, 1, 5, 58, 64, 1));
  raw(kEnterWan, ipv6(1, 5, 0, 0x33, 58, 64, 64));
  // ARP requests for our WAN address and for another one.
  {
    std::vector<uint8_t> arp(28, 0);
    store_be16(&arp[0], 1);
    store_be16(&arp[2], 0x0800);
    arp[4] = 6;
    arp[5] = 4;
    store_be16(&arp[6], 1);
    std::memcpy(&arp[8], kPeerMac.data(), 6);
    store_be32(&arp[14], 0xc63364fe);
    store_be32(&arp[24], 0xc6336401);
    std::vector<uint8_t> f = arp;
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    put_eth(f, bcast, kPeerMac.data(), 0x0806);
    out.push_back({kEnterWan});
    out.back().insert(out.back().end(), f.begin(), f.end());
    store_be32(&f[14 + 24], 0xc6336463);
    out.push_back({kEnterWan});
    out.back().insert(out.back().end(), f.begin(), f.end());
  }
  // ESP into the WAN: each tunnel to a resolved and a held host, replayed, a bad ICV, padding
  // that is not RFC 4303's, an inner packet outside the selectors.
  crafted(0, 1, 0, ipv4(remote, lan_host, 1, 64, 64, false));
  crafted(0, 2, 0, ipv4(remote, lan_other, 1, 64, 64, false));
  crafted(kPipeTwice, 3, 0, ipv4(remote, lan_host, 6, 24, 64, true));
  crafted(kPipeDuplicate, 4, 0, ipv4(remote, lan_host, 1, 1300, 64, false));
  crafted(0, 5, kCraftCorruptIcv, ipv4(remote, lan_host, 1, 64, 64, false));
  crafted(0, 6, 0, ipv4(internet, lan_host, 1, 64, 64, false));
  crafted(0, 7, 0, ipv4(remote, 0xc6336401, 1, 64, 64, false));
  crafted(0, 1, kCraftV6Tunnel, ipv6(1, 5, 0, 2, 58, 64, 64));
  crafted(0, 9, kCraftV6Tunnel, ipv6(1, 5, 0, 0x44, 58, 64, 64));
  crafted(kPipeTwice, 10, kCraftV6Tunnel, ipv6(1, 5, 0, 2, 17, 1200, 64));
  // The kernel's own: IKE out of the WAN, a ping into the tunnel, ARP as is.
  raw(kEnterWanKernel, ipv4(0xc6336401, 0xcb007102, 17, 100, 64, false));
  raw(kEnterLanKernel, ipv4(0x0a010001, remote, 1, 64, 64, false));
  out.push_back({kEnterWanKernel, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0x0a, 1, 8, 6});
  out.back().resize(60, 0);
  // Garbage: an empty Ethernet frame, a truncated IP header.
  out.push_back({kEnterWan | kPipeAddEthernet});
  out.push_back({kEnterLan | kPipeAddEthernet, 0x45, 0, 0, 40});
  return out;
}

}  // namespace espgw::fuzz
