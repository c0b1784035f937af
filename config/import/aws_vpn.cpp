// import-aws: an AWS Site-to-Site VPN connection's configuration, as the console downloads it for
// the vendor "Generic" (text) or as the API's CustomerGatewayConfiguration (XML), into an espgw
// config. A static-routing connection's two tunnels become one peer (failover); a dynamic-routing
// (BGP) connection's become route-based tunnels, each with its BGP neighbour, and a top-level
// `bgp` that announces the local CIDRs: both tunnels carry traffic (ECMP). Both formats fill the
// same AwsConnection; the conversion does not care which it came from.
//
// This file is the driver and the YAML it writes; aws_vpn.h lists the files that read the two
// formats and convert a tunnel.

#include <algorithm>

#include "config/charon_retransmit.h"
#include "config/import/aws_vpn.h"
#include "config/import/import.h"
#include "config/import/site.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {
namespace {

using aws::AwsConnection;
using aws::Field;
using aws::Tunnel;

// The file in either format, with its two tunnels.
AwsConnection read_connection(const std::string& text, const std::string& source) {
  const size_t first = text.find_first_not_of(" \t\r\n\xef\xbb\xbf");
  if (first == std::string::npos) throw ImportError(source + ":1: the file is empty");
  const bool xml = text[first] == '<';
  AwsConnection c = xml ? aws::parse_xml_connection(text, source) : aws::parse_text(text, source);
  if (c.tunnels.size() >= 2) return c;
  if (xml) {
    aws::fail(source, c.last_line,
              "vpn_connection has " + std::to_string(c.tunnels.size()) +
                  " <ipsec_tunnel>, an AWS VPN connection has two (is the file "
                  "complete?)");
  }
  aws::fail(source, c.last_line,
            c.tunnels.empty()
                ? "no \"IPSec Tunnel #1\" section: not an AWS VPN configuration (Generic) download?"
                : "the file ends after IPSec Tunnel #1: an AWS VPN connection has two tunnels (is "
                  "the file complete?)");
}

// The VPC's networks: --remote-cidr, else the file's static routes.
std::vector<IpPrefix> remote_cidrs(const AwsConnection& c, const Site& site,
                                   const std::string& source) {
  std::vector<IpPrefix> remote = site.remote_cidrs;
  if (remote.empty()) {
    for (const auto& f : c.static_routes) {
      const auto p = *IpPrefix::parse(f.value);
      if (std::find(remote.begin(), remote.end(), p) == remote.end()) remote.push_back(p);
    }
  }
  if (remote.empty()) {
    throw ImportError(source +
                      ": AWS's file does not name the VPC's networks: give them with "
                      "--remote-cidr CIDR (repeatable)");
  }
  return remote;
}

// One tunnel of the generated config, each line with the input line it came from.
class TunnelWriter {
 public:
  TunnelWriter(YamlWriter& y, const Tunnel& t, const std::string& source)
      : y_(y), t_(t), source_(source), o_{source, t.from->line, t.from->where} {}

  void write(const IpAddress& local, bool nat, const std::vector<IpPrefix>& local_cidrs,
             const std::vector<IpPrefix>& remote) {
    y_.line(2, "- name: " + t_.name, "", o_);
    y_.line(4, "local: " + local.to_string(),
            nat ? "the WAN port's address (NAT: the EIP maps onto it)" : "");
    std::string inside;
    if (!t_.bgp && !t_.from->inside_cgw.value.empty()) {
      inside = " (inside: " + t_.from->inside_cgw.value + ", for BGP only)";
    }
    y_.line(4, "remote: " + t_.vgw.to_string(),
            "tunnel " + std::to_string(t_.from->number) + "'s outside address" + inside,
            at("outside.vgw"));
    if (t_.bgp) {
      bgp();
    } else {
      y_.line(4, "local_cidrs: " + prefix_list(local_cidrs));
      y_.line(4, "remote_cidrs: " + prefix_list(remote));
    }
    y_.line(4, std::string("nat_t: ") + (nat ? "true" : "false"),
            nat ? "behind a NAT (an Elastic IP): ESP in UDP 4500" : "no NAT between us and AWS");
    if (t_.clear_df) y_.line(4, "df: clear", "AWS: clear the Don't Fragment bit", at("clear_df"));
    if (t_.mtu) {
      y_.line(4, "mtu: " + std::to_string(*t_.mtu), "AWS: tunnel interface MTU", at("mtu"));
    }
    y_.line(4, "mss: " + std::to_string(t_.mss), "AWS: TCP MSS adjustment", at("mss"));
    ike();
  }

