// The `kv` workload: random single-key gets and puts over a fixed key set, from many
// concurrent clients, reporting throughput and latency percentiles.
//
// The loop drives a KvTarget, a two-method interface, so the same code measures
// rangedb (NewRangedbTarget, over client/kv_client.h) and other stores such as etcd
// (bench/etcd_target.h): a comparison then differs only in the target.
//
// Keys are "kv/NNNNNNNN" (KvWorkloadKey), 0 <= N < key_count. Values are random
// printable bytes of value_size_bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/kv_client.h"

namespace rangedb {

// A key-value store as the workload sees it. One instance per worker thread, so an
// implementation need not be thread-safe.
class KvTarget {
 public:
  virtual ~KvTarget() = default;
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  // nullopt when the key has no value.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
};

// Makes a worker's target; called once per worker, from the calling thread.
using KvTargetFactory = std::function<absl::StatusOr<std::unique_ptr<KvTarget>>()>;

// A target over a rangedb client.
std::unique_ptr<KvTarget> NewRangedbTarget(std::unique_ptr<client::KvClient> client);

struct KvWorkloadOptions {
  int concurrency = 8;                          // worker threads, 1..1024
  absl::Duration duration = absl::Seconds(10);  // of `run`
  int read_percent = 95;                        // 0..100
  int64_t value_size_bytes = 256;               // 0..16 MiB
  int64_t key_count = 10000;                    // >= 1
  uint64_t seed = 0;                            // worker i uses seed + i
  absl::Duration progress_interval = absl::Seconds(1);
};

// InvalidArgument naming the first option out of range.
absl::Status ValidateKvWorkloadOptions(const KvWorkloadOptions& options);

// "kv/" and the index as 8 zero-padded digits (more digits past 10^8).
std::string KvWorkloadKey(int64_t index);

struct KvWorkloadResult {
  int64_t ops = 0;     // operations that succeeded
  int64_t errors = 0;  // operations that failed
  absl::Duration elapsed;
  // Latency percentiles over every operation, failed ones included (±4%).
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;

  double OpsPerSecond() const;
};

// The one summary line: "ops/s=X p50_ms=X p95_ms=X p99_ms=X errors=N".
std::string FormatKvSummary(const KvWorkloadResult& result);

// Runs options.concurrency workers for options.duration, each doing random gets (with
// probability read_percent) and puts. Writes a progress line to `progress` about
// every progress_interval. Fails only if the options are invalid or a target cannot
// be made; failed operations are counted, not returned.
absl::StatusOr<KvWorkloadResult> RunKvWorkload(const KvWorkloadOptions& options,
                                               const KvTargetFactory& factory,
                                               std::ostream& progress);

// What `init` and `check` did over all key_count keys.
struct KvSweepResult {
  int64_t keys = 0;    // keys visited
  int64_t found = 0;   // check: keys with a value; init: keys written
  int64_t errors = 0;  // operations that failed
};

// Writes every key once (a value of value_size_bytes), spread over the workers.
absl::StatusOr<KvSweepResult> InitKvWorkload(const KvWorkloadOptions& options,
                                             const KvTargetFactory& factory,
                                             std::ostream& progress);
// Reads every key and counts those present.
absl::StatusOr<KvSweepResult> CheckKvWorkload(const KvWorkloadOptions& options,
                                              const KvTargetFactory& factory,
                                              std::ostream& progress);

}  // namespace rangedb
