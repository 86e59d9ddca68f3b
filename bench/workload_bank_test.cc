// The bank workload's pure parts: keys, meta, the transfer decision, the check
// verdict, and the command line's usage errors. Runs against a live cluster are
// integration tests elsewhere.
#include "bench/workload_bank.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "client/cli/testing/cli_runner.h"

namespace rangedb {
namespace {

TEST(WorkloadBankTest, AccountKeysAreEightDigits) {
  EXPECT_EQ(BankAccountKey(0), "bank/00000000");
  EXPECT_EQ(BankAccountKey(42), "bank/00000042");
  EXPECT_EQ(BankAccountKey(kBankMaxAccounts - 1), "bank/99999999");
  for (int64_t account : {int64_t{0}, int64_t{7}, int64_t{12345678}, kBankMaxAccounts - 1}) {
    EXPECT_EQ(ParseBankAccountKey(BankAccountKey(account)), account);
  }
}

TEST(WorkloadBankTest, ParseAccountKeyRejectsEverythingElse) {
  for (const char* key : {"bank/meta", "bank/", "bank/0000000", "bank/000000001", "bank/0000000a",
                          "bank/-0000001", "kv/00000001", "bank00000001", "bank/ 0000001"}) {
    EXPECT_EQ(ParseBankAccountKey(key), std::nullopt) << key;
  }
}

TEST(WorkloadBankTest, AccountSpanHoldsEveryAccountAndNotTheMeta) {
  for (int64_t account : {int64_t{0}, int64_t{99999999}}) {
    const std::string key = BankAccountKey(account);
    EXPECT_GE(key, kBankAccountSpanStart);
    EXPECT_LT(key, kBankAccountSpanEnd);
  }
  EXPECT_FALSE(std::string(kBankMetaKey) >= kBankAccountSpanStart &&
               std::string(kBankMetaKey) < kBankAccountSpanEnd);
  // The whole bank lies in [bank/, bank0), which drop deletes.
  EXPECT_GE(std::string(kBankMetaKey), kBankPrefix);
  EXPECT_LT(std::string(kBankMetaKey), kBankPrefixEnd);
  EXPECT_LT(BankAccountKey(99999999), kBankPrefixEnd);
}

TEST(WorkloadBankTest, ParseBalance) {
  EXPECT_EQ(ParseBankBalance("0"), 0);
  EXPECT_EQ(ParseBankBalance("1000"), 1000);
  EXPECT_EQ(ParseBankBalance("-5"), -5);
  EXPECT_EQ(ParseBankBalance("999999999999999999"), 999999999999999999);
  for (const char* text :
       {"", "-", "+5", " 5", "5 ", "5x", "1e3", "0x10", "1000000000000000000", "--5"}) {
    EXPECT_EQ(ParseBankBalance(text), std::nullopt) << "\"" << text << "\"";
  }
}

TEST(WorkloadBankTest, MetaRoundTrips) {
  const BankMeta meta{1000, 250};
  EXPECT_EQ(FormatBankMeta(meta), "accounts=1000 initial_balance=250");
  absl::StatusOr<BankMeta> parsed = ParseBankMeta(FormatBankMeta(meta));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, meta);
  EXPECT_EQ(parsed->ExpectedTotal(), 250000);
}

TEST(WorkloadBankTest, ParseMetaRejectsMalformedText) {
  for (const char* text :
       {"", "accounts=10", "initial_balance=5 accounts=10", "accounts=10  initial_balance=5",
        "accounts=10 initial_balance=5 extra=1", "accounts=ten initial_balance=5",
        "accounts=1 initial_balance=5", "accounts=100000001 initial_balance=5",
        "accounts=10 initial_balance=-1", "accounts=10 initial_balance=1000000001",
        "accounts=10 initial_balance=5\n"}) {
    EXPECT_FALSE(ParseBankMeta(text).ok()) << "\"" << text << "\"";
  }
  // The message says what was wrong.
  EXPECT_NE(ParseBankMeta("accounts=1 initial_balance=5").status().message().find("accounts must"),
            std::string::npos);
}

TEST(WorkloadBankTest, TransferMovesAtMostTheSourceBalance) {
  EXPECT_EQ(PlanBankTransfer(100, 50, 30), std::make_pair(int64_t{70}, int64_t{80}));
  EXPECT_EQ(PlanBankTransfer(20, 0, 30), std::make_pair(int64_t{0}, int64_t{20}));
  EXPECT_EQ(PlanBankTransfer(30, 5, 30), std::make_pair(int64_t{0}, int64_t{35}));
}

TEST(WorkloadBankTest, TransferFromAnEmptyAccountIsSkipped) {
  EXPECT_EQ(PlanBankTransfer(0, 10, 5), std::nullopt);
  EXPECT_EQ(PlanBankTransfer(-3, 10, 5), std::nullopt);  // never makes it worse
  EXPECT_EQ(PlanBankTransfer(10, 10, 0), std::nullopt);
}

TEST(WorkloadBankTest, TransfersNeverGoNegativeAndKeepTheTotal) {
  std::mt19937_64 rng(1);
  std::vector<int64_t> balances(10, 7);
  std::uniform_int_distribution<int> account(0, 9);
  std::uniform_int_distribution<int64_t> amount(1, 100);
  for (int i = 0; i < 10000; ++i) {
    const int from = account(rng);
    int to = account(rng);
    if (to == from) continue;
    auto plan = PlanBankTransfer(balances[from], balances[to], amount(rng));
    if (!plan.has_value()) {
      EXPECT_EQ(balances[from], 0);
      continue;
    }
    balances[from] = plan->first;
    balances[to] = plan->second;
    ASSERT_GE(balances[from], 0);
  }
  int64_t total = 0;
  for (int64_t b : balances) total += b;
  EXPECT_EQ(total, 70);
}

// Feeds rows to a checker of a bank of `accounts` accounts at 100 each.
BankCheckResult Check(int64_t accounts,
                      const std::vector<std::pair<std::string, std::string>>& rows) {
  BankChecker checker(BankMeta{accounts, 100});
  for (const auto& [key, value] : rows) checker.Add(key, value);
  return std::move(checker).Finish();
}

TEST(WorkloadBankTest, CheckAcceptsAGoodBank) {
  BankCheckResult result =
      Check(3, {{BankAccountKey(0), "0"}, {BankAccountKey(1), "250"}, {BankAccountKey(2), "50"}});
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(FormatBankCheck(result),
            "total=300 expected=300 accounts=3 negative=0 missing=0 malformed=0");
  EXPECT_TRUE(result.problems.empty());
}

TEST(WorkloadBankTest, CheckRejectsAWrongTotal) {
  BankCheckResult result = Check(2, {{BankAccountKey(0), "100"}, {BankAccountKey(1), "101"}});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(FormatBankCheck(result),
            "total=201 expected=200 accounts=2 negative=0 missing=0 malformed=0");
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_NE(result.problems[0].find("the total is 201, expected 200"), std::string::npos);
}

TEST(WorkloadBankTest, CheckRejectsANegativeBalanceEvenWithTheRightTotal) {
  BankCheckResult result = Check(2, {{BankAccountKey(0), "-1"}, {BankAccountKey(1), "201"}});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.total, 200);
  EXPECT_EQ(result.negative, 1);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0], "account bank/00000000 has a negative balance -1");
}

