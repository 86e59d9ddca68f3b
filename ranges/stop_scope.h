// Which storage errors retire one replica and which stop the whole store
// (docs/replication.md, "Corrupt replicas").
#pragma once

#include "absl/status/status.h"

namespace rangedb::ranges {

// How far a replica's storage error reaches.
enum class StopScope {
  // Deterministic: the same input fails the same way after a restart — the data is
  // corrupt, or the engine rejects what it was given (a snapshot file it cannot
  // ingest, a batch it cannot write). A restart cannot help: stopping the node for it
  // would crash-loop the node on every restart and take its other ranges down. Only
  // the replica is retired (marked, out of service, replaced from the others).
  kReplica,
  // Environmental or unknown: a flaky or full disk, a busy engine. It says nothing
  // lasting about the replica's data, and retiring is for good, so the store stops
  // and a restart reads everything again from disk.
  kStore,
};

// The scope of a replica's stop on `why` (review finding F5; before, every code but
// DataLoss stopped the store). RocksDB's codes reach us through
// storage/rocksdb_internal.h: Corruption -> DataLoss, InvalidArgument ->
// InvalidArgument, NotSupported -> Unimplemented, IOError (EIO, no space) ->
// Unavailable, the rest (Busy, TimedOut, TryAgain, Aborted, ...) -> Internal.
// REQUIRES: !why.ok().
inline StopScope StopScopeOf(const absl::Status& why) {
  switch (why.code()) {
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnimplemented:
      return StopScope::kReplica;
    default:
      // Unavailable, ResourceExhausted, Internal, and anything not foreseen here: a
      // restart may get past it, while a retired replica never comes back.
      return StopScope::kStore;
  }
}

}  // namespace rangedb::ranges
