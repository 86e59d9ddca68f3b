// LIKE and GLOB prefix spans (sql/vtab_pattern.h) against SQLite itself: for every
// short TEXT and BLOB value over an alphabet of troublemakers (both cases, the
// wildcards, NUL, bytes of 0x80 and more, a two-byte character) and every pattern
// built from them, SQLite is asked `v LIKE p` / `v GLOB p`; a value it matches must
// have its key in a span. For a BLOB it is asked `CAST(v AS TEXT) LIKE p`, which is
// what a SQLite built without SQLITE_LIKE_DOESNT_MATCH_BLOBS answers for `v LIKE p`
// (it reads the BLOB as text). Reference: https://sqlite.org/optoverview.html#like_opt.
#include "sql/vtab_pattern.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sql/key_codec.h"
#include "sql/sqlite_util.h"

namespace rangedb::sql {
namespace {

using std::string_literals::operator""s;

TEST(LiteralPrefixTest, StopsAtWildcardsNulAndNonAscii) {
  EXPECT_EQ(LiteralPrefix("abc%", PatternOp::kLike), "abc");
  EXPECT_EQ(LiteralPrefix("ab_c", PatternOp::kLike), "ab");
  EXPECT_EQ(LiteralPrefix("%abc", PatternOp::kLike), "");
  EXPECT_EQ(LiteralPrefix("abc", PatternOp::kLike), "abc");
  EXPECT_EQ(LiteralPrefix("a*b%", PatternOp::kLike), "a*b");  // * is no LIKE wildcard
  EXPECT_EQ(LiteralPrefix("abc*", PatternOp::kGlob), "abc");
  EXPECT_EQ(LiteralPrefix("ab?c", PatternOp::kGlob), "ab");
  EXPECT_EQ(LiteralPrefix("a[bc]", PatternOp::kGlob), "a");
  EXPECT_EQ(LiteralPrefix("a%b*", PatternOp::kGlob), "a%b");  // % is no GLOB wildcard
  EXPECT_EQ(LiteralPrefix("ab\0cd%"s, PatternOp::kLike), "ab");
  EXPECT_EQ(LiteralPrefix("ab\xc3\xa9%", PatternOp::kLike), "ab");
  EXPECT_EQ(LiteralPrefix("", PatternOp::kGlob), "");
}

TEST(PatternSpansTest, TextsThenBlobsInKeyOrder) {
  const std::string prefix = "\x04\x89";
  for (PatternOp op : {PatternOp::kLike, PatternOp::kGlob}) {
    EXPECT_EQ(PatternSpans(prefix, "aB", op, /*match_blobs=*/false).size(), 1u);
    const std::vector<KeySpan> spans = PatternSpans(prefix, "aB", op, /*match_blobs=*/true);
    ASSERT_EQ(spans.size(), 2u);
    EXPECT_LT(spans[0].start, spans[0].end);
    EXPECT_LE(spans[0].end, spans[1].start);
    EXPECT_LT(spans[1].start, spans[1].end);
    for (const KeySpan& span : spans) EXPECT_EQ(span.start.substr(0, 2), prefix);
  }
}

bool InSpans(const std::string& key, const std::vector<KeySpan>& spans) {
  for (const KeySpan& span : spans) {
    if (span.start <= key && key < span.end) return true;
  }
  return false;
}

// Every value of length <= 3 over the alphabet, as TEXT and as BLOB.
std::vector<Value> Values() {
  const std::vector<std::string> alphabet = {"a", "A",   "b",    "B",        "%", "_",
                                             "*", "\0"s, "\x80", "\xc3\xa9", "z", "0"};
  std::vector<std::string> texts = {""};
  for (size_t begin = 0, length = 0; length < 3; ++length) {
    const size_t end = texts.size();
    for (size_t i = begin; i < end; ++i) {
      for (const std::string& c : alphabet) texts.push_back(texts[i] + c);
    }
    begin = end;
  }
  std::vector<Value> values;
  for (const std::string& t : texts) {
    values.push_back(Value(t));
    values.push_back(Value(Blob{t}));
  }
  return values;
}

// Patterns whose literal prefix is not empty, of both kinds.
std::vector<std::string> Patterns(PatternOp op) {
  const std::string many = op == PatternOp::kLike ? "%" : "*";
  const std::string one = op == PatternOp::kLike ? "_" : "?";
  std::vector<std::string> patterns;
  for (const std::string& literal : {"a"s, "A"s, "aB"s, "Ab"s, "ba"s, "a0"s, "z"s}) {
    for (const std::string& tail :
         {""s, many, one, one + many, many + "b", "\0"s + "x", "\xc3\xa9" + many, "\x80" + many}) {
      patterns.push_back(literal + tail);
    }
  }
  return patterns;
}

TEST(PatternSpansTest, BlobsMatchAsTheLinkedSqliteSays) {
  absl::StatusOr<Db> db = OpenMemoryDb();
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<Stmt> stmt = Prepare(db->get(), "SELECT x'616263' LIKE 'ab%'");
  ASSERT_TRUE(stmt.ok()) << stmt.status();
  ASSERT_EQ(sqlite3_step(stmt->get()), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt->get(), 0) != 0, PatternsMatchBlobs());
}

void CheckAgainstSqlite(PatternOp op, Collation collation) {
  absl::StatusOr<Db> db = OpenMemoryDb();
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string op_sql = op == PatternOp::kLike ? " LIKE " : " GLOB ";
  absl::StatusOr<Stmt> text_stmt = Prepare(db->get(), "SELECT ?1" + op_sql + "?2");
  ASSERT_TRUE(text_stmt.ok()) << text_stmt.status();
  absl::StatusOr<Stmt> blob_stmt = Prepare(db->get(), "SELECT CAST(?1 AS TEXT)" + op_sql + "?2");
  ASSERT_TRUE(blob_stmt.ok()) << blob_stmt.status();
  const std::string key_prefix = "\x04\x89\x8a";
  const std::vector<Value> values = Values();
  int matched = 0, outside = 0;
  for (const std::string& pattern : Patterns(op)) {
    const std::string literal = LiteralPrefix(pattern, op);
    ASSERT_FALSE(literal.empty()) << absl::CEscape(pattern);
    const std::vector<KeySpan> spans = PatternSpans(key_prefix, literal, op, /*match_blobs=*/true);
    for (const Value& v : values) {
      Stmt& stmt = std::holds_alternative<Blob>(v) ? *blob_stmt : *text_stmt;
      sqlite3_reset(stmt.get());
      ASSERT_EQ(BindValue(stmt.get(), 1, v), SQLITE_OK);
      ASSERT_EQ(BindValue(stmt.get(), 2, Value(pattern)), SQLITE_OK);
      ASSERT_EQ(sqlite3_step(stmt.get()), SQLITE_ROW);
      const bool match = sqlite3_column_int(stmt.get(), 0) != 0;
      std::string key = key_prefix;
      AppendValueKey(&key, v, collation, Direction::kAscending);
      const bool in = InSpans(key, spans);
      if (match) {
        ++matched;
        EXPECT_TRUE(in) << "value "
                        << absl::CEscape(std::holds_alternative<Blob>(v)
                                             ? "BLOB " + std::get<Blob>(v).bytes
                                             : std::get<std::string>(v))
                        << " matches pattern " << absl::CEscape(pattern)
                        << " but is outside its spans";
      } else if (!in) {
        ++outside;
      }
    }
  }
  // The spans narrow: most values that do not match are outside them.
  EXPECT_GT(matched, 1000);
  EXPECT_GT(outside, matched);
}

TEST(PatternSpansTest, HoldEveryValueSqliteMatchesWithLikeUnderNocase) {
  CheckAgainstSqlite(PatternOp::kLike, Collation::kNocase);
}

TEST(PatternSpansTest, HoldEveryValueSqliteMatchesWithGlobUnderBinary) {
  CheckAgainstSqlite(PatternOp::kGlob, Collation::kBinary);
}

}  // namespace
}  // namespace rangedb::sql
