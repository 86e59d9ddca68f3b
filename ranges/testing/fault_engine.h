// FaultEngine: an Engine that forwards to another one and fails reads on demand, for
// tests of what a replica does on an I/O error that is not corruption (a flaky disk,
// a full file system, EIO): docs/replication.md, "Corrupt replicas".
//
// Thread safety: as the wrapped engine; SetReadFault may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/engine.h"

namespace rangedb::ranges {

class FaultEngine final : public Engine {
 public:
  // Asked before every read of the engine itself (Get, NewIterator; not of batches or
  // snapshots): a non-OK status fails that read (an iterator is then invalid with it).
  using ReadFault = std::function<absl::Status(ColumnFamily cf)>;

  // REQUIRES: base outlives this engine.
  explicit FaultEngine(Engine* base) : base_(base) {}

  // Asked before every IngestFiles: a non-OK status fails it (the files are removed,
  // as a failed ingest may leave them gone).
  using IngestFault = std::function<absl::Status()>;

  // An empty function fails nothing.
  void SetReadFault(ReadFault fault);
  void SetIngestFault(IngestFault fault);

  absl::StatusOr<bool> Get(ColumnFamily cf, absl::string_view key, std::string* value) override;
  std::unique_ptr<Iterator> NewIterator(const IterOptions& options) override;
  std::unique_ptr<WriteBatch> NewWriteBatch() override { return base_->NewWriteBatch(); }
  std::unique_ptr<Snapshot> NewSnapshot() override { return base_->NewSnapshot(); }
  absl::Status ApplySerializedBatch(absl::string_view repr, bool sync) override {
    return base_->ApplySerializedBatch(repr, sync);
  }
  absl::Status Flush() override { return base_->Flush(); }
  std::string Path() const override { return base_->Path(); }
  absl::StatusOr<uint64_t> ApproximateSize(ColumnFamily cf, absl::string_view start,
                                           absl::string_view end) override {
    return base_->ApproximateSize(cf, start, end);
  }
  absl::StatusOr<std::unique_ptr<SstFileWriter>> NewSstFileWriter(ColumnFamily cf) override {
    return base_->NewSstFileWriter(cf);
  }
  absl::Status IngestFiles(ColumnFamily cf, const std::vector<std::string>& paths) override;
  void RemoveStagedFile(const std::string& path) override { base_->RemoveStagedFile(path); }
  absl::Status ClearStaging() override { return base_->ClearStaging(); }

 private:
  absl::Status ReadFaultFor(ColumnFamily cf);

  Engine* const base_;
  absl::Mutex mu_;
  ReadFault fault_ ABSL_GUARDED_BY(mu_);
  IngestFault ingest_fault_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::ranges
