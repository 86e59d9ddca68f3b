// The SQL bank: a workload of money transfers in explicit SQL transactions and the
// checker of its history, for the SQL fault test (tests/sql_bank_chaos_test.cc,
// docs/testing.md "SQL bank"). Independent of gtest: the checker is pure and the
// workload talks to a cluster only through client::SqlConnection.
// Files: sql_bank.cc (the checker and the outcome rules), sql_bank_setup.cc (setup,
// final read), sql_bank_workload.cc (clients, auditor), sql_bank_requests.h (one
// request's answers), sql_bank_test.cc (the checker on planted bugs).
//
// Schema (SetupBank):
//   acct   (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)  accounts 0 .. accounts-1
//   ledger (id TEXT PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER)
// Every account starts with initial_balance, so the total is fixed.
//
// A transfer attempt is one transaction, in three requests on one session:
//   BEGIN; SELECT bal FROM acct WHERE id = :src
//   UPDATE acct SET bal = bal - :amt WHERE id = :src;
//   UPDATE acct SET bal = bal + :amt WHERE id = :dst;
//   INSERT INTO ledger VALUES (:id, :src, :dst, :amt)
//   COMMIT
// with amount = min(wanted, the balance read) (so no balance may ever go below zero)
// and a ledger id unique per attempt ("c<client>-<n>"). So the ledger names exactly
// the attempts that committed, and the balances must follow from it.
//
// Outcomes. An attempt is
//   committed  COMMIT was answered OK (command tag COMMIT);
//   failed     it certainly did not commit: any error or transport failure before
//              COMMIT was sent (writes are buffered in the session until COMMIT, and
//              a session that goes away rolls back), a COMMIT that certainly did not
//              reach the server, or a COMMIT error that is definite
//              (CommitErrorOutcome);
//   ambiguous  anything else at COMMIT: 40003, a transport failure after it was sent,
//              or an error whose meaning the SQL layer does not promise.
// The checker allows an ambiguous attempt either way, and nothing else.
//
// Thread safety: the free functions are stateless. SqlBankWorkload: Start, Stop and
// the accessors from one thread; its client and auditor threads are internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rangedb::sqlbank {

struct BankConfig {
  int accounts = 10;              // ids 0 .. accounts-1. Positive.
  int64_t initial_balance = 100;  // per account. Positive.
  int64_t total() const { return accounts * initial_balance; }
};

enum class Outcome { kCommitted, kFailed, kAmbiguous };
const char* OutcomeName(Outcome outcome);  // "committed", "failed", "ambiguous"

// One transfer attempt as the client saw it.
struct TransferRecord {
  std::string id;  // the ledger row's key: "c<client>-<attempt counter>"
  int64_t src = 0;
  int64_t dst = 0;
  int64_t amount = 0;
  Outcome outcome = Outcome::kFailed;
  std::string detail;  // how it ended: the statement, node, SQLSTATE and message
  int64_t end_ns = 0;  // steady-clock ns (tests/kv_history.h MonotonicNowNs) at the end
};

struct AccountRow {
  int64_t id = 0;
  int64_t balance = 0;
};

struct LedgerRow {
  std::string id;
  int64_t src = 0;
  int64_t dst = 0;
  int64_t amount = 0;
};

// Every row of both tables, read in one transaction.
struct BankState {
  std::vector<AccountRow> accounts;
  std::vector<LedgerRow> ledger;
};

// What a COMMIT that failed with `sqlstate` (docs/sql.md, Errors) says about the
// transaction:
//   40001  failed: the commit did not happen; run the transaction again.
//   25P02  failed: the transaction was aborted before; COMMIT only rolled it back.
//   57P01  failed: the draining node refused the statement before running it, and
//          the session's buffered writes go with it (node/sql_service.cc).
//   08006  failed: the key space could not be reached. txn::Txn's contract makes a
//          commit error other than an ambiguous one definite, and the gateway turns
//          every failure after an attempt that may have applied into an ambiguous
//          one (40003), so this is one the server vouches for. The checker holds it
//          to that.
//   40003  ambiguous, by definition.
//   other  ambiguous: 57014 (an interrupt may land after the commit point), XX000,
//          anything unexpected — the SQL layer promises nothing about them.
Outcome CommitErrorOutcome(absl::string_view sqlstate);

// Checks one audit (SELECT sum(bal), count(*) FROM acct in one transaction):
// a description of what is wrong, or nullopt when both are exact.
std::optional<std::string> CheckAudit(const BankConfig& config, int64_t sum, int64_t count);

