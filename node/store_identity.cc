#include "node/store_identity.h"

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ranges/engine_state.h"
#include "storage/keys.h"

namespace rangedb {
namespace {

bool HoldsReplicas(const nodepb::BootstrapRequest& plan, uint64_t node_id) {
  for (const kvpb::RangeDescriptor& d : plan.ranges()) {
    for (const kvpb::ReplicaDescriptor& r : d.replicas()) {
      if (r.node_id() == node_id) return true;
    }
  }
  return false;
}

}  // namespace

std::string NewRandomId() {
  std::random_device device;
  std::mt19937_64 rng((uint64_t{device()} << 32) ^ device());
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return absl::BytesToHexString(bytes);
}

absl::StatusOr<std::string> LoadOrCreateStoreId(Engine* engine) {
  nodepb::StoreIdRecord record;
  absl::StatusOr<bool> found = ranges::ReadLocalProto(*engine, keys::StoreIdKey(), &record);
  if (!found.ok()) return found.status();
  if (*found && !record.store_id().empty()) return record.store_id();
  record.set_store_id(NewRandomId());
  std::unique_ptr<WriteBatch> batch = engine->NewWriteBatch();
  ranges::WriteLocalProto(*batch, keys::StoreIdKey(), record);
  if (absl::Status s = batch->Commit(/*sync=*/true); !s.ok()) return s;
  return record.store_id();
}

absl::Status CheckBootstrapFor(const nodepb::BootstrapRequest& request,
                               const std::string& store_id) {
  for (const nodepb::NodeDescriptor& n : request.nodes()) {
    if (n.node_id() != request.node_id()) continue;
    if (n.store_id().empty() || n.store_id() != store_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", n.node_id(), " of cluster ", request.cluster_id(),
          " belongs to the store init bound it to (",
          n.store_id().empty() ? "none recorded" : n.store_id(), "); this store is ", store_id,
          ". A store that lost its data must join as a new node, never take an old "
          "node's replicas"));
    }
    return absl::OkStatus();
  }
  if (HoldsReplicas(request, request.node_id())) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", request.node_id(), " holds replicas in the plan of cluster ",
                     request.cluster_id(), " but is not one of its members"));
  }
  return absl::OkStatus();
}

std::optional<uint64_t> PlanIdentityFor(const nodepb::BootstrapRequest& identity,
                                        const std::string& address, const std::string& store_id,
                                        uint64_t* replaced_node_id) {
  if (replaced_node_id != nullptr) *replaced_node_id = 0;
  for (const nodepb::NodeDescriptor& n : identity.nodes()) {
    if (n.address() != address) continue;
    if (!store_id.empty() && n.store_id() == store_id) return n.node_id();
    if (replaced_node_id != nullptr) *replaced_node_id = n.node_id();
  }
  return std::nullopt;
}

std::vector<std::string> PlanSplitKeys(const nodepb::BootstrapRequest& identity) {
  std::vector<std::string> out;
  for (const kvpb::RangeDescriptor& d : identity.ranges()) {
    if (d.start_key() > std::string(keys::kTableDataPrefix)) out.push_back(d.start_key());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rangedb
