#include "node/gossip_store.h"

#include <atomic>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rangedb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kSecond = 1'000'000'000;

nodepb::GossipInfo Info(std::string key, std::string value, int64_t version, uint64_t origin,
                        int64_t expires_unix_ns = 0) {
  nodepb::GossipInfo info;
  info.set_key(std::move(key));
  info.set_value(std::move(value));
  info.set_version(version);
  info.set_origin_node_id(origin);
  info.set_expires_unix_ns(expires_unix_ns);
  return info;
}

std::vector<std::pair<std::string, std::string>> KeyValues(
    const std::vector<nodepb::GossipInfo>& infos) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& info : infos) out.emplace_back(info.key(), info.value());
  return out;
}

TEST(GossipStoreTest, AddLocalVersionIsClockOrPreviousPlusOne) {
  GossipStore store(/*node_id=*/1);
  ASSERT_TRUE(store.AddLocal("node:1", "a", /*now_ns=*/100).ok());
  EXPECT_EQ(store.Get("node:1", 100)->version(), 100);
  EXPECT_EQ(store.Get("node:1", 100)->origin_node_id(), 1u);
  // The clock went backwards (or did not move): the version still grows.
  ASSERT_TRUE(store.AddLocal("node:1", "b", /*now_ns=*/50).ok());
  EXPECT_EQ(store.Get("node:1", 100)->version(), 101);
  EXPECT_EQ(store.Get("node:1", 100)->value(), "b");
  ASSERT_TRUE(store.AddLocal("node:1", "c", /*now_ns=*/500).ok());
  EXPECT_EQ(store.Get("node:1", 500)->version(), 500);
  // A local write also supersedes a newer version learned from a peer.
  ASSERT_TRUE(store.Merge({Info("node:1", "peer", 900, 7)}, 500).status.ok());
  ASSERT_TRUE(store.AddLocal("node:1", "d", /*now_ns=*/600).ok());
  EXPECT_EQ(store.Get("node:1", 600)->version(), 901);
  EXPECT_EQ(store.Get("node:1", 600)->origin_node_id(), 1u);
}

TEST(GossipStoreTest, MergeKeepsHigherVersionThenHigherOrigin) {
  GossipStore store(1);
  GossipMergeResult result = store.Merge({Info("k", "v10", 10, 2)}, 0);
  EXPECT_THAT(result.changed_keys, ElementsAre("k"));
  // Older version: ignored, not an error.
  result = store.Merge({Info("k", "v5", 5, 9)}, 0);
  EXPECT_THAT(result.changed_keys, IsEmpty());
  EXPECT_TRUE(result.status.ok());
  // Same version, higher origin wins; lower origin loses.
  EXPECT_THAT(store.Merge({Info("k", "o3", 10, 3)}, 0).changed_keys, ElementsAre("k"));
  EXPECT_THAT(store.Merge({Info("k", "o2", 10, 2)}, 0).changed_keys, IsEmpty());
  // Identical info again: no change (idempotent).
  EXPECT_THAT(store.Merge({Info("k", "o3", 10, 3)}, 0).changed_keys, IsEmpty());
  EXPECT_EQ(store.Get("k", 0)->value(), "o3");
  EXPECT_THAT(store.Merge({Info("k", "v11", 11, 1)}, 0).changed_keys, ElementsAre("k"));
  EXPECT_EQ(store.Get("k", 0)->value(), "v11");
}

TEST(GossipStoreTest, ExpiredInfosAreHiddenDroppedAndPurged) {
  GossipStore store(1);
  ASSERT_TRUE(store.AddLocal("ttl", "x", 10 * kSecond, /*ttl_ns=*/5 * kSecond).ok());
  ASSERT_TRUE(store.AddLocal("forever", "y", 10 * kSecond).ok());
  EXPECT_EQ(store.Get("ttl", 10 * kSecond)->expires_unix_ns(), 15 * kSecond);
  EXPECT_TRUE(store.Get("ttl", 15 * kSecond - 1).has_value());
  EXPECT_FALSE(store.Get("ttl", 15 * kSecond).has_value());
  EXPECT_THAT(KeyValues(store.Infos(15 * kSecond)), ElementsAre(std::pair("forever", "y")));
  // A peer's expired info is dropped, not stored.
  GossipMergeResult result = store.Merge({Info("old", "z", 1, 2, 12 * kSecond)}, 13 * kSecond);
  EXPECT_THAT(result.changed_keys, IsEmpty());
  EXPECT_TRUE(result.status.ok());
  // An expired local info loses to any live one, even with an older version.
  EXPECT_THAT(store.Merge({Info("ttl", "revived", 1, 2)}, 16 * kSecond).changed_keys,
              ElementsAre("ttl"));
  ASSERT_TRUE(store.AddLocal("short", "s", 16 * kSecond, kSecond).ok());
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.PurgeExpired(20 * kSecond), 1u);
  EXPECT_EQ(store.size(), 2u);
}

