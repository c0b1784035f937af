#pragma once
// Key material that espgwctl was given (on its command line, in a FILE): everything espgwctl
// prints, its own messages and espgw's answers, goes through out() or err(), which replace those
// keys.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace espgw::ctl {

// Everything espgwctl prints goes through scrub(): each key we were given, as typed and as bare
// hex in either case, is replaced.
class Secrets {
 public:
  void add(const std::string& s);
  // Every string member named key, salt or auth_key, at any depth.
  void add_from(const nlohmann::json& j);
  std::string scrub(std::string text) const;

 private:
  static constexpr const char* kHidden = "(key not shown)";
  std::vector<std::string> forms_;
};

extern Secrets g_secrets;

// To stdout, and to stderr as "espgwctl: TEXT\n", with the keys replaced.
void out(const std::string& text);
void err(const std::string& text);

}  // namespace espgw::ctl
