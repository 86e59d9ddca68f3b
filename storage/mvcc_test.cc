// One behaviour per test, each citing the DESIGN.md §3 rule it checks.
#include "storage/mvcc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/mvcc_key.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

Timestamp T(int64_t wall, int32_t logical = 0) { return {wall, logical}; }

class MVCCTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenInMemoryEngine();
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }

  TxnContext Txn(const std::string& id, Timestamp ts, int32_t seq = 1, int32_t epoch = 0) {
    TxnContext txn;
    txn.meta.id = id;
    txn.meta.anchor_key = "anchor";
    txn.meta.epoch = epoch;
    txn.meta.write_timestamp = ts;
    txn.meta.sequence = seq;
    txn.read_timestamp = ts;
    return txn;
  }

  // Each write commits its own batch, and keeps running stats.
  MVCCWriteResult Put(absl::string_view key, Timestamp ts, absl::string_view value,
                      const TxnContext* txn = nullptr) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r = MVCCPut(*b, key, ts, value, {txn, &stats_});
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(b->Commit(false).ok());
    return r.ok() ? *r : MVCCWriteResult{};
  }
  absl::Status PutStatus(absl::string_view key, Timestamp ts, absl::string_view value,
                         const TxnContext* txn = nullptr) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r = MVCCPut(*b, key, ts, value, {txn, &stats_});
    if (r.ok()) {
      EXPECT_TRUE(b->Commit(false).ok());
    }
    return r.status();
  }
  void Delete(absl::string_view key, Timestamp ts, const TxnContext* txn = nullptr) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r = MVCCDelete(*b, key, ts, {txn, &stats_});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(b->Commit(false).ok());
  }
  void Resolve(absl::string_view key, const TxnContext& txn, TxnStatus status, Timestamp ts,
               std::vector<IgnoredSeqRange> ignored = {}) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    IntentResolution res{txn.meta, status, std::move(ignored)};
    res.txn.write_timestamp = ts;
    absl::StatusOr<bool> r = MVCCResolveIntent(*b, key, res, &stats_);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(b->Commit(false).ok());
  }
  // The visible value, "<none>" when there is none, or the error text.
  std::string Get(absl::string_view key, Timestamp ts, const TxnContext* txn = nullptr,
                  Timestamp uncertainty_limit = {}) {
    absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, key, ts, {txn, uncertainty_limit});
    if (!r.ok()) return "error: " + r.status().ToString();
    return r->found ? r->value : "<none>";
  }
  void ExpectStatsMatchRecompute() {
    absl::StatusOr<MVCCStats> computed = ComputeStats(*engine_, "", "\xff\xff");
    ASSERT_TRUE(computed.ok()) << computed.status();
    EXPECT_EQ(computed->ToString(), stats_.ToString());
  }

  std::unique_ptr<Engine> engine_;
  MVCCStats stats_;
};

TEST_F(MVCCTest, ReadSeesNewestVersionAtOrBelowItsTimestamp) {
  Put("k", T(10), "v10");
  Put("k", T(20), "v20");
  EXPECT_EQ(Get("k", T(5)), "<none>");
  EXPECT_EQ(Get("k", T(10)), "v10");
  EXPECT_EQ(Get("k", T(19, 5)), "v10");
  EXPECT_EQ(Get("k", T(20)), "v20");
  EXPECT_EQ(Get("k", T(99)), "v20");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, ManyVersionsAreSkippedCorrectly) {
  for (int i = 1; i <= 50; ++i) Put("k", T(i * 10), "v" + std::to_string(i * 10));
  Put("j", T(1), "j");
  Put("l", T(1), "l");
  for (int i = 1; i <= 50; ++i) {
    EXPECT_EQ(Get("k", T(i * 10 + 5)), "v" + std::to_string(i * 10));
  }
  EXPECT_EQ(Get("k", T(9)), "<none>");
}

TEST_F(MVCCTest, DeleteWritesATombstone) {
  Put("k", T(10), "v");
  Delete("k", T(20));
  EXPECT_EQ(Get("k", T(15)), "v");
  EXPECT_EQ(Get("k", T(25)), "<none>");
  ExpectStatsMatchRecompute();
  EXPECT_EQ(stats_.live_count, 0);
  EXPECT_EQ(stats_.key_count, 1);
  EXPECT_EQ(stats_.val_count, 2);
}

