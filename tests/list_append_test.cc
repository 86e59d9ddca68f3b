// Tests of the list-append checker (tests/list_append.h): one hand-made history per
// anomaly of Elle (Kingsbury & Alvaro, VLDB 2020, sections 3 and 4), each of which must
// be reported with exactly the transactions involved; real-time and ambiguous
// transactions; then large random histories executed against an in-memory map, which
// must pass quickly, and the same with one read corrupted, which must not.
#include "tests/list_append.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rangedb::list_append {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A transaction; by default all of them overlap in time, so no real-time edges arise.
Transaction Txn(int64_t id, std::vector<MicroOp> ops, Outcome outcome = Outcome::kOk,
                int64_t call_ns = 0, int64_t return_ns = 100) {
  Transaction t;
  t.id = id;
  t.process = id;
  t.ops = std::move(ops);
  t.call_ns = call_ns;
  t.return_ns = return_ns;
  t.outcome = outcome;
  return t;
}

// Txn with explicit times, for real-time tests.
Transaction Timed(int64_t id, std::vector<MicroOp> ops, int64_t call_ns, int64_t return_ns,
                  Outcome outcome = Outcome::kOk) {
  return Txn(id, std::move(ops), outcome, call_ns, return_ns);
}

std::string Describe(const CheckResult& r) {
  std::string text = Summarize(r);
  for (const AnomalyReport& a : r.anomalies) {
    absl::StrAppend(&text, "\n  ", AnomalyName(a.kind), ": ", a.explanation);
  }
  return text;
}

CheckResult MustCheck(const std::vector<Transaction>& history, const CheckOptions& options = {}) {
  absl::StatusOr<CheckResult> result = Check(history, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CheckResult{};
}

std::vector<Anomaly> Kinds(const CheckResult& r) {
  std::vector<Anomaly> kinds;
  for (const AnomalyReport& a : r.anomalies) kinds.push_back(a.kind);
  return kinds;
}

// The only report of `kind`; fails the test when there is not exactly one.
AnomalyReport Only(const CheckResult& r, Anomaly kind) {
  std::vector<AnomalyReport> found;
  for (const AnomalyReport& a : r.anomalies) {
    if (a.kind == kind) found.push_back(a);
  }
  EXPECT_EQ(found.size(), 1u) << AnomalyName(kind) << " in " << Describe(r);
  return found.empty() ? AnomalyReport{} : found[0];
}

TEST(ListAppendTest, EmptyHistoryIsValid) {
  const CheckResult r = MustCheck({});
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.transactions, 0);
}

TEST(ListAppendTest, SerialHistoryIsValid) {
  const CheckResult r = MustCheck({
      Timed(1, {ReadOp("x", {}), AppendOp("x", 1)}, 0, 10),
      Timed(2, {AppendOp("x", 2), AppendOp("y", 1), ReadOp("x", {1, 2})}, 20, 30),
      Timed(3, {ReadOp("x", {1, 2}), ReadOp("y", {1}), AppendOp("y", 2)}, 40, 50),
      Timed(4, {ReadOp("y", {1, 2}), ReadOp("z", {})}, 60, 70),
  });
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.committed, 4);
}

TEST(ListAppendTest, ConcurrentHistoryIsValid) {
  // Serializable (and strictly so) in the order T2 T1 T4 T3: T2 overlaps T1 and reads
  // x before T1's append; T4 overlaps T3 and appends before T3 reads.
  const CheckResult r = MustCheck({
      Timed(1, {AppendOp("x", 1)}, 0, 10),
      Timed(2, {ReadOp("x", {}), AppendOp("y", 1)}, 5, 15),
      Timed(3, {ReadOp("x", {1, 2}), ReadOp("y", {1})}, 20, 30),
      Timed(4, {AppendOp("x", 2), ReadOp("y", {1})}, 12, 25),
  });
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_GT(r.edges, 0);
}

