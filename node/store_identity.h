// Store identity: the random id of one copy of a node's data, and the checks that
// bind the initial plan's node ids to store ids (docs/design/node-identity.md).
//
// The invariant these keep: the Raft state of a replica id is created at most once,
// in exactly one store. A store id names one copy of the data (a wiped disk, or an
// in-memory store after a restart, gets a new one), where an address only names a
// place. `rangedb init` binds each planned node id to the store id of the node that
// claimed it; only that store may write the node's initial replicas
// (CheckBootstrapFor), and only that store is handed the identity again by a Join
// (PlanIdentityFor).
//
// Thread safety: free functions without state; LoadOrCreateStoreId writes to the
// engine and must not race with itself on one engine (the node calls it once, from
// Open).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/node.pb.h"
#include "storage/engine.h"

namespace rangedb {

// A new random 128-bit id, as 32 hex digits (store ids, process incarnations).
std::string NewRandomId();

// The store's id: read from the engine, or, for a store that has none yet, a new
// random 128-bit id (32 hex digits) written synced first. Errors: the engine's.
[[nodiscard]] absl::StatusOr<std::string> LoadOrCreateStoreId(Engine* engine);

// OK if a store with id `store_id` may adopt `request` (write its identity and its
// replicas of the plan). FailedPrecondition, naming both ids, when request.node_id
// is a planned member bound to another store (or to none: a plan written before
// store ids), or is not a planned member but holds replicas in the plan.
[[nodiscard]] absl::Status CheckBootstrapFor(const nodepb::BootstrapRequest& request,
                                             const std::string& store_id);

// The planned node id a joining store may take back: the member of identity.nodes
// with this address AND this (non-empty) store id. nullopt otherwise — the joiner
// gets a new node id. `*replaced_node_id` (if given) is set to the planned node id
// at this address whose store is a different one (0 if none): that node's store was
// lost or replaced.
std::optional<uint64_t> PlanIdentityFor(const nodepb::BootstrapRequest& identity,
                                        const std::string& address, const std::string& store_id,
                                        uint64_t* replaced_node_id = nullptr);

// The split keys the plan's ranges were cut at beyond the fixed ones (meta, system,
// user space), in key order.
std::vector<std::string> PlanSplitKeys(const nodepb::BootstrapRequest& identity);

}  // namespace rangedb