TEST(GossipStoreTest, BoundsRejectWithoutCrashing) {
  GossipStoreOptions options;
  options.max_infos = 3;
  options.max_value_bytes = 8;
  options.max_key_bytes = 16;
  GossipStore store(1, options);

  absl::Status status = store.AddLocal("k", std::string(9, 'v'), 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("exceeds the limit of 8"));
  EXPECT_EQ(store.AddLocal("", "v", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.AddLocal("k", "v", 0, -1).code(), absl::StatusCode::kInvalidArgument);

  // A hostile batch: oversized value, oversized key, empty key, negative version, and
  // more keys than fit. The valid infos that fit still apply.
  GossipMergeResult result = store.Merge(
      {Info("a", "1", 1, 2), Info("b", std::string(100, 'x'), 1, 2),
       Info(std::string(17, 'k'), "1", 1, 2), Info("", "1", 1, 2), Info("c", "1", -5, 2),
       Info("d", "1", 1, 2), Info("e", "1", 1, 2), Info("f", "1", 1, 2)},
      0);
  EXPECT_THAT(result.changed_keys, ElementsAre("a", "d", "e"));
  EXPECT_EQ(result.rejected, 5u);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status.message(), ::testing::HasSubstr("and 4 more"));
  EXPECT_EQ(store.size(), 3u);

  // Full: a new key is refused, an existing key still updates.
  status = store.AddLocal("g", "v", 5);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("\"g\""));
  EXPECT_TRUE(store.AddLocal("a", "v", 5).ok());
}

TEST(GossipStoreTest, FullStoreMakesRoomByPurgingExpired) {
  GossipStoreOptions options;
  options.max_infos = 2;
  GossipStore store(1, options);
  ASSERT_TRUE(store.AddLocal("a", "v", 0, /*ttl_ns=*/10).ok());
  ASSERT_TRUE(store.AddLocal("b", "v", 0).ok());
  EXPECT_FALSE(store.AddLocal("c", "v", 5).ok());
  EXPECT_TRUE(store.AddLocal("c", "v", 10).ok());
  EXPECT_THAT(KeyValues(store.Infos(10)), ElementsAre(std::pair("b", "v"), std::pair("c", "v")));
}

TEST(GossipStoreTest, GetPrefix) {
  GossipStore store(1);
  for (const char* key : {"node:1", "node:2", "nodes", "liveness:1", "node:"}) {
    ASSERT_TRUE(store.AddLocal(key, key, 1).ok());
  }
  EXPECT_THAT(KeyValues(store.GetPrefix("node:", 1)),
              ElementsAre(std::pair("node:", "node:"), std::pair("node:1", "node:1"),
                          std::pair("node:2", "node:2")));
  EXPECT_THAT(store.GetPrefix("zzz", 1), IsEmpty());
  EXPECT_EQ(store.Infos(1).size(), 5u);
}

TEST(GossipStoreTest, CallbacksSeeExistingThenEachChangeOfTheirPrefix) {
  GossipStore store(1);
  ASSERT_TRUE(store.AddLocal("node:1", "old", 1).ok());
  ASSERT_TRUE(store.AddLocal("other", "x", 1).ok());
  std::vector<std::pair<std::string, std::string>> seen;
  ASSERT_TRUE(store
                  .RegisterCallback(
                      "node:",
                      [&](std::string_view key, std::string_view value) {
                        // Reads from a callback are allowed and see this write.
                        EXPECT_EQ(store.Get(key, 10)->value(), value);
                        seen.emplace_back(key, value);
                      },
                      1)
                  .ok());
  ASSERT_TRUE(store.AddLocal("node:1", "new", 2).ok());
  ASSERT_TRUE(store.AddLocal("other", "y", 3).ok());
  GossipMergeResult result =
      store.Merge({Info("node:2", "peer", 5, 2), Info("node:1", "stale", 1, 2)}, 5);
  EXPECT_THAT(result.changed_keys, ElementsAre("node:2"));
  EXPECT_THAT(seen, ElementsAre(std::pair("node:1", "old"), std::pair("node:1", "new"),
                                std::pair("node:2", "peer")));
}

