// The workload of the storage crash test (tests/storage_crash_test.cc): what the
// writer child writes, and the checker the parent runs on the store after each kill.
//
// Batch `seq` (seq = 1, 2, 3, ...) is one WriteBatch holding
//   - MVCCPut("k/<seq, 12 digits>") at timestamp TimestampFor(seq), value ValueFor(seq)
//   - MVCCPut("counter")            at timestamp TimestampFor(seq), value "<seq>"
//   - Put(kRaftLog, "raft/<seq, 12 digits>", ValueFor(seq))
// Batches whose IsAcknowledged(seq) holds are committed synced and reported to the
// parent; the others are committed unsynced and never reported (they may or may not
// survive a kill, and nobody checks). A writer resumes at (latest "counter") + 1, so
// batches are written in order without gaps across all writer processes.
//
// Thread safety: stateless functions; the Engine's rules apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/engine.h"
#include "storage/timestamp.h"

namespace rangedb::crash_test {

std::string DataKey(int64_t seq);     // "k/000000000042"
std::string RaftLogKey(int64_t seq);  // "raft/000000000042"
std::string ValueFor(int64_t seq);    // "v42/" + a filler of 0..2047 bytes
Timestamp TimestampFor(int64_t seq);  // strictly increasing in seq, never empty
bool IsAcknowledged(int64_t seq);     // synced and reported; false for every 4th seq
inline constexpr char kCounterKey[] = "counter";

// Adds batch `seq` to *batch (see the file comment). Fails only if MVCC does.
[[nodiscard]] absl::Status AddBatchWrites(WriteBatch& batch, int64_t seq);

// The highest batch in the store (its "counter"), 0 for an empty store.
[[nodiscard]] absl::StatusOr<int64_t> ReadLastSeq(Engine& engine);

// Verifies the store after a crash, against the sequence numbers a writer
// acknowledged (in any order). Returns the last batch in the store.
//  - DataLoss naming the first missing seqs if an acknowledged batch is absent or
//    altered (its data key, its raft-log entry, or a "counter" below it).
//  - FailedPrecondition if the store is not exactly batches 1..last: a batch
//    partly applied, or a gap (RocksDB recovers a prefix of its write-ahead log).
//  - Any read error of the engine, e.g. DataLoss on corruption.
[[nodiscard]] absl::StatusOr<int64_t> VerifyStore(Engine& engine,
                                                  const std::vector<int64_t>& acked_seqs);

// The writer child: `storage_crash_test --writer --store=DIR --ack_fd=N
// [--ack_before_commit_gap_ms=MS]`. Opens the store, reports "ready <next seq>\n" on
// fd N, then writes batches until killed, reporting "ack <seq>\n" for each
// acknowledged batch after its synced Commit returned OK.
// --ack_before_commit_gap_ms plants a bug for the checker to catch: the writer
// reports the ack first, sleeps that long, and only then commits.
// Returns the process exit status; it is only reached on error, or if the writer
// runs out of its bounded number of batches without being killed.
int WriterMain(int argc, char** argv);

}  // namespace rangedb::crash_test