TEST_F(MVCCTest, EmptyValueIsAValueNotADeletion) {
  Put("k", T(10), "");
  absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, "k", T(10));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->found);
  EXPECT_EQ(r->value, "");
}

TEST_F(MVCCTest, WriteBelowNewerVersionIsPushedAboveIt) {  // WriteTooOld
  Put("k", T(20), "new");
  MVCCWriteResult r = Put("k", T(10), "old");
  EXPECT_TRUE(r.write_too_old);
  EXPECT_EQ(r.timestamp, T(20).Next());
  EXPECT_EQ(Get("k", T(20)), "new");
  EXPECT_EQ(Get("k", T(21)), "old");
  MVCCWriteResult same = Put("k", T(20, 1), "same");  // equal timestamp is too old too
  EXPECT_TRUE(same.write_too_old);
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, ReadOfAnotherTransactionsIntentIsAConflictNamingIt) {
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "provisional", &txn);
  absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, "k", T(15));
  ASSERT_FALSE(r.ok());
  std::vector<LockConflict> conflicts = LockConflictsOf(r.status());
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].key, "k");
  EXPECT_EQ(conflicts[0].txn.id, "txn-a");
  EXPECT_EQ(conflicts[0].txn.write_timestamp, T(10));
  EXPECT_EQ(conflicts[0].txn.anchor_key, "anchor");
}

TEST_F(MVCCTest, ReadBelowAnIntentIgnoresIt) {
  Put("k", T(5), "committed");
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "provisional", &txn);
  EXPECT_EQ(Get("k", T(9)), "committed");
}

TEST_F(MVCCTest, IntentWithinUncertaintyIntervalIsAConflict) {
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "provisional", &txn);
  EXPECT_NE(Get("k", T(9), nullptr, T(12)).find("conflicting intent"), std::string::npos);
  EXPECT_EQ(Get("k", T(9), nullptr, T(9, 5)), "<none>");
}

TEST_F(MVCCTest, CommittedValueWithinUncertaintyIntervalIsUncertain) {
  Put("k", T(5), "old");
  Put("k", T(12), "new");
  absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, "k", T(10), {nullptr, T(15)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsUncertaintyError(r.status())) << r.status();
  std::optional<proto::MVCCErrorDetail> d = MVCCErrorDetailOf(r.status());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->uncertain_existing_timestamp().wall_time_ns(), 12);
  EXPECT_EQ(Get("k", T(10), nullptr, T(11)), "old");  // above the limit: invisible
}

TEST_F(MVCCTest, TransactionReadsItsOwnIntentEvenAboveItsReadTimestamp) {
  Put("k", T(5), "committed");
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "mine", &txn);
  txn.read_timestamp = T(8);
  EXPECT_EQ(Get("k", T(8), &txn), "mine");
  TxnContext other = Txn("txn-b", T(20));
  EXPECT_NE(Get("k", T(20), &other).find("conflicting"), std::string::npos);
}

TEST_F(MVCCTest, OwnReadsHonourSequenceNumbers) {
  Put("k", T(5), "committed");
  TxnContext txn = Txn("txn-a", T(10), /*seq=*/2);
  Put("k", T(10), "seq2", &txn);
  txn.meta.sequence = 4;
  Put("k", T(10), "seq4", &txn);
  txn.meta.sequence = 6;
  Delete("k", T(10), &txn);

  txn.meta.sequence = 1;
  EXPECT_EQ(Get("k", T(10), &txn), "committed");  // before its first write
  txn.meta.sequence = 3;
  EXPECT_EQ(Get("k", T(10), &txn), "seq2");
  txn.meta.sequence = 5;
  EXPECT_EQ(Get("k", T(10), &txn), "seq4");
  txn.meta.sequence = 7;
  EXPECT_EQ(Get("k", T(10), &txn), "<none>");
  txn.ignored_seqnums = {{5, 6}};  // rolled back to a savepoint before the delete
  EXPECT_EQ(Get("k", T(10), &txn), "seq4");
  txn.ignored_seqnums = {{3, 6}};
  EXPECT_EQ(Get("k", T(10), &txn), "seq2");
  txn.ignored_seqnums = {{1, 6}};
  EXPECT_EQ(Get("k", T(10), &txn), "committed");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, IntentsOfAnEarlierEpochAreInvisibleAndReplaced) {
  Put("k", T(5), "committed");
  TxnContext txn = Txn("txn-a", T(10), 1, /*epoch=*/0);
  Put("k", T(10), "epoch0", &txn);
  TxnContext restarted = Txn("txn-a", T(12), 1, /*epoch=*/1);
  EXPECT_EQ(Get("k", T(12), &restarted), "committed");
  Put("k", T(12), "epoch1", &restarted);
  EXPECT_EQ(Get("k", T(12), &restarted), "epoch1");
  Resolve("k", restarted, TxnStatus::kCommitted, T(12));
  EXPECT_EQ(Get("k", T(11)), "committed");  // the epoch-0 intent at 10 is gone
  EXPECT_EQ(Get("k", T(12)), "epoch1");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, WritesNeverOverwriteAnotherTransactionsIntent) {
  TxnContext a = Txn("txn-a", T(10));
  Put("k", T(10), "a", &a);
  TxnContext b = Txn("txn-b", T(20));
  absl::Status s = PutStatus("k", T(20), "b", &b);
  EXPECT_TRUE(IsLockConflict(s)) << s;
  EXPECT_TRUE(IsLockConflict(PutStatus("k", T(30), "plain")));
}

