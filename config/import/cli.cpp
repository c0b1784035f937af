// espgwctl's offline commands: import-aws, import-ipsec-conf and mesh. They read files and write
// configs; none of them talks to espgw. Every config is validated by config::parse before it is
// written, with its secrets file in place, so that what lands on disk is what espgw accepts.
// Exit: 0 written, 1 the input cannot be read or mapped (or the result is refused: a bug or a value
// espgw does not accept, named with the input line it came from), 2 usage.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/redact.h"
#include "common/write_all.h"
#include "config/config.h"
#include "config/frr_conf.h"
#include "config/import/import.h"

namespace espgw::import {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

const char* const kUsage = R"(usage:
  espgwctl import-aws FILE [-o OUT.yaml] [--secrets OUT.secrets.yaml] [SITE] [--name NAME]
                           [--ike-version 1|2] [--frr-dir DIR] [--static-routing]
  espgwctl import-ipsec-conf FILE [--secrets ipsec.secrets] [-o OUT.yaml]
                           [--secrets-out OUT.secrets.yaml] [SITE]
  espgwctl mesh --regions FILE -o DIR [--static-sas] [--secrets-dir DIR] [--lanes N] [--bgp]
                [--tunnels N]

import-aws reads an AWS Site-to-Site VPN connection's configuration as the console downloads it
(vendor "Generic", the text file) or the CustomerGatewayConfiguration XML; import-ipsec-conf reads
strongSwan's ipsec.conf (with its includes) and ipsec.secrets (default: the one beside FILE).
Both write an espgw config (stdout without -o) and its pre-shared keys in a separate secrets file,
mode 0600 (default: OUT with .secrets.yaml); they note on stderr whatever they do not carry over.

import-aws and dynamic routing (BGP): a download whose tunnels have BGP gives route-based tunnels
(inside addresses, selectors 0.0.0.0/0), a BGP neighbour on each (AWS's ASN, inside address and
hold time) and a top-level bgp: that announces the --local-cidr prefixes (at most 100); both
tunnels carry traffic (ECMP), so no peer. docs/routing.md.
  --frr-dir DIR             also write FRR's zebra.conf, bgpd.conf and bfdd.conf there, as
                            espgw-up renders them from the config
  --static-routing          treat a BGP download as static: one peer, --remote-cidr required

SITE, this gateway's own side, which the files do not describe:
  --wan-interface DEVARGS   the DPDK device that carries the tunnels, e.g. 0000:00:06.0
  --wan-address A/LEN       its address and prefix (on EC2 the ENI's private address;
                            import-aws: the Elastic IP is the customer gateway address)
  --wan-gateway A           its next hop (default: the subnet's base address + 1, AWS's router)
  --wan-mtu N               (default 1500)
  --lan-interface DEVARGS   a second port towards the local networks (optional), with
  --lan-address A/LEN, --lan-gateway A, --lan-mtu N (default 9001)
  --local-cidr CIDR         networks behind this gateway (import-aws: required; repeatable)
  --remote-cidr CIDR        networks behind the peer (import-aws: the VPC's; repeatable)
  --workers N               worker lcores (default 1)
  --control-socket PATH     dataplane.control_socket
  --secrets-file PATH       what ike.secrets_file says (default: where the secrets are written)

mesh writes DIR/REGION.yaml for every region of FILE (and DIR/REGION.secrets.yaml with IKE):
  --static-sas              lab keys in the configs (mode 0600) instead of IKE
  --secrets-dir DIR         where the secrets files will be installed (default /etc/espgw)
  --lanes N                 lanes of every tunnel, 1 to 64 (default: the file's defaults.lanes,
                            else 1); more than 1 needs IKE and NAT-T (docs/lanes.md)
  --bgp                     route-based tunnels with BGP and BFD between the regions: each
                            region its private ASN (64512 + its index) announcing its CIDRs,
                            inside /30s from 169.254.0.0/16 (docs/routing.md)
  --tunnels N               with --bgp and IKE: N tunnels between each pair of regions, 1 to 4
                            (default 1), each its own inside /30 and BGP session; BGP spreads
                            the traffic over them (ECMP)
)";

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ImportError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream s;
  s << f.rdbuf();
  if (s.str().size() > (16u << 20)) throw ImportError(path + ": larger than 16 MiB");
  return s.str();
}

std::string absolute(const std::string& p) {
  return std::filesystem::absolute(p).lexically_normal().string();
}

