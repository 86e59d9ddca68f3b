// Session over a real key space: three stores in one process (TxnClusterTest), the
// coordinator reaching them through a LocalSender, as inside a node.
#include "sql/session.h"

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranges/local_sender.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "sql/catalog.h"
#include "sql/index_build.h"
#include "sql/sqlstate.h"
#include "sql/testing/sql_runner.h"
#include "sqlite3.h"

namespace rangedb::sql {
namespace {

using ::rangedb::sql::testing::Query;
using ::rangedb::sql::testing::StateOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A Sender that fails every batch while `fail` is set (as an unreachable key space).
class FlakySender final : public txn::Sender {
 public:
  explicit FlakySender(txn::Sender* next) : next_(next) {}
  absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override {
    if (fail) return absl::UnavailableError("testing: the key space is unreachable");
    return next_->Send(std::move(batch));
  }
  std::atomic<bool> fail{false};

 private:
  txn::Sender* next_;
};

// A Sender that runs `before` (if set) ahead of each batch: a test's hook into the
// moment a session talks to the key space (to interrupt it, or to race it).
class HookedSender final : public txn::Sender {
 public:
  explicit HookedSender(txn::Sender* next) : next_(next) {}
  absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override {
    if (before) before(batch);
    if (fail && fail(batch)) return absl::UnavailableError("testing: batch refused");
    return next_->Send(std::move(batch));
  }
  std::function<void(const kvpb::BatchRequest&)> before;
  std::function<bool(const kvpb::BatchRequest&)> fail;

 private:
  txn::Sender* next_;
};

bool HasEndTxn(const kvpb::BatchRequest& batch) {
  for (const auto& r : batch.requests()) {
    if (r.has_end_txn()) return true;
  }
  return false;
}

class SessionTest : public ranges::TxnClusterTest {
 protected:
  std::unique_ptr<Session> NewSession(uint64_t node = 1, bool flaky = false, bool hooked = false) {
    senders_.push_back(std::make_unique<ranges::LocalSender>(gateways_[node].get()));
    SessionOptions options;
    options.sender = senders_.back().get();
    if (hooked) {
      hooked_ = std::make_unique<HookedSender>(senders_.back().get());
      options.sender = hooked_.get();
    }
    if (flaky) {
      flaky_ = std::make_unique<FlakySender>(senders_.back().get());
      options.sender = flaky_.get();
    }
    options.node_id = node;
    options.sleep_for = [](std::chrono::milliseconds) {};
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Open(std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // CREATE INDEX tv ON t (v) on a new table t (id, v) of 1,500 rows, interrupted for
  // reason in its backfill (at its second scan); the statement's SQLSTATE.
  // REQUIRES: s is the hooked session.
  std::string CreateIndexInterruptedInItsBackfill(Session& s, InterruptReason reason) {
    EXPECT_TRUE(Query(s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)").ok());
    EXPECT_TRUE(Query(s,
                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i "
                      "< 1500) INSERT INTO t SELECT i, i FROM n")
                    .ok());
    std::atomic<int> scans{0};
    hooked_->before = [&](const kvpb::BatchRequest& batch) {
      for (const auto& r : batch.requests()) {
        if (r.has_scan() && scans.fetch_add(1) == 1) s.Interrupt(reason);
      }
    };
    const std::string state = StateOf(s, "CREATE INDEX tv ON t (v)");
    hooked_->before = nullptr;
    return state;
  }

  std::vector<std::unique_ptr<ranges::LocalSender>> senders_;
  std::unique_ptr<FlakySender> flaky_;
  std::unique_ptr<HookedSender> hooked_;
};

TEST_F(SessionTest, CreateInsertAndSelect) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (2, 'b', 2.5), (1, 'a', 1), (3, NULL, NULL)");
  EXPECT_THAT(*Query(*s, "SELECT id, name, score, typeof(score) FROM t"),
              ElementsAre("1|a|1|real", "2|b|2.5|real", "3|NULL|NULL|null"));
  EXPECT_THAT(*Query(*s, "SELECT name FROM t WHERE id = 2"), ElementsAre("b"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE id > 1 AND id <= 3"), ElementsAre("2", "3"));
  EXPECT_THAT(*Query(*s, "SELECT count(*), sum(score) FROM t"), ElementsAre("3|3.5"));
}

TEST_F(SessionTest, PointAndRangeLookupsUseThePrimaryKey) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a INTEGER, b TEXT, c, PRIMARY KEY (a, b))");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = 1 AND b = 'x'"),
              ElementsAre(HasSubstr("PRIMARY KEY (a=?, b=?)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = 1 AND b > 'x'"),
              ElementsAre(HasSubstr("PRIMARY KEY (a=?, b>?)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT * FROM t WHERE c = 1"),
              ElementsAre(HasSubstr("FULL SCAN")));
}

// ORDER BY on a key order is consumed (no sort): the scan runs in that order, in
// pages that grow from 64 rows, backwards for DESC, with the transaction's own
// writes merged in either direction.
TEST_F(SessionTest, ScansYieldTheOrderByOrderInEitherDirection) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, g TEXT, v)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_g ON t (g)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO t SELECT i, printf('g%03d', (i * 7) % 300), i % 3 FROM c");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t ORDER BY k"),
              ElementsAre(HasSubstr("FULL SCAN ORDER")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE k > 5 ORDER BY k DESC"),
              ElementsAre(HasSubstr("PRIMARY KEY (k>?) ORDER DESC")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t ORDER BY g DESC LIMIT 3"),
              ElementsAre(HasSubstr("INDEX t_g ORDER DESC")));
  // Not the index's collation: SQLite sorts.
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t ORDER BY g COLLATE NOCASE"),
              Contains(HasSubstr("USE TEMP B-TREE FOR ORDER BY")));

  std::vector<std::string> ascending, descending;
  for (int k = 1; k <= 300; ++k) ascending.push_back(absl::StrCat(k));
  descending.assign(ascending.rbegin(), ascending.rend());
  EXPECT_EQ(*Query(*s, "SELECT k FROM t ORDER BY k"), ascending);
  EXPECT_EQ(*Query(*s, "SELECT k FROM t ORDER BY k DESC"), descending);
  EXPECT_THAT(*Query(*s, "SELECT g FROM t ORDER BY g DESC LIMIT 3"),
              ElementsAre("g299", "g298", "g297"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE k BETWEEN 10 AND 14 ORDER BY k DESC"),
              ElementsAre("14", "13", "12", "11", "10"));

  // The transaction's own writes: new rows at both ends and inside, a deleted one.
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (0, 'a', 0), (301, 'z', 0), (1000, 'zz', 0)");
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE k IN (2, 150, 300)");
  ASSERT_SQL_OK(*s, "UPDATE t SET g = 'g150x' WHERE k = 151");
  std::vector<std::string> expected = {"1000", "301"};
  for (int k = 299; k >= 0; --k) {
    if (k != 2 && k != 150) expected.push_back(absl::StrCat(k));
  }
  EXPECT_EQ(*Query(*s, "SELECT k FROM t ORDER BY k DESC"), expected);
  EXPECT_THAT(*Query(*s, "SELECT g FROM t ORDER BY g DESC LIMIT 2"), ElementsAre("zz", "z"));
  EXPECT_THAT(*Query(*s, "SELECT g FROM t ORDER BY g LIMIT 2"), ElementsAre("a", "g001"));
  ASSERT_SQL_OK(*s, "COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE g > 'g1' ORDER BY g DESC"),
              ElementsAre("201"));
}

// Found by session_fuzz: a table named with bytes that are not UTF-8 was stored in
// a descriptor that then did not parse, and every later transaction of every session
// failed loading the schema (XX000). Such DDL is refused; the catalog stays whole.
TEST_F(SessionTest, DdlWhoseTextIsNotUtf8IsRefusedAndTheCatalogStaysReadable) {
  auto s = NewSession();
  EXPECT_EQ(StateOf(*s, "CREATE TABLE \"t\xff\" (a INTEGER PRIMARY KEY)"), "22021");
  EXPECT_EQ(StateOf(*s, "CREATE TABLE t (a TEXT DEFAULT '\xfe')"), "22021");
  EXPECT_EQ(StateOf(*s, "CREATE VIEW v AS SELECT '\xc3'"), "22021");
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)");
  // Values are another matter: TEXT need not be UTF-8, in SQLite or here.
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, CAST(x'ff41' AS TEXT))");
  auto other = NewSession(2);
  EXPECT_THAT(*Query(*other, "SELECT a, length(b) FROM t"), ElementsAre("1|2"));
}

// Found by the differential test (seed 69): inside a transaction, a statement that
// fails on something other than a conflict (a datatype mismatch) keeps its earlier
// rows exactly when SQLite opened no statement journal for it. OR FAIL, OR IGNORE and
// OR ROLLBACK journal none of these (no function call: see
// AFailedStatementThatMayAbortUndoesItsRowsAsInSqlite); OR REPLACE does when the table
// has a NOT NULL column or a CHECK (REPLACE may abort there). Expected rows are plain
// SQLite 3.40's.
TEST_F(SessionTest, AFailedStatementKeepsItsRowsOnlyWhereSqliteHasNoStatementJournal) {
  auto s = NewSession();
  struct Case {
    const char* table;
    const char* mode;
    const char* rows;  // after the failed INSERT of (NULL, -4), (2.5, 13)
  };
  const Case cases[] = {
      {"(c0 INTEGER, c1 INTEGER, PRIMARY KEY (c0))", "OR REPLACE", "1|1,2|-4"},
      {"(c0 INTEGER, c1 INTEGER NOT NULL, PRIMARY KEY (c0))", "OR REPLACE", "1|1"},
      {"(c0 INTEGER, c1 INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (c0))", "OR REPLACE", "1|1"},
      {"(c0 INTEGER, c1 INTEGER CHECK (c1 < 100), PRIMARY KEY (c0))", "OR REPLACE", "1|1"},
      {"(c0 INTEGER, \"check\" INTEGER, PRIMARY KEY (c0))", "OR REPLACE", "1|1,2|-4"},
      {"(c0 INTEGER, c1 INTEGER CHECK (c1 < 100), PRIMARY KEY (c0))", "OR FAIL", "1|1,2|-4"},
      {"(c0 INTEGER, c1 INTEGER CHECK (c1 < 100), PRIMARY KEY (c0))", "OR IGNORE", "1|1,2|-4"},
      {"(c0 INTEGER, c1 INTEGER CHECK (c1 < 100), PRIMARY KEY (c0))", "OR ROLLBACK", "1|1,2|-4"},
      {"(c0 INTEGER, c1 INTEGER, PRIMARY KEY (c0))", "OR ABORT", "1|1"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string t = absl::StrCat("j", n++);
    SCOPED_TRACE(absl::StrCat(t, " ", c.table, " ", c.mode));
    ASSERT_SQL_OK(*s, absl::StrCat("CREATE TABLE ", t, " ", c.table));
    ASSERT_SQL_OK(*s, absl::StrCat("INSERT INTO ", t, " VALUES (1, 1)"));
    ASSERT_SQL_OK(*s, "BEGIN");
    EXPECT_EQ(
        StateOf(*s, absl::StrCat("INSERT ", c.mode, " INTO ", t, " VALUES (NULL, -4), (2.5, 13)")),
        "22000");
    absl::StatusOr<std::vector<std::string>> rows =
        Query(*s, absl::StrCat("SELECT * FROM ", t, " ORDER BY 1"));
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ(absl::StrJoin(*rows, ","), c.rows);
    ASSERT_SQL_OK(*s, "ROLLBACK");
  }
}

// A cancelled write inside BEGIN aborts the transaction (25P02 until ROLLBACK), also
// under OR ROLLBACK, whose own conflicts end the transaction by the user's choice
// but whose cancel must not (review: the session then went on in autocommit).
TEST_F(SessionTest, ACancelledOrRollbackWriteInsideBeginAbortsTheTransaction) {
  auto s = NewSession(1, /*flaky=*/false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1)");
  int batches = 0;
  hooked_->before = [&](const kvpb::BatchRequest&) {
    if (++batches == 2) s->Interrupt();  // during the second row
  };
  EXPECT_EQ(StateOf(*s, "INSERT OR ROLLBACK INTO t VALUES (2), (3), (4)"), "57014");
  hooked_->before = nullptr;
  EXPECT_EQ(StateOf(*s, "SELECT 1"), sqlstate::kInFailedTransaction);
  ASSERT_SQL_OK(*s, "ROLLBACK");
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t"), ElementsAre("0"));
}

TEST_F(SessionTest, ValuesCompareAsInSqlite) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES ('5', 5), (6, '6'), (7.0, 'x')");
  EXPECT_THAT(*Query(*s, "SELECT id, typeof(id), name, typeof(name) FROM t"),
              ElementsAre("5|integer|5|text", "6|integer|6|text", "7|integer|x|text"));
  EXPECT_THAT(*Query(*s, "SELECT name FROM t WHERE id = 5.0"), ElementsAre("5"));
  EXPECT_THAT(*Query(*s, "SELECT name FROM t WHERE id = '6'"), ElementsAre("6"));
  ASSERT_SQL_OK(*s, "CREATE TABLE u (k TEXT PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "INSERT INTO u VALUES ('5'), ('10')");
  EXPECT_THAT(*Query(*s, "SELECT k FROM u WHERE k = 5"), ElementsAre("5"));
  EXPECT_THAT(*Query(*s, "SELECT u.k FROM t JOIN u ON u.k = t.id"), ElementsAre("5"));
}

TEST_F(SessionTest, DuplicateKeysFailAndTheStatementLeavesNothing) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'a')");
  absl::StatusOr<std::vector<std::string>> r = Query(*s, "INSERT INTO t VALUES (2, 'b'), (1, 'c')");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kUniqueViolation);
  EXPECT_THAT(r.status().message(), HasSubstr("UNIQUE constraint failed: t.id"));
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|a"));
  // The same inside a transaction: the failed statement is undone, the rest stays.
  ASSERT_SQL_OK(*s, "BEGIN; INSERT INTO t VALUES (3, 'c')");
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (4, 'd'), (1, 'x')"), sqlstate::kUniqueViolation);
  ASSERT_SQL_OK(*s, "COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|a", "3|c"));
}

