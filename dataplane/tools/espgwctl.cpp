// espgwctl: the operator's CLI over espgw's control socket (docs/control-protocol.md), and over
// espgw-ike's status socket for `ike status` (docs/espgw-ike.md).
//   espgwctl [-s SOCKET | -c CONFIG] [--json] [--all] [-t SECONDS] COMMAND ...
// Exit: 0 ok, 1 espgw answered with an error (printed to stderr), 2 usage error (a bad command
// line, or a FILE that cannot be read or is not JSON), 3 the socket cannot be reached.
//
// Keys given on the command line or in a FILE are never printed back: every message espgwctl
// prints, its own or espgw's, has them replaced first.

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "config/import/import.h"

namespace {

using espgw::spi_hex;
using nlohmann::json;

constexpr const char* kDefaultConfig = "/etc/espgw/espgw.yaml";
constexpr const char* kDefaultSocket = "/run/espgw/espgw.sock";  // config's own default
// espgw-ike's status socket: espgw-ike.sock in the folder of ike.vici_socket (config default
// /run/espgw/charon.vici).
constexpr const char* kDefaultVici = "/run/espgw/charon.vici";
constexpr const char* kIkeSocketName = "espgw-ike.sock";

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

const char* const kUsage =
    R"(usage: espgwctl [-s SOCKET | -c CONFIG] [--json] [--all] [-t SECONDS] COMMAND

commands:
  status
  show counters|ports|workers|drops|tunnels|routes|neighbours|peers
  show sas [SPI]
  sa add|replace TUNNEL in|out SPI ALGORITHM KEY [SALT] [AUTHKEY]
  sa add|replace TUNNEL in|out --sa-json FILE|-
  sa del in|out SPI
  route add|replace PREFIX [via GATEWAY] dev INTERFACE
  route del PREFIX
  tunnel add|replace --json FILE|-
  tunnel del NAME
  apply FILE|-          a transaction: a JSON list of ops, applied whole or not at all
  stop
  ike status            IKE and CHILD_SAs of the IKE tunnels, from espgw-ike

offline commands (no socket; espgwctl COMMAND --help):
  import-aws FILE       an AWS VPN connection's configuration download -> config
  import-ipsec-conf FILE  strongSwan's ipsec.conf and ipsec.secrets -> config
  mesh --regions FILE -o DIR  the configs of a full mesh of regions

options:
  -s, --socket SOCKET   the control socket (default: dataplane.control_socket of
                        /etc/espgw/espgw.yaml if readable, else /run/espgw/espgw.sock);
                        for ike: espgw-ike's socket (default: espgw-ike.sock in the
                        folder of the config's ike.vici_socket, /run/espgw/espgw-ike.sock)
  -c, --config CONFIG   read the socket path from this config file
  --json                print espgw's response as it came (one JSON line)
  --all                 show drops: every reason, not only those that happened
  -t, --timeout SECONDS wait this long for an answer (default 30; 0 = forever)
  -h, --help            this text

SPIs are decimal or 0x hex. SALT is for GCM (or give KEY as key||salt); AUTHKEY for
AES-CBC. A key on the command line is visible to other users through ps: prefer
--sa-json FILE (mode 0600) or --sa-json - on stdin.
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ErrorResponse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- key material --------------------------------------------------------------------------

// Everything espgwctl prints goes through scrub(): each key we were given, as typed and as bare
// hex in either case, is replaced.
class Secrets {
 public:
  void add(const std::string& s) {
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
  // Every string member named key, salt or auth_key, at any depth.
  void add_from(const json& j) {
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
  std::string scrub(std::string text) const {
    for (const auto& f : forms_) {
      for (size_t at = text.find(f); at != std::string::npos; at = text.find(f, at)) {
        text.replace(at, f.size(), kHidden);
        at += std::strlen(kHidden);
      }
    }
    return text;
  }

 private:
  static constexpr const char* kHidden = "(key not shown)";
  std::vector<std::string> forms_;
};

Secrets g_secrets;

void out(const std::string& text) {
  std::cout << g_secrets.scrub(text);
}
void err(const std::string& text) {
  std::cerr << "espgwctl: " << g_secrets.scrub(text) << "\n";
}

// Hex of 16 digits or more: echoed by no message (an unknown option that is a pasted key).
bool looks_like_key(std::string_view s) {
  size_t hex = 0;
  for (char c : s)
    hex += std::isxdigit(static_cast<unsigned char>(c)) ? 1 : 0;
  return hex >= 16;
}

// ---- input ---------------------------------------------------------------------------------

std::string read_input(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(f)), {});
  if (f.bad()) throw UsageError(path + ": cannot read: " + std::strerror(errno));
  return text;
}

// A JSON file; its keys join the secrets. A syntax error names the line and column only: the
// text around it may be a key.
json read_json(const std::string& path) {
  const std::string text = read_input(path);
  const std::string name = path == "-" ? "standard input" : path;
  try {
    json j = json::parse(text);
    g_secrets.add_from(j);
    return j;
  } catch (const json::parse_error& e) {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < std::min(e.byte ? e.byte - 1 : 0, text.size()); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw UsageError(name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                     ": not valid JSON");
  }
}

std::string socket_from_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(std::strerror(errno));
  YAML::Node root = YAML::Load(f);
  if (!root.IsMap()) throw std::runtime_error("not a map");
  const YAML::Node dp = root["dataplane"];
  if (dp && dp.IsMap() && dp["control_socket"] && dp["control_socket"].IsScalar()) {
    return dp["control_socket"].Scalar();
  }
  return kDefaultSocket;
}

