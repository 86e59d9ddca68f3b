#include "bench/workload_bank.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/latency_histogram.h"
#include "client/cli/command.h"
#include "txn/txn.h"

namespace rangedb {

using client::IsAmbiguous;
using client::KeyValue;
using client::KvClient;
namespace {

constexpr int kMaxConcurrency = 1024;
constexpr int kMaxBalanceDigits = 18;      // < 10^18 fits an int64 with room to add
constexpr int64_t kCheckPageRows = 10000;  // rows per Scan inside the check transaction
constexpr int64_t kDropPageRows = 1000;    // keys deleted per drop transaction
constexpr int kInitBatchAttempts = 3;      // runs of one init batch after ambiguity
constexpr int kMaxReportedRunErrors = 5;   // error messages `run` prints; the rest counted

// Runs body(worker) on `workers` threads and calls report(elapsed) from the calling
// thread every `interval` until all return. Returns how long they ran.
absl::Duration RunThreads(int workers, absl::Duration interval,
                          const std::function<void(int)>& body,
                          const std::function<void(absl::Duration)>& report) {
  absl::Mutex mu;
  int finished = 0;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&, i] {
      body(i);
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  auto all_finished = [&] { return finished == workers; };
  {
    absl::MutexLock lock(&mu);
    while (!mu.AwaitWithTimeout(absl::Condition(&all_finished), interval)) {
      mu.Unlock();
      report(absl::Now() - start);
      mu.Lock();
    }
  }
  for (std::thread& t : threads) t.join();
  return absl::Now() - start;
}

double Seconds(absl::Duration d) { return std::max(absl::ToDoubleSeconds(d), 1e-9); }

// The meta key's value, parsed; nullopt when the key is absent. Inside a transaction.
absl::StatusOr<std::optional<BankMeta>> ReadMeta(txn::Txn& txn) {
  absl::StatusOr<std::optional<std::string>> value = txn.Get(kBankMetaKey);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<BankMeta>();
  absl::StatusOr<BankMeta> meta = ParseBankMeta(**value);
  if (!meta.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kBankMetaKey, " holds \"", absl::CEscape(**value), "\": ", meta.status().message()));
  }
  return std::optional<BankMeta>(*meta);
}