// Section 3, G0 (write cycle): T1 and T2 append to x and y in opposite orders.
TEST(ListAppendTest, DetectsG0WriteCycle) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), AppendOp("y", 1)}),
      Txn(2, {AppendOp("x", 2), AppendOp("y", 2)}),
      Txn(3, {ReadOp("x", {1, 2}), ReadOp("y", {2, 1})}),
  });
  EXPECT_FALSE(r.valid);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG0)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kG0);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.explanation, "T1 -ww(x)-> T2 -ww(y)-> T1");
  EXPECT_FALSE(a.realtime);
}

// Section 3, G1a (aborted read): T2 sees the append of T1, which failed.
TEST(ListAppendTest, DetectsG1aAbortedRead) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1)}, Outcome::kFailed),
      Txn(2, {ReadOp("x", {1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG1a)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kG1a);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.key, "x");
  EXPECT_THAT(a.explanation, HasSubstr("failed T1"));
  EXPECT_EQ(r.failed, 1);
}

// Section 3, G1b (intermediate read): T2 sees T1's first append to x but not its
// second. That also makes T2 both follow T1 (wr) and precede it (rw): a G-single, as
// Elle reports too.
TEST(ListAppendTest, DetectsG1bIntermediateRead) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), AppendOp("x", 2)}),
      Txn(2, {ReadOp("x", {1})}),
      Txn(3, {ReadOp("x", {1, 2})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG1b, Anomaly::kGSingle)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kG1b);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.key, "x");
  EXPECT_THAT(a.explanation, HasSubstr("then appended 2"));
  EXPECT_EQ(Only(r, Anomaly::kGSingle).explanation, "T1 -wr(x)-> T2 -rw(x)-> T1");
}

// Section 3, G1c (circular information flow): each transaction reads the other's append.
TEST(ListAppendTest, DetectsG1cCircularInformationFlow) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), ReadOp("y", {1})}),
      Txn(2, {AppendOp("y", 1), ReadOp("x", {1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG1c)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kG1c);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.explanation, "T1 -wr(x)-> T2 -wr(y)-> T1");
}

// Section 3, G-single (read skew): T1 sees T2's append to y but not its append to x.
TEST(ListAppendTest, DetectsGSingleReadSkew) {
  const CheckResult r = MustCheck({
      Txn(1, {ReadOp("x", {}), ReadOp("y", {1})}),
      Txn(2, {AppendOp("x", 1), AppendOp("y", 1)}),
      Txn(3, {ReadOp("x", {1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kGSingle);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.explanation, "T1 -rw(x)-> T2 -wr(y)-> T1");
}

// Section 3, G2 (write skew): each transaction reads what the other appends to, empty.
TEST(ListAppendTest, DetectsG2WriteSkew) {
  const CheckResult r = MustCheck({
      Txn(1, {ReadOp("x", {}), AppendOp("y", 1)}),
      Txn(2, {ReadOp("y", {}), AppendOp("x", 1)}),
      Txn(3, {ReadOp("x", {1}), ReadOp("y", {1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG2)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kG2);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_EQ(a.explanation, "T1 -rw(x)-> T2 -rw(y)-> T1");
}

// Section 4.2: reads of a key must be prefixes of one another.
TEST(ListAppendTest, DetectsIncompatibleOrder) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1)}),
      Txn(2, {AppendOp("x", 2)}),
      Txn(3, {ReadOp("x", {1, 2})}),
      Txn(4, {ReadOp("x", {2, 1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kIncompatibleOrder)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kIncompatibleOrder);
  EXPECT_THAT(a.txn_ids, ElementsAre(3, 4));
  EXPECT_EQ(a.key, "x");
}

TEST(ListAppendTest, DetectsDuplicateElements) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1)}),
      Txn(2, {ReadOp("x", {1, 1})}),
      Txn(3, {ReadOp("x", {1})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kDuplicateElements)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kDuplicateElements);
  EXPECT_THAT(a.txn_ids, ElementsAre(2));
  EXPECT_EQ(a.key, "x");
}

TEST(ListAppendTest, DetectsInternalReadMissingOwnAppend) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), ReadOp("x", {})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kInternal)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kInternal).txn_ids, ElementsAre(1));
}

