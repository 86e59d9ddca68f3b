// Metrics: counters, gauges and histograms exported in the Prometheus text exposition
// format, version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/),
// served by the node's HTTP server at /metrics.
//
// A MetricsRegistry owns every metric registered with it and hands out stable raw
// pointers that stay valid for the registry's lifetime; metrics are never removed. A
// metric belongs to a family (one name, one HELP, one TYPE) and carries constant
// labels fixed at registration, e.g. {peer="2"}. Registering the same name and labels
// again returns the existing metric, so a component may look its metric up lazily.
//
// Names are compile-time constants, so an invalid metric or label name, a name reused
// with another type, or a histogram without sorted finite bounds is a programming
// error and aborts the process, as does exceeding kMaxSeries.
//
// Typical use:
//   Counter* requests = registry.AddCounter("rangedb_kv_requests_total", "KV batches.");
//   Histogram* latency = registry.AddHistogram("rangedb_kv_latency_seconds",
//                                              "KV batch latency.", kLatencyBoundsSeconds);
//   { ScopedLatency timer(latency); requests->Increment(); ... }
//
// Thread safety: Counter, Gauge and Histogram updates are lock-free (relaxed atomics)
// and safe from any thread. Registration takes the registry mutex. Exposition() takes
// the mutex only to snapshot the series list and evaluates callback gauges without it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rangedb {

// Constant labels of one series: (name, value) pairs in the order given. Label names
// match [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__"; values are any UTF-8.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count (Prometheus type "counter").
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (Prometheus type "gauge").
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets with fixed, inclusive upper bounds ("le"), plus
// their sum and count (Prometheus type "histogram"). A value equal to a bound lands in
// that bound's bucket; values above the last bound (and NaN) land only in +Inf.
class Histogram {
 public:
  // REQUIRES: upper_bounds is non-empty, finite and strictly increasing.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative counts per bound, then +Inf last (size upper_bounds().size() + 1). The
  // +Inf entry is the total count. Concurrent observations may be partly included.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> upper_bounds_;
  // Non-cumulative count per bucket; index upper_bounds_.size() is +Inf.
  const std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds from 100 µs to 10 s, for RPC and request latencies.
extern const std::vector<double> kDefaultLatencyBoundsSeconds;

// Records the seconds from construction to destruction into a histogram.
class ScopedLatency {
 public:
  explicit ScopedLatency(Histogram* histogram)
      : histogram_(histogram), start_(std::chrono::steady_clock::now()) {}
  ~ScopedLatency() {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    histogram_->Observe(elapsed.count());
  }
  ScopedLatency(const ScopedLatency&) = delete;
  ScopedLatency& operator=(const ScopedLatency&) = delete;

 private:
  Histogram* const histogram_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsRegistry {
 public:
  // Bound on series (name + label set) per registry: label values are meant to be
  // small sets such as peer node ids, not keys or request ids.
  static constexpr size_t kMaxSeries = 10'000;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each returns the metric registered under (name, labels), creating it if needed.
  // The help text of the first registration of a name is the family's HELP.
  Counter* AddCounter(std::string_view name, std::string_view help, MetricLabels labels = {});
  Gauge* AddGauge(std::string_view name, std::string_view help, MetricLabels labels = {});
  // REQUIRES: bounds as for Histogram; labels contain no "le". Re-registering the same
  // series with different bounds aborts.
  Histogram* AddHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds, MetricLabels labels = {});
  // A gauge whose value is fn() at scrape time. REQUIRES: fn is thread-safe, quick,
  // does not call into this registry, and stays callable for the registry's lifetime;
  // (name, labels) is not registered yet.
  void AddCallbackGauge(std::string_view name, std::string_view help, MetricLabels labels,
                        std::function<double()> fn);

  // The text exposition (Content-Type kContentType): families sorted by name, series in
  // registration order.
  std::string Exposition() const;
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> gauge_fn;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::unique_ptr<Series>> series;  // never removed: pointers stay valid
  };

  // Returns the series (name, labels), creating it (and the family) if needed; `created`
  // says which. Aborts on invalid names, a type mismatch or a full registry.
  Series* FindOrAddLocked(std::string_view name, std::string_view help, Type type,
                          MetricLabels labels, bool* created) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  size_t series_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Escapes a label value for the exposition format: backslash, double quote, newline.
std::string EscapeMetricLabelValue(std::string_view value);
// Formats a sample value: shortest round-trip decimal, or +Inf / -Inf / NaN.
std::string FormatMetricValue(double value);

}  // namespace rangedb