// Deletes everything under bank/: the meta key first (the bank stops being complete),
// then the rest kDropPageRows keys per transaction. Returns how many keys it deleted.
absl::StatusOr<int64_t> DropBank(KvClient& client, std::ostream& progress) {
  int64_t dropped = 0;
  absl::Status status = txn::RunTransaction(&client, [&](txn::Txn& txn) -> absl::Status {
    absl::StatusOr<std::optional<std::string>> meta = txn.Get(kBankMetaKey);
    if (!meta.ok()) return meta.status();
    dropped = meta->has_value() ? 1 : 0;
    return txn.Delete(kBankMetaKey);
  });
  if (!status.ok()) return status;
  absl::Time last_report = absl::Now();
  while (true) {
    int64_t deleted = 0;
    status = txn::RunTransaction(&client, [&](txn::Txn& txn) -> absl::Status {
      absl::StatusOr<std::vector<KeyValue>> rows =
          txn.Scan(kBankPrefix, kBankPrefixEnd, kDropPageRows);
      if (!rows.ok()) return rows.status();
      if (rows->empty()) {
        deleted = 0;
        return absl::OkStatus();
      }
      absl::StatusOr<int64_t> n = txn.DeleteRange(rows->front().key, rows->back().key + '\0');
      if (!n.ok()) return n.status();
      deleted = *n;
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (deleted == 0) break;  // nothing left (a page always deletes what it saw)
    dropped += deleted;
    if (absl::Now() - last_report >= absl::Seconds(1)) {
      last_report = absl::Now();
      progress << "init bank: dropped " << dropped << " keys\n" << std::flush;
    }
  }
  return dropped;
}

// What init finds before writing: the meta (if any) and the first key under the
// account span (if any).
struct ExistingBank {
  std::optional<BankMeta> meta;
  std::optional<std::string> first_account_key;
};

absl::StatusOr<ExistingBank> ReadExisting(KvClient& client) {
  ExistingBank existing;
  absl::Status status = txn::RunTransaction(&client, [&](txn::Txn& txn) -> absl::Status {
    existing.meta.reset();
    existing.first_account_key.reset();
    absl::StatusOr<std::optional<BankMeta>> meta = ReadMeta(txn);
    if (!meta.ok()) return meta.status();
    existing.meta = *meta;
    absl::StatusOr<std::vector<KeyValue>> rows =
        txn.Scan(kBankAccountSpanStart, kBankAccountSpanEnd, 1);
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) existing.first_account_key.emplace(rows->front().key);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return existing;
}

// Writes accounts [first, last) at the initial balance in one transaction; an
// ambiguous outcome is retried (the writes are idempotent).
absl::Status WriteAccounts(KvClient& client, int64_t first, int64_t last, int64_t balance) {
  const std::string value = absl::StrCat(balance);
  absl::Status status;
  for (int attempt = 0; attempt < kInitBatchAttempts; ++attempt) {
    status = txn::RunTransaction(&client, [&](txn::Txn& txn) -> absl::Status {
      for (int64_t account = first; account < last; ++account) {
        if (absl::Status s = txn.Put(BankAccountKey(account), value); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
    if (!IsAmbiguous(status)) break;
  }
  return status;
}

// Explains to the user why init will not write over what exists.
absl::Status RefuseExisting(const ExistingBank& existing, const BankMeta& wanted) {
  if (existing.meta.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a bank with ", FormatBankMeta(*existing.meta), " already exists (", kBankMetaKey,
        "); rerun with --drop to delete it and create one with ", FormatBankMeta(wanted)));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "keys under ", kBankPrefix, " exist (first: ", absl::CEscape(*existing.first_account_key),
      ") but ", kBankMetaKey, " does not, as after an interrupted init; rerun with --drop ",
      "to delete them first"));
}

// One transfer between two distinct random accounts; see the top of the header.
// *skipped tells whether the committed transaction moved nothing.
absl::Status Transfer(KvClient& client, int64_t from, int64_t to, int64_t wanted, bool* skipped,
                      int* attempts) {
  const std::string from_key = BankAccountKey(from);
  const std::string to_key = BankAccountKey(to);
  return txn::RunTransaction(
      &client,
      [&](txn::Txn& txn) -> absl::Status {
        int64_t balances[2];
        const std::string* keys[2] = {&from_key, &to_key};
        for (int i = 0; i < 2; ++i) {
          absl::StatusOr<std::optional<std::string>> value = txn.Get(*keys[i]);
          if (!value.ok()) return value.status();
          if (!value->has_value()) {
            return absl::DataLossError(absl::StrCat("account ", *keys[i], " is missing"));
          }
          std::optional<int64_t> balance = ParseBankBalance(**value);
          if (!balance.has_value()) {
            return absl::DataLossError(absl::StrCat("account ", *keys[i], " holds \"",
                                                    absl::CEscape(**value), "\", not a balance"));
          }
          balances[i] = *balance;
        }
        std::optional<std::pair<int64_t, int64_t>> plan =
            PlanBankTransfer(balances[0], balances[1], wanted);
        *skipped = !plan.has_value();
        if (!plan.has_value()) return absl::OkStatus();
        if (absl::Status s = txn.Put(from_key, absl::StrCat(plan->first)); !s.ok()) return s;
        return txn.Put(to_key, absl::StrCat(plan->second));
      },
      txn::TxnOptions(), attempts);
}

}  // namespace

std::string BankAccountKey(int64_t account) {
  return absl::StrFormat("%s%08d", kBankPrefix, account);
}

std::optional<int64_t> ParseBankAccountKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, kBankPrefix) || key.size() != 8) return std::nullopt;
  int64_t account = 0;
  for (char c : key) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    account = account * 10 + (c - '0');
  }
  return account;
}

