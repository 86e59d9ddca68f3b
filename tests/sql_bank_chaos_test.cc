// The SQL bank under faults (docs/testing.md, "SQL bank"): transfers in explicit SQL
// transactions from clients on every node, an auditor, and a nemesis that kills -9
// and restarts any node (gateways included), isolates one, and SIGSTOPs one. Every
// audit sees the exact total and account count; at the end the balances follow from
// the ledger, no acknowledged commit is lost and no failed transfer is in it
// (tests/sql_bank.h says what each outcome means).
//
// The accounts are split over two ranges and the ledger lies in a third, so most
// transfers commit in two phases across ranges.
//
// Environment: RANGEDB_CHAOS_SECONDS (length of the fault phase) and
// RANGEDB_CHAOS_SEED (the nemesis' and the clients' choices), as for the other
// chaos tests (tests/kv_chaos_fixture.h).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sql/key_codec.h"
#include "storage/keys.h"
#include "tests/kv_chaos_fixture.h"
#include "tests/kv_history.h"
#include "tests/sql_bank.h"
#include "tests/sql_bank_requests.h"

namespace rangedb::chaos {
namespace {

using harness::ClusterOptions;
using sqlbank::BankConfig;
using sqlbank::Outcome;

constexpr BankConfig kBank{10, 100};
// The ids SetupBank's tables get on a fresh cluster: the catalog hands out ids from
// 100, in creation order (docs/sql.md, Catalog).
constexpr uint64_t kAcctTableId = 100;
constexpr uint64_t kLedgerTableId = 101;
// Fewer commits than this and the run proved little (a healthy 25 s run commits
// about a thousand; a sanitizer build far fewer).
constexpr int64_t kMinCommitted = 100 / kSanitizerSlowdown;
// How long the workload runs on the healed cluster before it stops.
constexpr absl::Duration kCalmTail = absl::Seconds(5);
// Longer than a node's own budget for a key-space request (LocalSenderOptions::timeout,
// 10 s), so a statement stuck on an isolated gateway is answered by the server (08006
// or 40003, which the checker holds it to) rather than cut off by the client.
constexpr absl::Duration kRequestTimeout = absl::Seconds(15 * kSanitizerSlowdown);
// Every second isolation lasts longer than that budget, so it produces such answers.
constexpr absl::Duration kLongIsolation = absl::Seconds(12);
constexpr absl::Duration kFinalReadTimeout = absl::Seconds(60 * kSanitizerSlowdown);

// The key of account `id`'s row (docs/sql.md, Rows and indexes).
std::string AcctRowKey(int64_t id) {
  std::string key = keys::IndexPrefix(kAcctTableId, /*index_id=*/1);
  sql::AppendValueKey(&key, sql::Value(id), sql::Collation::kBinary, Direction::kAscending);
  return key;
}

// The shortest key k with AcctRowKey(id - 1) < k <= AcctRowKey(id): a split key
// before account id. The command line of `rangedb init` cannot carry a NUL byte,
// which the full row key may hold.
std::string SplitBeforeAccount(int64_t id) {
  const std::string lo = AcctRowKey(id - 1), hi = AcctRowKey(id);
  size_t i = 0;
  while (i < lo.size() && i < hi.size() && lo[i] == hi[i]) ++i;
  return hi.substr(0, i + 1);
}

ClusterOptions BankClusterOptions() {
  ClusterOptions o;
  o.split_keys = {SplitBeforeAccount(kBank.accounts / 2), keys::TablePrefix(kLedgerTableId)};
  for (const std::string& k : o.split_keys) {
    EXPECT_EQ(k.find('\0'), std::string::npos) << "a split key holds a NUL byte";
  }
  return o;
}

class SqlBankChaosTest : public KvChaosTest {
 protected:
  sqlbank::WorkloadOptions Workload() const {
    sqlbank::WorkloadOptions w;
    w.bank = kBank;
    w.client_hosts = ClientHosts(2);  // six clients, two preferring each node
    w.audit_hosts = cluster_->addresses();
    w.seed = seed_;
    w.request_timeout = kRequestTimeout;
    return w;
  }

