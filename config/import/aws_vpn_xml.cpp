// AWS's CustomerGatewayConfiguration XML (the API's download) into an AwsConnection (aws_vpn.h):
// <vpn_connection> with its two <ipsec_tunnel>s. Elements the importer does not use are noted.

#include <algorithm>

#include "config/import/aws_vpn.h"
#include "config/import/text.h"
#include "config/import/xml.h"

namespace espgw::import::aws {
namespace {

const XmlElement* child(const XmlElement& e, std::string_view name, const std::string& source,
                        const std::string& where) {
  const XmlElement* found = nullptr;
  for (const auto& ch : e.children) {
    if (ch.name != name) continue;
    if (found) {
      fail(source, ch.line,
           where + ": <" + std::string(name) + "> given twice (first at line " +
               std::to_string(found->line) + ")");
    }
    found = &ch;
  }
  return found;
}

// The element at `path` ("ike/lifetime") below `e`, or null.
const XmlElement* find_path(const XmlElement& e, std::string_view path, const std::string& source,
                            const std::string& where) {
  const XmlElement* cur = &e;
  std::string at = where;
  size_t pos = 0;
  while (cur && pos <= path.size()) {
    const size_t slash = path.find('/', pos);
    const std::string_view part =
        path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    cur = child(*cur, part, source, at);
    at.push_back('/');
    at.append(part);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return cur;
}

// Elements below <ipsec_tunnel> that the importer knows, to note the others.
void note_unknown(const XmlElement& e, const std::string& path,
                  const std::vector<std::string>& known, AwsConnection& c) {
  for (const auto& ch : e.children) {
    const std::string p = path.empty() ? ch.name : path + "/" + ch.name;
    const bool leaf_known = std::find(known.begin(), known.end(), p) != known.end();
    bool prefix_known = false;
    for (const auto& k : known)
      prefix_known = prefix_known || k.starts_with(p + "/");
    if (leaf_known) continue;
    if (prefix_known) {
      note_unknown(ch, p, known, c);
    } else {
      c.notes.push_back(c.source + ":" + std::to_string(ch.line) + ": <" + ch.name +
                        "> is not used");
    }
  }
}

// The paths below <ipsec_tunnel> that are read (or knowingly passed over).
std::vector<std::string> known_elements() {
  std::vector<std::string> known;
  for (const auto& k : kKeys) {
    if (*k.element) known.push_back(k.element);
  }
  for (const char* k :
       {"customer_gateway/tunnel_inside_address/ip_address",
        "customer_gateway/tunnel_inside_address/network_mask",
        "customer_gateway/tunnel_inside_address/network_cidr",
        "vpn_gateway/tunnel_inside_address/ip_address",
        "vpn_gateway/tunnel_inside_address/network_mask",
        "vpn_gateway/tunnel_inside_address/network_cidr",
        "customer_gateway/tunnel_inside_ipv6_address/ip_address",
        "customer_gateway/tunnel_inside_ipv6_address/prefix_length",
        "vpn_gateway/tunnel_inside_ipv6_address/ip_address",
        "vpn_gateway/tunnel_inside_ipv6_address/prefix_length", "customer_gateway/bgp/asn",
        "customer_gateway/bgp/hold_time", "vpn_gateway/bgp/asn", "vpn_gateway/bgp/hold_time",
        "ipsec/fragmentation_before_encryption"}) {
    known.push_back(k);
  }
  return known;
}

// The text of the element at `path` below `e` as a Field, or an empty Field.
Field leaf(const XmlElement& e, const std::string& path, const std::string& source,
           const std::string& where) {
  const XmlElement* x = find_path(e, path, source, where);
  if (!x) return {};
  if (!x->children.empty()) fail(source, x->line, where + "/" + path + ": expected a value");
  const std::string v = trim(x->text);
  if (v.empty()) fail(source, x->line, where + "/" + path + ": empty");
  return Field{v, x->line, where + "/" + path};
}

// An inside address with its prefix length ("169.254.44.2/30"), from <ip_address> and
// <network_cidr> (IPv4) or <prefix_length> (IPv6).
Field inside(const XmlElement& e, const std::string& base, const char* length,
             const std::string& source, const std::string& where) {
  Field f = leaf(e, base + "/ip_address", source, where);
  if (f.line == 0) return f;
  const Field len = leaf(e, base + "/" + length, source, where);
  if (len.line) f.value.append("/").append(len.value);
  f.where = where + "/" + base;
  return f;
}

// <ipsec_tunnel> number `number`.
AwsTunnel read_tunnel(const XmlElement& e, int number, const std::string& source) {
  AwsTunnel t;
  t.number = number;
  t.line = e.line;
  t.where = "vpn_connection/ipsec_tunnel[" + std::to_string(t.number) + "]";
  for (const auto& k : kKeys) {
    if (!*k.element) continue;
    const XmlElement* x = find_path(e, k.element, source, t.where);
    if (!x) continue;
    if (!x->children.empty()) {
      fail(source, x->line, t.where + "/" + k.element + ": expected a value, got elements");
    }
    const std::string v = trim(x->text);
    if (v.empty()) fail(source, x->line, t.where + "/" + k.element + ": empty");
    t.f[k.key] = Field{v, x->line, t.where + "/" + k.element};
  }
  const std::string cgw = "customer_gateway", vgw = "vpn_gateway";
  t.inside_cgw = inside(e, cgw + "/tunnel_inside_address", "network_cidr", source, t.where);
  t.inside_vgw = inside(e, vgw + "/tunnel_inside_address", "network_cidr", source, t.where);
  t.inside6_cgw = inside(e, cgw + "/tunnel_inside_ipv6_address", "prefix_length", source, t.where);
  t.inside6_vgw = inside(e, vgw + "/tunnel_inside_ipv6_address", "prefix_length", source, t.where);
  // Dynamic routing: <bgp> under each gateway. The neighbour is AWS's inside address; the hold
  // time AWS's (the customer gateway's is the same in every download seen).
  t.cgw_asn = leaf(e, cgw + "/bgp/asn", source, t.where);
  t.vgw_asn = leaf(e, vgw + "/bgp/asn", source, t.where);
  t.hold_time = leaf(e, vgw + "/bgp/hold_time", source, t.where);
  if (t.hold_time.line == 0) t.hold_time = leaf(e, cgw + "/bgp/hold_time", source, t.where);
  return t;
}

}  // namespace

AwsConnection parse_xml_connection(const std::string& text, const std::string& source) {
  AwsConnection c;
  c.source = source;
  c.xml = true;
  const XmlElement root = parse_xml(text, source);
  if (root.name != "vpn_connection") {
    fail(source, root.line,
         "<" + root.name +
             "> where <vpn_connection> was expected (is this "
             "AWS's CustomerGatewayConfiguration?)");
  }
  if (const auto* id = root.attribute("id")) c.vpn_id = *id;
  const std::string rw = "vpn_connection";
  if (const auto* e = child(root, "customer_gateway_id", source, rw)) c.cgw_id = trim(e->text);
  if (const auto* e = child(root, "vpn_gateway_id", source, rw)) c.vgw_id = trim(e->text);
  bool static_attr = false;
  if (const auto* e = child(root, "vpn_connection_attributes", source, rw)) {
    static_attr = trim(e->text) == "NoBGPVPNConnection";
    if (!static_attr) c.bgp_line = e->line;
  }
  const std::vector<std::string> known = known_elements();
  for (const auto& e : root.children) {
    if (e.name == "customer_gateway_id" || e.name == "vpn_gateway_id" ||
        e.name == "vpn_connection_type" || e.name == "vpn_connection_attributes") {
      continue;
    }
    if (e.name != "ipsec_tunnel") {
      c.notes.push_back(source + ":" + std::to_string(e.line) + ": <" + e.name + "> is not used");
      continue;
    }
    if (c.tunnels.size() == 2) {
      fail(source, e.line, "a third <ipsec_tunnel> (an AWS VPN connection has two)");
    }
    AwsTunnel t = read_tunnel(e, static_cast<int>(c.tunnels.size()) + 1, source);
    note_unknown(e, "", known, c);
    // Without <vpn_connection_attributes>NoBGPVPNConnection, <bgp> says dynamic routing.
    if (c.bgp_line == 0 && !static_attr && (t.cgw_asn.line || t.vgw_asn.line)) {
      c.bgp_line = t.cgw_asn.line ? t.cgw_asn.line : t.vgw_asn.line;
    }
    c.tunnels.push_back(std::move(t));
  }
  c.last_line = root.line;
  return c;
}

}  // namespace espgw::import::aws