// Decimal or 0x hex, 32 bits.
std::optional<uint32_t> parse_spi(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c))) {
      d = std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// ---- the socket ----------------------------------------------------------------------------

// `daemon`: who serves the socket ("espgw", "espgw-ike"), for the messages.
std::string exchange(const std::string& path, const std::string& request, int timeout_s,
                     const std::string& daemon = "espgw") {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    throw Unreachable("cannot connect to " + path + ": path too long for a Unix socket");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Unreachable(std::string("cannot create a socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (timeout_s > 0) {
    timeval tv{};
    tv.tv_sec = timeout_s;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    std::string why = std::strerror(e);
    if (e == ENOENT) {
      why += " (is " + daemon + " running? -s SOCKET or -c CONFIG names another socket)";
    } else if (e == ECONNREFUSED) {
      why += " (a socket file that no " + daemon + " serves: " + daemon + " is not running)";
    } else if (e == EACCES || e == EPERM) {
      why += " (the socket is mode 0600: run espgwctl as " + daemon + "'s user, root)";
    }
    throw Unreachable("cannot connect to " + path + ": " + why);
  }
  const std::string line = request + "\n";
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Unreachable("cannot send to " + path + ": " + std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[65536];
  for (;;) {
    const size_t nl = response.find('\n');
    if (nl != std::string::npos) {
      response.resize(nl);
      return response;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      throw Unreachable("no answer from " + daemon + " on " + path + " within " +
                        std::to_string(timeout_s) + " s");
    }
    if (n < 0) throw Unreachable("cannot read from " + path + ": " + std::strerror(errno));
    if (n == 0) {
      throw Unreachable(daemon + " closed the connection on " + path +
                        " before answering completely");
    }
    response.append(buf, static_cast<size_t>(n));
  }
}

// ---- tables --------------------------------------------------------------------------------

std::string human_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof b, "%.1f %s", v, kUnits[u]);
  return b;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : ", ") + text_of(x);
    return s.empty() ? "-" : s;
  }
  return v.dump();
}

uint64_t number_of(const json& v) {
  return v.is_number_unsigned() ? v.get<uint64_t>() : 0;
}

class Table {
 public:
  // A header that starts with '>' is right-aligned (numbers).
  explicit Table(std::vector<std::string> headers) {
    for (auto& h : headers) {
      right_.push_back(!h.empty() && h[0] == '>');
      headers_.push_back(right_.back() ? h.substr(1) : h);
    }
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const noexcept { return rows_.empty(); }

  std::string render() const {
    std::vector<size_t> width(headers_.size());
    for (size_t c = 0; c < headers_.size(); ++c)
      width[c] = headers_[c].size();
    for (const auto& r : rows_) {
      for (size_t c = 0; c < r.size() && c < width.size(); ++c)
        width[c] = std::max(width[c], r[c].size());
    }
    std::string s;
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l;
      for (size_t c = 0; c < width.size(); ++c) {
        const std::string cell = c < cells.size() ? cells[c] : "";
        const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
        if (c) l += "  ";
        l += right_[c] ? pad + cell : cell + pad;
      }
      while (!l.empty() && l.back() == ' ')
        l.pop_back();
      s += l + "\n";
    };
    line(headers_);
    for (const auto& r : rows_)
      line(r);
    return s;
  }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

struct Column {
  const char* key;
  const char* header;
  bool bytes = false;
};

// One row per member of `obj` (a map of name to counters); the columns named, then any that
// espgw reports and this table does not know yet.
std::string counter_table(const json& obj, const char* first, std::vector<Column> cols) {
  std::vector<std::string> extra;
  for (const auto& [name, c] : obj.items()) {
    for (const auto& item : c.items()) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
      const std::string& k = item.key();
      const bool known =
          std::any_of(cols.begin(), cols.end(), [&](const Column& col) { return k == col.key; });
      if (!known && std::find(extra.begin(), extra.end(), k) == extra.end()) extra.push_back(k);
    }
  }
  std::vector<std::string> headers{first};
  for (const auto& c : cols)
    headers.push_back(std::string(">") + c.header);
  for (const auto& k : extra)
    headers.push_back(">" + k);
  Table t(headers);
  for (const auto& [name, c] : obj.items()) {
    std::vector<std::string> row{name};
    for (const auto& col : cols) {
      const json v = c.value(col.key, json());
      row.push_back(col.bytes && v.is_number_unsigned() ? human_bytes(v.get<uint64_t>())
                                                        : text_of(v));
    }
    for (const auto& k : extra)
      row.push_back(text_of(c.value(k, json())));
    t.add(row);
  }
  return t.render();
}

