#include "dataplane/esp/static_sa_params.h"

namespace espgw::esp {

SaParams static_sa_params(const config::Tunnel& t, const config::StaticSa& sa, Direction dir) {
  SaParams p;
  p.spi = sa.spi;
  p.direction = dir;
  p.algorithm = sa.algorithm;
  p.enc_key = sa.enc_key;
  p.salt = sa.salt;
  p.auth_key = sa.auth_key;
  // SaParams names the outer addresses from this gateway's side in both directions: local is
  // ours (outbound source, inbound destination), remote the peer's.
  p.local = t.local;
  p.remote = t.remote;
  p.udp_encap = t.nat_t;
  p.local_port = t.local_port;
  p.remote_port = t.remote_port;
  p.esn = t.esn;
  p.replay_window = t.replay_window;  // read by inbound SAs only
  p.df = t.df;
  p.copy_dscp = !t.dscp.has_value();
  p.dscp = t.dscp.value_or(0);
  p.ecn = t.ecn;
  p.ttl = t.ttl;
  if (dir == Direction::kOutbound) {
    p.first_seq = sa.oseq + 1;
  } else {
    p.first_seq = sa.seq + 1;
    p.replay_seen = sa.replay_bitmap;
  }
  return p;
}

}  // namespace espgw::esp