TEST_F(SessionTest, OnConflictModes) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  ASSERT_SQL_OK(*s, "INSERT OR IGNORE INTO t VALUES (1, 'x'), (3, 'c')");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|a", "2|b", "3|c"));
  ASSERT_SQL_OK(*s, "INSERT OR REPLACE INTO t VALUES (2, 'B')");
  ASSERT_SQL_OK(*s, "REPLACE INTO t VALUES (4, 'd')");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|a", "2|B", "3|c", "4|d"));
  // OR FAIL keeps the rows the statement wrote before the conflict.
  EXPECT_EQ(StateOf(*s, "INSERT OR FAIL INTO t VALUES (5, 'e'), (1, 'x'), (6, 'f')"),
            sqlstate::kUniqueViolation);
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1", "2", "3", "4", "5"));
}

TEST_F(SessionTest, DefaultsNotNullAndChecks) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s,
                "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 7, "
                "s TEXT DEFAULT 'x', c INTEGER CHECK (c > 0))");
  ASSERT_SQL_OK(*s, "INSERT INTO t (id) VALUES (1)");
  ASSERT_SQL_OK(*s, "INSERT INTO t (id, s) VALUES (2, NULL)");
  ASSERT_SQL_OK(*s, "INSERT INTO t (n, c) VALUES (3, 4)");  // id: one above the largest
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|7|x|NULL", "2|7|NULL|NULL", "3|3|x|4"));
  absl::StatusOr<std::vector<std::string>> r = Query(*s, "INSERT INTO t VALUES (9, NULL, 'a', 1)");
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kNotNullViolation) << r.status();
  r = Query(*s, "INSERT INTO t (id, c) VALUES (9, -1)");
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kCheckViolation) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("CHECK constraint failed"));
  r = Query(*s, "UPDATE t SET c = 0 WHERE id = 1");
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kCheckViolation) << r.status();
}

TEST_F(SessionTest, TablesWithoutAPrimaryKeyGetHiddenRowIds) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a, b)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'x'), (1, 'x'), (2, 'y')");
  EXPECT_THAT(*Query(*s, "SELECT a, b FROM t ORDER BY a, b"), ElementsAre("1|x", "1|x", "2|y"));
  EXPECT_THAT(*Query(*s, "SELECT count(DISTINCT rowid) FROM t"), ElementsAre("3"));
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE a = 1");
  EXPECT_THAT(*Query(*s, "SELECT a, b FROM t"), ElementsAre("2|y"));
}

TEST_F(SessionTest, UpdateAndDelete) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)");
  ASSERT_SQL_OK(*s, "UPDATE t SET v = v + 1 WHERE id >= 2");
  ASSERT_SQL_OK(*s, "UPDATE t SET id = 10 WHERE id = 1");  // moves the row to a new key
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("2|21", "3|31", "10|10"));
  EXPECT_EQ(StateOf(*s, "UPDATE t SET id = 3 WHERE id = 2"), sqlstate::kUniqueViolation);
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE v > 25");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("2|21", "10|10"));
}

TEST_F(SessionTest, TransactionsCommitAndRollBack) {
  auto a = NewSession(1);
  auto b = NewSession(2);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*a, "BEGIN; INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')");
  EXPECT_TRUE(a->in_transaction());
  EXPECT_THAT(*Query(*a, "SELECT count(*) FROM t"), ElementsAre("2"));  // its own writes
  ASSERT_SQL_OK(*a, "ROLLBACK");
  EXPECT_THAT(*Query(*b, "SELECT count(*) FROM t"), ElementsAre("0"));
  ASSERT_SQL_OK(*a, "BEGIN; INSERT INTO t VALUES (1, 'a'); COMMIT");
  EXPECT_THAT(*Query(*b, "SELECT * FROM t"), ElementsAre("1|a"));
}

TEST_F(SessionTest, SavepointsUndoTheirWrites) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(
      *s,
      "BEGIN; INSERT INTO t VALUES (1); SAVEPOINT one; INSERT INTO t VALUES (2); "
      "SAVEPOINT two; INSERT INTO t VALUES (3); ROLLBACK TO one; INSERT INTO t VALUES (4); "
      "RELEASE one; COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1", "4"));
}

TEST_F(SessionTest, SchemaChangesReachOtherSessions) {
  auto a = NewSession(1);
  auto b = NewSession(3);
  EXPECT_EQ(StateOf(*b, "SELECT * FROM t"), sqlstate::kUndefinedTable);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*b, "INSERT INTO t VALUES (1)");
  ASSERT_SQL_OK(*a, "DROP TABLE t");
  EXPECT_EQ(StateOf(*b, "SELECT * FROM t"), sqlstate::kUndefinedTable);
  ASSERT_SQL_OK(*b, "CREATE TABLE t (id INTEGER PRIMARY KEY, x)");  // data did not survive
  EXPECT_THAT(*Query(*a, "SELECT count(*) FROM t"), ElementsAre("0"));
  ASSERT_SQL_OK(*a, "DROP TABLE IF EXISTS missing_table");
  ASSERT_SQL_OK(*a, "CREATE TABLE IF NOT EXISTS t (z)");
  EXPECT_EQ(StateOf(*a, "CREATE TABLE T (z)"), sqlstate::kDuplicateTable);
}

TEST_F(SessionTest, ErrorsCarrySqlStates) {
  auto s = NewSession();
  EXPECT_EQ(StateOf(*s, "SELEC 1"), sqlstate::kSyntaxError);
  EXPECT_EQ(StateOf(*s, "SELECT * FROM missing"), sqlstate::kUndefinedTable);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a PRIMARY KEY, b)");
  EXPECT_EQ(StateOf(*s, "SELECT nope FROM t"), sqlstate::kUndefinedColumn);
  EXPECT_EQ(StateOf(*s, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END"),
            sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t DROP COLUMN b"), sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "CREATE TEMP TABLE x (a)"), sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "CREATE INDEX e ON t (a + b)"), sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "CREATE TABLE t2 AS SELECT 1"), sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "ATTACH 'x.db' AS x"), "42501");
  ASSERT_SQL_OK(*s, "BEGIN");
  EXPECT_EQ(StateOf(*s, "CREATE TABLE u (a)"), sqlstate::kFeatureNotSupported);
  ASSERT_SQL_OK(*s, "ROLLBACK");
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (NULL, 1)"), sqlstate::kNotNullViolation);
  // The session is usable after every error.
  EXPECT_THAT(*Query(*s, "SELECT 1 + 1"), ElementsAre("2"));
}

// ALTER TABLE ADD COLUMN rewrites no row: a row written before the column reads its
// missing value (the DEFAULT, as SQLite reads it), and a NULL written afterwards is
// stored explicitly so that it reads NULL, not the default.
TEST_F(SessionTest, AddColumnGivesOldRowsTheDefault) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'x'), (2, NULL)");
  ASSERT_SQL_OK(*s, "ALTER TABLE t ADD COLUMN b INTEGER DEFAULT '7'");  // affinity: 7
  ASSERT_SQL_OK(*s, "ALTER TABLE t ADD c TEXT");                        // no default
  EXPECT_THAT(*Query(*s, "SELECT id, a, b, typeof(b), c FROM t"),
              ElementsAre("1|x|7|integer|NULL", "2|NULL|7|integer|NULL"));
  ASSERT_SQL_OK(*s, "UPDATE t SET b = NULL WHERE id = 1");
  ASSERT_SQL_OK(*s, "UPDATE t SET c = 'z' WHERE id = 2");
  ASSERT_SQL_OK(*s, "INSERT INTO t (id, a) VALUES (3, 'y')");
  ASSERT_SQL_OK(*s, "INSERT INTO t (id, b) VALUES (4, NULL)");
  EXPECT_THAT(*Query(*s, "SELECT id, b, c FROM t"),
              ElementsAre("1|NULL|NULL", "2|7|z", "3|7|NULL", "4|NULL|NULL"));
  // An index built afterwards sees the missing value too.
  ASSERT_SQL_OK(*s, "ALTER TABLE t ADD COLUMN d NOT NULL DEFAULT 'dd'");
  ASSERT_SQL_OK(*s, "CREATE INDEX td ON t (d)");
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE d = 'dd'"), ElementsAre("4"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE b IS NULL"), ElementsAre("1", "4"));
  // On an empty table SQLite allows what it refuses on a table with rows.
  ASSERT_SQL_OK(*s, "CREATE TABLE e (a)");
  ASSERT_SQL_OK(*s, "ALTER TABLE e ADD COLUMN n NOT NULL");
  ASSERT_SQL_OK(*s, "ALTER TABLE e ADD COLUMN ts DEFAULT (1 + 2)");
  ASSERT_SQL_OK(*s, "INSERT INTO e (a, n) VALUES (1, 2)");
  EXPECT_THAT(*Query(*s, "SELECT a, n, ts FROM e"), ElementsAre("1|2|3"));
}

TEST_F(SessionTest, AddColumnFollowsSqlitesRules) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, a)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'x'), (2, 'y')");
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN n NOT NULL"), sqlstate::kNotNullViolation);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN n DEFAULT (1 + 2)"), "42000");
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN p PRIMARY KEY"), "42000");
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN u UNIQUE"), "42000");
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN g AS (id + 1)"), sqlstate::kFeatureNotSupported);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN A INT"), sqlstate::kDuplicateColumn);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE missing ADD COLUMN x"), sqlstate::kUndefinedTable);
  // A CHECK fails on the first row (checked by the shadow), or on a later one.
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN k DEFAULT 0 CHECK (k > id)"),
            sqlstate::kCheckViolation);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t ADD COLUMN k DEFAULT 2 CHECK (k > id)"),
            sqlstate::kCheckViolation);
  absl::StatusOr<std::vector<std::string>> drop = Query(*s, "ALTER TABLE t DROP COLUMN a");
  EXPECT_EQ(SqlStateOf(drop.status()), sqlstate::kFeatureNotSupported);
  EXPECT_THAT(drop.status().message(), HasSubstr("DROP COLUMN"));
  // None of them changed the table.
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|x", "2|y"));
  ASSERT_SQL_OK(*s, "ALTER TABLE t ADD COLUMN k DEFAULT 3 CHECK (k > id)");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|x|3", "2|y|3"));
  EXPECT_EQ(StateOf(*s, "INSERT INTO t (id) VALUES (3)"), sqlstate::kCheckViolation);
}

