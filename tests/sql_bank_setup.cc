// The SQL bank's setup and final read (tests/sql_bank.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tests/sql_bank.h"
#include "tests/sql_bank_requests.h"

namespace rangedb::sqlbank {
namespace {

using client::SqlConnection;
using client::SqlParameter;

constexpr char kReadAllSql[] =
    "BEGIN; SELECT id, bal FROM acct ORDER BY id; "
    "SELECT id, src, dst, amount FROM ledger ORDER BY id; COMMIT";
// Between the rounds of SetupBank and ReadBankState.
constexpr absl::Duration kRoundPause = absl::Milliseconds(300);
// The longest budget of one round's calls.
constexpr absl::Duration kRoundTimeout = absl::Seconds(10);

absl::Status SetupOnce(SqlConnection& c, const BankConfig& config) {
  for (const char* ddl :
       {"CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS ledger "
        "(id TEXT PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER)"}) {
    if (absl::Status s = RequireDone(Run(c, ddl), 1, ddl); !s.ok()) return s;
  }
  // One statement, so one transaction: all accounts or none; OR IGNORE makes a retry
  // after an ambiguous answer harmless.
  std::string insert = "INSERT OR IGNORE INTO acct VALUES ";
  std::vector<SqlParameter> params;
  for (int64_t id = 0; id < config.accounts; ++id) {
    absl::StrAppend(&insert, id == 0 ? "" : ", ", "(?, ?)");
    params.push_back(SqlParameter{"", id});
    params.push_back(SqlParameter{"", config.initial_balance});
  }
  if (absl::Status s = RequireDone(Run(c, insert, params), 1, "inserting the accounts"); !s.ok()) {
    return s;
  }
  Reply check = Run(c, "SELECT sum(bal), count(*) FROM acct");
  if (absl::Status s = RequireDone(check, 1, "checking the accounts"); !s.ok()) return s;
  int64_t sum = 0, count = 0;
  if (check.answers[0].rows.size() != 1 || check.answers[0].rows[0].size() != 2 ||
      !AsInt(check.answers[0].rows[0][0], &sum) || !AsInt(check.answers[0].rows[0][1], &count)) {
    return absl::InternalError("checking the accounts: not one row of two integers");
  }
  if (std::optional<std::string> wrong = CheckAudit(config, sum, count)) {
    return absl::FailedPreconditionError(absl::StrCat("after setup, ", *wrong));
  }
  return absl::OkStatus();
}

// The rows of a successful kReadAllSql.
absl::StatusOr<BankState> ParseState(const Reply& reply) {
  BankState state;
  for (const client::SqlRow& row : reply.answers[1].rows) {
    AccountRow a;
    if (row.size() != 2 || !AsInt(row[0], &a.id) || !AsInt(row[1], &a.balance)) {
      return absl::DataLossError("an acct row is not two integers");
    }
    state.accounts.push_back(a);
  }
  for (const client::SqlRow& row : reply.answers[2].rows) {
    LedgerRow l;
    const std::string* id = row.size() == 4 ? std::get_if<std::string>(&row[0]) : nullptr;
    if (id == nullptr || !AsInt(row[1], &l.src) || !AsInt(row[2], &l.dst) ||
        !AsInt(row[3], &l.amount)) {
      return absl::DataLossError("a ledger row is not (text, integer, integer, integer)");
    }
    l.id = *id;
    state.ledger.push_back(std::move(l));
  }
  return state;
}

}  // namespace

absl::Status SetupBank(const std::vector<std::string>& hosts, const BankConfig& config,
                       absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  // Bounded by the deadline; each attempt's calls are bounded by the time left.
  for (size_t round = 0; absl::Now() < deadline; ++round) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
    absl::StatusOr<std::unique_ptr<SqlConnection>> c =
        Open(Rotated(hosts, round), std::min(left, kRoundTimeout), absl::Seconds(3));
    last = c.ok() ? SetupOnce(**c, config) : c.status();
    if (last.ok()) return last;
    absl::SleepFor(kRoundPause);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "setting up the bank within ", absl::FormatDuration(timeout), ": ", last.message()));
}

absl::StatusOr<BankState> ReadBankState(const std::vector<std::string>& hosts,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  for (size_t round = 0; absl::Now() < deadline; ++round) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
    absl::StatusOr<std::unique_ptr<SqlConnection>> c =
        Open(Rotated(hosts, round), std::min(left, kRoundTimeout), absl::Seconds(3));
    if (c.ok()) {
      Reply reply = Run(**c, kReadAllSql);
      last = RequireDone(reply, 4, absl::StrCat("reading the bank on ", (*c)->address()));
      if (last.ok() && reply.answers[3].tag != "COMMIT") {
        last = absl::UnavailableError(
            absl::StrCat("reading the bank: COMMIT answered ", reply.answers[3].tag));
      }
      if (last.ok()) return ParseState(reply);
    } else {
      last = c.status();
    }
    absl::SleepFor(kRoundPause);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "reading the bank within ", absl::FormatDuration(timeout), ": ", last.message()));
}

}  // namespace rangedb::sqlbank