std::string ports_table(const json& ports) {
  return counter_table(ports, "INTERFACE",
                       {{"rx_packets", "RX PACKETS"},
                        {"rx_bytes", "RX BYTES", true},
                        {"tx_packets", "TX PACKETS"},
                        {"tx_bytes", "TX BYTES", true},
                        {"to_kernel", "TO KERNEL"},
                        {"from_kernel", "FROM KERNEL"},
                        {"nic_rx_missed", "RX MISSED"},
                        {"nic_rx_errors", "RX ERRORS"},
                        {"nic_tx_errors", "TX ERRORS"}});
}

std::string workers_table(json workers) {
  for (auto& [name, w] : workers.items()) {
    if (w.contains("busy_percent")) w["busy_percent"] = text_of(w["busy_percent"]) + "%";
  }
  return counter_table(workers, "WORKER",
                       {{"lcore", "LCORE"},
                        {"busy_percent", "BUSY"},
                        {"packets", "PACKETS"},
                        {"loops", "LOOPS"},
                        {"busy_loops", "BUSY LOOPS"},
                        {"fragments", "FRAGMENTS"},
                        {"mss_clamped", "MSS CLAMPED"},
                        {"icmp_sent", "ICMP SENT"},
                        {"icmp_suppressed", "ICMP SUPPRESSED"},
                        {"arp_nd_replies", "ARP/ND REPLIES"},
                        {"held_for_neighbour", "HELD"},
                        {"esn_resyncs", "ESN RESYNCS"}});
}

std::string drops_table(const json& drops, bool all) {
  Table t({"REASON", ">PACKETS"});
  for (const auto& [reason, n] : drops.items()) {
    if (all || number_of(n) != 0) t.add({reason, text_of(n)});
  }
  if (t.empty()) return "no drops\n";
  return t.render();
}

uint64_t drop_total(const json& drops) {
  uint64_t n = 0;
  for (const auto& [reason, v] : drops.items())
    n += number_of(v);
  return n;
}

std::string sas_table(const json& sas) {
  if (sas.empty()) return "no SAs\n";
  Table t({"SPI", "DIR", "TUNNEL", "ALGORITHM", "REMOTE", "NAT-T", "ESN", ">PACKETS", ">BYTES",
           ">SEQ", ">WINDOW", "STATE", ">DROPS"});
  for (const auto& sa : sas) {
    const bool in = sa.value("direction", "") == "in";
    std::string state = "-";
    if (!in) {
      // The tunnel's SA in use, in a tunnel of a peer whose traffic goes into another tunnel:
      // it sends nothing until the peer moves to its tunnel (peer_state.h).
      const bool backup = !sa.value("peer_in_use", true);
      state = sa.value("stopped", false)  ? "stopped"
              : sa.value("in_use", false) ? (backup ? "backup" : "in use")
                                          : "standby";
    }
    t.add({text_of(sa.value("spi", json())), text_of(sa.value("direction", json())),
           text_of(sa.value("tunnel", json())), text_of(sa.value("algorithm", json())),
           text_of(sa.value("remote", json())), text_of(sa.value("nat_t", json())),
           text_of(sa.value("esn", json())), text_of(sa.value("packets", json())),
           human_bytes(number_of(sa.value("bytes", json()))),
           text_of(sa.value(in ? "highest_seq" : "next_seq", json())),
           in ? text_of(sa.value("replay_window", json())) : "-", state,
           std::to_string(drop_total(sa.value("drops", json::object())))});
  }
  return t.render();
}

// One SA in full: every field, then its drops by reason.
std::string sa_detail(const json& sa) {
  Table t({"", ""});
  for (const auto& [k, v] : sa.items()) {
    if (k == "drops") continue;
    t.add({k, k == "bytes" && v.is_number_unsigned()
                  ? human_bytes(v.get<uint64_t>()) + " (" + text_of(v) + ")"
                  : text_of(v)});
  }
  std::string s = t.render().substr(t.render().find('\n') + 1);  // no header line
  const json drops = sa.value("drops", json::object());
  s += "drops:";
  s += drops.empty() ? " none\n" : "\n";
  for (const auto& [reason, n] : drops.items())
    s += "  " + reason + "  " + text_of(n) + "\n";
  return s;
}

std::string tunnels_table(const json& tunnels) {
  if (tunnels.empty()) return "no tunnels\n";
  Table t({"NAME", "LOCAL", "REMOTE", "EGRESS", ">MTU", ">MSS", "OUT SPI", "LOCAL CIDRS",
           "REMOTE CIDRS"});
  for (const auto& x : tunnels) {
    const std::string spi = x.value("outbound_spi", "");
    t.add({text_of(x.value("name", json())), text_of(x.value("local", json())),
           text_of(x.value("remote", json())), text_of(x.value("egress", json())),
           text_of(x.value("inner_mtu", json())), text_of(x.value("mss", json())),
           spi.empty() ? "none" : spi, text_of(x.value("local_cidrs", json())),
           text_of(x.value("remote_cidrs", json()))});
  }
  return t.render();
}