// The final check of a run, once the workload stopped (so no attempt is in flight)
// and `final_state` was read. Returns one line per violation, empty when the run is
// clean:
//  - the accounts are exactly 0 .. accounts-1, none below zero, summing to total();
//  - every balance equals initial + incoming - outgoing over the ledger rows;
//  - every committed attempt is in the ledger (no acknowledged commit lost), with the
//    source, destination and amount it was sent with;
//  - no failed attempt is in the ledger; an ambiguous one may be or not;
//  - every ledger row is an attempt of the history (none appears from nowhere), with
//    that attempt's fields, and names existing accounts.
// Ids must be unique in history (a workload bug otherwise, reported too).
std::vector<std::string> CheckBank(const BankConfig& config, const BankState& final_state,
                                   const std::vector<TransferRecord>& history);

// ---- Against a cluster ----

// Creates both tables (IF NOT EXISTS) and the accounts (INSERT OR IGNORE), then
// checks that the accounts are there with the exact total. Retries every step until
// `timeout` (the cluster may still be electing leaders). REQUIRES: no transfer runs.
[[nodiscard]] absl::Status SetupBank(const std::vector<std::string>& hosts,
                                     const BankConfig& config, absl::Duration timeout);

// Reads every row of acct and ledger in one transaction, retrying (on the next host
// each time) until it succeeds or `timeout` passes. An error names the last failure.
[[nodiscard]] absl::StatusOr<BankState> ReadBankState(const std::vector<std::string>& hosts,
                                                      absl::Duration timeout);

struct WorkloadOptions {
  BankConfig bank;
  // One transfer client (thread and SqlConnection) per entry. Each list is every
  // node, the client's own node first; the client connects there first and, after
  // each failure, starts one node further along.
  std::vector<std::vector<std::string>> client_hosts;
  // The auditor's nodes; audit i connects to the list rotated by i.
  std::vector<std::string> audit_hosts;
  uint64_t seed = 1;
  // The budget of each request (sent as the statement timeout too) and of Connect.
  absl::Duration request_timeout = absl::Seconds(5);
  absl::Duration connect_attempt_timeout = absl::Milliseconds(1500);
  int max_attempts = 8;     // per transfer: the first try and retries after 40001
  int64_t max_amount = 20;  // a transfer wants 1 .. max_amount
  absl::Duration audit_interval = absl::Milliseconds(200);
};

// Transfer clients and an auditor, on threads, until Stop.
class SqlBankWorkload {
 public:
  struct Stats {
    int64_t committed = 0;
    int64_t failed = 0;
    int64_t ambiguous = 0;
    int64_t skipped = 0;     // transfers from an empty account: rolled back, not recorded
    int64_t retries = 0;     // attempts after a 40001
    int64_t reconnects = 0;  // sessions dropped after a failure, and failed Connects
    int64_t audits_ok = 0;
    int64_t audits_failed = 0;  // audits that got an error (not checked)
  };

  // REQUIRES: options.client_hosts and options.audit_hosts non-empty, each host list
  // non-empty; the bank was set up.
  explicit SqlBankWorkload(WorkloadOptions options);
  ~SqlBankWorkload();  // Stop
  SqlBankWorkload(const SqlBankWorkload&) = delete;
  SqlBankWorkload& operator=(const SqlBankWorkload&) = delete;

  void Start();
  // Stops every thread and waits for it: each finishes its request (bounded by
  // request_timeout) and records its outcome first.
  void Stop();

  Stats stats() const;
  // Every recorded attempt. Complete once Stop returned.
  std::vector<TransferRecord> History() const;
  int64_t committed_since(int64_t from_ns) const;  // steady-clock ns
  // Audits that saw a wrong total or count, and answers no correct server gives (a
  // missing account, an UPDATE that changed no row), described.
  std::vector<std::string> violations() const;
  // How attempts ended other than by committing, by "<statement> <SQLSTATE>"
  // ("COMMIT 40001", "read transport", ...): how often, and the first such detail.
  struct ErrorCount {
    int64_t count = 0;
    std::string example;
  };
  std::map<std::string, ErrorCount> error_counts() const;

 private:
  void ClientLoop(int client);
  void AuditLoop();
  void RunAudit(int64_t audit);
  void Record(TransferRecord record);
  void Violation(std::string what);
  void CountError(const std::string& what, const std::string& detail);

  const WorkloadOptions options_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> committed_{0}, failed_{0}, ambiguous_{0}, skipped_{0}, retries_{0},
      reconnects_{0}, audits_ok_{0}, audits_failed_{0};
  mutable absl::Mutex mu_;
  std::vector<TransferRecord> history_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> violations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ErrorCount> error_counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::sqlbank