TEST_F(MVCCTest, TransactionalWriteBelowCommittedVersionMovesTheIntentUp) {
  Put("k", T(20), "committed");
  TxnContext txn = Txn("txn-a", T(10));
  MVCCWriteResult r = Put("k", T(10), "mine", &txn);
  EXPECT_TRUE(r.write_too_old);
  EXPECT_EQ(r.timestamp, T(20).Next());
  absl::StatusOr<MVCCGetResult> conflict = MVCCGet(*engine_, "k", T(30));
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(LockConflictsOf(conflict.status())[0].txn.write_timestamp, T(20).Next());
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, ReplayedWriteIsIdempotentAndMismatchIsAnError) {
  TxnContext txn = Txn("txn-a", T(10), 3);
  Put("k", T(10), "v", &txn);
  MVCCStats before = stats_;
  EXPECT_TRUE(PutStatus("k", T(10), "v", &txn).ok());
  EXPECT_EQ(stats_, before);
  EXPECT_FALSE(PutStatus("k", T(10), "different", &txn).ok());
}

TEST_F(MVCCTest, TransactionalWriteNeedsTheTransactionsTimestamp) {
  TxnContext txn = Txn("txn-a", T(10));
  EXPECT_EQ(PutStatus("k", T(11), "v", &txn).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PutStatus("k", Timestamp{}, "v").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MVCCTest, CommitAtTheIntentTimestampMakesItVisibleToAll) {
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "v", &txn);
  Resolve("k", txn, TxnStatus::kCommitted, T(10));
  EXPECT_EQ(Get("k", T(10)), "v");
  EXPECT_EQ(Get("k", T(9)), "<none>");
  EXPECT_EQ(stats_.intent_count, 0);
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, CommitAtAHigherTimestampMovesTheVersion) {
  Put("k", T(5), "old");
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "v", &txn);
  Resolve("k", txn, TxnStatus::kCommitted, T(15));
  EXPECT_EQ(Get("k", T(12)), "old");
  EXPECT_EQ(Get("k", T(15)), "v");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, CommitHonoursRolledBackSequences) {
  Put("k", T(5), "old");
  TxnContext txn = Txn("txn-a", T(10), 1);
  Put("k", T(10), "seq1", &txn);
  txn.meta.sequence = 2;
  Put("k", T(10), "seq2", &txn);
  Put("j", T(10), "only-write", &txn);
  Resolve("k", txn, TxnStatus::kCommitted, T(10), {{2, 2}});
  Resolve("j", txn, TxnStatus::kCommitted, T(10), {{2, 2}});
  EXPECT_EQ(Get("k", T(10)), "seq1");
  EXPECT_EQ(Get("j", T(10)), "<none>");  // its only write was rolled back
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, AbortRemovesTheIntentAndRestoresTheOlderValue) {
  Put("k", T(5), "old");
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "v", &txn);
  Resolve("k", txn, TxnStatus::kAborted, T(10));
  EXPECT_EQ(Get("k", T(20)), "old");
  EXPECT_EQ(stats_.intent_count, 0);
  EXPECT_EQ(stats_.val_count, 1);
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, PushMovesAPendingIntentUp) {
  TxnContext txn = Txn("txn-a", T(10));
  Put("k", T(10), "v", &txn);
  Resolve("k", txn, TxnStatus::kPending, T(30));
  EXPECT_EQ(Get("k", T(20)), "<none>");  // a reader at 20 no longer conflicts
  EXPECT_TRUE(IsLockConflict(MVCCGet(*engine_, "k", T(30)).status()));
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, ResolvingSomeoneElsesOrAMissingIntentDoesNothing) {
  TxnContext a = Txn("txn-a", T(10));
  Put("k", T(10), "v", &a);
  TxnContext b = Txn("txn-b", T(10));
  std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
  absl::StatusOr<bool> r =
      MVCCResolveIntent(*batch, "k", {b.meta, TxnStatus::kAborted, {}}, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  r = MVCCResolveIntent(*batch, "missing", {a.meta, TxnStatus::kCommitted, {}}, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(batch->Count(), 0u);
}

TEST_F(MVCCTest, RangedResolveFindsIntentsThroughTheLockTable) {
  TxnContext a = Txn("txn-a", T(10));
  TxnContext b = Txn("txn-b", T(10));
  for (const char* k : {"a", "b", "c", "d", "e"}) Put(k, T(10), k, &a);
  Put("bb", T(10), "other", &b);
  std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
  IntentResolution res{a.meta, TxnStatus::kCommitted, {}};
  absl::StatusOr<MVCCResolveRangeResult> r =
      MVCCResolveIntentRange(*batch, "b", "e", res, /*max_keys=*/2, /*max_bytes=*/0, &stats_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->resolved, 2);
  ASSERT_TRUE(r->resume_span.has_value());
  EXPECT_EQ(r->resume_span->start, "d");
  r = MVCCResolveIntentRange(*batch, r->resume_span->start, "e", res, 0, 0, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved, 1);
  ASSERT_TRUE(batch->Commit(false).ok());
  EXPECT_EQ(Get("b", T(10)), "b");
  EXPECT_EQ(Get("d", T(10)), "d");
  EXPECT_TRUE(Get("a", T(10)).find("conflicting") != std::string::npos);   // outside the span
  EXPECT_TRUE(Get("bb", T(10)).find("conflicting") != std::string::npos);  // other txn
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, RangedResolveStopsOnceItWroteMaxBytesAndResumesAfterThatKey) {
  // Committing an intent rewrites its value: a span of large values must not go
  // into one command (base/limits.h, kMaxSpanWriteBytes).
  TxnContext a = Txn("txn-a", T(10));
  const std::string big(1000, 'v');
  for (const char* k : {"a", "b", "c", "d"}) Put(k, T(10), big, &a);
  IntentResolution res{a.meta, TxnStatus::kCommitted, {}};
  std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
  absl::StatusOr<MVCCResolveRangeResult> r =
      MVCCResolveIntentRange(*batch, "a", "z", res, 0, /*max_bytes=*/1500, &stats_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->resolved, 2);  // the second key's value takes it past 1,500 bytes
  ASSERT_TRUE(r->resume_span.has_value());
  EXPECT_EQ(r->resume_span->start, "c");
  EXPECT_LT(batch->ByteSize(), 3 * big.size());
  // A budget smaller than one key still resolves one: every call makes progress.
  r = MVCCResolveIntentRange(*batch, "c", "z", res, 0, /*max_bytes=*/1, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved, 1);
  EXPECT_EQ(r->resume_span->start, "d");
  r = MVCCResolveIntentRange(*batch, "d", "z", res, 0, /*max_bytes=*/1, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resolved, 1);
  EXPECT_FALSE(r->resume_span.has_value());  // the last key: nothing to resume
  ASSERT_TRUE(batch->Commit(false).ok());
  for (const char* k : {"a", "b", "c", "d"}) EXPECT_EQ(Get(k, T(10)), big) << k;
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, DeleteRangeStopsOnceItFoundMaxBytesAndResumesAfterThatKey) {
  const std::string big(1000, 'v');
  for (const char* k : {"a", "b", "c", "d"}) Put(k, T(10), big);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r =
      MVCCDeleteRange(*b, "a", "z", T(20), 0, {nullptr, &stats_}, /*max_bytes=*/1500);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted_keys, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(r->resume_span.has_value());
  EXPECT_EQ(r->resume_span->start, std::string("b") + '\0');
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(Get("b", T(20)), "<none>");
  EXPECT_EQ(Get("c", T(20)), big);
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, DeleteRangeAlsoStopsOnceWhatItWroteReachesMaxBytes) {
  // Small keys and values, but a transaction whose long anchor key every lock-table
  // entry carries: the bytes written, not found, reach the bound first.
  for (const char* k : {"a", "b", "c", "d"}) Put(k, T(10), "v");
  TxnContext txn = Txn("txn-a", T(20));
  txn.meta.anchor_key = std::string(2000, 'x');
  txn.read_timestamp = T(20);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r =
      MVCCDeleteRange(*b, "a", "z", T(20), 0, {&txn, &stats_}, /*max_bytes=*/3000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted_keys, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(r->resume_span.has_value());
  EXPECT_EQ(r->resume_span->start, "c");
  EXPECT_LT(b->ByteSize(), 3 * txn.meta.anchor_key.size());
}

TEST_F(MVCCTest, ScanReturnsVisibleRowsInOrderWithLimitsAndResume) {
  for (const char* k : {"a", "b", "c", "d", "e"}) Put(k, T(10), std::string("v") + k);
  Delete("c", T(20));
  Put("b", T(30), "too-new");
  MVCCScanOptions options;
  absl::StatusOr<MVCCScanResult> all = MVCCScan(*engine_, "a", "z", T(25), options);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> keys;
  for (const MVCCKeyValue& kv : all->rows) keys.push_back(kv.key + "=" + kv.value);
  EXPECT_EQ(keys, (std::vector<std::string>{"a=va", "b=vb", "d=vd", "e=ve"}));
  EXPECT_FALSE(all->resume_span.has_value());

  options.max_keys = 2;
  absl::StatusOr<MVCCScanResult> page = MVCCScan(*engine_, "a", "z", T(25), options);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->rows.size(), 2u);
  ASSERT_TRUE(page->resume_span.has_value());
  page = MVCCScan(*engine_, page->resume_span->start, "z", T(25), options);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->rows[0].key, "d");

  options.reverse = true;
  absl::StatusOr<MVCCScanResult> rev = MVCCScan(*engine_, "a", "z", T(25), options);
  ASSERT_TRUE(rev.ok());
  ASSERT_EQ(rev->rows.size(), 2u);
  EXPECT_EQ(rev->rows[0].key, "e");
  EXPECT_EQ(rev->rows[1].key, "d");
  ASSERT_TRUE(rev->resume_span.has_value());
  rev = MVCCScan(*engine_, "a", rev->resume_span->end, T(25), options);
  ASSERT_TRUE(rev.ok());
  ASSERT_EQ(rev->rows.size(), 2u);
  EXPECT_EQ(rev->rows[0].key, "b");

  options = {};
  options.target_bytes = 1;
  page = MVCCScan(*engine_, "a", "z", T(25), options);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows.size(), 1u);  // at least one row, then stop
}

