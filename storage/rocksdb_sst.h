// SstStaging: the RocksDB side of Engine::NewSstFileWriter / IngestFiles (engine.h):
// SST files written into a staging directory of the engine's file system, then
// ingested with IngestExternalFile (moved, not copied).
//
// Thread safety: safe for concurrent use; each writer belongs to one thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "storage/engine.h"

namespace rangedb::rocks_internal {

class SstStaging {
 public:
  // REQUIRES: db and env outlive this; dir is on env's file system.
  SstStaging(rocksdb::DB* db, rocksdb::Env* env, std::string dir)
      : db_(db), env_(env), dir_(std::move(dir)) {}

  absl::StatusOr<std::unique_ptr<SstFileWriter>> NewWriter(const rocksdb::Options& options,
                                                           rocksdb::ColumnFamilyHandle* family);
  absl::Status Ingest(rocksdb::ColumnFamilyHandle* family, const std::vector<std::string>& paths);
  void Remove(const std::string& path);
  absl::Status Clear();

 private:
  rocksdb::DB* const db_;
  rocksdb::Env* const env_;
  const std::string dir_;
  std::atomic<uint64_t> next_file_{1};
};

}  // namespace rangedb::rocks_internal