std::string routes_table(const json& routes) {
  if (routes.empty()) return "no routes\n";
  Table t({"PREFIX", "VIA", "DEV", "ORIGIN"});
  for (const auto& r : routes) {
    const std::string dev = r.contains("tunnel") ? "tunnel " + text_of(r["tunnel"])
                                                 : text_of(r.value("interface", json()));
    std::string origin = text_of(r.value("origin", json()));
    if (r.contains("peer")) {  // a tunnel of a peer: only the peer's tunnel in use is routed into
      origin = r.value("state", "") == "backup"
                   ? "backup (peer " + text_of(r["peer"]) + ", not routed)"
                   : origin + " (peer " + text_of(r["peer"]) + ")";
    }
    t.add({text_of(r.value("prefix", json())), text_of(r.value("via", json())), dev, origin});
  }
  return t.render();
}

// 75 -> "1m15s": how long a peer's tunnel has been in use, at a glance.
std::string human_duration(uint64_t s) {
  char b[32];
  if (s < 60) {
    std::snprintf(b, sizeof b, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(b, sizeof b, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(b, sizeof b, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  } else {
    std::snprintf(b, sizeof b, "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s / 3600 % 24));
  }
  return b;
}

std::string peers_table(const json& peers) {
  if (peers.empty()) return "no peers\n";
  Table t({"PEER", "IN USE", "SINCE", ">FOR", ">MOVES", "FAILBACK", "TUNNELS"});
  for (const auto& p : peers) {
    std::string tunnels;
    for (const auto& x : p.value("tunnels", json::array())) {
      tunnels += (tunnels.empty() ? "" : ", ") + text_of(x.value("name", json())) +
                 (x.value("up", false) ? " up" : " down");
    }
    const json in_use = p.value("tunnel_in_use", json());
    t.add({text_of(p.value("name", json())), in_use.is_null() ? "none" : text_of(in_use),
           text_of(p.value("since", json())),
           human_duration(number_of(p.value("seconds_since", json()))),
           text_of(p.value("moves", json())), text_of(p.value("failback", json())), tunnels});
  }
  return t.render();
}

std::string neighbours_table(const json& ns) {
  if (ns.empty()) return "no neighbours\n";
  Table t({"ADDRESS", "INTERFACE", "MAC", "STATE"});
  for (const auto& n : ns) {
    t.add({text_of(n.value("address", json())), text_of(n.value("interface", json())),
           text_of(n.value("mac", json())), text_of(n.value("state", json()))});
  }
  return t.render();
}

std::string status_text(const json& s) {
  Table t({"", ""});
  t.add({"version", text_of(s.value("version", json()))});
  t.add({"generation", text_of(s.value("generation", json()))});
  t.add({"workers", text_of(s.value("workers", json()))});
  t.add({"crypto", text_of(s.value("crypto", json()))});
  t.add({"interfaces", text_of(s.value("interfaces", json()))});
  t.add({"tunnels", text_of(s.value("tunnels", json()))});
  t.add({"inbound SAs", text_of(s.value("inbound_sas", json()))});
  t.add({"outbound SAs", text_of(s.value("outbound_sas", json()))});
  t.add({"packets", text_of(s.value("packets", json()))});
  const std::string r = t.render();
  return r.substr(r.find('\n') + 1);
}

// ---- espgw-ike ---------------------------------------------------------------------------

// "42s", "3m10s", "2h5m", "1d2h": the two largest units.
std::string human_duration(const json& v) {
  if (!v.is_number_integer()) return "-";
  int64_t s = v.get<int64_t>();
  const std::string sign = s < 0 ? "-" : "";
  if (s < 0) s = -s;
  auto two = [&](int64_t big, const char* b, int64_t small, const char* u) {
    return sign + std::to_string(s / big) + b + std::to_string(s % big / small) + u;
  };
  if (s < 60) return sign + std::to_string(s) + "s";
  if (s < 3600) return two(60, "m", 1, "s");
  if (s < 86400) return two(3600, "h", 60, "m");
  return two(86400, "d", 3600, "h");
}

std::string joined(const json& list, const char* sep) {
  std::string s;
  for (const auto& x : list) {
    if (!s.empty()) s += sep;
    s += text_of(x);
  }
  return s.empty() ? "-" : s;
}

std::string ike_algorithms(const json& sa, bool ike) {
  std::string s;
  for (const char* k : {"encryption", "integrity", "prf", "dh_group"}) {
    if (!ike && std::string_view(k) == "prf") continue;
    if (!sa.contains(k)) continue;
    if (!s.empty()) s += "/";
    s += text_of(sa[k]);
  }
  if (!ike && sa.value("esn", false)) s += "/ESN";
  return s.empty() ? "no algorithms yet" : s;
}

std::string endpoint(const json& e) {
  return text_of(e.value("host", json())) + "[" + text_of(e.value("port", json())) + "]";
}

std::string ike_sa_text(const json& sa, const std::string& indent) {
  std::string s = indent + "IKE_SA #" + text_of(sa.value("uniqueid", json())) + " " +
                  text_of(sa.value("state", json()));
  if (sa.contains("established_s")) {
    s += " " + human_duration(sa["established_s"]) + " ago";
  }
  s += sa.value("initiator", false) ? ", initiator" : ", responder";
  const json local = sa.value("local", json::object());
  const json remote = sa.value("remote", json::object());
  s += ", " + endpoint(local) + " <-> " + endpoint(remote) + "\n";
  s += indent + "  " + ike_algorithms(sa, true) + ", SPIs " + text_of(sa.value("spi_i", json())) +
       "_i " + text_of(sa.value("spi_r", json())) + "_r";
  if (sa.contains("rekey_in_s")) s += ", rekey in " + human_duration(sa["rekey_in_s"]);
  if (sa.contains("reauth_in_s")) s += ", reauth in " + human_duration(sa["reauth_in_s"]);
  s += "\n";
  for (const auto& c : sa.value("child_sas", json::array())) {
    const std::string in = indent + "  ";
    s += in + "CHILD_SA " + text_of(c.value("name", json())) + " #" +
         text_of(c.value("uniqueid", json())) + " " + text_of(c.value("state", json()));
    if (c.contains("spi_in")) {
      s += ", " + text_of(c.value("protocol", json())) +
           (c.value("encap", false) ? " in UDP" : "") + ", SPIs in " + text_of(c["spi_in"]) +
           " out " + text_of(c.value("spi_out", json()));
    }
    s += "\n" + in + "  " + ike_algorithms(c, false);
    if (c.contains("rekey_in_s")) s += ", rekey in " + human_duration(c["rekey_in_s"]);
    if (c.contains("expires_in_s")) s += ", expires in " + human_duration(c["expires_in_s"]);
    s += "\n" + in + "  " + joined(c.value("local_ts", json::array()), ",") +
         " === " + joined(c.value("remote_ts", json::array()), ",") + "\n";
    if (c.contains("bytes_in")) {
      s += in + "  in " + human_bytes(number_of(c["bytes_in"])) + " (" +
           text_of(c.value("packets_in", json())) + " packets), out " +
           human_bytes(number_of(c.value("bytes_out", json()))) + " (" +
           text_of(c.value("packets_out", json())) + " packets)\n";
    }
  }
  return s;
}

std::string ike_status_text(const json& r) {
  const json charon = r.value("charon", json::object());
  std::string s;
  if (charon.value("connected", false)) {
    s += "charon " + text_of(charon.value("version", json())) + " on " +
         text_of(charon.value("socket", json())) + "\n";
  } else {
    s += "charon: not connected (VICI socket " + text_of(charon.value("socket", json())) +
         "); espgw-ike keeps trying\n";
  }
  const json tunnels = r.value("tunnels", json::array());
  if (tunnels.empty()) s += "no IKE tunnels in the config\n";
  for (const auto& t : tunnels) {
    const json sas = t.value("ike_sas", json::array());
    s += "\n" + text_of(t.value("name", json())) + ": " + text_of(t.value("state", json()));
    if (sas.empty() && t.value("state", "") == "down") s += " (no IKE_SA)";
    s += ", IKEv" + text_of(t.value("version", json())) + " " + text_of(t.value("local", json())) +
         " <-> " + text_of(t.value("remote", json())) + ", start_action " +
         text_of(t.value("start_action", json())) + ", if_id " + text_of(t.value("if_id", json()));
    if (charon.value("connected", false) && !t.value("loaded", false)) {
      s += ", NOT LOADED in charon";
    }
    s += "\n";
    for (const auto& sa : sas)
      s += ike_sa_text(sa, "  ");
  }
  const json others = r.value("other_ike_sas", json::array());
  if (!others.empty()) s += "\nIKE_SAs of connections not in the config:\n";
  for (const auto& sa : others) {
    s += "  " + text_of(sa.value("conn", json())) + ":\n" + ike_sa_text(sa, "    ");
  }
  return s;
}

std::string ike_socket_from_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(std::strerror(errno));
  YAML::Node root = YAML::Load(f);
  if (!root.IsMap()) throw std::runtime_error("not a map");
  std::string vici = kDefaultVici;
  const YAML::Node ike = root["ike"];
  if (ike && ike.IsMap() && ike["vici_socket"] && ike["vici_socket"].IsScalar()) {
    vici = ike["vici_socket"].Scalar();
  }
  const size_t slash = vici.rfind('/');
  return (slash == std::string::npos ? std::string(".") : vici.substr(0, slash)) + "/" +
         kIkeSocketName;
}

// ---- the command line ----------------------------------------------------------------------

struct Invocation {
  std::optional<std::string> socket;
  std::optional<std::string> config;
  bool json_out = false;
  bool all = false;
  int timeout_s = 30;
  std::vector<std::string> words;  // the command and its arguments
  std::optional<std::string> tunnel_file;
  std::optional<std::string> sa_file;
};

bool is_sa_set(const std::vector<std::string>& w) {
  return w.size() >= 2 && w[0] == "sa" && (w[1] == "add" || w[1] == "replace");
}

// Positions of KEY, SALT and AUTHKEY in `sa add|replace TUNNEL DIR SPI ALG KEY [SALT] [AUTHKEY]`.
constexpr size_t kFirstKeyWord = 6;

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The keys first, so that no message below can print one.
  {
    std::vector<std::string> w;
    bool opts = true;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (opts && a == "--") {
        opts = false;
      } else if (opts && (a == "-s" || a == "--socket" || a == "-c" || a == "--config" ||
                          a == "-t" || a == "--timeout" || a == "--sa-json")) {
        ++i;
      } else if (opts && a == "--json" && w.size() == 2 && w[0] == "tunnel") {
        ++i;
      } else if (!opts || a == "-" || !a.starts_with("-")) {
        w.push_back(a);
        if (is_sa_set(w) && w.size() > kFirstKeyWord) g_secrets.add(a);
      }
    }
  }
  bool opts = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (!opts || a == "-" || !a.starts_with("-")) {
      inv.words.push_back(a);
    } else if (a == "--") {
      opts = false;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(kExitOk);
    } else if (a == "-s" || a == "--socket") {
      inv.socket = value();
    } else if (a == "-c" || a == "--config") {
      inv.config = value();
    } else if (a == "-t" || a == "--timeout") {
      const std::string v = value();
      const auto n = parse_spi(v);  // any 32-bit decimal
      if (!n || v.starts_with("0x") || *n > 86400) {
        throw UsageError("--timeout: expected 0 to 86400 seconds, got \"" + v + "\"");
      }
      inv.timeout_s = static_cast<int>(*n);
    } else if (a == "--json" && inv.words.size() == 2 && inv.words[0] == "tunnel" &&
               (inv.words[1] == "add" || inv.words[1] == "replace") && !inv.tunnel_file &&
               i + 1 < args.size()) {
      inv.tunnel_file = value();
    } else if (a == "--json") {
      inv.json_out = true;
    } else if (a == "--all") {
      inv.all = true;
    } else if (a == "--sa-json") {
      inv.sa_file = value();
    } else {
      throw UsageError(looks_like_key(a) ? "unknown option (not shown: it looks like a key)"
                                         : "unknown option \"" + a + "\"");
    }
  }
  if (inv.socket && inv.config) throw UsageError("give -s SOCKET or -c CONFIG, not both");
  if (inv.words.empty()) throw UsageError("no command given");
  return inv;
}