TEST_F(SessionTest, AlterTableReachesOtherSessionsBeforeTheirNextStatement) {
  auto a = NewSession(1);
  auto b = NewSession(3);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*a, "INSERT INTO t VALUES (1, 'one')");
  EXPECT_THAT(*Query(*b, "SELECT * FROM t"), ElementsAre("1|one"));
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN w DEFAULT 'old'");
  EXPECT_THAT(*Query(*b, "SELECT * FROM t"), ElementsAre("1|one|old"));
  ASSERT_SQL_OK(*b, "ALTER TABLE t RENAME TO u");
  EXPECT_EQ(StateOf(*a, "SELECT * FROM t"), sqlstate::kUndefinedTable);
  ASSERT_SQL_OK(*a, "ALTER TABLE u RENAME COLUMN v TO name");
  EXPECT_THAT(*Query(*b, "SELECT id, name, w FROM u"), ElementsAre("1|one|old"));
  EXPECT_EQ(StateOf(*b, "SELECT v FROM u"), sqlstate::kUndefinedColumn);
  // Inside BEGIN … COMMIT, as every schema change.
  ASSERT_SQL_OK(*b, "BEGIN");
  EXPECT_EQ(StateOf(*b, "ALTER TABLE u ADD COLUMN z"), sqlstate::kFeatureNotSupported);
  ASSERT_SQL_OK(*b, "ROLLBACK");
}

// A view may not be altered, with SQLite's words for each form.
TEST_F(SessionTest, AlterTableOnAViewIsRefusedAsInSqlite) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a)");
  ASSERT_SQL_OK(*s, "CREATE VIEW v AS SELECT a FROM t");
  for (const auto& [sql, message] : std::vector<std::pair<std::string, std::string>>{
           {"ALTER TABLE v ADD COLUMN b", "Cannot add a column to a view"},
           {"ALTER TABLE v RENAME TO w", "view v may not be altered"},
           {"ALTER TABLE v RENAME COLUMN a TO b", "cannot rename columns of view \"v\""}}) {
    absl::StatusOr<std::vector<std::string>> r = Query(*s, sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_THAT(r.status().message(), HasSubstr(message)) << sql;
  }
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM v"), ElementsAre("0"));
}

// RENAME TO moves only the name; RENAME COLUMN only names. What names them (indexes,
// CHECK constraints, views) is rewritten as SQLite rewrites it.
TEST_F(SessionTest, RenameKeepsRowsIndexesViewsAndChecks) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s,
                "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b INTEGER CHECK (b >= 0))");
  ASSERT_SQL_OK(*s, "CREATE INDEX tb ON t (b)");
  ASSERT_SQL_OK(*s, "CREATE VIEW v AS SELECT a, b FROM t WHERE b > 1");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'x', 1), (2, 'y', 2), (3, 'z', 3)");
  ASSERT_SQL_OK(*s, "ALTER TABLE t RENAME TO t2");
  EXPECT_EQ(StateOf(*s, "SELECT * FROM t"), sqlstate::kUndefinedTable);
  EXPECT_THAT(*Query(*s, "SELECT * FROM v"), ElementsAre("y|2", "z|3"));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT id FROM t2 WHERE b = 2"),
              ElementsAre(HasSubstr("INDEX tb (b=?)")));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t2 WHERE b = 2"), ElementsAre("2"));
  EXPECT_EQ(StateOf(*s, "INSERT INTO t2 VALUES (4, 'x', 4)"), sqlstate::kUniqueViolation);
  EXPECT_EQ(StateOf(*s, "INSERT INTO t2 VALUES (4, 'w', -1)"), sqlstate::kCheckViolation);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (z)");  // the old name is free
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t RENAME TO T2"), sqlstate::kDuplicateTable);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t RENAME TO v"), sqlstate::kDuplicateTable);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t RENAME TO tb"), sqlstate::kDuplicateTable);

  ASSERT_SQL_OK(*s, "ALTER TABLE t2 RENAME COLUMN b TO bee");
  EXPECT_EQ(StateOf(*s, "SELECT b FROM t2"), sqlstate::kUndefinedColumn);
  EXPECT_THAT(*Query(*s, "SELECT bee FROM v"), ElementsAre("2", "3"));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT id FROM t2 WHERE bee = 3"),
              ElementsAre(HasSubstr("INDEX tb (bee=?)")));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t2 WHERE bee = 3"), ElementsAre("3"));
  EXPECT_EQ(StateOf(*s, "INSERT INTO t2 (id, a, bee) VALUES (5, 'q', -5)"),
            sqlstate::kCheckViolation);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t2 RENAME COLUMN nope TO x"), sqlstate::kUndefinedColumn);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t2 RENAME COLUMN a TO id"), sqlstate::kDuplicateColumn);
  EXPECT_EQ(StateOf(*s, "ALTER TABLE v RENAME TO w"), "42000");  // a view may not be altered
  // Another session loads the renamed schema whole.
  auto other = NewSession(2);
  EXPECT_THAT(*Query(*other, "SELECT id, a, bee FROM t2 WHERE a = 'z'"), ElementsAre("3|z|3"));
  EXPECT_THAT(*Query(*other, "SELECT * FROM v"), ElementsAre("y|2", "z|3"));
}

TEST_F(SessionTest, AConflictAbortsTheTransactionUntilRollback) {
  auto a = NewSession(1);
  auto b = NewSession(2);
  ASSERT_SQL_OK(*a, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER)");
  ASSERT_SQL_OK(*a, "INSERT INTO acct VALUES (1, 100), (2, 100)");
  // Write skew: each reads both and writes one; serializable lets only one commit.
  ASSERT_SQL_OK(*a, "BEGIN; SELECT sum(bal) FROM acct");
  ASSERT_SQL_OK(*b, "BEGIN; SELECT sum(bal) FROM acct");
  ASSERT_SQL_OK(*a, "UPDATE acct SET bal = bal - 150 WHERE id = 1");
  ASSERT_SQL_OK(*b, "UPDATE acct SET bal = bal - 150 WHERE id = 2");
  const std::string ca = StateOf(*a, "COMMIT");
  const std::string cb = StateOf(*b, "COMMIT");
  EXPECT_TRUE((ca == "00000") != (cb == "00000")) << ca << " " << cb;
  EXPECT_TRUE(ca == sqlstate::kSerializationFailure || cb == sqlstate::kSerializationFailure);
  EXPECT_THAT(*Query(*a, "SELECT sum(bal) FROM acct"), ElementsAre("50"));
  EXPECT_FALSE(a->in_transaction());
  EXPECT_FALSE(b->in_transaction());
}

TEST_F(SessionTest, AnAbortedTransactionRefusesStatementsUntilRollback) {
  auto s = NewSession(1, /*flaky=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 0)");
  ASSERT_SQL_OK(*s, "BEGIN; INSERT INTO t VALUES (2, 0)");
  flaky_->fail = true;  // the key space fails under the transaction
  EXPECT_EQ(StateOf(*s, "SELECT * FROM t WHERE id = 1"), sqlstate::kConnectionFailure);
  flaky_->fail = false;
  EXPECT_TRUE(s->in_transaction());
  EXPECT_EQ(StateOf(*s, "SELECT 1"), sqlstate::kInFailedTransaction);
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (3, 0)"), sqlstate::kInFailedTransaction);
  EXPECT_EQ(StateOf(*s, "SELEC nonsense"), sqlstate::kInFailedTransaction);
  ASSERT_SQL_OK(*s, "ROLLBACK");
  EXPECT_FALSE(s->in_transaction());
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1"));
  // COMMIT of an aborted transaction rolls it back, as in PostgreSQL.
  ASSERT_SQL_OK(*s, "BEGIN; INSERT INTO t VALUES (4, 0)");
  flaky_->fail = true;
  EXPECT_NE(StateOf(*s, "SELECT * FROM t"), "00000");
  flaky_->fail = false;
  ASSERT_SQL_OK(*s, "COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1"));
}

TEST_F(SessionTest, ScansMergeTheSessionsWritesAcrossPages) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
                "INSERT INTO t SELECT i * 2, i FROM n");
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
                "INSERT INTO t SELECT i * 2 + 1, i FROM n");
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE id % 4 = 0");
  EXPECT_THAT(*Query(*s, "SELECT count(*), min(id), max(id) FROM t"), ElementsAre("3750|2|5001"));
  ASSERT_SQL_OK(*s, "COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT count(*), sum(v) FROM t"), ElementsAre("3750|4688750"));
}

TEST_F(SessionTest, SecondaryIndexesAreBackfilledMaintainedAndUsed) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT COLLATE NOCASE)");
  ASSERT_SQL_OK(*s,
                "INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'Y'), (3, 10, NULL), (4, NULL, 'y')");
  ASSERT_SQL_OK(*s, "CREATE INDEX ta ON t (a)");
  ASSERT_SQL_OK(*s, "CREATE INDEX tb ON t (b, a)");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT id FROM t WHERE a = 10"),
              ElementsAre(HasSubstr("INDEX ta (a=?)")));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE a = 10 ORDER BY id"), ElementsAre("1", "3"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE a > 10"), ElementsAre("2"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE b = 'y' ORDER BY id"), ElementsAre("2", "4"));
  // Writes keep every index exact: the same answers with and without it.
  ASSERT_SQL_OK(*s, "UPDATE t SET a = 30 WHERE id = 1");
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE id = 3");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (5, 30, 'z')");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE a = 30 ORDER BY id"), ElementsAre("1", "5"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE +a = 30 ORDER BY id"), ElementsAre("1", "5"));
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE a = 10"), ElementsAre("0"));
  ASSERT_SQL_OK(*s, "DROP INDEX ta");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT id FROM t WHERE a = 10"),
              ElementsAre(HasSubstr("FULL SCAN")));
  ASSERT_SQL_OK(*s, "CREATE INDEX IF NOT EXISTS tb ON t (b)");
  EXPECT_EQ(StateOf(*s, "CREATE INDEX tb ON t (b)"), sqlstate::kDuplicateTable);
  EXPECT_EQ(StateOf(*s, "CREATE INDEX p ON t (a) WHERE a > 0"), sqlstate::kFeatureNotSupported);
}

TEST_F(SessionTest, UniqueConstraintsAndIndexes) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE, n INTEGER)");
  ASSERT_SQL_OK(
      *s, "INSERT INTO t VALUES (1, 'a@x', 1), (2, NULL, 2), (3, NULL, 3)");  // NULLs are distinct
  absl::StatusOr<std::vector<std::string>> r = Query(*s, "INSERT INTO t VALUES (4, 'a@x', 4)");
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kUniqueViolation);
  EXPECT_THAT(r.status().message(), HasSubstr("UNIQUE constraint failed: t.email"));
  EXPECT_EQ(StateOf(*s, "UPDATE t SET email = 'a@x' WHERE id = 2"), sqlstate::kUniqueViolation);
  ASSERT_SQL_OK(*s, "UPDATE t SET email = 'a@x', n = 10 WHERE id = 1");  // its own value
  // OR REPLACE removes the row in the way, with its index entries.
  ASSERT_SQL_OK(*s, "INSERT OR REPLACE INTO t VALUES (5, 'a@x', 5)");
  EXPECT_THAT(*Query(*s, "SELECT id, email FROM t ORDER BY id"),
              ElementsAre("2|NULL", "3|NULL", "5|a@x"));
  EXPECT_THAT(*Query(*s, "SELECT id FROM t WHERE email = 'a@x'"), ElementsAre("5"));
  // A unique index over duplicates fails and leaves nothing behind.
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (6, 'b@x', 5)"), "00000");
  EXPECT_EQ(StateOf(*s, "CREATE UNIQUE INDEX tn ON t (n)"), sqlstate::kUniqueViolation);
  EXPECT_EQ(StateOf(*s, "DROP INDEX tn"), sqlstate::kUndefinedObject);
  ASSERT_SQL_OK(*s, "UPDATE t SET n = 6 WHERE id = 6");
  ASSERT_SQL_OK(*s, "CREATE UNIQUE INDEX tn ON t (n)");
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (7, 'c@x', 6)"), sqlstate::kUniqueViolation);
}

TEST_F(SessionTest, ViewsAreSharedLikeTables) {
  auto a = NewSession(1);
  auto b = NewSession(2);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
  ASSERT_SQL_OK(*a, "INSERT INTO t VALUES (1, 5), (2, 50)");
  ASSERT_SQL_OK(*a, "CREATE VIEW big AS SELECT id FROM t WHERE v > 10");
  EXPECT_THAT(*Query(*b, "SELECT * FROM big"), ElementsAre("2"));
  EXPECT_EQ(StateOf(*b, "CREATE VIEW big AS SELECT 1"), "42P07");
  ASSERT_SQL_OK(*b, "DROP VIEW big");
  EXPECT_EQ(StateOf(*a, "SELECT * FROM big"), sqlstate::kUndefinedTable);
}

// Review finding 1: SQLite rolls back the whole transaction when a write statement
// is interrupted; the session must not then run the next statements on their own.
TEST_F(SessionTest, AnInterruptedWriteAbortsTheExplicitTransaction) {
  auto a = NewSession(1, false, /*hooked=*/true);
  auto b = NewSession(2);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*a, "BEGIN; INSERT INTO t VALUES (1)");
  std::atomic<bool> armed{true};
  hooked_->before = [&](const kvpb::BatchRequest&) {
    if (armed.exchange(false)) a->Interrupt();
  };
  EXPECT_EQ(StateOf(*a,
                    "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
                    "INSERT INTO t SELECT i FROM n"),
            sqlstate::kQueryCanceled);
  EXPECT_EQ(StateOf(*a, "INSERT INTO t VALUES (100)"), sqlstate::kInFailedTransaction);
  ASSERT_SQL_OK(*a, "ROLLBACK");
  EXPECT_THAT(*Query(*b, "SELECT id FROM t"), IsEmpty());
}