  // Says whether the tables got the ids the split keys assume (the test is valid
  // either way; only the ranges the transactions span differ).
  void ReportTableIds() {
    absl::StatusOr<std::unique_ptr<client::SqlConnection>> c =
        sqlbank::Open(cluster_->addresses(), kRequestTimeout, absl::Seconds(3));
    ASSERT_TRUE(c.ok()) << c.status();
    const sqlbank::Reply reply =
        sqlbank::Run(**c, "SELECT name, sql FROM sqlite_schema WHERE name IN ('acct', 'ledger')");
    if (!sqlbank::RequireDone(reply, 1, "sqlite_schema").ok()) return;
    for (const client::SqlRow& row : reply.answers[0].rows) {
      const std::string* sql = row.size() == 2 ? std::get_if<std::string>(&row[1]) : nullptr;
      if (sql != nullptr) std::cout << "table: " << *sql << "\n";
    }
  }

  // Faults in turn until deadline, each on a random node: kill -9 and restart;
  // isolation by a partition (kLongIsolation the first time and every second time
  // after, else 2-4 s); SIGSTOP for 2 s. Sets *last_end_ns when the last one ended
  // (healed, restarted, resumed).
  int Nemesis(absl::Time deadline, int64_t* last_end_ns) {
    int faults = 0, isolations = 0;
    for (int round = static_cast<int>(rng_() % 3); absl::Now() < deadline; ++round) {
      absl::SleepFor(RandomDuration(absl::Seconds(1), absl::Seconds(2)));
      const int victim = static_cast<int>(rng_() % num_nodes());
      switch (round % 3) {
        case 0: {
          const absl::Duration down = RandomDuration(absl::Milliseconds(500), absl::Seconds(2));
          std::cout << Since() << " nemesis: kill -9 node " << victim << ", restart after " << down
                    << "\n";
          const absl::Status s = KillAndRestart(victim, down);
          EXPECT_TRUE(s.ok()) << s;
          break;
        }
        case 1: {
          const absl::Duration held = isolations++ % 2 == 0
                                          ? kLongIsolation
                                          : RandomDuration(absl::Seconds(2), absl::Seconds(4));
          std::cout << Since() << " nemesis: isolate node " << victim << " for " << held << "\n";
          EXPECT_TRUE(cluster_->PartitionSymmetric({OtherNodes(victim), {victim}}).ok());
          absl::SleepFor(held);
          EXPECT_TRUE(cluster_->Heal().ok());
          break;
        }
        case 2:
          std::cout << Since() << " nemesis: SIGSTOP node " << victim << " for 2s\n";
          EXPECT_TRUE(cluster_->Stop(victim).ok());
          absl::SleepFor(absl::Seconds(2));
          EXPECT_TRUE(cluster_->Cont(victim).ok());
          break;
      }
      *last_end_ns = MonotonicNowNs();
      std::cout << Since() << " nemesis: healed\n";
      ++faults;
    }
    return faults;
  }

  // "t=12.345s": the time since the workload started, as the nemesis lines and the
  // evidence file show it.
  std::string Since(int64_t ns = MonotonicNowNs()) const {
    return absl::StrCat("t=", absl::FormatDuration(absl::Trunc(absl::Nanoseconds(ns - start_ns_),
                                                               absl::Milliseconds(1))));
  }

  // Keeps the cluster directory and writes the history and final state into it.
  void KeepBankEvidence(const sqlbank::BankState& state,
                        const std::vector<sqlbank::TransferRecord>& history) {
    ::setenv("RANGEDB_KEEP_TEST_DIRS", "1", 1);
    const std::string path = cluster_->base_dir() + "/sql_bank.txt";
    std::ofstream out(path);
    for (const sqlbank::AccountRow& a : state.accounts) {
      out << "account " << a.id << " " << a.balance << "\n";
    }
    for (const sqlbank::LedgerRow& l : state.ledger) {
      out << "ledger " << l.id << " " << l.src << " " << l.dst << " " << l.amount << "\n";
    }
    for (const sqlbank::TransferRecord& t : history) {
      out << "attempt " << t.id << " " << t.src << " " << t.dst << " " << t.amount << " "
          << sqlbank::OutcomeName(t.outcome) << " at " << Since(t.end_ns) << ": " << t.detail
          << "\n";
    }
    std::cout << "evidence: " << path << " and the node logs beside it\n";
  }

