// The introspection tables (sql/introspection.h; docs/sql.md "Introspection tables")
// in a session over a real key space (TxnClusterTest, as sql/session_test.cc): the
// catalog's tables follow DDL and read the statement's own schema; the cluster's
// come from the session's ClusterInfo (a fake here), or fail without one; writes fail.
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranges/local_sender.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "sql/cluster_info.h"
#include "sql/key_codec.h"
#include "sql/session.h"
#include "sql/sqlstate.h"
#include "sql/testing/sql_runner.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

using ::rangedb::sql::testing::Query;
using ::rangedb::sql::testing::StateOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class FakeClusterInfo final : public ClusterInfo {
 public:
  absl::StatusOr<std::vector<RangeInfoRow>> Ranges() override {
    if (!error.ok()) return error;
    return ranges;
  }
  absl::StatusOr<std::vector<NodeInfoRow>> Nodes() override {
    if (!error.ok()) return error;
    return nodes;
  }
  std::vector<RangeInfoRow> ranges;
  std::vector<NodeInfoRow> nodes;
  absl::Status error;
};

class IntrospectionTest : public ranges::TxnClusterTest {
 protected:
  std::unique_ptr<Session> NewSession(ClusterInfo* cluster_info = nullptr) {
    senders_.push_back(std::make_unique<ranges::LocalSender>(gateways_[1].get()));
    SessionOptions options;
    options.sender = senders_.back().get();
    options.node_id = 1;
    options.sleep_for = [](std::chrono::milliseconds) {};
    options.cluster_info = cluster_info;
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Open(std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  // The id of table `name`, from rangedb_tables.
  uint64_t TableId(Session& s, const std::string& name) {
    absl::StatusOr<std::vector<std::string>> rows =
        Query(s, "SELECT table_id FROM rangedb_tables WHERE name = ?", {{"", name}});
    uint64_t id = 0;
    EXPECT_TRUE(rows.ok() && rows->size() == 1 && absl::SimpleAtoi((*rows)[0], &id))
        << (rows.ok() ? absl::StrJoin(*rows, ";") : rows.status().ToString());
    return id;
  }
  std::vector<std::unique_ptr<ranges::LocalSender>> senders_;
};

TEST_F(IntrospectionTest, TablesListsEveryTableWithItsShape) {
  auto s = NewSession();
  EXPECT_THAT(*Query(*s, "SELECT * FROM rangedb_tables"), IsEmpty());
  ASSERT_SQL_OK(*s, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)");
  ASSERT_SQL_OK(*s, "CREATE TABLE pairs (a TEXT, b INTEGER, v, PRIMARY KEY (b, a))");
  ASSERT_SQL_OK(*s, "CREATE TABLE heap (x, y)");
  ASSERT_SQL_OK(*s, "CREATE VIEW v AS SELECT 1");  // not a table
  ASSERT_SQL_OK(*s, "CREATE UNIQUE INDEX users_email ON users (email)");
  ASSERT_SQL_OK(*s, "CREATE INDEX users_name ON users (name DESC, email)");
  EXPECT_THAT(*Query(*s,
                     "SELECT name, columns, primary_key, indexes FROM rangedb_tables "
                     "ORDER BY table_id"),
              ElementsAre("users|3|id|2", "pairs|3|b, a|0", "heap|2|rowid|0"));
  EXPECT_THAT(*Query(*s, "SELECT create_sql FROM rangedb_tables WHERE name = 'heap'"),
              ElementsAre("CREATE TABLE heap (x, y)"));
  // Ids are distinct and ascending in creation order.
  EXPECT_LT(TableId(*s, "users"), TableId(*s, "pairs"));
}

TEST_F(IntrospectionTest, IndexesListsPrimaryAndSecondaryIndexes) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)");
  ASSERT_SQL_OK(*s, "CREATE UNIQUE INDEX users_email ON users (email)");
  ASSERT_SQL_OK(*s, "CREATE INDEX users_name ON users (name DESC, email)");
  EXPECT_THAT(*Query(*s,
                     "SELECT table_name, index_id, index_name, is_primary, is_unique, columns, "
                     "state FROM rangedb_indexes"),
              ElementsAre("users|1|primary|1|1|id|PUBLIC", "users|2|users_email|0|1|email|PUBLIC",
                          "users|3|users_name|0|0|name DESC, email|PUBLIC"));
}

