// The record-creation rules of ranges/evaluate_txn.h (docs/transactions.md, "Record
// creation"), one behaviour each, on a fresh in-memory engine: the timestamp cache's
// markers (RecordMarkers) decide whether a missing record may be created, by whom,
// and what a missing record means; and a ResolveIntent stopped by its key limit says
// where to resume.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ranges/evaluate.h"
#include "ranges/evaluate_txn.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::ranges {
namespace {

constexpr char kTxnId[] = "txn-0123456789ab";  // 16 bytes

Timestamp T(int64_t wall) { return {wall, 0}; }
proto::Timestamp P(Timestamp ts) {
  proto::Timestamp p;
  TimestampToProto(ts, &p);
  return p;
}
Timestamp FromP(const proto::Timestamp& p) { return TimestampFromProto(p); }

// A transaction that started (and reads and writes) at ts, anchored at "b".
kvpb::Transaction TxnAt(Timestamp ts) {
  kvpb::Transaction txn;
  txn.set_id(kTxnId);
  txn.set_anchor_key("b");
  *txn.mutable_start_timestamp() = P(ts);
  *txn.mutable_read_timestamp() = P(ts);
  *txn.mutable_write_timestamp() = P(ts);
  txn.set_sequence(1);
  return txn;
}

kvpb::Span Key(const std::string& key) {
  kvpb::Span s;
  s.set_key(key);
  return s;
}

RecordMarkers Tombstone(Timestamp ts) { return RecordMarkers{.tombstone = ts, .pushed = {}}; }

class TxnRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenInMemoryEngine();
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }
  void WriteIntent(const std::string& key, const kvpb::Transaction& txn) {
    TxnContext ctx = TxnContextOf(txn);
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    ASSERT_TRUE(MVCCPut(*b, key, ctx.meta.write_timestamp, "v", {.txn = &ctx}).ok());
    ASSERT_TRUE(b->Commit(false).ok());
  }
  void PutRecord(const kvpb::Transaction& record) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    WriteTxnRecord(*b, record);
    ASSERT_TRUE(b->Commit(false).ok());
  }
  std::optional<kvpb::Transaction> Record() {
    absl::StatusOr<std::optional<kvpb::Transaction>> r = ReadTxnRecord(*engine_, "b", kTxnId);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }
  bool HasIntent(const std::string& key) {
    proto::LockTableEntry entry;
    absl::StatusOr<bool> found = ReadLockEntry(*engine_, key, &entry);
    return found.ok() && *found;
  }
  absl::StatusOr<EndTxnResult> EndTxn(bool commit, const kvpb::Transaction& txn,
                                      const std::vector<kvpb::Span>& spans,
                                      const RecordMarkers& markers, size_t* writes = nullptr) {
    kvpb::EndTxnRequest req;
    req.set_key("b");
    req.set_commit(commit);
    for (const kvpb::Span& s : spans) *req.add_lock_spans() = s;
    kvpb::Span range;
    range.set_key("a");
    range.set_end_key("m");
    Timestamp write_ts = FromP(txn.write_timestamp());
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<EndTxnResult> r =
        EvaluateEndTxn(*b, req, txn, range, &write_ts, write_ts, false, kTxnRecordGCAge, markers);
    if (writes != nullptr) *writes = b->Count();
    if (r.ok()) {
      EXPECT_TRUE(b->Commit(false).ok());
    }
    return r;
  }

  std::unique_ptr<Engine> engine_;
};

TEST(RecordMarkersTest, ARecordMayBeCreatedOnlyAboveTheTombstone) {
  EXPECT_TRUE(CanCreateRecord({}, T(10)));
  EXPECT_TRUE(CanCreateRecord(Tombstone(T(9)), T(10)));
  EXPECT_FALSE(CanCreateRecord(Tombstone(T(10)), T(10)));
  EXPECT_FALSE(CanCreateRecord(Tombstone(T(11)), T(10)));
  // A push marker alone never forbids creation.
  EXPECT_TRUE(CanCreateRecord(RecordMarkers{.tombstone = {}, .pushed = T(50)}, T(10)));
}

TEST(RecordMarkersTest, TheMinimumTimestampIsTheStartElseTheReadElseTheWrite) {
  kvpb::Transaction txn = TxnAt(T(10));
  *txn.mutable_read_timestamp() = P(T(20));
  *txn.mutable_write_timestamp() = P(T(30));
  EXPECT_EQ(TxnMinTimestamp(txn), T(10));
  txn.clear_start_timestamp();
  EXPECT_EQ(TxnMinTimestamp(txn), T(20));
  txn.clear_read_timestamp();
  EXPECT_EQ(TxnMinTimestamp(txn), T(30));
}