void expect_args(const std::vector<std::string>& w, size_t min, size_t max,
                 const std::string& form) {
  if (w.size() < min || w.size() > max) throw UsageError("usage: espgwctl " + form);
}

std::string parse_direction(const std::string& d) {
  if (d == "in" || d == "inbound") return "in";
  if (d == "out" || d == "outbound") return "out";
  throw UsageError("direction must be in or out, got \"" + d + "\"");
}

uint32_t spi_arg(const std::string& s) {
  const auto spi = parse_spi(s);
  if (!spi) throw UsageError("SPI must be a 32-bit number, decimal or 0x hex, got \"" + s + "\"");
  return *spi;
}

// What to send and how to show the answer.
struct Request {
  json body;
  enum class View {
    kStatus,
    kCounters,
    kPorts,
    kWorkers,
    kDrops,
    kSas,
    kTunnels,
    kRoutes,
    kNeighbours,
    kPeers,
    kChange,
    kApply,
    kStop
  } view;
  std::optional<uint32_t> spi;  // show sas SPI
  size_t ops = 0;               // apply
};

Request build_request(const Invocation& inv) {
  const auto& w = inv.words;
  const std::string& cmd = w[0];
  using View = Request::View;
  const bool sa_set = is_sa_set(w);
  if (inv.sa_file && !sa_set) throw UsageError("--sa-json is for sa add and sa replace");
  if (cmd == "status") {
    expect_args(w, 1, 1, "status");
    return {{{"cmd", "status"}}, View::kStatus};
  }
  if (cmd == "show") {
    if (w.size() < 2) throw UsageError("usage: espgwctl show WHAT (see espgwctl --help)");
    const std::string& what = w[1];
    if (what == "sas") {
      expect_args(w, 2, 3, "show sas [SPI]");
      Request r{{{"cmd", "sas"}}, View::kSas};
      if (w.size() == 3) {
        r.spi = spi_arg(w[2]);
        r.body["spi"] = *r.spi;
      }
      return r;
    }
    static const std::pair<const char*, std::pair<const char*, View>> kShows[] = {
        {"counters", {"counters", View::kCounters}},
        {"ports", {"counters", View::kPorts}},
        {"workers", {"counters", View::kWorkers}},
        {"drops", {"counters", View::kDrops}},
        {"tunnels", {"tunnels", View::kTunnels}},
        {"routes", {"routes", View::kRoutes}},
        {"neighbours", {"neighbours", View::kNeighbours}},
        {"neighbors", {"neighbours", View::kNeighbours}},
        {"peers", {"peers", View::kPeers}},
    };
    for (const auto& [name, target] : kShows) {
      if (what == name) {
        expect_args(w, 2, 2, "show " + what);
        return {{{"cmd", target.first}}, target.second};
      }
    }
    throw UsageError("show: unknown \"" + what +
                     "\" (counters, ports, workers, drops, sas, tunnels, routes, neighbours, "
                     "peers)");
  }
  if (cmd == "sa") {
    if (w.size() < 2) throw UsageError("usage: espgwctl sa add|replace|del ...");
    if (w[1] == "del") {
      expect_args(w, 4, 4, "sa del in|out SPI");
      return {{{"cmd", "sa-del"}, {"direction", parse_direction(w[2])}, {"spi", spi_arg(w[3])}},
              View::kChange};
    }
    if (!sa_set) throw UsageError("sa: unknown \"" + w[1] + "\" (add, replace, del)");
    json body = {{"cmd", "sa-" + w[1]}};
    if (inv.sa_file) {
      expect_args(w, 4, 4, "sa " + w[1] + " TUNNEL in|out --sa-json FILE|-");
      body["sa"] = read_json(*inv.sa_file);
      if (!body["sa"].is_object()) {
        throw UsageError(*inv.sa_file + ": expected a JSON object {spi, algorithm, key, ...}");
      }
    } else {
      // Never name the words from KEY on: they are key material.
      if (w.size() < 7 || w.size() > 9) {
        throw UsageError("usage: espgwctl sa " + w[1] +
                         " TUNNEL in|out SPI ALGORITHM KEY [SALT] [AUTHKEY]");
      }
      const std::string& alg = w[5];
      json sa = {{"spi", spi_arg(w[4])}, {"algorithm", alg}, {"key", w[6]}};
      const bool aead = alg.find("gcm") != std::string::npos;
      if (w.size() == 9) {
        sa["salt"] = w[7];
        sa["auth_key"] = w[8];
      } else if (w.size() == 8) {
        sa[aead ? "salt" : "auth_key"] = w[7];
      }
      body["sa"] = sa;
    }
    body["tunnel"] = w[2];
    body["direction"] = parse_direction(w[3]);
    return {body, View::kChange};
  }
  if (cmd == "route") {
    if (w.size() < 2) throw UsageError("usage: espgwctl route add|replace|del ...");
    if (w[1] == "del") {
      expect_args(w, 3, 3, "route del PREFIX");
      return {{{"cmd", "route-del"}, {"prefix", w[2]}}, View::kChange};
    }
    if (w[1] != "add" && w[1] != "replace") {
      throw UsageError("route: unknown \"" + w[1] + "\" (add, replace, del)");
    }
    const std::string form = "route " + w[1] + " PREFIX [via GATEWAY] dev INTERFACE";
    if (w.size() < 5 || w.size() % 2 == 0) throw UsageError("usage: espgwctl " + form);
    json route = {{"prefix", w[2]}};
    for (size_t i = 3; i + 1 < w.size(); i += 2) {
      const char* field = w[i] == "via" ? "via" : w[i] == "dev" ? "interface" : nullptr;
      if (field == nullptr || route.contains(field)) throw UsageError("usage: espgwctl " + form);
      route[field] = w[i + 1];
    }
    if (!route.contains("interface")) throw UsageError("usage: espgwctl " + form);
    return {{{"cmd", "route-" + w[1]}, {"route", route}}, View::kChange};
  }
  if (cmd == "tunnel") {
    if (w.size() < 2) throw UsageError("usage: espgwctl tunnel add|replace|del ...");
    if (w[1] == "del") {
      expect_args(w, 3, 3, "tunnel del NAME");
      return {{{"cmd", "tunnel-del"}, {"name", w[2]}}, View::kChange};
    }
    if (w[1] != "add" && w[1] != "replace") {
      throw UsageError("tunnel: unknown \"" + w[1] + "\" (add, replace, del)");
    }
    if (w.size() != 2 || !inv.tunnel_file) {
      throw UsageError("usage: espgwctl tunnel " + w[1] + " --json FILE|-");
    }
    json t = read_json(*inv.tunnel_file);
    if (!t.is_object()) {
      throw UsageError(*inv.tunnel_file + ": expected a JSON object, a tunnel as in the config");
    }
    return {{{"cmd", "tunnel-" + w[1]}, {"tunnel", t}}, View::kChange};
  }
  if (cmd == "apply") {
    expect_args(w, 2, 2, "apply FILE|-");
    json ops = read_json(w[1]);
    if (ops.is_object() && ops.contains("ops")) ops = ops["ops"];
    if (!ops.is_array()) {
      throw UsageError(w[1] + ": expected a JSON list of ops (or {\"ops\": [...]})");
    }
    Request r{{{"cmd", "apply"}, {"ops", ops}}, View::kApply};
    r.ops = ops.size();
    return r;
  }
  if (cmd == "stop") {
    expect_args(w, 1, 1, "stop");
    return {{{"cmd", "stop"}}, View::kStop};
  }
  throw UsageError("unknown command \"" + cmd + "\" (see espgwctl --help)");
}

