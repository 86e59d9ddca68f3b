// Tests of the list-append checker's sets of keys (tests/list_append.h, "Sets of
// keys"): inserts, scans (predicate reads) and range deletes, and compare-and-set
// registers modelled as lists. One hand-made history per anomaly — among them the
// shapes of issue 13's findings 1 (a range delete that misses a concurrent insert; a
// range delete that leaves a key its own scan saw) and 2 (a failed CAS that shows a
// later value) — each reported with exactly the transactions involved, and the
// histories that must pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/list_append.h"

namespace rangedb::list_append {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kLog[] = "log";
constexpr char kStart[] = "s/";
constexpr char kEnd[] = "s0";

// All transactions overlap in time: no real-time edges.
Transaction Txn(int64_t id, std::vector<MicroOp> ops, Outcome outcome = Outcome::kOk) {
  Transaction t;
  t.id = id;
  t.process = id;
  t.ops = std::move(ops);
  t.call_ns = 0;
  t.return_ns = 100;
  t.outcome = outcome;
  return t;
}

MicroOp Scan(std::vector<std::string> present) { return ScanOp(kStart, kEnd, std::move(present)); }
MicroOp DeleteAll(std::vector<std::string> deleted) {
  return DeleteRangeOp(kStart, kEnd, std::move(deleted));
}

CheckOptions WithLog() {
  CheckOptions o;
  o.deletion_log_key = kLog;
  return o;
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

AnomalyReport Only(const CheckResult& r, Anomaly kind) {
  std::vector<AnomalyReport> found;
  for (const AnomalyReport& a : r.anomalies) {
    if (a.kind == kind) found.push_back(a);
  }
  EXPECT_EQ(found.size(), 1u) << AnomalyName(kind) << " in " << Describe(r);
  return found.empty() ? AnomalyReport{} : found[0];
}

TEST(ListAppendSetsTest, InsertScanDeleteInSerialOrderIsValid) {
  const CheckResult r = MustCheck(
      {
          Txn(1, {ReadOp(kLog, {}), Scan({})}),  // before everything
          Txn(2, {InsertOp("s/a"), InsertOp("s/b")}),
          Txn(3, {ReadOp(kLog, {}), Scan({"s/a", "s/b"})}),
          Txn(4, {ReadOp(kLog, {}), Scan({"s/a", "s/b"}), DeleteAll({"s/a", "s/b"}),
                  AppendOp(kLog, 40)}),
          Txn(5, {ReadOp(kLog, {40}), Scan({})}),  // after the delete
          Txn(6, {InsertOp("s/c"), ReadOp(kLog, {40}), Scan({"s/c"})}),
      },
      WithLog());
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_GT(r.edges, 0);
}

// Finding 1(a): T3 read x before T1 appended to it (T3 -rw-> T1), and T1's range
// delete missed T3's insert into the span (T1 -rw-> T3): G2.
TEST(ListAppendSetsTest, ARangeDeleteThatMissesAConcurrentInsertIsACycle) {
  const CheckResult r = MustCheck(
      {
          Txn(1, {ReadOp(kLog, {}), DeleteAll({}), AppendOp(kLog, 10), ReadOp("x", {}),
                  AppendOp("x", 11)}),
          Txn(3, {ReadOp("x", {}), InsertOp("s/m")}),
          Txn(4, {ReadOp("x", {11}), ReadOp(kLog, {10}), Scan({"s/m"})}),
      },
      WithLog());
  EXPECT_FALSE(r.valid);
  EXPECT_THAT(Only(r, Anomaly::kG2).txn_ids, ElementsAre(1, 3)) << Describe(r);
  EXPECT_THAT(Only(r, Anomaly::kG2).explanation, HasSubstr("-rw(s/m)->"));
}

// The same phantom with a later delete of s/m: the log tells that T1's absent
// observation came before that delete, so it is still T1 -rw-> T3.
TEST(ListAppendSetsTest, TheDeletionLogPlacesAnAbsentObservationBeforeALaterDelete) {
  const std::vector<Transaction> history = {
      Txn(1, {ReadOp(kLog, {}), DeleteAll({}), AppendOp(kLog, 10), ReadOp("x", {}),
              AppendOp("x", 11)}),
      Txn(3, {ReadOp("x", {}), InsertOp("s/m")}),
      Txn(5, {ReadOp(kLog, {10}), DeleteAll({"s/m"}), AppendOp(kLog, 50)}),
      Txn(6, {ReadOp("x", {11}), ReadOp(kLog, {10, 50})}),
  };
  const CheckResult with_log = MustCheck(history, WithLog());
  EXPECT_THAT(Only(with_log, Anomaly::kG2).txn_ids, ElementsAre(1, 3)) << Describe(with_log);
  // Without the log, T1's "absent" could have been after T5's delete: no edge, and
  // no way to see the cycle (sound, less complete).
  const CheckResult without = MustCheck(history);
  EXPECT_TRUE(without.valid) << Describe(without);
}

// An absent observation after a delete, placed there by the log, is not an anomaly.
TEST(ListAppendSetsTest, AnAbsentObservationAfterTheDeleteIsValid) {
  const CheckResult r = MustCheck(
      {
          Txn(1, {InsertOp("s/k"), AppendOp("y", 1)}),
          Txn(2, {ReadOp(kLog, {}), DeleteAll({"s/k"}), AppendOp(kLog, 20)}),
          Txn(3, {ReadOp("y", {1}), ReadOp(kLog, {20}), Scan({})}),
      },
      WithLog());
  EXPECT_TRUE(r.valid) << Describe(r);
}

// T3 read y after T1's append (T1 -wr-> T3), yet its scan, which the log places
// before T2's delete, missed T1's insert (T3 -rw-> T1): G-single.
TEST(ListAppendSetsTest, AScanThatMissesAnInsertItIsOrderedAfterIsGSingle) {
  const CheckResult r = MustCheck(
      {
          Txn(1, {InsertOp("s/k"), AppendOp("y", 1)}),
          Txn(2, {ReadOp(kLog, {}), DeleteAll({"s/k"}), AppendOp(kLog, 20)}),
          Txn(3, {ReadOp("y", {1}), ReadOp(kLog, {}), Scan({})}),
      },
      WithLog());
  EXPECT_THAT(Only(r, Anomaly::kGSingle).txn_ids, ElementsAre(1, 3)) << Describe(r);
}

// A key seen present by a transaction ordered after its deletion: G-single.
TEST(ListAppendSetsTest, AKeySeenPresentAfterItsDeletionIsGSingle) {
  const CheckResult r = MustCheck(
      {
          Txn(1, {InsertOp("s/k")}),
          Txn(2, {ReadOp(kLog, {}), DeleteAll({"s/k"}), AppendOp(kLog, 20)}),
          Txn(3, {ReadOp(kLog, {20}), Scan({"s/k"})}),
      },
      WithLog());
  EXPECT_THAT(Only(r, Anomaly::kGSingle).txn_ids, ElementsAre(2, 3)) << Describe(r);
}

// Finding 1(b): a range delete that leaves a key its own scan just saw.
TEST(ListAppendSetsTest, ARangeDeleteThatLeavesAKeyItsOwnScanSawIsInternal) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/k")}),
      Txn(2, {Scan({"s/k"}), DeleteAll({})}),
  });
  const AnomalyReport a = Only(r, Anomaly::kInternal);
  EXPECT_THAT(a.txn_ids, ElementsAre(2));
  EXPECT_EQ(a.key, "s/k");
  EXPECT_THAT(a.explanation,
              HasSubstr("absent, but its earlier ops on the key imply it is present"));
}