std::optional<int64_t> ParseBankBalance(absl::string_view text) {
  const bool negative = absl::ConsumePrefix(&text, "-");
  if (text.empty() || text.size() > static_cast<size_t>(kMaxBalanceDigits)) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

std::string FormatBankMeta(const BankMeta& meta) {
  return absl::StrCat("accounts=", meta.accounts, " initial_balance=", meta.initial_balance);
}

absl::StatusOr<BankMeta> ParseBankMeta(absl::string_view text) {
  std::vector<absl::string_view> fields = absl::StrSplit(text, ' ');
  BankMeta meta;
  if (fields.size() != 2 || !absl::ConsumePrefix(&fields[0], "accounts=") ||
      !absl::ConsumePrefix(&fields[1], "initial_balance=")) {
    return absl::InvalidArgumentError("want \"accounts=N initial_balance=B\"");
  }
  std::optional<int64_t> accounts = ParseBankBalance(fields[0]);
  std::optional<int64_t> initial = ParseBankBalance(fields[1]);
  if (!accounts.has_value() || *accounts < kBankMinAccounts || *accounts > kBankMaxAccounts) {
    return absl::InvalidArgumentError(absl::StrCat("accounts must be ", kBankMinAccounts, "..",
                                                   kBankMaxAccounts, ", got \"", fields[0], "\""));
  }
  if (!initial.has_value() || *initial < 0 || *initial > kBankMaxInitialBalance) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initial_balance must be 0..", kBankMaxInitialBalance, ", got \"", fields[1], "\""));
  }
  meta.accounts = *accounts;
  meta.initial_balance = *initial;
  return meta;
}

std::optional<std::pair<int64_t, int64_t>> PlanBankTransfer(int64_t source_balance,
                                                            int64_t destination_balance,
                                                            int64_t wanted) {
  if (source_balance <= 0 || wanted <= 0) return std::nullopt;
  const int64_t amount = std::min(wanted, source_balance);
  return std::make_pair(source_balance - amount, destination_balance + amount);
}

BankChecker::BankChecker(BankMeta meta) { result_.meta = meta; }

void BankChecker::Problem(std::string line) {
  ++result_.problem_count;
  if (result_.problems.size() < BankCheckResult::kMaxProblems) {
    result_.problems.push_back(std::move(line));
  }
}

void BankChecker::Add(absl::string_view key, absl::string_view value) {
  const std::optional<int64_t> account = ParseBankAccountKey(key);
  if (!account.has_value() || *account >= result_.meta.accounts) {
    ++result_.malformed;
    Problem(absl::StrCat("unexpected key ", absl::CEscape(key), " in the account span (",
                         FormatBankMeta(result_.meta), ")"));
    return;
  }
  assert(*account >= next_account_ && "keys must ascend");
  MissingUpTo(*account);
  next_account_ = *account + 1;
  const std::optional<int64_t> balance = ParseBankBalance(value);
  if (!balance.has_value()) {
    ++result_.malformed;
    Problem(absl::StrCat("account ", key, " holds \"", absl::CEscape(value),
                         "\", not a decimal balance"));
    return;
  }
  ++result_.accounts;
  if (*balance < 0) {
    ++result_.negative;
    Problem(absl::StrCat("account ", key, " has a negative balance ", *balance));
  }
  if (!result_.overflow && __builtin_add_overflow(result_.total, *balance, &result_.total)) {
    result_.overflow = true;
    Problem("the total overflows a 64-bit integer");
  }
}

void BankChecker::MissingUpTo(int64_t end) {
  const int64_t gap = end - next_account_;
  if (gap <= 0) return;
  result_.missing += gap;
  Problem(gap == 1 ? absl::StrCat("account ", BankAccountKey(next_account_), " is missing")
                   : absl::StrCat("accounts ", BankAccountKey(next_account_), " to ",
                                  BankAccountKey(end - 1), " are missing"));
  next_account_ = end;
}

BankCheckResult BankChecker::Finish() && {
  MissingUpTo(result_.meta.accounts);
  if (result_.total != result_.expected() && !result_.overflow) {
    Problem(absl::StrCat("the total is ", result_.total, ", expected ", result_.expected(), " (",
                         FormatBankMeta(result_.meta), ")"));
  }
  return std::move(result_);
}

std::string FormatBankCheck(const BankCheckResult& result) {
  return absl::StrFormat("total=%d expected=%d accounts=%d negative=%d missing=%d malformed=%d",
                         result.total, result.expected(), result.accounts, result.negative,
                         result.missing, result.malformed);
}

