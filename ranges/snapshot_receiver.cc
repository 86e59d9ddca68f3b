#include "ranges/snapshot_receiver.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ranges/replica.h"

namespace rangedb::ranges {

SnapshotReceiver::SnapshotReceiver(rangespb::SnapshotHeader header,
                                   std::shared_ptr<Replica> replica,
                                   std::unique_ptr<SstFileWriter> file,
                                   std::vector<EngineSpan> spans, StoreMetrics* metrics,
                                   std::function<void()> release)
    : header_(std::move(header)),
      replica_(std::move(replica)),
      file_(std::move(file)),
      spans_(std::move(spans)),
      metrics_(metrics),
      release_(std::move(release)) {}

SnapshotReceiver::~SnapshotReceiver() {
  // Unfinished: the writer removes its file. Finished: the file belongs to the
  // message in the replica's inbox (the replica ingests or removes it).
  file_.reset();
  (finished_ ? metrics_->snapshots_received : metrics_->snapshots_receive_failed)
      .fetch_add(1, std::memory_order_relaxed);
  if (release_) release_();
}

absl::Status SnapshotReceiver::Start(const std::vector<EngineSpan>& cleared) {
  for (const EngineSpan& span : cleared) {
    if (absl::Status s = file_->DeleteRange(span.lower, span.upper); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SnapshotReceiver::Add(const rangespb::SnapshotChunk& chunk) {
  if (finished_) return absl::FailedPreconditionError("snapshot chunk after the end");
  if (chunk.has_header()) return absl::InvalidArgumentError("a second snapshot header");
  uint64_t bytes = 0;
  for (const rangespb::SnapshotKeyValue& kv : chunk.kvs()) {
    // Keys increase, so the span can only move forward.
    while (span_ < spans_.size() && kv.key() >= spans_[span_].upper) ++span_;
    if (span_ == spans_.size() || kv.key() < spans_[span_].lower) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot of range ", header_.range_id(),
                                                     ": key ", absl::CHexEscape(kv.key()),
                                                     " is outside the range's replicated spans"));
    }
    if (absl::Status s = file_->Put(kv.key(), kv.value()); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("snapshot of range ", header_.range_id(), ": ", s.message()));
    }
    bytes += kv.key().size() + kv.value().size();
  }
  metrics_->snapshot_bytes_received.fetch_add(bytes, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status SnapshotReceiver::Finish() {
  if (finished_) return absl::FailedPreconditionError("snapshot finished twice");
  if (file_ == nullptr) return absl::FailedPreconditionError("snapshot abandoned");
  if (absl::Status s = file_->Finish(); !s.ok()) return s;
  rangespb::SnapshotData data;
  *data.mutable_range_descriptor() = header_.range_descriptor();
  *data.mutable_applied_state() = header_.applied_state();
  data.set_staged_file(file_->path());
  rangespb::RaftMessageRequest req;
  req.set_range_id(header_.range_id());
  req.set_from_node_id(header_.from_node_id());
  req.set_to_node_id(header_.to_node_id());
  *req.mutable_message() = header_.message();
  req.mutable_message()->mutable_snapshot()->set_data(data.SerializeAsString());
  if (!replica_->EnqueueRaftMessage(std::move(req))) {
    replica_->RemoveStagedSnapshot(data.staged_file());
    return absl::UnavailableError(
        absl::StrCat("range ", header_.range_id(), ": the replica did not take the snapshot"));
  }
  finished_ = true;  // the message in the replica's inbox owns the file now
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
