// The SQL bank's transfer clients and auditor (tests/sql_bank.h).
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "base/kv_api.h"
#include "tests/sql_bank.h"
#include "tests/sql_bank_requests.h"

namespace rangedb::sqlbank {
namespace {

using client::SqlConnection;
using client::SqlParameter;

// The requests of a transfer attempt (tests/sql_bank.h). The writes go in one
// request: the server stops a request at its first failing statement, so no write
// runs after a failure that ended the transaction (it would run in autocommit).
constexpr char kReadSql[] = "BEGIN; SELECT bal FROM acct WHERE id = :src";
constexpr char kWriteSql[] =
    "UPDATE acct SET bal = bal - :amt WHERE id = :src; "
    "UPDATE acct SET bal = bal + :amt WHERE id = :dst; "
    "INSERT INTO ledger VALUES (:id, :src, :dst, :amt)";
constexpr char kAuditSql[] = "BEGIN; SELECT sum(bal), count(*) FROM acct; COMMIT";

SqlParameter Param(const char* name, int64_t value) { return SqlParameter{name, value}; }

void SleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

// ---- One transfer attempt ----

// One transfer client's state (ClientLoop).
struct ClientState {
  std::vector<std::string> hosts;  // every node, this client's own first
  std::mt19937_64 rng;
  std::unique_ptr<SqlConnection> connection;  // null: connect before the next attempt
  size_t shift = 0;                           // Connect starts at hosts[shift]
  int64_t attempts = 0;                       // the counter in ledger ids
  Backoff reconnect_backoff{
      BackoffOptions{std::chrono::milliseconds(50), std::chrono::milliseconds(1000)}};
};

struct AttemptResult {
  Outcome outcome = Outcome::kFailed;
  int64_t amount = 0;
  std::string detail;      // for the record
  std::string error_key;   // "<statement> <SQLSTATE or transport>"; empty: no failure
  std::string anomaly;     // non-empty: an answer no correct server gives
  bool retry = false;      // 40001: another attempt may commit
  bool reconnect = false;  // drop the session: it broke, or its node cannot serve
  bool skipped = false;    // nothing to move, nothing written
};

// The failure of a request before COMMIT, if it failed: always kFailed, as nothing
// commits before COMMIT (tests/sql_bank.h). error_key is empty when it did not fail.
AttemptResult BeforeCommit(const char* statement, const Reply& reply, size_t n,
                           const std::string& node) {
  AttemptResult r;
  if (!reply.transport.ok()) {
    r.error_key = absl::StrCat(statement, " transport");
    r.detail = absl::StrCat(statement, " on ", node, ": ", reply.transport.message());
    r.reconnect = true;
  } else if (const client::SqlError* e = reply.FirstError()) {
    r.error_key = absl::StrCat(statement, " ", e->sqlstate);
    r.detail = absl::StrCat(statement, " on ", node, ": ", e->sqlstate, " ", e->message);
    r.retry = e->sqlstate == "40001";
    r.reconnect = e->sqlstate == "57P01" || e->sqlstate == "08006";
  } else if (!reply.AllDone(n)) {
    r.error_key = absl::StrCat(statement, " incomplete");
    r.detail = absl::StrCat(statement, " on ", node, ": only ", reply.answers.size(), " of ", n,
                            " statements answered, without an error");
    r.anomaly = r.detail;
    r.reconnect = true;
  }
  return r;
}

// What the COMMIT request's reply says about the transaction.
AttemptResult AfterCommit(const Reply& commit, const std::string& node) {
  AttemptResult r;
  if (!commit.transport.ok()) {
    // Sent or not: the client says which (client/sql_client.h).
    r.outcome = kv::IsAmbiguous(commit.transport) ? Outcome::kAmbiguous : Outcome::kFailed;
    r.error_key = "COMMIT transport";
    r.detail = absl::StrCat("COMMIT on ", node, ": ", commit.transport.message());
    r.reconnect = true;
  } else if (const client::SqlError* e = commit.FirstError()) {
    r.outcome = CommitErrorOutcome(e->sqlstate);
    r.error_key = absl::StrCat("COMMIT ", e->sqlstate);
    r.detail = absl::StrCat("COMMIT on ", node, ": ", e->sqlstate, " ", e->message);
    r.retry = e->sqlstate == "40001";
    r.reconnect = e->sqlstate == "57P01" || e->sqlstate == "08006";
  } else if (!commit.AllDone(1)) {
    r.outcome = Outcome::kAmbiguous;
    r.error_key = "COMMIT incomplete";
    r.detail = absl::StrCat("COMMIT on ", node, ": answered without done or error");
    r.anomaly = r.detail;
    r.reconnect = true;
  } else if (commit.answers[0].tag != "COMMIT") {
    // An aborted session answers COMMIT by rolling back (definite); but every
    // statement before succeeded, so it should not have been aborted.
    r.error_key = absl::StrCat("COMMIT answered ", commit.answers[0].tag);
    r.detail = absl::StrCat("COMMIT on ", node, " answered ", commit.answers[0].tag,
                            " after statements that all succeeded");
    r.anomaly = r.detail;
  } else {
    r.outcome = Outcome::kCommitted;
    r.detail = absl::StrCat("committed on ", node);
  }
  return r;
}

// One attempt of a transfer of up to `wanted` from src to dst, with ledger id `id`.
AttemptResult TryTransfer(SqlConnection& conn, const std::string& id, int64_t src, int64_t dst,
                          int64_t wanted) {
  const std::string node = conn.address();
  const auto odd = [&](int64_t amount, std::string what) {
    AttemptResult r;
    r.amount = amount;
    r.error_key = "anomaly";
    r.detail = absl::StrCat("on ", node, ": ", what);
    r.anomaly = r.detail;
    return r;
  };

  const Reply read = Run(conn, kReadSql, {Param(":src", src)});
  if (AttemptResult r = BeforeCommit("read", read, 2, node); !r.error_key.empty()) return r;
  const std::vector<client::SqlRow>& rows = read.answers[1].rows;
  int64_t balance = 0;
  if (rows.size() != 1 || rows[0].size() != 1 || !AsInt(rows[0][0], &balance)) {
    return odd(0, absl::StrCat("SELECT of account ", src, " returned ", rows.size(),
                               " rows, not one integer"));
  }
  if (!conn.in_transaction()) return odd(0, "not inside a transaction after BEGIN");
  const int64_t amount = std::min(wanted, balance);
  if (amount <= 0) {
    AttemptResult skip;
    skip.skipped = true;
    return skip;
  }

  const Reply write =
      Run(conn, kWriteSql,
          {Param(":amt", amount), Param(":src", src), Param(":dst", dst), SqlParameter{":id", id}});
  if (AttemptResult r = BeforeCommit("write", write, 3, node); !r.error_key.empty()) {
    r.amount = amount;
    return r;
  }
  for (size_t i = 0; i < 3; ++i) {
    if (write.answers[i].rows_affected != 1) {
      return odd(amount, absl::StrCat("write statement ", i, " changed ",
                                      write.answers[i].rows_affected, " rows, not 1"));
    }
  }
  if (!conn.in_transaction()) return odd(amount, "not inside a transaction before COMMIT");

  AttemptResult r = AfterCommit(Run(conn, "COMMIT"), node);
  r.amount = amount;
  return r;
}

// After an attempt: rolls back a transaction still open, and drops the session when
// the attempt asked for it or it cannot go on. False if the connection was dropped
// (the next Connect starts one node further along: "Connect goes to the next host").
bool Settle(ClientState& c, const AttemptResult& r) {
  if (!r.reconnect && !c.connection->closed() && c.connection->in_transaction()) {
    (void)Run(*c.connection, "ROLLBACK");
  }
  // A session still inside a transaction would run the next BEGIN in it.
  if (r.reconnect || c.connection->closed() || c.connection->in_transaction()) {
    c.connection.reset();
    ++c.shift;
    return false;
  }
  return true;
}

}  // namespace

// ---- SqlBankWorkload ----

SqlBankWorkload::SqlBankWorkload(WorkloadOptions options) : options_(std::move(options)) {}

SqlBankWorkload::~SqlBankWorkload() { Stop(); }

void SqlBankWorkload::Start() {
  for (size_t i = 0; i < options_.client_hosts.size(); ++i) {
    threads_.emplace_back([this, i] { ClientLoop(static_cast<int>(i)); });
  }
  threads_.emplace_back([this] { AuditLoop(); });
}

void SqlBankWorkload::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

SqlBankWorkload::Stats SqlBankWorkload::stats() const {
  Stats s;
  s.committed = committed_;
  s.failed = failed_;
  s.ambiguous = ambiguous_;
  s.skipped = skipped_;
  s.retries = retries_;
  s.reconnects = reconnects_;
  s.audits_ok = audits_ok_;
  s.audits_failed = audits_failed_;
  return s;
}

std::vector<TransferRecord> SqlBankWorkload::History() const {
  absl::MutexLock lock(&mu_);
  return history_;
}

int64_t SqlBankWorkload::committed_since(int64_t from_ns) const {
  absl::MutexLock lock(&mu_);
  return std::count_if(history_.begin(), history_.end(), [&](const TransferRecord& t) {
    return t.outcome == Outcome::kCommitted && t.end_ns >= from_ns;
  });
}

std::vector<std::string> SqlBankWorkload::violations() const {
  absl::MutexLock lock(&mu_);
  return violations_;
}

std::map<std::string, SqlBankWorkload::ErrorCount> SqlBankWorkload::error_counts() const {
  absl::MutexLock lock(&mu_);
  return error_counts_;
}

void SqlBankWorkload::Record(TransferRecord record) {
  switch (record.outcome) {
    case Outcome::kCommitted:
      ++committed_;
      break;
    case Outcome::kFailed:
      ++failed_;
      break;
    case Outcome::kAmbiguous:
      ++ambiguous_;
      break;
  }
  absl::MutexLock lock(&mu_);
  history_.push_back(std::move(record));
}

void SqlBankWorkload::Violation(std::string what) {
  absl::MutexLock lock(&mu_);
  violations_.push_back(std::move(what));
}

void SqlBankWorkload::CountError(const std::string& what, const std::string& detail) {
  absl::MutexLock lock(&mu_);
  ErrorCount& e = error_counts_[what];
  if (e.count++ == 0) e.example = detail;
}

// ---- Transfers ----

void SqlBankWorkload::ClientLoop(int index) {
  ClientState c;
  c.hosts = options_.client_hosts[index];
  c.rng.seed(options_.seed * 7919 + index);
  const int64_t accounts = options_.bank.accounts;
  // Bounded by stop_: every request, connect and sleep below is bounded in time.
  while (!stop_) {
    if (c.connection == nullptr) {
      absl::StatusOr<std::unique_ptr<SqlConnection>> opened = Open(
          Rotated(c.hosts, c.shift), options_.request_timeout, options_.connect_attempt_timeout);
      if (!opened.ok()) {
        CountError("connect", std::string(opened.status().message()));
        ++reconnects_;
        ++c.shift;
        SleepFor(c.reconnect_backoff.Next());
        continue;
      }
      c.connection = std::move(*opened);
    }
    const int64_t src = static_cast<int64_t>(c.rng() % accounts);
    int64_t dst = static_cast<int64_t>(c.rng() % (accounts - 1));
    if (dst >= src) ++dst;
    const int64_t wanted = 1 + static_cast<int64_t>(c.rng() % options_.max_amount);
    Backoff retry_backoff(
        BackoffOptions{std::chrono::milliseconds(10), std::chrono::milliseconds(500)}, c.rng());
    for (int attempt = 1; attempt <= options_.max_attempts && c.connection != nullptr; ++attempt) {
      const std::string id = absl::StrCat("c", index, "-", c.attempts++);
      AttemptResult r = TryTransfer(*c.connection, id, src, dst, wanted);
      if (!r.anomaly.empty()) Violation(absl::StrCat("transfer ", id, ": ", r.anomaly));
      if (!r.error_key.empty()) CountError(r.error_key, r.detail);
      if (!Settle(c, r)) {
        ++reconnects_;
        SleepFor(c.reconnect_backoff.Next());
      }
      if (r.skipped) {
        ++skipped_;
        break;
      }
      Record(TransferRecord{id, src, dst, r.amount, r.outcome, std::move(r.detail), NowNs()});
      if (r.outcome == Outcome::kCommitted) {
        // The next reconnect tries this client's own node first again.
        c.shift = 0;
        c.reconnect_backoff.Reset();
        break;
      }
      if (!r.retry || stop_) break;
      ++retries_;
      SleepFor(retry_backoff.Next());
    }
  }
}

// ---- Audits ----

void SqlBankWorkload::AuditLoop() {
  const auto interval = absl::ToChronoMilliseconds(options_.audit_interval);
  for (int64_t audit = 0; !stop_; ++audit) {
    RunAudit(audit);
    SleepFor(interval);
  }
}

void SqlBankWorkload::RunAudit(int64_t audit) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> c =
      Open(Rotated(options_.audit_hosts, static_cast<size_t>(audit)), options_.request_timeout,
           options_.connect_attempt_timeout);
  if (!c.ok()) {
    ++audits_failed_;
    return;
  }
  const Reply reply = Run(**c, kAuditSql);
  if (!RequireDone(reply, 3, "audit").ok() || reply.answers[2].tag != "COMMIT") {
    ++audits_failed_;
    return;
  }
  const std::vector<client::SqlRow>& rows = reply.answers[1].rows;
  int64_t sum = 0, count = 0;
  const std::string where = absl::StrCat("audit ", audit, " on ", (*c)->address(), ": ");
  if (rows.size() != 1 || rows[0].size() != 2 || !AsInt(rows[0][0], &sum) ||
      !AsInt(rows[0][1], &count)) {
    Violation(absl::StrCat(where, "not one row of two integers"));
  } else if (std::optional<std::string> wrong = CheckAudit(options_.bank, sum, count)) {
    Violation(absl::StrCat(where, *wrong));
  }
  ++audits_ok_;
}

}  // namespace rangedb::sqlbank