std::string render(const Request& req, const json& resp, bool all) {
  using View = Request::View;
  switch (req.view) {
    case View::kStatus: return status_text(resp);
    case View::kCounters:
      return "ports:\n" + ports_table(resp.value("ports", json::object())) + "\nworkers:\n" +
             workers_table(resp.value("workers", json::object())) + "\ndrops:\n" +
             drops_table(resp.value("drops", json::object()), all);
    case View::kPorts: return ports_table(resp.value("ports", json::object()));
    case View::kWorkers: return workers_table(resp.value("workers", json::object()));
    case View::kDrops: return drops_table(resp.value("drops", json::object()), all);
    case View::kSas: {
      const json sas = resp.value("sas", json::array());
      if (!req.spi) return sas_table(sas);
      if (sas.empty()) throw ErrorResponse("no SA with SPI " + spi_hex(*req.spi));
      std::string s;
      for (const auto& sa : sas)
        s += (s.empty() ? "" : "\n") + sa_detail(sa);
      return s;
    }
    case View::kTunnels: return tunnels_table(resp.value("tunnels", json::array()));
    case View::kRoutes: return routes_table(resp.value("routes", json::array()));
    case View::kNeighbours: return neighbours_table(resp.value("neighbours", json::array()));
    case View::kPeers: return peers_table(resp.value("peers", json::array()));
    case View::kChange: return "ok, generation " + text_of(resp.value("generation", json())) + "\n";
    case View::kApply:
      return "ok, " + std::to_string(req.ops) + (req.ops == 1 ? " op" : " ops") +
             " applied, generation " + text_of(resp.value("generation", json())) + "\n";
    case View::kStop: return "espgw is stopping\n";
  }
  return {};
}

