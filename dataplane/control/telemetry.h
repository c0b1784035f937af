#pragma once
// DPDK telemetry's /espgw/* commands (docs/control-protocol.md#dpdk-telemetry): App's reports
// (reports.cpp) flattened to what telemetry can carry. DPDK calls them on its own thread, which
// outlives App.

namespace espgw::dp {

class App;

// App's constructor and destructor: the one App that the commands report on, or none.
void telemetry_attach(App* app);
void telemetry_detach();
// Once, after start-up.
void register_telemetry();

}  // namespace espgw::dp