absl::Status ValidateBankWorkloadOptions(const BankWorkloadOptions& options) {
  if (options.concurrency < 1 || options.concurrency > kMaxConcurrency) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must be 1..", kMaxConcurrency, ", got ", options.concurrency));
  }
  if (options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must be positive");
  }
  if (options.meta.accounts < kBankMinAccounts || options.meta.accounts > kBankMaxAccounts) {
    return absl::InvalidArgumentError(absl::StrCat("accounts must be ", kBankMinAccounts, "..",
                                                   kBankMaxAccounts, ", got ",
                                                   options.meta.accounts));
  }
  if (options.meta.initial_balance < 0 || options.meta.initial_balance > kBankMaxInitialBalance) {
    return absl::InvalidArgumentError(absl::StrCat("initial-balance must be 0..",
                                                   kBankMaxInitialBalance, ", got ",
                                                   options.meta.initial_balance));
  }
  if (options.max_transfer < 1 || options.max_transfer > kBankMaxInitialBalance) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max-transfer must be 1..", kBankMaxInitialBalance, ", got ", options.max_transfer));
  }
  if (options.progress_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("progress interval must be positive");
  }
  return absl::OkStatus();
}

double BankRunResult::PerSecond(int64_t count) const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? count / seconds : 0;
}

std::string FormatBankRunSummary(const BankRunResult& result) {
  return absl::StrFormat(
      "txn/s=%.1f retries/s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d ambiguous=%d skipped=%d",
      result.PerSecond(result.committed), result.PerSecond(result.retries), result.p50_ms,
      result.p99_ms, result.errors, result.ambiguous, result.skipped);
}

absl::StatusOr<BankInitResult> InitBankWorkload(const BankWorkloadOptions& options,
                                                const BankClientFactory& factory,
                                                std::ostream& progress) {
  if (absl::Status s = ValidateBankWorkloadOptions(options); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<KvClient>> first = factory();
  if (!first.ok()) return first.status();
  BankInitResult result;
  result.meta = options.meta;
  absl::StatusOr<ExistingBank> existing = ReadExisting(**first);
  if (!existing.ok()) return existing.status();
  const bool exists = existing->meta.has_value() || existing->first_account_key.has_value();
  if (exists && !options.drop) {
    if (existing->meta == options.meta) {
      result.already_exists = true;
      return result;
    }
    return RefuseExisting(*existing, options.meta);
  }
  if (options.drop) {
    absl::StatusOr<int64_t> dropped = DropBank(**first, progress);
    if (!dropped.ok()) return dropped.status();
    result.dropped_keys = *dropped;
  }

  // Workers take batches of kBankInitBatchAccounts in turn; the first error stops all.
  std::vector<std::unique_ptr<KvClient>> clients;
  clients.push_back(std::move(*first));
  for (int i = 1; i < options.concurrency; ++i) {
    absl::StatusOr<std::unique_ptr<KvClient>> client = factory();
    if (!client.ok()) return client.status();
    clients.push_back(std::move(*client));
  }
  const int64_t accounts = options.meta.accounts;
  const int64_t batches = (accounts + kBankInitBatchAccounts - 1) / kBankInitBatchAccounts;
  std::atomic<int64_t> next_batch{0};
  std::atomic<int64_t> written{0};
  absl::Mutex error_mu;
  absl::Status first_error;  // guarded by error_mu
  RunThreads(
      options.concurrency, options.progress_interval,
      [&](int worker) {
        for (int64_t batch = next_batch++; batch < batches; batch = next_batch++) {
          const int64_t begin = batch * kBankInitBatchAccounts;
          const int64_t end = std::min(accounts, begin + kBankInitBatchAccounts);
          absl::Status s =
              WriteAccounts(*clients[worker], begin, end, options.meta.initial_balance);
          if (!s.ok()) {
            absl::MutexLock lock(&error_mu);
            if (first_error.ok()) {
              first_error = absl::Status(
                  s.code(), absl::StrCat("writing accounts ", BankAccountKey(begin), "..",
                                         BankAccountKey(end - 1), ": ", s.message(), "; ",
                                         kBankMetaKey, " was not written"));
            }
            next_batch = batches;  // stop every worker
            return;
          }
          written += end - begin;
        }
      },
      [&](absl::Duration elapsed) {
        progress << absl::StrFormat("init bank: elapsed=%.0fs accounts=%d/%d\n", Seconds(elapsed),
                                    written.load(), accounts)
                 << std::flush;
      });
  {
    absl::MutexLock lock(&error_mu);
    if (!first_error.ok()) return first_error;
  }
  result.written = written.load();
  // The meta goes last: its presence says every account is there.
  const std::string meta_value = FormatBankMeta(options.meta);
  absl::Status status;
  for (int attempt = 0; attempt < kInitBatchAttempts; ++attempt) {
    status = txn::RunTransaction(clients[0].get(),
                                 [&](txn::Txn& txn) { return txn.Put(kBankMetaKey, meta_value); });
    if (!IsAmbiguous(status)) break;
  }
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("writing ", kBankMetaKey, ": ", status.message()));
  }
  return result;
}