TEST(ListAppendTest, DetectsInternalReadDisagreeingWithEarlierRead) {
  // T2 read [1], appended 2, then read [1, 3]: it must have seen [1, 2].
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1)}),
      Txn(2, {ReadOp("x", {1}), AppendOp("x", 2), ReadOp("x", {1, 2}), ReadOp("y", {})}),
      Txn(3, {ReadOp("x", {1}), AppendOp("x", 3), ReadOp("x", {1, 2})}),
  });
  EXPECT_THAT(Kinds(r), testing::Contains(Anomaly::kInternal)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kInternal);
  EXPECT_THAT(a.txn_ids, ElementsAre(3));
  EXPECT_THAT(a.explanation, HasSubstr("imply [1, 3]"));
}

TEST(ListAppendTest, DetectsInternalReadOfOwnFutureAppend) {
  const CheckResult r = MustCheck({
      Txn(1, {ReadOp("x", {1}), AppendOp("x", 1)}),
  });
  EXPECT_THAT(Kinds(r), testing::Contains(Anomaly::kInternal)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kInternal).txn_ids, ElementsAre(1));
}

TEST(ListAppendTest, DetectsGarbageRead) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1)}),
      Txn(2, {ReadOp("x", {1, 7})}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGarbageRead)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kGarbageRead).txn_ids, ElementsAre(2));
}

// A stale read: T1's append completed before T2 began, yet T2 does not see it. That is
// serializable (T2 before T1) but not strictly serializable.
TEST(ListAppendTest, RealtimeStaleReadIsGSingleRealtime) {
  const std::vector<Transaction> history = {
      Timed(1, {AppendOp("x", 1)}, 0, 10),
      Timed(2, {ReadOp("x", {})}, 20, 30),
  };
  const CheckResult r = MustCheck(history);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  const AnomalyReport a = Only(r, Anomaly::kGSingle);
  EXPECT_THAT(a.txn_ids, ElementsAre(1, 2));
  EXPECT_TRUE(a.realtime);
  EXPECT_EQ(a.explanation, "T1 -rt-> T2 -rw(x)-> T1 (realtime)");

  CheckOptions serializable;
  serializable.realtime = false;
  const CheckResult s = MustCheck(history, serializable);
  EXPECT_TRUE(s.valid) << Describe(s);
}

// The same with the version order observed by a later read rather than inferred.
TEST(ListAppendTest, RealtimeStaleReadWithObservedOrder) {
  const std::vector<Transaction> history = {
      Timed(1, {AppendOp("x", 1)}, 0, 10),
      Timed(2, {ReadOp("x", {})}, 20, 30),
      Timed(3, {ReadOp("x", {1})}, 40, 50),
  };
  const CheckResult r = MustCheck(history);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kGSingle).txn_ids, ElementsAre(1, 2));
  CheckOptions serializable;
  serializable.realtime = false;
  EXPECT_TRUE(MustCheck(history, serializable).valid);
}

TEST(ListAppendTest, NonRealtimeCycleIsNotReportedAsRealtime) {
  // A G-single that needs no rt edge, in a history with rt edges: reported once,
  // without the realtime flag.
  const CheckResult r = MustCheck({
      Timed(1, {ReadOp("x", {}), ReadOp("y", {1})}, 50, 60),
      Timed(2, {AppendOp("x", 1), AppendOp("y", 1)}, 0, 10),
      Timed(3, {ReadOp("x", {1})}, 70, 80),
  });
  const AnomalyReport a = Only(r, Anomaly::kGSingle);
  EXPECT_FALSE(a.realtime);
  EXPECT_EQ(a.explanation, "T1 -rw(x)-> T2 -wr(y)-> T1");
}

TEST(ListAppendTest, ObservedAmbiguousTransactionIsCommitted) {
  // T1's outcome is unknown, but T2 saw its append to x, so it committed, and so did
  // its append to y, which T2 missed: read skew through an ambiguous transaction.
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), AppendOp("y", 1), ReadOp("z", {42})}, Outcome::kAmbiguous),
      Txn(2, {ReadOp("x", {1}), ReadOp("y", {})}),
      Txn(3, {ReadOp("y", {1})}),
  });
  EXPECT_EQ(r.ambiguous_committed, 1);
  EXPECT_EQ(r.committed, 3);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  EXPECT_EQ(Only(r, Anomaly::kGSingle).explanation, "T1 -wr(x)-> T2 -rw(y)-> T1");
}