// Writes `text` to a fresh file beside `path` with `mode`, for rename() into place later.
std::string write_temp(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw ImportError(tmp + ": cannot create: " + std::strerror(errno));
  fchmod(fd, mode);  // whatever the umask
  if (const int e = write_all(fd, text); e != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw ImportError(tmp + ": cannot write: " + std::strerror(e));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw ImportError(tmp + ": cannot write: " + std::strerror(errno));
  }
  return tmp;
}

std::string secrets_yaml(const Result& r, const std::string& about) {
  std::string s = "# Pre-shared keys of " + about +
                  ", by the names its tunnels' ike.psk_ref give.\n# Keep this file owned by "
                  "root, mode 0600: espgw refuses it otherwise.\npsk:\n";
  for (const auto& [name, key] : r.secrets) {
    std::string q = "\"";
    for (unsigned char c : key) {
      if (c == '"' || c == '\\') q += '\\';
      q += static_cast<char>(c);
    }
    s += "  " + name + ": " + q + "\"\n";
  }
  return s;
}

// The config text with ike.secrets_file pointing at `path` (for validation against the
// secrets file before it is in its final place); the line count stays the same.
std::string with_secrets_path(const std::string& yaml, const std::string& path) {
  const std::string key = "\n  secrets_file: ";
  const size_t at = yaml.rfind(key);
  if (at == std::string::npos) return yaml;
  const size_t end = yaml.find('\n', at + 1);
  return yaml.substr(0, at) + key + path + yaml.substr(end);
}

void say(const std::string& s) {
  std::cerr << "espgwctl: " << s << "\n";
}

// FRR's files for config `c` in `dir` (zebra.conf, bgpd.conf, bfdd.conf), as espgw-up renders
// them (config/frr_conf.h); written to temporary names for rename() into place: {tmp, final}.
std::vector<std::pair<std::string, std::string>> frr_files(const config::Config& c,
                                                           const std::string& dir) {
  if (!c.bgp.enabled()) {
    throw ImportError("--frr-dir: the connection uses static routing: there is no FRR config");
  }
  const config::FrrConf frr = config::render_frr(c);
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [name, text] :
       {std::pair{"zebra.conf", &frr.zebra}, std::pair{"bgpd.conf", &frr.bgpd},
        std::pair{"bfdd.conf", &frr.bfdd}}) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    files.emplace_back(write_temp(path, *text, 0644), path);
  }
  return files;
}

// Validates `r` and writes it: the config to `out` (stdout when empty), the keys to `secrets`
// when it has any, FRR's files to `frr_dir` when given. Nothing is left behind when validation
// fails.
void emit(const Result& r, const std::string& out, const std::string& secrets,
          const std::string& about, bool config_secret, const std::string& frr_dir = {}) {
  for (const auto& n : r.notes)
    say("note: " + n);
  const std::string name = out.empty() ? "(output)" : out;
  std::string tmp_secrets;
  if (!r.secrets.empty()) tmp_secrets = write_temp(secrets, secrets_yaml(r, about), 0600);
  try {
    const std::string check =
        tmp_secrets.empty() ? r.yaml : with_secrets_path(r.yaml, absolute(tmp_secrets));
    const config::Config c = config::parse(check, name);
    for (const auto& w : c.warnings)
      say("warning: " + w);
    std::vector<std::pair<std::string, std::string>> frr;
    if (!frr_dir.empty()) frr = frr_files(c, frr_dir);
    if (out.empty()) {
      std::cout << r.yaml << std::flush;
    } else {
      const std::string tmp = write_temp(out, r.yaml, config_secret ? 0600 : 0644);
      if (std::rename(tmp.c_str(), out.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        throw ImportError(out + ": cannot write: " + std::strerror(e));
      }
    }
    if (!tmp_secrets.empty() && std::rename(tmp_secrets.c_str(), secrets.c_str()) != 0) {
      throw ImportError(secrets + ": cannot write: " + std::strerror(errno));
    }
    for (const auto& [tmp, path] : frr) {
      if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw ImportError(path + ": cannot write: " + std::strerror(errno));
      }
    }
    say("wrote " + name + " (" + std::to_string(c.tunnels.size()) + " tunnels, " +
        std::to_string(c.peers.size()) + " peers; espgw-config-check accepts it)" +
        (r.secrets.empty()
             ? ""
             : " and " + secrets + " (mode 0600, " + std::to_string(r.secrets.size()) + " keys)"));
    for (const auto& p : r.placeholders)
      say(name + ": edit before use: " + p);
    if (!frr.empty()) {
      say("wrote FRR's zebra.conf, bgpd.conf and bfdd.conf in " + frr_dir +
          " (as espgw-up renders them from the config)");
    }
  } catch (const config::ConfigError& e) {
    if (!tmp_secrets.empty()) ::unlink(tmp_secrets.c_str());
    throw ImportError("the generated config is refused by the validator (nothing was written):\n" +
                      explain(e.what(), r, name));
  } catch (...) {
    if (!tmp_secrets.empty()) ::unlink(tmp_secrets.c_str());
    throw;
  }
}