 private:
  Origin at(std::string_view key) const {
    const Field* f = t_.from->get(key);
    return f ? Origin{source_, f->line, f->where} : o_;
  }

  // A route-based tunnel: any-to-any selectors (what AWS negotiates for a BGP connection), the
  // inside address(es) and the BGP neighbour.
  void bgp() {
    const Tunnel::Bgp& b = *t_.bgp;
    std::vector<std::string> any, inside, neighbours;
    for (const auto& in : b.inside) {
      any.push_back(in.address.is_v4() ? "0.0.0.0/0" : "\"::/0\"");
      inside.push_back(in.address.is_v4() ? in.to_string() : yaml_quote(in.to_string()));
    }
    for (const auto& n : b.neighbours)
      neighbours.push_back(n.is_v4() ? n.to_string() : yaml_quote(n.to_string()));
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v)
        s += (s.empty() ? "" : ", ") + x;
      return "[" + s + "]";
    };
    y_.line(4, "local_cidrs: " + list(any),
            "route-based: BGP's routes decide what enters the tunnel");
    y_.line(4, "remote_cidrs: " + list(any), "the selectors AWS negotiates with BGP");
    const Field& in = t_.from->inside_cgw.line ? t_.from->inside_cgw : t_.from->inside6_cgw;
    y_.line(4, "inside: " + list(inside), "AWS: Inside IP Addresses, Customer Gateway",
            Origin{source_, in.line, in.where});
    y_.line(4, "bgp:");
    const Field& asn = t_.from->vgw_asn;
    y_.line(6, "remote_asn: " + std::to_string(b.remote_asn), "AWS: the Amazon side's ASN",
            Origin{source_, asn.line, asn.where});
    const Field& nb = t_.from->neighbour.line ? t_.from->neighbour : t_.from->inside_vgw;
    y_.line(6, "neighbours: " + list(neighbours), "AWS's inside address",
            Origin{source_, nb.line, nb.where});
    const Field& hold = t_.from->hold_time;
    y_.line(6, "hold_s: " + std::to_string(b.hold_s), "AWS: BGP hold time",
            hold.line ? Origin{source_, hold.line, hold.where} : o_);
    y_.line(6, "keepalive_s: " + std::to_string(b.hold_s / 3), "a third of the hold time");
    y_.line(6, "bfd: false",
            "AWS runs no BFD: a dead tunnel's routes go when the hold time runs out");
  }

  void ike() {
    y_.line(4, "ike:");
    y_.line(6, "version: " + std::to_string(t_.version), "", at("ike.version"));
    y_.line(6, "local_id: " + yaml_quote(t_.cgw.to_string()),
            "the customer gateway's address, the identity AWS expects", at("outside.cgw"));
    y_.line(6, "psk_ref: " + t_.name);
    y_.line(6, "ike_proposals: [" + t_.ike_proposal + "]", "", at("ike.encryption"));
    y_.line(6, "esp_proposals: [" + t_.esp_proposal + "]", "", at("esp.encryption"));
    y_.line(6, "ike_lifetime_s: " + std::to_string(t_.ike_life), "AWS phase 1 lifetime",
            at("ike.lifetime"));
    y_.line(6, "child_lifetime_s: " + std::to_string(t_.child_life), "AWS phase 2 lifetime",
            at("esp.lifetime"));
    // AWS's own rekey margin is 540 s, at most half the phase 2 lifetime; with the fuzz of 100 %
    // the margin must stay below a lifetime's half.
    const uint32_t margin =
        std::max<uint32_t>(1, std::min<uint32_t>(540, std::min(t_.child_life, t_.ike_life) / 4));
    y_.line(6, "rekey_margin_s: " + std::to_string(margin));
    y_.line(6, "rekey_fuzz_percent: 100");
    y_.line(6, "dpd_delay_s: " + std::to_string(t_.dpd_delay), "AWS: DPD interval",
            at("dpd.interval"));
    if (t_.version == 2) {
      // charon ignores dpd_timeout for IKEv2; espgw-up sets its retransmissions from this, and
      // espgw starts a DPD as soon as a tunnel's inbound traffic stops while it sends: failover
      // in about 2 + 10 s (docs/deploy-aws.md "Failover"). AWS's own side gives up after
      // interval x retries.
      y_.line(6, "dpd_timeout_s: " + std::to_string(config::kDefaultIkev2DpdTimeout),
              "an unanswered DPD: tunnel dead (AWS's side: " +
                  std::to_string(t_.dpd_delay * t_.dpd_retries) + " s, interval x retries)",
              at("dpd.retries"));
    } else {
      y_.line(6, "dpd_timeout_s: " + std::to_string(t_.dpd_delay * t_.dpd_retries),
              "interval x retries (" + std::to_string(t_.dpd_retries) + ")", at("dpd.retries"));
    }
    y_.line(6, "dpd_action: restart");
    y_.line(6, "start_action: start", "we start IKE: AWS waits for the customer gateway");
  }

  YamlWriter& y_;
  const Tunnel& t_;
  const std::string& source_;
  const Origin o_;
};

