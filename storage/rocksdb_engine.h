// OpenEngine: the RocksDB implementation of Engine (storage/engine.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/engine.h"

namespace rangedb {

struct EngineOptions {
  // Directory of the store. Ignored when in_memory is set.
  std::string path;
  // Keep every file in RocksDB's in-memory Env: nothing touches the disk and
  // everything is lost when the engine is destroyed. For tests, simulators, demos.
  bool in_memory = false;
  // Shared LRU cache for uncompressed data blocks.
  size_t block_cache_bytes = size_t{128} << 20;
  // Memtable size before a flush to an SST file.
  size_t write_buffer_bytes = size_t{64} << 20;
};

// Opens (creating if needed) the store described by options. Fails with a clear
// error if the directory is unusable, locked by another process, or corrupt.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const EngineOptions& options);

// An engine with every file in memory and default options (tests, simulators, demos).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Engine>> OpenInMemoryEngine();

}  // namespace rangedb
