// Engine: the narrow interface between rangedb and its key-value store.
//
// One Engine per node; every range on the node shares it, so a single synced write
// can carry many ranges' Raft entries (group commit). Keys are byte strings in
// bytewise order. Two column families:
//   kData    — MVCC data, range-local state, the lock table (see storage/keys.h)
//   kRaftLog — Raft log entries, kept apart so log truncation never disturbs data
//              compactions and log reads never scan data files
//
// Implementations: RocksDB on disk, and RocksDB over its in-memory Env (tests,
// simulators, `rangedb demo`). Both are created by OpenEngine (rocksdb_engine.h).
//
// Thread safety: Engine and snapshots are safe for concurrent use. A WriteBatch and
// an Iterator belong to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rangedb {

enum class ColumnFamily : uint8_t {
  kData = 0,
  kRaftLog = 1,
};

// Bounds of an iteration: keys in [lower_bound, upper_bound). An empty upper_bound
// means "no upper bound". Bounds are enforced by the engine: an iterator never
// yields a key outside them, which lets RocksDB skip files and tombstones early.
struct IterOptions {
  ColumnFamily cf = ColumnFamily::kData;
  std::string lower_bound;
  std::string upper_bound;
  // A hint that the caller reads only a few entries (one user key's versions): the
  // engine may hand out a reused iterator, which is much cheaper to get than a new
  // one. Semantics are unchanged.
  bool single_key = false;
};

// A positioned cursor over one column family. Invalid until positioned.
// key() and value() stay valid only until the iterator next moves.
class Iterator {
 public:
  virtual ~Iterator() = default;

  virtual void Seek(absl::string_view key) = 0;         // first key >= key
  virtual void SeekForPrev(absl::string_view key) = 0;  // last key <= key
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Next() = 0;  // REQUIRES: Valid()
  virtual void Prev() = 0;  // REQUIRES: Valid()

  virtual bool Valid() const = 0;
  virtual absl::string_view key() const = 0;    // REQUIRES: Valid()
  virtual absl::string_view value() const = 0;  // REQUIRES: Valid()

  // Not OK if the iterator hit an I/O error or corruption; Valid() is then false.
  [[nodiscard]] virtual absl::Status status() const = 0;
};

// Read access: the engine itself (latest state), a snapshot, or a batch (which sees
// its own uncommitted writes over the engine).
class Reader {
 public:
  virtual ~Reader() = default;

  // Point lookup. Returns true and fills *value if the key exists, false if not.
  [[nodiscard]] virtual absl::StatusOr<bool> Get(ColumnFamily cf, absl::string_view key,
                                                 std::string* value) = 0;

  [[nodiscard]] virtual std::unique_ptr<Iterator> NewIterator(const IterOptions& options) = 0;
};

// Write access, buffered until committed.
class Writer {
 public:
  virtual ~Writer() = default;

  virtual void Put(ColumnFamily cf, absl::string_view key, absl::string_view value) = 0;
  virtual void Delete(ColumnFamily cf, absl::string_view key) = 0;
};

// WriteBatch: writes buffered in memory and applied atomically by Commit. Reads
// through the batch see the batch's own writes layered over the engine's latest
// state (read-your-writes), which MVCC needs to evaluate several operations
// against one batch.
class WriteBatch : public Reader, public Writer {
 public:
  // Applies every write atomically. With sync, the data is on stable storage when
  // Commit returns OK (fdatasync of the write-ahead log). A batch can be committed
  // once; afterwards it is empty and may be reused.
  [[nodiscard]] virtual absl::Status Commit(bool sync) = 0;

  virtual size_t Count() const = 0;           // number of writes buffered
  virtual size_t ByteSize() const = 0;        // size of the serialized batch
  virtual void Clear() = 0;                   // drops every buffered write
  virtual std::string Serialize() const = 0;  // the batch's wire/WAL representation
  // Adds every write of a batch produced by Serialize (here or on another node) to
  // this batch, after the writes already in it. Corrupt input, or a batch holding
  // records other than puts and deletes, is rejected whole: nothing is added.
  [[nodiscard]] virtual absl::Status AppendSerialized(absl::string_view repr) = 0;
};

// A consistent, read-only view of the engine at one moment.
class Snapshot : public Reader {};

// A sorted file of writes to one column family, built outside the engine and then
// added to it atomically by Engine::IngestFiles: how a replica installs a Raft
// snapshot too large for one write batch (docs/design/snapshot-streaming.md).
// Thread-compatible. Destroying an unfinished writer removes its file.
class SstFileWriter {
 public:
  virtual ~SstFileWriter() = default;
  // REQUIRES: keys strictly increasing across calls; an error otherwise.
  [[nodiscard]] virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  // When ingested, deletes what the engine holds in [begin, end) — not the keys this
  // file puts there.
  [[nodiscard]] virtual absl::Status DeleteRange(absl::string_view begin,
                                                 absl::string_view end) = 0;
  // Completes the file on stable storage; then path() may be ingested.
  [[nodiscard]] virtual absl::Status Finish() = 0;
  virtual uint64_t FileBytes() const = 0;
  virtual const std::string& path() const = 0;
};

class Engine : public Reader {
 public:
  [[nodiscard]] virtual std::unique_ptr<WriteBatch> NewWriteBatch() = 0;
  [[nodiscard]] virtual std::unique_ptr<Snapshot> NewSnapshot() = 0;

  // Applies a batch produced by WriteBatch::Serialize (on this or another node)
  // atomically. Corrupt input is rejected with an error and applies nothing.
  [[nodiscard]] virtual absl::Status ApplySerializedBatch(absl::string_view repr, bool sync) = 0;

  // Flushes memtables to files. Benchmarks use it to read from files, not memory.
  [[nodiscard]] virtual absl::Status Flush() = 0;

  // Where the engine keeps its files, or ":memory:" for the in-memory engine.
  virtual std::string Path() const = 0;

  // An estimate of the bytes the keys in [start, end) of cf take, in files and in
  // memtables (RocksDB's GetApproximateSizes: cheap, from file metadata and memtable
  // statistics; it may be off by a block or a memtable's sampling error). For sizes
  // shown to people and for size-based decisions, never for accounting.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> ApproximateSize(ColumnFamily cf,
                                                                 absl::string_view start,
                                                                 absl::string_view end) = 0;

  // A new SST file for cf in the engine's staging directory (on the engine's own file
  // system, also for the in-memory engine).
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<SstFileWriter>> NewSstFileWriter(
      ColumnFamily cf) = 0;
  // Adds finished files to cf atomically and durably: all or none, above every write
  // already in the engine. The files are moved into the engine (their paths are gone
  // afterwards, also on failure of a later step).
  [[nodiscard]] virtual absl::Status IngestFiles(ColumnFamily cf,
                                                 const std::vector<std::string>& paths) = 0;
  // Removes a staged file that will not be ingested; a missing file is fine.
  virtual void RemoveStagedFile(const std::string& path) = 0;
  // Removes every staged file (what a crash left behind).
  [[nodiscard]] virtual absl::Status ClearStaging() = 0;
};

}  // namespace rangedb