TEST(WorkloadBankTest, CheckRejectsMalformedRows) {
  BankCheckResult result = Check(3, {{BankAccountKey(0), "100"},
                                     {BankAccountKey(1), "1O0"},  // letter O
                                     {BankAccountKey(2), "200"},
                                     {"bank/9", "1"},             // not 8 digits
                                     {BankAccountKey(5), "0"}});  // beyond accounts=3
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.malformed, 3);
  EXPECT_EQ(result.accounts, 2);
  EXPECT_EQ(result.total, 300);  // the malformed balance is not counted
  EXPECT_EQ(result.problems[0], "account bank/00000001 holds \"1O0\", not a decimal balance");
}

TEST(WorkloadBankTest, CheckCountsMissingAccounts) {
  // 0 and 2..4 present; 1 missing, then 5..9 missing at the end.
  BankCheckResult result = Check(10, {{BankAccountKey(0), "300"},
                                      {BankAccountKey(2), "300"},
                                      {BankAccountKey(3), "200"},
                                      {BankAccountKey(4), "200"}});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.missing, 6);
  EXPECT_EQ(result.total, 1000);
  ASSERT_GE(result.problems.size(), 2u);
  EXPECT_EQ(result.problems[0], "account bank/00000001 is missing");
  EXPECT_EQ(result.problems[1], "accounts bank/00000005 to bank/00000009 are missing");
  // Moving the money into the present accounts does not hide the missing ones.
  EXPECT_EQ(FormatBankCheck(result),
            "total=1000 expected=1000 accounts=4 negative=0 missing=6 malformed=0");
}

