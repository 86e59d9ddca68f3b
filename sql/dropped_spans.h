// ClearDroppedSpans: the garbage collection of DROP TABLE, DROP INDEX and a failed
// CREATE INDEX (docs/design/sql-drop.md). Their DDL transaction only writes a drop
// record (sql/catalog.h RecordDrop) naming the key span left behind; this clears
// such spans in chunks of kClearChunkKeys keys, one small transaction per chunk, and
// deletes the record with the last one.
//
// Safe to run anywhere, any number of times, concurrently: a dropped span is never
// written again (ids are not reused), clearing it is idempotent, and two clearers of
// one record only conflict and retry. The session that ran the DROP calls it after
// its commit; every node calls it at start and periodically, for the records of
// sessions that died first.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "txn/txn.h"

namespace rangedb::sql {

inline constexpr int64_t kClearChunkKeys = 1000;

struct ClearedSpans {
  int records = 0;   // drop records this call finished (and deleted)
  int64_t keys = 0;  // keys deleted
  // Records that failed (corrupt, unreachable, …), each with its error: the others
  // were cleared all the same, and these stay for the next sweep.
  std::vector<std::pair<std::string, absl::Status>> failed;
};

// Clears every recorded span (the node's sweep). check_stop (if set) is asked
// before each chunk; a non-OK answer stops the clearing there (what is left stays
// for the next sweep) and is returned.
absl::StatusOr<ClearedSpans> ClearDroppedSpans(
    txn::Sender* sender, const txn::TxnOptions& options,
    const std::function<absl::Status()>& check_stop = {});

// Clears the span of one record (what a DROP just wrote), as above, that record
// only. OK if the record is gone (cleared by someone else).
absl::StatusOr<ClearedSpans> ClearDroppedSpan(txn::Sender* sender, const txn::TxnOptions& options,
                                              uint64_t table_id, uint32_t index_id,
                                              const std::function<absl::Status()>& check_stop = {});

}  // namespace rangedb::sql