TEST(ListAppendTest, UnobservedAmbiguousTransactionIsDropped) {
  // Nobody saw T1's append, so it may never have happened; its reads (garbage here)
  // are unknown and ignored, and so is the recorded return time.
  const CheckResult r = MustCheck({
      Timed(1, {AppendOp("x", 1), ReadOp("y", {99})}, 0, 5, Outcome::kAmbiguous),
      Timed(2, {ReadOp("x", {})}, 10, 20),
  });
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.ambiguous_dropped, 1);
  EXPECT_EQ(r.committed, 1);
}

TEST(ListAppendTest, AmbiguousTransactionNeverReturns) {
  // T1 is ambiguous: it may have committed long after its recorded return, so T2 not
  // seeing it and T3 seeing it is fine. Were T1 kOk, T2 would be a stale read.
  std::vector<Transaction> history = {
      Timed(1, {AppendOp("x", 1)}, 0, 5, Outcome::kAmbiguous),
      Timed(2, {ReadOp("x", {})}, 10, 20),
      Timed(3, {ReadOp("x", {1})}, 30, 40),
  };
  CheckResult r = MustCheck(history);
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.ambiguous_committed, 1);
  history[0].outcome = Outcome::kOk;
  r = MustCheck(history);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  EXPECT_TRUE(Only(r, Anomaly::kGSingle).realtime);
}

TEST(ListAppendTest, FailedTransactionsAreIgnoredUnlessSeen) {
  const CheckResult r = MustCheck({
      Txn(1, {AppendOp("x", 1), ReadOp("y", {5, 5})}, Outcome::kFailed),
      Txn(2, {ReadOp("x", {})}),
  });
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.failed, 1);
}

TEST(ListAppendTest, RejectsMalformedHistories) {
  EXPECT_FALSE(Check({Txn(1, {}), Txn(1, {})}).ok());
  EXPECT_FALSE(Check({Timed(1, {}, 10, 5)}).ok());
  EXPECT_TRUE(Check({Timed(1, {}, 10, 5, Outcome::kAmbiguous)}).ok());
  const absl::StatusOr<CheckResult> twice =
      Check({Txn(1, {AppendOp("x", 1)}), Txn(2, {AppendOp("x", 1)})});
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("T1 and T2"));
  // The same element on different keys is fine.
  EXPECT_TRUE(Check({Txn(1, {AppendOp("x", 1), AppendOp("y", 1)})}).ok());
}

TEST(ListAppendTest, ReportsAreCappedPerKindButCounted) {
  std::vector<Transaction> history;
  for (int64_t i = 0; i < 8; ++i) {
    const std::string key = absl::StrCat("k", i);
    history.push_back(Txn(2 * i + 1, {AppendOp(key, 1)}, Outcome::kFailed));
    history.push_back(Txn(2 * i + 2, {ReadOp(key, {1})}));
  }
  CheckOptions options;
  options.max_reports_per_kind = 3;
  const CheckResult r = MustCheck(history, options);
  EXPECT_EQ(r.anomalies.size(), 3u);
  EXPECT_EQ(r.found_by_kind.at(Anomaly::kG1a), 8);
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(Summarize(r),
            "invalid: 16 transactions (8 committed, 8 failed, 0 ambiguous committed, 0 ambiguous "
            "dropped), 0 edges; G1a x8");
}

TEST(ListAppendTest, SpentSearchBudgetStillReportsTheCycle) {
  CheckOptions options;
  options.max_search_steps = 0;
  const CheckResult r = MustCheck(
      {
          Txn(1, {ReadOp("x", {}), ReadOp("y", {1})}),
          Txn(2, {AppendOp("x", 1), AppendOp("y", 1)}),
          Txn(3, {ReadOp("x", {1})}),
      },
      options);
  EXPECT_TRUE(r.search_incomplete);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kGSingle)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kGSingle).txn_ids, UnorderedElementsAre(1, 2));
}

