// The `bank` workload: money moves between accounts in serializable transactions,
// and the total never changes. A correctness workload in the manner of
// FoundationDB's: `run` drives concurrent transfers, `check` verifies the invariant.
//
// Keys (all under the "bank/" prefix):
//   bank/NNNNNNNN  one account, N its number as 8 zero-padded digits (0..accounts-1);
//                  the value is the balance in decimal text, e.g. "1000".
//   bank/meta      "accounts=N initial_balance=B", written last by `init` (so its
//                  presence means the bank is complete) and read by `run` and
//                  `check`. The expected total is N * B.
// Account keys start with a digit and "meta" does not, so the account span
// [kBankAccountSpanStart, kBankAccountSpanEnd) = [bank/0, bank/:) holds every
// account and never the meta key (':' is the byte after '9').
//
//   init   writes every account (kBankInitBatchAccounts per transaction, spread over
//          the workers), then bank/meta. A bank of the same shape already there: does
//          nothing. Refuses to touch a bank of another shape, or keys under bank/
//          without a meta, unless drop (which first deletes everything under bank/,
//          meta first).
//   run    each worker loops: two distinct random accounts, read both, move
//          min(uniform[1, max_transfer], source balance) between them (nothing when
//          the source is empty), all in one RunTransaction. An ambiguous commit is
//          counted and not retried: either outcome keeps the total.
//   check  reads bank/meta and every account in one transaction (one snapshot) and
//          compares the total with the expectation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/kv_client.h"

namespace rangedb {

inline constexpr char kBankPrefix[] = "bank/";
inline constexpr char kBankPrefixEnd[] = "bank0";  // '0' is the byte after '/'
inline constexpr char kBankMetaKey[] = "bank/meta";
inline constexpr char kBankAccountSpanStart[] = "bank/0";
inline constexpr char kBankAccountSpanEnd[] = "bank/:";
inline constexpr int64_t kBankMinAccounts = 2;            // a transfer needs two
inline constexpr int64_t kBankMaxAccounts = 100'000'000;  // 8 digits
// Bounds initial_balance so that accounts * initial_balance fits in an int64.
inline constexpr int64_t kBankMaxInitialBalance = 1'000'000'000;
inline constexpr int64_t kBankInitBatchAccounts = 100;  // accounts per init transaction

// "bank/" and the account number as 8 zero-padded digits.
// REQUIRES: 0 <= account < kBankMaxAccounts.
std::string BankAccountKey(int64_t account);
// The account number of an account key; nullopt for anything not "bank/" + 8 digits.
std::optional<int64_t> ParseBankAccountKey(absl::string_view key);

// A balance is a decimal integer: an optional '-' and 1..18 digits, nothing else
// (no '+', no spaces). nullopt otherwise.
std::optional<int64_t> ParseBankBalance(absl::string_view text);

// The shape of a bank, as stored in bank/meta.
struct BankMeta {
  int64_t accounts = 0;         // kBankMinAccounts..kBankMaxAccounts
  int64_t initial_balance = 0;  // 0..kBankMaxInitialBalance

  int64_t ExpectedTotal() const { return accounts * initial_balance; }
  bool operator==(const BankMeta&) const = default;
};

// "accounts=N initial_balance=B".
std::string FormatBankMeta(const BankMeta& meta);
// The inverse of FormatBankMeta: exactly those two fields in that order, each in
// range. InvalidArgument naming what is wrong otherwise.
absl::StatusOr<BankMeta> ParseBankMeta(absl::string_view text);

// The two new balances (source, destination) of a transfer of `wanted` (>= 1) out of
// a source holding source_balance: the amount is min(wanted, source_balance).
// nullopt (skip the transfer) when the source holds nothing or less than nothing.
// Never makes a balance negative.
std::optional<std::pair<int64_t, int64_t>> PlanBankTransfer(int64_t source_balance,
                                                            int64_t destination_balance,
                                                            int64_t wanted);

// What `check` found. Problems beyond kMaxProblems are counted, not kept.
struct BankCheckResult {
  static constexpr size_t kMaxProblems = 10;

  BankMeta meta;
  int64_t accounts = 0;               // well-formed account rows in 0..meta.accounts-1
  int64_t total = 0;                  // sum of their balances
  int64_t negative = 0;               // accounts with a balance below 0
  int64_t missing = 0;                // account numbers in 0..meta.accounts-1 with no row
  int64_t malformed = 0;              // rows that are not an account of this bank or not a balance
  bool overflow = false;              // the total left the int64 range (counted as a problem)
  std::vector<std::string> problems;  // the first few, one line each
  int64_t problem_count = 0;

