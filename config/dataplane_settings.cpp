#include <bit>

#include "config/parser.h"

namespace espgw::config {

void Parser::dataplane(const Value& v, DataplaneConfig& d) {
  auto f = map(v, {"workers", "crypto", "mbufs", "rx_ring", "tx_ring", "control_socket",
                   "exception_pps", "arp_hold_packets", "arp_retries", "arp_retry_ms",
                   "neighbour_ttl_s", "idle_sleep_us", "lane_port_base", "lane_keepalive_ms",
                   "lane_dead_ms", "sa_state_file", "sa_state_interval_ms"});
  if (!f) return;
  read_uint(*f, "workers", d.workers, 1, kMaxWorkers);
  if (auto x = f->get("crypto")) {
    if (auto s = scalar(*x, "a crypto backend")) {
      if (auto k = crypto::parse_backend(*s)) {
        d.crypto = *k;
      } else {
        error(*x, "unknown crypto backend " + quote(*s) + " (expected ipsec-mb or openssl)");
      }
    }
  }
  read_uint(*f, "mbufs", d.mbufs, 0, UINT32_MAX);
  for (auto [key, ring] : {std::pair{"rx_ring", &d.rx_ring}, std::pair{"tx_ring", &d.tx_ring}}) {
    if (auto x = f->get(key)) {
      if (auto n = integer(*x, 64, 32768)) {
        if (std::has_single_bit(*n)) {
          *ring = static_cast<uint16_t>(*n);
        } else {
          error(*x, "must be a power of two, got " + quote(x->node.Scalar()));
        }
      }
    }
  }
  if (auto x = f->get("control_socket")) {
    if (auto s = socket_path(*x)) d.control_socket = *s;
  }
  if (auto x = f->get("sa_state_file")) {
    if (auto s = absolute_path(*x)) d.sa_state_file = *s;
  }
  read_uint(*f, "sa_state_interval_ms", d.sa_state_interval_ms, 0, 60000);
  read_uint(*f, "exception_pps", d.exception_pps, 1, UINT32_MAX);
  read_uint(*f, "arp_hold_packets", d.arp_hold_packets, 0, 1024);
  read_uint(*f, "arp_retries", d.arp_retries, 0, 100);
  read_uint(*f, "arp_retry_ms", d.arp_retry_ms, 1, 3600000);
  read_uint(*f, "neighbour_ttl_s", d.neighbour_ttl_s, 1, 86400);
  read_uint(*f, "idle_sleep_us", d.idle_sleep_us, 0, 100000);
  if (auto x = f->get("lane_port_base")) {
    if (auto n = integer(*x, 1, 65535 - (kLanePorts - 1))) {
      // The IKE ports are charon's: a lane sending from one would look like IKE to the peer.
      for (uint64_t ike : {500, 4500}) {
        if (ike >= *n && ike < *n + kLanePorts) {
          error(*x, "the lane ports " + std::to_string(*n) + "-" +
                        std::to_string(*n + kLanePorts - 1) + " contain the IKE port " +
                        std::to_string(ike) + ", got " + quote(x->node.Scalar()));
        }
      }
      d.lane_port_base = static_cast<uint16_t>(*n);
    }
  }
  read_uint(*f, "lane_keepalive_ms", d.lane_keepalive_ms, 0, 60000);
  d.lane_dead_ms = 4 * d.lane_keepalive_ms;
  if (auto x = f->get("lane_dead_ms")) {
    if (auto n = integer(*x, 1, 600000)) {
      if (d.lane_keepalive_ms != 0 && *n <= d.lane_keepalive_ms) {
        error(*x, "must be more than lane_keepalive_ms (" + std::to_string(d.lane_keepalive_ms) +
                      "), got " + quote(x->node.Scalar()));
      }
      d.lane_dead_ms = static_cast<uint32_t>(*n);
    }
  }
}

}  // namespace espgw::config
