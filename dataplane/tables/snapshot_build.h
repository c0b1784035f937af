#pragma once
// Model -> Snapshot: the tables the workers read, built from the control thread's Model in steps
// (the interfaces' own routes, static routes, tunnel routes, the FIBs, the tunnels, the SAs).
// Model::build() chooses each peer's tunnel first and calls build_snapshot() with that choice.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "dataplane/tables/model.h"
#include "dataplane/tables/snapshot.h"

namespace espgw::dp {

// routed_by: tunnel -> the tunnel its routes go to ("" for a peer's backup tunnel, whose routes
// the one in use carries); tunnels not in it route their own CIDRs. Throws
// std::invalid_argument (a duplicate prefix, a bad reference, a tunnel with no way out) or
// std::runtime_error (table creation).
std::unique_ptr<Snapshot> build_snapshot(const Model& model,
                                         const std::map<std::string, std::string>& routed_by,
                                         uint64_t generation);

}  // namespace espgw::dp