// Review finding 3: AUTOINCREMENT makes SQLite keep sqlite_sequence in the shadow
// schema, which must not stop the schema from loading.
TEST_F(SessionTest, AutoincrementTablesLoad) {
  auto a = NewSession(1);
  auto b = NewSession(2);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v)");
  EXPECT_THAT(*Query(*a, "SELECT 1"), ElementsAre("1"));
  ASSERT_SQL_OK(*b, "INSERT INTO t (v) VALUES (1)");
  ASSERT_SQL_OK(*b, "CREATE TABLE u (x)");
  EXPECT_THAT(*Query(*b, "SELECT id, v FROM t"), ElementsAre("1|1"));
  EXPECT_THAT(*Query(*a, "SELECT count(*) FROM u"), ElementsAre("0"));
}

// Review finding 5: the columns an INSERT names decide the defaults, WITH or not.
TEST_F(SessionTest, InsertAfterWithTakesDefaults) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v DEFAULT 7, w NOT NULL DEFAULT 'w')");
  ASSERT_SQL_OK(*s, "WITH x(i) AS (SELECT 1), y AS (SELECT 2) INSERT INTO t(id) SELECT i FROM x");
  EXPECT_THAT(*Query(*s, "SELECT * FROM t"), ElementsAre("1|7|w"));
}

// Review finding 6: an autocommit OR FAIL statement whose commit fails must report
// the commit's failure, not only the constraint (its earlier rows are not kept).
TEST_F(SessionTest, AFailedCommitOfAnOrFailStatementIsReported) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'a')");
  hooked_->fail = [](const kvpb::BatchRequest& batch) { return HasEndTxn(batch); };
  const std::string state = StateOf(*s, "INSERT OR FAIL INTO t VALUES (5, 'e'), (1, 'x')");
  hooked_->fail = nullptr;
  EXPECT_NE(state, sqlstate::kUniqueViolation);
  EXPECT_NE(state, "00000");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1"));
}

// Review finding 10: values and keys over the KV limits fail the statement (54000),
// not the commit, and a lookup of a key too long to exist finds nothing.
TEST_F(SessionTest, OversizedValuesFailTheStatementNotTheTransaction) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX ts ON t (s)");
  ASSERT_SQL_OK(*s, "BEGIN; INSERT INTO t VALUES (1, 'a')");
  EXPECT_EQ(StateOf(*s, "INSERT INTO t VALUES (2, hex(randomblob(5000)))"),
            sqlstate::kProgramLimitExceeded);
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE s = hex(zeroblob(6000))"), ElementsAre("0"));
  ASSERT_SQL_OK(*s, "COMMIT");
  EXPECT_THAT(*Query(*s, "SELECT id FROM t"), ElementsAre("1"));
}

// Review finding 11: a key plan that may widen to a scan must not tell SQLite it
// returns at most one row.
TEST_F(SessionTest, ATextKeyComparedWithANumberMayMatchManyRows) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k TEXT PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "CREATE TABLE n (i INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES ('5'), ('05'), ('x'); INSERT INTO n VALUES (5)");
  EXPECT_THAT(*Query(*s, "SELECT n.i, t.k FROM n LEFT JOIN t ON t.k = n.i ORDER BY t.k"),
              ElementsAre("5|05", "5|5"));
}

// Review finding 9: a cancel reaches a schema change's backfill too.
TEST_F(SessionTest, ACancelStopsAnIndexBackfill) {
  auto s = NewSession(1, false, /*hooked=*/true);
  EXPECT_EQ(CreateIndexInterruptedInItsBackfill(*s, InterruptReason::kCancel),
            sqlstate::kQueryCanceled);
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT id FROM t WHERE v = 3"),
              ElementsAre(HasSubstr("FULL SCAN")));
}

// Review of the resumable index builds (finding 3): a node that drains interrupts its
// sessions as a shutdown, and a CREATE INDEX then leaves its build, claim released, to
// the next sweep (57P01) instead of removing the index as a cancel does.
TEST_F(SessionTest, AShutdownLeavesAnIndexBuildToTheNextSweep) {
  auto s = NewSession(1, false, /*hooked=*/true);
  EXPECT_EQ(CreateIndexInterruptedInItsBackfill(*s, InterruptReason::kShutdown),
            sqlstate::kAdminShutdown);
  auto other = NewSession(2);
  EXPECT_THAT(*Query(*other, "SELECT state FROM rangedb_indexes WHERE index_name = 'tv'"),
              ElementsAre("BACKFILL"));
  // The claim is released: a sweep at the same moment takes the build over.
  senders_.push_back(std::make_unique<ranges::LocalSender>(gateways_[3].get()));
  absl::StatusOr<ResumedIndexBuilds> resumed =
      ResumeAbandonedIndexBuilds(senders_.back().get(), txn::TxnOptions{},
                                 NewIndexBuilder(3, nullptr), absl::Milliseconds(500));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->published, 1);
  EXPECT_THAT(*Query(*other, "SELECT state FROM rangedb_indexes WHERE index_name = 'tv'"),
              ElementsAre("PUBLIC"));
  EXPECT_THAT(*Query(*other, "SELECT id FROM t WHERE v = 700"), ElementsAre("700"));
}

TEST_F(SessionTest, SyntaxErrorsSayWhere) {
  auto s = NewSession();
  const std::string sql = "SELECT 1 FRM nowhere";  // FRM is an alias: "nowhere" is the error
  const absl::Status status = Query(*s, sql).status();
  EXPECT_EQ(SqlStateOf(status), sqlstate::kSyntaxError);
  const int position = PositionOf(status);
  ASSERT_GT(position, 0) << status;
  EXPECT_EQ(sql.substr(position - 1, 7), "nowhere");
  const std::string ddl = "CREATE TABLE t (a INTEGR PRIMARY KEY,,)";
  const int ddl_position = PositionOf(Query(*s, ddl).status());
  ASSERT_GT(ddl_position, 0);
  EXPECT_EQ(ddl.substr(ddl_position - 1), ",)");
}

TEST_F(SessionTest, ReindexChecksItsTargetAndChangesNothing) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v); CREATE INDEX tv ON t (v)");
  ASSERT_SQL_OK(*s, "REINDEX tv; REINDEX t; REINDEX");
  EXPECT_EQ(StateOf(*s, "REINDEX nothing_here"), "42000");
}

// The concurrent schema change of issue 16: CREATE INDEX while writers insert and
// update. Afterwards every row is in the index exactly once, and scans through the
// index agree with scans of the table (docs/design/sql.md "Online index builds").
TEST_F(SessionTest, CreateIndexWhileWritersInsertAndUpdate) {
  auto admin = NewSession(1);
  ASSERT_SQL_OK(*admin, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, w TEXT)");
  ASSERT_SQL_OK(*admin,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "
                "INSERT INTO t SELECT i, i % 17, 'x' FROM n");
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::vector<std::thread> writers;
  for (uint64_t node : {2, 3}) {
    std::unique_ptr<Session> session = NewSession(node);
    writers.emplace_back([&, node, s = std::shared_ptr<Session>(std::move(session))] {
      for (int i = 0; !stop.load(); ++i) {
        const int64_t id = 1000 * static_cast<int64_t>(node) + i;
        std::string sql = i % 2 == 0
                              ? absl::StrCat("INSERT INTO t VALUES (", id, ", ", i % 17, ", 'n')")
                              : absl::StrCat("UPDATE t SET v = v + 1 WHERE id = ", 1 + i % 300);
        if (Query(*s, sql).ok()) writes.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  std::string state;
  for (int attempt = 0; attempt < 30; ++attempt) {  // the builder retries as a client would
    state = StateOf(*admin, "CREATE INDEX tv ON t (v)");
    if (state != sqlstate::kSerializationFailure) break;
  }
  // Some writes after the index exists.
  const int before = writes.load();
  while (writes.load() < before + 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(state, "00000");
  EXPECT_THAT(*Query(*admin, "EXPLAIN QUERY PLAN SELECT id FROM t WHERE v = 3"),
              ElementsAre(HasSubstr("INDEX tv (v=?)")));
  // Every value of v: the rows the index finds are exactly the rows a scan finds.
  for (int v = 0; v < 40; ++v) {
    EXPECT_EQ(*Query(*admin, absl::StrCat("SELECT id FROM t WHERE v = ", v, " ORDER BY id")),
              *Query(*admin, absl::StrCat("SELECT id FROM t WHERE +v = ", v, " ORDER BY id")))
        << "v = " << v;
  }
  EXPECT_EQ(*Query(*admin, "SELECT count(*) FROM t WHERE v >= 0"),
            *Query(*admin, "SELECT count(*) FROM t"));
  EXPECT_GE(writes.load(), 20);
}

TEST_F(SessionTest, ParametersBindByPositionAndName) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_TRUE(
      Query(*s, "INSERT INTO t VALUES (?, ?)", {{"", int64_t{1}}, {"", std::string("a")}}).ok());
  ASSERT_TRUE(
      Query(*s, "INSERT INTO t VALUES (:id, :v)", {{":v", std::string("b")}, {":id", int64_t{2}}})
          .ok());
  EXPECT_THAT(*Query(*s, "SELECT v FROM t WHERE id = ?", {{"", int64_t{2}}}), ElementsAre("b"));
  EXPECT_THAT(*Query(*s, "SELECT * FROM t WHERE id = 99"), IsEmpty());
}

// A statement run again comes from the session's statement cache: it takes its new
// parameters (an unbound one reads NULL again), and transaction and savepoint
// statements, which the session acts on, still act every time.
TEST_F(SessionTest, AStatementRunAgainTakesItsNewParametersAndActsAgain) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  const std::string select = "SELECT v FROM t WHERE id = ?";
  EXPECT_THAT(*Query(*s, select, {{"", int64_t{1}}}), ElementsAre("a"));
  EXPECT_THAT(*Query(*s, select, {{"", int64_t{2}}}), ElementsAre("b"));
  EXPECT_THAT(*Query(*s, select), IsEmpty());
  EXPECT_THAT(*Query(*s, "SELECT :a, :b", {{":a", int64_t{1}}, {":b", int64_t{2}}}),
              ElementsAre("1|2"));
  EXPECT_THAT(*Query(*s, "SELECT :a, :b", {{":a", int64_t{3}}}), ElementsAre("3|NULL"));
  for (int round = 0; round < 2; ++round) {
    ASSERT_SQL_OK(*s, "BEGIN");
    ASSERT_SQL_OK(*s, "SAVEPOINT p");
    ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (3, 'c')");
    ASSERT_SQL_OK(*s, "ROLLBACK TO p");
    ASSERT_SQL_OK(*s, "UPDATE t SET v = v || 'x' WHERE id = 1");
    ASSERT_SQL_OK(*s, "ROLLBACK");
    EXPECT_THAT(*Query(*s, "SELECT v FROM t ORDER BY id"), ElementsAre("a", "b"));
  }
}

// Review of d398cd2/09f1b00. SQLite takes the collation of a PRIMARY KEY clause
// (PRIMARY KEY (a COLLATE NOCASE)) for the key's uniqueness and order; the
// descriptor keeps only the column's collation (BINARY), so 'A' and 'a' both go in
// and the key order (which ORDER BY consumption trusts) is the wrong one.
TEST_F(SessionTest, PrimaryKeyCollateClauseDecidesUniqueness) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE pk (a TEXT, b, PRIMARY KEY (a COLLATE NOCASE))");
  ASSERT_SQL_OK(*s, "INSERT INTO pk VALUES ('A', 1)");
  EXPECT_EQ(StateOf(*s, "INSERT INTO pk VALUES ('a', 2)"), sqlstate::kUniqueViolation);
  ASSERT_SQL_OK(*s, "CREATE TABLE pw (a TEXT, b, PRIMARY KEY (a COLLATE NOCASE)) WITHOUT ROWID");
  ASSERT_SQL_OK(*s, "INSERT INTO pw VALUES ('b', 1), ('C', 2), ('a', 3)");
  EXPECT_EQ(StateOf(*s, "INSERT INTO pw VALUES ('B', 4)"), sqlstate::kUniqueViolation);
  // As plain SQLite 3.40 answers.
  EXPECT_THAT(*Query(*s, "SELECT a FROM pw ORDER BY a"), ElementsAre("C", "a", "b"));
  EXPECT_THAT(*Query(*s, "SELECT a FROM pw ORDER BY a COLLATE NOCASE DESC"),
              ElementsAre("C", "b", "a"));
}

// Review of 09f1b00: the LIMIT shortcut in CostOrder charges an ordered plan for
// LIMIT rows only, even when a WHERE term the plan cannot use filters them. With
// no row passing the filter, the ordered index scan reads every index entry and
// every row through it, instead of one scan of the table and a sort.
TEST_F(SessionTest, AnOrderedScanWithLimitIsNotChosenBlindToAResidualFilter) {
  auto s = NewSession(1, /*flaky=*/false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, g TEXT, v)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_g ON t (g)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
                "INSERT INTO t SELECT i, printf('g%05d', i), i FROM c");
  auto batches_of = [&](const char* sql) {
    std::atomic<int> batches{0};
    hooked_->before = [&](const kvpb::BatchRequest&) { ++batches; };
    auto r = Query(*s, sql);
    hooked_->before = nullptr;
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_THAT(*r, IsEmpty());
    return batches.load();
  };
  const int sorted = batches_of("SELECT k FROM t WHERE v = 'absent' ORDER BY g DESC");
  const int limited = batches_of("SELECT k FROM t WHERE v = 'absent' ORDER BY g DESC LIMIT 3");
  EXPECT_THAT(*Query(*s,
                     "EXPLAIN QUERY PLAN SELECT k FROM t WHERE v = 'absent' ORDER BY g DESC "
                     "LIMIT 3"),
              Not(Contains(HasSubstr("INDEX t_g ORDER DESC"))));
  EXPECT_LE(limited, sorted) << "LIMIT made the query read " << limited << " batches, not "
                             << sorted;
}

// Review of d398cd2 (passes): a writer whose transaction began before ADD COLUMN on
// an empty table (no missing value, so a row without the column would read NULL,
// and NOT NULL would not hold) cannot commit after it: its refresh of the version
// key fails.
TEST_F(SessionTest, AWriterFromBeforeAddColumnOnAnEmptyTableRestarts) {
  auto a = NewSession(1);
  auto b = NewSession(3);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*b, "BEGIN");
  ASSERT_SQL_OK(*b, "INSERT INTO t VALUES (1, 'x')");
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN n NOT NULL DEFAULT 5");
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN m NOT NULL");
  EXPECT_EQ(StateOf(*b, "COMMIT"), sqlstate::kSerializationFailure);
  EXPECT_THAT(*Query(*a, "SELECT count(*) FROM t"), ElementsAre("0"));
}