TEST_F(IntrospectionTest, DdlIsReflected) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)");
  ASSERT_SQL_OK(*s, "CREATE TABLE u (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*s, "CREATE INDEX ta ON t (a)");
  EXPECT_THAT(*Query(*s, "SELECT indexes FROM rangedb_tables WHERE name = 't'"), ElementsAre("1"));
  const std::string version_before =
      (*Query(*s, "SELECT version FROM rangedb_tables WHERE name = 't'"))[0];
  ASSERT_SQL_OK(*s, "DROP INDEX ta");
  EXPECT_THAT(*Query(*s, "SELECT indexes FROM rangedb_tables WHERE name = 't'"), ElementsAre("0"));
  EXPECT_THAT(*Query(*s, "SELECT index_name FROM rangedb_indexes WHERE table_name = 't'"),
              ElementsAre("primary"));
  EXPECT_THAT(*Query(*s, "SELECT version FROM rangedb_tables WHERE name = 't'"),
              ElementsAre(::testing::Ne(version_before)));
  ASSERT_SQL_OK(*s, "DROP TABLE u");
  EXPECT_THAT(*Query(*s, "SELECT name FROM rangedb_tables"), ElementsAre("t"));
  // ALTER TABLE, where it is built: the new column shows.
  const std::string alter = StateOf(*s, "ALTER TABLE t ADD COLUMN b TEXT");
  if (alter == sqlstate::kFeatureNotSupported) return;
  ASSERT_EQ(alter, "00000");
  EXPECT_THAT(*Query(*s, "SELECT columns FROM rangedb_tables WHERE name = 't'"), ElementsAre("3"));
  ASSERT_SQL_OK(*s, "ALTER TABLE t RENAME TO t2");
  EXPECT_THAT(*Query(*s, "SELECT name FROM rangedb_tables"), ElementsAre("t2"));
  EXPECT_THAT(*Query(*s, "SELECT DISTINCT table_name FROM rangedb_indexes"), ElementsAre("t2"));
}

