#include "tests/txn_workloads.h"

#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/kv_history.h"
#include "txn/txn.h"

namespace rangedb::chaos {

absl::StatusOr<std::unique_ptr<client::KvClient>> NewWorkloadClient(
    const TxnWorkloadOptions& options, const std::vector<std::string>& hosts) {
  client::KvClientOptions o;
  o.hosts = hosts;
  o.timeout = options.client_timeout;
  o.attempt_timeout = absl::Seconds(2);
  return client::KvClient::Create(std::move(o));
}

txn::TxnOptions WorkloadTxnOptions() {
  txn::TxnOptions o;
  o.max_attempts = 20;
  return o;
}

std::string FormatList(const std::vector<int64_t>& list) { return absl::StrJoin(list, ","); }

std::vector<int64_t> ParseList(const std::string& s) {
  std::vector<int64_t> out;
  if (s.empty()) return out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    int64_t v = 0;
    out.push_back(absl::SimpleAtoi(part, &v) ? v : -1);  // garbage: the checker reports it
  }
  return out;
}

std::string BankKey(int account) { return absl::StrFormat("bank/%08d", account); }

absl::Status InitBank(client::KvClient* client, int accounts, int64_t initial_balance) {
  for (int first = 0; first < accounts; first += 50) {
    absl::Status s = txn::RunTransaction(client, [&](txn::Txn& t) {
      for (int a = first; a < std::min(accounts, first + 50); ++a) {
        if (absl::Status p = t.Put(BankKey(a), absl::StrCat(initial_balance)); !p.ok()) return p;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status AuditBank(client::KvClient* client, int accounts, int64_t* total, int* negative) {
  return txn::RunTransaction(
      client,
      [&](txn::Txn& t) -> absl::Status {
        absl::StatusOr<std::vector<client::KeyValue>> rows = t.Scan(kBankStart, kBankEnd, 0);
        if (!rows.ok()) return rows.status();
        if (static_cast<int>(rows->size()) != accounts) {
          return absl::DataLossError(
              absl::StrCat("the audit found ", rows->size(), " accounts, not ", accounts));
        }
        *total = 0;
        *negative = 0;
        for (const client::KeyValue& kv : *rows) {
          int64_t balance = 0;
          if (!absl::SimpleAtoi(kv.value, &balance)) {
            return absl::DataLossError(absl::StrCat(kv.key, " holds \"", kv.value, "\""));
          }
          *total += balance;
          if (balance < 0) ++*negative;
        }
        return absl::OkStatus();
      },
      WorkloadTxnOptions());
}

BankWorkload::BankWorkload(TxnWorkloadOptions options, int accounts, int64_t initial_balance)
    : options_(std::move(options)),
      accounts_(accounts),
      expected_total_(accounts * initial_balance) {}

BankWorkload::~BankWorkload() { Stop(); }

absl::Status BankWorkload::Start() {
  for (const std::vector<std::string>& hosts : options_.client_hosts) {
    absl::StatusOr<std::unique_ptr<client::KvClient>> c = NewWorkloadClient(options_, hosts);
    if (!c.ok()) return c.status();
    clients_.push_back(std::move(*c));
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    threads_.emplace_back([this, i] { TransferLoop(static_cast<int>(i), clients_[i].get()); });
  }
  threads_.emplace_back([this] { AuditLoop(clients_[0].get()); });
  return absl::OkStatus();
}

void BankWorkload::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

int64_t BankWorkload::committed_since(int64_t from_ns) const {
  absl::MutexLock lock(&mu_);
  return std::count_if(commit_times_ns_.begin(), commit_times_ns_.end(),
                       [&](int64_t t) { return t >= from_ns; });
}

std::vector<std::string> BankWorkload::violations() const {
  absl::MutexLock lock(&mu_);
  return violations_;
}

void BankWorkload::TransferLoop(int thread, client::KvClient* client) {
  std::mt19937_64 rng(options_.seed * 7919 + thread);
  while (!stop_) {
    const int from = static_cast<int>(rng() % accounts_);
    int to = static_cast<int>(rng() % (accounts_ - 1));
    if (to >= from) ++to;
    const int64_t wanted = 1 + static_cast<int64_t>(rng() % 100);
    int attempts = 0;
    absl::Status s = txn::RunTransaction(
        client,
        [&](txn::Txn& t) -> absl::Status {
          absl::StatusOr<std::optional<std::string>> a = t.Get(BankKey(from));
          if (!a.ok()) return a.status();
          absl::StatusOr<std::optional<std::string>> b = t.Get(BankKey(to));
          if (!b.ok()) return b.status();
          int64_t ba = 0, bb = 0;
          if (!a->has_value() || !b->has_value() || !absl::SimpleAtoi(**a, &ba) ||
              !absl::SimpleAtoi(**b, &bb)) {
            return absl::DataLossError("an account is missing or malformed");
          }
          const int64_t amount = std::min(wanted, ba);
          if (amount <= 0) return absl::OkStatus();
          if (absl::Status p = t.Put(BankKey(from), absl::StrCat(ba - amount)); !p.ok()) return p;
          return t.Put(BankKey(to), absl::StrCat(bb + amount));
        },
        WorkloadTxnOptions(), &attempts);
    retries_ += std::max(0, attempts - 1);
    if (s.ok()) {
      ++committed_;
      absl::MutexLock lock(&mu_);
      commit_times_ns_.push_back(MonotonicNowNs());
    } else if (client::IsAmbiguous(s)) {
      ++ambiguous_;  // applied or not, atomically: the invariant holds either way
    } else if (s.code() == absl::StatusCode::kDataLoss) {
      absl::MutexLock lock(&mu_);
      violations_.push_back(std::string(s.message()));
    }
  }
}

void BankWorkload::AuditLoop(client::KvClient* client) {
  while (!stop_) {
    int64_t total = 0;
    int negative = 0;
    absl::Status s = AuditBank(client, accounts_, &total, &negative);
    if (s.ok()) {
      ++audits_;
      if (total != expected_total_ || negative > 0) {
        absl::MutexLock lock(&mu_);
        violations_.push_back(absl::StrCat("audit: total=", total, " expected=", expected_total_,
                                           " negative=", negative));
      }
    } else if (s.code() == absl::StatusCode::kDataLoss) {
      absl::MutexLock lock(&mu_);
      violations_.push_back(absl::StrCat("audit: ", s.message()));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace rangedb::chaos
