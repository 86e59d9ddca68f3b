#include "ranges/range_cache.h"

#include "gtest/gtest.h"

namespace rangedb::ranges {
namespace {

kvpb::RangeDescriptor Desc(uint64_t range_id, const std::string& start, const std::string& end,
                           uint64_t generation = 1) {
  kvpb::RangeDescriptor d;
  d.set_range_id(range_id);
  d.set_start_key(start);
  d.set_end_key(end);
  d.set_generation(generation);
  d.add_replicas()->set_node_id(1);
  return d;
}

std::optional<uint64_t> RangeOf(RangeCache& cache, const std::string& key) {
  std::optional<kvpb::RangeDescriptor> d = cache.Lookup(key);
  if (!d.has_value()) return std::nullopt;
  return d->range_id();
}

TEST(RangeCacheTest, LookupIsStartInclusiveEndExclusive) {
  RangeCache cache(10);
  cache.Insert(Desc(3, "b", "m"));
  cache.Insert(Desc(4, "m", "t"));
  EXPECT_EQ(RangeOf(cache, "a"), std::nullopt);  // below every cached range
  EXPECT_EQ(RangeOf(cache, "b"), 3u);            // start key: inside
  EXPECT_EQ(RangeOf(cache, "lzz"), 3u);
  EXPECT_EQ(RangeOf(cache, "m"), 4u);  // end key of 3 is the start of 4
  EXPECT_EQ(RangeOf(cache, "s\xff"), 4u);
  EXPECT_EQ(RangeOf(cache, "t"), std::nullopt);  // end key: outside
  EXPECT_EQ(cache.metrics().hits.load(), 4u);
  EXPECT_EQ(cache.metrics().misses.load(), 2u);
}

TEST(RangeCacheTest, LookupMissesAGapBetweenCachedRanges) {
  RangeCache cache(10);
  cache.Insert(Desc(3, "b", "d"));
  cache.Insert(Desc(5, "m", "t"));
  EXPECT_EQ(RangeOf(cache, "e"), std::nullopt);  // first end key above "e" is "t", start "m"
  EXPECT_EQ(RangeOf(cache, "c"), 3u);
}

TEST(RangeCacheTest, EvictByRangeIdDropsDescriptorAndLeaseholder) {
  RangeCache cache(10);
  cache.Insert(Desc(3, "b", "m"));
  cache.SetLeaseholder(3, 2);
  ASSERT_EQ(cache.Leaseholder(3), 2u);
  cache.Evict(3);
  EXPECT_EQ(RangeOf(cache, "c"), std::nullopt);
  EXPECT_EQ(cache.Leaseholder(3), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(RangeCacheTest, EvictByDescriptorKeepsAFresherEntry) {
  RangeCache cache(10);
  cache.Insert(Desc(3, "b", "m", /*generation=*/5));
  cache.Evict(Desc(3, "b", "z", /*generation=*/4));  // a late error about an old version
  EXPECT_EQ(RangeOf(cache, "c"), 3u);
  cache.Evict(Desc(3, "b", "m", /*generation=*/5));
  EXPECT_EQ(RangeOf(cache, "c"), std::nullopt);
}

TEST(RangeCacheTest, InsertReplacesOverlappingOlderEntries) {
  RangeCache cache(10);
  cache.Insert(Desc(3, "b", "z", /*generation=*/1));  // before a split at "m"
  cache.Insert(Desc(3, "b", "m", /*generation=*/2));
  cache.Insert(Desc(7, "m", "z", /*generation=*/2));
  EXPECT_EQ(RangeOf(cache, "c"), 3u);
  EXPECT_EQ(RangeOf(cache, "n"), 7u);
  EXPECT_EQ(cache.size(), 2u);
  // The pre-split descriptor arriving late is stale and ignored.
  cache.Insert(Desc(3, "b", "z", /*generation=*/1));
  EXPECT_EQ(RangeOf(cache, "n"), 7u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(RangeCacheTest, BoundEvictsTheLeastRecentlyUsed) {
  RangeCache cache(3);
  cache.Insert(Desc(1, "a", "b"));
  cache.Insert(Desc(2, "b", "c"));
  cache.Insert(Desc(3, "c", "d"));
  ASSERT_EQ(RangeOf(cache, "a"), 1u);  // 1 is now the most recently used; 2 the least
  cache.Insert(Desc(4, "d", "e"));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.metrics().evictions.load(), 1u);
  EXPECT_EQ(RangeOf(cache, "b"), std::nullopt);
  EXPECT_EQ(RangeOf(cache, "a"), 1u);
  EXPECT_EQ(RangeOf(cache, "c"), 3u);
  EXPECT_EQ(RangeOf(cache, "d"), 4u);
  for (uint64_t id = 10; id < 20; ++id) cache.SetLeaseholder(id, 1);
  int known = 0;
  for (uint64_t id = 10; id < 20; ++id) known += cache.Leaseholder(id).has_value() ? 1 : 0;
  EXPECT_LE(known, 3);
  EXPECT_TRUE(cache.Leaseholder(19).has_value());  // the newest is kept
}

TEST(RangeCacheTest, ClearLeaseholderOnlyForgetsTheNamedNode) {
  RangeCache cache(10);
  cache.SetLeaseholder(3, 2);
  cache.ClearLeaseholder(3, 1);
  EXPECT_EQ(cache.Leaseholder(3), 2u);
  cache.ClearLeaseholder(3, 2);
  EXPECT_EQ(cache.Leaseholder(3), std::nullopt);
}

}  // namespace
}  // namespace rangedb::ranges