TEST_F(MVCCTest, ScanCollectsEveryConflictingIntent) {
  TxnContext a = Txn("txn-a", T(10));
  Put("a", T(10), "x", &a);
  Put("b", T(5), "fine");
  Put("c", T(10), "y", &a);
  absl::StatusOr<MVCCScanResult> r = MVCCScan(*engine_, "a", "z", T(20));
  ASSERT_FALSE(r.ok());
  std::vector<LockConflict> conflicts = LockConflictsOf(r.status());
  ASSERT_EQ(conflicts.size(), 2u);
  EXPECT_EQ(conflicts[0].key, "a");
  EXPECT_EQ(conflicts[1].key, "c");
}

TEST_F(MVCCTest, ScanOfKeysContainingZeroBytesKeepsThemApart) {
  std::vector<std::string> ks = {std::string("a"), std::string("a\x00", 2),
                                 std::string("a\x00\x00", 3), std::string("a\x01", 2)};
  for (const std::string& k : ks) Put(k, T(10), k);
  absl::StatusOr<MVCCScanResult> r = MVCCScan(*engine_, "a", "b", T(10));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows.size(), ks.size());
  for (size_t i = 0; i < ks.size(); ++i) EXPECT_EQ(r->rows[i].key, ks[i]);
}

TEST_F(MVCCTest, ConditionalPutChecksTheLatestValue) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  EXPECT_TRUE(MVCCConditionalPut(*b, "k", T(10), "v1", std::nullopt, false).ok());
  absl::StatusOr<MVCCWriteResult> r = MVCCConditionalPut(*b, "k", T(11), "v2", std::nullopt, false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsConditionFailed(r.status()));
  std::optional<proto::MVCCErrorDetail> d = MVCCErrorDetailOf(r.status());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->actual_value(), "v1");
  EXPECT_TRUE(MVCCConditionalPut(*b, "k", T(12), "v2", std::string("v1"), false).ok());
  EXPECT_FALSE(MVCCConditionalPut(*b, "k", T(13), "v3", std::string("v1"), false).ok());
  EXPECT_TRUE(MVCCConditionalPut(*b, "new", T(13), "x", std::string("y"), true).ok());
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(Get("k", T(20)), "v2");
}

