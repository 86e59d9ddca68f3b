// DROP without deleting in the DDL transaction (docs/design/sql-drop.md): the DDL
// writes a drop record, ClearDroppedSpans clears the span in chunks, and a record
// left by a session that died is cleared by a later sweep. Over a real key space:
// three stores in one process (TxnClusterTest), as session_test.cc.
#include "sql/dropped_spans.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sql/catalog.h"
#include "sql/session.h"
#include "sql/testing/sql_cluster_fixture.h"
#include "sql/testing/sql_runner.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

using ::rangedb::sql::testing::Query;
using ::testing::ElementsAre;

class DroppedSpansTest : public testing::SqlClusterTest {
 protected:
  int64_t DropRecords() { return KeysIn(DropRecordSpanStart(), DropRecordSpanEnd()); }
};

TEST_F(DroppedSpansTest, DropTableClearsEveryKeyOfTheTableAndItsRecord) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");
  Fill(*s, 2500);  // rows and entries: several chunks
  const uint64_t id = TableId(*s, "t");
  ASSERT_EQ(KeysIn(keys::TablePrefix(id), keys::TablePrefix(id + 1)), 5000);
  ASSERT_SQL_OK(*s, "DROP TABLE t");
  EXPECT_EQ(KeysIn(keys::TablePrefix(id), keys::TablePrefix(id + 1)), 0);
  EXPECT_EQ(DropRecords(), 0);
  // The name is free again, under a new id and an empty span.
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t"), ElementsAre("0"));
}

TEST_F(DroppedSpansTest, DropIndexClearsItsEntriesAndNothingElse) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v2 ON t (v, id)");
  Fill(*s, 1200);
  const uint64_t id = TableId(*s, "t");
  ASSERT_EQ(KeysIn(keys::TablePrefix(id), keys::TablePrefix(id + 1)), 3600);
  ASSERT_SQL_OK(*s, "DROP INDEX t_v");
  EXPECT_EQ(KeysIn(keys::TablePrefix(id), keys::TablePrefix(id + 1)), 2400);
  EXPECT_EQ(DropRecords(), 0);
  // The index left answers as a scan of the rows does (text order: 'value 2' > 'value 1000').
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE v >= 'value 1000'"), ElementsAre("1196"));
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE +v >= 'value 1000'"), ElementsAre("1196"));
}

// What a session that died after its DROP committed leaves: a drop record and the
// keys. A sweep clears them; a sweep stopped midway leaves the record, moved past
// what it cleared, for the next one.
TEST_F(DroppedSpansTest, ARecordLeftBehindIsClearedBySweepsThatMayStopMidway) {
  constexpr uint64_t kTable = 4000;
  constexpr int kKeys = 2500;
  const std::string start = keys::TablePrefix(kTable), end = keys::TablePrefix(kTable + 1);
  for (int i = 0; i < kKeys; i += 500) {
    ASSERT_TRUE(txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
                  if (i == 0) {
                    if (absl::Status st = RecordDrop(txn, kTable, 0, start, end); !st.ok())
                      return st;
                  }
                  for (int k = i; k < i + 500; ++k) {
                    if (absl::Status st = txn.Put(absl::StrCat(start, "row", 100000 + k), "x");
                        !st.ok())
                      return st;
                  }
                  return absl::OkStatus();
                }).ok());
  }
  ASSERT_EQ(KeysIn(start, end), kKeys);
  int chunks = 0;
  absl::StatusOr<ClearedSpans> stopped =
      ClearDroppedSpans(Sender(2), txn::TxnOptions{}, [&]() -> absl::Status {
        return chunks++ < 1 ? absl::OkStatus() : absl::CancelledError("testing: stop");
      });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(KeysIn(start, end), kKeys - kClearChunkKeys);
  EXPECT_EQ(DropRecords(), 1);
  absl::StatusOr<ClearedSpans> cleared = ClearDroppedSpans(Sender(3), txn::TxnOptions{});
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_EQ(cleared->records, 1);
  EXPECT_EQ(cleared->keys, kKeys - kClearChunkKeys);
  EXPECT_EQ(KeysIn(start, end), 0);
  EXPECT_EQ(DropRecords(), 0);
  // Nothing left: a sweep is a no-op.
  cleared = ClearDroppedSpans(Sender(), txn::TxnOptions{});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->records, 0);
}