TEST(RecordMarkersTest, ARemovalIsMarkedAboveTheWriteTimestampAndTheClock) {
  kvpb::Transaction txn = TxnAt(T(10));
  *txn.mutable_write_timestamp() = P(T(30));
  EXPECT_EQ(MarkerTimestampOfRemoval(txn, T(20)), T(30));
  EXPECT_EQ(MarkerTimestampOfRemoval(txn, T(40)), T(40));
}

TEST(RecordMarkersTest, TheMarkerKeysAreDistinctPointsOfTheAnchorsRange) {
  const std::string record = keys::TxnRecordKey("b", kTxnId);
  EXPECT_EQ(TxnTombstoneMarkerKey("b", kTxnId), record);
  const std::string push = TxnPushMarkerKey("b", kTxnId);
  // Past the record key's own point span [k, k\0): the markers never overlap.
  EXPECT_GT(push, record + std::string(1, '\0'));
  EXPECT_EQ(push.substr(0, record.size()), record);
}

TEST_F(TxnRecordTest, AHeartbeatBelowTheTombstoneCreatesNothingAndSaysAborted) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  bool changed = true;
  absl::StatusOr<kvpb::Transaction> r =
      EvaluateHeartbeat(*b, TxnAt(T(10)), T(60), &changed, kTxnRecordGCAge, Tombstone(T(40)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(changed);
  EXPECT_EQ(b->Count(), 0u);
  EXPECT_EQ(r->status(), kvpb::ABORTED);
}

TEST_F(TxnRecordTest, AHeartbeatCreatesTheRecordAtThePushedTimestamp) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  bool changed = false;
  absl::StatusOr<kvpb::Transaction> r =
      EvaluateHeartbeat(*b, TxnAt(T(10)), T(60), &changed, kTxnRecordGCAge,
                        RecordMarkers{.tombstone = T(5), .pushed = T(25)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(changed);
  EXPECT_EQ(r->status(), kvpb::PENDING);
  EXPECT_EQ(FromP(r->write_timestamp()), T(25));
}

TEST_F(TxnRecordTest, AnExistingRecordIsHeartbeatedWhateverTheMarkers) {
  kvpb::Transaction rec = TxnAt(T(10));
  rec.set_status(kvpb::PENDING);
  PutRecord(rec);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  bool changed = false;
  absl::StatusOr<kvpb::Transaction> r =
      EvaluateHeartbeat(*b, TxnAt(T(10)), T(60), &changed, kTxnRecordGCAge, Tombstone(T(40)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(changed);
  EXPECT_EQ(r->status(), kvpb::PENDING);
}

TEST_F(TxnRecordTest, ACommitWithoutRecordBelowTheTombstoneIsAbortedAndWritesNothing) {
  const kvpb::Transaction txn = TxnAt(T(10));
  WriteIntent("c", txn);
  size_t writes = 1;
  absl::StatusOr<EndTxnResult> r =
      EndTxn(true, txn, {Key("c"), Key("x")}, Tombstone(T(10)), &writes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsTxnAborted(r.status())) << r.status();
  EXPECT_EQ(writes, 0u);
  EXPECT_TRUE(HasIntent("c"));
  EXPECT_FALSE(Record().has_value());
}

TEST_F(TxnRecordTest, ARollbackWithoutRecordBelowTheTombstoneResolvesButWritesNoRecord) {
  const kvpb::Transaction txn = TxnAt(T(10));
  WriteIntent("c", txn);
  absl::StatusOr<EndTxnResult> r = EndTxn(false, txn, {Key("c"), Key("x")}, Tombstone(T(20)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::ABORTED);
  EXPECT_FALSE(HasIntent("c"));
  ASSERT_EQ(r->external_spans.size(), 1u);  // x still goes to the resolver, as aborted
  EXPECT_EQ(r->finished.status(), kvpb::ABORTED);
  EXPECT_TRUE(r->record_removed);
  EXPECT_FALSE(Record().has_value());
}

TEST_F(TxnRecordTest, ACommitWithoutRecordIsPushedByThePushMarker) {
  const kvpb::Transaction txn = TxnAt(T(10));
  WriteIntent("c", txn);
  absl::StatusOr<EndTxnResult> r =
      EndTxn(true, txn, {Key("c")}, RecordMarkers{.tombstone = T(5), .pushed = T(30)});
  ASSERT_FALSE(r.ok());
  std::optional<kvpb::TransactionRetryError> detail = TxnRetryDetailOf(r.status());
  ASSERT_TRUE(detail.has_value()) << r.status();
  EXPECT_EQ(detail->reason(), kvpb::TransactionRetryError::PUSHED);
}

TEST_F(TxnRecordTest, EveryEndTxnThatLeavesNoRecordSaysSo) {
  const kvpb::Transaction txn = TxnAt(T(10));
  WriteIntent("c", txn);
  absl::StatusOr<EndTxnResult> one_phase = EndTxn(true, txn, {Key("c")}, {});
  ASSERT_TRUE(one_phase.ok()) << one_phase.status();
  EXPECT_TRUE(one_phase->record_removed);
  EXPECT_TRUE(one_phase->response.one_phase());

  kvpb::Transaction rec = TxnAt(T(20));
  rec.set_status(kvpb::ABORTED);  // a pusher's
  PutRecord(rec);
  absl::StatusOr<EndTxnResult> rollback = EndTxn(false, TxnAt(T(20)), {Key("d")}, {});
  ASSERT_TRUE(rollback.ok()) << rollback.status();
  EXPECT_TRUE(rollback->record_removed);
  EXPECT_FALSE(Record().has_value());

  // With intents elsewhere the record stays (COMMITTED): nothing to mark yet.
  absl::StatusOr<EndTxnResult> kept = EndTxn(true, TxnAt(T(30)), {Key("x")}, {});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->record_removed);
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(Record()->status(), kvpb::COMMITTED);
}

kvpb::PushTxnRequest PushOf(kvpb::PushType type, Timestamp intent_ts, Timestamp to = {}) {
  kvpb::PushTxnRequest req;
  req.set_key("b");
  *req.mutable_pushee() = TxnAt(intent_ts);
  req.set_push_type(type);
  if (!to.IsEmpty()) *req.mutable_push_to() = P(to);
  return req;
}

TEST(DecidePushMarkersTest, AMissingRecordAtOrBelowTheTombstoneIsAbortedWithoutWriting) {
  for (kvpb::PushType type : {kvpb::PUSH_ABORT, kvpb::PUSH_TIMESTAMP}) {
    SCOPED_TRACE(kvpb::PushType_Name(type));
    PushDecision d =
        DecidePush(std::nullopt, PushOf(type, T(100), T(150)), T(101), Tombstone(T(100)));
    EXPECT_EQ(d.outcome, PushDecision::kPushed);
    EXPECT_EQ(d.record.status(), kvpb::ABORTED);
    EXPECT_FALSE(d.write_record);
    EXPECT_FALSE(d.push_marker.has_value());
  }
}

TEST(DecidePushMarkersTest, AMissingRecordAboveTheTombstoneIsJudgedAsBefore) {
  // Live and of equal priority: the writer waits.
  PushDecision d =
      DecidePush(std::nullopt, PushOf(kvpb::PUSH_ABORT, T(100)), T(101), Tombstone(T(99)));
  EXPECT_EQ(d.outcome, PushDecision::kWait);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
}

TEST(DecidePushMarkersTest, AnEarlierPushMarkerIsPartOfTheSynthesizedRecord) {
  PushDecision d = DecidePush(std::nullopt, PushOf(kvpb::PUSH_TIMESTAMP, T(100), T(120)), T(101),
                              RecordMarkers{.tombstone = {}, .pushed = T(130)});
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_EQ(FromP(d.record.write_timestamp()), T(130));
  EXPECT_FALSE(d.push_marker.has_value());  // already above: nothing new to remember
  EXPECT_FALSE(d.write_record);
}

TEST(DecidePushMarkersTest, AFinishedRecordIsAnsweredWhateverTheMarkers) {
  kvpb::Transaction rec = TxnAt(T(100));
  rec.set_status(kvpb::COMMITTED);
  PushDecision d = DecidePush(rec, PushOf(kvpb::PUSH_ABORT, T(100)), T(101), Tombstone(T(500)));
  EXPECT_EQ(d.record.status(), kvpb::COMMITTED);
  EXPECT_FALSE(d.write_record);
}

TEST_F(TxnRecordTest, ARangedResolutionStoppedByItsLimitNamesTheResumeKey) {
  const kvpb::Transaction txn = TxnAt(T(10));
  const int64_t n = kMaxKeysPerSpanWrite + 3;
  {
    TxnContext ctx = TxnContextOf(txn);
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    for (int64_t i = 0; i < n; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "k%06lld", static_cast<long long>(i));
      ASSERT_TRUE(MVCCPut(*b, key, T(10), "v", {.txn = &ctx}).ok());
    }
    ASSERT_TRUE(b->Commit(false).ok());
  }
  kvpb::ResolveIntentRequest req;
  req.set_key("k");
  req.set_end_key("l");
  *req.mutable_txn() = txn;
  req.mutable_txn()->set_status(kvpb::COMMITTED);
  std::vector<std::string> resumes;
  for (int page = 0; page < 3; ++page) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    kvpb::ResolveIntentResponse resp;
    ASSERT_TRUE(EvaluateResolveIntent(*b, req, &resp).ok());
    ASSERT_TRUE(b->Commit(false).ok());
    resumes.push_back(resp.resume_key());
    if (resp.resume_key().empty()) break;
    req.set_key(resp.resume_key());
  }
  ASSERT_EQ(resumes.size(), 2u);
  EXPECT_EQ(resumes[0], "k010000");  // the first key left
  EXPECT_EQ(resumes[1], "");
  EXPECT_FALSE(HasIntent("k010002"));
}

}  // namespace
}  // namespace rangedb::ranges
