// Store: outbound and inbound Raft snapshot streams (docs/design/snapshot-streaming.md).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ranges/engine_state.h"
#include "ranges/snapshot_receiver.h"
#include "ranges/store.h"

namespace rangedb::ranges {

absl::Status Store::SendSnapshot(OutgoingSnapshot snapshot) {
  if (snapshot_sender_ == nullptr) return absl::UnavailableError("the store is not started");
  return snapshot_sender_->Enqueue(std::move(snapshot));
}

absl::StatusOr<std::unique_ptr<SnapshotSink>> Store::BeginSnapshot(
    const rangespb::SnapshotHeader& header) {
  const uint64_t range_id = header.range_id();
  auto refuse = [&](absl::Status s) {
    metrics_.snapshots_receive_failed.fetch_add(1, std::memory_order_relaxed);
    return absl::Status(s.code(), absl::StrCat("snapshot of range ", range_id, " to node ",
                                               config().node_id, ": ", s.message()));
  };
  if (header.to_node_id() != config().node_id) {
    return refuse(
        absl::InvalidArgumentError(absl::StrCat("addressed to node ", header.to_node_id())));
  }
  if (header.message().type() != raftpb::MSG_SNAP ||
      header.range_descriptor().range_id() != range_id) {
    return refuse(absl::InvalidArgumentError("malformed header"));
  }
  std::shared_ptr<Replica> replica = GetReplica(range_id);
  if (replica == nullptr) {
    return refuse(absl::NotFoundError("no replica in service on this node"));
  }
  const ReplicaStatus status = replica->Status();
  const uint64_t index = header.message().snapshot().metadata().index();
  if (index <= status.commit_index) {
    // Raft would ignore it: do not move the data.
    return refuse(absl::FailedPreconditionError(
        absl::StrCat("snapshot index ", index, " is not above the replica's commit index ",
                     status.commit_index)));
  }
  {
    absl::MutexLock lock(&receiving_mu_);
    if (receiving_.contains(range_id)) {
      return refuse(absl::AlreadyExistsError("another snapshot of the range is being received"));
    }
    if (receiving_.size() >= std::max<size_t>(1, config().snapshot_receive_concurrency)) {
      return refuse(absl::ResourceExhaustedError("too many snapshots being received"));
    }
    receiving_.insert(range_id);
  }
  auto release = [this, range_id] {
    absl::MutexLock lock(&receiving_mu_);
    receiving_.erase(range_id);
  };
  absl::StatusOr<std::unique_ptr<SstFileWriter>> file =
      engine()->NewSstFileWriter(ColumnFamily::kData);
  if (!file.ok()) {
    release();
    return refuse(file.status());
  }
  const kvpb::RangeDescriptor& incoming = header.range_descriptor();
  std::vector<EngineSpan> spans =
      ReplicatedEngineSpans(range_id, incoming.start_key(), incoming.end_key());
  // The file first clears what the replica holds now (old and new bounds).
  std::vector<EngineSpan> cleared = spans;
  for (EngineSpan& span : ReplicatedEngineSpans(range_id, status.descriptor.start_key(),
                                                status.descriptor.end_key())) {
    cleared.push_back(std::move(span));
  }
  auto receiver = std::make_unique<SnapshotReceiver>(header, std::move(replica), *std::move(file),
                                                     std::move(spans), &metrics_, release);
  if (absl::Status s = receiver->Start(cleared); !s.ok()) return s;
  return std::unique_ptr<SnapshotSink>(std::move(receiver));
}

}  // namespace rangedb::ranges