TEST_F(MVCCTest, IncrementAddsAndRejectsNonIntegers) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<int64_t> v = MVCCIncrement(*b, "n", T(10), 5);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 5);
  v = MVCCIncrement(*b, "n", T(11), -7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, -2);
  ASSERT_TRUE(MVCCPut(*b, "s", T(10), "abc").ok());
  EXPECT_EQ(MVCCIncrement(*b, "s", T(11), 1).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(MVCCPut(*b, "max", T(10), "9223372036854775807").ok());
  EXPECT_EQ(MVCCIncrement(*b, "max", T(11), 1).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(MVCCTest, DeleteRangeTombstonesLiveKeysWithResume) {
  for (const char* k : {"a", "b", "c", "d"}) Put(k, T(10), k);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r =
      MVCCDeleteRange(*b, "b", "z", T(20), 2, {nullptr, &stats_});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted_keys, (std::vector<std::string>{"b", "c"}));
  ASSERT_TRUE(r->resume_span.has_value());
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(Get("a", T(20)), "a");
  EXPECT_EQ(Get("b", T(20)), "<none>");
  EXPECT_EQ(Get("d", T(20)), "d");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, DeleteRangeReportsWhereATombstonePushedByWriteTooOldLanded) {
  Put("a", T(10), "a");
  Put("b", T(10), "b");
  Put("b", T(30), "newer than the delete");
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r = MVCCDeleteRange(*b, "a", "z", T(20), 0, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_GT(r->timestamp, T(30));  // b's tombstone went above its newer version
}

// Issue 13, finding 1(b) and its review: a transaction's DeleteRange deletes what its
// snapshot holds, and only while that snapshot is still current for the span. Any
// committed version newer than the snapshot in the span — a later deletion of a key
// live at the snapshot, a key created since — fails it with WriteTooOld naming the
// newest one; the coordinator refreshes above it and deletes again there.
TEST_F(MVCCTest, TransactionalDeleteRangeDeletesWhatIsLiveAtItsSnapshot) {
  Put("a", T(5), "a");
  Put("c", T(5), "c");
  Delete("c", T(20));    // deleted after the snapshot
  Put("d", T(30), "d");  // created after it
  Put("e", T(5), "e");
  Delete("e", T(7));  // already dead at the snapshot
  TxnContext txn = Txn("txn-dr", T(10));
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r =
      MVCCDeleteRange(*b, "a", "z", T(10), 0, {&txn, &stats_});
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(IsWriteTooOld(r.status())) << r.status();
  EXPECT_EQ(WriteTooOldExistingTimestamp(r.status()), T(30));
  EXPECT_EQ(b->Count(), 0);
  // Refreshed above it: what is live there.
  TxnContext later = Txn("txn-dr", T(31));
  r = MVCCDeleteRange(*b, "a", "z", T(31), 0, {&later, &stats_});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(r->deleted_keys, (std::vector<std::string>{"a", "d"}));
  Resolve("a", later, TxnStatus::kCommitted, T(31));
  Resolve("d", later, TxnStatus::kCommitted, T(31));
  EXPECT_EQ(Get("d", T(40)), "<none>");
  EXPECT_EQ(Get("d", T(30)), "d");
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, TransactionalDeleteRangeOverNothingLiveDeletesNothing) {
  Put("a", T(5), "a");
  Delete("a", T(7));
  TxnContext txn = Txn("txn-dr", T(10));
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCDeleteRangeResult> r = MVCCDeleteRange(*b, "a", "z", T(10), 0, {&txn});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->deleted_keys.empty());
  EXPECT_TRUE(r->timestamp.IsEmpty());
  EXPECT_EQ(b->Count(), 0);
}

// Issue 13, finding 2: inside a transaction the condition is evaluated against the
// transaction's snapshot. A committed version newer than the read timestamp is not
// shown to the transaction (it would learn something its commit timestamp may not
// reflect): WriteTooOldError names it, and the coordinator refreshes above it and
// tries again.
TEST_F(MVCCTest, TransactionalConditionalPutNeverSeesPastItsReadTimestamp) {
  Put("k", T(10), "A");
  Put("k", T(20), "B");
  TxnContext txn = Txn("txn-cp", T(15));
  for (const std::optional<std::string>& expected :
       {std::optional<std::string>("A"), std::optional<std::string>("B"),
        std::optional<std::string>()}) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r =
        MVCCConditionalPut(*b, "k", T(15), "C", expected, false, {&txn});
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(IsConditionFailed(r.status())) << r.status();
    ASSERT_TRUE(IsWriteTooOld(r.status())) << r.status();
    EXPECT_EQ(WriteTooOldExistingTimestamp(r.status()), T(20));
    EXPECT_EQ(b->Count(), 0);
  }
  // Above the newer version: a plain snapshot read.
  TxnContext later = Txn("txn-cp2", T(25));
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCWriteResult> r =
      MVCCConditionalPut(*b, "k", T(25), "C", std::string("A"), false, {&later});
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(IsConditionFailed(r.status())) << r.status();
  EXPECT_EQ(MVCCErrorDetailOf(r.status())->actual_value(), "B");
  r = MVCCConditionalPut(*b, "k", T(25), "C", std::string("B"), false, {&later});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp, T(25));
}