TEST_F(IntrospectionTest, ReadsTheSchemaOfTheStatementsTransaction) {
  auto a = NewSession();
  auto b = NewSession();
  ASSERT_SQL_OK(*a, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  ASSERT_SQL_OK(*a, "BEGIN");
  EXPECT_THAT(*Query(*a, "SELECT name FROM rangedb_tables"), ElementsAre("t"));
  ASSERT_SQL_OK(*b, "CREATE TABLE u (id INTEGER PRIMARY KEY)");
  // Inside its transaction, a still sees the schema it runs under: no u, in the
  // introspection table as in the statement itself.
  EXPECT_THAT(*Query(*a, "SELECT name FROM rangedb_tables"), ElementsAre("t"));
  EXPECT_EQ(StateOf(*a, "SELECT * FROM u"), sqlstate::kUndefinedTable);
  (void)Query(*a, "ROLLBACK");
  EXPECT_THAT(*Query(*a, "SELECT name FROM rangedb_tables ORDER BY name"), ElementsAre("t", "u"));
}

TEST_F(IntrospectionTest, WritesFail) {
  auto s = NewSession();
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  for (const char* sql :
       {"INSERT INTO rangedb_tables (table_id, name) VALUES (1, 'x')",
        "UPDATE rangedb_indexes SET index_name = 'x'", "DELETE FROM rangedb_ranges",
        "DELETE FROM rangedb_nodes WHERE node_id = 1"}) {
    absl::StatusOr<std::vector<std::string>> r = Query(*s, sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_THAT(r.status().message(), HasSubstr("may not be modified")) << sql;
  }
  EXPECT_NE(StateOf(*s, "DROP TABLE rangedb_tables"), "00000");
  EXPECT_NE(StateOf(*s, "CREATE VIRTUAL TABLE x USING rangedb_tables"), "00000");
  // Still there, still right.
  EXPECT_THAT(*Query(*s, "SELECT name FROM rangedb_tables"), ElementsAre("t"));
}

// A user table named like an introspection table would hide it (SQLite finds the
// declared table first): the prefix is reserved, in every case and every way to
// take a name.
TEST_F(IntrospectionTest, TheirPrefixIsReserved) {
  auto s = NewSession();
  EXPECT_EQ(StateOf(*s, "CREATE TABLE rangedb_tables (x)"), "42939");
  EXPECT_EQ(StateOf(*s, "CREATE TABLE RangeDB_Mine (x)"), "42939");
  EXPECT_EQ(StateOf(*s, "CREATE VIEW rangedb_nodes AS SELECT 1"), "42939");
  ASSERT_SQL_OK(*s, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  EXPECT_EQ(StateOf(*s, "ALTER TABLE t RENAME TO rangedb_ranges"), "42939");
  EXPECT_THAT(*Query(*s, "SELECT name FROM rangedb_tables"), ElementsAre("t"));
}

TEST_F(IntrospectionTest, ClusterTablesFailWithoutClusterInfo) {
  auto s = NewSession();
  for (const char* table : {"rangedb_ranges", "rangedb_nodes"}) {
    absl::StatusOr<std::vector<std::string>> r = Query(*s, absl::StrCat("SELECT * FROM ", table));
    ASSERT_FALSE(r.ok()) << table;
    EXPECT_EQ(SqlStateOf(r.status()), "55000") << r.status();
    EXPECT_THAT(r.status().message(),
                HasSubstr(absl::StrCat(table, " is not available in this session")));
  }
  // Only the statement failed: a transaction goes on.
  ASSERT_SQL_OK(*s, "BEGIN");
  EXPECT_EQ(StateOf(*s, "SELECT count(*) FROM rangedb_nodes"), "55000");
  EXPECT_THAT(*Query(*s, "SELECT count(*) FROM rangedb_tables"), ElementsAre("0"));
  ASSERT_SQL_OK(*s, "COMMIT");
}

TEST_F(IntrospectionTest, RangesDecodeKeysUnderTheSchema) {
  FakeClusterInfo cluster;
  auto s = NewSession(&cluster);
  ASSERT_SQL_OK(*s, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)");
  ASSERT_SQL_OK(*s, "CREATE INDEX by_email ON users (email)");
  const uint64_t users = TableId(*s, "users");
  std::string row_42 = keys::IndexPrefix(users, 1);
  AppendValueKey(&row_42, int64_t{42}, Collation::kBinary, Direction::kAscending);
  std::string email = keys::IndexPrefix(users, 2);
  AppendValueKey(&email, std::string("a@b.c"), Collation::kBinary, Direction::kAscending);
  cluster.ranges = {
      {3,
       std::string(keys::kTableDataPrefix),
       keys::TablePrefix(users),
       {1, 2, 3},
       2,
       std::nullopt},
      {1, "", std::string(keys::kSystemPrefix), {1, 2, 3}, 1, 4096},
      {5, email, std::string(keys::kKeyMax), {2, 3}, std::nullopt, std::nullopt},
      {4, keys::TablePrefix(users), row_42, {1, 3}, 3, std::nullopt},
      {6, row_42, email, {1}, 1, std::nullopt},
  };
  EXPECT_THAT(*Query(*s,
                     "SELECT range_id, start_key, end_key, replicas, leaseholder, size_bytes "
                     "FROM rangedb_ranges"),
              ElementsAre("1|/Min|/System/|1,2,3|1|4096", "3|/Table|/users|1,2,3|2|NULL",
                          "4|/users|/users/primary/42|1,3|3|NULL",
                          "5|/users/by_email/'a@b.c'|/Max|2,3|NULL|NULL",
                          "6|/users/primary/42|/users/by_email/'a@b.c'|1|1|NULL"));
  EXPECT_THAT(*Query(*s, "SELECT hex(raw_end_key) FROM rangedb_ranges WHERE range_id = 1"),
              ElementsAre("03"));
  // A dropped table's keys show by id.
  ASSERT_SQL_OK(*s, "DROP TABLE users");
  EXPECT_THAT(*Query(*s, "SELECT end_key FROM rangedb_ranges WHERE range_id = 4"),
              ElementsAre(absl::StrCat("/", users, "/1/42")));
}

TEST_F(IntrospectionTest, NodesComeFromClusterInfo) {
  FakeClusterInfo cluster;
  auto s = NewSession(&cluster);
  cluster.nodes = {{2, "127.0.0.1:2", "suspect", 3, 0, false},
                   {1, "127.0.0.1:1", "live", 5, 4, true}};
  EXPECT_THAT(*Query(*s, "SELECT * FROM rangedb_nodes"),
              ElementsAre("1|127.0.0.1:1|live|5|4|1", "2|127.0.0.1:2|suspect|3|0|0"));
  EXPECT_THAT(*Query(*s, "SELECT sum(leases) FROM rangedb_nodes WHERE status = 'live'"),
              ElementsAre("4"));
  // The cluster's error is the statement's, with its SQLSTATE.
  cluster.error = absl::UnavailableError("testing: no cluster view");
  absl::StatusOr<std::vector<std::string>> r = Query(*s, "SELECT * FROM rangedb_nodes");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(SqlStateOf(r.status()), sqlstate::kConnectionFailure);
  EXPECT_THAT(r.status().message(), HasSubstr("no cluster view"));
}

}  // namespace
}  // namespace rangedb::sql