TEST(ListAppendTest, RealtimeEdgesAreATransitiveReduction) {
  // n transactions one after another with no data dependencies: a chain of n - 1 rt
  // edges, not n (n - 1) / 2.
  std::vector<Transaction> history;
  for (int64_t i = 0; i < 1000; ++i) {
    history.push_back(Timed(i + 1, {ReadOp(absl::StrCat("k", i), {})}, 10 * i, 10 * i + 5));
  }
  const CheckResult r = MustCheck(history);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.edges, 999);
}

TEST(ListAppendTest, LongListsAreShortenedInExplanations) {
  std::vector<int64_t> list;
  std::vector<MicroOp> appends;
  for (int64_t e = 1; e <= 100; ++e) {
    list.push_back(e);
    appends.push_back(AppendOp("x", e));
  }
  list.push_back(list.front());
  const CheckResult r = MustCheck({Txn(1, appends), Txn(2, {ReadOp("x", list)})});
  EXPECT_THAT(Only(r, Anomaly::kDuplicateElements).explanation,
              HasSubstr("[1, 2, 3, 4, ..., 98, 99, 100, 1] (101 elements)"));
}

// A random history that is strictly serializable by construction: each transaction
// runs atomically at a random point inside its [call, return] interval against an
// in-memory map. Each process runs one transaction at a time; with one process the
// history is serial. As in Elle's workloads, a key takes a bounded number of appends
// and is then retired for a fresh one, which keeps lists short.
struct GeneratorOptions {
  int transactions = 1000;
  int processes = 1;
  int ops_per_txn_max = 8;  // 1..max ops, ~half reads
  int active_keys = 10;
  int appends_per_key_max = 32;
  // Percent of reads that miss up to 2 of the latest elements: a stale, buggy store.
  int stale_read_percent = 0;
  uint64_t seed = 1;
};

