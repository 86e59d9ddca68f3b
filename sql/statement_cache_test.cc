#include "sql/statement_cache.h"

#include <string>

#include "gtest/gtest.h"

namespace rangedb::sql {
namespace {

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Db> db = OpenMemoryDb();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  StatementCache::Entry PrepareEntry(const std::string& sql) {
    absl::StatusOr<Stmt> stmt = Prepare(db_.get(), sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status();
    return StatementCache::Entry{std::move(*stmt), sql.size()};
  }
  Db db_;
};

TEST_F(StatementCacheTest, GivesBackTheSameStatementResetAndUnbound) {
  StatementCache cache(4, 100);
  EXPECT_FALSE(cache.Take("SELECT ?1").has_value());
  StatementCache::Entry entry = PrepareEntry("SELECT ?1");
  sqlite3_stmt* raw = entry.stmt.get();
  ASSERT_EQ(sqlite3_bind_int64(raw, 1, 5), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(raw), SQLITE_ROW);  // left mid-statement
  cache.Put("SELECT ?1", std::move(entry));
  std::optional<StatementCache::Entry> again = cache.Take("SELECT ?1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->stmt.get(), raw);
  EXPECT_EQ(again->length, 9u);
  ASSERT_EQ(sqlite3_step(raw), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_type(raw, 0), SQLITE_NULL);  // the old binding is gone
  // Taken out: no one else gets it until it is put back.
  EXPECT_FALSE(cache.Take("SELECT ?1").has_value());
}

TEST_F(StatementCacheTest, KeepsTheMostRecentlyUsedWithinItsBounds) {
  StatementCache cache(2, 10);
  cache.Put("SELECT 1", PrepareEntry("SELECT 1"));
  cache.Put("SELECT 2", PrepareEntry("SELECT 2"));
  std::optional<StatementCache::Entry> one = cache.Take("SELECT 1");  // now the newest
  ASSERT_TRUE(one.has_value());
  cache.Put("SELECT 1", std::move(*one));
  cache.Put("SELECT 3", PrepareEntry("SELECT 3"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Take("SELECT 2").has_value());
  EXPECT_TRUE(cache.Take("SELECT 1").has_value());
  EXPECT_TRUE(cache.Take("SELECT 3").has_value());
  cache.Put("SELECT 12345", PrepareEntry("SELECT 12345"));  // 12 bytes: too long to keep
  EXPECT_EQ(cache.size(), 0u);
  cache.Put("SELECT 4", PrepareEntry("SELECT 4"));
  cache.Clear();
  EXPECT_FALSE(cache.Take("SELECT 4").has_value());
}

}  // namespace
}  // namespace rangedb::sql
