// The SQL bank's checker (tests/sql_bank.h) on hand-built histories and final states:
// a clean run passes, and each kind of planted bug is reported, alone, naming the
// transfer or account — so a passing chaos run means something.
#include "tests/sql_bank.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rangedb::sqlbank {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr BankConfig kBank{4, 100};  // accounts 0..3, total 400

TransferRecord Transfer(std::string id, int64_t src, int64_t dst, int64_t amount, Outcome outcome) {
  return TransferRecord{std::move(id), src, dst, amount, outcome, "test", 0};
}

// Builds a final state by applying transfers to fresh accounts, as the server
// would: balances and ledger rows together.
class StateBuilder {
 public:
  StateBuilder() {
    for (int64_t id = 0; id < kBank.accounts; ++id) {
      state_.accounts.push_back({id, kBank.initial_balance});
    }
  }
  StateBuilder& Apply(const TransferRecord& t) {
    state_.accounts[t.src].balance -= t.amount;
    state_.accounts[t.dst].balance += t.amount;
    state_.ledger.push_back({t.id, t.src, t.dst, t.amount});
    return *this;
  }
  BankState Build() const { return state_; }

 private:
  BankState state_;
};

// A history with every outcome: committed ones applied, failed ones not, one
// ambiguous applied and one not.
struct CleanRun {
  std::vector<TransferRecord> history = {
      Transfer("c0-0", 0, 1, 30, Outcome::kCommitted),
      Transfer("c0-1", 1, 2, 10, Outcome::kFailed),
      Transfer("c1-0", 2, 3, 5, Outcome::kCommitted),
      Transfer("c1-1", 3, 0, 7, Outcome::kAmbiguous),  // applied
      Transfer("c2-0", 1, 0, 9, Outcome::kAmbiguous),  // not applied
  };
  BankState state = StateBuilder().Apply(history[0]).Apply(history[2]).Apply(history[3]).Build();
};

TEST(CheckBankTest, ACleanRunPasses) {
  CleanRun run;
  EXPECT_THAT(CheckBank(kBank, run.state, run.history), IsEmpty());
}

TEST(CheckBankTest, AnUntouchedBankWithNoHistoryPasses) {
  EXPECT_THAT(CheckBank(kBank, StateBuilder().Build(), {}), IsEmpty());
}

TEST(CheckBankTest, ACommittedTransferMissingFromTheLedgerIsALostCommit) {
  CleanRun run;
  // c0-0 committed, but neither its row nor its balances are there: the state is
  // self-consistent, only the acknowledgement was a lie.
  run.state = StateBuilder().Apply(run.history[2]).Apply(run.history[3]).Build();
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(AllOf(HasSubstr("committed transfer c0-0"), HasSubstr("0->1 amount 30"),
                                HasSubstr("acknowledged commit was lost"))));
}

TEST(CheckBankTest, AFailedTransferInTheLedgerIsReported) {
  CleanRun run;
  run.history[1].detail = "COMMIT on node-x: 40001 restart transaction";
  run.state = StateBuilder()
                  .Apply(run.history[0])
                  .Apply(run.history[1])
                  .Apply(run.history[2])
                  .Apply(run.history[3])
                  .Build();
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(AllOf(HasSubstr("transfer c0-1"), HasSubstr("failed definitely"),
                                HasSubstr("40001 restart transaction"))));
}

TEST(CheckBankTest, AWrongTotalIsReported) {
  CleanRun run;
  run.state.accounts[2].balance += 3;  // money from nowhere
  const std::vector<std::string> v = CheckBank(kBank, run.state, run.history);
  EXPECT_THAT(v,
              testing::Contains(AllOf(HasSubstr("total is 403, not 400"), HasSubstr("off by 3"))));
  EXPECT_THAT(v, testing::Contains(HasSubstr("account 2 holds")));
}