std::vector<Transaction> GenerateHistory(const GeneratorOptions& g) {
  std::mt19937_64 rng(g.seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<Transaction> history(g.transactions);
  std::vector<int64_t> clock_ns(g.processes, 0);
  std::vector<std::pair<int64_t, int>> commit_order;  // (commit point, index)
  for (int i = 0; i < g.transactions; ++i) {
    Transaction& t = history[i];
    t.id = i + 1;
    t.process = uniform(0, g.processes - 1);
    t.call_ns = clock_ns[t.process] + uniform(1, 20);
    t.return_ns = t.call_ns + uniform(1, 50);
    clock_ns[t.process] = t.return_ns;
    commit_order.push_back({uniform(t.call_ns, t.return_ns), i});
  }
  std::sort(commit_order.begin(), commit_order.end());
  std::map<std::string, std::vector<int64_t>> state;
  std::vector<std::string> active;
  int next_key = 0;
  int64_t next_element = 0;
  for (int k = 0; k < g.active_keys; ++k) active.push_back(absl::StrCat("k", next_key++));
  for (const auto& [commit_ns, i] : commit_order) {
    const int64_t ops = uniform(1, g.ops_per_txn_max);
    for (int64_t o = 0; o < ops; ++o) {
      std::string& key = active[uniform(0, g.active_keys - 1)];
      std::vector<int64_t>& list = state[key];
      if (uniform(0, 1) == 0) {
        std::vector<int64_t> seen = list;
        if (uniform(0, 99) < g.stale_read_percent) {
          seen.resize(seen.size() - std::min<size_t>(seen.size(), uniform(1, 2)));
        }
        history[i].ops.push_back(ReadOp(key, std::move(seen)));
        continue;
      }
      list.push_back(++next_element);
      history[i].ops.push_back(AppendOp(key, next_element));
      if (static_cast<int>(list.size()) >= g.appends_per_key_max) {
        key = absl::StrCat("k", next_key++);
      }
    }
  }
  return history;
}

// Checks `history` and prints how long it took.
CheckResult TimedCheck(const std::string& what, const std::vector<Transaction>& history,
                       const CheckOptions& options = {}) {
  const auto start = std::chrono::steady_clock::now();
  CheckResult r = MustCheck(history, options);
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  std::cout << "[ timing   ] " << what << ": " << elapsed_ms << " ms; " << Summarize(r) << "\n";
  EXPECT_LT(elapsed_ms, 20'000) << what;
  return r;
}

TEST(ListAppendTest, LargeSerialHistoryIsValidAndFast) {
  GeneratorOptions g;
  g.transactions = 20'000;
  const std::vector<Transaction> history = GenerateHistory(g);
  const CheckResult r = TimedCheck("20k serial txns", history);
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.committed, 20'000);
  CheckOptions serializable;
  serializable.realtime = false;
  EXPECT_TRUE(TimedCheck("20k serial txns, no realtime", history, serializable).valid);
}

TEST(ListAppendTest, LargeConcurrentHistoryIsValidAndFast) {
  GeneratorOptions g;
  g.transactions = 20'000;
  g.processes = 10;
  g.seed = 2;
  const CheckResult r = TimedCheck("20k txns from 10 processes", GenerateHistory(g));
  EXPECT_TRUE(r.valid) << Describe(r);
}

TEST(ListAppendTest, RandomConcurrentHistoriesAreValid) {
  for (uint64_t seed = 10; seed < 30; ++seed) {
    GeneratorOptions g;
    g.transactions = 500;
    g.processes = 1 + static_cast<int>(seed % 7);
    g.active_keys = 3;  // dense conflicts
    g.seed = seed;
    const CheckResult r = MustCheck(GenerateHistory(g));
    EXPECT_TRUE(r.valid) << "seed " << seed << ": " << Describe(r);
  }
}

TEST(ListAppendTest, HeavilyAnomalousHistoryIsCheckedInBoundedTime) {
  // A fifth of the reads are stale: the graph is one large tangle of cycles.
  GeneratorOptions g;
  g.transactions = 20'000;
  g.processes = 10;
  g.stale_read_percent = 20;
  g.seed = 5;
  const std::vector<Transaction> history = GenerateHistory(g);
  const CheckResult r = TimedCheck("20k txns, 20% stale reads", history);
  EXPECT_FALSE(r.valid);
  EXPECT_GT(r.found_by_kind.count(Anomaly::kGSingle), 0u) << Describe(r);
  EXPECT_LE(r.anomalies.size(), 5u * 10);
  CheckOptions serializable;
  serializable.realtime = false;
  EXPECT_FALSE(TimedCheck("20k txns, 20% stale reads, no realtime", history, serializable).valid);
}

TEST(ListAppendTest, CycleSearchIsBoundedWhenOnlyG2CyclesExist) {
  // The worst case for the G-single search: one large component in which every rw
  // edge is tried and fails. W1 -wr-> W2 -wr-> ... -wr-> Wn is a chain (through keys
  // c<i>); Rj misses Wj's append to d<j> (Rj -rw-> Wj) and W(j+5) misses Rj's append
  // to f<j> (W(j+5) -rw-> Rj). Every cycle holds two rw edges, and the search for
  // G-single from Rj -rw-> Wj walks the whole chain after Wj.
  constexpr int64_t kChain = 10'000;
  std::vector<Transaction> history;
  for (int64_t i = 1; i <= kChain; ++i) {
    std::vector<MicroOp> ops = {AppendOp(absl::StrCat("c", i), i),
                                AppendOp(absl::StrCat("d", i), i)};
    if (i > 1) ops.push_back(ReadOp(absl::StrCat("c", i - 1), {i - 1}));
    if (i > 5) ops.push_back(ReadOp(absl::StrCat("f", i - 5), {}));
    history.push_back(Txn(i, std::move(ops)));
  }
  for (int64_t j = 1; j + 5 <= kChain; ++j) {
    history.push_back(
        Txn(kChain + j, {ReadOp(absl::StrCat("d", j), {}), AppendOp(absl::StrCat("f", j), j)}));
  }
  const CheckResult r = TimedCheck("20k txns in one G2-only component", history);
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kG2)) << Describe(r);
  EXPECT_EQ(Only(r, Anomaly::kG2).txn_ids.size(), 7u) << Describe(r);  // Rj, Wj..Wj+5
}

// Where the planted bug lives: a read of `key` by history[txn] that sees an element
// appended by another transaction, which a later read still sees.
struct Plant {
  size_t txn = 0;
  size_t op = 0;
  int64_t writer_id = 0;  // who appended the last element of the read
};

