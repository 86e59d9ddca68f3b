#include "bench/workload_kv.h"

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/latency_histogram.h"

namespace rangedb {

using client::KvClient;
namespace {

constexpr int kMaxConcurrency = 1024;
constexpr int64_t kMaxValueSizeBytes = 16 << 20;

// Counts the progress reporter reads while the workers run.
struct Counters {
  std::atomic<int64_t> ops{0};
  std::atomic<int64_t> errors{0};
};

// Random printable bytes, for values that are not trivially compressible.
std::string RandomPrintable(std::mt19937_64& rng, int64_t size) {
  std::uniform_int_distribution<int> dist('!', '~');
  std::string s(static_cast<size_t>(size), ' ');
  for (char& c : s) c = static_cast<char>(dist(rng));
  return s;
}

void PrintProgress(std::ostream& progress, const std::string& label, absl::Duration elapsed,
                   const Counters& counters) {
  const int64_t ops = counters.ops.load();
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-9);
  progress << absl::StrFormat("%s: elapsed=%.0fs ops=%d ops/s=%.1f errors=%d\n", label, seconds,
                              ops, ops / seconds, counters.errors.load())
           << std::flush;
}

// Makes one target per worker, runs body(worker, target) on each in its own thread,
// and prints progress from the calling thread until all return. Returns how long
// the workers ran.
absl::StatusOr<absl::Duration> RunWorkers(const KvWorkloadOptions& options,
                                          const KvTargetFactory& factory, const std::string& label,
                                          Counters& counters, std::ostream& progress,
                                          const std::function<void(int, KvTarget&)>& body) {
  std::vector<std::unique_ptr<KvTarget>> targets;
  for (int i = 0; i < options.concurrency; ++i) {
    absl::StatusOr<std::unique_ptr<KvTarget>> target = factory();
    if (!target.ok()) return target.status();
    targets.push_back(std::move(*target));
  }
  absl::Mutex mu;
  int finished = 0;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) {
    threads.emplace_back([&, i] {
      body(i, *targets[i]);
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  auto all_finished = [&] { return finished == options.concurrency; };
  {
    absl::MutexLock lock(&mu);
    while (!mu.AwaitWithTimeout(absl::Condition(&all_finished), options.progress_interval)) {
      mu.Unlock();
      PrintProgress(progress, label, absl::Now() - start, counters);
      mu.Lock();
    }
  }
  for (std::thread& t : threads) t.join();
  return absl::Now() - start;
}

int64_t ElapsedMicros(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

class RangedbTarget final : public KvTarget {
 public:
  explicit RangedbTarget(std::unique_ptr<KvClient> client) : client_(std::move(client)) {}
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return client_->Put(key, value);
  }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    return client_->Get(key);
  }

 private:
  std::unique_ptr<KvClient> client_;
};

// Visits keys worker, worker + C, worker + 2C, ... with visit(target, key).
absl::StatusOr<KvSweepResult> Sweep(
    const KvWorkloadOptions& options, const KvTargetFactory& factory, const std::string& label,
    std::ostream& progress,
    const std::function<absl::StatusOr<bool>(KvTarget&, const std::string&, std::mt19937_64&)>&
        visit) {
  if (absl::Status s = ValidateKvWorkloadOptions(options); !s.ok()) return s;
  Counters counters;
  std::atomic<int64_t> found{0};
  absl::StatusOr<absl::Duration> elapsed =
      RunWorkers(options, factory, label, counters, progress, [&](int worker, KvTarget& target) {
        std::mt19937_64 rng(options.seed + static_cast<uint64_t>(worker));
        for (int64_t k = worker; k < options.key_count; k += options.concurrency) {
          absl::StatusOr<bool> hit = visit(target, KvWorkloadKey(k), rng);
          ++(hit.ok() ? counters.ops : counters.errors);
          if (hit.ok() && *hit) ++found;
        }
      });
  if (!elapsed.ok()) return elapsed.status();
  return KvSweepResult{options.key_count, found.load(), counters.errors.load()};
}

}  // namespace

std::unique_ptr<KvTarget> NewRangedbTarget(std::unique_ptr<KvClient> client) {
  return std::make_unique<RangedbTarget>(std::move(client));
}

absl::Status ValidateKvWorkloadOptions(const KvWorkloadOptions& options) {
  if (options.concurrency < 1 || options.concurrency > kMaxConcurrency) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must be 1..", kMaxConcurrency, ", got ", options.concurrency));
  }
  if (options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must be positive");
  }
  if (options.read_percent < 0 || options.read_percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("read-percent must be 0..100, got ", options.read_percent));
  }
  if (options.value_size_bytes < 0 || options.value_size_bytes > kMaxValueSizeBytes) {
    return absl::InvalidArgumentError(absl::StrCat("value-size must be 0..", kMaxValueSizeBytes,
                                                   ", got ", options.value_size_bytes));
  }
  if (options.key_count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys must be at least 1, got ", options.key_count));
  }
  if (options.progress_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("progress interval must be positive");
  }
  return absl::OkStatus();
}

