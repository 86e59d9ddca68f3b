// Recording client histories of a live rangedb cluster for the linearizability checker
// (tests/linearizability.h), as the chaos tests (tests/kv_chaos_test.cc) do.
//
//  - The Record* functions turn one KvClient result into a checker record: success is
//    kOk; a failed ConditionalPut is kOk with the actual value the server reported; a
//    write error that IsAmbiguous is kAmbiguous; any other write error is kFailed (the
//    client reports a non-ambiguous failure only when no attempt may have applied). A
//    failed read says nothing and is not recorded.
//  - History collects records from many threads and counts outcomes.
//  - Workload runs client threads doing random Get / Put / ConditionalPut on a few
//    keys until stopped. Every written value is unique ("c<client>-<n>"), so the checker
//    can tell writes apart; a ConditionalPut expects the last value its client saw for
//    the key (absent at first).
//
// Times are steady-clock nanoseconds (MonotonicNowNs), shared by every thread of the
// test process.
//
// Thread safety: History is thread-safe. A Workload is driven by one thread (Start,
// Stop); its client threads write only to the History.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/kv_client.h"
#include "tests/linearizability.h"

namespace rangedb::chaos {

using linearizability::Operation;
using linearizability::Value;

// Steady-clock nanoseconds, the time base of every recorded call and return.
int64_t MonotonicNowNs();

// The record of a Get, or nullopt if the read failed (a failed read is dropped).
std::optional<Operation> RecordGet(int64_t client_id, const std::string& key,
                                   const absl::StatusOr<std::optional<std::string>>& result,
                                   int64_t call_ns, int64_t return_ns);
// The record of a Put of `value`, from the status the client returned.
Operation RecordPut(int64_t client_id, const std::string& key, const std::string& value,
                    const absl::Status& status, int64_t call_ns, int64_t return_ns);
// The record of a ConditionalPut(key, value, expected), from the client's status.
Operation RecordConditionalPut(int64_t client_id, const std::string& key, const Value& expected,
                               const std::string& value, const absl::Status& status,
                               int64_t call_ns, int64_t return_ns);

// Outcome counts of a history. "Writes" are Puts and ConditionalPuts.
struct HistoryCounts {
  int64_t reads_ok = 0;
  int64_t reads_failed = 0;  // dropped from the history
  int64_t writes_ok = 0;     // a Put, or a ConditionalPut whose condition held
  int64_t cput_condition_failed = 0;
  int64_t writes_failed = 0;
  int64_t writes_ambiguous = 0;
  std::string ToString() const;  // "reads ok=.. failed=.. writes ok=.. ..."
};

class History {
 public:
  // Adds a record. Counts it by kind and outcome.
  void Add(Operation op);
  // Counts a failed read (which has no record).
  void AddFailedRead();
  // Adds the record of a Get result (or counts the failure).
  void AddGet(std::optional<Operation> op);

  std::vector<Operation> Operations() const;
  HistoryCounts Counts() const;
  // Writes (Put, or ConditionalPut that wrote) with outcome kOk, called at or after
  // from_ns and returned at or before to_ns.
  int64_t OkWritesBetween(int64_t from_ns, int64_t to_ns) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<Operation> ops_ ABSL_GUARDED_BY(mu_);
  HistoryCounts counts_ ABSL_GUARDED_BY(mu_);
};

struct WorkloadOptions {
  // One client thread per entry: that client's hosts, in order of preference.
  std::vector<std::vector<std::string>> client_hosts;
  std::vector<std::string> keys;                      // REQUIRES: non-empty
  absl::Duration op_timeout = absl::Seconds(5);       // KvClientOptions::timeout
  absl::Duration attempt_timeout = absl::Seconds(1);  // KvClientOptions::attempt_timeout
  // If positive, every odd-numbered client uses this budget instead of op_timeout (and
  // attempts of at most it), so that faults also end in failed and ambiguous results.
  absl::Duration short_op_timeout = absl::ZeroDuration();
  // Each thread sleeps a uniform [0, max_think_time] between operations.
  absl::Duration max_think_time = absl::Milliseconds(5);
  int get_percent = 40;  // the rest is split between Put and ConditionalPut
  int put_percent = 30;
  uint64_t seed = 1;  // each thread's generator is seeded from it and its index
};

// Random operations from client threads into a History, from Start to Stop.
class Workload {
 public:
  // REQUIRES: history outlives the workload.
  Workload(WorkloadOptions options, History* history);
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;
  ~Workload();  // Stop()

  // Creates one KvClient per thread and starts the threads.
  [[nodiscard]] absl::Status Start();
  // Asks the threads to stop and joins them; each finishes its current operation
  // first, so this takes at most about op_timeout. Idempotent.
  void Stop();

 private:
  void RunClient(int index);
  // Client `index`'s options (see short_op_timeout).
  client::KvClientOptions ClientOptions(int index) const;

  const WorkloadOptions options_;
  History* const history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Checks the history, prints one line per key (operations, verdict) and the
// explanation of a violation, and returns the result. `label` names the test.
[[nodiscard]] absl::StatusOr<linearizability::CheckResult> CheckAndReport(
    const std::vector<Operation>& history, const std::string& label);

// Writes one DescribeOperation line per record, sorted by call time, to `path`.
// For keeping a failing history next to the node logs.
[[nodiscard]] absl::Status WriteHistory(const std::vector<Operation>& history,
                                        const std::string& path);

}  // namespace rangedb::chaos