TEST(WorkloadBankTest, CheckOfAnEmptySpanReportsEverythingMissing) {
  BankCheckResult result = Check(5, {});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.missing, 5);
  EXPECT_EQ(result.total, 0);
}

TEST(WorkloadBankTest, CheckKeepsOnlyTheFirstProblems) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (int64_t i = 0; i < 50; ++i) rows.push_back({BankAccountKey(i), i % 2 ? "-1" : "x"});
  BankCheckResult result = Check(50, rows);
  EXPECT_EQ(result.problems.size(), BankCheckResult::kMaxProblems);
  EXPECT_GT(result.problem_count, 50);  // 25 negative + 25 malformed + the total
  EXPECT_FALSE(result.ok());
}

TEST(WorkloadBankTest, CheckReportsAnOverflowingTotal) {
  BankCheckResult result = Check(
      2, {{BankAccountKey(0), "999999999999999999"}, {BankAccountKey(1), "999999999999999999"}});
  // Two such balances still fit; ten would not.
  EXPECT_FALSE(result.overflow);
  std::vector<std::pair<std::string, std::string>> rows;
  for (int64_t i = 0; i < 10; ++i) rows.push_back({BankAccountKey(i), "999999999999999999"});
  result = Check(10, rows);
  EXPECT_TRUE(result.overflow);
  EXPECT_FALSE(result.ok());
}

TEST(WorkloadBankTest, RunSummaryKeepsItsFieldOrder) {
  BankRunResult result;
  result.committed = 200;
  result.retries = 10;
  result.errors = 1;
  result.ambiguous = 2;
  result.skipped = 3;
  result.elapsed = absl::Seconds(2);
  result.p50_ms = 1.5;
  result.p99_ms = 12.25;
  EXPECT_EQ(FormatBankRunSummary(result),
            "txn/s=100.0 retries/s=5.0 p50_ms=1.500 p99_ms=12.250 errors=1 ambiguous=2 "
            "skipped=3");
}

TEST(WorkloadBankTest, ValidateOptions) {
  EXPECT_TRUE(ValidateBankWorkloadOptions(BankWorkloadOptions()).ok());
  BankWorkloadOptions options;
  options.meta.accounts = 1;
  EXPECT_FALSE(ValidateBankWorkloadOptions(options).ok());
  options = BankWorkloadOptions();
  options.max_transfer = 0;
  EXPECT_FALSE(ValidateBankWorkloadOptions(options).ok());
  options = BankWorkloadOptions();
  options.meta.initial_balance = -1;
  EXPECT_FALSE(ValidateBankWorkloadOptions(options).ok());
  options = BankWorkloadOptions();
  options.concurrency = 0;
  EXPECT_FALSE(ValidateBankWorkloadOptions(options).ok());
}

TEST(WorkloadBankTest, FlagsOfAnotherWorkloadAreUsageErrors) {
  CliResult r = RunRangedb({"workload", "init", "bank", "--keys=5"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload init: --keys is not a flag of the bank workload\n");
  r = RunRangedb({"workload", "init", "kv", "--accounts=5"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload init: --accounts is not a flag of the kv workload\n");
  r = RunRangedb({"workload", "init", "bank", "--accounts=1"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload init: accounts must be 2..100000000, got 1\n");
  r = RunRangedb({"workload", "run", "bank", "--max-transfer=0"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("max-transfer must be"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rangedb
