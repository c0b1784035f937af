// The BGP side of one tunnel of an AWS dynamic-routing (BGP) connection, from either format, into
// espgw's values (aws_vpn.h): the two ASNs, our inside address(es) with their prefix, AWS's
// inside address as the neighbour, the hold time. A value espgw cannot take fails with its line;
// docs/routing.md describes what the importer writes from them.

#include <charconv>

#include "common/redact.h"
#include "config/config.h"
#include "config/import/aws_vpn.h"
#include "config/import/text.h"

namespace espgw::import::aws {
namespace {

const Field& need(const AwsConnection& c, const AwsTunnel& t, const Field& f, const char* text,
                  const char* xml) {
  if (f.line) return f;
  if (c.xml) {
    fail(c.source, t.line,
         t.where + ": missing <" + xml + "> (a dynamic-routing connection has it)");
  }
  fail(c.source, t.line,
       t.where + ": no \"- " + text +
           " : ...\" under \"#4: Border Gateway Protocol (BGP) Configuration\" (is the file "
           "complete?)");
}

// "65000": 1 to 4294967294 (4-byte ASNs; 4294967295 is reserved, RFC 7300).
uint32_t asn(const std::string& source, const Field& f) {
  uint64_t n = 0;
  const std::string& v = f.value;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 4294967294ull) {
    fail(source, f, "expected an AS number (1 to 4294967294), got " + quote(v));
  }
  return static_cast<uint32_t>(n);
}

// "169.254.44.2/30" or "fd00:44::2/126": ours, host bits kept. espgw takes /30 or /31 (IPv4) and
// /126 or /127 (IPv6), as config.h's Tunnel::inside does.
InterfaceAddress inside_prefix(const std::string& source, const Field& f) {
  const auto a = InterfaceAddress::parse(f.value);
  if (!a || f.value.find('/') == std::string::npos) {
    fail(source, f, "expected an inside address with its prefix length, got " + quote(f.value));
  }
  const bool v4 = a->address.is_v4();
  if (v4 ? (a->length != 30 && a->length != 31) : (a->length != 126 && a->length != 127)) {
    fail(source, f,
         "inside prefix " + quote(f.value) + ": espgw takes a /30 or /31 (IPv6: /126 or /127)");
  }
  return *a;
}

IpAddress address_of(const std::string& source, const Field& f) {
  std::string v = f.value.substr(0, f.value.find('/'));
  const auto a = IpAddress::parse(v);
  if (!a) fail(source, f, "not an IP address: " + quote(f.value));
  return *a;
}

// AWS's inside address in `ours`' prefix: the neighbour. It must be another address of the same
// /30 (/126): the tunnel's inside interface reaches no other.
IpAddress neighbour_in(const std::string& source, const Field& f, const InterfaceAddress& ours) {
  const IpAddress n = address_of(source, f);
  if (n.is_v4() != ours.address.is_v4() || !ours.network().contains(n) || n == ours.address) {
    fail(source, f,
         "BGP neighbour " + n.to_string() + " is not the other end of our inside prefix " +
             ours.to_string());
  }
  return n;
}

}  // namespace

Tunnel::Bgp convert_bgp(const AwsConnection& c, const AwsTunnel& t,
                        std::vector<std::string>& notes) {
  const std::string& src = c.source;
  Tunnel::Bgp b;
  b.local_asn_from = &need(c, t, t.cgw_asn, "Customer Gateway ASN", "customer_gateway/bgp/asn");
  b.local_asn = asn(src, *b.local_asn_from);
  b.remote_asn =
      asn(src, need(c, t, t.vgw_asn, "Virtual Private  Gateway ASN", "vpn_gateway/bgp/asn"));
  if (b.local_asn == b.remote_asn) {
    fail(src, t.cgw_asn,
         "the customer gateway's ASN " + t.cgw_asn.value +
             " is AWS's too: eBGP needs two ASNs (change the customer gateway in AWS)");
  }
  // IPv4 inside /30 and, on an IPv6 connection, the /126: each with its neighbour.
  for (const auto& [ours, theirs] :
       {std::pair{&t.inside_cgw, &t.inside_vgw}, std::pair{&t.inside6_cgw, &t.inside6_vgw}}) {
    if (!ours->line) continue;
    const InterfaceAddress in = inside_prefix(src, *ours);
    b.inside.push_back(in);
    // The text names the neighbour; it is AWS's inside address of the same family.
    const bool text_names_it =
        t.neighbour.line && address_of(src, t.neighbour).is_v4() == in.address.is_v4();
    if (text_names_it) {
      b.neighbours.push_back(neighbour_in(src, t.neighbour, in));
      if (theirs->line && !(address_of(src, *theirs) == b.neighbours.back())) {
        fail(src, t.neighbour,
             "the neighbour is not the Virtual Private Gateway's inside address " + theirs->value +
                 " (line " + std::to_string(theirs->line) + ")");
      }
    } else if (theirs->line) {
      b.neighbours.push_back(neighbour_in(src, *theirs, in));
    } else {
      b.neighbours.push_back(config::inside_peer_address(IpPrefix{in.address, in.length}));
      notes.push_back(src + ":" + std::to_string(ours->line) + ": " + t.where +
                      ": no AWS inside address: the BGP neighbour is the other host of " +
                      in.to_string() + ", " + b.neighbours.back().to_string());
    }
  }
  if (b.inside.empty()) {
    fail(src, t.line,
         t.where +
             (c.xml ? ": missing <customer_gateway/tunnel_inside_address>"
                    : ": no \"Inside IP Addresses\" under \"#3: Tunnel Interface "
                      "Configuration\"") +
             ": BGP runs between the tunnel's inside addresses");
  }
  if (t.hold_time.line) {
    const std::string v = t.hold_time.value;
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    const std::string rest = label_of(std::string_view(end, v.data() + v.size() - end));
    if (ec != std::errc() || end == v.data() || (!rest.empty() && rest != "seconds") ||
        (n != 0 && n < 3) || n > 65535) {
      fail(src, t.hold_time,
           "expected a BGP hold time (0, or 3 to 65535 seconds), got " + quote(v));
    }
    b.hold_s = static_cast<uint32_t>(n);
  } else {
    notes.push_back(src + ":" + std::to_string(t.line) + ": " + t.where +
                    ": no BGP hold time in the file: AWS's 30 s");
  }
  return b;
}

}  // namespace espgw::import::aws
