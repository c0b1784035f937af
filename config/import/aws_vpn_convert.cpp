// One AWS tunnel's fields, from either format, into the values espgw configures (aws_vpn.h):
// algorithm names into strongSwan proposals, lifetimes, DPD, MSS/MTU and the outside addresses.
// A value espgw cannot take fails with its line.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>
#include <utility>

#include "common/redact.h"
#include "config/import/aws_vpn.h"
#include "config/import/text.h"

namespace espgw::import::aws {
namespace {

const KeyInfo& info(std::string_view key) {
  for (const auto& k : kKeys) {
    if (key == k.key) return k;
  }
  throw std::logic_error("aws_vpn: no key " + std::string(key));
}

// "aes-128-cbc" (the text and XML downloads) or "AES128" (the API's tunnel options).
std::string encryption(const Field& f, const std::string& source, bool* aead) {
  std::string v = lower(f.value);
  v.erase(std::remove(v.begin(), v.end(), '-'), v.end());
  static const std::pair<const char*, const char*> kMap[] = {
      {"aes128cbc", "aes128"}, {"aes256cbc", "aes256"},        {"aes128", "aes128"},
      {"aes256", "aes256"},    {"aes128gcm16", "aes128gcm16"}, {"aes256gcm16", "aes256gcm16"},
  };
  for (const auto& [from, to] : kMap) {
    if (v == from) {
      *aead = std::string_view(to).find("gcm") != std::string_view::npos;
      return to;
    }
  }
  fail(source, f,
       "unknown encryption algorithm " + quote(f.value) +
           " (AWS offers aes-128-cbc, aes-256-cbc, aes-128-gcm-16, aes-256-gcm-16)");
}

// "sha1", "sha2-256", "hmac-sha1-96", "hmac-sha2-256-128", "SHA2-256": "sha1", "sha256", ...
std::string hash(const Field& f, const std::string& source) {
  std::string v = lower(f.value);
  if (v.starts_with("hmac-")) v = v.substr(5);
  static const std::pair<const char*, const char*> kMap[] = {
      {"sha1", "sha1"},       {"sha1-96", "sha1"},        {"sha", "sha1"},
      {"sha2-256", "sha256"}, {"sha2-256-128", "sha256"}, {"sha256", "sha256"},
      {"sha2-384", "sha384"}, {"sha2-384-192", "sha384"}, {"sha384", "sha384"},
      {"sha2-512", "sha512"}, {"sha2-512-256", "sha512"}, {"sha512", "sha512"},
  };
  for (const auto& [from, to] : kMap) {
    if (v == from) return to;
  }
  fail(source, f,
       "unknown authentication algorithm " + quote(f.value) +
           " (AWS offers sha1, sha2-256, sha2-384, sha2-512)");
}

// "Group 2", "group14", "Diffie-Hellman Group 14", "14".
std::string dh_group(const Field& f, const std::string& source) {
  std::string digits;
  for (char c : f.value) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  const std::string l = label_of(f.value);
  if (l == "none" || l == "disabled") return "";
  int g = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), g);
  static const std::map<int, const char*> kGroups = {
      {2, "modp1024"},  {14, "modp2048"}, {15, "modp3072"}, {16, "modp4096"}, {17, "modp6144"},
      {18, "modp8192"}, {19, "ecp256"},   {20, "ecp384"},   {21, "ecp521"},
  };
  const auto it = kGroups.find(g);
  if (digits.empty() || it == kGroups.end()) {
    fail(source, f,
         "Diffie-Hellman group " + quote(f.value) +
             " is not one espgw accepts (2, 14 to 21; RFC 5114's 22 to 24 are "
             "refused): change the tunnel's options in AWS and download again");
  }
  return it->second;
}

// "28800 seconds", "1379 bytes", "10": the leading number.
uint64_t number(const Field& f, const std::string& source, uint64_t min, uint64_t max,
                std::string_view unit) {
  const std::string v = trim(f.value);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const std::string rest =
      label_of(std::string_view(end, static_cast<size_t>(v.data() + v.size() - end)));
  if (ec != std::errc() || end == v.data() || (!rest.empty() && rest != unit)) {
    fail(source, f,
         "expected a number" + (unit.empty() ? "" : " of " + std::string(unit)) + ", got " +
             quote(f.value));
  }
  if (n < min || n > max) {
    fail(source, f,
         "must be " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
             quote(f.value));
  }
  return n;
}

bool flag(const Field& f, const std::string& source) {
  const std::string l = label_of(f.value);
  if (l == "enabled" || l == "true" || l == "yes") return true;
  if (l == "disabled" || l == "false" || l == "no") return false;
  fail(source, f, "expected enabled/disabled or true/false, got " + quote(f.value));
}

IpAddress address(const Field& f, const std::string& source) {
  const auto a = IpAddress::parse(f.value);
  if (!a) fail(source, f, "not an IP address: " + quote(f.value));
  return *a;
}

const Field& need(const AwsConnection& c, const AwsTunnel& t, std::string_view key) {
  if (const Field* f = t.get(key)) return *f;
  const KeyInfo& k = info(key);
  if (c.xml) {
    fail(c.source, t.line,
         t.where + ": missing <" + std::string(k.element) + "> (is the file complete?)");
  }
  fail(c.source, t.line,
       t.where + " (lines " + std::to_string(t.line) + "-" + std::to_string(t.end_line) +
           "): no \"- " + k.label + " : ...\" under \"" + k.section + "\" (is the file complete?)");
}