TEST(CheckBankTest, ABalanceNotMatchingTheLedgerIsReportedEvenWithAnExactTotal) {
  CleanRun run;
  // A transfer's balances without its ledger row: the total stays exact.
  run.state.accounts[0].balance -= 4;
  run.state.accounts[3].balance += 4;
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(AllOf(HasSubstr("account 0 holds"), HasSubstr("off by -4")),
                          AllOf(HasSubstr("account 3 holds"), HasSubstr("off by 4"))));
}

TEST(CheckBankTest, ALedgerRowNoClientAttemptedIsReported) {
  CleanRun run;
  run.state = StateBuilder()
                  .Apply(run.history[0])
                  .Apply(run.history[2])
                  .Apply(run.history[3])
                  .Apply(Transfer("c9-9", 2, 1, 1, Outcome::kCommitted))
                  .Build();
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(AllOf(HasSubstr("ledger row c9-9"), HasSubstr("never attempted"))));
}

TEST(CheckBankTest, ALedgerRowDifferentFromWhatTheClientSentIsReported) {
  CleanRun run;
  TransferRecord altered = run.history[0];
  altered.amount = 31;
  run.state = StateBuilder().Apply(altered).Apply(run.history[2]).Apply(run.history[3]).Build();
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(AllOf(HasSubstr("ledger row c0-0 is 0->1 amount 31"),
                                HasSubstr("client sent 0->1 amount 30"))));
}

TEST(CheckBankTest, AMissingOrExtraAccountIsReported) {
  CleanRun run;
  BankState state = run.state;
  const AccountRow dropped = state.accounts[1];
  state.accounts.erase(state.accounts.begin() + 1);
  state.accounts.push_back({7, dropped.balance});
  const std::vector<std::string> v = CheckBank(kBank, state, run.history);
  EXPECT_THAT(v, testing::Contains(HasSubstr("account 1 is missing")));
  EXPECT_THAT(v, testing::Contains(HasSubstr("account 7 (balance")));
}

TEST(CheckBankTest, ANegativeBalanceIsReported) {
  const TransferRecord overdraft = Transfer("c0-0", 0, 1, 150, Outcome::kCommitted);
  EXPECT_THAT(CheckBank(kBank, StateBuilder().Apply(overdraft).Build(), {overdraft}),
              ElementsAre(AllOf(HasSubstr("account 0 has balance -50"), HasSubstr("below zero"))));
}

TEST(CheckBankTest, ADuplicateIdInTheHistoryIsReportedAsAWorkloadBug) {
  CleanRun run;
  run.history.push_back(run.history[1]);
  EXPECT_THAT(CheckBank(kBank, run.state, run.history),
              ElementsAre(HasSubstr("holds transfer id c0-1 twice")));
}

TEST(CheckAuditTest, ExactTotalAndCountPass) { EXPECT_EQ(CheckAudit(kBank, 400, 4), std::nullopt); }

TEST(CheckAuditTest, AWrongTotalOrCountIsReported) {
  EXPECT_THAT(CheckAudit(kBank, 399, 4).value_or(""), HasSubstr("total 399 over 4 accounts"));
  EXPECT_THAT(CheckAudit(kBank, 400, 3).value_or(""), HasSubstr("over 3 accounts, not 400 over 4"));
}

// Which COMMIT errors are definite (tests/sql_bank.h, CommitErrorOutcome).
TEST(CommitErrorOutcomeTest, OnlyErrorsTheServerVouchesForAreDefinite) {
  for (const char* definite : {"40001", "25P02", "57P01", "08006"}) {
    EXPECT_EQ(CommitErrorOutcome(definite), Outcome::kFailed) << definite;
  }
  for (const char* unknown : {"40003", "57014", "XX000", "23505", "42601"}) {
    EXPECT_EQ(CommitErrorOutcome(unknown), Outcome::kAmbiguous) << unknown;
  }
}

}  // namespace
}  // namespace rangedb::sqlbank
