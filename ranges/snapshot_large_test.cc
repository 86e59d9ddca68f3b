// A range larger than 256 MiB — the old limit of a snapshot travelling in one message —
// is snapshotted to a follower that was down while it grew, while writes continue on it
// and on another range. Label `slow`: it moves over 300 MiB through Raft and RocksDB on
// disk (about a minute or two on this machine).
//
// It prints the write latency of the other range before and during the snapshot
// (docs/benchmarks.md, "Snapshot of a large range"); the test asserts only outcomes.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "ranges/store.h"
#include "ranges/testing/test_cluster.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kBigRange = 3;    // [\x04, \x05)
constexpr uint64_t kOtherRange = 4;  // [\x05, KeyMax)
constexpr size_t kValueBytes = 512 << 10;
constexpr int kValues = 600;  // 300 MiB

std::string RandomValue(std::mt19937_64& rng) {
  std::string v(kValueBytes, '\0');
  for (size_t i = 0; i + 8 <= v.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(&v[i], &r, 8);
  }
  return v;
}

struct Latencies {
  std::vector<double> ms;
  std::string Summary() const {
    if (ms.empty()) return "no writes";
    std::vector<double> v = ms;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
      return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    return absl::StrFormat("n=%d p50=%.1fms p99=%.1fms max=%.1fms", v.size(), pct(0.5), pct(0.99),
                           v.back());
  }
};

TEST(SnapshotLargeTest, RangeOver256MiBIsSnapshottedToARestartedFollower) {
  const std::string dir = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                       "/snapshot_large_test_", getpid());
  std::filesystem::remove_all(dir);
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_log_truncate_threshold_entries = 20;  // the leader truncates what the follower needs
  {
    TestCluster c(3, cfg, {"\x05"}, nullptr, dir);
    ASSERT_FALSE(c.Send(kBigRange, PutRequest("\x04"
                                              "first",
                                              "v"))
                     .has_error());
    ASSERT_FALSE(c.Send(kOtherRange, PutRequest("\x05"
                                                "first",
                                                "v"))
                     .has_error());
    const uint64_t leader = c.LeaseholderOf(kBigRange);
    ASSERT_NE(leader, 0u);
    const uint64_t follower = leader == 3 ? 2 : 3;
    std::printf("big range leaseholder n%llu, other range leaseholder n%llu, follower n%llu\n",
                static_cast<unsigned long long>(leader),
                static_cast<unsigned long long>(c.LeaseholderOf(kOtherRange)),
                static_cast<unsigned long long>(follower));

    // The follower is down while the range grows past 256 MiB.
    c.StopNode(follower);
    const absl::Time load_start = absl::Now();
    std::atomic<int> next{0};
    std::atomic<bool> load_failed{false};
    std::vector<std::thread> loaders;
    for (int t = 0; t < 4; ++t) {
      loaders.emplace_back([&, t] {
        std::mt19937_64 rng(t);
        for (int i = next++; i < kValues; i = next++) {
          kvpb::BatchResponse r = c.Send(kBigRange,
                                         PutRequest(absl::StrFormat("\x04"
                                                                    "big/%05d",
                                                                    i),
                                                    RandomValue(rng)),
                                         absl::Seconds(60));
          if (r.has_error()) {
            std::printf("load write %d failed: %s\n", i, r.error().message().c_str());
            load_failed = true;
            return;
          }
        }
      });
    }
    for (std::thread& t : loaders) t.join();
    ASSERT_FALSE(load_failed.load());
    std::printf("loaded %d MiB in %s\n", static_cast<int>(kValues * kValueBytes >> 20),
                absl::FormatDuration(absl::Now() - load_start).c_str());

    // The other range's write latency, before and during the snapshot; writes go on
    // in the big range too.
    std::atomic<int> phase{0};  // 0 before, 1 during, 2 done
    Latencies before;
    Latencies during;
    std::atomic<bool> other_failed{false};
    std::thread other([&] {
      for (int i = 0; phase.load() < 2; ++i) {
        const absl::Time start = absl::Now();
        kvpb::BatchResponse r = c.Send(kOtherRange, PutRequest(absl::StrFormat("\x05"
                                                                               "o/%06d",
                                                                               i),
                                                               "v"));
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        if (r.has_error()) other_failed = true;
        (phase.load() == 0 ? before : during).ms.push_back(ms);
      }
    });
    std::thread big_writer([&] {
      for (int i = 0; phase.load() < 2; ++i) {
        (void)c.Send(kBigRange, PutRequest(absl::StrFormat("\x04"
                                                           "more/%06d",
                                                           i),
                                           "v"));
      }
    });
    absl::SleepFor(absl::Seconds(5));  // collect the "before" sample

    // The leader must have truncated past what the follower holds.
    const uint64_t leader_first = StatusOn(c, leader, kBigRange).first_log_index;
    std::printf("leader log starts at %llu\n", static_cast<unsigned long long>(leader_first));
    phase = 1;
    const absl::Time restart = absl::Now();
    c.StartNode(follower);
    const uint64_t target = StatusOn(c, leader, kBigRange).applied_index;
    const absl::Time deadline = absl::Now() + absl::Minutes(5);
    while (StatusOn(c, follower, kBigRange).applied_index < target && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    const absl::Duration caught_up = absl::Now() - restart;
    phase = 2;
    other.join();
    big_writer.join();
    ASSERT_GE(StatusOn(c, follower, kBigRange).applied_index, target)
        << "the restarted follower never caught up";
    std::printf("follower caught up in %s\n", absl::FormatDuration(caught_up).c_str());
    std::printf("other range writes before: %s\n", before.Summary().c_str());
    std::printf("other range writes during: %s\n", during.Summary().c_str());
    EXPECT_FALSE(other_failed.load());
    const StoreMetrics& lm = c.StoreOf(leader)->metrics();
    const StoreMetrics& fm = c.StoreOf(follower)->metrics();
    std::printf("leader: snapshots sent %llu (%llu MiB, %llu failed); follower: applied %llu\n",
                static_cast<unsigned long long>(lm.snapshots_sent.load()),
                static_cast<unsigned long long>(lm.snapshot_bytes_sent.load() >> 20),
                static_cast<unsigned long long>(lm.snapshots_send_failed.load()),
                static_cast<unsigned long long>(fm.snapshots_applied.load()));
    EXPECT_GT(lm.snapshot_bytes_sent.load(), uint64_t{256} << 20);

    // The follower holds exactly what the leader holds.
    const auto [at_leader, at_follower] =
        c.StableDigests(kBigRange, leader, follower, absl::Seconds(60));
    EXPECT_GT(at_leader.bytes, uint64_t{256} << 20);
    EXPECT_EQ(at_leader.keys, at_follower.keys);
    EXPECT_EQ(at_leader.bytes, at_follower.bytes);
    EXPECT_EQ(at_leader.hash, at_follower.hash);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rangedb::ranges