std::string KvWorkloadKey(int64_t index) { return absl::StrFormat("kv/%08d", index); }

double KvWorkloadResult::OpsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? ops / seconds : 0;
}

std::string FormatKvSummary(const KvWorkloadResult& result) {
  return absl::StrFormat("ops/s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f errors=%d",
                         result.OpsPerSecond(), result.p50_ms, result.p95_ms, result.p99_ms,
                         result.errors);
}

absl::StatusOr<KvWorkloadResult> RunKvWorkload(const KvWorkloadOptions& options,
                                               const KvTargetFactory& factory,
                                               std::ostream& progress) {
  if (absl::Status s = ValidateKvWorkloadOptions(options); !s.ok()) return s;
  Counters counters;
  std::vector<LatencyHistogram> histograms(options.concurrency);
  const absl::Time end = absl::Now() + options.duration;
  absl::StatusOr<absl::Duration> elapsed =
      RunWorkers(options, factory, "run kv", counters, progress, [&](int worker, KvTarget& target) {
        std::mt19937_64 rng(options.seed + static_cast<uint64_t>(worker));
        const std::string pool = RandomPrintable(rng, 2 * options.value_size_bytes + 1);
        std::uniform_int_distribution<int64_t> key_dist(0, options.key_count - 1);
        std::uniform_int_distribution<int> percent(0, 99);
        std::uniform_int_distribution<int64_t> offset(0, options.value_size_bytes);
        LatencyHistogram& histogram = histograms[worker];
        while (absl::Now() < end) {
          const std::string key = KvWorkloadKey(key_dist(rng));
          const bool read = percent(rng) < options.read_percent;
          const auto start = std::chrono::steady_clock::now();
          const absl::Status status =
              read ? target.Get(key).status()
                   : target.Put(key, absl::string_view(pool).substr(offset(rng),
                                                                    options.value_size_bytes));
          histogram.Record(ElapsedMicros(start));
          ++(status.ok() ? counters.ops : counters.errors);
        }
      });
  if (!elapsed.ok()) return elapsed.status();
  LatencyHistogram all;
  for (const LatencyHistogram& h : histograms) all.Merge(h);
  KvWorkloadResult result;
  result.ops = counters.ops.load();
  result.errors = counters.errors.load();
  result.elapsed = *elapsed;
  result.p50_ms = all.QuantileMs(0.50);
  result.p95_ms = all.QuantileMs(0.95);
  result.p99_ms = all.QuantileMs(0.99);
  return result;
}

absl::StatusOr<KvSweepResult> InitKvWorkload(const KvWorkloadOptions& options,
                                             const KvTargetFactory& factory,
                                             std::ostream& progress) {
  return Sweep(
      options, factory, "init kv", progress,
      [&](KvTarget& target, const std::string& key, std::mt19937_64& rng) -> absl::StatusOr<bool> {
        absl::Status status = target.Put(key, RandomPrintable(rng, options.value_size_bytes));
        if (!status.ok()) return status;
        return true;
      });
}

absl::StatusOr<KvSweepResult> CheckKvWorkload(const KvWorkloadOptions& options,
                                              const KvTargetFactory& factory,
                                              std::ostream& progress) {
  return Sweep(
      options, factory, "check kv", progress,
      [](KvTarget& target, const std::string& key, std::mt19937_64&) -> absl::StatusOr<bool> {
        absl::StatusOr<std::optional<std::string>> value = target.Get(key);
        if (!value.ok()) return value.status();
        return value->has_value();
      });
}

}  // namespace rangedb
