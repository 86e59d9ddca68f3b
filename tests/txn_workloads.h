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
//    and read(k). With a KeyFamily, some transactions work on a family of set keys
//    as well (list_append.h, "Sets of keys"): they read the family's deletion log,
//    then insert fresh keys, scan spans, delete spans (DeleteRange; appending to the
//    log), or delete one known key (a DeleteRange of one key, unlogged), in shapes
//    chosen to expose phantoms (txn_workloads_lists.cc, FamilyTxn). Every attempt is
//    recorded (one attempt = one history transaction: committed, failed, or
//    ambiguous) for the Elle-style checker (tests/list_append.h).
//  - CasRegisterWorkload: compare-and-set registers holding lists (so the version
//    order is recoverable): transactions of 1-4 micro-ops, read(k) or cas(k): a
//    ConditionalPut of expected + [e], where expected is what the transaction saw
//    of k, else the client's last sight of it (often stale, so many CAS fail). A
//    successful CAS is recorded as read(k) = expected + append(k, e), a failed one
//    as read(k) = the actual value it reported; the same checker checks them.
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
#include "txn/txn.h"

namespace rangedb::chaos {

struct TxnWorkloadOptions {
  std::vector<std::vector<std::string>> client_hosts;  // one client thread each
  uint64_t seed = 1;
  absl::Duration client_timeout = absl::Seconds(10);  // KvClient budget per request
};

// A client for one workload thread, and the transaction options of the workloads.
absl::StatusOr<std::unique_ptr<client::KvClient>> NewWorkloadClient(
    const TxnWorkloadOptions& options, const std::vector<std::string>& hosts);
txn::TxnOptions WorkloadTxnOptions();
// A list as the workloads store it ("1,2,3"; empty: ""), and back (an element that
// is not a number becomes -1, which the checker reports as garbage).
std::string FormatList(const std::vector<int64_t>& list);
std::vector<int64_t> ParseList(const std::string& s);

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

// A family of set keys: prefix/a/<element> (odd elements) and prefix/b/<element>
// (even), so the spans [prefix/, prefix0), [prefix/a/, prefix/a0) and
// [prefix/b/, prefix/b0) can lie on different ranges; the deletion log is the list
// key prefix-log, outside every span.
struct KeyFamily {
  std::string prefix;  // empty: no family
  int percent = 40;    // the share of transactions that work on the family
  std::string LogKey() const { return prefix + "-log"; }
};

class ListAppendWorkload {
 public:
  // keys: the lists; elements are unique per workload. REQUIRES: no key of `keys`
  // starts with family.prefix + "/".
  ListAppendWorkload(TxnWorkloadOptions options, std::vector<std::string> keys,
                     KeyFamily family = {});
  ~ListAppendWorkload();
  absl::Status Start();
  void Stop();
  std::vector<list_append::Transaction> History() const;
  // The checker's options for this workload's history (its deletion log).
  list_append::CheckOptions CheckOptions() const;
  int64_t committed() const;
  int64_t committed_since(int64_t from_ns) const;

 private:
  struct Attempt;  // one transaction's state (txn_workloads_lists.cc)
  void Loop(int thread, client::KvClient* client);
  absl::Status ListOp(Attempt& a, bool reads_only = false);
  absl::Status FamilyTxn(Attempt& a);
  absl::Status Insert(Attempt& a);
  absl::Status ScanSpan(Attempt& a, const std::string& start, const std::string& end);
  absl::Status DeleteSpan(Attempt& a, const std::string& start, const std::string& end);

  const TxnWorkloadOptions options_;
  const std::vector<std::string> keys_;
  const KeyFamily family_;
  std::vector<std::unique_ptr<client::KvClient>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_element_{1};
  std::atomic<int64_t> next_txn_id_{1};
  mutable absl::Mutex mu_;
  std::vector<list_append::Transaction> history_ ABSL_GUARDED_BY(mu_);
};

// ---- Compare-and-set registers ----

class CasRegisterWorkload {
 public:
  // keys: the registers; elements are unique per workload.
  CasRegisterWorkload(TxnWorkloadOptions options, std::vector<std::string> keys);
  ~CasRegisterWorkload();
  absl::Status Start();
  void Stop();
  std::vector<list_append::Transaction> History() const;
  int64_t committed() const;
  int64_t failed_cas() const { return failed_cas_.load(); }  // failed conditions seen

 private:
  void Loop(int thread, client::KvClient* client);

  const TxnWorkloadOptions options_;
  const std::vector<std::string> keys_;
  std::vector<std::unique_ptr<client::KvClient>> clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_element_{1};
  std::atomic<int64_t> next_txn_id_{1};
  std::atomic<int64_t> failed_cas_{0};
  mutable absl::Mutex mu_;
  std::vector<list_append::Transaction> history_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::chaos
