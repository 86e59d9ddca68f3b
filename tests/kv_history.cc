// Client histories for the chaos tests; see tests/kv_history.h.
#include "tests/kv_history.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"

namespace rangedb::chaos {

using linearizability::OpKind;
using linearizability::Outcome;

int64_t MonotonicNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::optional<Operation> RecordGet(int64_t client_id, const std::string& key,
                                   const absl::StatusOr<std::optional<std::string>>& result,
                                   int64_t call_ns, int64_t return_ns) {
  if (!result.ok()) return std::nullopt;
  return linearizability::GetOp(client_id, key, *result, call_ns, return_ns);
}

namespace {

// kFailed or kAmbiguous for a write that did not succeed.
Outcome WriteErrorOutcome(const absl::Status& status) {
  return client::IsAmbiguous(status) ? Outcome::kAmbiguous : Outcome::kFailed;
}

}  // namespace

Operation RecordPut(int64_t client_id, const std::string& key, const std::string& value,
                    const absl::Status& status, int64_t call_ns, int64_t return_ns) {
  Operation op = linearizability::PutOp(client_id, key, value, call_ns, return_ns);
  if (!status.ok()) op.outcome = WriteErrorOutcome(status);
  return op;
}

Operation RecordConditionalPut(int64_t client_id, const std::string& key, const Value& expected,
                               const std::string& value, const absl::Status& status,
                               int64_t call_ns, int64_t return_ns) {
  if (status.ok()) {
    return linearizability::CPutOp(client_id, key, expected, value, call_ns, return_ns);
  }
  if (client::IsConditionFailed(status)) {
    return linearizability::CPutFailedOp(client_id, key, expected, value,
                                         client::ConditionFailedActual(status), call_ns, return_ns);
  }
  Operation op = linearizability::CPutOp(client_id, key, expected, value, call_ns, return_ns);
  op.outcome = WriteErrorOutcome(status);
  return op;
}

std::string HistoryCounts::ToString() const {
  return absl::StrCat("reads ok=", reads_ok, " failed(dropped)=", reads_failed,
                      "; writes ok=", writes_ok, " cput-condition-failed=", cput_condition_failed,
                      " failed=", writes_failed, " ambiguous=", writes_ambiguous);
}

void History::Add(Operation op) {
  absl::MutexLock lock(&mu_);
  if (op.kind == OpKind::kGet) {
    ++counts_.reads_ok;
  } else if (op.outcome == Outcome::kAmbiguous) {
    ++counts_.writes_ambiguous;
  } else if (op.outcome == Outcome::kFailed) {
    ++counts_.writes_failed;
  } else if (op.kind == OpKind::kConditionalPut && !op.cput_succeeded) {
    ++counts_.cput_condition_failed;
  } else {
    ++counts_.writes_ok;
  }
  ops_.push_back(std::move(op));
}

void History::AddFailedRead() {
  absl::MutexLock lock(&mu_);
  ++counts_.reads_failed;
}

void History::AddGet(std::optional<Operation> op) {
  if (op.has_value()) {
    Add(*std::move(op));
  } else {
    AddFailedRead();
  }
}

std::vector<Operation> History::Operations() const {
  absl::MutexLock lock(&mu_);
  return ops_;
}

HistoryCounts History::Counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

int64_t History::OkWritesBetween(int64_t from_ns, int64_t to_ns) const {
  absl::MutexLock lock(&mu_);
  return std::count_if(ops_.begin(), ops_.end(), [&](const Operation& op) {
    const bool wrote =
        op.kind == OpKind::kPut || (op.kind == OpKind::kConditionalPut && op.cput_succeeded);
    return wrote && op.outcome == Outcome::kOk && op.call_ns >= from_ns && op.return_ns <= to_ns;
  });
}

Workload::Workload(WorkloadOptions options, History* history)
    : options_(std::move(options)), history_(history) {}

Workload::~Workload() { Stop(); }

absl::Status Workload::Start() {
  if (options_.keys.empty()) return absl::InvalidArgumentError("workload: no keys");
  // Validate every client's options before starting any thread.
  for (size_t i = 0; i < options_.client_hosts.size(); ++i) {
    absl::StatusOr<std::unique_ptr<client::KvClient>> c =
        client::KvClient::Create(ClientOptions(static_cast<int>(i)));
    if (!c.ok()) return c.status();
  }
  for (size_t i = 0; i < options_.client_hosts.size(); ++i) {
    threads_.emplace_back([this, i] { RunClient(static_cast<int>(i)); });
  }
  return absl::OkStatus();
}

client::KvClientOptions Workload::ClientOptions(int index) const {
  const bool short_budget = index % 2 == 1 && options_.short_op_timeout > absl::ZeroDuration();
  const absl::Duration timeout = short_budget ? options_.short_op_timeout : options_.op_timeout;
  return {.hosts = options_.client_hosts[index],
          .timeout = timeout,
          .attempt_timeout = std::min(options_.attempt_timeout, timeout)};
}

void Workload::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

// One client thread: random operations until stop_. Bounded by stop_ and by each
// operation's op_timeout.
void Workload::RunClient(int index) {
  absl::StatusOr<std::unique_ptr<client::KvClient>> created =
      client::KvClient::Create(ClientOptions(index));
  if (!created.ok()) return;  // validated in Start
  client::KvClient& kv = **created;
  std::mt19937_64 rng(options_.seed * 1000003 + static_cast<uint64_t>(index));
  std::map<std::string, Value> last_seen;  // per key: the last value this client saw
  const int64_t max_think_us = absl::ToInt64Microseconds(options_.max_think_time);
  int64_t writes = 0;
  while (!stop_.load()) {
    const std::string& key = options_.keys[rng() % options_.keys.size()];
    const int dice = static_cast<int>(rng() % 100);
    const int64_t call_ns = MonotonicNowNs();
    if (dice < options_.get_percent) {
      absl::StatusOr<std::optional<std::string>> got = kv.Get(key);
      history_->AddGet(RecordGet(index, key, got, call_ns, MonotonicNowNs()));
      if (got.ok()) last_seen[key] = *got;
    } else {
      const std::string value = absl::StrCat("c", index, "-", ++writes);
      if (dice < options_.get_percent + options_.put_percent) {
        const absl::Status s = kv.Put(key, value);
        history_->Add(RecordPut(index, key, value, s, call_ns, MonotonicNowNs()));
        if (s.ok()) last_seen[key] = value;
      } else {
        const Value expected = last_seen[key];
        const absl::Status s = kv.ConditionalPut(key, value, expected);
        history_->Add(
            RecordConditionalPut(index, key, expected, value, s, call_ns, MonotonicNowNs()));
        if (s.ok()) {
          last_seen[key] = value;
        } else if (auto actual = client::ConditionFailedActual(s); actual.has_value()) {
          last_seen[key] = *actual;
        }
      }
    }
    if (max_think_us > 0) {
      std::this_thread::sleep_for(
          std::chrono::microseconds(static_cast<int64_t>(rng() % (max_think_us + 1))));
    }
  }
}

absl::StatusOr<linearizability::CheckResult> CheckAndReport(const std::vector<Operation>& history,
                                                            const std::string& label) {
  const int64_t start_ns = MonotonicNowNs();
  absl::StatusOr<linearizability::CheckResult> result = linearizability::CheckHistory(history);
  if (!result.ok()) return result;
  std::cout << label << ": checked " << history.size() << " operations in "
            << (MonotonicNowNs() - start_ns) / 1'000'000
            << " ms: " << linearizability::VerdictName(result->verdict) << "\n";
  for (const linearizability::KeyResult& k : result->keys) {
    std::cout << "  key " << k.key << ": " << k.operations << " ops, " << k.steps << " steps, "
              << linearizability::VerdictName(k.verdict) << "\n";
  }
  if (result->verdict != linearizability::Verdict::kOk) {
    std::cout << "  " << result->explanation << "\n";
  }
  std::cout.flush();
  return result;
}

absl::Status WriteHistory(const std::vector<Operation>& history, const std::string& path) {
  std::vector<const Operation*> sorted;
  sorted.reserve(history.size());
  for (const Operation& op : history) sorted.push_back(&op);
  std::sort(sorted.begin(), sorted.end(),
            [](const Operation* a, const Operation* b) { return a->call_ns < b->call_ns; });
  std::ofstream out(path);
  for (const Operation* op : sorted) out << linearizability::DescribeOperation(*op) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write history to ", path));
  return absl::OkStatus();
}

}  // namespace rangedb::chaos
