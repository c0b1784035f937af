#include "dataplane/tools/espgwctl/secrets.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <string_view>

namespace espgw::ctl {

using nlohmann::json;

void Secrets::add(const std::string& s) {
  if (s.size() < 4) return;
  forms_.push_back(s);
  std::string bare;
  std::string_view v = s;
  if (v.starts_with("0x") || v.starts_with("0X")) v.remove_prefix(2);
  for (char c : v) {
    if (c != ':') bare += c;
  }
  std::string lower = bare;
  std::string upper = bare;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (auto& f : {bare, lower, upper}) {
    if (f.size() >= 4) forms_.push_back(f);
  }
  // Longest first, so that a form is not left half-replaced by a shorter one.
  std::sort(forms_.begin(), forms_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Secrets::add_from(const json& j) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "key" || k == "salt" || k == "auth_key") && v.is_string()) {
        add(v.get<std::string>());
      } else {
        add_from(v);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      add_from(v);
  }
}

std::string Secrets::scrub(std::string text) const {
  for (const auto& f : forms_) {
    for (size_t at = text.find(f); at != std::string::npos; at = text.find(f, at)) {
      text.replace(at, f.size(), kHidden);
      at += std::strlen(kHidden);
    }
  }
  return text;
}

Secrets g_secrets;

void out(const std::string& text) {
  std::cout << g_secrets.scrub(text);
}
void err(const std::string& text) {
  std::cerr << "espgwctl: " << g_secrets.scrub(text) << "\n";
}

}  // namespace espgw::ctl
