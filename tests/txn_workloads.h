// Transactional workloads for the chaos tests (tests/txn_chaos_test.cc), run by
// client threads against a real cluster through txn::Txn:
//
//  - BankWorkload: accounts bank/NNNNNNNN with decimal balances. Transfer threads
//    move random amounts between random accounts (never below zero) in
//    RunTransaction; an auditor thread repeatedly reads every account in one
//    transaction and records any read whose total differs from the expected one or
//    that shows a negative balance. Final audit: the total must be exact.
//  - ListAppendWorkload: transactions of 1-5 random micro-ops over a few keys:
//    append(k, e) (read k's comma-separated list, write it back with e appended)
//    and read(k). Every attempt is recorded (one attempt = one history transaction:
//    committed, failed, or ambiguous) for the Elle-style checker (tests/list_append.h).
//
// Thread safety: Start / Stop / results from one thread; the workers are internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/kv_client.h"
#include "tests/list_append.h"

namespace rangedb::chaos {

struct TxnWorkloadOptions {
  std::vector<std::vector<std::string>> client_hosts;  // one client thread each
  uint64_t seed = 1;
  absl::Duration client_timeout = absl::Seconds(10);  // KvClient budget per request
};

// ---- Bank ----

std::string BankKey(int account);  // "bank/00000042"
inline constexpr char kBankStart[] = "bank/";
inline constexpr char kBankEnd[] = "bank0";  // just above every "bank/..." key

// Writes `accounts` accounts holding `initial_balance` each, in transactions.
absl::Status InitBank(client::KvClient* client, int accounts, int64_t initial_balance);

// Reads every account in one transaction. Sets *total and *negative (accounts below
// zero); an error if a balance does not parse or an account is missing.
absl::Status AuditBank(client::KvClient* client, int accounts, int64_t* total, int* negative);

class BankWorkload {
 public:
  BankWorkload(TxnWorkloadOptions options, int accounts, int64_t initial_balance);
  ~BankWorkload();
  absl::Status Start();
  void Stop();

  int64_t committed() const { return committed_.load(); }
  int64_t committed_since(int64_t from_ns) const;
  int64_t ambiguous() const { return ambiguous_.load(); }
  int64_t retries() const { return retries_.load(); }
  int64_t audits() const { return audits_.load(); }
  // Audits that saw a wrong total or a negative balance, described.
  std::vector<std::string> violations() const;

 private:
  void TransferLoop(int thread, client::KvClient* client);
  void AuditLoop(client::KvClient* client);

  const TxnWorkloadOptions options_;
  const int accounts_;
  const int64_t expected_total_;
  std::vector<std::unique_ptr<client::KvClient>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> committed_{0}, ambiguous_{0}, retries_{0}, audits_{0};
  mutable absl::Mutex mu_;
  std::vector<std::string> violations_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> commit_times_ns_ ABSL_GUARDED_BY(mu_);
};

// ---- List-append ----

class ListAppendWorkload {
 public:
  // keys: the lists; elements are unique per workload.
  ListAppendWorkload(TxnWorkloadOptions options, std::vector<std::string> keys);
  ~ListAppendWorkload();
  absl::Status Start();
  void Stop();
  std::vector<list_append::Transaction> History() const;
  int64_t committed() const;
  int64_t committed_since(int64_t from_ns) const;

 private:
  void Loop(int thread, client::KvClient* client);

  const TxnWorkloadOptions options_;
  const std::vector<std::string> keys_;
  std::vector<std::unique_ptr<client::KvClient>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_element_{1};
  std::atomic<int64_t> next_txn_id_{1};
  mutable absl::Mutex mu_;
  std::vector<list_append::Transaction> history_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::chaos