// docs/design/sql-point-path.md: under a loaded schema, an autocommit statement reads
// the catalog version in its first KV batch, not in a batch of its own.
TEST_F(SessionTest, APointStatementCarriesTheSchemaVersionInItsFirstBatch) {
  auto s = NewSession(1, /*flaky=*/false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1, 'one')");
  std::vector<std::vector<std::string>> batches;  // the keys each batch gets
  hooked_->before = [&](const kvpb::BatchRequest& batch) {
    std::vector<std::string> gets;
    for (const auto& r : batch.requests()) {
      if (r.has_get()) gets.push_back(r.get().key() == CatalogVersionKey() ? "version" : "row");
    }
    batches.push_back(gets);
  };
  EXPECT_THAT(*Query(*s, "SELECT v FROM t WHERE k = 1"), ElementsAre("one"));
  EXPECT_THAT(batches, ElementsAre(ElementsAre("version", "row")));
  batches.clear();
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (2, 'two')");  // the key is free; the commit
  EXPECT_THAT(batches, ElementsAre(ElementsAre("version", "row"), IsEmpty()));
  batches.clear();
  ASSERT_SQL_OK(*s, "UPDATE t SET v = 'uno' WHERE k = 1");
  EXPECT_THAT(batches, ElementsAre(ElementsAre("version", "row"), IsEmpty()));
  // BEGIN reads the version first, so the statements after it run checked.
  batches.clear();
  ASSERT_SQL_OK(*s, "BEGIN");
  EXPECT_THAT(batches, ElementsAre(ElementsAre("version")));
  ASSERT_SQL_OK(*s, "ROLLBACK");
}

// A statement prepared under a schema another session has changed since runs again
// under the new one, whatever it did first: read a row, failed, or produced rows not
// read from the key space.
TEST_F(SessionTest, AStatementPreparedUnderAnOldSchemaRunsAgainUnderTheNewOne) {
  auto a = NewSession(1);
  auto b = NewSession(3);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*a, "INSERT INTO t VALUES (1, 'one')");
  EXPECT_THAT(*Query(*b, "SELECT v FROM t WHERE k = 1"), ElementsAre("one"));
  // A point read: the row must be decoded under the new columns.
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN w DEFAULT 'w'");
  EXPECT_THAT(*Query(*b, "SELECT * FROM t WHERE k = 1"), ElementsAre("1|one|w"));
  // A statement that fails under the old schema (no table u there).
  ASSERT_SQL_OK(*a, "CREATE TABLE u (x)");
  ASSERT_SQL_OK(*a, "INSERT INTO u VALUES (7)");
  EXPECT_THAT(*Query(*b, "SELECT x FROM u"), ElementsAre("7"));
  // Rows not read from the key space.
  ASSERT_SQL_OK(*a, "CREATE TABLE z (y)");
  EXPECT_THAT(*Query(*b, "SELECT name FROM rangedb_tables ORDER BY name"),
              ElementsAre("t", "u", "z"));
  // A write: it must reach the index added since b last looked.
  ASSERT_SQL_OK(*a, "CREATE INDEX t_v ON t (v)");
  ASSERT_SQL_OK(*b, "INSERT INTO t VALUES (2, 'two', 'x')");
  EXPECT_THAT(*Query(*a, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE v = 'two'"),
              Contains(HasSubstr("INDEX t_v")));
  EXPECT_THAT(*Query(*a, "SELECT k FROM t WHERE v = 'two'"), ElementsAre("2"));
  // A write that fails under the old schema (SQLite rolls it back at once).
  ASSERT_SQL_OK(*a, "CREATE TABLE n (k INTEGER PRIMARY KEY, v NOT NULL)");
  EXPECT_EQ(StateOf(*b, "INSERT INTO n VALUES (1, NULL)"), sqlstate::kNotNullViolation);
  ASSERT_SQL_OK(*a, "DROP TABLE n");
  ASSERT_SQL_OK(*a, "CREATE TABLE n (k INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*b, "INSERT INTO n VALUES (1, NULL)");
  // A write with no read before its commit (a table without a primary key).
  ASSERT_SQL_OK(*a, "CREATE INDEX z_y ON z (y)");
  ASSERT_SQL_OK(*b, "INSERT INTO z VALUES (42)");
  EXPECT_THAT(*Query(*a, "SELECT y FROM z WHERE y = 42"), ElementsAre("42"));
}

// docs/sql.md "Planning": what the key space sees of a query, batch by batch. The
// hooked sender counts batches and their Gets while `counting` is set.
struct ReadCounter {
  void Attach(HookedSender* sender) {
    sender->before = [this](const kvpb::BatchRequest& batch) {
      if (!counting) return;
      ++batches;
      int n = 0;
      for (const auto& r : batch.requests()) n += r.has_get() ? 1 : 0;
      gets += n;
      get_batches += n > 0 ? 1 : 0;
    };
  }
  void Start() {
    batches = 0;
    gets = 0;
    get_batches = 0;
    counting = true;
  }
  std::atomic<bool> counting{false};
  std::atomic<int> batches{0};
  std::atomic<int> gets{0};
  std::atomic<int> get_batches{0};  // batches with a Get
};

// An IN list on a unique key is read whole: one GetMany of its distinct keys (64 to a
// round trip), not a point read per value (SQLite's one xFilter call per value).
TEST_F(SessionTest, InListsOnAUniqueKeyAreReadInOneBatch) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, code TEXT, v INTEGER)");
  ASSERT_SQL_OK(*s, "CREATE UNIQUE INDEX t_code ON t (code)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO t SELECT i, 'c' || i, i % 10 FROM c");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE k IN (1, 2, 3)"),
              ElementsAre(HasSubstr("INDEX 16777217:PRIMARY KEY (k IN ?)")));
  // The keys are sorted: SQLite need not sort (no USE TEMP B-TREE line).
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE k IN (3, 1) ORDER BY k DESC"),
              ElementsAre(HasSubstr("PRIMARY KEY (k IN ?) ORDER DESC")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE code IN ('c1', 'c2')"),
              ElementsAre(HasSubstr("INDEX t_code (code IN ?)")));
  // Not a point read: a scan of each value's span.
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE v IN (1, 2)"),
              ElementsAre(HasSubstr("INDEX t_v (v IN ?)")));

  ReadCounter reads;
  reads.Attach(hooked_.get());
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "SELECT v FROM t WHERE k = 1");  // the transaction's first read
  // 20 rows, 21 distinct keys (a duplicate, a NULL, a key without a row).
  std::string list = "5, 5, NULL, 1000";
  std::vector<std::string> expected;
  for (int k = 20; k >= 1; --k) {
    absl::StrAppend(&list, ", ", k);
    expected.push_back(absl::StrCat(k));
  }
  reads.Start();
  EXPECT_EQ(*Query(*s, absl::StrCat("SELECT k FROM t WHERE k IN (", list, ") ORDER BY k DESC")),
            expected);
  EXPECT_EQ(reads.batches, 1);
  EXPECT_EQ(reads.gets, 21);
  // 100 keys: a page of 64, then the rest.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE k IN (SELECT k * 3 FROM t WHERE k <= 100)"),
              ElementsAre("100"));
  EXPECT_EQ(reads.get_batches, 2);
  EXPECT_EQ(reads.gets, 100);
  // A unique index: the entries, then the rows they point at (v is not in the index).
  reads.Start();
  EXPECT_THAT(
      *Query(*s, "SELECT k, v FROM t WHERE code IN ('c9', 'c7', 'none', 'c8') ORDER BY code"),
      ElementsAre("7|7", "8|8", "9|9"));
  EXPECT_EQ(reads.batches, 2);
  EXPECT_EQ(reads.gets, 4 + 3);
  reads.counting = false;
  ASSERT_SQL_OK(*s, "COMMIT");
}

// IS NULL fixes an index column (NULL has one key); on a primary-key column, which
// holds no NULL, it reads an empty span.
TEST_F(SessionTest, IsNullIsPushedIntoIndexes) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, a INTEGER, b TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_a ON t (a)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_ba ON t (b, a)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) "
                "INSERT INTO t SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE i END, "
                "CASE WHEN i % 100 = 0 THEN NULL ELSE 'b' END FROM c");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE a IS NULL"),
              ElementsAre(HasSubstr("INDEX 134283265:INDEX t_a (a IS NULL)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE b IS NULL AND a IS NULL"),
              ElementsAre(HasSubstr("INDEX t_ba (b IS NULL, a IS NULL)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE b = 'b' AND a IS NULL"),
              ElementsAre(HasSubstr("(b=?, a IS NULL)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE k IS NULL"),
              ElementsAre(HasSubstr("PRIMARY KEY (k IS NULL)")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE a IS NOT NULL"),
              ElementsAre(Not(HasSubstr("NULL"))));

  ReadCounter reads;
  reads.Attach(hooked_.get());
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "SELECT a FROM t WHERE k = 1");
  // Four entries scanned, so four rows read (for b, not in t_a): not the 200 of a
  // full scan.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k, b FROM t WHERE a IS NULL ORDER BY k"),
              ElementsAre("50|b", "100|NULL", "150|b", "200|NULL"));
  EXPECT_EQ(reads.gets, 4);
  // t_ba holds every column of t: two entries, no row read (index-only).
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE b IS NULL AND a IS NULL ORDER BY k"),
              ElementsAre("100", "200"));
  EXPECT_EQ(reads.gets, 0);
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM t WHERE k IS NULL"), ElementsAre("0"));
  reads.counting = false;
  ASSERT_SQL_OK(*s, "COMMIT");
}

