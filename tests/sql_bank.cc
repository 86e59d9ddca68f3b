// The SQL bank's checker and outcome rules; see tests/sql_bank.h. The workload that
// talks to a cluster is in sql_bank_workload.cc.
#include "tests/sql_bank.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace rangedb::sqlbank {
namespace {

std::string Describe(const LedgerRow& row) {
  return absl::StrCat(row.src, "->", row.dst, " amount ", row.amount);
}

std::string Describe(const TransferRecord& t) {
  return absl::StrCat(t.src, "->", t.dst, " amount ", t.amount);
}

bool SameTransfer(const LedgerRow& row, const TransferRecord& t) {
  return row.src == t.src && row.dst == t.dst && row.amount == t.amount;
}

// The accounts: exactly 0 .. accounts-1, none negative, the exact total. Fills
// *balances with the accounts found.
void CheckAccounts(const BankConfig& config, const BankState& state,
                   std::map<int64_t, int64_t>* balances, std::vector<std::string>* out) {
  int64_t total = 0;
  for (const AccountRow& a : state.accounts) {
    if (!balances->emplace(a.id, a.balance).second) {
      out->push_back(absl::StrCat("account ", a.id, " appears twice in acct"));
      continue;
    }
    total += a.balance;
    if (a.id < 0 || a.id >= config.accounts) {
      out->push_back(absl::StrCat("account ", a.id, " (balance ", a.balance,
                                  ") was never created: accounts are 0 .. ", config.accounts - 1));
    }
    if (a.balance < 0) {
      out->push_back(absl::StrCat("account ", a.id, " has balance ", a.balance,
                                  " below zero: a transfer moved more than it read "
                                  "(write skew, or a lost update)"));
    }
  }
  for (int64_t id = 0; id < config.accounts; ++id) {
    if (balances->count(id) == 0) out->push_back(absl::StrCat("account ", id, " is missing"));
  }
  if (total != config.total()) {
    out->push_back(absl::StrCat("the total is ", total, ", not ", config.total(), " (off by ",
                                total - config.total(), ") over ", state.accounts.size(),
                                " accounts"));
  }
}

// Each ledger row against the history, and the flows it implies per account.
void CheckLedger(const BankConfig& config, const BankState& state,
                 const std::map<std::string, const TransferRecord*>& attempts,
                 std::map<int64_t, int64_t>* incoming, std::map<int64_t, int64_t>* outgoing,
                 std::set<std::string>* in_ledger, std::vector<std::string>* out) {
  for (const LedgerRow& row : state.ledger) {
    if (!in_ledger->insert(row.id).second) {
      out->push_back(absl::StrCat("ledger id ", row.id, " appears twice (", Describe(row), ")"));
      continue;
    }
    const bool known_accounts =
        row.src >= 0 && row.src < config.accounts && row.dst >= 0 && row.dst < config.accounts;
    if (known_accounts) {
      (*outgoing)[row.src] += row.amount;
      (*incoming)[row.dst] += row.amount;
    } else {
      out->push_back(
          absl::StrCat("ledger row ", row.id, " (", Describe(row), ") names an unknown account"));
    }
    auto it = attempts.find(row.id);
    if (it == attempts.end()) {
      out->push_back(absl::StrCat("ledger row ", row.id, " (", Describe(row),
                                  ") was never attempted by any client"));
      continue;
    }
    const TransferRecord& t = *it->second;
    if (t.outcome == Outcome::kFailed) {
      out->push_back(absl::StrCat("transfer ", t.id, " (", Describe(t),
                                  ") failed definitely but is in the ledger: it ended with ",
                                  t.detail));
    }
    if (!SameTransfer(row, t)) {
      out->push_back(absl::StrCat("ledger row ", row.id, " is ", Describe(row),
                                  " but the client sent ", Describe(t), " (",
                                  OutcomeName(t.outcome), ")"));
    }
  }
}

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCommitted:
      return "committed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kAmbiguous:
      return "ambiguous";
  }
  return "?";
}

Outcome CommitErrorOutcome(absl::string_view sqlstate) {
  // The reasons are in the header, code by code.
  if (sqlstate == "40001" || sqlstate == "25P02" || sqlstate == "57P01" || sqlstate == "08006") {
    return Outcome::kFailed;
  }
  return Outcome::kAmbiguous;
}

std::optional<std::string> CheckAudit(const BankConfig& config, int64_t sum, int64_t count) {
  if (sum == config.total() && count == config.accounts) return std::nullopt;
  return absl::StrCat("the audit saw total ", sum, " over ", count, " accounts, not ",
                      config.total(), " over ", config.accounts);
}

std::vector<std::string> CheckBank(const BankConfig& config, const BankState& final_state,
                                   const std::vector<TransferRecord>& history) {
  std::vector<std::string> out;
  std::map<int64_t, int64_t> balances;
  CheckAccounts(config, final_state, &balances, &out);

  std::map<std::string, const TransferRecord*> attempts;
  for (const TransferRecord& t : history) {
    if (!attempts.emplace(t.id, &t).second) {
      out.push_back(absl::StrCat("the history holds transfer id ", t.id,
                                 " twice (a workload bug: the check cannot tell them apart)"));
    }
  }

  std::map<int64_t, int64_t> incoming, outgoing;
  std::set<std::string> in_ledger;
  CheckLedger(config, final_state, attempts, &incoming, &outgoing, &in_ledger, &out);

  for (const TransferRecord& t : history) {
    if (t.outcome == Outcome::kCommitted && in_ledger.count(t.id) == 0) {
      out.push_back(absl::StrCat("committed transfer ", t.id, " (", Describe(t),
                                 ") is missing from the ledger: an acknowledged commit was lost"));
    }
  }

  for (const auto& [id, balance] : balances) {
    if (id < 0 || id >= config.accounts) continue;  // reported above
    const int64_t in = incoming[id], outflow = outgoing[id];
    const int64_t expected = config.initial_balance + in - outflow;
    if (balance != expected) {
      out.push_back(absl::StrCat("account ", id, " holds ", balance, " but the ledger says ",
                                 config.initial_balance, " + ", in, " in - ", outflow,
                                 " out = ", expected, " (off by ", balance - expected,
                                 "): balances and ledger were not written together"));
    }
  }
  return out;
}

}  // namespace rangedb::sqlbank