TEST(ListAppendSetsTest, ObservationsMustAgreeWithTheTransactionsOwnWrites) {
  // Each case in a span of its own, so that they do not relate to one another.
  const CheckResult r = MustCheck({
      // Its own insert missing from its scan.
      Txn(1, {InsertOp("s/1/a"), ScanOp("s/1/", "s/10", {})}),
      // Its own delete undone.
      Txn(2, {InsertOp("s/2/b"), DeleteRangeOp("s/2/", "s/20", {"s/2/b"}),
              ScanOp("s/2/", "s/20", {"s/2/b"})}),
      // It saw its own insert before making it.
      Txn(3, {ScanOp("s/3/", "s/30", {"s/3/c"}), InsertOp("s/3/c")}),
      // Its delete found a key its scan did not.
      Txn(4, {ScanOp("s/4/", "s/40", {}), DeleteRangeOp("s/4/", "s/40", {"s/4/d"})}),
      Txn(5, {InsertOp("s/4/d")}),
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kInternal, Anomaly::kInternal, Anomaly::kInternal,
                                    Anomaly::kInternal))
      << Describe(r);
}

TEST(ListAppendSetsTest, AKeyOfAFailedInserterSeenPresentIsG1a) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/k")}, Outcome::kFailed),
      Txn(2, {Scan({"s/k"})}),
  });
  EXPECT_THAT(Only(r, Anomaly::kG1a).txn_ids, ElementsAre(1, 2)) << Describe(r);
}

