# Shared by scripts/test, scripts/demo and bench/: packages, build directory, messages.
# shellcheck shell=bash

ESPGW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ESPGW_BUILD="${ESPGW_BUILD:-$ESPGW_ROOT/build}"

# Every Debian 12 package the project needs to build, test, benchmark and run its labs.
ESPGW_PACKAGES=(
  g++ meson ninja-build pkg-config
  libipsec-mb-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev
  dpdk dpdk-dev libdpdk-dev
  # bench/run builds DPDK's ipsec-secgw from the examples in dpdk-doc at bench time.
  dpdk-doc python3-yaml
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-scapy
  python3-cryptography procps iproute2 ethtool iputils-ping iperf3 tcpdump
  clang libclang-rt-14-dev
  # strongSwan: charon and swanctl for the IKE tests, kernel-libipsec (extra plugins) for their stock
  # peer, openssl and friends (standard plugins), curve25519 (extra plugins: in espgw-up's charon
  # load list, left out where missing); dpkg-dev unpacks Debian's strongswan source for
  # the kernel-espgw plugin's headers (scripts/lib/strongswan.sh). Suite ike also runs espgw-ike
  # against two charons in network namespaces.
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins
  libstrongswan-extra-plugins
  dpkg-dev bzip2 xz-utils make
  iproute2 ethtool iputils-ping
  # nft and conntrack: the IKE interop lab's 1:1 NAT (an Elastic IP) in front of a gateway, and
  # moving its mapping
  nftables conntrack
  # prometheus: metrics_prometheus scrapes espgw-exporter with a real Prometheus (its own port);
  # its promtool checks the shipped alerting rules (alert_rules)
  prometheus
  # gdb's gcore: key_core dumps a process holding SA keys and looks for them in the core
  gdb
  # FRR (zebra with dplane_fpm_nl, bgpd, bfdd, vtysh): dynamic routing beside espgw
  # (docs/routing.md); espgw-up runs its own instances, so Debian's frr.service is disabled.
  frr
  # libfaketime: ike_clock_jump steps the wall clock of a running gw1 (espgw, charon, espgw-ike)
  faketime
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"
  fi
}

# Replaces this shell with the command, as root (sudo where we are not).
exec_as_root() {
  if [ "$(id -u)" -eq 0 ]; then exec "$@"; elif command -v sudo >/dev/null; then exec sudo "$@"; else
    die "need root to run: $*"
  fi
}

# shellcheck disable=SC2034  # used by scripts/package
# What scripts/package needs beside ESPGW_PACKAGES: Debian's packaging tools, and debootstrap for
# the install test's fresh Debian 12 (tests/package/install_test).
ESPGW_PACKAGING_PACKAGES=(debhelper dpkg-dev fakeroot lintian help2man debootstrap git)

# Installs what is missing of the packages named (default: ESPGW_PACKAGES); quick (one dpkg-query
# each) when everything is there.
ensure_packages() {
  local missing=() status
  (($# > 0)) || set -- "${ESPGW_PACKAGES[@]}"
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The frr package enables (and, under systemd, starts) its own zebra and staticd in the host
  # namespace; espgw runs FRR through espgw-up and its units instead (docs/espgw-up.md).
  if [[ " ${missing[*]} " == *" frr "* ]] && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now frr.service >/dev/null 2>&1 || true
  fi
}

# Configures (once) and builds the main build directory.
# The libFuzzer targets (tests/fuzz) in build-fuzz: clang, AddressSanitizer, UBSan.
build_fuzz() {
  local dir="$ESPGW_ROOT/build-fuzz"
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir (clang, AddressSanitizer, UBSan)"
    CC=clang CXX=clang++ meson setup "$dir" "$ESPGW_ROOT" -Dfuzz=enabled -Dtests=false \
      -Dbench=disabled -Ddataplane=disabled -Db_sanitize=address,undefined -Db_lundef=false \
      --buildtype=debugoptimized >/dev/null
  fi
  ninja -C "$dir"
}

# The labs under AddressSanitizer, LeakSanitizer and UBSan (./scripts/test, docs/testing.md):
# espgw, its tools and the kernel-espgw plugin built with gcc's sanitizers in build-asan, at -O1
# with line tables only (-g1): a third of -O2 -g's compile time, and reports still name the file
# and line. Only configured here: `meson test` builds what the tests it runs depend on.
configure_sanitized() {
  local dir="$ESPGW_ROOT/build-asan"
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir (AddressSanitizer, UBSan)"
    meson setup "$dir" "$ESPGW_ROOT" -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbench=disabled -Dfuzz=disabled -Dbuildtype=plain -Doptimization=1 -Dc_args=-g1 \
      -Dcpp_args=-g1 "$@" >/dev/null
  fi
}

build_project() {
  if [ ! -f "$ESPGW_BUILD/build.ninja" ]; then
    say "configuring $ESPGW_BUILD"
    meson setup "$ESPGW_BUILD" "$ESPGW_ROOT" "$@" >/dev/null
  fi
  say "building"
  ninja -C "$ESPGW_BUILD"
}

# Debian's python3 has scapy; a pyenv shim on PATH may not (docs/platform-notes.md).
espgw_python() {
  if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}
