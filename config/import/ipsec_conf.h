#pragma once
// The ipsec.conf importer's insides (espgwctl import-ipsec-conf), shared by the files that each do
// one part of it:
//   config/import/ipsec_conf_reader.cpp  ipsec.conf: sections, settings, include, also= and
//                                        %default (a conn's effective settings)
//   config/import/ipsec_secrets.cpp      ipsec.secrets: PSK entries, 0x/0s values, and which key
//                                        strongSwan takes for a pair of IDs
//   config/import/ipsec_conn.cpp         one conn into a tunnel: its values (times, yes/no,
//                                        proposals), addresses, subnets, the keys not carried over
//   config/import/ipsec_conf.cpp         import_ipsec_conf: the driver and the YAML it writes
// import.h is the interface; this header is not part of it.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "config/import/import.h"

namespace espgw::import::ipsec {

struct Param {
  std::string key;
  std::string value;
  std::string file;
  int line = 0;
  std::string at() const { return file + ":" + std::to_string(line); }
};

struct Section {
  std::string kind;  // "config", "conn", "ca"
  std::string name;
  std::string file;
  int line = 0;
  std::vector<Param> params;
  std::string at() const { return file + ":" + std::to_string(line); }
};

using Settings = std::map<std::string, Param>;

// Throws ImportError "AT: WHAT".
[[noreturn]] void fail(const std::string& at, const std::string& what);

// The lines of `path`, a file read at include depth `depth` from `from` ("FILE:LINE" of the
// include, empty for the file named on the command line).
std::vector<std::string> read_lines(const std::string& path, int depth, const std::string& from);

// `include PATTERN`: relative to the including file's folder; a glob may match nothing (as in
// strongSwan), a plain path must exist. The files in order of their names.
std::vector<std::string> resolve_include(const std::string& pattern, const std::string& from_file,
                                         const std::string& at);

// ---- ipsec.conf (ipsec_conf_reader.cpp) -----------------------------------------------------

class ConfReader {
 public:
  std::vector<Section> sections;
  std::vector<std::string> notes;

  void read(const std::string& path, int depth, const std::string& from);

 private:
  // A line that starts a section (or includes files); the section it opens, or null.
  Section* section_line(const std::string& s, const std::string& path, int line, int depth);
  void setting_line(Section* cur, const std::string& s, const std::string& path, int line);
};

// A conn's effective settings: %default, then its also= (in order, recursively), then its own.
class Resolver {
 public:
  explicit Resolver(const std::vector<Section>& sections);
  Settings effective(const Section& conn) const;
  bool used_by_also(const std::string& name) const { return also_targets_.count(name) != 0; }

 private:
  Settings own(const Section& conn, std::vector<std::string>& chain) const;
  Settings defaults_;
  std::map<std::string, const Section*> conns_;
  std::set<std::string> also_targets_;
};

// ---- ipsec.secrets (ipsec_secrets.cpp) ------------------------------------------------------

struct Psk {
  std::vector<std::string> ids;  // empty: any
  std::string secret;
  std::string at;
};

class SecretsReader {
 public:
  std::vector<Psk> psks;
  std::vector<std::string> notes;

  void read(const std::string& path, int depth, const std::string& from);

 private:
  void entry(const std::string& e, const std::string& path, int line, int depth);
};

// strongSwan's choice of a shared key for (me, other), or null; fails where two keys tie.
const Psk* find_psk(const std::vector<Psk>& psks, const std::string& me, const std::string& other,
                    const std::string& conn);

// ---- one conn (ipsec_conn.cpp) --------------------------------------------------------------

// A conn that becomes a tunnel.
struct Mapped {
  std::string name;
  const Section* section = nullptr;
  IpAddress local, remote;
  std::vector<IpPrefix> local_cidrs, remote_cidrs;
  Settings s;

  const Param* get(const std::string& key) const;
  const std::string& conn() const { return section->name; }
};

// `conn` with its effective settings as a tunnel; nullopt for one strongSwan does not load
// (auto=ignore, noted). Fails with the line of what cannot be mapped.
std::optional<Mapped> map_conn(const Section& conn, const Resolver& resolver, const Site& site,
                               std::vector<std::string>& notes);

// strongSwan time values: a number with s, m, h or d (seconds without).
uint64_t seconds(const Param& p, const std::string& conn);

bool yes_no(const Param& p, const std::string& conn);

// keyexchange=: 1 or 2 (2 without it).
int ike_version(const Param* keyexchange, const std::string& conn, std::vector<std::string>& notes);

// ike= or esp= (`p`, may be null) as espgw's proposal list "a, b", empty without it.
std::string proposals(const Param* p, bool esp, const std::string& conn,
                      std::vector<std::string>& notes);

}  // namespace espgw::import::ipsec