  void PrintSummary(const sqlbank::SqlBankWorkload& bank, const sqlbank::BankState& state,
                    const std::vector<sqlbank::TransferRecord>& history) {
    const sqlbank::SqlBankWorkload::Stats s = bank.stats();
    std::set<std::string> ledger_ids;
    for (const sqlbank::LedgerRow& l : state.ledger) ledger_ids.insert(l.id);
    int64_t ambiguous_applied = 0;
    for (const sqlbank::TransferRecord& t : history) {
      if (t.outcome == Outcome::kAmbiguous && ledger_ids.count(t.id)) ++ambiguous_applied;
    }
    std::cout << "sql bank (seed " << seed_ << "): transfers committed=" << s.committed
              << " failed=" << s.failed << " ambiguous=" << s.ambiguous << " (" << ambiguous_applied
              << " of them applied) skipped=" << s.skipped << " retries=" << s.retries
              << " reconnects=" << s.reconnects << "; audits ok=" << s.audits_ok
              << " failed=" << s.audits_failed << "; ledger rows=" << state.ledger.size() << "\n";
    std::cout << "how attempts ended other than committed (count, first example):\n";
    for (const auto& [what, e] : bank.error_counts()) {
      std::cout << "  [" << what << "] " << e.count << ": " << e.example << "\n";
    }
  }

  int64_t start_ns_ = 0;  // MonotonicNowNs when the workload started
};

// Clients on every node move money while any node (so some client's gateway) is
// killed -9 and restarted, isolated, or paused: every audit is exact, and the final
// state matches the history.
TEST_F(SqlBankChaosTest, TransfersStayExactUnderKillsPartitionsAndPauses) {
  ASSERT_TRUE(StartCluster(BankClusterOptions()));
  const absl::Status setup =
      sqlbank::SetupBank(cluster_->addresses(), kBank, absl::Seconds(30) * kSanitizerSlowdown);
  ASSERT_TRUE(setup.ok()) << setup;
  ReportTableIds();

  sqlbank::SqlBankWorkload bank(Workload());
  start_ns_ = MonotonicNowNs();
  bank.Start();
  int64_t last_fault_end_ns = MonotonicNowNs();
  const int faults = Nemesis(absl::Now() + ChaosDuration(absl::Seconds(25)), &last_fault_end_ns);

  // Heal everything and wait until every node serves.
  EXPECT_TRUE(cluster_->Heal().ok());
  ExpectAllRunning();
  const absl::Status ready = cluster_->WaitAllReady(kReadyTimeout * kSanitizerSlowdown);
  EXPECT_TRUE(ready.ok()) << ready;
  absl::SleepFor(kCalmTail);
  bank.Stop();
  const int64_t after_faults = bank.committed_since(last_fault_end_ns);
  std::cout << "faults: " << faults << "; transfers committed after the last: " << after_faults
            << "\n";

  absl::StatusOr<sqlbank::BankState> state =
      sqlbank::ReadBankState(cluster_->addresses(), kFinalReadTimeout);
  ASSERT_TRUE(state.ok()) << "reading the final state: " << state.status();
  const std::vector<sqlbank::TransferRecord> history = bank.History();
  PrintSummary(bank, *state, history);

  std::vector<std::string> violations = bank.violations();  // audits, odd answers
  for (std::string& v : sqlbank::CheckBank(kBank, *state, history)) violations.push_back(v);
  const char* keep = std::getenv("RANGEDB_KEEP_TEST_DIRS");
  if (!violations.empty() || (keep != nullptr && std::string(keep) == "1")) {
    KeepBankEvidence(*state, history);
  }
  constexpr size_t kShown = 40;
  for (size_t i = 0; i < violations.size() && i < kShown; ++i) {
    ADD_FAILURE() << "violation (seed " << seed_ << "): " << violations[i];
  }
  EXPECT_TRUE(violations.empty()) << violations.size() << " violations (the first " << kShown
                                  << " are above)";
  EXPECT_GE(bank.stats().committed, kMinCommitted) << "too few transfers committed to mean much";
  EXPECT_GT(bank.stats().audits_ok, 0) << "no audit succeeded";
  EXPECT_GT(after_faults, 0) << "no transfer committed after the last fault";
}

}  // namespace
}  // namespace rangedb::chaos