std::string socket_path(const Invocation& inv) {
  if (inv.socket) return *inv.socket;
  if (inv.config) {
    try {
      return socket_from_config(*inv.config);
    } catch (const std::exception& e) {
      throw UsageError(*inv.config + ": cannot read the socket path: " + e.what());
    }
  }
  if (access(kDefaultConfig, R_OK) == 0) {
    try {
      return socket_from_config(kDefaultConfig);
    } catch (const std::exception& e) {
      err(std::string(kDefaultConfig) + ": cannot read the socket path (" + e.what() +
          "); trying " + kDefaultSocket);
    }
  }
  return kDefaultSocket;
}

std::string ike_socket_path(const Invocation& inv) {
  if (inv.socket) return *inv.socket;
  const std::string config = inv.config.value_or(kDefaultConfig);
  if (inv.config || access(kDefaultConfig, R_OK) == 0) {
    try {
      return ike_socket_from_config(config);
    } catch (const std::exception& e) {
      if (inv.config) throw UsageError(config + ": cannot read the socket path: " + e.what());
      err(config + ": cannot read the socket path (" + e.what() + "); trying the default");
    }
  }
  return std::string("/run/espgw/") + kIkeSocketName;
}

// `ike status`: espgw-ike's socket, not espgw's.
int run_ike(const Invocation& inv) {
  const auto& w = inv.words;
  if (inv.all || inv.sa_file) throw UsageError("usage: espgwctl ike status [--json]");
  expect_args(w, 2, 2, "ike status [--json]");
  if (w[1] != "status") throw UsageError("ike: unknown \"" + w[1] + "\" (status)");
  const std::string path = ike_socket_path(inv);
  const std::string line = exchange(path, R"({"cmd":"status"})", inv.timeout_s, "espgw-ike");
  json resp;
  try {
    resp = json::parse(line);
  } catch (const json::exception&) {
    throw ErrorResponse("espgw-ike on " + path + " answered with something that is not JSON");
  }
  if (!resp.is_object()) throw ErrorResponse("espgw-ike on " + path + " answered with no object");
  if (inv.json_out) out(line + "\n");
  if (!resp.value("ok", false)) {
    const json e = resp.value("error", json());
    throw ErrorResponse(e.is_string() ? e.get<std::string>() : "espgw-ike refused the request");
  }
  if (!inv.json_out) out(ike_status_text(resp));
  return kExitOk;
}

