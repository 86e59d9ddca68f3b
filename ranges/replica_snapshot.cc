// Replica: Raft snapshots — building one for a lagging follower, installing one.
//
// A snapshot's data is every replicated key of the range (rangespb::SnapshotData),
// read when the snapshot is sent. That state may be newer than the snapshot's Raft
// index: it carries its own AppliedState, and the receiver skips entries at or below
// it, so replaying the entries between the two indexes changes nothing.
#include "absl/strings/str_cat.h"
#include "ranges/range_keys.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"

namespace rangedb::ranges {
namespace {

// Snapshots travel inside one Raft message; larger ranges need streaming (not built:
// ranges are split well below this size in a later issue).
constexpr size_t kMaxSnapshotBytes = size_t{256} << 20;

}  // namespace

absl::StatusOr<std::string> Replica::BuildSnapshotDataLocked() {
  rangespb::SnapshotData data;
  *data.mutable_range_descriptor() = desc_;
  *data.mutable_applied_state() = applied_;
  std::unique_ptr<Snapshot> snap = store_->engine()->NewSnapshot();
  size_t bytes = 0;
  for (const EngineSpan& span :
       ReplicatedEngineSpans(range_id_, desc_.start_key(), desc_.end_key())) {
    IterOptions opts;
    opts.lower_bound = span.lower;
    opts.upper_bound = span.upper;
    std::unique_ptr<Iterator> it = snap->NewIterator(opts);
    for (it->Seek(span.lower); it->Valid(); it->Next()) {
      rangespb::SnapshotKeyValue* kv = data.add_kvs();
      kv->set_key(it->key().data(), it->key().size());
      kv->set_value(it->value().data(), it->value().size());
      bytes += it->key().size() + it->value().size();
      if (bytes > kMaxSnapshotBytes) {
        return absl::ResourceExhaustedError(absl::StrCat("range ", range_id_,
                                                         " is larger than the snapshot limit of ",
                                                         kMaxSnapshotBytes, " bytes"));
      }
    }
    if (absl::Status s = it->status(); !s.ok()) return s;
  }
  return data.SerializeAsString();
}

void Replica::StageSnapshotInstallLocked(const rangespb::SnapshotData& data, WriteBatch* batch) {
  // Clear what this replica holds of the range (old and new bounds), then write the
  // snapshot's keys. Unreplicated state (the Raft log and hard state) is the log
  // storage's business and is staged by it.
  std::vector<EngineSpan> spans =
      ReplicatedEngineSpans(range_id_, desc_.start_key(), desc_.end_key());
  std::vector<EngineSpan> incoming = ReplicatedEngineSpans(
      range_id_, data.range_descriptor().start_key(), data.range_descriptor().end_key());
  spans.insert(spans.end(), incoming.begin(), incoming.end());
  for (const EngineSpan& span : spans) {
    IterOptions opts;
    opts.lower_bound = span.lower;
    opts.upper_bound = span.upper;
    std::unique_ptr<Iterator> it = store_->engine()->NewIterator(opts);
    for (it->Seek(span.lower); it->Valid(); it->Next()) {
      batch->Delete(ColumnFamily::kData, it->key());
    }
  }
  for (const rangespb::SnapshotKeyValue& kv : data.kvs()) {
    batch->Put(ColumnFamily::kData, kv.key(), kv.value());
  }
  WriteLocalProto(*batch, AppliedStateKey(range_id_), data.applied_state());
  WriteLocalProto(*batch, DescriptorKey(range_id_), data.range_descriptor());
}

}  // namespace rangedb::ranges
