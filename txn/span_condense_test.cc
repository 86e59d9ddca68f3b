// CondenseSpans (txn/span_condense.h): lossless merging first, then the closest
// neighbours; every key stays covered and the budget holds.
#include "txn/span_condense.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace rangedb::txn {
namespace {

kvpb::Span S(std::string key, std::string end = "") {
  kvpb::Span s;
  s.set_key(std::move(key));
  s.set_end_key(std::move(end));
  return s;
}

std::string End(const kvpb::Span& s) { return s.end_key().empty() ? s.key() + '\0' : s.end_key(); }

size_t Bytes(const std::vector<kvpb::Span>& spans) {
  size_t bytes = 0;
  for (const kvpb::Span& s : spans) bytes += SpanBytes(s);
  return bytes;
}

void Condense(std::vector<kvpb::Span>* spans, size_t max_spans, size_t max_bytes) {
  size_t bytes = Bytes(*spans);
  CondenseSpans(spans, &bytes, max_spans, max_bytes);
  EXPECT_EQ(bytes, Bytes(*spans)) << "the running byte count went wrong";
}

bool Covers(const std::vector<kvpb::Span>& spans, const kvpb::Span& s) {
  for (const kvpb::Span& c : spans) {
    if (c.key() <= s.key() && End(s) <= End(c)) return true;
  }
  return false;
}

std::string RowKey(int table, int row) { return absl::StrFormat("\x04t%03d/r%05d", table, row); }

TEST(CondenseSpansTest, WithinTheBudgetNothingChanges) {
  std::vector<kvpb::Span> spans = {S("b"), S("a"), S("a")};
  Condense(&spans, 3, 100);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].key(), "b");
}

TEST(CondenseSpansTest, OverlappingAndTouchingSpansMergeWithoutWideningAndPointsStayPoints) {
  std::vector<kvpb::Span> spans = {S("c", "e"), S("a"), S("a"), S("d", "f"),
                                   S("f", "g"), S("x"), S("a")};
  Condense(&spans, 6, 1000);  // over by one; merging alone reaches half of it
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].key(), "a");
  EXPECT_EQ(spans[0].end_key(), "") << "a repeated point is still a point";
  EXPECT_EQ(spans[1].key(), "c");
  EXPECT_EQ(spans[1].end_key(), "g");
  EXPECT_EQ(spans[2].key(), "x");
  EXPECT_EQ(spans[2].end_key(), "");
}

// Finding 8: many rows of one table and the catalog key. The table's rows condense
// among themselves; the catalog and a table between them stay uncovered.
TEST(CondenseSpansTest, ManyRowsOfOneTableDoNotSwallowTheCatalogOrOtherTables) {
  std::vector<kvpb::Span> spans = {
      S("\x03"
        "catalog/version")};
  for (int row = 0; row < 2000; row += 2) spans.push_back(S(RowKey(200, row)));
  spans.push_back(S(RowKey(300, 7)));
  Condense(&spans, 100, 1 << 20);
  EXPECT_LE(spans.size(), 50u);
  EXPECT_TRUE(Covers(spans, S("\x03"
                              "catalog/version")));
  EXPECT_FALSE(Covers(spans, S("\x03"
                               "catalog/version2")));
  EXPECT_FALSE(Covers(spans, S(RowKey(100, 1)))) << "a table before";
  EXPECT_FALSE(Covers(spans, S(RowKey(250, 1)))) << "a table between";
  EXPECT_TRUE(Covers(spans, S(RowKey(300, 7))));
  EXPECT_FALSE(Covers(spans, S(RowKey(300, 8))));
}

TEST(CondenseSpansTest, HalvesTheBudgetSoTheNextCondensationIsFarOff) {
  std::vector<kvpb::Span> spans;
  for (int row = 0; row < 101; ++row) spans.push_back(S(RowKey(1, row * 3)));
  Condense(&spans, 100, 1 << 20);
  EXPECT_LE(spans.size(), 50u);
  EXPECT_GE(spans.size(), 2u) << "condensed further than needed";
}

// Bridging two single keys costs a byte ([a, b\0) is one byte longer than a and b),
// so the bytes do not shrink monotonically as more is bridged: the condensation
// must stop at the first point where both limits hold, not fall through to one
// span (the review's second finding).
TEST(CondenseSpansTest, ByteBudgetAtTheEdgeDoesNotCollapseEverything) {
  std::vector<kvpb::Span> spans;
  for (int i = 1; i <= 5; ++i) spans.push_back(S(absl::StrFormat("\x04t1/r%d", i)));
  spans.push_back(S("\x04t2/a"));
  spans.push_back(S("\x04t2/b"));
  // 7 single keys of 6 bytes = 42 bytes; over a budget of 6 spans. Bridging the t1
  // rows gives [t1/r1, t1/r5\0) + t2/a + t2/b: 3 spans, 23 bytes.
  Condense(&spans, 6, 46);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_FALSE(Covers(spans, S("\x04t1/r6")));
  EXPECT_FALSE(Covers(spans, S("\x04t2/0")));
}

// A budget of 0 spans is one span, not a crash.
TEST(CondenseSpansTest, AZeroSpanBudgetMeansOneSpan) {
  std::vector<kvpb::Span> spans = {S("a"), S("c")};
  Condense(&spans, 0, 1000);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_TRUE(Covers(spans, S("b")));
}

TEST(CondenseSpansTest, TheByteBudgetHoldsToo) {
  std::vector<kvpb::Span> spans;
  for (int row = 0; row < 50; ++row) spans.push_back(S(RowKey(row, 0) + std::string(100, 'x')));
  const size_t before = Bytes(spans);
  Condense(&spans, 1000, before / 2);
  EXPECT_LE(Bytes(spans), before / 4);
}

// Random spans, budgets and keys from a small alphabet (long shared prefixes):
// whatever the budget, every input span is covered, the output is sorted without
// overlaps, and it is within the budget (or one span).
TEST(CondenseSpansTest, RandomSpansStayCoveredSortedAndInBudget) {
  std::mt19937_64 rng(42);
  auto key = [&] {
    std::string k;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) k.push_back("ab\0c"[rng() % 4]);
    return k;
  };
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<kvpb::Span> in;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      std::string a = key();
      if (rng() % 2) {
        in.push_back(S(a));
      } else {
        std::string b = key();
        if (a == b) b.push_back('\0');
        if (b < a) std::swap(a, b);
        in.push_back(S(a, b));
      }
    }
    const size_t max_spans = 1 + rng() % 20;
    const size_t max_bytes = 1 + rng() % 200;
    std::vector<kvpb::Span> out = in;
    Condense(&out, max_spans, max_bytes);
    for (const kvpb::Span& s : in) ASSERT_TRUE(Covers(out, s)) << "iteration " << iter;
    if (in.size() <= max_spans && Bytes(in) <= max_bytes) {
      ASSERT_EQ(out.size(), in.size()) << "within the budget: untouched";
      continue;
    }
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      ASSERT_LT(End(out[i]), out[i + 1].key()) << "iteration " << iter;
    }
    ASSERT_TRUE(out.size() == 1 || (out.size() <= max_spans && Bytes(out) <= max_bytes))
        << "iteration " << iter << ": " << out.size() << " spans, " << Bytes(out) << " bytes";
  }
}

}  // namespace
}  // namespace rangedb::txn