// LIKE with a literal prefix on a NOCASE TEXT key, GLOB on a BINARY one, narrow the
// span; other columns, collations and patterns do not (vtab_pattern.h).
TEST_F(SessionTest, LikeAndGlobPrefixesNarrowTextKeys) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, nc TEXT COLLATE NOCASE, bn TEXT, u)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_nc ON t (nc)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_bn ON t (bn)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_u ON t (u)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) "
                "INSERT INTO t SELECT i, printf('w%03d', i), printf('w%03d', i), "
                "printf('w%03d', i) FROM c");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (201, 'AbC', 'AbC', 'AbC'), (202, 'abd', 'abd', 12)");
  ASSERT_SQL_OK(*s, "CREATE TABLE p (id INTEGER PRIMARY KEY, pat TEXT)");
  ASSERT_SQL_OK(*s, "INSERT INTO p VALUES (1, 'ab%'), (2, 'W19_')");
  auto plan = [&](const std::string& where) {
    absl::StatusOr<std::vector<std::string>> rows =
        Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE " + where);
    EXPECT_TRUE(rows.ok()) << where << ": " << rows.status();
    return rows.ok() && rows->size() == 1 ? (*rows)[0] : std::string("?");
  };
  // SQLite 3.40 adds the bounds of its own LIKE optimization (nc >= 'AB' AND nc < 'ac')
  // when it knows the pattern; the pattern narrows within them.
  EXPECT_THAT(plan("nc LIKE 'ab%'"), HasSubstr("INDEX t_nc (nc>=?, nc<?, nc LIKE ?)"));
  EXPECT_THAT(plan("bn GLOB 'ab*'"), HasSubstr("INDEX t_bn (bn>=?, bn<?, bn GLOB ?)"));
  EXPECT_THAT(plan("nc LIKE 'ab%' ORDER BY nc DESC"), HasSubstr("nc LIKE ?) ORDER DESC"));
  // A bound parameter too: SQLite prepares the statement again for its value.
  EXPECT_THAT(
      *Query(*s, "EXPLAIN QUERY PLAN SELECT k FROM t WHERE nc LIKE ?1", {{"", std::string("ab%")}}),
      ElementsAre(HasSubstr("INDEX 75264:INDEX t_nc (nc>=?, nc<?, nc LIKE ?)")));
  // LIKE is case-insensitive, the BINARY key is not; GLOB is case-sensitive, the
  // NOCASE key is not; the untyped column may hold numbers; a leading wildcard has
  // no prefix; ESCAPE is not offered to virtual tables.
  for (const char* where : {"bn LIKE 'ab%'", "nc GLOB 'ab*'", "u LIKE 'ab%'", "u GLOB 'ab*'",
                            "nc LIKE '%b'", "bn GLOB '?b*'", "nc LIKE 'a\\%' ESCAPE '\\'"}) {
    EXPECT_THAT(plan(where), Not(AnyOf(HasSubstr("LIKE ?"), HasSubstr("GLOB ?")))) << where;
  }

  ReadCounter reads;
  reads.Attach(hooked_.get());
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "SELECT nc FROM t WHERE k = 1");
  // The span holds the matches only: as many rows read as returned.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE nc LIKE 'ab%' ORDER BY k"),
              ElementsAre("201", "202"));
  EXPECT_EQ(reads.gets, 2);
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k, u FROM t WHERE bn GLOB 'w19*' ORDER BY k DESC"),
              ElementsAre("199|w199", "198|w198", "197|w197", "196|w196", "195|w195", "194|w194",
                          "193|w193", "192|w192", "191|w191", "190|w190"));
  EXPECT_EQ(reads.gets, 10);
  // Patterns that SQLite knows only row by row: the LIKE alone narrows.
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT t.k FROM p CROSS JOIN t ON t.nc LIKE p.pat"),
              ElementsAre(HasSubstr("FULL SCAN"), HasSubstr("INDEX t_nc (nc LIKE ?)")));
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT t.k FROM p CROSS JOIN t ON t.nc LIKE p.pat ORDER BY t.k"),
              ElementsAre("190", "191", "192", "193", "194", "195", "196", "197", "198", "199",
                          "201", "202"));
  EXPECT_EQ(reads.gets, 12);
  reads.counting = false;
  // Patterns from parameters: one with a prefix, one without (the span stays whole).
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE nc LIKE ?1", {{"", std::string("AB%")}}),
              ElementsAre("201", "202"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE nc LIKE ?1", {{"", std::string("%bC")}}),
              ElementsAre("201"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE nc LIKE ?1", {{"", int64_t{12}}}), IsEmpty());
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE u LIKE ?1", {{"", int64_t{12}}}),
              ElementsAre("202"));
  ASSERT_SQL_OK(*s, "COMMIT");
}

// Review of the version check (finding 1): a statement that runs again under a new
// schema sends its columns once, the new ones, also without rows and when it fails.
TEST_F(SessionTest, AStatementThatRunsAgainSendsItsColumnsOnce) {
  class RecordingSink final : public RowSink {
   public:
    absl::Status Columns(const std::vector<ColumnInfo>& columns) override {
      std::vector<std::string> names;
      for (const ColumnInfo& c : columns) names.push_back(c.name);
      calls.push_back(absl::StrJoin(names, ","));
      return absl::OkStatus();
    }
    absl::Status Row(std::vector<::rangedb::sql::Value>) override {
      calls.push_back("row");
      return absl::OkStatus();
    }
    std::vector<std::string> calls;
  };
  auto a = NewSession(1);
  auto b = NewSession(3);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (k INTEGER PRIMARY KEY, v)");
  ASSERT_SQL_OK(*a, "INSERT INTO t VALUES (1, 'one')");
  EXPECT_THAT(*Query(*b, "SELECT * FROM t WHERE k = 1"), ElementsAre("1|one"));
  auto run = [&](absl::string_view sql) {
    RecordingSink sink;
    (void)b->ExecuteNext(&sql, {}, &sink);
    return sink.calls;
  };
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN w DEFAULT 'w'");
  EXPECT_THAT(run("SELECT * FROM t WHERE k = 1"), ElementsAre("k,v,w", "row"));
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN x");
  EXPECT_THAT(run("SELECT * FROM t WHERE k = 2"), ElementsAre("k,v,w,x"));
  ASSERT_SQL_OK(*a, "ALTER TABLE t ADD COLUMN y");
  EXPECT_THAT(run("SELECT *, abs(-9223372036854775807 - 1) FROM t WHERE k = 1"),
              ElementsAre("k,v,w,x,y,abs(-9223372036854775807 - 1)"));
}

// Review of the version check (finding 2): a cancelled statement under a stale
// schema reports the cancel (57014), not a 40001 that invites running it again, and
// reads no version after the cancel.
TEST_F(SessionTest, ACancelUnderAStaleSchemaStaysACancel) {
  auto a = NewSession(1);
  auto b = NewSession(3, /*flaky=*/false, /*hooked=*/true);
  ASSERT_SQL_OK(*a, "CREATE TABLE t (k INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*b, "SELECT * FROM t");
  ASSERT_SQL_OK(*a, "CREATE TABLE u (k INTEGER PRIMARY KEY)");
  std::atomic<int> batches{0};
  hooked_->before = [&](const kvpb::BatchRequest&) { batches.fetch_add(1); };
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    b->Interrupt();
  });
  // Never touches the key space; runs until cancelled.
  EXPECT_EQ(StateOf(*b,
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                    "SELECT count(*) FROM c"),
            sqlstate::kQueryCanceled);
  canceller.join();
  EXPECT_EQ(batches.load(), 0);
}

// Issue 16: a secondary-index plan whose entries hold every used column exactly is
// index-only: it reads the entries and no rows (no Gets). A NOCASE key, an untyped
// column or a column outside the index still reads the rows.
TEST_F(SessionTest, CoveredQueriesReadNoRows) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s,
                "CREATE TABLE t (k INTEGER PRIMARY KEY, a INTEGER, b TEXT, r REAL, "
                "n TEXT COLLATE NOCASE, u, w TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_ab ON t (a, b)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_r ON t (r)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_n ON t (n)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_u ON t (u)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO t SELECT i, i % 10, 'b' || i, i, 'N' || i, i, 'w' || i FROM c");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT k, b FROM t WHERE a = 3"),
              ElementsAre(HasSubstr("INDEX t_ab (a=?) COVERING")));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT w FROM t WHERE a = 3"),
              ElementsAre(::testing::AllOf(HasSubstr("INDEX t_ab (a=?)"),
                                           ::testing::Not(HasSubstr("COVERING")))));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT n FROM t WHERE n = 'n5'"),
              ElementsAre(::testing::AllOf(HasSubstr("INDEX t_n (n=?)"),
                                           ::testing::Not(HasSubstr("COVERING")))));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT u FROM t WHERE u = 5"),
              ElementsAre(::testing::AllOf(HasSubstr("INDEX t_u (u=?)"),
                                           ::testing::Not(HasSubstr("COVERING")))));

  ReadCounter reads;
  reads.Attach(hooked_.get());
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "SELECT w FROM t WHERE k = 1");  // the transaction's first read
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k, b, typeof(a) FROM t WHERE a = 3 AND k < 40 ORDER BY k"),
              ElementsAre("3|b3|integer", "13|b13|integer", "23|b23|integer", "33|b33|integer"));
  EXPECT_EQ(reads.gets, 0);
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT quote(r), typeof(r) FROM t WHERE r BETWEEN 2 AND 3"),
              ElementsAre("2.0|real", "3.0|real"));
  EXPECT_EQ(reads.gets, 0);
  // Uncommitted writes are read from the write set's entries.
  ASSERT_SQL_OK(*s, "INSERT INTO t (k, a, b) VALUES (1000, 3, 'new')");
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE k = 13");
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k, b FROM t WHERE a = 3 AND (k < 40 OR k = 1000) ORDER BY k"),
              ElementsAre("3|b3", "23|b23", "33|b33", "1000|new"));
  EXPECT_EQ(reads.gets, 0);
  // Not covered: the rows are read.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT w FROM t WHERE a = 3 AND k < 10"), ElementsAre("w3"));
  EXPECT_GT(reads.gets, 0);
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT n FROM t WHERE n = 'n5'"), ElementsAre("N5"));
  EXPECT_GT(reads.gets, 0);
  reads.counting = false;
  ASSERT_SQL_OK(*s, "COMMIT");
}

// ANALYZE stores each table's row count in its descriptor, and every session plans by
// it: ten rows are read whole in one page rather than through an index and then
// their rows (two round trips), which the planner prefers for an unknown size.
TEST_F(SessionTest, AnalyzeStoresRowCountsThatPlansUse) {
  auto s = NewSession(1);
  auto other = NewSession(3);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER, w TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_v ON t (v)");
  ASSERT_SQL_OK(*s, "CREATE VIEW tv AS SELECT * FROM t");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10) "
                "INSERT INTO t SELECT i, i, 'w' FROM c");
  const std::string query = "EXPLAIN QUERY PLAN SELECT * FROM t WHERE v = 5";
  EXPECT_THAT(*Query(*other, query), ElementsAre(HasSubstr("INDEX t_v (v=?)")));
  ASSERT_SQL_OK(*s, "ANALYZE");
  EXPECT_THAT(*Query(*other, query), ElementsAre(HasSubstr("FULL SCAN")));
  EXPECT_THAT(*Query(*s, query), ElementsAre(HasSubstr("FULL SCAN")));
  EXPECT_THAT(*Query(*s, "SELECT * FROM t WHERE v = 5"), ElementsAre("5|5|w"));
  // Named: a table, an index (its table), the schema. A view or nothing to count is fine.
  ASSERT_SQL_OK(*s, "ANALYZE t");
  ASSERT_SQL_OK(*s, "ANALYZE t_v");
  ASSERT_SQL_OK(*s, "ANALYZE main");
  ASSERT_SQL_OK(*s, "ANALYZE tv");
  EXPECT_EQ(StateOf(*s, "ANALYZE nosuch"), sqlstate::kUndefinedTable);
  ASSERT_SQL_OK(*s, "BEGIN");
  EXPECT_EQ(StateOf(*s, "ANALYZE"), sqlstate::kFeatureNotSupported);
  ASSERT_SQL_OK(*s, "ROLLBACK");
  // A table grown a thousandfold and analyzed again goes back to its index.
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 11 UNION ALL SELECT i + 1 FROM c WHERE i < 12000) "
                "INSERT INTO t SELECT i, i, 'w' FROM c");
  ASSERT_SQL_OK(*s, "ANALYZE t");
  EXPECT_THAT(*Query(*other, query), ElementsAre(HasSubstr("INDEX t_v (v=?)")));
}

