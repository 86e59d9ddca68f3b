// Index builds that outlive their session (docs/design/sql-index-build-resume.md): a
// build record left by a builder that died is taken over by a sweep once its claim ran
// out and finished from its resume key, or removed when it cannot be built; a builder
// that was paused past its claim stops with 40003 and never publishes. Over a real key
// space: three stores in one process.
#include "sql/index_build.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sql/catalog.h"
#include "sql/dropped_spans.h"
#include "sql/session.h"
#include "sql/sqlstate.h"
#include "sql/testing/sql_cluster_fixture.h"
#include "sql/testing/sql_runner.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

using ::rangedb::sql::testing::Query;
using ::testing::ElementsAre;

constexpr absl::Duration kMaxOffset = absl::Milliseconds(500);

class IndexBuildTest : public testing::SqlClusterTest {
 protected:
  // A builder on node whose wall clock is now_micros_.
  IndexBuilder Builder(uint64_t node) {
    return NewIndexBuilder(node, [this] { return now_micros_.load(); });
  }
  // Table t (id INTEGER PRIMARY KEY, v TEXT) with rows 0..rows-1 (v 'value <id>'),
  // and row 5000 with row 1's v if asked, and index t_v ON t (v), built; t's id.
  uint64_t IndexedTable(Session& s, int rows, bool duplicate_of_row_1 = false) {
    EXPECT_TRUE(Query(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").ok());
    Fill(s, rows);
    if (duplicate_of_row_1) {
      EXPECT_TRUE(Query(s, "INSERT INTO t VALUES (5000, 'value 1')").ok());
    }
    EXPECT_TRUE(Query(s, "CREATE INDEX t_v ON t (v)").ok());
    return TableId(s, "t");
  }
  int64_t BuildRecords() { return KeysIn(IndexBuildSpanStart(), IndexBuildSpanEnd()); }
  int64_t Entries(uint64_t table, uint32_t index) {
    return KeysIn(keys::IndexPrefix(table, index), keys::IndexPrefix(table, index + 1));
  }
  std::string IndexState(Session& s, const std::string& name) {
    absl::StatusOr<std::vector<std::string>> state =
        Query(s, absl::StrCat("SELECT state FROM rangedb_indexes WHERE index_name = '", name, "'"));
    if (!state.ok()) return state.status().ToString();
    return state->empty() ? "<none>" : state->front();
  }
  // Puts the built index `index` of `table` back to where CREATE INDEX's first
  // transaction leaves it (state BACKFILL, no entries, a build record claimed by
  // builder), as a session that died right after it would. unique: the index is
  // made UNIQUE too (to plant duplicates that a CREATE UNIQUE INDEX would refuse).
  void RewindToStep1(uint64_t table, uint32_t index, const IndexBuilder& builder,
                     bool unique = false) {
    ASSERT_TRUE(
        txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
          absl::StatusOr<std::optional<sqlpb::TableDescriptor>> desc = ReadDescriptor(txn, table);
          if (!desc.ok()) return desc.status();
          if (!desc->has_value()) return absl::NotFoundError("no table");
          for (sqlpb::IndexDescriptor& i : *(*desc)->mutable_indexes()) {
            if (i.id() != index) continue;
            i.set_state(sqlpb::IndexDescriptor::BACKFILL);
            if (unique) i.set_unique(true);
          }
          (*desc)->set_version((*desc)->version() + 1);
          if (absl::Status s = WriteDescriptor(txn, **desc); !s.ok()) return s;
          if (absl::StatusOr<uint64_t> v = BumpVersion(txn); !v.ok()) return v.status();
          if (absl::Status s = RecordIndexBuild(txn, table, index, builder); !s.ok()) return s;
          return txn
              .DeleteRange(keys::IndexPrefix(table, index), keys::IndexPrefix(table, index + 1))
              .status();
        }).ok());
  }
  // Runs chunks of builder's build, then stops as if its session died.
  void RunChunksAndDie(const IndexBuilder& builder, uint64_t table, uint32_t index, int chunks) {
    int asked = 0;
    absl::Status s =
        RunIndexBuild(Sender(), txn::TxnOptions{}, builder, table, index, [&]() -> absl::Status {
          return asked++ < chunks ? absl::OkStatus() : absl::CancelledError("died");
        });
    ASSERT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  }
  absl::StatusOr<ResumedIndexBuilds> Sweep(const IndexBuilder& builder,
                                           const std::function<absl::Status()>& check = {}) {
    return ResumeAbandonedIndexBuilds(Sender(2), txn::TxnOptions{}, builder, kMaxOffset, check);
  }
  void PassTheClaim() {
    now_micros_ += absl::ToInt64Microseconds(kIndexBuildClaim + kMaxOffset) + 1;
  }