int run(int argc, char** argv) {
  const Invocation inv = parse_command_line(argc, argv);
  if (inv.words[0] == "ike") return run_ike(inv);
  const Request req = build_request(inv);
  const std::string path = socket_path(inv);
  const std::string line = exchange(path, req.body.dump(), inv.timeout_s);
  json resp;
  try {
    resp = json::parse(line);
  } catch (const json::exception&) {
    throw ErrorResponse("espgw on " + path + " answered with something that is not JSON");
  }
  if (!resp.is_object()) throw ErrorResponse("espgw on " + path + " answered with no object");
  const bool ok = resp.value("ok", false);
  if (inv.json_out) out(line + "\n");
  if (!ok) {
    const json e = resp.value("error", json());
    throw ErrorResponse(e.is_string() ? e.get<std::string>() : "espgw refused the request");
  }
  if (!inv.json_out) out(render(req, resp, inv.all));
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && espgw::import::is_offline_command(argv[1])) {
    return espgw::import::run_offline_command(argc, argv);
  }
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    err(e.what());
    if (argc <= 1) std::cerr << kUsage;
    return kExitUsage;
  } catch (const Unreachable& e) {
    err(e.what());
    return kExitUnreachable;
  } catch (const ErrorResponse& e) {
    err(e.what());
    return kExitError;
  } catch (const std::exception& e) {
    err(e.what());
    return kExitError;
  }
}