  int64_t expected() const { return meta.ExpectedTotal(); }
  bool ok() const { return problem_count == 0 && total == expected() && missing == 0; }
};

// Judges the rows of one snapshot of the account span, fed in ascending key order.
// Thread-compatible.
class BankChecker {
 public:
  explicit BankChecker(BankMeta meta);
  // REQUIRES: keys strictly ascending across calls.
  void Add(absl::string_view key, absl::string_view value);
  // Counts the accounts never seen as missing and returns the verdict.
  BankCheckResult Finish() &&;

 private:
  void Problem(std::string line);
  // Counts accounts next_account_..end-1 as missing (one problem line) and moves on.
  void MissingUpTo(int64_t end);

  BankCheckResult result_;
  int64_t next_account_ = 0;  // every account below this was seen or counted missing
};

// "total=X expected=Y accounts=N negative=M missing=K malformed=K".
std::string FormatBankCheck(const BankCheckResult& result);

struct BankWorkloadOptions {
  int concurrency = 8;                          // worker threads, 1..1024
  absl::Duration duration = absl::Seconds(10);  // of `run`
  BankMeta meta = {1000, 1000};                 // of `init`
  int64_t max_transfer = 100;                   // of `run`: 1..kBankMaxInitialBalance
  bool drop = false;                            // of `init`: delete an existing bank first
  uint64_t seed = 0;                            // worker i uses seed + i
  absl::Duration progress_interval = absl::Seconds(1);
};

// InvalidArgument naming the first option out of range.
absl::Status ValidateBankWorkloadOptions(const BankWorkloadOptions& options);

// Makes a client; `run` calls it once per worker, init and check once.
using BankClientFactory = std::function<absl::StatusOr<std::unique_ptr<client::KvClient>>()>;

struct BankInitResult {
  BankMeta meta;
  int64_t written = 0;          // accounts written by this init
  bool already_exists = false;  // a bank of this very shape was there: nothing written
  int64_t dropped_keys = 0;     // keys deleted by drop
};

// Creates the bank described by options.meta (see the top of this file for what it
// refuses). Progress lines go to `progress`. FailedPrecondition when something
// already exists; the error of the first failed transaction otherwise (bank/meta is
// then not written).
absl::StatusOr<BankInitResult> InitBankWorkload(const BankWorkloadOptions& options,
                                                const BankClientFactory& factory,
                                                std::ostream& progress);

struct BankRunResult {
  int64_t committed = 0;  // transactions committed (skipped transfers included)
  int64_t skipped = 0;    // committed without a transfer: the source was empty
  int64_t retries = 0;    // sum over transactions of (attempts - 1)
  int64_t errors = 0;     // transactions that failed (not ambiguous)
  int64_t ambiguous = 0;  // commits whose outcome is unknown; not retried
  absl::Duration elapsed;
  // Latency of committed transactions, retries included (±4%).
  double p50_ms = 0;
  double p99_ms = 0;

  double PerSecond(int64_t count) const;
};

// "txn/s=X retries/s=X p50_ms=X p99_ms=X errors=N ambiguous=N skipped=N".
std::string FormatBankRunSummary(const BankRunResult& result);

// Runs options.concurrency transfer loops for options.duration against the bank
// described by bank/meta. Fails if there is no bank or a client cannot be made;
// failed transactions are counted, not returned.
absl::StatusOr<BankRunResult> RunBankWorkload(const BankWorkloadOptions& options,
                                              const BankClientFactory& factory,
                                              std::ostream& progress);

// Reads bank/meta and all accounts in one transaction. NotFound when bank/meta is
// missing; a read error otherwise. A bad bank is an OK status with !result.ok().
absl::StatusOr<BankCheckResult> CheckBankWorkload(const BankClientFactory& factory,
                                                  std::ostream& progress);

// `rangedb workload VERB bank` after flag parsing: runs the verb ("init", "run" or
// "check"), prints its output lines, and returns the process exit code.
int RunBankCommand(const std::string& verb, const BankWorkloadOptions& options,
                   const BankClientFactory& factory, std::ostream& out, std::ostream& err);

}  // namespace rangedb