  std::atomic<int64_t> now_micros_{1'000'000'000'000};
};

// The session died after two chunks; writers went on meanwhile (below and above the
// resume key, and over rows the dead builder had indexed). The sweep leaves a live
// claim alone, takes the build over once it ran out, and publishes an exact index.
TEST_F(IndexBuildTest, ASweepFinishesTheBuildOfASessionThatDiedFromItsResumeKey) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 1800);
  constexpr uint32_t kIndex = 2;
  const IndexBuilder dead = Builder(1);
  RewindToStep1(table, kIndex, dead);
  RunChunksAndDie(dead, table, kIndex, 2);
  EXPECT_EQ(Entries(table, kIndex), 2 * kIndexBuildChunkRows);
  EXPECT_EQ(IndexState(*s, "t_v"), "BACKFILL");
  auto w = NewSession(3);
  ASSERT_SQL_OK(*w, "INSERT INTO t VALUES (-5, 'below'), (5000, 'above')");
  ASSERT_SQL_OK(*w, "UPDATE t SET v = 'moved ' || id WHERE id % 100 = 0");
  ASSERT_SQL_OK(*w, "DELETE FROM t WHERE id % 100 = 1");

  const IndexBuilder sweeper = Builder(2);
  absl::StatusOr<ResumedIndexBuilds> live = Sweep(sweeper);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->published, 0);
  EXPECT_EQ(IndexState(*s, "t_v"), "BACKFILL");
  EXPECT_EQ(BuildRecords(), 1);

  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(sweeper);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  EXPECT_TRUE(resumed->failed.empty());
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
  EXPECT_EQ(BuildRecords(), 0);
  // One entry per row, and the index answers as the rows do.
  absl::StatusOr<std::vector<std::string>> rows = Query(*s, "SELECT count(*) FROM t");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(absl::StrCat(Entries(table, kIndex)), rows->front());
  for (const char* v : {"'below'", "'above'", "'moved 300'", "'value 1234'", "'value 301'"}) {
    EXPECT_EQ(*Query(*s, absl::StrCat("SELECT count(*) FROM t WHERE v = ", v)),
              *Query(*s, absl::StrCat("SELECT count(*) FROM t WHERE +v = ", v)))
        << v;
  }
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE v = 'moved 300'"), ElementsAre("300"));
  // A second sweep finds nothing to do.
  resumed = Sweep(Builder(3));
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->published + resumed->abandoned + resumed->cleaned, 0);
}

// The builder was paused past its claim: the sweep took the build over. When the old
// builder wakes up it stops with 40003 at its next chunk and cannot publish or remove
// the index; the sweeper publishes it.
TEST_F(IndexBuildTest, ABuilderPausedPastItsClaimStopsAndTheSweeperPublishes) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 1200);
  constexpr uint32_t kIndex = 2;
  const IndexBuilder paused = Builder(1);
  RewindToStep1(table, kIndex, paused);
  RunChunksAndDie(paused, table, kIndex, 1);
  PassTheClaim();
  absl::Status woken;
  absl::Status woken_abandon;
  int chunks = 0;
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2), [&]() -> absl::Status {
    if (chunks++ == 1) {  // the sweeper has taken the build over, before its first chunk
      woken = RunIndexBuild(Sender(3), txn::TxnOptions{}, paused, table, kIndex);
      woken_abandon = AbandonIndexBuild(Sender(3), txn::TxnOptions{}, paused, table, kIndex);
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(SqlStateOf(woken), sqlstate::kAmbiguousCommit) << woken;
  EXPECT_EQ(SqlStateOf(woken_abandon), sqlstate::kAmbiguousCommit) << woken_abandon;
  EXPECT_EQ(resumed->published, 1);
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
  EXPECT_EQ(Entries(table, kIndex), 1200);
  // And after the publish, the old builder still cannot touch it.
  absl::Status late = AbandonIndexBuild(Sender(3), txn::TxnOptions{}, paused, table, kIndex);
  EXPECT_EQ(SqlStateOf(late), sqlstate::kAmbiguousCommit) << late;
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
}

// A sweep stopped in the middle of a build it took over (its node stops) returns the
// stop, leaves the index unpublished and the record claimed by it; once that claim
// runs out, another sweep finishes the build.
TEST_F(IndexBuildTest, ASweepStoppedMidBuildLeavesItForTheNextOne) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 1200);
  constexpr uint32_t kIndex = 2;
  RewindToStep1(table, kIndex, Builder(1));
  PassTheClaim();
  int asked = 0;
  absl::StatusOr<ResumedIndexBuilds> stopped = Sweep(Builder(2), [&]() -> absl::Status {
    // Asked before the record, then before each chunk: stop after one chunk.
    return asked++ < 2 ? absl::OkStatus() : absl::CancelledError("the node is stopping");
  });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
  EXPECT_EQ(IndexState(*s, "t_v"), "BACKFILL");
  EXPECT_EQ(BuildRecords(), 1);
  EXPECT_EQ(Entries(table, kIndex), kIndexBuildChunkRows);
  // Claimed by the stopped sweeper: not yet taken again.
  absl::StatusOr<ResumedIndexBuilds> early = Sweep(Builder(3));
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(early->published, 0);
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(3));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
  EXPECT_EQ(Entries(table, kIndex), 1200);
}

