#!/bin/sh
# Copyright (C) 2026 The espgw authors. GPL-2.0-or-later (COPYING).
#
# check_strongswan_version.sh TREE [STAMP]: TREE (a configured strongSwan source tree) must be the
# upstream version of the installed charon, configured with --enable-mediation, or the plugin would
# be built for structures other than charon's. Writes the version to STAMP when given.
tree=$1
stamp=$2
full=$(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null)
if [ -z "$full" ]; then
  echo "kernel-espgw: strongswan-charon is not installed, so there is no charon to build the plugin for (install it, or configure with -Dstrongswan_src=)" >&2
  exit 1
fi
want=${full#*:}
want=${want%-*}
if [ ! -f "$tree/config.h" ]; then
  echo "kernel-espgw: strongswan_src=$tree has no config.h: not a configured strongSwan tree (scripts/lib/strongswan.sh's ensure_strongswan_src makes one; ./scripts/test calls it)" >&2
  exit 1
fi
got=$(sed -n 's/^#define VERSION "\(.*\)"$/\1/p' "$tree/config.h")
if [ "$got" != "$want" ]; then
  echo "kernel-espgw: strongswan_src=$tree is strongSwan ${got:-(unknown)}, but the installed charon is $want ($full): the plugin must be built against the headers of the charon that loads it. Run ./scripts/test, which fetches the $want headers, or meson configure -Dstrongswan_src=<a $want tree>" >&2
  exit 1
fi
if ! grep -q '^#define ME ' "$tree/config.h"; then
  echo "kernel-espgw: strongswan_src=$tree was configured without --enable-mediation, unlike Debian's charon (daemon_t and ike_sa_t would not match)" >&2
  exit 1
fi
echo "kernel-espgw: strongSwan $got headers from $tree (installed charon: $full)"
if [ -n "$stamp" ]; then
  echo "$got" >"$stamp"
fi