// The IKE and ESP proposals, and a note on DH group 2 where it is used.
void proposals(const AwsConnection& c, const AwsTunnel& t, Tunnel& out,
               std::vector<std::string>& notes) {
  const std::string& src = c.source;
  bool ike_aead = false;
  const std::string ike_enc = encryption(need(c, t, "ike.encryption"), src, &ike_aead);
  const std::string ike_hash = hash(need(c, t, "ike.integrity"), src);
  const std::string ike_dh = dh_group(need(c, t, "ike.dh"), src);
  if (ike_dh.empty()) fail(src, need(c, t, "ike.dh"), "an IKE SA needs a Diffie-Hellman group");
  out.ike_proposal = ike_enc + "-" + (ike_aead ? "prf" : "") + ike_hash + "-" + ike_dh;
  bool esp_aead = false;
  const std::string esp_enc = encryption(need(c, t, "esp.encryption"), src, &esp_aead);
  out.esp_proposal = esp_enc;
  if (!esp_aead) out.esp_proposal.append("-").append(hash(need(c, t, "esp.integrity"), src));
  if (const Field* pfs = t.get("esp.pfs")) {
    const std::string g = dh_group(*pfs, src);
    if (!g.empty()) out.esp_proposal += "-" + g;
  }
  for (const Field* f : {t.get("ike.dh"), t.get("esp.pfs")}) {
    if (f && dh_group(*f, src) == "modp1024") {
      notes.push_back(src + ":" + std::to_string(f->line) + ": " + f->where +
                      ": DH group 2 (modp1024) is weak (RFC 8247: SHOULD NOT); AWS accepts 14 to "
                      "24: narrow the tunnel's options in AWS to group 14 or better and download "
                      "the file again");
    }
  }
}

// ESP in tunnel mode, IKEv1 in main mode: what espgw does.
void check_modes(const AwsTunnel& t, const std::string& src) {
  if (const Field* p = t.get("esp.protocol"); p && label_of(p->value) != "esp") {
    fail(src, *p, "protocol " + quote(p->value) + " cannot be mapped: espgw carries ESP only");
  }
  if (const Field* m = t.get("esp.mode"); m && label_of(m->value) != "tunnel") {
    fail(src, *m, "mode " + quote(m->value) + " cannot be mapped: espgw does tunnel mode only");
  }
  if (const Field* m = t.get("ike.mode"); m && label_of(m->value) != "main") {
    fail(src, *m,
         "phase 1 mode " + quote(m->value) + " cannot be mapped: espgw's IKEv1 is main mode only");
  }
}

// --ike-version, else the file's, else IKEv1 (noted).
int ike_version(const AwsTunnel& t, const AwsOptions& o, const std::string& src,
                std::vector<std::string>& notes) {
  if (o.ike_version) return *o.ike_version;
  if (const Field* v = t.get("ike.version")) {
    const std::string l = label_of(v->value);
    if (l == "ikev1" || l == "1") return 1;
    if (l == "ikev2" || l == "2") return 2;
    fail(src, *v, "expected IKEv1 or IKEv2, got " + quote(v->value));
  }
  notes.push_back(src + ":" + std::to_string(t.line) + ": " + t.where +
                  ": the file names no IKE version; IKEv1, as its main mode phase 1 implies. "
                  "AWS accepts IKEv2 too unless the tunnel's options narrow it: "
                  "--ike-version 2 (with IKEv1 a dead tunnel is left after 30 to 40 s, with "
                  "IKEv2 after about 12 s: docs/deploy-aws.md)");
  return 1;
}

// Lifetimes, DPD, MSS, MTU and the DF bit.
void numbers(const AwsConnection& c, const AwsTunnel& t, Tunnel& out) {
  const std::string& src = c.source;
  out.ike_life =
      static_cast<uint32_t>(number(need(c, t, "ike.lifetime"), src, 60, 86400, "seconds"));
  out.child_life =
      static_cast<uint32_t>(number(need(c, t, "esp.lifetime"), src, 60, 86400, "seconds"));
  if (const Field* f = t.get("dpd.interval")) {
    out.dpd_delay = static_cast<uint32_t>(number(*f, src, 1, 3600, "seconds"));
  }
  if (const Field* f = t.get("dpd.retries")) {
    out.dpd_retries = static_cast<uint32_t>(number(*f, src, 1, 100, ""));
  }
  if (const Field* f = t.get("mss"))
    out.mss = static_cast<uint16_t>(number(*f, src, 536, 9176, "bytes"));
  if (const Field* f = t.get("mtu")) {
    out.mtu = static_cast<uint16_t>(number(*f, src, 576, 9216, "bytes"));
  } else {
    out.mtu = 1436;  // AWS's generic download recommends it for every tunnel; the XML has no MTU
  }
  if (const Field* f = t.get("clear_df")) out.clear_df = flag(*f, src);
}

}  // namespace

Tunnel convert(const AwsConnection& c, const AwsTunnel& t, const AwsOptions& o,
               std::vector<std::string>& notes) {
  const std::string& src = c.source;
  Tunnel out;
  out.from = &t;
  out.name = o.name + "-tunnel" + std::to_string(t.number);
  if (const Field* m = t.get("ike.auth_method")) {
    if (label_of(m->value) != "pre-shared key") {
      fail(src, *m,
           "authentication " + quote(m->value) +
               " cannot be mapped: espgw configures pre-shared keys only");
    }
  }
  out.psk = need(c, t, "ike.psk").value;
  proposals(c, t, out, notes);
  check_modes(t, src);
  out.version = ike_version(t, o, src, notes);
  numbers(c, t, out);
  out.cgw = address(need(c, t, "outside.cgw"), src);
  out.vgw = address(need(c, t, "outside.vgw"), src);
  return out;
}

}  // namespace espgw::import::aws