// A UNIQUE build that meets duplicates cannot finish: the sweep removes the index
// and its entries, and the table stays usable.
TEST_F(IndexBuildTest, ASweepRemovesABuildThatCannotFinish) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 700, /*duplicate_of_row_1=*/true);
  constexpr uint32_t kIndex = 2;
  RewindToStep1(table, kIndex, Builder(1), /*unique=*/true);
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->abandoned, 1);
  EXPECT_EQ(resumed->published, 0);
  EXPECT_EQ(IndexState(*s, "t_v"), "<none>");
  EXPECT_EQ(BuildRecords(), 0);
  absl::StatusOr<ClearedSpans> cleared = ClearDroppedSpans(Sender(), txn::TxnOptions{});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(Entries(table, kIndex), 0);
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (5001, 'value 1')");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");  // the name is free again
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
}

// Review finding 1: while a UNIQUE index is built, two rows may still share a value,
// and so one entry key. A writer that moves the second row away must not delete the
// entry the build wrote for the first (it did: the index went PUBLIC without row 1's
// entry, and then took a duplicate of it).
TEST_F(IndexBuildTest, AWriterKeepsTheUniqueEntryOfAnotherRowDuringTheBuild) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 1200, /*duplicate_of_row_1=*/true);
  constexpr uint32_t kIndex = 2;
  const IndexBuilder dead = Builder(1);
  RewindToStep1(table, kIndex, dead, /*unique=*/true);
  RunChunksAndDie(dead, table, kIndex, 1);  // row 1's entry is written
  ASSERT_SQL_OK(*s, "UPDATE t SET v = 'x' WHERE id = 5000");
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  EXPECT_EQ(Entries(table, kIndex), 1201);
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE v = 'value 1'"), ElementsAre("1"));
  absl::StatusOr<std::vector<std::string>> dup =
      Query(*s, "INSERT INTO t VALUES (6000, 'value 1')");
  EXPECT_EQ(SqlStateOf(dup.status()), sqlstate::kUniqueViolation) << dup.status();
}

// Review finding 2: a record that does not parse fails alone; the other builds are
// resumed all the same.
TEST_F(IndexBuildTest, ACorruptRecordFailsAloneAndTheOthersAreResumed) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 600);
  ASSERT_TRUE(txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
                return txn.Put(IndexBuildKey(table, 99), "\xff garbage");
              }).ok());
  RewindToStep1(table, 2, Builder(1));
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  ASSERT_EQ(resumed->failed.size(), 1u);
  EXPECT_EQ(resumed->failed[0].first, IndexBuildKey(table, 99));
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
}

// Review finding 5: a claim written while the builder's clock was far ahead (then
// stepped back) does not hold the build for that long: a claim further ahead than one
// claim period (plus the clock offsets) counts as run out.
TEST_F(IndexBuildTest, AClaimFromAClockFarAheadDoesNotHoldTheBuild) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 600);
  const int64_t day = absl::ToInt64Microseconds(absl::Hours(24));
  now_micros_ += day;
  RewindToStep1(table, 2, Builder(1));
  now_micros_ -= day;
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  EXPECT_EQ(IndexState(*s, "t_v"), "PUBLIC");
}

// Before it publishes, a build counts the index's entries against the table's rows
// at one snapshot (as CockroachDB validates a new index): a build that skipped rows
// (here: a record whose resume key claims every row is done, with no entry written)
// is removed, not published.
TEST_F(IndexBuildTest, ABuildWhoseEntriesDoNotMatchTheRowsIsNotPublished) {
  auto s = NewSession();
  const uint64_t table = IndexedTable(*s, 300);
  constexpr uint32_t kIndex = 2;
  RewindToStep1(table, kIndex, Builder(1));
  ASSERT_TRUE(txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
                absl::StatusOr<std::optional<std::string>> stored =
                    txn.Get(IndexBuildKey(table, kIndex));
                if (!stored.ok()) return stored.status();
                sqlpb::IndexBuild record;
                if (!stored->has_value() || !record.ParseFromString(**stored))
                  return absl::InternalError("no record");
                record.set_resume_key(keys::IndexPrefix(table, kPrimaryIndexId + 1));
                return txn.Put(IndexBuildKey(table, kIndex), record.SerializeAsString());
              }).ok());
  PassTheClaim();
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 0);
  EXPECT_EQ(resumed->abandoned, 1);
  EXPECT_EQ(IndexState(*s, "t_v"), "<none>");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE v = 'value 7'"), ElementsAre("7"));
}