absl::StatusOr<BankRunResult> RunBankWorkload(const BankWorkloadOptions& options,
                                              const BankClientFactory& factory,
                                              std::ostream& progress) {
  if (absl::Status s = ValidateBankWorkloadOptions(options); !s.ok()) return s;
  std::vector<std::unique_ptr<KvClient>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    absl::StatusOr<std::unique_ptr<KvClient>> client = factory();
    if (!client.ok()) return client.status();
    clients.push_back(std::move(*client));
  }
  absl::StatusOr<std::optional<std::string>> meta_value = clients[0]->Get(kBankMetaKey);
  if (!meta_value.ok()) {
    return absl::Status(meta_value.status().code(), absl::StrCat("reading ", kBankMetaKey, ": ",
                                                                 meta_value.status().message()));
  }
  if (!meta_value->has_value()) {
    return absl::NotFoundError(absl::StrCat("no bank: ", kBankMetaKey,
                                            " is missing; run `rangedb workload init bank` first"));
  }
  absl::StatusOr<BankMeta> meta = ParseBankMeta(**meta_value);
  if (!meta.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        kBankMetaKey, " holds \"", absl::CEscape(**meta_value), "\": ", meta.status().message()));
  }

  std::atomic<int64_t> committed{0}, skipped{0}, retries{0}, errors{0}, ambiguous{0};
  std::vector<LatencyHistogram> histograms(options.concurrency);
  absl::Mutex report_mu;
  int reported_errors = 0;  // guarded by report_mu
  const absl::Time end = absl::Now() + options.duration;
  const absl::Duration elapsed = RunThreads(
      options.concurrency, options.progress_interval,
      [&](int worker) {
        std::mt19937_64 rng(options.seed + static_cast<uint64_t>(worker));
        std::uniform_int_distribution<int64_t> account_dist(0, meta->accounts - 1);
        std::uniform_int_distribution<int64_t> amount_dist(1, options.max_transfer);
        while (absl::Now() < end) {
          const int64_t from = account_dist(rng);
          int64_t to = account_dist(rng);
          while (to == from) to = account_dist(rng);  // accounts >= 2
          bool was_skipped = false;
          int attempts = 0;
          const auto start = std::chrono::steady_clock::now();
          const absl::Status status =
              Transfer(*clients[worker], from, to, amount_dist(rng), &was_skipped, &attempts);
          retries += std::max(attempts - 1, 0);
          if (status.ok()) {
            histograms[worker].Record(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count());
            ++committed;
            if (was_skipped) ++skipped;
            continue;
          }
          ++(IsAmbiguous(status) ? ambiguous : errors);
          absl::MutexLock lock(&report_mu);
          if (reported_errors++ < kMaxReportedRunErrors) {
            progress << "run bank: transfer " << BankAccountKey(from) << " -> "
                     << BankAccountKey(to) << " failed after " << attempts
                     << " attempt(s): " << status.message() << "\n"
                     << std::flush;
          }
        }
      },
      [&](absl::Duration elapsed) {
        const double seconds = Seconds(elapsed);
        absl::MutexLock lock(&report_mu);  // not interleaved with an error line
        progress << absl::StrFormat(
                        "run bank: elapsed=%.0fs txns=%d txn/s=%.1f retries=%d errors=%d "
                        "ambiguous=%d\n",
                        seconds, committed.load(), committed.load() / seconds, retries.load(),
                        errors.load(), ambiguous.load())
                 << std::flush;
      });
  LatencyHistogram all;
  for (const LatencyHistogram& h : histograms) all.Merge(h);
  BankRunResult result;
  result.committed = committed.load();
  result.skipped = skipped.load();
  result.retries = retries.load();
  result.errors = errors.load();
  result.ambiguous = ambiguous.load();
  result.elapsed = elapsed;
  result.p50_ms = all.QuantileMs(0.50);
  result.p99_ms = all.QuantileMs(0.99);
  return result;
}

