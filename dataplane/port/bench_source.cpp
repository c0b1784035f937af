#include "dataplane/port/bench_source.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace espgw::dp {
namespace {

constexpr const char* kPrefix = "bench_source";
// Bytes of each frame written into a recycled mbuf: one cache line holds Ethernet + IPv6 + UDP.
constexpr uint32_t kHeadBytes = 64;

struct Frame {
  std::vector<uint8_t> head;  // the first kHeadBytes (or fewer) bytes
  uint16_t len = 0;
};

// The frames of a classic pcap file (either byte order, micro- or nanosecond stamps), Ethernet.
std::vector<Frame> read_pcap(const std::string& path, uint16_t max_len) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("bench_source: cannot open " + path);
  std::unique_ptr<FILE, int (*)(FILE*)> guard(f, std::fclose);
  uint8_t gh[24];
  if (std::fread(gh, 1, sizeof gh, f) != sizeof gh) {
    throw std::runtime_error("bench_source: " + path + ": not a pcap file");
  }
  uint32_t magic;
  std::memcpy(&magic, gh, 4);
  bool swap;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    swap = false;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    swap = true;
  } else {
    throw std::runtime_error("bench_source: " + path + ": not a pcap file");
  }
  auto u32 = [&](const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
  };
  if (u32(gh + 20) != 1) throw std::runtime_error("bench_source: " + path + ": not Ethernet");
  std::vector<Frame> frames;
  std::vector<uint8_t> buf(65536);
  uint8_t rh[16];
  while (std::fread(rh, 1, sizeof rh, f) == sizeof rh) {
    const uint32_t caplen = u32(rh + 8);
    const uint32_t len = u32(rh + 12);
    if (caplen > buf.size() || std::fread(buf.data(), 1, caplen, f) != caplen) {
      throw std::runtime_error("bench_source: " + path + ": truncated record");
    }
    if (len != caplen || len < 14 || len > max_len) {
      throw std::runtime_error("bench_source: " + path + ": frame " +
                               std::to_string(frames.size() + 1) + " of " + std::to_string(len) +
                               " bytes (captured " + std::to_string(caplen) +
                               ") does not fit an mbuf");
    }
    Frame fr;
    fr.len = static_cast<uint16_t>(len);
    fr.head.assign(buf.begin(), buf.begin() + std::min(len, kHeadBytes));
    frames.push_back(std::move(fr));
  }
  if (frames.empty()) throw std::runtime_error("bench_source: " + path + ": no frames");
  return frames;
}

// One RX queue's source: its worker's pool and its place in the frame list.
struct Queue {
  const std::vector<Frame>* frames = nullptr;
  rte_mempool* pool = nullptr;
  size_t next = 0;
};

// Runs inside rte_eth_rx_burst() on the worker's lcore, after net_null (no-rx) found nothing:
// fills the burst with recycled mbufs (the worker's own mempool cache hands back what TX freed
// a moment ago) and writes each one's headers.
uint16_t fill(uint16_t, uint16_t, rte_mbuf** pkts, uint16_t nb, uint16_t max, void* user) {
  auto* q = static_cast<Queue*>(user);
  const uint16_t want = static_cast<uint16_t>(max - nb);
  if (want == 0 || rte_pktmbuf_alloc_bulk(q->pool, pkts + nb, want) != 0) return nb;
  const std::vector<Frame>& frames = *q->frames;
  size_t k = q->next;
  for (uint16_t i = nb; i < max; ++i) {
    const Frame& f = frames[k];
    k = k + 1 == frames.size() ? 0 : k + 1;
    std::memcpy(rte_pktmbuf_mtod(pkts[i], uint8_t*), f.head.data(), f.head.size());
    pkts[i]->data_len = f.len;
    pkts[i]->pkt_len = f.len;
  }
  q->next = k;
  return max;
}

struct Source {
  std::vector<Frame> frames;
  std::vector<std::unique_ptr<Queue>> queues;
  std::vector<const rte_eth_rxtx_callback*> callbacks;
  uint16_t port = 0;
};

std::vector<std::unique_ptr<Source>>& sources() {
  static std::vector<std::unique_ptr<Source>> all;
  return all;
}

std::string pcap_of(const std::string& devargs) {
  std::string pcap;
  size_t pos = std::strlen(kPrefix);
  while (pos < devargs.size()) {
    const size_t end = std::min(devargs.find(',', pos + 1), devargs.size());
    const std::string kv = devargs.substr(pos + 1, end - pos - 1);
    if (kv.rfind("pcap=", 0) == 0) {
      pcap = kv.substr(5);
    } else {
      throw std::runtime_error("bench_source: unknown argument \"" + kv + "\" (pcap=FILE)");
    }
    pos = end;
  }
  if (pcap.empty()) throw std::runtime_error("bench_source needs pcap=FILE");
  return pcap;
}

}  // namespace

bool is_bench_source(const std::string& devargs) noexcept {
  return devargs.rfind(kPrefix, 0) == 0 &&
         (devargs.size() == std::strlen(kPrefix) || devargs[std::strlen(kPrefix)] == ',');
}

std::string bench_source_device(const std::string& iface) {
  return "net_null_bench_" + iface + ",no-rx=1";
}

void attach_bench_source(const std::string& devargs, uint16_t port,
                         const std::vector<rte_mempool*>& pools) {
  auto src = std::make_unique<Source>();
  const uint16_t room = static_cast<uint16_t>(
      std::min(rte_pktmbuf_data_room_size(pools.at(0)) - RTE_PKTMBUF_HEADROOM, 65535));
  src->frames = read_pcap(pcap_of(devargs), room);
  src->port = port;
  for (size_t q = 0; q < pools.size(); ++q) {
    auto queue = std::make_unique<Queue>();
    queue->frames = &src->frames;
    queue->pool = pools[q];
    const rte_eth_rxtx_callback* cb =
        rte_eth_add_rx_callback(port, static_cast<uint16_t>(q), fill, queue.get());
    if (cb == nullptr) {
      throw std::runtime_error("bench_source: cannot add an RX callback: " +
                               std::string(rte_strerror(rte_errno)));
    }
    src->callbacks.push_back(cb);
    src->queues.push_back(std::move(queue));
  }
  sources().push_back(std::move(src));
}

void stop_bench_sources() noexcept {
  // The callbacks stay registered until the port closes; their state goes after it (the workers
  // have stopped by then).
  sources().clear();
}

}  // namespace espgw::dp