// ANALYZE of a schema with more tables than the session records authorizer calls
// for: every table is still counted (each analyzed descriptor's version moves).
TEST_F(SessionTest, AnalyzeCountsEveryTableOfALargeSchema) {
  auto s = NewSession();
  constexpr int kTables = 300;
  for (int i = 0; i < kTables; ++i) {
    ASSERT_SQL_OK(*s, absl::StrCat("CREATE TABLE x", i, " (k INTEGER PRIMARY KEY)"));
  }
  const std::string versions = "SELECT count(*), sum(version) FROM rangedb_tables";
  std::vector<std::string> before = *Query(*s, versions);
  ASSERT_SQL_OK(*s, "ANALYZE");
  std::vector<std::string> after = *Query(*s, versions);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  const std::vector<std::string> b = absl::StrSplit(before[0], '|');
  const std::vector<std::string> a = absl::StrSplit(after[0], '|');
  EXPECT_EQ(a[0], absl::StrCat(kTables));
  EXPECT_EQ(std::stoll(a[1]), std::stoll(b[1]) + kTables);
}

// --- LIMIT and OFFSET taken by the plan (docs/sql.md "Planning": LIMIT) -------------

// What the key space is asked for while `counting` is set: each scan's max_keys in
// order, and the number of Gets.
struct LimitReads {
  void Attach(HookedSender* sender) {
    sender->before = [this](const kvpb::BatchRequest& batch) {
      if (!counting) return;
      for (const auto& r : batch.requests()) {
        if (r.has_scan()) scans.push_back(r.scan().max_keys());
        gets += r.has_get() ? 1 : 0;
      }
    };
  }
  void Start() {
    scans.clear();
    gets = 0;
    counting = true;
  }
  bool counting = false;  // the hook runs on the session's thread (LocalSender)
  std::vector<int64_t> scans;
  int gets = 0;
};

// A plan that uses every constraint exactly and gives the ORDER BY's order takes
// LIMIT and OFFSET (EXPLAIN: LIMIT, OFFSET): its scan asks for LIMIT + OFFSET rows,
// not a first page of 64, and an index scan reads only those rows. Any other plan
// reads as before, and the results are SQLite's either way.
TEST_F(SessionTest, APlanThatTakesLimitReadsOnlyLimitPlusOffsetRows) {
  auto s = NewSession(1, false, /*hooked=*/true);
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, a INTEGER, w TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_a ON t (a)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO t SELECT i, 1000 - i, 'w' || i FROM c");
  auto plan = [&](const std::string& sql) {
    absl::StatusOr<std::vector<std::string>> rows = Query(*s, "EXPLAIN QUERY PLAN " + sql);
    EXPECT_TRUE(rows.ok()) << sql << ": " << rows.status();
    return rows.ok() && rows->size() == 1 ? (*rows)[0] : std::string("?");
  };
  EXPECT_THAT(plan("SELECT k FROM t ORDER BY k LIMIT 3"),
              HasSubstr("INDEX 0:FULL SCAN ORDER LIMIT"));
  EXPECT_THAT(plan("SELECT k FROM t ORDER BY k DESC LIMIT 3 OFFSET 2"),
              HasSubstr("INDEX 4096:FULL SCAN ORDER DESC LIMIT OFFSET"));
  EXPECT_THAT(plan("SELECT w FROM t WHERE a > 900 LIMIT 3"), HasSubstr("INDEX t_a (a>?) LIMIT"));
  EXPECT_THAT(plan("SELECT k FROM t WHERE a = 5 ORDER BY a LIMIT 3"),
              HasSubstr("INDEX t_a (a=?) ORDER COVERING LIMIT"));
  // A term the plan leaves to SQLite, an order SQLite sorts, a pattern (it narrows to
  // its prefix only): no LIMIT.
  for (const char* sql :
       {"SELECT k FROM t WHERE w = 'w7' LIMIT 1",
        "SELECT k FROM t WHERE k > 5 AND w = 'w7' ORDER BY k LIMIT 1",
        "SELECT k FROM t ORDER BY w LIMIT 1", "SELECT k FROM t WHERE k > 5 AND k > 7 LIMIT 1"}) {
    EXPECT_THAT(plan(sql), Not(HasSubstr("LIMIT"))) << sql;
  }

  LimitReads reads;
  reads.Attach(hooked_.get());
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "SELECT w FROM t WHERE k = 1");  // the transaction's first read
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 3"), ElementsAre("1", "2", "3"));
  EXPECT_THAT(reads.scans, ElementsAre(3));
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k DESC LIMIT 2 OFFSET 5"),
              ElementsAre("295", "294"));
  EXPECT_THAT(reads.scans, ElementsAre(7));
  // An index scan: its entries, then the rows of those only (w is not in t_a).
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT w FROM t ORDER BY a LIMIT 2 OFFSET 3"),
              ElementsAre("w297", "w296"));
  EXPECT_THAT(reads.scans, ElementsAre(5));
  EXPECT_EQ(reads.gets, 5);
  // An IN list on the primary key: LIMIT + OFFSET keys first.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE k IN (9, 8, 7, 6, 5, 4, 3) ORDER BY k LIMIT 2"),
              ElementsAre("3", "4"));
  EXPECT_EQ(reads.gets, 2);
  // Values bound as parameters; a negative LIMIT is no limit.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE k > ?1 ORDER BY k LIMIT ?2 OFFSET ?3",
                     {{"", int64_t{100}}, {"", int64_t{2}}, {"", int64_t{1}}}),
              ElementsAre("102", "103"));
  EXPECT_THAT(reads.scans, ElementsAre(3));
  EXPECT_THAT(
      *Query(*s, "SELECT count(*) FROM (SELECT k FROM t ORDER BY k LIMIT ?1)", {{"", int64_t{-1}}}),
      ElementsAre("300"));
  // A plan that does not take LIMIT reads its first page whole.
  reads.Start();
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE w = 'w7' LIMIT 1"), ElementsAre("7"));
  EXPECT_THAT(reads.scans, ElementsAre(64));
  reads.counting = false;
  ASSERT_SQL_OK(*s, "COMMIT");
}

// The cap counts the rows the scan returns with the transaction's own writes merged
// in: deleted rows are read past, new ones count.
TEST_F(SessionTest, ALimitTakenCountsTheTransactionsOwnWrites) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY, a INTEGER)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_a ON t (a)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100) "
                "INSERT INTO t SELECT i, i FROM c");
  ASSERT_SQL_OK(*s, "BEGIN");
  ASSERT_SQL_OK(*s, "DELETE FROM t WHERE k IN (1, 2, 4, 99)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (0, 0), (3000, 3000)");
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 3"), ElementsAre("0", "3", "5"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k DESC LIMIT 3"),
              ElementsAre("3000", "100", "98"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 2 OFFSET 1"), ElementsAre("3", "5"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY a LIMIT 3"), ElementsAre("0", "3", "5"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE a >= 2 ORDER BY a DESC LIMIT 2 OFFSET 1"),
              ElementsAre("100", "98"));
  ASSERT_SQL_OK(*s, "COMMIT");
}

// A LIMIT that is not an integer (NULL too) fails as in SQLite, before any read; a
// text or REAL one with an integer value is that integer; LIMIT + OFFSET past int64
// is no cap; a negative OFFSET is none.
TEST_F(SessionTest, LimitValuesAreSQLites) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (k INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES (1), (2), (3), (4)");
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT ?1", {{"", std::string("2")}}),
              ElementsAre("1", "2"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT ?1", {{"", 2.0}}),
              ElementsAre("1", "2"));
  EXPECT_FALSE(Query(*s, "SELECT k FROM t ORDER BY k LIMIT ?1", {{"", 2.5}}).ok());
  EXPECT_FALSE(Query(*s, "SELECT k FROM t ORDER BY k LIMIT 'x'").ok());
  EXPECT_FALSE(
      Query(*s, "SELECT k FROM t ORDER BY k LIMIT ?1", {{"", ::rangedb::sql::Value(Null{})}}).ok());
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 0"), IsEmpty());
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT ?1", {{"", int64_t{0}}}), IsEmpty());
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k DESC LIMIT 9223372036854775807 OFFSET 2"),
              ElementsAre("2", "1"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 2 OFFSET -1"), ElementsAre("1", "2"));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t ORDER BY k LIMIT 1 OFFSET 10"), IsEmpty());
}

// The rows of sql in plain SQLite, rendered as Query renders them ("a|b"), or the
// error.
absl::StatusOr<std::vector<std::string>> PlainQuery(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    return absl::InvalidArgumentError(sqlite3_errmsg(db));
  std::vector<std::string> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> cells;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      cells.push_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
    }
    rows.push_back(absl::StrJoin(cells, "|"));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return absl::InvalidArgumentError(sqlite3_errmsg(db));
  return rows;
}