// A transaction whose write timestamp was pushed above its read timestamp still
// evaluates the condition at the read timestamp: a version between the two is newer
// than its snapshot.
TEST_F(MVCCTest, TransactionalConditionalPutPushedAboveItsReadTimestampStillReadsItsSnapshot) {
  Put("k", T(10), "A");
  Put("k", T(20), "B");
  TxnContext txn = Txn("txn-cp", T(30));
  txn.read_timestamp = T(15);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCWriteResult> r =
      MVCCConditionalPut(*b, "k", T(30), "C", std::string("B"), false, {&txn});
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(IsWriteTooOld(r.status())) << r.status();
  EXPECT_EQ(WriteTooOldExistingTimestamp(r.status()), T(20));
}

// Its own writes are part of its snapshot, whatever their timestamp.
TEST_F(MVCCTest, TransactionalConditionalPutSeesItsOwnIntent) {
  Put("k", T(10), "A");
  TxnContext txn = Txn("txn-cp", T(15));
  Put("k", T(15), "mine", &txn);
  txn.meta.sequence = 2;
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCWriteResult> r =
      MVCCConditionalPut(*b, "k", T(15), "C", std::string("mine"), false, {&txn});
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_F(MVCCTest, GarbageCollectionKeepsWhatReadsAtTheThresholdNeed) {
  Put("k", T(10), "v10");
  Put("k", T(20), "v20");
  Put("k", T(30), "v30");
  Put("dead", T(10), "x");
  Delete("dead", T(20));
  TxnContext txn = Txn("txn-a", T(25));
  Put("i", T(5), "under-intent");
  Put("i", T(25), "intent", &txn);

  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  absl::StatusOr<MVCCGCResult> r = MVCCGarbageCollect(*b, "", "\xff", T(25), 0, &stats_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(r->versions_removed, 3);  // k@10, dead@20 (tombstone), dead@10
  EXPECT_EQ(Get("k", T(25)), "v20");
  EXPECT_EQ(Get("k", T(30)), "v30");
  EXPECT_EQ(Get("dead", T(25)), "<none>");
  Resolve("i", txn, TxnStatus::kAborted, T(25));
  EXPECT_EQ(Get("i", T(30)), "under-intent");  // kept below the intent
  ExpectStatsMatchRecompute();
}

TEST_F(MVCCTest, CorruptValueIsReportedNotMisread) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Put(ColumnFamily::kData, EncodeMVCCKey("k", T(10)), "\x80garbage");
  ASSERT_TRUE(b->Commit(false).ok());
  absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, "k", T(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

}  // namespace
}  // namespace rangedb