std::string secrets_beside(const std::string& out) {
  const std::string base = out.ends_with(".yaml")  ? out.substr(0, out.size() - 5)
                           : out.ends_with(".yml") ? out.substr(0, out.size() - 4)
                                                   : out;
  return base + ".secrets.yaml";
}

InterfaceAddress if_address_arg(const std::string& flag, const std::string& v) {
  const auto a = InterfaceAddress::parse(v);
  if (!a || a->length == (a->address.is_v4() ? 32 : 128)) {
    throw Usage(flag + ": expected ADDRESS/LENGTH, e.g. 172.31.1.10/24, got " + quote(v));
  }
  return *a;
}

IpAddress address_arg(const std::string& flag, const std::string& v) {
  const auto a = IpAddress::parse(v);
  if (!a) throw Usage(flag + ": not an IP address " + quote(v));
  return *a;
}

uint32_t number_arg(const std::string& flag, const std::string& v, uint32_t min, uint32_t max) {
  uint32_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
    throw Usage(flag + ": expected " + std::to_string(min) + " to " + std::to_string(max) +
                ", got " + quote(v));
  }
  return n;
}

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::string out, secrets, secrets_out, regions, secrets_dir = "/etc/espgw", secrets_file;
  std::string name = "aws";
  std::optional<int> ike_version;
  bool static_sas = false;
  bool static_routing = false;
  bool bgp = false;
  std::string frr_dir;
  unsigned lanes = 0;
  unsigned tunnels = 1;
  Site site;
};

