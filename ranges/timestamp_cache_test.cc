#include "ranges/timestamp_cache.h"

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rangedb::ranges {
namespace {

Timestamp T(int64_t wall_ns, int32_t logical = 0) { return Timestamp{wall_ns, logical}; }

// Expects GetMax(start, end) == (ts, txn_id).
void ExpectMax(const TimestampCache& c, absl::string_view start, absl::string_view end,
               Timestamp ts, const std::string& txn_id) {
  TimestampCache::Result r = c.GetMax(start, end);
  EXPECT_EQ(r.ts, ts) << "[" << start << ", " << end << "): got " << r.ts.ToString() << " want "
                      << ts.ToString();
  EXPECT_EQ(r.txn_id, txn_id) << "[" << start << ", " << end << ")";
}

TEST(TimestampCacheTest, PointAddGet) {
  TimestampCache c;
  c.Add("b", "", T(10), "t1");
  ExpectMax(c, "b", "", T(10), "t1");
  ExpectMax(c, "a", "", T(0), "");
  ExpectMax(c, "ba", "", T(0), "");
  ExpectMax(c, std::string("b\0", 2), "", T(0), "");  // the key right after b
  EXPECT_EQ(c.size(), 1u);
}

TEST(TimestampCacheTest, SpanCoversKeysInsideNotOutside) {
  TimestampCache c;
  c.Add("b", "d", T(10), "t1");
  ExpectMax(c, "b", "", T(10), "t1");  // start inclusive
  ExpectMax(c, "c", "", T(10), "t1");
  ExpectMax(c, "czzz", "", T(10), "t1");
  ExpectMax(c, "d", "", T(0), "");  // end exclusive
  ExpectMax(c, "a", "", T(0), "");
  ExpectMax(c, "azz", "", T(0), "");
}

TEST(TimestampCacheTest, PointCoveredByOverlappingSpans) {
  TimestampCache c;
  c.Add("a", "e", T(5), "t1");
  c.Add("c", "g", T(7), "t2");
  c.Add("d", "f", T(6), "t3");
  ExpectMax(c, "a", "", T(5), "t1");
  ExpectMax(c, "b", "", T(5), "t1");
  ExpectMax(c, "c", "", T(7), "t2");
  ExpectMax(c, "d", "", T(7), "t2");
  ExpectMax(c, "e", "", T(7), "t2");
  ExpectMax(c, "f", "", T(7), "t2");
  ExpectMax(c, "g", "", T(0), "");
}

TEST(TimestampCacheTest, SpanQueryOverlapsPointsAndSpans) {
  TimestampCache c;
  c.Add("c", "", T(9), "t1");
  c.Add("m", "p", T(4), "t2");
  ExpectMax(c, "a", "d", T(9), "t1");
  ExpectMax(c, "c", "d", T(9), "t1");
  ExpectMax(c, "a", "c", T(0), "");  // query end is exclusive
  ExpectMax(c, "ca", "m", T(0), "");
  ExpectMax(c, "a", "ma", T(9), "t1");
  ExpectMax(c, "d", "ma", T(4), "t2");  // overlaps the start of [m, p)
  ExpectMax(c, "o", "z", T(4), "t2");   // overlaps the end of [m, p)
  ExpectMax(c, "n", "o", T(4), "t2");   // inside [m, p)
  ExpectMax(c, "p", "z", T(0), "");
}

TEST(TimestampCacheTest, SameTimestampDifferentReadersHasNoTxnId) {
  TimestampCache c;
  c.Add("k", "", T(10), "t1");
  c.Add("k", "", T(10), "t2");
  ExpectMax(c, "k", "", T(10), "");
  // Two keys each read by one txn: a span over both has two readers at the max.
  c.Add("a", "", T(20), "t1");
  c.Add("b", "", T(20), "t2");
  ExpectMax(c, "a", "", T(20), "t1");
  ExpectMax(c, "a", "c", T(20), "");
  // A non-transactional reader at the same timestamp also leaves no sole reader.
  c.Add("x", "", T(30), "t1");
  c.Add("w", "y", T(30), "");
  ExpectMax(c, "x", "", T(30), "");
  ExpectMax(c, "w", "", T(30), "");
}

TEST(TimestampCacheTest, SameTxnKeepsItsId) {
  TimestampCache c;
  c.Add("k", "", T(10), "t1");
  c.Add("k", "", T(12), "t1");
  ExpectMax(c, "k", "", T(12), "t1");
  c.Add("a", "z", T(12), "t1");  // same reader, same timestamp, wider span
  ExpectMax(c, "k", "", T(12), "t1");
  ExpectMax(c, "a", "z", T(12), "t1");
  c.Add("k", "", T(11), "t2");  // lower: changes nothing
  ExpectMax(c, "k", "", T(12), "t1");
}

TEST(TimestampCacheTest, HigherTimestampWins) {
  TimestampCache c;
  c.Add("k", "", T(10), "t1");
  c.Add("k", "", T(20), "t2");
  ExpectMax(c, "k", "", T(20), "t2");
  c.Add("k", "", T(15), "t3");
  ExpectMax(c, "k", "", T(20), "t2");
  c.Add("k", "", T(20, 1), "t3");  // logical breaks the tie
  ExpectMax(c, "k", "", T(20, 1), "t3");
  c.Add("a", "z", T(30), "t4");
  ExpectMax(c, "k", "", T(30), "t4");
}

TEST(TimestampCacheTest, LowWaterAppliesToEveryKeyAndEmptyCache) {
  TimestampCache c;
  c.SetLowWater(T(50));
  EXPECT_EQ(c.low_water(), T(50));
  ExpectMax(c, "any", "", T(50), "");
  ExpectMax(c, "", "\xff", T(50), "");
  c.Add("k", "", T(40), "t1");  // below the mark: nothing to remember
  c.Add("k", "", T(50), "t1");  // at the mark: the mark already answers (50, "")
  EXPECT_EQ(c.size(), 0u);
  ExpectMax(c, "k", "", T(50), "");
  c.Add("k", "", T(60), "t1");
  ExpectMax(c, "k", "", T(60), "t1");
  ExpectMax(c, "j", "", T(50), "");
  c.SetLowWater(T(10));  // never lowered
  EXPECT_EQ(c.low_water(), T(50));
  ExpectMax(c, "j", "", T(50), "");
}

TEST(TimestampCacheTest, LowWaterClearsEntriesAtOrBelowIt) {
  TimestampCache c;
  c.Add("a", "", T(10), "t1");
  c.Add("c", "", T(20), "t2");
  c.Add("e", "f", T(30), "t3");
  EXPECT_EQ(c.size(), 3u);
  c.SetLowWater(T(20));
  EXPECT_EQ(c.size(), 1u);
  ExpectMax(c, "a", "", T(20), "");
  ExpectMax(c, "c", "", T(20), "");  // equal to the mark: the mark's "" wins
  ExpectMax(c, "e", "", T(30), "t3");
}

TEST(TimestampCacheTest, EvictionRaisesLowWaterToHighestEvicted) {
  TimestampCache c(TimestampCache::Options{.max_entries = 4});
  for (int i = 1; i <= 5; ++i) c.Add(absl::StrCat("k", i), "", T(i), "t");
  EXPECT_LE(c.size(), 4u);
  EXPECT_GE(c.low_water(), T(1));
  // Every key still reads at least as high as its true read.
  for (int i = 1; i <= 5; ++i) EXPECT_GE(c.GetMax(absl::StrCat("k", i), "").ts, T(i));
  ExpectMax(c, "k5", "", T(5), "t");  // the newest read is kept exactly
  ExpectMax(c, "k1", "", c.low_water(), "");
}

// ---- Randomized checks against a brute-force model ----

struct Read {
  std::string start;
  std::string end;  // exclusive, never empty (a point k is [k, k + '\0'))
  Timestamp ts;
  std::string txn_id;
};

// What an exact cache answers: every overlapping read folded into the low-water mark.
TimestampCache::Result ModelMax(const std::vector<Read>& reads, Timestamp low_water,
                                const std::string& start, const std::string& end) {
  TimestampCache::Result r{low_water, ""};
  for (const Read& read : reads) {
    if (!(read.start < end && start < read.end)) continue;
    if (read.ts > r.ts) {
      r = {read.ts, read.txn_id};
    } else if (read.ts == r.ts && r.txn_id != read.txn_id) {
      r.txn_id.clear();
    }
  }
  return r;
}

// Keys of one or two letters from a small alphabet, so spans and points collide often.
class RandomOps {
 public:
  explicit RandomOps(uint32_t seed) : rng_(seed) {}

  std::string Key() {
    std::string k(1, Letter());
    if (Uniform(0, 1) == 1) k += Letter();
    return k;
  }
  // A point (end "") or a non-empty span.
  std::pair<std::string, std::string> Span() {
    std::string a = Key();
    if (Uniform(0, 2) == 0) return {a, ""};
    std::string b = Key();
    if (a == b) return {a, ""};
    if (b < a) std::swap(a, b);
    return {a, b};
  }
  // Around base, as reads arrive with a rising clock; close enough to collide often.
  Timestamp Ts(int64_t base = 0) {
    return T(base + Uniform(1, 40), static_cast<int32_t>(Uniform(0, 1)));
  }
  std::string Txn() {
    static const char* const kTxns[] = {"", "txn-1", "txn-2", "txn-3"};
    return kTxns[Uniform(0, 3)];
  }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

 private:
  char Letter() { return static_cast<char>('a' + Uniform(0, 5)); }
  std::mt19937 rng_;
};

std::string EndOf(const std::pair<std::string, std::string>& span) {
  return span.second.empty() ? span.first + '\0' : span.second;
}

TEST(TimestampCacheTest, RandomizedMatchesModelExactlyWithoutEviction) {
  RandomOps ops(/*seed=*/20240611);
  TimestampCache c;
  std::vector<Read> reads;
  Timestamp low_water;
  for (int i = 0; i < 4000; ++i) {
    if (ops.Uniform(0, 199) == 0) {
      const Timestamp lw = T(ops.Uniform(1, 30));
      c.SetLowWater(lw);
      low_water = std::max(low_water, lw);
    } else {
      const auto span = ops.Span();
      Read read{span.first, EndOf(span), ops.Ts(), ops.Txn()};
      c.Add(span.first, span.second, read.ts, read.txn_id);
      reads.push_back(std::move(read));
    }
    for (int q = 0; q < 3; ++q) {
      const auto span = ops.Span();
      const TimestampCache::Result want = ModelMax(reads, low_water, span.first, EndOf(span));
      const TimestampCache::Result got = c.GetMax(span.first, span.second);
      ASSERT_EQ(got.ts, want.ts) << "op " << i << " [" << span.first << ", " << span.second << ")";
      ASSERT_EQ(got.txn_id, want.txn_id)
          << "op " << i << " [" << span.first << ", " << span.second << ")";
    }
  }
  EXPECT_EQ(c.low_water(), low_water);
}

// With a tiny bound the cache forgets constantly. Safety: the answer is never below the
// true max read; it names a txn only if that txn is the sole reader at the answer's
// timestamp; and for a fixed key it never goes down over time.
TEST(TimestampCacheTest, RandomizedEvictionNeverAnswersBelowTrueMax) {
  constexpr size_t kMaxEntries = 8;
  RandomOps ops(/*seed=*/7);
  TimestampCache c(TimestampCache::Options{.max_entries = kMaxEntries});
  std::vector<Read> reads;
  std::vector<std::string> probe_keys;
  for (char a = 'a'; a <= 'f'; ++a) {
    probe_keys.emplace_back(1, a);
    for (char b = 'a'; b <= 'f'; ++b) probe_keys.push_back(std::string{a, b});
  }
  std::vector<TimestampCache::Result> last(probe_keys.size());
  int evictions = 0;  // Adds that raised the low-water mark

  for (int i = 0; i < 5000; ++i) {
    const auto span = ops.Span();
    Read read{span.first, EndOf(span), ops.Ts(/*base=*/i / 8), ops.Txn()};
    const Timestamp low_water_before = c.low_water();
    c.Add(span.first, span.second, read.ts, read.txn_id);
    if (c.low_water() > low_water_before) ++evictions;
    reads.push_back(std::move(read));
    ASSERT_LE(c.size(), kMaxEntries) << "op " << i;

    for (int q = 0; q < 3; ++q) {
      const auto qs = ops.Span();
      const TimestampCache::Result truth = ModelMax(reads, Timestamp{}, qs.first, EndOf(qs));
      const TimestampCache::Result got = c.GetMax(qs.first, qs.second);
      ASSERT_GE(got.ts, truth.ts) << "op " << i << " [" << qs.first << ", " << qs.second << ")";
      ASSERT_GE(got.ts, c.low_water());
      if (!got.txn_id.empty()) {  // a named reader must be the sole reader at got.ts
        ASSERT_EQ(got.ts, truth.ts) << "op " << i;
        ASSERT_EQ(got.txn_id, truth.txn_id) << "op " << i;
      }
    }
    for (size_t k = 0; k < probe_keys.size(); ++k) {
      const TimestampCache::Result got = c.GetMax(probe_keys[k], "");
      ASSERT_GE(got.ts, last[k].ts) << "op " << i << " key " << probe_keys[k];
      if (got.ts == last[k].ts && !got.txn_id.empty()) {
        ASSERT_EQ(got.txn_id, last[k].txn_id) << "op " << i << " key " << probe_keys[k];
      }
      last[k] = got;
    }
  }
  EXPECT_GT(evictions, 50) << "the bound did not force evictions often enough";
}

TEST(TimestampCacheTest, ConcurrentReadersAndWritersSeeTheirOwnReads) {
  TimestampCache c(TimestampCache::Options{.max_entries = 256});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      const std::string txn = absl::StrCat("txn-", t);
      for (int i = 1; i <= 2000; ++i) {
        const std::string key = absl::StrCat("k", t, "-", i % 97);
        c.Add(key, "", T(i), txn);
        EXPECT_GE(c.GetMax(key, "").ts, T(i));
        EXPECT_GE(c.GetMax("k", "l").ts, T(i));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_LE(c.size(), 256u);
}

}  // namespace
}  // namespace rangedb::ranges