TEST(GossipStoreTest, CallbackBound) {
  GossipStoreOptions options;
  options.max_callbacks = 1;
  GossipStore store(1, options);
  EXPECT_TRUE(store
                  .RegisterCallback(
                      "", [](std::string_view, std::string_view) {}, 0)
                  .ok());
  EXPECT_EQ(store
                .RegisterCallback(
                    "", [](std::string_view, std::string_view) {}, 0)
                .code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(GossipStoreTest, ConcurrentWritersAndReaders) {
  GossipStore store(1);
  std::atomic<int> notified{0};
  ASSERT_TRUE(store
                  .RegisterCallback(
                      "", [&](std::string_view, std::string_view) { ++notified; }, 0)
                  .ok());
  constexpr int kThreads = 4;
  constexpr int kWrites = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = absl::StrCat("t", t, "/k", i % 10);
        if (i % 2 == 0) {
          EXPECT_TRUE(store.AddLocal(key, absl::StrCat(i), i).ok());
        } else {
          (void)store.Merge({Info(key, absl::StrCat(i), i, 2)}, i);
        }
        (void)store.GetPrefix(absl::StrCat("t", t), i);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(notified.load(), kThreads * kWrites);
  EXPECT_EQ(store.Infos(kWrites).size(), size_t{kThreads * 10});
  EXPECT_EQ(store.Get("t0/k9", kWrites)->value(), absl::StrCat(kWrites - 1));
}

// Issue 14, finding 13: node 2 restarts at a new address with its clock stepped back
// 600 s. Its old record (from the clock before the step) must not win: after one
// gossip round each way, the peer has the new address and node 2 kept it.
TEST(GossipStoreTest, RestartedNodeWithAClockSteppedBackWinsWithItsNewRecord) {
  GossipStore before(2);
  ASSERT_TRUE(before.AddLocal("node:2", "old-address", 1000 * kSecond).ok());
  GossipStore peer(1);
  (void)peer.Merge(before.Infos(1000 * kSecond), 1000 * kSecond);
  GossipStore after(2);  // the restarted node 2
  const int64_t now = 400 * kSecond;
  ASSERT_TRUE(after.AddLocal("node:2", "new-address", now).ok());
  auto round = [&](GossipStore& from, GossipStore& to) {
    (void)to.Merge(from.Infos(now), now);
    (void)from.Merge(to.Infos(now), now);
  };
  round(after, peer);
  round(peer, after);
  EXPECT_EQ(after.Get("node:2", now)->value(), "new-address");
  EXPECT_EQ(peer.Get("node:2", now)->value(), "new-address");
}

// The refutation is only for this node's own records from an older life: a newer
// record of another origin still wins, and a restarted node adopts its older-life
// record for a key it has not written yet (its next write goes above it).
TEST(GossipStoreTest, OnlyOwnRecordsWrittenInThisLifeAreRefuted) {
  GossipStore store(2);
  ASSERT_TRUE(store.AddLocal("first-range", "mine", 100).ok());
  EXPECT_THAT(store.Merge({Info("first-range", "theirs", 200, 3)}, 100).changed_keys,
              ElementsAre("first-range"));
  EXPECT_EQ(store.Get("first-range", 100)->value(), "theirs");
  EXPECT_THAT(store.Merge({Info("liveness:2", "old-life", 900, 2)}, 100).changed_keys,
              ElementsAre("liveness:2"));
  ASSERT_TRUE(store.AddLocal("liveness:2", "now", 100).ok());
  EXPECT_EQ(store.Get("liveness:2", 100)->version(), 901);
  // The largest version has no successor: refused, so no version ever overflows.
  GossipMergeResult r =
      store.Merge({Info("node:2", "x", std::numeric_limits<int64_t>::max(), 2)}, 100);
  EXPECT_EQ(r.rejected, 1u);
}

// Review finding N6: versions and expiries near INT64_MAX. A version one below the
// largest is valid, but refuting it (+1) made the largest, and the next AddLocal
// computed largest + 1: a signed overflow. A huge TTL overflowed now + ttl the same
// way. Versions keep headroom (GossipStore::kVersionMax) and expiries saturate.
TEST(GossipStoreTest, VersionsAndExpiriesNearTheLargestDoNotOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  GossipStore store(2);
  ASSERT_TRUE(store.AddLocal("liveness:2", "now", 100).ok());
  (void)store.Merge({Info("liveness:2", "old-life", kMax - 1, 2)}, 100);
  ASSERT_TRUE(store.AddLocal("liveness:2", "later", 200).ok());
  std::optional<nodepb::GossipInfo> got = store.Get("liveness:2", 200);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value(), "later");
  EXPECT_GT(got->version(), 0) << "the version wrapped around";
  EXPECT_LT(got->version(), kMax) << "no version could ever replace this one";
  // Just below the bound: valid, but refuting it would reach the bound, and every
  // later write of the key would fail (review of issue 14, F4). Refused on merge.
  constexpr int64_t kJustValid = GossipStore::kVersionMax - 1;
  EXPECT_FALSE(store.Merge({Info("liveness:2", "bogus", kJustValid, 2)}, 200).status.ok());
  ASSERT_TRUE(store.AddLocal("liveness:2", "even-later", 300).ok())
      << "a merged version left this node unable to write its own key";
  EXPECT_EQ(store.Get("liveness:2", 300)->value(), "even-later");
  // A TTL that would run past the largest time never expires instead of wrapping.
  EXPECT_TRUE(store.AddLocal("forever", "v", 100, kMax).ok());
  ASSERT_TRUE(store.Get("forever", 100).has_value());
}

// Three nodes write concurrently (including the same key) and gossip pairwise in a
// random order; once every pair has exchanged after the last write, all stores hold
// the same infos, and the contested key holds the highest (version, origin).
TEST(GossipStoreTest, ThreeStoresConvergeInAnyExchangeOrder) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::vector<std::unique_ptr<GossipStore>> stores;
    for (uint64_t id = 1; id <= 3; ++id) stores.push_back(std::make_unique<GossipStore>(id));
    int64_t now_ns = 1000;
    auto exchange = [&](size_t from, size_t to) {
      // A full gossip round: `to` merges from's infos and replies with its own.
      (void)stores[to]->Merge(stores[from]->Infos(now_ns), now_ns);
      (void)stores[from]->Merge(stores[to]->Infos(now_ns), now_ns);
    };
    for (int step = 0; step < 60; ++step) {
      size_t node = rng() % 3;
      if (rng() % 2 == 0) {
        std::string key = (rng() % 3 == 0) ? "contested" : absl::StrCat("k", rng() % 10);
        ASSERT_TRUE(stores[node]->AddLocal(key, absl::StrCat("n", node, "s", step), now_ns).ok());
      } else {
        exchange(node, (node + 1 + rng() % 2) % 3);
      }
      // Same-version writes on different nodes are common: the clock moves slowly.
      now_ns += rng() % 2;
    }
    // Random rounds, then a final pass over every ordered pair in random order.
    std::vector<std::pair<size_t, size_t>> pairs = {{0, 1}, {1, 2}, {2, 0}, {1, 0}, {2, 1}, {0, 2}};
    std::shuffle(pairs.begin(), pairs.end(), rng);
    for (auto [from, to] : pairs) exchange(from, to);
    for (auto [from, to] : pairs) exchange(from, to);

    auto reference = stores[0]->Infos(now_ns);
    for (size_t i = 1; i < 3; ++i) {
      auto infos = stores[i]->Infos(now_ns);
      ASSERT_EQ(infos.size(), reference.size()) << "seed " << seed;
      for (size_t j = 0; j < infos.size(); ++j) {
        EXPECT_EQ(infos[j].SerializeAsString(), reference[j].SerializeAsString())
            << "seed " << seed << " key " << infos[j].key();
      }
    }
  }
}

}  // namespace
}  // namespace rangedb