absl::StatusOr<BankCheckResult> CheckBankWorkload(const BankClientFactory& factory,
                                                  std::ostream& progress) {
  absl::StatusOr<std::unique_ptr<KvClient>> client = factory();
  if (!client.ok()) return client.status();
  std::optional<BankCheckResult> result;
  absl::Time last_report = absl::Now();
  absl::Status status = txn::RunTransaction(client->get(), [&](txn::Txn& txn) -> absl::Status {
    result.reset();
    absl::StatusOr<std::optional<BankMeta>> meta = ReadMeta(txn);
    if (!meta.ok()) return meta.status();
    if (!meta->has_value()) return absl::OkStatus();
    BankChecker checker(**meta);
    std::string start = kBankAccountSpanStart;
    int64_t rows_read = 0;
    // Bounded: each page either ends the span or moves start past its last key.
    while (true) {
      absl::StatusOr<std::vector<KeyValue>> rows =
          txn.Scan(start, kBankAccountSpanEnd, kCheckPageRows);
      if (!rows.ok()) return rows.status();
      for (const KeyValue& row : *rows) checker.Add(row.key, row.value);
      rows_read += static_cast<int64_t>(rows->size());
      if (static_cast<int64_t>(rows->size()) < kCheckPageRows) break;
      start = rows->back().key + '\0';
      if (absl::Now() - last_report >= absl::Seconds(1)) {
        last_report = absl::Now();
        progress << "check bank: read " << rows_read << " accounts\n" << std::flush;
      }
    }
    result = std::move(checker).Finish();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!result.has_value()) {
    return absl::NotFoundError(absl::StrCat("no bank: ", kBankMetaKey,
                                            " is missing; run `rangedb workload init bank` first"));
  }
  return *std::move(result);
}

int RunBankCommand(const std::string& verb, const BankWorkloadOptions& options,
                   const BankClientFactory& factory, std::ostream& out, std::ostream& err) {
  const std::string prefix = absl::StrCat("rangedb workload ", verb, ": ");
  if (verb == "init") {
    absl::StatusOr<BankInitResult> result = InitBankWorkload(options, factory, err);
    if (!result.ok()) {
      err << prefix << result.status().message() << "\n";
      return kExitFailure;
    }
    if (result->already_exists) {
      out << "init bank: " << FormatBankMeta(result->meta)
          << " already exists; nothing written (--drop recreates it)\n";
      return kExitOk;
    }
    out << "init bank: " << FormatBankMeta(result->meta) << " written=" << result->written
        << " dropped=" << result->dropped_keys << "\n";
    return kExitOk;
  }
  if (verb == "run") {
    absl::StatusOr<BankRunResult> result = RunBankWorkload(options, factory, err);
    if (!result.ok()) {
      err << prefix << result.status().message() << "\n";
      return kExitFailure;
    }
    out << FormatBankRunSummary(*result) << "\n";
    // Failures are reported in the summary; a run where nothing committed failed.
    return result->committed > 0 ? kExitOk : kExitFailure;
  }
  absl::StatusOr<BankCheckResult> result = CheckBankWorkload(factory, err);
  if (!result.ok()) {
    err << prefix << result.status().message() << "\n";
    return kExitFailure;
  }
  for (const std::string& problem : result->problems) err << "check bank: " << problem << "\n";
  if (result->problem_count > static_cast<int64_t>(result->problems.size())) {
    err << "check bank: ... and " << result->problem_count - result->problems.size()
        << " more problems\n";
  }
  out << FormatBankCheck(*result) << "\n";
  return result->ok() ? kExitOk : kExitFailure;
}

}  // namespace rangedb
