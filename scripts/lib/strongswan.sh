# strongSwan's headers for the kernel-espgw charon plugin (ike-bridge/plugin/), sourced by
# scripts/test before the build is configured.
#
# The plugin is built against the source of Debian's `strongswan` package at the upstream version
# of the installed charon (docs/architecture.md "Key export"): fetched with apt's source support
# through a private apt configuration (deb-src entries for the URIs and suites the system uses;
# the system's apt configuration is not touched), unpacked, and configured once with the options
# that decide the layout of charon's structures (--enable-mediation, as Debian builds it). The tree
# is cached in $ESPGW_ROOT/.deps/strongswan-VERSION (git-ignored); a second call only checks it.
# Nothing fetched here is ever committed.
# shellcheck shell=bash

# The upstream part of the installed charon's version: 5.9.8 from 5.9.8-5+deb12u6.
strongswan_installed_version() {
  local v
  v=$(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null) || return 1
  [ -n "$v" ] || return 1
  v=${v#*:}
  printf '%s\n' "${v%-*}"
}

# The version a configured tree was made for, from its config.h.
strongswan_tree_version() {
  sed -n 's/^#define VERSION "\(.*\)"$/\1/p' "$1/config.h" 2>/dev/null
}

# apt with a private state: deb-src entries made from the system's deb entries, its own lists and
# cache under $1. Everything else (keyrings, proxies) comes from the system's configuration.
_strongswan_apt() {
  local state=$1
  shift
  apt-get -q -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$state/sources" \
    -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
    -o APT::Sandbox::User=root "$@"
}
_strongswan_apt_cache() {
  local state=$1
  shift
  apt-cache -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$state/sources" \
    -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" "$@"
}

# deb-src twins of the system's deb entries (deb822 .sources files and one-line .list files).
_strongswan_write_sources() {
  local out=$1 f
  : >"$out/espgw-src.sources"
  : >"$out/espgw-src.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Keep only stanzas of Types deb, rewritten to deb-src.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
      "$f" >>"$out/espgw-src.sources"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$out/espgw-src.list"
  done
  [ -s "$out/espgw-src.sources" ] || [ -s "$out/espgw-src.list" ] ||
    die "strongSwan headers: no deb entries in /etc/apt/sources.list{,.d} to derive deb-src entries from"
}

# Fetches (apt-get source) and unpacks Debian's strongswan at upstream version $1 into $2.
_strongswan_fetch() {
  local upstream=$1 dest=$2 full=$3 state src v tried=() candidates=()
  state="$ESPGW_ROOT/.deps/apt"
  rm -rf "$state"
  mkdir -p "$state/sources" "$state/lists/partial" "$state/cache/archives/partial" "$state/src"
  _strongswan_write_sources "$state/sources"
  say >&2 "strongSwan headers: apt-get update (private lists in $state)"
  _strongswan_apt "$state" update >"$state/update.log" 2>&1 ||
    die "strongSwan headers: apt-get update failed (see $state/update.log)"

  # The installed revision first, then every other revision of the same upstream version, newest
  # first: the newest security revision's .dsc may be missing from the archive, while the
  # previous one is there (docs/platform-notes.md).
  candidates=("$full")
  while read -r v; do
    [ "$v" = "$full" ] && continue
    local u=${v#*:}
    [ "${u%-*}" = "$upstream" ] && candidates+=("$v")
  done < <(_strongswan_apt_cache "$state" showsrc strongswan 2>/dev/null |
    sed -n 's/^Version: //p' | sort -V -r -u)

  src="$state/src"
  for v in "${candidates[@]}"; do
    tried+=("$v")
    rm -rf "${src:?}"/*
    say >&2 "strongSwan headers: apt-get source strongswan=$v"
    if (cd "$src" && _strongswan_apt "$state" source --only-source "strongswan=$v") \
      >"$state/source.log" 2>&1 && [ -f "$src/strongswan-$upstream/configure" ]; then
      mv "$src/strongswan-$upstream" "$dest"
      printf '%s\n' "$v" >"$dest/.espgw-debian-version"
      return 0
    fi
  done
  # Last resort: the upstream tarball alone (the headers that matter are the same in every
  # Debian revision of one upstream version).
  for v in "${candidates[@]}"; do
    rm -rf "${src:?}"/*
    say >&2 "strongSwan headers: apt-get source --tar-only strongswan=$v"
    if (cd "$src" && _strongswan_apt "$state" source --download-only --tar-only --only-source \
      "strongswan=$v") >"$state/source.log" 2>&1; then
      local tarball
      tarball=$(ls "$src"/strongswan_"$upstream".orig.tar.* 2>/dev/null | head -n 1)
      if [ -n "$tarball" ] && tar -xf "$tarball" -C "$src" &&
        [ -f "$src/strongswan-$upstream/configure" ]; then
        mv "$src/strongswan-$upstream" "$dest"
        printf '%s (upstream tarball only)\n' "$v" >"$dest/.espgw-debian-version"
        return 0
      fi
    fi
  done
  die "strongSwan headers: could not fetch Debian's strongswan source for $upstream (tried: ${tried[*]}; see $state/source.log)"
}

# Prints the path of a configured strongSwan tree that matches the installed charon, fetching
# and configuring it first if needed. Dies with the reason when it cannot.
ensure_strongswan_src() {
  local upstream full dest lock
  full=$(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null) ||
    die "strongSwan headers: strongswan-charon is not installed (scripts/lib/common.sh ESPGW_PACKAGES)"
  upstream=$(strongswan_installed_version)
  dest="$ESPGW_ROOT/.deps/strongswan-$upstream"
  mkdir -p "$ESPGW_ROOT/.deps"
  # One fetch at a time per checkout.
  exec {lock}>"$ESPGW_ROOT/.deps/.strongswan.lock"
  flock "$lock"
  if [ ! -f "$dest/.espgw-configured" ]; then
    rm -rf "$dest" "$dest.tmp"
    _strongswan_fetch "$upstream" "$dest.tmp" "$full"
    say >&2 "strongSwan headers: configuring $dest (config.h only)"
    # The options that change the layout of charon's structures must match Debian's build:
    # --enable-mediation (#ifdef ME in daemon_t, ike_sa_t, peer_cfg_t). Plugins that need
    # libraries (gmp) are off: only config.h is used.
    if ! (cd "$dest.tmp" && ./configure --prefix=/usr --sysconfdir=/etc --libdir=/usr/lib \
      --libexecdir=/usr/lib --enable-mediation --disable-gmp) >"$dest.tmp/espgw-configure.log" 2>&1; then
      die "strongSwan headers: ./configure failed (see $dest.tmp/espgw-configure.log)"
    fi
    mv "$dest.tmp" "$dest"
    touch "$dest/.espgw-configured"
    rm -rf "$ESPGW_ROOT/.deps/apt"  # the private lists and downloads: no longer needed
  fi
  exec {lock}>&-
  local got
  got=$(strongswan_tree_version "$dest")
  [ "$got" = "$upstream" ] ||
    die "strongSwan headers: $dest is strongSwan ${got:-(no config.h)}, but the installed charon is $upstream"
  printf '%s\n' "$dest"
}

# Points an existing build directory at the tree (a new one gets it from build_project's
# arguments); a no-op when it already does.
use_strongswan_src() {
  local src=$1 current
  [ -f "$ESPGW_BUILD/build.ninja" ] || return 0
  current=$(meson introspect --buildoptions "$ESPGW_BUILD" 2>/dev/null | "$(espgw_python)" -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "strongswan_src"), ""))')
  if [ "$current" != "$src" ]; then
    say >&2 "pointing $ESPGW_BUILD at the strongSwan headers in $src"
    meson configure "$ESPGW_BUILD" -Dstrongswan_src="$src" >/dev/null
  fi
}
