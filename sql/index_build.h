// Online index builds that survive their session (docs/design/sql-index-build-resume.md).
//
// CREATE INDEX adds the index in state BACKFILL and, in the same transaction, a build
// record (RecordIndexBuild) naming its builder. RunIndexBuild then writes every row's
// entry in chunks and makes the index PUBLIC; each chunk goes on only while the record
// still names its builder, and moves the builder's claim ahead and the resume key past
// its rows. If the builder dies, a node's sweep (ResumeAbandonedIndexBuilds) takes over
// the record once the claim has run out and finishes the build from the resume key,
// or removes the index if it cannot be built (duplicates for a UNIQUE index).
//
//   \x03catalog/build/<table id:uvarint key><index id:uvarint key>   sqlpb::IndexBuild
//
// Thread safety: stateless functions; each runs its own transactions through sender.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "txn/sender.h"
#include "txn/txn.h"

namespace rangedb::sql {

// How long a builder's claim on its record lasts after each chunk it commits.
inline constexpr absl::Duration kIndexBuildClaim = absl::Seconds(60);
inline constexpr int64_t kIndexBuildChunkRows = 500;

// Who builds: an id unique to this build attempt (random), the node it runs on (for
// logs and rangedb_indexes), and its wall clock (microseconds since the epoch).
struct IndexBuilder {
  uint64_t owner = 0;
  uint64_t node_id = 0;
  std::function<int64_t()> wall_micros;
};

// A builder with a fresh random owner id.
IndexBuilder NewIndexBuilder(uint64_t node_id, std::function<int64_t()> wall_micros);

// Step 1's record, written in the CREATE INDEX transaction: builder claims the build
// from the first row on.
[[nodiscard]] absl::Status RecordIndexBuild(txn::Txn& txn, uint64_t table_id, uint32_t index_id,
                                            const IndexBuilder& builder);
// Removes the build record of an index being dropped (no-op if there is none).
[[nodiscard]] absl::Status DeleteIndexBuild(txn::Txn& txn, uint64_t table_id, uint32_t index_id);

// Steps 2 and 3: every row's entry from the record's resume key on, a check that the
// index has one entry per row (XX000 if not), then the index PUBLIC and the record
// gone. check_stop (if set) is asked before each chunk; its
// error is returned as it is. Errors: 23505 when a UNIQUE index meets duplicates;
// 42P01 / 42704 when the table or the index was dropped meanwhile; 40003 when the
// record names another builder (the build was taken over while this one was paused:
// its outcome is decided there); key-space errors as the transactions return them.
// On an error nothing is rolled back: see AbandonIndexBuild.
[[nodiscard]] absl::Status RunIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                                         const IndexBuilder& builder, uint64_t table_id,
                                         uint32_t index_id,
                                         const std::function<absl::Status()>& check_stop = {});

// Removes the unfinished index of builder's build (its entries are recorded as dropped:
// sql/dropped_spans.h clears them) and its record. OK if the index or the table is
// already gone; 40003 if the record names another builder.
[[nodiscard]] absl::Status AbandonIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                                             const IndexBuilder& builder, uint64_t table_id,
                                             uint32_t index_id);

// Gives builder's build to the next sweep at once (its claim ends now), e.g. when its
// node shuts down. 40003 if the record names another builder; 42704 if it is gone.
[[nodiscard]] absl::Status ReleaseIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                                             const IndexBuilder& builder, uint64_t table_id,
                                             uint32_t index_id);

// True for RunIndexBuild's errors after which the index can never be built by anyone
// (duplicates, the index or its table dropped, entries that do not match the rows, a
// corrupt descriptor): the build is to be abandoned.
bool IndexBuildCannotFinish(const absl::Status& status);

struct ResumedIndexBuilds {
  int published = 0;  // taken over and made PUBLIC
  int abandoned = 0;  // taken over and removed (could not be built)
  int cleaned = 0;    // records of indexes that no longer exist, deleted
  // Records whose resumption failed, each with its error: left for the next sweep.
  std::vector<std::pair<std::string, absl::Status>> failed;
};

// The node's sweep: takes over every build whose claim ran out more than max_offset
// ago (by builder's clock) and finishes it as builder. check_stop as above: a non-OK
// answer stops the sweep (the build it was running stays claimed by builder until its
// claim runs out) and is returned. on_takeover (if set) hears of each build taken
// over before it is run: its table, index and the node of the builder it replaces.
[[nodiscard]] absl::StatusOr<ResumedIndexBuilds> ResumeAbandonedIndexBuilds(
    txn::Sender* sender, const txn::TxnOptions& options, const IndexBuilder& builder,
    absl::Duration max_offset, const std::function<absl::Status()>& check_stop = {},
    const std::function<void(uint64_t table_id, uint32_t index_id, uint64_t from_node)>&
        on_takeover = {});

}  // namespace rangedb::sql
