#include "ranges/testing/fault_engine.h"

namespace rangedb::ranges {
namespace {

// What a read that failed hands out: positioned nowhere, with the error.
class FailedIterator final : public Iterator {
 public:
  explicit FailedIterator(absl::Status status) : status_(std::move(status)) {}
  void Seek(absl::string_view) override {}
  void SeekForPrev(absl::string_view) override {}
  void SeekToFirst() override {}
  void SeekToLast() override {}
  void Next() override {}
  void Prev() override {}
  bool Valid() const override { return false; }
  absl::string_view key() const override { return {}; }
  absl::string_view value() const override { return {}; }
  absl::Status status() const override { return status_; }

 private:
  const absl::Status status_;
};

}  // namespace

void FaultEngine::SetReadFault(ReadFault fault) {
  absl::MutexLock lock(&mu_);
  fault_ = std::move(fault);
}

void FaultEngine::SetIngestFault(IngestFault fault) {
  absl::MutexLock lock(&mu_);
  ingest_fault_ = std::move(fault);
}

absl::Status FaultEngine::IngestFiles(ColumnFamily cf, const std::vector<std::string>& paths) {
  IngestFault fault;
  {
    absl::MutexLock lock(&mu_);
    fault = ingest_fault_;
  }
  if (absl::Status s = fault ? fault() : absl::OkStatus(); !s.ok()) {
    for (const std::string& path : paths) base_->RemoveStagedFile(path);
    return s;
  }
  return base_->IngestFiles(cf, paths);
}

absl::Status FaultEngine::ReadFaultFor(ColumnFamily cf) {
  absl::MutexLock lock(&mu_);
  return fault_ ? fault_(cf) : absl::OkStatus();
}

absl::StatusOr<bool> FaultEngine::Get(ColumnFamily cf, absl::string_view key, std::string* value) {
  if (absl::Status s = ReadFaultFor(cf); !s.ok()) return s;
  return base_->Get(cf, key, value);
}

std::unique_ptr<Iterator> FaultEngine::NewIterator(const IterOptions& options) {
  if (absl::Status s = ReadFaultFor(options.cf); !s.ok()) {
    return std::make_unique<FailedIterator>(std::move(s));
  }
  return base_->NewIterator(options);
}

}  // namespace rangedb::ranges
