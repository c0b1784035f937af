-- pktgen-dpdk Lua script: a rate sweep through an espgw pair (docs/load-testing.md).
--
-- The generator sends on port 0 (into gw1's LAN ENI) and receives on port 1 (from gw2's LAN ENI).
-- Each step sends the pcap given to pktgen for port 0 with -s 0:FILE (bench/pcapgen --side clear:
-- many flows, so that ENA's RSS spreads them over gw1's queues), at a percentage of line rate,
-- for `seconds`, and prints what arrived back on port 1 and what was lost.
--
--   pktgen -l 0-4 -n 4 -a 0000:00:06.0 -a 0000:00:07.0 -- -P -m "[1:2].0,[3:4].1" \
--          -s 0:clear_64.pcap -f espgw-sweep.lua
--
-- pktgen-dpdk is not packaged by Debian: build it from its own repository against the same DPDK
-- (22.11) as espgw. This script uses only pktgen's documented Lua calls (pktgen.set, start,
-- stop, clr, delay, portStats); check them against the pktgen version you build.

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"

local send = "0"
local recv = "1"
local seconds = 10
local rates = {10, 25, 50, 75, 100}  -- percent of the link speed pktgen sees

pktgen.set(send, "rate", 100)
pktgen.clr()

printf("%-8s %14s %14s %10s\n", "rate %", "sent pps", "received pps", "loss %")
for _, rate in ipairs(rates) do
    pktgen.clr()
    pktgen.set(send, "rate", rate)
    pktgen.start(send)
    pktgen.delay(2000)               -- let queues and neighbour tables settle
    local before_tx = pktgen.portStats(send, "port")[tonumber(send)].opackets
    local before_rx = pktgen.portStats(recv, "port")[tonumber(recv)].ipackets
    pktgen.delay(seconds * 1000)
    local after_tx = pktgen.portStats(send, "port")[tonumber(send)].opackets
    local after_rx = pktgen.portStats(recv, "port")[tonumber(recv)].ipackets
    pktgen.stop(send)
    pktgen.delay(1000)
    local tx = (after_tx - before_tx) / seconds
    local rx = (after_rx - before_rx) / seconds
    local loss = tx > 0 and 100 * (tx - rx) / tx or 0
    printf("%-8d %14.0f %14.0f %10.3f\n", rate, tx, rx, loss)
end
pktgen.quit()