// In an analyzed table, a new index is published with its statistics (as ANALYZE
// counts them), so the planner need not wait for the next ANALYZE; a table never
// analyzed keeps the planner's defaults.
TEST_F(IndexBuildTest, ANewIndexOfAnAnalyzedTableIsPublishedWithItsStatistics) {
  auto s = NewSession();
  for (const char* name : {"t", "u"}) {
    ASSERT_SQL_OK(
        *s, absl::StrCat("CREATE TABLE ", name, " (id INTEGER PRIMARY KEY, v INTEGER, w TEXT)"));
    ASSERT_SQL_OK(*s, absl::StrCat("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                   "FROM n WHERE i < 300) INSERT INTO ",
                                   name, " SELECT i, i % 7, 'w' || (i % 30) FROM n"));
  }
  ASSERT_SQL_OK(*s, "ANALYZE t");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_vw ON t (v, w)");
  ASSERT_SQL_OK(*s, "CREATE INDEX u_vw ON u (v, w)");
  auto descriptor = [&](const std::string& name) {
    const uint64_t id = TableId(*s, name);
    sqlpb::TableDescriptor desc;
    EXPECT_TRUE(txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
                  absl::StatusOr<std::optional<sqlpb::TableDescriptor>> read =
                      ReadDescriptor(txn, id);
                  if (!read.ok()) return read.status();
                  if (read->has_value()) desc = **read;
                  return absl::OkStatus();
                }).ok());
    return desc;
  };
  const sqlpb::TableDescriptor t = descriptor("t");
  EXPECT_EQ(t.row_count_estimate(), 300);
  ASSERT_EQ(t.indexes_size(), 1);
  // 7 values of v; (v, w) pairs: i % 7 and i % 30 repeat every 210 rows.
  EXPECT_THAT(t.indexes(0).distinct_prefix_estimate(), ElementsAre(7, 210));
  const sqlpb::TableDescriptor u = descriptor("u");
  EXPECT_EQ(u.row_count_estimate(), 0);
  ASSERT_EQ(u.indexes_size(), 1);
  EXPECT_THAT(u.indexes(0).distinct_prefix_estimate(), ::testing::IsEmpty());
}

// DROP INDEX and DROP TABLE of an index being built take its record with them; a
// record whose index is gone anyway (left as by an older node) is deleted by the
// sweep at once, without waiting for its claim.
TEST_F(IndexBuildTest, DropsTakeTheRecordAndASweepDeletesLeftovers) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  Fill(*s, 10);
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v2 ON t (v, id)");
  EXPECT_EQ(BuildRecords(), 0);  // a finished CREATE INDEX leaves none
  const uint64_t table = TableId(*s, "t");
  RewindToStep1(table, 2, Builder(1));
  ASSERT_SQL_OK(*s, "DROP INDEX t_v");
  EXPECT_EQ(BuildRecords(), 0);
  RewindToStep1(table, 3, Builder(1));
  ASSERT_SQL_OK(*s, "DROP TABLE t");
  EXPECT_EQ(BuildRecords(), 0);

  ASSERT_TRUE(txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
                return RecordIndexBuild(txn, table, 3, Builder(1));
              }).ok());
  absl::StatusOr<ResumedIndexBuilds> resumed = Sweep(Builder(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->cleaned, 1);
  EXPECT_EQ(BuildRecords(), 0);
}

// A CREATE INDEX that fails (duplicates) or is cancelled removes its index and its
// record: nothing is left for a sweep.
TEST_F(IndexBuildTest, AFailedCreateIndexLeavesNoRecord) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  Fill(*s, 600);
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (5000, 'value 599')");
  absl::StatusOr<std::vector<std::string>> failed = Query(*s, "CREATE UNIQUE INDEX t_v ON t (v)");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(SqlStateOf(failed.status()), sqlstate::kUniqueViolation) << failed.status();
  EXPECT_EQ(BuildRecords(), 0);
  EXPECT_EQ(IndexState(*s, "t_v"), "<none>");
}

}  // namespace
}  // namespace rangedb::sql
