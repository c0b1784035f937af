#include "ike-bridge/espgw_ike/event_log.h"

#include <cstdlib>
#include <variant>

namespace espgw::ike {

namespace {

// One line, whatever charon put in a value: control characters become '?'.
std::string clean(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string get(const vici::Section& s, std::string_view key) {
  const std::string* v = s.find_value(key);
  return v ? clean(*v) : "?";
}

// The first sub-section and its name: the IKE_SA config name of state events.
const vici::Section* first_section(const vici::Section& s, std::string* name) {
  for (const auto& e : s.entries()) {
    if (const auto* sub = std::get_if<vici::Section>(&e.value)) {
      if (name) *name = clean(e.name);
      return sub;
    }
  }
  return nullptr;
}

std::string joined(const vici::List* l) {
  if (!l || l->empty()) return "-";
  std::string s;
  for (const auto& x : *l) {
    if (!s.empty()) s += ',';
    s += clean(x);
  }
  return s;
}

std::string algorithm(const vici::Section& s, std::string_view alg, std::string_view size) {
  const std::string* a = s.find_value(alg);
  if (!a) return {};
  const std::string* k = s.find_value(size);
  std::string out = clean(*a);
  if (k) out.append("-").append(clean(*k));
  return out;
}

std::string algorithms(const vici::Section& s, bool ike) {
  std::string out;
  for (const std::string& part :
       {algorithm(s, "encr-alg", "encr-keysize"), algorithm(s, "integ-alg", "integ-keysize"),
        ike ? algorithm(s, "prf-alg", "") : std::string(), algorithm(s, "dh-group", "")}) {
    if (part.empty()) continue;
    if (!out.empty()) out += '/';
    out += part;
  }
  if (!ike && s.value_or("esn") == "1") out += "/ESN";
  return out.empty() ? "no algorithms yet" : out;
}

std::string ike_spis(const vici::Section& ike) {
  return get(ike, "initiator-spi") + "_i " + get(ike, "responder-spi") + "_r";
}

std::string ike_sa(const vici::Section& ike) {
  return "IKE_SA #" + get(ike, "uniqueid");
}

std::string ike_summary(const vici::Section& ike, bool spis = true) {
  std::string s = get(ike, "state") + ", IKEv" + get(ike, "version") + " " +
                  get(ike, "local-host") + "[" + get(ike, "local-port") + "] <-> " +
                  get(ike, "remote-host") + "[" + get(ike, "remote-port") + "]";
  if (ike.value_or("nat-any") == "yes") s += " (NAT)";
  if (spis) s += ", SPIs " + ike_spis(ike);
  return s + ", " + algorithms(ike, true);
}

std::string child_spis(const vici::Section& child) {
  return "in 0x" + get(child, "spi-in") + " out 0x" + get(child, "spi-out");
}

std::string child_sa(const vici::Section& child) {
  return "CHILD_SA " + get(child, "name") + " #" + get(child, "uniqueid");
}

std::string child_summary(const vici::Section& child, bool spis = true) {
  std::string s = get(child, "state");
  if (child.find_value("spi-in")) {
    s += ", " + get(child, "protocol") + (child.value_or("encap") == "yes" ? " in UDP" : "");
    if (spis) s += ", SPIs " + child_spis(child);
    s += ", " + algorithms(child, false);
  }
  return s + ", " + joined(child.find_list("local-ts")) +
         " === " + joined(child.find_list("remote-ts"));
}

const vici::Section* only_child(const vici::Section& ike) {
  const vici::Section* children = ike.find_section("child-sas");
  return children ? first_section(*children, nullptr) : nullptr;
}

std::string updown(const vici::Message& m) {
  return m.value_or("up") == "yes" ? "up" : "down";
}

std::optional<std::string> describe_log(const vici::Message& m, int max_level) {
  const std::string level = m.value_or("level", "0");
  char* end = nullptr;
  const long l = std::strtol(level.c_str(), &end, 10);
  if (end && *end == '\0' && l > max_level) return std::nullopt;
  std::string s = "log: [" + get(m, "group") + "] ";
  if (m.find_value("ikesa-name")) {
    s += get(m, "ikesa-name") + " #" + get(m, "ikesa-uniqueid") + ": ";
  }
  return s + get(m, "msg");
}

}  // namespace

std::optional<std::string> describe_event(std::string_view name, const vici::Message& m,
                                          int max_log_level) {
  const std::string event(name);
  if (event == "log") return describe_log(m, max_log_level);
  std::string tunnel;
  const vici::Section* ike = first_section(m, &tunnel);
  if (!ike) return event + ": (no IKE_SA in the event)";
  const std::string head = event + ": tunnel " + tunnel + " ";

  if (event == "ike-updown")
    return head + ike_sa(*ike) + " " + updown(m) + ", " + ike_summary(*ike);
  if (event == "ike-rekey") {
    const vici::Section* old_sa = ike->find_section("old");
    const vici::Section* new_sa = ike->find_section("new");
    if (!old_sa || !new_sa) return head + "(no old and new IKE_SA in the event)";
    return head + ike_sa(*old_sa) + " -> #" + get(*new_sa, "uniqueid") + ", SPIs " +
           ike_spis(*old_sa) + " -> " + ike_spis(*new_sa) + ", " + ike_summary(*new_sa, false);
  }
  if (event == "child-updown") {
    const vici::Section* child = only_child(*ike);
    if (!child) return head + ike_sa(*ike) + " (no CHILD_SA in the event)";
    return head + ike_sa(*ike) + " " + child_sa(*child) + " " + updown(m) + ", " +
           child_summary(*child);
  }
  if (event == "child-rekey") {
    const vici::Section* pair = only_child(*ike);
    const vici::Section* old_sa = pair ? pair->find_section("old") : nullptr;
    const vici::Section* new_sa = pair ? pair->find_section("new") : nullptr;
    if (!old_sa || !new_sa) return head + ike_sa(*ike) + " (no old and new CHILD_SA in the event)";
    return head + ike_sa(*ike) + " " + child_sa(*old_sa) + " -> #" + get(*new_sa, "uniqueid") +
           ", SPIs " + child_spis(*old_sa) + " -> " + child_spis(*new_sa) + ", " +
           child_summary(*new_sa, false);
  }
  return head + ike_sa(*ike);
}

}  // namespace espgw::ike