Args parse_args(int argc, char** argv) {
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(kExitOk);
    } else if (arg == "-o" || arg == "--output") {
      a.out = value();
    } else if (arg == "--secrets") {
      a.secrets = value();
    } else if (arg == "--secrets-out") {
      a.secrets_out = value();
    } else if (arg == "--secrets-file") {
      a.secrets_file = value();
    } else if (arg == "--regions") {
      a.regions = value();
    } else if (arg == "--secrets-dir") {
      a.secrets_dir = value();
    } else if (arg == "--static-sas") {
      a.static_sas = true;
    } else if (arg == "--static-routing") {
      a.static_routing = true;
    } else if (arg == "--bgp") {
      a.bgp = true;
    } else if (arg == "--frr-dir") {
      a.frr_dir = value();
    } else if (arg == "--lanes") {
      a.lanes = static_cast<unsigned>(number_arg(arg, value(), 1, 64));
    } else if (arg == "--tunnels") {
      a.tunnels = static_cast<unsigned>(number_arg(arg, value(), 1, 4));
    } else if (arg == "--name") {
      // Checked here, whole: the config's checks see it only inside NAME-tunnel1, where a key
      // pasted as the name would no longer look like one.
      a.name = value();
      const bool ok = !a.name.empty() && a.name.size() <= 24 &&
                      a.name.find_first_not_of(
                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_.") == std::string::npos;
      if (!ok) {
        throw Usage(
            "--name: 1 to 24 letters, digits, '-', '_' or '.' (the tunnels are "
            "NAME-tunnel1 and NAME-tunnel2), got " +
            quote(a.name));
      }
    } else if (arg == "--ike-version") {
      a.ike_version = static_cast<int>(number_arg(arg, value(), 1, 2));
    } else if (arg == "--wan-interface") {
      a.site.wan_device = value();
    } else if (arg == "--wan-address") {
      a.site.wan_address = if_address_arg(arg, value());
    } else if (arg == "--wan-gateway") {
      a.site.wan_gateway = address_arg(arg, value());
    } else if (arg == "--wan-mtu") {
      a.site.wan_mtu = static_cast<uint16_t>(number_arg(arg, value(), 576, 9216));
    } else if (arg == "--lan-interface") {
      a.site.lan_device = value();
    } else if (arg == "--lan-address") {
      a.site.lan_address = if_address_arg(arg, value());
    } else if (arg == "--lan-gateway") {
      a.site.lan_gateway = address_arg(arg, value());
    } else if (arg == "--lan-mtu") {
      a.site.lan_mtu = static_cast<uint16_t>(number_arg(arg, value(), 576, 9216));
    } else if (arg == "--local-cidr" || arg == "--remote-cidr") {
      const std::string v = value();
      const auto p = IpPrefix::parse(v);
      if (!p) throw Usage(arg + ": not a prefix with its host bits zero " + quote(v));
      (arg == "--local-cidr" ? a.site.local_cidrs : a.site.remote_cidrs).push_back(*p);
    } else if (arg == "--workers") {
      a.site.workers = number_arg(arg, value(), 1, 128);
    } else if (arg == "--control-socket") {
      a.site.control_socket = value();
    } else if (arg.starts_with("-") && arg != "-") {
      throw Usage("unknown option " + quote_option(arg));
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

int run(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  if (a.command == "mesh") {
    if (a.regions.empty() || a.out.empty() || !a.positional.empty()) {
      throw Usage(
          "usage: espgwctl mesh --regions FILE -o DIR [--static-sas] [--secrets-dir DIR] "
          "[--lanes N] [--bgp [--tunnels N]]");
    }
    if (a.secrets_dir.empty() || a.secrets_dir[0] != '/') {
      throw Usage("--secrets-dir: an absolute path, got " + quote(a.secrets_dir));
    }
    std::filesystem::create_directories(a.out);
    const auto configs =
        generate_mesh(read_all(a.regions), a.regions,
                      MeshOptions{a.static_sas, a.secrets_dir, a.lanes, a.bgp, a.tunnels});
    for (const auto& mc : configs) {
      const std::string out = (std::filesystem::path(a.out) / (mc.region + ".yaml")).string();
      const std::string secrets =
          (std::filesystem::path(a.out) / (mc.region + ".secrets.yaml")).string();
      emit(mc.result, out, secrets, "region " + mc.region, a.static_sas);
    }
    if (!a.static_sas) {
      say("install each REGION.secrets.yaml as " + a.secrets_dir +
          "/REGION.secrets.yaml on its gateway (install -m 600)");
    }
    return kExitOk;
  }
  const bool aws = a.command == "import-aws";
  if (!aws && !a.frr_dir.empty()) throw Usage("--frr-dir: import-aws only");
  if (a.positional.size() != 1) {
    throw Usage(
        aws ? "usage: espgwctl import-aws FILE [-o OUT.yaml] [--secrets OUT.secrets.yaml] ..."
            : "usage: espgwctl import-ipsec-conf FILE [--secrets ipsec.secrets] [-o OUT.yaml] ...");
  }
  const std::string file = a.positional[0];
  std::string secrets_out = aws ? a.secrets : a.secrets_out;
  if (secrets_out.empty()) {
    if (a.out.empty()) {
      throw Usage(std::string("the config goes to stdout without -o: name the secrets file with ") +
                  (aws ? "--secrets" : "--secrets-out"));
    }
    secrets_out = secrets_beside(a.out);
  }
  a.site.secrets_file = a.secrets_file.empty() ? absolute(secrets_out) : a.secrets_file;
  if (a.site.secrets_file[0] != '/') throw Usage("--secrets-file: an absolute path");
  Result r;
  if (aws) {
    r = import_aws(read_all(file), file, a.site,
                   AwsOptions{a.name, a.ike_version, a.static_routing});
  } else {
    std::string secrets = a.secrets;
    if (secrets.empty()) {
      const auto beside = std::filesystem::path(file).parent_path() / "ipsec.secrets";
      if (std::filesystem::exists(beside)) secrets = beside.string();
    }
    r = import_ipsec_conf(file, a.site, IpsecConfOptions{secrets});
  }
  emit(r, a.out, secrets_out, file, false, a.frr_dir);
  return kExitOk;
}

}  // namespace

std::string explain(const std::string& what, const Result& r, const std::string& name) {
  std::istringstream in(what);
  std::string out;
  for (std::string l; std::getline(in, l);) {
    out += l;
    if (l.starts_with(name + ":")) {
      int line = 0;
      std::istringstream n(l.substr(name.size() + 1));
      if (n >> line) {
        const auto it = r.origins.find(line);
        if (it != r.origins.end()) {
          out += " [from " + it->second.file +
                 (it->second.line ? ":" + std::to_string(it->second.line) : "") +
                 (it->second.what.empty() ? "" : ": " + it->second.what) + "]";
        }
      }
    }
    out += "\n";
  }
  return out;
}

bool is_offline_command(std::string_view word) {
  return word == "import-aws" || word == "import-ipsec-conf" || word == "mesh";
}

int run_offline_command(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Usage& e) {
    std::cerr << "espgwctl: " << e.what() << "\n";
    return kExitUsage;
  } catch (const ImportError& e) {
    std::cerr << "espgwctl: " << e.what() << "\n";
    return kExitError;
  } catch (const std::exception& e) {
    std::cerr << "espgwctl: " << e.what() << "\n";
    return kExitError;
  }
}

}  // namespace espgw::import
