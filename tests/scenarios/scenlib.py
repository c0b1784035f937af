"""What the scenario cases' gen.py scripts share besides labkit.packets (ESP with scapy, frames,
pcaps; all of it is here too, for `from scenarios.scenlib import *`): the addresses of the usual
two-port gateway, the placeholders of a case's config.yaml, and where a gen.py reads its config
and writes its pcaps.
"""

import os
import sys

from labkit.packets import *  # noqa: F401,F403 - a gen.py gets both with one import
from labkit.packets import load_config

# ---- the usual topology (cases may differ; these are defaults for gen.py) ----------------------
LAN_MAC = "02:00:00:00:01:01"  # espgw's lan port
WAN_MAC = "02:00:00:00:02:01"  # espgw's wan port
HOST_MAC = "02:00:00:00:01:10"  # a host on the LAN, static neighbour 172.50.1.10
ROUTER_MAC = "02:00:00:00:02:fe"  # the WAN router, static neighbour 198.51.100.254
LAN_IP = "172.50.1.1"
WAN_IP = "198.51.100.1"
HOST_IP = "172.50.1.10"
ROUTER_IP = "198.51.100.254"
PEER_IP = "203.0.113.2"  # the tunnel's remote end, behind the router
LAN_IP6 = "2001:db8:50::1"
WAN_IP6 = "2001:db8:ff::1"
HOST_IP6 = "2001:db8:50::10"
ROUTER_IP6 = "2001:db8:ff::fe"
REMOTE_HOST = "172.60.1.20"  # a host behind the peer (tunnel remote_cidrs 172.60.0.0/16)
REMOTE_HOST6 = "2001:db8:60::20"

# Placeholders in a case's config.yaml, filled in by run_scenario.py.
CASE_DIR = "@CASE@"  # the case's folder (input pcaps)
OUT_DIR = "@OUT@"  # the run's scratch folder (output pcaps, stats)
EMPTY = "@EMPTY@"  # an empty pcap, for ports that only send


def here(script):
    """The folder of a gen.py (pcaps are written next to it)."""
    return os.path.dirname(os.path.abspath(script))


def out_dir(script):
    """Where gen.py writes: its first argument, or its own folder."""
    return sys.argv[1] if len(sys.argv) > 1 else here(script)


def case_config(script):
    return load_config(os.path.join(here(script), "config.yaml"))


def lanes_last(pairs):
    """The frames of (frame, sa) pairs (sa None: not ESP) in the order espgw sends them when they
    all came in one poll loop: AES-CBC + HMAC packets wait in the crypto lanes (intel-ipsec-mb's
    multi-buffer manager, kept full across bursts; docs/hot-path-profile.md) and leave after the
    loop's other packets, in their own order."""
    return [f for f, sa in pairs if sa is None or sa.aead] + \
        [f for f, sa in pairs if sa is not None and not sa.aead]
