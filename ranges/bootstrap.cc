#include "ranges/bootstrap.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/ranges.pb.h"
#include "ranges/engine_state.h"
#include "storage/keys.h"
#include "storage/mvcc.h"
#include "storage/raft_log_storage.h"

namespace rangedb::ranges {

absl::StatusOr<std::vector<kvpb::RangeDescriptor>> PlanInitialRanges(
    const std::vector<uint64_t>& node_ids, const std::vector<std::string>& split_keys,
    int replication_factor) {
  if (node_ids.empty()) return absl::InvalidArgumentError("no nodes to place ranges on");
  std::set<std::string> bounds = {std::string(keys::kSystemPrefix),
                                  std::string(keys::kTableDataPrefix)};
  for (const std::string& k : split_keys) {
    if (k < std::string(keys::kTableDataPrefix) || k >= std::string(keys::kKeyMax)) {
      return absl::InvalidArgumentError(
          absl::StrCat("split key \"", absl::CHexEscape(k),
                       "\" is outside the user key space [\\x04, \\xff\\xff)"));
    }
    if (!bounds.insert(k).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("split key \"", absl::CHexEscape(k), "\" is given twice"));
    }
  }
  std::vector<std::string> edges = {std::string(keys::kKeyMin)};
  edges.insert(edges.end(), bounds.begin(), bounds.end());
  edges.push_back(std::string(keys::kKeyMax));
  const size_t n = node_ids.size();
  const size_t replicas = std::min<size_t>(n, static_cast<size_t>(replication_factor));
  std::vector<kvpb::RangeDescriptor> ranges;
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    kvpb::RangeDescriptor d;
    d.set_range_id(i + 1);
    d.set_start_key(edges[i]);
    d.set_end_key(edges[i + 1]);
    d.set_generation(1);
    for (size_t j = 0; j < replicas; ++j) {
      kvpb::ReplicaDescriptor* r = d.add_replicas();
      r->set_node_id(node_ids[(i + j) % n]);
      r->set_replica_id(j + 1);
    }
    ranges.push_back(std::move(d));
  }
  return ranges;
}

namespace {

// The data every new cluster starts with, as (key, value) pairs.
std::vector<std::pair<std::string, std::string>> InitialData(
    const std::vector<kvpb::RangeDescriptor>& ranges, uint64_t node_count) {
  std::vector<std::pair<std::string, std::string>> kvs;
  for (const kvpb::RangeDescriptor& d : ranges) {
    kvs.emplace_back(keys::MetaKey(d.end_key()), d.SerializeAsString());
  }
  kvs.emplace_back(keys::NodeIdGeneratorKey(), absl::StrCat(node_count));
  kvs.emplace_back(keys::RangeIdGeneratorKey(), absl::StrCat(ranges.size()));
  return kvs;
}

}  // namespace

absl::Status WriteInitialReplicas(Engine* engine, WriteBatch* batch, uint64_t node_id,
                                  const std::vector<kvpb::RangeDescriptor>& ranges,
                                  uint64_t node_count, Timestamp ts) {
  const auto data = InitialData(ranges, node_count);
  for (const kvpb::RangeDescriptor& d : ranges) {
    bool here = false;
    raftpb::ConfState cs;
    for (const kvpb::ReplicaDescriptor& r : d.replicas()) {
      cs.add_voters(r.replica_id());
      here = here || r.node_id() == node_id;
    }
    if (!here) continue;
    // Raft state is created once per replica, ever: a store that already holds this
    // range must never get a blank log and vote over what it persisted.
    rangespb::AppliedState existing;
    absl::StatusOr<bool> held =
        ReadLocalProto(*engine, keys::ReplicaIndexKey(d.range_id()), &existing);
    if (!held.ok()) return held.status();
    if (*held) {
      return absl::FailedPreconditionError(
          absl::StrCat("this store already holds a replica of range ", d.range_id(),
                       "; refusing to write initial Raft state over it"));
    }
    WriteLocalProto(*batch, keys::DescriptorKey(d.range_id()), d);
    rangespb::AppliedState applied;
    applied.set_raft_applied_index(kInitialRaftIndex);
    WriteLocalProto(*batch, keys::AppliedStateKey(d.range_id()), applied);
    WriteLocalProto(*batch, keys::ReplicaIndexKey(d.range_id()), rangespb::AppliedState());
    // The range's idempotency-expiry clock starts at its creation: every leaseholder
    // starts from a replicated time, never from its own (possibly jumped) clock.
    rangespb::IdempotencyExpiry expiry;
    expiry.set_trusted_now_unix_ns(ts.wall_ns);
    WriteLocalProto(*batch, keys::IdempotencyExpiryKey(d.range_id()), expiry);
    absl::StatusOr<std::unique_ptr<RaftLogStorage>> log =
        RaftLogStorage::Open(engine, d.range_id());
    if (!log.ok()) return log.status();
    RaftLogWrite w = (*log)->NewWrite(batch);
    raftpb::Snapshot snap;
    snap.mutable_metadata()->set_index(kInitialRaftIndex);
    snap.mutable_metadata()->set_term(kInitialRaftTerm);
    *snap.mutable_metadata()->mutable_conf_state() = cs;
    if (absl::Status s = w.ApplySnapshot(snap); !s.ok()) return s;
    raftpb::HardState hs;
    hs.set_term(kInitialRaftTerm);
    hs.set_commit(kInitialRaftIndex);
    w.SetHardState(hs);
    for (const auto& [key, value] : data) {
      if (key < d.start_key() || key >= d.end_key()) continue;
      absl::StatusOr<MVCCWriteResult> put = MVCCPut(*batch, key, ts, value);
      if (!put.ok()) return put.status();
    }
  }
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