// The review's findings F2, F3 and F6: a corrupt record, or one whose span is not
// its table's, fails alone (and clears nothing outside its table); the others are
// cleared; and a DROP clears only what it wrote, not other sessions' leftovers.
TEST_F(DroppedSpansTest, BadRecordsFailAloneAndADropClearsOnlyItsOwnRecord) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE live (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "INSERT INTO live VALUES (1)");
  constexpr uint64_t kDead = 4000;
  const std::string dead_start = keys::TablePrefix(kDead);
  ASSERT_TRUE(
      txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
        // Garbage; a record that names table 5000 but the catalog's span; and a
        // good one with keys.
        if (absl::Status st = txn.Put(DropRecordKey(3000, 0), "\xff garbage"); !st.ok()) return st;
        sqlpb::DroppedSpan wrong;
        wrong.set_start(DescriptorSpanStart());
        wrong.set_end(DescriptorSpanEnd());
        wrong.set_table_id(5000);
        if (absl::Status st = txn.Put(DropRecordKey(5000, 0), wrong.SerializeAsString()); !st.ok())
          return st;
        if (absl::Status st = RecordDrop(txn, kDead, 0, dead_start, keys::TablePrefix(kDead + 1));
            !st.ok())
          return st;
        for (int k = 0; k < 10; ++k) {
          if (absl::Status st = txn.Put(absl::StrCat(dead_start, "row", k), "x"); !st.ok())
            return st;
        }
        return absl::OkStatus();
      }).ok());
  // A DROP of another table clears its own record only.
  ASSERT_SQL_OK(*s, "CREATE TABLE other (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "DROP TABLE other");
  EXPECT_EQ(KeysIn(dead_start, keys::TablePrefix(kDead + 1)), 10);
  EXPECT_EQ(DropRecords(), 3);
  // The sweep clears the good record; the two bad ones fail, alone.
  absl::StatusOr<ClearedSpans> cleared = ClearDroppedSpans(Sender(), txn::TxnOptions{});
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_EQ(cleared->records, 1);
  EXPECT_EQ(cleared->keys, 10);
  EXPECT_EQ(cleared->failed.size(), 2u);
  EXPECT_EQ(KeysIn(dead_start, keys::TablePrefix(kDead + 1)), 0);
  EXPECT_EQ(DropRecords(), 2);
  // The catalog is untouched: the live table is still there.
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM live"), ElementsAre("1"));
}

// A DROP TABLE while another session keeps writing the table: the DDL reads and
// locks no table key, so the writes cannot fail it. (This one passes with the old
// DeleteRange-in-the-DDL too: the writer waits on its intents; see the design note.)
TEST_F(DroppedSpansTest, DropTableSucceedsWhileAnotherSessionKeepsWritingTheTable) {
  auto s = NewSession(1);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  Fill(*s, 2000);
  const uint64_t id = TableId(*s, "t");
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto w = NewSession(2);
    for (int i = 0; !stop.load(); ++i) {
      // Wide writes: every one rewrites many rows.
      if (Query(*w, absl::StrCat("UPDATE t SET v = 'w", i, "' WHERE id % 7 = ", i % 7)).ok())
        written.fetch_add(1);
    }
  });
  while (written.load() < 3) absl::SleepFor(absl::Milliseconds(5));
  absl::StatusOr<std::vector<std::string>> dropped = Query(*s, "DROP TABLE t");
  stop = true;
  writer.join();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(KeysIn(keys::TablePrefix(id), keys::TablePrefix(id + 1)), 0);
  EXPECT_EQ(DropRecords(), 0);
}

}  // namespace
}  // namespace rangedb::sql
