"""labkit: the pieces every namespace lab of the tests is built from.

    proc       errors, waits, commands, child processes, a test's start and exit (LabError,
               wait_for, run, begin_test, verdict), a script without .py as a module (load_script)
    netns      namespaces and veths named by a tag, addresses, routes, gateway ports, clean-up
    lab        a lab: its tag, work folder, namespaces and helper processes, torn down as one;
               teardown(steps) for a lab's stop_daemons()
    traffic    ping, iperf3, checked TCP transfers, sequence-numbered UDP streams
    capture    tcpdump on a wire, and nft counters of what a kernel takes from a wire
    control    espgw's control socket (one JSON line each way), tunnel_if_id
    espgw      one espgw process in a namespace: start, ready, stop, log
    charon     one charon in a namespace with a private /run and plugin folder; swanctl views
    tools      the traffic helpers run inside namespaces (a script: tools.py COMMAND ...)
    packets    crafting and opening ESP packets with scapy (the scenarios' and interop's)

The labs themselves (tests/e2e/lab.py, tests/ike/ike_lab.py, tests/ike/stack_lab.py,
tests/ike/ha_lab.py) hold only their topology and what their tests ask of it.

Tests import it as `labkit` with tests/ on PYTHONPATH: meson's test environment sets it
(tests/meson.build); by hand, `PYTHONPATH=tests python3 tests/e2e/e2e_traffic.py --build build`.
"""
