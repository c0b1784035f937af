// AWS's "Generic" text download of a VPN connection's configuration into an AwsConnection
// (aws_vpn.h): the "IPSec Tunnel #N" parts, their "#N: ..." headings and "- Label : value" lines.
// Prose, rules and the lines the importer does not use are passed over (the unused ones noted).

#include <cctype>
#include <charconv>
#include <map>
#include <sstream>

#include "common/redact.h"
#include "config/import/aws_vpn.h"
#include "config/import/text.h"

namespace espgw::import::aws {
namespace {

// Our key for a field's label (label_of) under heading #1 or #2; empty for one not used.
std::string key_in(int section, const std::string& key) {
  static const std::map<std::string, std::string> kIkeLabels = {
      {"ike version", "ike.version"},
      {"authentication method", "ike.auth_method"},
      {"pre-shared key", "ike.psk"},
      {"authentication algorithm", "ike.integrity"},
      {"encryption algorithm", "ike.encryption"},
      {"lifetime", "ike.lifetime"},
      {"phase 1 negotiation mode", "ike.mode"},
      {"diffie-hellman", "ike.dh"},
      {"perfect forward secrecy", "ike.dh"},
  };
  static const std::map<std::string, std::string> kIpsecLabels = {
      {"protocol", "esp.protocol"},
      {"authentication algorithm", "esp.integrity"},
      {"encryption algorithm", "esp.encryption"},
      {"lifetime", "esp.lifetime"},
      {"mode", "esp.mode"},
      {"perfect forward secrecy", "esp.pfs"},
      {"dpd interval", "dpd.interval"},
      {"dpd retries", "dpd.retries"},
      {"tcp mss adjustment", "mss"},
      {"clear don't fragment bit", "clear_df"},
  };
  const auto& labels = section == 1 ? kIkeLabels : kIpsecLabels;
  const auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

class TextParser {
 public:
  explicit TextParser(const std::string& source) { c_.source = source; }

  AwsConnection run(const std::string& text) {
    std::istringstream in(text);
    std::string raw;
    while (std::getline(in, raw)) {
      ++line_;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      const std::string s = trim(raw);
      if (s.empty()) continue;
      const std::string l = label_of(s);
      if (l.starts_with("ipsec tunnel #")) {
        tunnel_heading(s, l);
      } else if (l.starts_with("additional notes")) {
        ended_ = true;
        if (t_) t_->end_line = line_ - 1;
        t_ = nullptr;
      } else if (s.size() > 2 && s[0] == '#' && std::isdigit(static_cast<unsigned char>(s[1])) &&
                 s.find(':') != std::string::npos && t_) {
        section_heading(s, l);
      } else if (l.starts_with("outside ip addresses")) {
        subsection_ = "outside";
      } else if (l.starts_with("inside ip addresses")) {
        subsection_ = "inside";
      } else if (l.starts_with("inside ipv6 addresses")) {
        subsection_ = "inside6";
      } else if (!t_ && l.starts_with("your ") && s.find(':') != std::string::npos) {
        connection_id(s);
      } else if (s.starts_with("- ") && t_ && !ended_) {
        field(s);
      }  // else prose, "-----" rules
    }
    if (t_) t_->end_line = line_;
    c_.last_line = line_;
    return std::move(c_);
  }

 private:
  // "IPSec Tunnel #N": the next tunnel.
  void tunnel_heading(const std::string& s, const std::string& l) {
    const std::string num = l.substr(14);
    int n = 0;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (ec != std::errc() || end != num.data() + num.size()) {
      fail(c_.source, line_, "a tunnel heading without its number: " + quote(s));
    }
    if (n != static_cast<int>(c_.tunnels.size()) + 1 || n > 2) {
      fail(c_.source, line_,
           "IPSec Tunnel #" + std::to_string(n) + " where #" +
               std::to_string(c_.tunnels.size() + 1) +
               (c_.tunnels.size() >= 2 ? " or the end (an AWS VPN connection has two tunnels)"
                                       : " was expected"));
    }
    if (t_) t_->end_line = line_ - 1;
    c_.tunnels.push_back({});
    t_ = &c_.tunnels.back();
    t_->number = n;
    t_->line = line_;
    t_->where = "IPSec Tunnel #" + std::to_string(n);
    section_ = 0;
    subsection_.clear();
    static_routing_ = false;
    bgp_ = false;
  }

  // "#N: ..." inside a tunnel.
  void section_heading(const std::string& s, const std::string& l) {
    section_ = s[1] - '0';
    subsection_.clear();
    static_routing_ = l.find("static rout") != std::string::npos;
    bgp_ = l.find("border gateway protocol") != std::string::npos;
    if (bgp_ && c_.bgp_line == 0) c_.bgp_line = line_;
  }

  // "Your VPN Connection ID : vpn-..." and the gateways' IDs, before the tunnels.
  void connection_id(const std::string& s) {
    const std::string key = label_of(s.substr(0, s.find(':')));
    const std::string value = trim(s.substr(s.find(':') + 1));
    if (key == "your vpn connection id") c_.vpn_id = value;
    if (key == "your virtual private gateway id") c_.vgw_id = value;
    if (key == "your customer gateway id") c_.cgw_id = value;
  }

  // "- Label : value" inside a tunnel.
  void field(const std::string& s) {
    const size_t colon = s.find(':');
    if (colon == std::string::npos) {
      fail(c_.source, line_, t_->where + ": expected \"- NAME : VALUE\", got a line without ':'");
    }
    const std::string label = trim(s.substr(1, colon - 1));
    const std::string key = label_of(label);
    const std::string value = trim(s.substr(colon + 1));
    std::string ours;
    if (section_ == 2 && key == "fragmentation") {
      if (label_of(value) != "before encryption") {
        c_.notes.push_back(c_.source + ":" + std::to_string(line_) + ": " + t_->where +
                           ": Fragmentation " + quote(value) +
                           ": espgw always fragments before encryption");
      }
      return;
    }
    if (section_ == 1 || section_ == 2) ours = key_in(section_, key);
    if (section_ == 3 && key == "tunnel interface mtu") ours = "mtu";
    if (section_ == 3 && (key == "customer gateway" || key == "virtual private gateway")) {
      if (subsection_ != "outside") return inside_address(key, label, value);
      ours = std::string("outside.") + (key == "customer gateway" ? "cgw" : "vgw");
    }
    if (section_ == 4) return bgp_ ? bgp_field(key, label, value) : static_route(label, value);
    if (ours.empty()) {
      c_.notes.push_back(c_.source + ":" + std::to_string(line_) + ": " + t_->where + ": \"" +
                         label + "\" is not used");
      return;
    }
    if (value.empty()) fail(c_.source, line_, t_->where + ": \"" + label + "\" has no value");
    const auto [it, inserted] = t_->f.emplace(ours, Field{value, line_, t_->where + ": " + label});
    if (!inserted) {
      fail(c_.source, line_,
           t_->where + ": \"" + label + "\" given twice (first at line " +
               std::to_string(it->second.line) + ")");
    }
  }

  // A gateway's address under "Inside IP Addresses" (or "Inside IPv6 Addresses").
  void inside_address(const std::string& key, const std::string& label, const std::string& value) {
    const bool v6 = subsection_ == "inside6";
    if (subsection_ != "inside" && !v6) {
      fail(c_.source, line_,
           t_->where + ": \"" + label +
               "\" outside \"Outside IP Addresses\" or \"Inside IP Addresses\"");
    }
    Field& f = key == "customer gateway" ? (v6 ? t_->inside6_cgw : t_->inside_cgw)
                                         : (v6 ? t_->inside6_vgw : t_->inside_vgw);
    once(f,
         Field{value, line_,
               t_->where + (v6 ? ": Inside IPv6 Addresses: " : ": Inside IP Addresses: ") + label});
  }

  // Under "#4: Border Gateway Protocol (BGP) Configuration": the ASNs, the neighbour, the hold
  // time. AWS writes "Virtual Private  Gateway ASN" with two blanks (label_of makes them one).
  void bgp_field(const std::string& key, const std::string& label, const std::string& value) {
    Field* f = nullptr;
    if (key == "customer gateway asn") f = &t_->cgw_asn;
    if (key == "virtual private gateway asn" || key == "transit gateway asn") f = &t_->vgw_asn;
    if (key == "neighbor ip address" || key == "neighbour ip address") f = &t_->neighbour;
    if (key == "neighbor hold time" || key == "bgp hold time" || key == "hold time") {
      f = &t_->hold_time;
    }
    if (!f) {
      c_.notes.push_back(c_.source + ":" + std::to_string(line_) + ": " + t_->where + ": \"" +
                         label + "\" is not used");
      return;
    }
    if (value.empty()) fail(c_.source, line_, t_->where + ": \"" + label + "\" has no value");
    once(*f, Field{value, line_, t_->where + ": BGP: " + label});
  }

  // Sets `f` to `v` unless the tunnel already has it.
  void once(Field& f, Field v) {
    if (f.line) {
      fail(c_.source, line_,
           v.where + ": given twice (first at line " + std::to_string(f.line) + ")");
    }
    f = std::move(v);
  }

  // Under #4: a static route's prefix; next hop and BGP options are not used for static routing
  // (noted once).
  void static_route(const std::string& label, const std::string& value) {
    if (!static_routing_) return;
    const std::string v = value.substr(0, value.find(' '));
    const auto p = IpPrefix::parse(v);
    if (p && v.find('/') != std::string::npos) {
      c_.static_routes.push_back(Field{v, line_, t_->where + ": " + label});
    }
  }

  AwsConnection c_;
  int line_ = 0;
  AwsTunnel* t_ = nullptr;
  int section_ = 0;         // the "#N:" heading inside a tunnel
  std::string subsection_;  // "outside" / "inside" under #3
  bool static_routing_ = false;
  bool bgp_ = false;    // under "#4: Border Gateway Protocol (BGP) Configuration"
  bool ended_ = false;  // "Additional Notes": no more tunnel content
};

}  // namespace

[[noreturn]] void fail(const std::string& source, int line, const std::string& what) {
  throw ImportError(source + ":" + std::to_string(line) + ": " + what);
}
[[noreturn]] void fail(const std::string& source, const Field& f, const std::string& what) {
  fail(source, f.line, f.where + ": " + what);
}

std::string label_of(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : trim(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

AwsConnection parse_text(const std::string& text, const std::string& source) {
  return TextParser(source).run(text);
}

}  // namespace espgw::import::aws