// Random queries with LIMIT and OFFSET over INTEGER, NOCASE TEXT, TEXT and untyped
// columns holding every type, against plain SQLite, in and out of a transaction with
// its own writes: a plan that takes LIMIT never loses a row SQLite returns (values
// that cannot narrow their key read without the cap). Ordered queries select the
// ordered column, whose values are distinct; others count their rows, since which
// rows a LIMIT without ORDER BY keeps is the plan's choice.
TEST_F(SessionTest, LimitTakenAnswersAsSqliteDoes) {
  auto s = NewSession();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> close_db(db, sqlite3_close);
  auto both = [&](const std::string& sql) {
    auto r = Query(*s, sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status();
    ASSERT_TRUE(PlainQuery(db, sql).ok()) << sql << ": " << sqlite3_errmsg(db);
  };
  both("CREATE TABLE r (k INTEGER PRIMARY KEY, a INTEGER, t TEXT COLLATE NOCASE, u, b TEXT)");
  for (const char* index :
       {"r_a ON r (a)", "r_t ON r (t)", "r_u ON r (u)", "r_b ON r (b)", "r_ab ON r (a, b)"}) {
    both(absl::StrCat("CREATE INDEX ", index));
  }
  both(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
      "INSERT INTO r SELECT i, CASE WHEN i % 23 = 0 THEN NULL ELSE (i * 7) % 1000 END, "
      "CASE WHEN i % 31 = 0 THEN NULL WHEN i % 2 = 0 THEN printf('T%03d', (i * 11) % 300) "
      "ELSE printf('t%03d', (i * 11) % 300) END, "
      "CASE i % 6 WHEN 0 THEN i WHEN 1 THEN i + 0.5 WHEN 2 THEN CAST(i AS TEXT) "
      "WHEN 3 THEN 'u' || i WHEN 4 THEN CAST(printf('%04d', i) AS BLOB) ELSE NULL END, "
      "CASE WHEN i % 10 = 0 THEN i ELSE printf('b%03d', i) END FROM c");
  std::mt19937 rng(20261207);
  auto pick = [&](auto... options) {
    const std::vector<std::string> all = {options...};
    return all[std::uniform_int_distribution<size_t>(0, all.size() - 1)(rng)];
  };
  auto value = [&] {
    return pick(absl::StrCat(std::uniform_int_distribution<int>(-5, 1000)(rng)), "150.5", "'12'",
                "'0120'", "'t1'", "'T15'", "'b1'", "'u3'", "'b100'", "NULL", "x'30313230'");
  };
  auto predicate = [&](const std::string& column) {
    switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
      case 0:
        return absl::StrCat(column, " = ", value());
      case 1:
        return absl::StrCat(column, pick(" > ", " >= ", " < ", " <= "), value());
      case 2:
        return absl::StrCat(column, " BETWEEN ", value(), " AND ", value());
      case 3:
        return absl::StrCat(column, " IN (", value(), ", ", value(), ", ", value(), ")");
      case 4:
        return absl::StrCat(column, pick(" IS NULL", " IS NOT NULL"));
      case 5:
        return absl::StrCat(column, pick(" LIKE 't1%'", " GLOB 'b1*'", " LIKE '1%'"));
      case 6:
        return absl::StrCat(column, " != ", value());
      default:
        return absl::StrCat(value(), pick(" < ", " = "), column);
    }
  };
  int taken = 0;
  auto run = [&](int queries) {
    for (int q = 0; q < queries; ++q) {
      const std::string column = pick("k", "a", "t", "u", "b");
      std::string where;
      const int terms = std::uniform_int_distribution<int>(0, 2)(rng);
      for (int i = 0; i < terms; ++i) {
        absl::StrAppend(&where, i == 0 ? " WHERE " : " AND ",
                        predicate(i == 0 ? column : pick("k", "a", "t", "u", "b")));
      }
      std::string limit = absl::StrCat(" LIMIT ", std::uniform_int_distribution<int>(-1, 20)(rng));
      if (rng() % 2 == 0) {
        absl::StrAppend(&limit, " OFFSET ", std::uniform_int_distribution<int>(-2, 40)(rng));
      }
      const bool ordered = rng() % 3 != 0;
      const std::string sql =
          ordered ? absl::StrCat("SELECT quote(", column, ") FROM r", where, " ORDER BY ", column,
                                 pick("", " DESC"), limit)
                  : absl::StrCat("SELECT count(*) FROM (SELECT k FROM r", where, limit, ")");
      absl::StatusOr<std::vector<std::string>> got = Query(*s, sql);
      absl::StatusOr<std::vector<std::string>> want = PlainQuery(db, sql);
      ASSERT_EQ(got.ok(), want.ok()) << sql << ": " << got.status() << " / " << want.status();
      if (!got.ok()) continue;
      ASSERT_EQ(*got, *want) << sql;
      const size_t from = sql.find("(SELECT");  // the counted query, without its ")"
      const std::string inner = ordered ? sql : sql.substr(from + 1, sql.size() - from - 2);
      absl::StatusOr<std::vector<std::string>> plan = Query(*s, "EXPLAIN QUERY PLAN " + inner);
      ASSERT_TRUE(plan.ok()) << inner << ": " << plan.status();
      for (const std::string& line : *plan) taken += absl::StrContains(line, " LIMIT") ? 1 : 0;
    }
  };
  run(300);
  // The transaction's own writes: rows deleted, changed and added, merged into scans.
  both("BEGIN");
  both("DELETE FROM r WHERE k % 9 = 4");
  both("UPDATE r SET t = 'U' || k, a = -5000 - k WHERE k % 13 = 5");  // values stay distinct
  both(
      "INSERT INTO r SELECT k + 1000, -a, 'x' || t, u, 'n' || b FROM r WHERE k % 17 = 2 "
      "AND k < 300");
  run(300);
  both("ROLLBACK");
  EXPECT_GT(taken, 100) << "too few plans took LIMIT to test them";
}

// --- Seeds of the differential test (sql/differential_test.cc), as fixed scripts ----

// Runs each statement of script in the session and in plain SQLite: the same rows
// (scripts order what they select), or an error in both, rangedb's message holding
// SQLite's.
void ExpectAsInSqlite(Session& session, sqlite3* plain, const std::vector<std::string>& script) {
  for (const std::string& sql : script) {
    absl::StatusOr<std::vector<std::string>> want = testing::SqliteQuery(plain, sql);
    absl::StatusOr<std::vector<std::string>> got = Query(session, sql);
    ASSERT_EQ(got.ok(), want.ok()) << sql << ": " << got.status() << " / " << want.status();
    if (want.ok()) {
      EXPECT_EQ(*got, *want) << sql;
    } else {
      EXPECT_THAT(std::string(got.status().message()), HasSubstr(want.status().message())) << sql;
    }
  }
}

// Seed 409: a failed statement inside BEGIN undoes its earlier rows exactly where
// SQLite opened a statement journal for it: it writes several rows and "may abort",
// which a function call anywhere in it makes true (here length() in a CHECK, abs()
// in VALUES or SET), whatever its ON CONFLICT mode.
TEST_F(SessionTest, AFailedStatementThatMayAbortUndoesItsRowsAsInSqlite) {
  auto s = NewSession();
  absl::StatusOr<Db> plain = OpenMemoryDb();
  ASSERT_TRUE(plain.ok());
  const std::vector<std::vector<std::string>> scripts = {
      // The seed's own, shortened.
      {"CREATE TABLE s409 (c0 INTEGER, c1 NUMERIC, PRIMARY KEY (c0), "
       "CHECK (length(CAST(c1 AS TEXT)) < 6))",
       "BEGIN", "INSERT OR IGNORE INTO s409 (c0, c1) VALUES (NULL, -4), (10.5, x'00')",
       "SELECT * FROM s409 ORDER BY 1", "ROLLBACK"},
      // The same CHECK without a function: no journal, the first row stays.
      {"CREATE TABLE s409b (c0 INTEGER, c1 NUMERIC, PRIMARY KEY (c0), CHECK (c1 < 6))", "BEGIN",
       "INSERT OR IGNORE INTO s409b (c0, c1) VALUES (NULL, -4), (10.5, 1)",
       "SELECT * FROM s409b ORDER BY 1", "ROLLBACK"},
      // A function in the VALUES, under each mode that keeps rows without one.
      {"CREATE TABLE s409c (id INTEGER PRIMARY KEY, c1)", "BEGIN",
       "INSERT OR IGNORE INTO s409c VALUES (NULL, abs(-4)), (2.5, 13)",
       "INSERT OR FAIL INTO s409c VALUES (NULL, abs(-4)), (2.5, 13)",
       "INSERT OR REPLACE INTO s409c VALUES (NULL, abs(-4)), (2.5, 13)",
       "INSERT OR ROLLBACK INTO s409c VALUES (NULL, abs(-4)), (2.5, 13)",
       "SELECT * FROM s409c ORDER BY 1", "INSERT OR FAIL INTO s409c VALUES (NULL, -4), (2.5, 13)",
       "SELECT * FROM s409c ORDER BY 1", "ROLLBACK"},
      // An UPDATE over several rows whose last one fails.
      {"CREATE TABLE s409d (id INTEGER PRIMARY KEY, c1)",
       "INSERT INTO s409d VALUES (1, 1), (2, 2), (3, 3)", "BEGIN",
       "UPDATE OR IGNORE s409d SET id = CASE id WHEN 3 THEN 'x' ELSE abs(id) + 10 END",
       "SELECT * FROM s409d ORDER BY 1",
       "UPDATE OR IGNORE s409d SET id = CASE id WHEN 3 THEN 'x' ELSE id + 10 END",
       "SELECT * FROM s409d ORDER BY 1", "ROLLBACK"},
  };
  for (const std::vector<std::string>& script : scripts) {
    SCOPED_TRACE(script[0]);
    ExpectAsInSqlite(*s, plain->get(), script);
  }
}

// --- Distinct key prefixes from ANALYZE (docs/sql.md "Planning": ANALYZE) ----------

// ANALYZE counts the distinct values of each key order's column prefixes (under the
// key's collations, NULL one value, across its pages of 1,000 keys), and the planner
// takes rows / distinct for an equality prefix: of two equally constrained indexes,
// only the statistics tell the selective one, and every session plans by them.
TEST_F(SessionTest, AnalyzeCountsDistinctKeyPrefixesThatPlansUse) {
  auto s = NewSession();
  auto other = NewSession(3);
  ASSERT_SQL_OK(*s,
                "CREATE TABLE t (k INTEGER PRIMARY KEY, lo INTEGER, hi INTEGER, "
                "c TEXT COLLATE NOCASE)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_lo ON t (lo)");  // first: it wins a tie
  ASSERT_SQL_OK(*s, "CREATE INDEX t_hi ON t (hi)");
  ASSERT_SQL_OK(*s, "CREATE INDEX t_clo ON t (c, lo)");
  ASSERT_SQL_OK(*s,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
                "INSERT INTO t SELECT i, i % 2, i % 1000, CASE WHEN i % 10 = 0 THEN NULL "
                "WHEN i % 3 = 0 THEN 'x' WHEN i % 3 = 1 THEN 'X' ELSE 'y' END FROM n");
  const std::string query = "EXPLAIN QUERY PLAN SELECT k FROM t WHERE lo = 1 AND hi = 7";
  EXPECT_THAT(*Query(*other, query), ElementsAre(HasSubstr("INDEX t_lo (lo=?)")));
  ASSERT_SQL_OK(*s, "ANALYZE t_hi");  // an index's table, every key order of it
  EXPECT_THAT(*Query(*other, query), ElementsAre(HasSubstr("INDEX t_hi (hi=?)")));
  EXPECT_THAT(*Query(*s, "SELECT k FROM t WHERE lo = 1 AND hi = 7 ORDER BY k"),
              ElementsAre("7", "1007", "2007"));

  // What the descriptor holds: per key order, per prefix length.
  std::vector<std::string> id = *Query(*s, "SELECT table_id FROM rangedb_tables WHERE name = 't'");
  ASSERT_EQ(id.size(), 1u);
  std::optional<sqlpb::TableDescriptor> desc;
  ASSERT_TRUE(txn::RunTransaction(senders_.back().get(), [&](txn::Txn& txn) -> absl::Status {
                absl::StatusOr<std::optional<sqlpb::TableDescriptor>> d =
                    ReadDescriptor(txn, std::stoull(id[0]));
                if (!d.ok()) return d.status();
                desc = *std::move(d);
                return absl::OkStatus();
              }).ok());
  ASSERT_TRUE(desc.has_value());
  EXPECT_EQ(desc->row_count_estimate(), 2500);
  EXPECT_THAT(desc->primary_index().distinct_prefix_estimate(), ElementsAre(2500));
  std::map<std::string, std::vector<int64_t>> distinct;
  for (const sqlpb::IndexDescriptor& index : desc->indexes()) {
    distinct[index.name()].assign(index.distinct_prefix_estimate().begin(),
                                  index.distinct_prefix_estimate().end());
  }
  // c: NULL, 'x' (and 'X', one key under NOCASE), 'y'; (c, lo): NULL's rows are even.
  EXPECT_THAT(distinct, ElementsAre(::testing::Pair("t_clo", ElementsAre(3, 5)),
                                    ::testing::Pair("t_hi", ElementsAre(1000)),
                                    ::testing::Pair("t_lo", ElementsAre(2))));
}

// The IN-slice check (sql/vtab_in_slice.h): a vector IN that SQLite would drive value
// by value through a TEXT key column is left to SQLite (its recheck compares under the
// column's affinity and lost '01' and '1.0' for 1), while `a = ?` on the same key, in
// a statement without such an IN, stays a key lookup.
TEST_F(SessionTest, TextKeysKeepTheirLookupsUnlessAnInWouldBeRecheckedUnderTheirAffinity) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (a TEXT, b INTEGER, PRIMARY KEY (a, b))");
  ASSERT_SQL_OK(*s, "CREATE TABLE u (x INTEGER, y INTEGER)");
  ASSERT_SQL_OK(*s, "INSERT INTO t VALUES ('01', 1), ('1.0', 1), ('1', 1), ('2', 1)");
  ASSERT_SQL_OK(*s, "INSERT INTO u VALUES (1, 1)");
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT * FROM t WHERE a = ? AND b = ?"),
              ElementsAre(HasSubstr("PRIMARY KEY (a=?, b=?)")));
  EXPECT_THAT(
      *Query(*s, "SELECT b FROM t WHERE a = ?", {Parameter{"", sql::Value(std::string("1.0"))}}),
      ElementsAre("1"));
  EXPECT_THAT(*Query(*s, "EXPLAIN QUERY PLAN SELECT a FROM t WHERE (a, b) IN (SELECT x, y FROM u)"),
              ::testing::Each(::testing::Not(HasSubstr("a=?"))));
  EXPECT_THAT(*Query(*s, "SELECT a FROM t WHERE (a, b) IN (SELECT x, y FROM u) ORDER BY a"),
              ElementsAre("01", "1", "1.0"));
}

}  // namespace
}  // namespace rangedb::sql