// The header comment and dataplane:, interfaces:, routes:.
void write_head(YamlWriter& y, const AwsConnection& c, const std::string& source, const Site& site,
                const InterfaceAddress& wan_fallback) {
  y.comment(0, "espgw config for AWS Site-to-Site VPN connection " +
                   (c.vpn_id.empty() ? std::string("(no id in the file)") : c.vpn_id) +
                   (c.cgw_id.empty() ? "" : ", customer gateway " + c.cgw_id) +
                   (c.vgw_id.empty() ? "" : ", virtual private gateway " + c.vgw_id) + ".");
  y.comment(0, "Written by `espgwctl import-aws` from " + source +
                   ". The pre-shared keys are in the secrets file named at the end, not here. "
                   "Lines marked EDIT are placeholders to replace.");
  y.blank();
  write_site(y, site, wan_fallback, true,
             "the customer gateway's address stands here; on EC2 give the DPDK ENI's private "
             "address and prefix (--wan-address 172.31.1.10/24): the Elastic IP maps onto it",
             source);
}

// The top-level bgp: section of a dynamic-routing connection: our ASN (the customer gateway's,
// the same on both tunnels) and what we announce (the local CIDRs, at most AWS's 100).
void write_bgp(YamlWriter& y, const std::vector<Tunnel>& tunnels, const Site& site,
               const std::string& source, std::vector<std::string>& notes) {
  const Tunnel::Bgp& first = *tunnels[0].bgp;
  for (const auto& t : tunnels) {
    if (t.bgp->local_asn != first.local_asn) {
      aws::fail(source, *t.bgp->local_asn_from,
                "customer gateway ASN " + std::to_string(t.bgp->local_asn) + " where " +
                    tunnels[0].name + " has " + std::to_string(first.local_asn) +
                    ": espgw's bgp has one ASN");
    }
  }
  constexpr size_t kAwsMaxPrefixes = 100;  // AWS takes at most 100 prefixes from a gateway
  if (site.local_cidrs.size() > kAwsMaxPrefixes) {
    throw ImportError(source + ": " + std::to_string(site.local_cidrs.size()) +
                      " --local-cidr: AWS accepts at most 100 prefixes from a customer gateway "
                      "over BGP (more and it drops the session): summarise them");
  }
  bool v4 = false, v6 = false;
  for (const auto& t : tunnels) {
    for (const auto& in : t.bgp->inside)
      (in.address.is_v4() ? v4 : v6) = true;
  }
  std::vector<IpPrefix> announce;
  for (const auto& p : site.local_cidrs) {
    const bool p4 = p.address.is_v4();
    if (p4 ? v4 : v6) {
      announce.push_back(p);
      continue;
    }
    notes.push_back(source + ": --local-cidr " + p.to_string() +
                    " is not announced: the connection's tunnels have no " +
                    (p4 ? "IPv4" : "IPv6") + " inside address, and AWS takes IPv" +
                    (p4 ? "4" : "6") + " prefixes only over an IPv" + (p4 ? "4" : "6") +
                    " VPN connection");
  }
  if (announce.empty()) {
    throw ImportError(source + ": no --local-cidr of the connection's address family to announce");
  }
  if (!site.remote_cidrs.empty()) {
    notes.push_back(source +
                    ": --remote-cidr is not used with BGP: the VPC's networks are the routes "
                    "AWS announces");
  }
  const Field& asn = *first.local_asn_from;
  y.line(0, "bgp:", "FRR's bgpd beside espgw (docs/routing.md); implies routing.fpm");
  y.line(2, "asn: " + std::to_string(first.local_asn), "AWS: Customer Gateway ASN",
         Origin{source, asn.line, asn.where});
  y.line(2, "announce: " + prefix_list(announce),
         "--local-cidr: all that AWS is sent (at most 100)");
  y.line(2, "maximum_paths: 8", "both tunnels' routes at once (ECMP)");
}

}  // namespace