// Finds an external read (the transaction's first op on the key) in the second half of
// the history whose last element some later transaction also read.
Plant FindPlant(const std::vector<Transaction>& history) {
  std::map<std::pair<std::string, int64_t>, int64_t> writer;  // (key, element) -> txn id
  for (const Transaction& t : history) {
    for (const MicroOp& op : t.ops) {
      if (op.kind == MicroOp::Kind::kAppend) writer[{op.key, op.element}] = t.id;
    }
  }
  for (size_t i = history.size() / 2; i < history.size(); ++i) {
    for (size_t o = 0; o < history[i].ops.size(); ++o) {
      const MicroOp& op = history[i].ops[o];
      if (op.kind != MicroOp::Kind::kRead || op.read_list.empty()) continue;
      bool first_on_key = true;
      for (size_t p = 0; p < o; ++p) first_on_key = first_on_key && history[i].ops[p].key != op.key;
      if (!first_on_key) continue;
      const int64_t last = op.read_list.back();
      for (size_t j = i + 1; j < history.size(); ++j) {
        for (const MicroOp& later : history[j].ops) {
          if (later.kind != MicroOp::Kind::kRead || later.key != op.key) continue;
          if (std::find(later.read_list.begin(), later.read_list.end(), last) !=
              later.read_list.end()) {
            return {i, o, writer.at({op.key, last})};
          }
        }
      }
    }
  }
  ADD_FAILURE() << "no read to corrupt";
  return {};
}

TEST(ListAppendTest, PlantedStaleReadInLargeHistoryIsFound) {
  GeneratorOptions g;
  g.transactions = 20'000;
  g.seed = 3;
  std::vector<Transaction> history = GenerateHistory(g);
  const Plant plant = FindPlant(history);
  history[plant.txn].ops[plant.op].read_list.pop_back();
  const int64_t reader_id = history[plant.txn].id;

  const CheckResult r = TimedCheck("20k serial txns, one stale read", history);
  EXPECT_FALSE(r.valid);
  // The reader now precedes the writer of the missing element (rw), which precedes it
  // in time and through the data it wrote: one anti-dependency in a cycle.
  bool found = false;
  for (const AnomalyReport& a : r.anomalies) {
    if (a.kind != Anomaly::kGSingle) continue;
    found = found || (std::count(a.txn_ids.begin(), a.txn_ids.end(), reader_id) == 1 &&
                      std::count(a.txn_ids.begin(), a.txn_ids.end(), plant.writer_id) == 1);
  }
  EXPECT_TRUE(found) << "T" << reader_id << " missed the append of T" << plant.writer_id << ": "
                     << Describe(r);
}

TEST(ListAppendTest, PlantedReorderedReadIsFound) {
  GeneratorOptions g;
  g.transactions = 2'000;
  g.processes = 5;
  g.seed = 4;
  std::vector<Transaction> history = GenerateHistory(g);
  std::map<std::string, size_t> longest;  // key -> length of its longest read
  for (const Transaction& t : history) {
    for (const MicroOp& op : t.ops) {
      if (op.kind == MicroOp::Kind::kRead) {
        longest[op.key] = std::max(longest[op.key], op.read_list.size());
      }
    }
  }
  // Swap the first two elements of a read shorter than the longest read of its key,
  // which then is no prefix of it.
  for (Transaction& t : history) {
    for (MicroOp& op : t.ops) {
      if (op.kind != MicroOp::Kind::kRead || op.read_list.size() < 2 ||
          op.read_list.size() >= longest[op.key]) {
        continue;
      }
      std::swap(op.read_list[0], op.read_list[1]);
      const CheckResult r = MustCheck(history);
      EXPECT_THAT(Kinds(r), testing::Contains(Anomaly::kIncompatibleOrder)) << Describe(r);
      EXPECT_THAT(Only(r, Anomaly::kIncompatibleOrder).txn_ids, testing::Contains(t.id));
      return;
    }
  }
  ADD_FAILURE() << "no read to corrupt";
}

}  // namespace
}  // namespace rangedb::list_append
