#include "node/metrics.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rangedb {
namespace {

// Pins the whole exposition of a small registry (format 0.0.4): HELP and TYPE once per
// family, families sorted by name, series in registration order, histogram buckets
// cumulative with +Inf last, then _sum and _count.
TEST(MetricsRegistryTest, ExpositionOfSmallRegistry) {
  MetricsRegistry registry;
  Counter* sent_2 = registry.AddCounter("rangedb_raft_messages_sent_total", "Raft messages sent.",
                                        {{"peer", "2"}});
  Counter* sent_3 =
      registry.AddCounter("rangedb_raft_messages_sent_total", "ignored help", {{"peer", "3"}});
  Gauge* ranges = registry.AddGauge("rangedb_ranges", "Range replicas on this node.");
  registry.AddCallbackGauge("rangedb_uptime_seconds", "Seconds since start.", {},
                            [] { return 12.5; });
  Histogram* latency =
      registry.AddHistogram("rangedb_kv_latency_seconds", "KV batch latency.", {0.01, 0.1, 1});
  sent_2->Increment();
  sent_2->Increment(4);
  sent_3->Increment();
  ranges->Set(7);
  ranges->Add(-2);
  latency->Observe(0.005);
  latency->Observe(0.1);
  latency->Observe(3);

  EXPECT_EQ(registry.Exposition(),
            "# HELP rangedb_kv_latency_seconds KV batch latency.\n"
            "# TYPE rangedb_kv_latency_seconds histogram\n"
            "rangedb_kv_latency_seconds_bucket{le=\"0.01\"} 1\n"
            "rangedb_kv_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "rangedb_kv_latency_seconds_bucket{le=\"1\"} 2\n"
            "rangedb_kv_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "rangedb_kv_latency_seconds_sum 3.105\n"
            "rangedb_kv_latency_seconds_count 3\n"
            "# HELP rangedb_raft_messages_sent_total Raft messages sent.\n"
            "# TYPE rangedb_raft_messages_sent_total counter\n"
            "rangedb_raft_messages_sent_total{peer=\"2\"} 5\n"
            "rangedb_raft_messages_sent_total{peer=\"3\"} 1\n"
            "# HELP rangedb_ranges Range replicas on this node.\n"
            "# TYPE rangedb_ranges gauge\n"
            "rangedb_ranges 5\n"
            "# HELP rangedb_uptime_seconds Seconds since start.\n"
            "# TYPE rangedb_uptime_seconds gauge\n"
            "rangedb_uptime_seconds 12.5\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnsSameMetric) {
  MetricsRegistry registry;
  Counter* a = registry.AddCounter("c_total", "h", {{"peer", "1"}});
  Counter* b = registry.AddCounter("c_total", "h", {{"peer", "1"}});
  Counter* c = registry.AddCounter("c_total", "h", {{"peer", "2"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  Histogram* h1 = registry.AddHistogram("h_seconds", "h", {1, 2});
  Histogram* h2 = registry.AddHistogram("h_seconds", "h", {1, 2});
  EXPECT_EQ(h1, h2);
}

TEST(MetricsRegistryTest, HistogramWithLabelsPutsLeLast) {
  MetricsRegistry registry;
  Histogram* h = registry.AddHistogram("rpc_seconds", "RPC latency.", {0.5}, {{"method", "Get"}});
  h->Observe(0.5);
  EXPECT_EQ(registry.Exposition(),
            "# HELP rpc_seconds RPC latency.\n"
            "# TYPE rpc_seconds histogram\n"
            "rpc_seconds_bucket{method=\"Get\",le=\"0.5\"} 1\n"
            "rpc_seconds_bucket{method=\"Get\",le=\"+Inf\"} 1\n"
            "rpc_seconds_sum{method=\"Get\"} 0.5\n"
            "rpc_seconds_count{method=\"Get\"} 1\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.AddCounter("odd_total", "line one\nback\\slash", {{"path", "a\"b\\c\nd"}})->Increment();
  EXPECT_EQ(registry.Exposition(),
            "# HELP odd_total line one\\nback\\\\slash\n"
            "# TYPE odd_total counter\n"
            "odd_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(HistogramTest, LeIsInclusive) {
  Histogram h({1, 2, 5});
  h.Observe(0);     // le=1
  h.Observe(1);     // le=1 (equal to the bound)
  h.Observe(1.5);   // le=2
  h.Observe(2);     // le=2
  h.Observe(5);     // le=5
  h.Observe(5.01);  // +Inf only
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(h.Sum(), 14.51);
}

TEST(HistogramTest, NanGoesToInfBucket) {
  Histogram h({1});
  h.Observe(std::nan(""));
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{0, 1}));
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry registry;
  Counter* counter = registry.AddCounter("n_total", "h");
  Gauge* gauge = registry.AddGauge("g", "h");
  Histogram* histogram = registry.AddHistogram("h_seconds", "h", {0.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        gauge->Add(1);
        histogram->Observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  // Scrapes race with the increments; they must not crash or block them.
  for (int i = 0; i < 20; ++i) registry.Exposition();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter->Value(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(gauge->Value(), double{kThreads * kPerThread});
  EXPECT_EQ(histogram->CumulativeCounts(),
            (std::vector<uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread}));
  EXPECT_DOUBLE_EQ(histogram->Sum(), kThreads * kPerThread / 2 * 1.25);
}

TEST(MetricsTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
}

TEST(MetricsRegistryDeathTest, InvalidNamesAbort) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.AddCounter("1bad", "h"), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("bad-name", "h"), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("ok", "h", {{"bad:label", "x"}}), "invalid label name");
  EXPECT_DEATH(registry.AddCounter("ok", "h", {{"__reserved", "x"}}), "invalid label name");
  EXPECT_DEATH(registry.AddHistogram("ok", "h", {1}, {{"le", "x"}}), "reserved");
  EXPECT_DEATH(registry.AddHistogram("ok", "h", {2, 1}), "strictly increasing");
  registry.AddCounter("valid:name_total", "h");
  EXPECT_DEATH(registry.AddGauge("valid:name_total", "h"), "another type");
}

}  // namespace
}  // namespace rangedb