Result import_aws(const std::string& text, const std::string& source, const Site& site,
                  const AwsOptions& options) {
  const AwsConnection c = read_connection(text, source);
  if (site.local_cidrs.empty()) {
    throw ImportError(source +
                      ": AWS's file does not name the networks behind this gateway: give "
                      "them with --local-cidr CIDR (repeatable)");
  }
  Result r;
  r.notes = c.notes;
  const bool dynamic = c.bgp_line && !options.static_routing;
  if (c.bgp_line && options.static_routing) {
    r.notes.push_back(source + ":" + std::to_string(c.bgp_line) +
                      ": the connection uses BGP (dynamic routing); --static-routing: the "
                      "VPC's CIDRs come from --remote-cidr, and the connection needs static routes "
                      "to --local-cidr in AWS (or keep BGP on another router)");
  }
  const std::vector<IpPrefix> remote = dynamic ? site.remote_cidrs : remote_cidrs(c, site, source);
  std::vector<Tunnel> tunnels;
  for (const auto& t : c.tunnels) {
    tunnels.push_back(aws::convert(c, t, options, r.notes));
    if (dynamic) tunnels.back().bgp = aws::convert_bgp(c, t, r.notes);
  }
  if (!(tunnels[0].cgw == tunnels[1].cgw)) {
    r.notes.push_back(source + ": the two tunnels name different customer gateway addresses (" +
                      tunnels[0].cgw.to_string() + ", " + tunnels[1].cgw.to_string() +
                      "); the WAN placeholder uses the first");
  }
  // Without --wan-address the customer gateway's address stands on the WAN port: right for a
  // gateway that holds its public address, not on EC2 (an Elastic IP is a NAT).
  InterfaceAddress wan_fallback{tunnels[0].cgw,
                                static_cast<uint8_t>(tunnels[0].cgw.is_v4() ? 24 : 64)};
  const IpAddress local = wan_local(site, wan_fallback);
  const bool nat = !(local == tunnels[0].cgw);
  YamlWriter y;
  write_head(y, c, source, site, wan_fallback);
  y.blank();
  if (dynamic) {
    write_bgp(y, tunnels, site, source, r.notes);
    y.blank();
  }
  y.line(0, "tunnels:");
  for (const auto& t : tunnels) {
    TunnelWriter(y, t, source).write(local, nat, site.local_cidrs, remote);
    r.secrets[t.name] = t.psk;
  }
  y.blank();
  if (dynamic) {
    y.comment(0,
              "No peers: with BGP both tunnels carry traffic (ECMP over the routes AWS announces "
              "on each); a tunnel that dies takes its routes with it when its BGP hold time "
              "runs out, and the other carries all.");
    write_secrets_file(y, site);
    y.move_into(r);
    return r;
  }
  y.line(0, "peers:");
  y.line(2, "- name: " + options.name + "-vpn",
         "AWS keeps one tunnel out of service now and then: traffic takes the first one up");
  y.line(4, "tunnels: [" + tunnels[0].name + ", " + tunnels[1].name + "]");
  y.line(4, "failback: true");
  write_secrets_file(y, site);
  y.move_into(r);
  return r;
}

}  // namespace espgw::import