TEST(ListAppendSetsTest, AKeyItsInserterDeletedAgainSeenPresentIsG1b) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/k"), DeleteAll({"s/k"})}),
      Txn(2, {Scan({"s/k"})}),
  });
  EXPECT_THAT(Only(r, Anomaly::kG1b).txn_ids, ElementsAre(1, 2)) << Describe(r);
}

TEST(ListAppendSetsTest, AKeyDeletedByTwoCommittedTransactionsIsAnIncompatibleOrder) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/k")}),
      Txn(2, {DeleteAll({"s/k"})}),
      Txn(3, {DeleteAll({"s/k"})}),
  });
  EXPECT_THAT(Only(r, Anomaly::kIncompatibleOrder).txn_ids, UnorderedElementsAre(2, 3))
      << Describe(r);
  // A failed second deleter is no anomaly.
  EXPECT_TRUE(MustCheck({Txn(1, {InsertOp("s/k")}), Txn(2, {DeleteAll({"s/k"})}),
                         Txn(3, {DeleteAll({"s/k"})}, Outcome::kFailed)})
                  .valid);
}

TEST(ListAppendSetsTest, UnknownDuplicateAndOutOfSpanKeysAreReported) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/a"), InsertOp("t")}), Txn(2, {Scan({"s/zz"})}),  // nobody inserted it
      Txn(3, {Scan({"s/a", "s/a"})}),                                      // twice
      Txn(4, {ScanOp("s/", "s/b", {"t"})}),                                // outside the span
  });
  EXPECT_THAT(Kinds(r), ElementsAre(Anomaly::kDuplicateElements, Anomaly::kGarbageRead,
                                    Anomaly::kGarbageRead))
      << Describe(r);
}

TEST(ListAppendSetsTest, AnAmbiguousInserterSeenPresentCommitted) {
  const CheckResult r = MustCheck({
      Txn(1, {InsertOp("s/k")}, Outcome::kAmbiguous),
      Txn(2, {Scan({"s/k"})}),
      Txn(3, {InsertOp("s/j")}, Outcome::kAmbiguous),
  });
  EXPECT_TRUE(r.valid) << Describe(r);
  EXPECT_EQ(r.ambiguous_committed, 1);
  EXPECT_EQ(r.ambiguous_dropped, 1);
}

TEST(ListAppendSetsTest, MalformedSetHistoriesAreRejected) {
  EXPECT_EQ(Check({Txn(1, {InsertOp("s/k")}), Txn(2, {InsertOp("s/k")})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check({Txn(1, {ScanOp("s/b", "s/a", {})})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check({Txn(1, {ReadOp("s/x", {})}), Txn(2, {Scan({})})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check({Txn(1, {AppendOp("x", 1)}), Txn(2, {InsertOp("x")})}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Finding 2, as the CAS register workload records it: T1 read x = [1]; T2 appended
// to x and to k; T1's failed CAS of k reported k = [3] (a read). T1 saw x before T2
// and k after it: G-single. A CAS that succeeded is read(expected) + append.
TEST(ListAppendSetsTest, AFailedCasThatShowsALaterValueIsGSingle) {
  const CheckResult r = MustCheck({
      Txn(1, {ReadOp("x", {}), AppendOp("x", 1)}),
      Txn(2, {ReadOp("x", {1}), AppendOp("x", 2), ReadOp("k", {}), AppendOp("k", 3)}),
      Txn(4, {ReadOp("x", {1}), ReadOp("k", {3})}),
      Txn(5, {ReadOp("x", {1, 2})}),
  });
  EXPECT_THAT(Only(r, Anomaly::kGSingle).txn_ids, ElementsAre(2, 4)) << Describe(r);
}

// And the same on one key: a read, then a failed CAS showing another value.
TEST(ListAppendSetsTest, AFailedCasThatDisagreesWithAnEarlierReadIsInternal) {
  const CheckResult r = MustCheck({
      Txn(1, {ReadOp("k", {}), AppendOp("k", 1)}),
      Txn(2, {ReadOp("k", {}), ReadOp("k", {1})}),
  });
  EXPECT_THAT(Only(r, Anomaly::kInternal).txn_ids, ElementsAre(2)) << Describe(r);
}

}  // namespace
}  // namespace rangedb::list_append
