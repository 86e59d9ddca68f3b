// The server side of transactions (docs/transactions.md): the record's life cycle
// (ranges/evaluate_txn.h), the transaction errors and their wire form
// (ranges/txn_errors.h, ToError), and which batches ClassifyBatch accepts
// (ranges/evaluate.h). Every test runs on a fresh in-memory engine.
#include "ranges/evaluate_txn.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "ranges/evaluate.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::ranges {
namespace {

constexpr char kTxnId[] = "txn-0123456789ab";    // 16 bytes
constexpr char kOtherId[] = "txn-other-456789";  // 16 bytes
constexpr int64_t kSecondNs = 1'000'000'000;

Timestamp T(int64_t wall, int32_t logical = 0) { return {wall, logical}; }
proto::Timestamp P(Timestamp ts) {
  proto::Timestamp p;
  TimestampToProto(ts, &p);
  return p;
}
Timestamp FromP(const proto::Timestamp& p) { return TimestampFromProto(p); }

kvpb::Span Key(const std::string& key) {
  kvpb::Span s;
  s.set_key(key);
  return s;
}
kvpb::Span Span(const std::string& key, const std::string& end_key) {
  kvpb::Span s = Key(key);
  s.set_end_key(end_key);
  return s;
}
std::string SpanString(const kvpb::Span& s) {
  return s.end_key().empty() ? s.key() : "[" + s.key() + "," + s.end_key() + ")";
}
std::vector<std::string> SpanStrings(const std::vector<kvpb::Span>& spans) {
  std::vector<std::string> out;
  for (const kvpb::Span& s : spans) out.push_back(SpanString(s));
  return out;
}
template <typename Repeated>
std::vector<std::string> SpanStringsOf(const Repeated& spans) {
  std::vector<std::string> out;
  for (const kvpb::Span& s : spans) out.push_back(SpanString(s));
  return out;
}

// A transaction header reading at read_ts and writing at write_ts.
kvpb::Transaction MakeTxn(Timestamp read_ts, Timestamp write_ts, const std::string& id = kTxnId,
                          const std::string& anchor = "b") {
  kvpb::Transaction txn;
  txn.set_id(id);
  txn.set_anchor_key(anchor);
  txn.set_epoch(0);
  *txn.mutable_read_timestamp() = P(read_ts);
  *txn.mutable_write_timestamp() = P(write_ts);
  txn.set_sequence(1);
  return txn;
}

class EvaluateTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenInMemoryEngine();
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }

  // Writes txn's intent on key at its write timestamp, in a committed batch.
  void WriteIntent(const std::string& key, const kvpb::Transaction& txn,
                   const std::string& value = "v") {
    TxnContext ctx = TxnContextOf(txn);
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r =
        MVCCPut(*b, key, ctx.meta.write_timestamp, value, {.txn = &ctx});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->timestamp, ctx.meta.write_timestamp);
    ASSERT_TRUE(b->Commit(false).ok());
  }
  void WriteCommitted(const std::string& key, Timestamp ts, const std::string& value = "c") {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCWriteResult> r = MVCCPut(*b, key, ts, value);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(b->Commit(false).ok());
  }
  void PutRecord(const kvpb::Transaction& record) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    WriteTxnRecord(*b, record);
    ASSERT_TRUE(b->Commit(false).ok());
  }
  std::optional<kvpb::Transaction> Record(const std::string& anchor = "b",
                                          const std::string& id = kTxnId) {
    absl::StatusOr<std::optional<kvpb::Transaction>> r = ReadTxnRecord(*engine_, anchor, id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }
  bool HasIntent(const std::string& key) {
    proto::LockTableEntry entry;
    absl::StatusOr<bool> found = ReadLockEntry(*engine_, key, &entry);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && *found;
  }
  // What a non-transactional read at ts sees: the value, "<none>", or "error".
  std::string Committed(const std::string& key, Timestamp ts) {
    absl::StatusOr<MVCCGetResult> r = MVCCGet(*engine_, key, ts);
    if (!r.ok()) return "error";
    return r->found ? r->value + "@" + std::to_string(r->timestamp.wall_ns) : "<none>";
  }

  absl::StatusOr<EndTxnResult> EndTxn(bool commit, const kvpb::Transaction& txn,
                                      const std::vector<kvpb::Span>& lock_spans,
                                      const kvpb::Span& range_span, Timestamp* write_ts,
                                      bool skip_refresh = false, bool commit_batch = true) {
    kvpb::EndTxnRequest req;
    req.set_key(txn.anchor_key());
    req.set_commit(commit);
    for (const kvpb::Span& s : lock_spans) *req.add_lock_spans() = s;
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<EndTxnResult> r =
        EvaluateEndTxn(*b, req, txn, range_span, write_ts, /*now=*/*write_ts, skip_refresh);
    last_batch_count_ = b->Count();
    if (r.ok() && commit_batch) {
      EXPECT_TRUE(b->Commit(false).ok());
    }
    return r;
  }

  std::unique_ptr<Engine> engine_;
  size_t last_batch_count_ = 0;
};

// ---------------------------------------------------------------------------
// Records

TEST_F(EvaluateTxnTest, RecordRoundTripsAtItsKey) {
  EXPECT_FALSE(Record().has_value());
  kvpb::Transaction rec = MakeTxn(T(10), T(12));
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(11));
  PutRecord(rec);
  std::optional<kvpb::Transaction> got = Record();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->SerializeAsString(), rec.SerializeAsString());
  // Stored unversioned at keys::TxnRecordKey(anchor, id).
  std::string raw;
  absl::StatusOr<bool> found =
      engine_->Get(ColumnFamily::kData, MVCCKeyPrefix(keys::TxnRecordKey("b", kTxnId)), &raw);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(*found);
  // Another id or another anchor is another record.
  EXPECT_FALSE(Record("b", kOtherId).has_value());
  EXPECT_FALSE(Record("c", kTxnId).has_value());
}

TEST_F(EvaluateTxnTest, UnparseableRecordIsDataLoss) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Put(ColumnFamily::kData, MVCCKeyPrefix(keys::TxnRecordKey("b", kTxnId)), "\xff\xff\xff");
  ASSERT_TRUE(b->Commit(false).ok());
  absl::StatusOr<std::optional<kvpb::Transaction>> r = ReadTxnRecord(*engine_, "b", kTxnId);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(EvaluateTxnTest, ExpiryIsJudgedFromLastHeartbeatElseWriteTimestamp) {
  const int64_t expiration_ns = absl::ToInt64Nanoseconds(kTxnExpiration);
  kvpb::Transaction rec = MakeTxn(T(100 * kSecondNs), T(100 * kSecondNs));
  // No heartbeat: the write timestamp.
  EXPECT_FALSE(TxnExpired(rec, T(100 * kSecondNs + expiration_ns)));
  EXPECT_TRUE(TxnExpired(rec, T(100 * kSecondNs + expiration_ns + 1)));
  // A later heartbeat keeps it alive.
  *rec.mutable_last_heartbeat() = P(T(200 * kSecondNs));
  EXPECT_FALSE(TxnExpired(rec, T(200 * kSecondNs + expiration_ns)));
  EXPECT_TRUE(TxnExpired(rec, T(200 * kSecondNs + expiration_ns + 1)));
  EXPECT_FALSE(TxnExpired(rec, T(100 * kSecondNs + expiration_ns + 1)));
}

// ---------------------------------------------------------------------------
// HeartbeatTxn

TEST_F(EvaluateTxnTest, HeartbeatCreatesPendingRecordWithoutLockSpans) {
  kvpb::Transaction txn = MakeTxn(T(10), T(10));
  *txn.add_lock_spans() = Key("c");
  txn.set_status(kvpb::ABORTED);  // the header's status is not trusted
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  bool changed = false;
  absl::StatusOr<kvpb::Transaction> r = EvaluateHeartbeat(*b, txn, T(50), &changed);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(changed);
  EXPECT_EQ(r->status(), kvpb::PENDING);
  EXPECT_EQ(r->lock_spans_size(), 0);
  EXPECT_EQ(FromP(r->last_heartbeat()), T(50));
  EXPECT_EQ(r->id(), kTxnId);
  EXPECT_FALSE(Record().has_value());  // only once the batch commits
  ASSERT_TRUE(b->Commit(false).ok());
  std::optional<kvpb::Transaction> rec = Record();
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->SerializeAsString(), r->SerializeAsString());
}

TEST_F(EvaluateTxnTest, HeartbeatRefreshesPendingRecord) {
  kvpb::Transaction rec = MakeTxn(T(10), T(30));  // pushed to 30 by someone
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(40));
  PutRecord(rec);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  bool changed = false;
  absl::StatusOr<kvpb::Transaction> r =
      EvaluateHeartbeat(*b, MakeTxn(T(10), T(10)), T(60), &changed);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(changed);
  EXPECT_EQ(FromP(r->last_heartbeat()), T(60));
  EXPECT_EQ(FromP(r->write_timestamp()), T(30));  // the record's, not the header's
  ASSERT_TRUE(b->Commit(false).ok());
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(FromP(Record()->last_heartbeat()), T(60));
}

TEST_F(EvaluateTxnTest, HeartbeatReturnsFinishedRecordUnchanged) {
  for (kvpb::TransactionStatus status : {kvpb::COMMITTED, kvpb::ABORTED}) {
    SCOPED_TRACE(kvpb::TransactionStatus_Name(status));
    kvpb::Transaction rec = MakeTxn(T(10), T(10));
    rec.set_status(status);
    *rec.mutable_last_heartbeat() = P(T(40));
    PutRecord(rec);
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    bool changed = true;
    absl::StatusOr<kvpb::Transaction> r =
        EvaluateHeartbeat(*b, MakeTxn(T(10), T(10)), T(60), &changed);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(changed);
    EXPECT_EQ(b->Count(), 0u);
    EXPECT_EQ(r->status(), status);
    EXPECT_EQ(FromP(r->last_heartbeat()), T(40));
  }
}

// ---------------------------------------------------------------------------
// EndTxn

TEST_F(EvaluateTxnTest, CommitWithoutRecordResolvesLocalIntentsAndIsOnePhase) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  WriteIntent("b", txn, "vb");
  WriteIntent("c", txn, "vc");
  WriteIntent("d", txn, "vd");
  ASSERT_EQ(Committed("b", T(20)), "error");  // an intent blocks readers
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r =
      EndTxn(true, txn, {Key("b"), Span("c", "e")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::COMMITTED);
  EXPECT_EQ(FromP(r->response.commit_timestamp()), T(10));
  EXPECT_TRUE(r->response.one_phase());
  EXPECT_TRUE(r->external_spans.empty());
  EXPECT_EQ(r->finished.status(), kvpb::COMMITTED);
  EXPECT_EQ(r->finished.lock_spans_size(), 0);
  EXPECT_EQ(Committed("b", T(20)), "vb@10");
  EXPECT_EQ(Committed("c", T(20)), "vc@10");
  EXPECT_EQ(Committed("d", T(20)), "vd@10");
  EXPECT_FALSE(HasIntent("b"));
  EXPECT_FALSE(HasIntent("c"));
  EXPECT_FALSE(HasIntent("d"));
  EXPECT_FALSE(Record().has_value());
}

TEST_F(EvaluateTxnTest, CommitWithPendingRecordDeletesItAndIsNotOnePhase) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(11));
  PutRecord(rec);
  WriteIntent("c", txn, "vc");
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::COMMITTED);
  EXPECT_FALSE(r->response.one_phase());
  EXPECT_TRUE(r->external_spans.empty());
  EXPECT_FALSE(Record().has_value());
  EXPECT_EQ(Committed("c", T(20)), "vc@10");
  EXPECT_EQ(FromP(r->finished.last_heartbeat()), T(11));  // kept from the record
}

TEST_F(EvaluateTxnTest, CommitAboveReadTimestampIsAPushedRetryError) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  WriteIntent("c", txn);
  // This batch's own writes landed at 15 (WriteTooOld): no record needed.
  Timestamp write_ts = T(15);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  std::optional<kvpb::TransactionRetryError> detail = TxnRetryDetailOf(r.status());
  ASSERT_TRUE(detail.has_value()) << r.status();
  EXPECT_EQ(detail->reason(), kvpb::TransactionRetryError::PUSHED);
  EXPECT_FALSE(IsTxnAborted(r.status()));
  EXPECT_TRUE(HasIntent("c"));  // nothing resolved
}

TEST_F(EvaluateTxnTest, CommitPicksUpAPushFromTheRecord) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::PENDING);
  *rec.mutable_write_timestamp() = P(T(20));  // a reader pushed it
  PutRecord(rec);
  WriteIntent("c", txn, "vc");
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_FALSE(r.ok());
  std::optional<kvpb::TransactionRetryError> detail = TxnRetryDetailOf(r.status());
  ASSERT_TRUE(detail.has_value()) << r.status();
  EXPECT_EQ(detail->reason(), kvpb::TransactionRetryError::PUSHED);
  EXPECT_EQ(write_ts, T(20));  // raised to the record's
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(Record()->status(), kvpb::PENDING);

  // Refreshed (the testing flag skips the check): commits at the pushed timestamp.
  write_ts = T(10);
  r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts, /*skip_refresh=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(FromP(r->response.commit_timestamp()), T(20));
  EXPECT_EQ(Committed("c", T(30)), "vc@20");
  EXPECT_EQ(Committed("c", T(15)), "<none>");
}

TEST_F(EvaluateTxnTest, CommitAtReadTimestampAfterRefreshSucceeds) {
  // A refreshed transaction carries read_timestamp == write_timestamp == 20.
  const kvpb::Transaction first = MakeTxn(T(10), T(10));
  WriteIntent("c", first, "vc");
  kvpb::Transaction rec = first;
  rec.set_status(kvpb::PENDING);
  *rec.mutable_write_timestamp() = P(T(20));
  PutRecord(rec);
  const kvpb::Transaction refreshed = MakeTxn(T(20), T(20));
  Timestamp write_ts = T(20);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, refreshed, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::COMMITTED);
  EXPECT_EQ(Committed("c", T(20)), "vc@20");
}

TEST_F(EvaluateTxnTest, RollbackAboveReadTimestampNeedsNoRefresh) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  WriteIntent("c", txn);
  Timestamp write_ts = T(25);
  absl::StatusOr<EndTxnResult> r = EndTxn(false, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::ABORTED);
  EXPECT_EQ(r->finished.status(), kvpb::ABORTED);
  EXPECT_FALSE(HasIntent("c"));
  EXPECT_EQ(Committed("c", T(30)), "<none>");
  EXPECT_FALSE(Record().has_value());
}

TEST_F(EvaluateTxnTest, CommitRetryAfterCommitIsIdempotent) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::COMMITTED);
  *rec.mutable_write_timestamp() = P(T(12));
  *rec.add_lock_spans() = Key("x");
  PutRecord(rec);
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::COMMITTED);
  EXPECT_EQ(FromP(r->response.commit_timestamp()), T(12));
  EXPECT_FALSE(r->response.one_phase());
  EXPECT_EQ(r->finished.SerializeAsString(), rec.SerializeAsString());
  EXPECT_EQ(last_batch_count_, 0u);  // nothing written
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(Record()->status(), kvpb::COMMITTED);
}

TEST_F(EvaluateTxnTest, RollbackOfCommittedTransactionFails) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::COMMITTED);
  PutRecord(rec);
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(false, txn, {}, Span("a", "m"), &write_ts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Record()->status(), kvpb::COMMITTED);
}

TEST_F(EvaluateTxnTest, CommitOfAbortedRecordIsTxnAbortedError) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::ABORTED);
  PutRecord(rec);
  WriteIntent("c", txn);
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(IsTxnAborted(r.status())) << r.status();
  EXPECT_FALSE(TxnRetryDetailOf(r.status()).has_value());
  EXPECT_TRUE(HasIntent("c"));
  EXPECT_EQ(Record()->status(), kvpb::ABORTED);
}

TEST_F(EvaluateTxnTest, RollbackOfAbortedRecordProceeds) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10));
  kvpb::Transaction rec = txn;
  rec.set_status(kvpb::ABORTED);
  PutRecord(rec);
  WriteIntent("c", txn);
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(false, txn, {Key("c")}, Span("a", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.status(), kvpb::ABORTED);
  EXPECT_FALSE(r->response.one_phase());  // there was a record
  EXPECT_FALSE(HasIntent("c"));
  EXPECT_FALSE(Record().has_value());
}

TEST_F(EvaluateTxnTest, LockSpansAreSplitByTheRangeSpan) {
  // The range is [c, m). The transaction wrote single keys and spans on both sides.
  const kvpb::Transaction txn = MakeTxn(T(10), T(10), kTxnId, "d");
  for (const char* key : {"a", "b", "c", "d", "l", "m", "n", "z"}) WriteIntent(key, txn, key);
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(
      true, txn,
      {Key("d"), Key("a"), Span("b", "e"), Span("k", "p"), Key("m"), Key("z"), Span("q", "s")},
      Span("c", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> want = {"a", "[b,c)", "[m,p)", "m", "z", "[q,s)"};
  EXPECT_EQ(SpanStrings(r->external_spans), want);
  // Inside the range: resolved by this batch.
  EXPECT_EQ(Committed("c", T(20)), "c@10");
  EXPECT_EQ(Committed("d", T(20)), "d@10");
  EXPECT_EQ(Committed("l", T(20)), "l@10");
  // Outside: left for asynchronous resolution, even though this engine holds them.
  for (const char* key : {"a", "b", "m", "n", "z"}) {
    EXPECT_TRUE(HasIntent(key)) << key;
  }
  // The record stays, COMMITTED, listing what is left.
  EXPECT_FALSE(r->response.one_phase());
  EXPECT_EQ(r->response.status(), kvpb::COMMITTED);
  std::optional<kvpb::Transaction> rec = Record("d");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status(), kvpb::COMMITTED);
  EXPECT_EQ(FromP(rec->write_timestamp()), T(10));
  EXPECT_EQ(SpanStringsOf(rec->lock_spans()), want);
  EXPECT_EQ(SpanStringsOf(r->finished.lock_spans()), want);
}

TEST_F(EvaluateTxnTest, RangeEndKeyIsExclusiveForSingleKeys) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(10), kTxnId, "c");
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r =
      EndTxn(false, txn, {Key("c"), Key("m")}, Span("c", "m"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(SpanStrings(r->external_spans), std::vector<std::string>{"m"});
  std::optional<kvpb::Transaction> rec = Record("c");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status(), kvpb::ABORTED);
}

TEST_F(EvaluateTxnTest, EndTxnDoesNotResolveOtherTransactionsIntents) {
  const kvpb::Transaction mine = MakeTxn(T(10), T(10));
  const kvpb::Transaction other = MakeTxn(T(10), T(10), kOtherId);
  WriteIntent("c", mine, "mine");
  WriteIntent("d", other, "other");
  Timestamp write_ts = T(10);
  absl::StatusOr<EndTxnResult> r = EndTxn(true, mine, {Span("a", "z")}, Span("a", "z"), &write_ts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Committed("c", T(20)), "mine@10");
  EXPECT_TRUE(HasIntent("d"));
}

// ---------------------------------------------------------------------------
// PushTxn decisions

kvpb::PushTxnRequest Push(kvpb::PushType type, Timestamp pushee_write_ts, Timestamp push_to = {}) {
  kvpb::PushTxnRequest req;
  req.set_key("b");
  *req.mutable_pushee() = MakeTxn(pushee_write_ts, pushee_write_ts);
  *req.mutable_pushee()->add_lock_spans() = Key("zz");  // never copied into a record
  *req.mutable_pusher() = MakeTxn(T(1), T(1), kOtherId, "q");
  req.set_push_type(type);
  if (!push_to.IsEmpty()) *req.mutable_push_to() = P(push_to);
  return req;
}

constexpr int64_t kBaseNs = 1000 * kSecondNs;

TEST(DecidePushTest, MissingRecordIsSynthesizedFromThePushee) {
  const kvpb::PushTxnRequest req = Push(kvpb::PUSH_ABORT, T(kBaseNs));
  PushDecision d = DecidePush(std::nullopt, req, T(kBaseNs + kSecondNs));
  EXPECT_EQ(d.outcome, PushDecision::kWait);
  EXPECT_FALSE(d.write_record);
  EXPECT_EQ(d.record.id(), kTxnId);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
  EXPECT_EQ(FromP(d.record.last_heartbeat()), T(kBaseNs));
  EXPECT_EQ(d.record.lock_spans_size(), 0);
}

TEST(DecidePushTest, AbortPushByAHigherPriorityPusherAbortsALiveHolder) {
  kvpb::PushTxnRequest req = Push(kvpb::PUSH_ABORT, T(kBaseNs));
  req.mutable_pusher()->set_priority(3);  // high
  kvpb::Transaction live = req.pushee();
  TimestampToProto(T(kBaseNs + kSecondNs), live.mutable_last_heartbeat());
  PushDecision d = DecidePush(live, req, T(kBaseNs + kSecondNs));
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_TRUE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::ABORTED);
  // Normal (0 means normal) against normal waits; normal against low aborts.
  req.mutable_pusher()->set_priority(0);
  EXPECT_EQ(DecidePush(live, req, T(kBaseNs + kSecondNs)).outcome, PushDecision::kWait);
  live.set_priority(1);
  EXPECT_EQ(DecidePush(live, req, T(kBaseNs + kSecondNs)).outcome, PushDecision::kPushed);
  // A reader's timestamp push never aborts, whatever the priorities.
  kvpb::PushTxnRequest read = Push(kvpb::PUSH_TIMESTAMP, T(kBaseNs), T(kBaseNs + 5));
  read.mutable_pusher()->set_priority(3);
  PushDecision r = DecidePush(live, read, T(kBaseNs + kSecondNs));
  EXPECT_EQ(r.record.status(), kvpb::PENDING);
}

TEST(DecidePushTest, MissingRecordOfAnExpiredIntentIsAborted) {
  const int64_t expiration_ns = absl::ToInt64Nanoseconds(kTxnExpiration);
  for (kvpb::PushType type : {kvpb::PUSH_ABORT, kvpb::PUSH_TIMESTAMP}) {
    SCOPED_TRACE(kvpb::PushType_Name(type));
    const kvpb::PushTxnRequest req = Push(type, T(kBaseNs), T(kBaseNs + 1));
    PushDecision d = DecidePush(std::nullopt, req, T(kBaseNs + expiration_ns + 1));
    EXPECT_EQ(d.outcome, PushDecision::kPushed);
    EXPECT_TRUE(d.write_record);
    EXPECT_EQ(d.record.status(), kvpb::ABORTED);
    EXPECT_EQ(d.record.id(), kTxnId);
    EXPECT_EQ(d.record.anchor_key(), "b");
    EXPECT_EQ(FromP(d.record.last_heartbeat()), T(kBaseNs));
    EXPECT_EQ(d.record.lock_spans_size(), 0);
  }
}

// Readers' pushes move a recordless transaction's intent up to their reads; its
// start (from the lock entry) does not move, and is what the pusher judges.
TEST(DecidePushTest, AMissingRecordIsJudgedByTheStartNotByThePushedIntent) {
  const int64_t expiration_ns = absl::ToInt64Nanoseconds(kTxnExpiration);
  const Timestamp start = T(kBaseNs);
  const Timestamp now = T(kBaseNs + expiration_ns + 1);
  // The intent as readers left it: pushed to just below now.
  kvpb::PushTxnRequest req = Push(kvpb::PUSH_ABORT, T(now.wall_ns - 1));
  req.mutable_pushee()->clear_read_timestamp();  // an intent shows no read timestamp
  *req.mutable_pushee()->mutable_start_timestamp() = P(start);
  PushDecision d = DecidePush(std::nullopt, req, now);
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_TRUE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::ABORTED);
  EXPECT_EQ(FromP(d.record.last_heartbeat()), start);
  // A tombstone between the start and the intent's timestamp: the coordinator could
  // not create the record (it checks its start), so neither may the pusher.
  RecordMarkers markers;
  markers.tombstone = T(kBaseNs + 1);
  req.set_push_type(kvpb::PUSH_TIMESTAMP);
  *req.mutable_push_to() = P(T(kBaseNs + 3));
  d = DecidePush(std::nullopt, req, T(kBaseNs + 2), markers);
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_FALSE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::ABORTED);
  // Without a start (an intent written before lock entries carried it), the
  // intent's timestamp stands in for it, as before.
  req.mutable_pushee()->clear_start_timestamp();
  d = DecidePush(std::nullopt, req, T(now.wall_ns - 1), markers);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
  EXPECT_EQ(FromP(d.record.last_heartbeat()), T(now.wall_ns - 1));
}

TEST(DecidePushTest, FinishedRecordCountsAsPushedWithoutWriting) {
  for (kvpb::TransactionStatus status : {kvpb::COMMITTED, kvpb::ABORTED}) {
    for (kvpb::PushType type : {kvpb::PUSH_ABORT, kvpb::PUSH_TIMESTAMP}) {
      SCOPED_TRACE(kvpb::TransactionStatus_Name(status) + " " + kvpb::PushType_Name(type));
      kvpb::Transaction rec = MakeTxn(T(kBaseNs), T(kBaseNs));
      rec.set_status(status);
      *rec.mutable_last_heartbeat() = P(T(kBaseNs));
      // Long expired, and the push asks for a higher timestamp: neither matters.
      PushDecision d = DecidePush(rec, Push(type, T(kBaseNs), T(kBaseNs + 5 * kSecondNs)),
                                  T(kBaseNs + 100 * kSecondNs));
      EXPECT_EQ(d.outcome, PushDecision::kPushed);
      EXPECT_FALSE(d.write_record);
      EXPECT_EQ(d.record.SerializeAsString(), rec.SerializeAsString());
    }
  }
}

TEST(DecidePushTest, ExpiredPendingRecordIsAborted) {
  kvpb::Transaction rec = MakeTxn(T(kBaseNs), T(kBaseNs));
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(kBaseNs + 10 * kSecondNs));
  PushDecision d = DecidePush(rec, Push(kvpb::PUSH_ABORT, T(kBaseNs)), T(kBaseNs + 16 * kSecondNs));
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_TRUE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::ABORTED);
  EXPECT_EQ(FromP(d.record.last_heartbeat()), T(kBaseNs + 10 * kSecondNs));
}

TEST(DecidePushTest, AbortPushOfALiveTransactionWaits) {
  // The write timestamp alone would be expired; the record's heartbeat is recent.
  kvpb::Transaction rec = MakeTxn(T(kBaseNs), T(kBaseNs));
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(kBaseNs + 10 * kSecondNs));
  PushDecision d = DecidePush(rec, Push(kvpb::PUSH_ABORT, T(kBaseNs)), T(kBaseNs + 11 * kSecondNs));
  EXPECT_EQ(d.outcome, PushDecision::kWait);
  EXPECT_FALSE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
}

TEST(DecidePushTest, TimestampPushForwardsTheWriteTimestamp) {
  kvpb::Transaction rec = MakeTxn(T(kBaseNs), T(kBaseNs));
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(kBaseNs));
  const Timestamp to = T(kBaseNs + 3, 2);
  PushDecision d =
      DecidePush(rec, Push(kvpb::PUSH_TIMESTAMP, T(kBaseNs), to), T(kBaseNs + kSecondNs));
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_TRUE(d.write_record);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
  EXPECT_EQ(FromP(d.record.write_timestamp()), to);
  EXPECT_EQ(FromP(d.record.read_timestamp()), T(kBaseNs));  // untouched

  // Missing record: the synthesized one is pushed, and the push is remembered in
  // the push marker, not by creating a record (only a coordinator creates PENDING).
  d = DecidePush(std::nullopt, Push(kvpb::PUSH_TIMESTAMP, T(kBaseNs), to), T(kBaseNs + 1));
  EXPECT_EQ(d.outcome, PushDecision::kPushed);
  EXPECT_FALSE(d.write_record);
  ASSERT_TRUE(d.push_marker.has_value());
  EXPECT_EQ(*d.push_marker, to);
  EXPECT_EQ(FromP(d.record.write_timestamp()), to);
  EXPECT_EQ(d.record.status(), kvpb::PENDING);
}

TEST(DecidePushTest, TimestampPushBelowTheWriteTimestampWritesNothing) {
  kvpb::Transaction rec = MakeTxn(T(kBaseNs), T(kBaseNs + 50));
  rec.set_status(kvpb::PENDING);
  *rec.mutable_last_heartbeat() = P(T(kBaseNs));
  for (Timestamp to : {T(kBaseNs + 10), T(kBaseNs + 50)}) {
    PushDecision d =
        DecidePush(rec, Push(kvpb::PUSH_TIMESTAMP, T(kBaseNs), to), T(kBaseNs + kSecondNs));
    EXPECT_EQ(d.outcome, PushDecision::kPushed);
    EXPECT_FALSE(d.write_record);
    EXPECT_EQ(FromP(d.record.write_timestamp()), T(kBaseNs + 50));
  }
}

// ---------------------------------------------------------------------------
// ResolveIntent

TEST_F(EvaluateTxnTest, ResolveIntentOnOneKeyCountsIt) {
  kvpb::Transaction txn = MakeTxn(T(10), T(10));
  WriteIntent("c", txn, "vc");
  txn.set_status(kvpb::COMMITTED);
  *txn.mutable_write_timestamp() = P(T(14));
  kvpb::ResolveIntentRequest req;
  req.set_key("c");
  *req.mutable_txn() = txn;
  for (int64_t want : {1, 0}) {  // the second finds nothing left
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    kvpb::ResolveIntentResponse resp;
    ASSERT_TRUE(EvaluateResolveIntent(*b, req, &resp).ok());
    EXPECT_EQ(resp.resolved(), want);
    ASSERT_TRUE(b->Commit(false).ok());
  }
  EXPECT_EQ(Committed("c", T(20)), "vc@14");
  EXPECT_FALSE(HasIntent("c"));
}

TEST_F(EvaluateTxnTest, ResolveIntentSpanAbortsOnlyThatTransactionsIntentsInside) {
  kvpb::Transaction txn = MakeTxn(T(10), T(10));
  const kvpb::Transaction other = MakeTxn(T(10), T(10), kOtherId);
  WriteCommitted("d", T(5), "old");
  for (const char* key : {"c", "d", "e", "x"}) WriteIntent(key, txn);
  WriteIntent("f", other);
  txn.set_status(kvpb::ABORTED);
  kvpb::ResolveIntentRequest req;
  req.set_key("c");
  req.set_end_key("g");
  *req.mutable_txn() = txn;
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  kvpb::ResolveIntentResponse resp;
  ASSERT_TRUE(EvaluateResolveIntent(*b, req, &resp).ok());
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(resp.resolved(), 3);
  EXPECT_FALSE(HasIntent("c"));
  EXPECT_FALSE(HasIntent("d"));
  EXPECT_FALSE(HasIntent("e"));
  EXPECT_EQ(Committed("c", T(20)), "<none>");
  EXPECT_EQ(Committed("d", T(20)), "old@5");
  EXPECT_TRUE(HasIntent("f"));  // another transaction's
  EXPECT_TRUE(HasIntent("x"));  // outside the span
}

TEST_F(EvaluateTxnTest, ResolveIntentOfPendingTransactionMovesItUp) {
  kvpb::Transaction txn = MakeTxn(T(10), T(10));
  *txn.mutable_start_timestamp() = P(T(7));
  WriteIntent("c", txn, "vc");
  txn.set_status(kvpb::PENDING);
  *txn.mutable_write_timestamp() = P(T(30));
  kvpb::ResolveIntentRequest req;
  req.set_key("c");
  *req.mutable_txn() = txn;
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  kvpb::ResolveIntentResponse resp;
  ASSERT_TRUE(EvaluateResolveIntent(*b, req, &resp).ok());
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(resp.resolved(), 1);
  proto::LockTableEntry entry;
  absl::StatusOr<bool> found = ReadLockEntry(*engine_, "c", &entry);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(*found);
  EXPECT_EQ(FromP(entry.txn().write_timestamp()), T(30));
  // The start stays where it was: pushers judge a recordless transaction by it.
  EXPECT_EQ(FromP(entry.txn().min_timestamp()), T(7));
  // A reader at 20 no longer meets the intent.
  EXPECT_EQ(Committed("c", T(20)), "<none>");
}

// ---------------------------------------------------------------------------
// Refresh

TEST_F(EvaluateTxnTest, RefreshFailsWithSerializationErrorOnANewerWrite) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(20));
  WriteCommitted("d", T(15));
  kvpb::RefreshRequest req;
  req.set_key("c");
  req.set_end_key("e");
  absl::Status s = EvaluateRefresh(*engine_, req, txn);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  std::optional<kvpb::TransactionRetryError> detail = TxnRetryDetailOf(s);
  ASSERT_TRUE(detail.has_value()) << s;
  EXPECT_EQ(detail->reason(), kvpb::TransactionRetryError::SERIALIZATION);
  // The single key, too; a key outside the span does not matter.
  req.clear_end_key();
  req.set_key("d");
  EXPECT_TRUE(TxnRetryDetailOf(EvaluateRefresh(*engine_, req, txn)).has_value());
  req.set_key("c");
  EXPECT_TRUE(EvaluateRefresh(*engine_, req, txn).ok());
}

TEST_F(EvaluateTxnTest, RefreshIgnoresOwnIntentsAndWritesOutsideTheInterval) {
  const kvpb::Transaction txn = MakeTxn(T(10), T(20));
  WriteCommitted("c", T(10));  // at the read timestamp: was read
  WriteCommitted("d", T(21));  // above the write timestamp
  WriteIntent("e", txn);       // its own, at 20
  kvpb::RefreshRequest req;
  req.set_key("a");
  req.set_end_key("z");
  EXPECT_TRUE(EvaluateRefresh(*engine_, req, txn).ok());
}

// ---------------------------------------------------------------------------
// Transaction errors on the wire

TEST(TxnErrorsTest, RetryErrorRoundTripsThroughToError) {
  absl::Status s = TxnRetryError(kvpb::TransactionRetryError::WRITE_TOO_OLD, "too old", T(77, 3));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "too old");
  EXPECT_FALSE(IsTxnAborted(s));
  std::optional<kvpb::TransactionRetryError> detail = TxnRetryDetailOf(s);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), kvpb::TransactionRetryError::WRITE_TOO_OLD);
  EXPECT_EQ(FromP(detail->existing_timestamp()), T(77, 3));

  kvpb::Error e = ToError(s, 4);
  EXPECT_EQ(e.code(), static_cast<int32_t>(absl::StatusCode::kAborted));
  EXPECT_EQ(e.message(), "too old");
  EXPECT_EQ(e.request_index(), 4);
  ASSERT_EQ(e.detail_case(), kvpb::Error::kRetry);
  EXPECT_EQ(e.retry().reason(), kvpb::TransactionRetryError::WRITE_TOO_OLD);
  EXPECT_EQ(FromP(e.retry().existing_timestamp()), T(77, 3));

  absl::Status back = FromError(e);
  EXPECT_EQ(back.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(back.message(), "too old");
}

TEST(TxnErrorsTest, RetryErrorWithoutExistingTimestampLeavesItUnset) {
  for (auto reason : {kvpb::TransactionRetryError::SERIALIZATION,
                      kvpb::TransactionRetryError::PUSHED, kvpb::TransactionRetryError::DEADLOCK}) {
    SCOPED_TRACE(kvpb::TransactionRetryError::Reason_Name(reason));
    kvpb::Error e = ToError(TxnRetryError(reason, "retry"));
    ASSERT_EQ(e.detail_case(), kvpb::Error::kRetry);
    EXPECT_EQ(e.retry().reason(), reason);
    EXPECT_FALSE(e.retry().has_existing_timestamp());
    EXPECT_EQ(e.request_index(), -1);
  }
}

TEST(TxnErrorsTest, AbortedErrorRoundTripsThroughToError) {
  absl::Status s = TxnAbortedError("aborted by a pusher");
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(IsTxnAborted(s));
  EXPECT_FALSE(TxnRetryDetailOf(s).has_value());
  kvpb::Error e = ToError(s, 0);
  ASSERT_EQ(e.detail_case(), kvpb::Error::kAborted);
  EXPECT_EQ(e.aborted().reason(), "aborted by a pusher");
  EXPECT_EQ(e.code(), static_cast<int32_t>(absl::StatusCode::kAborted));
  EXPECT_EQ(e.request_index(), 0);
}

TEST(TxnErrorsTest, PlainAbortedStatusHasNoTransactionDetail) {
  absl::Status s = absl::AbortedError("something else");
  EXPECT_FALSE(IsTxnAborted(s));
  EXPECT_FALSE(TxnRetryDetailOf(s).has_value());
  EXPECT_FALSE(TxnRetryDetailOf(absl::OkStatus()).has_value());
  kvpb::Error e = ToError(s);
  EXPECT_EQ(e.detail_case(), kvpb::Error::DETAIL_NOT_SET);
}

// ---------------------------------------------------------------------------
// ClassifyBatch

kvpb::Transaction HeaderTxn() { return MakeTxn(T(10), T(10), kTxnId, "b"); }

class ClassifyBatchTest : public ::testing::Test {
 protected:
  kvpb::RequestUnion* Add() { return batch_.add_requests(); }
  void Get(const std::string& key) { Add()->mutable_get()->set_key(key); }
  void Put(const std::string& key) {
    kvpb::PutRequest* p = Add()->mutable_put();
    p->set_key(key);
    p->set_value("v");
  }
  void Scan(const std::string& start, const std::string& end) {
    kvpb::ScanRequest* s = Add()->mutable_scan();
    s->set_start_key(start);
    s->set_end_key(end);
  }
  void EndTxn() {
    kvpb::EndTxnRequest* e = Add()->mutable_end_txn();
    e->set_key("b");
    e->set_commit(true);
  }
  void Resolve(const std::string& key, const std::string& end = "") {
    kvpb::ResolveIntentRequest* r = Add()->mutable_resolve_intent();
    r->set_key(key);
    r->set_end_key(end);
    *r->mutable_txn() = HeaderTxn();
  }
  void Refresh(const std::string& key, const std::string& end = "") {
    kvpb::RefreshRequest* r = Add()->mutable_refresh();
    r->set_key(key);
    r->set_end_key(end);
  }
  void InTxn() { *batch_.mutable_header()->mutable_txn() = HeaderTxn(); }

  // The kind, or "rejected: <message>".
  std::string Classify() {
    absl::StatusOr<BatchKind> k = ClassifyBatch(batch_);
    if (!k.ok()) {
      EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument) << k.status();
      return "rejected: " + std::string(k.status().message());
    }
    switch (*k) {
      case BatchKind::kRead:
        return "read";
      case BatchKind::kWrite:
        return "write";
      case BatchKind::kResolve:
        return "resolve";
      case BatchKind::kHeartbeat:
        return "heartbeat";
      case BatchKind::kPush:
        return "push";
      case BatchKind::kQuery:
        return "query";
      case BatchKind::kRefresh:
        return "refresh";
    }
    return "?";
  }
  bool Rejected() { return Classify().rfind("rejected", 0) == 0; }

  kvpb::BatchRequest batch_;
};

TEST_F(ClassifyBatchTest, ReadsAreAReadBatchInOrOutOfATransaction) {
  Get("b");
  Scan("c", "f");
  Get("g");
  EXPECT_EQ(Classify(), "read");
  InTxn();
  EXPECT_EQ(Classify(), "read");
}

TEST_F(ClassifyBatchTest, EmptyBatchIsRejected) { EXPECT_TRUE(Rejected()); }

TEST_F(ClassifyBatchTest, RequestWithoutOperationIsRejected) {
  Add();
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, OneNonTransactionalWriteIsAWrite) {
  Put("b");
  EXPECT_EQ(Classify(), "write");
}

TEST_F(ClassifyBatchTest, SeveralNonTransactionalWritesAreRejected) {
  Put("b");
  Put("c");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, TransactionalWritesEndingWithEndTxnAreAWrite) {
  InTxn();
  Put("b");
  Add()->mutable_delete_()->set_key("c");
  EndTxn();
  EXPECT_EQ(Classify(), "write");
}

TEST_F(ClassifyBatchTest, AResumableDeleteRangeAloneIsAWrite) {
  InTxn();
  kvpb::DeleteRangeRequest* dr = Add()->mutable_delete_range();
  dr->set_start_key("d");
  dr->set_end_key("f");
  dr->set_resumable(true);
  EXPECT_EQ(Classify(), "write");
}

// A DeleteRange may stop early (docs/limits.md): a write after it in the batch would
// run before the rest of the delete (which would then delete it), an EndTxn would
// commit half of it, and a sender that does not follow resume keys would too.
TEST_F(ClassifyBatchTest, ADeleteRangeWithOtherRequestsOrNotResumableIsRejected) {
  InTxn();
  kvpb::DeleteRangeRequest* dr = Add()->mutable_delete_range();
  dr->set_start_key("d");
  dr->set_end_key("f");
  EXPECT_TRUE(Rejected());  // not resumable
  dr->set_resumable(true);
  Put("m");
  EXPECT_TRUE(Rejected());  // a write after it
  batch_.mutable_requests()->RemoveLast();
  EndTxn();
  EXPECT_TRUE(Rejected());  // with the commit
}

TEST_F(ClassifyBatchTest, DeleteRangeOutsideATransactionIsRejected) {
  kvpb::DeleteRangeRequest* dr = Add()->mutable_delete_range();
  dr->set_start_key("d");
  dr->set_end_key("f");
  dr->set_resumable(true);
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, EndTxnAloneIsAWrite) {
  InTxn();
  EndTxn();
  EXPECT_EQ(Classify(), "write");
}

TEST_F(ClassifyBatchTest, EndTxnNotLastIsRejected) {
  InTxn();
  EndTxn();
  Put("b");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, TwoEndTxnsAreRejected) {
  InTxn();
  EndTxn();
  EndTxn();
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, EndTxnWithoutTransactionHeaderIsRejected) {
  EndTxn();
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, EndTxnNeedsTheAnchorKey) {
  InTxn();
  batch_.mutable_header()->mutable_txn()->clear_anchor_key();
  EndTxn();
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, TransactionalWritesNeedTheAnchorKey) {
  InTxn();
  batch_.mutable_header()->mutable_txn()->clear_anchor_key();
  Put("b");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, TransactionIdMustBe16Bytes) {
  for (const std::string& id : {std::string(""), std::string(15, 'x'), std::string(17, 'x')}) {
    SCOPED_TRACE(id.size());
    batch_.Clear();
    InTxn();
    batch_.mutable_header()->mutable_txn()->set_id(id);
    Get("b");
    EXPECT_TRUE(Rejected());
  }
  batch_.Clear();
  InTxn();
  Get("b");
  EXPECT_EQ(Classify(), "read");
}

TEST_F(ClassifyBatchTest, MixingReadsAndWritesIsRejected) {
  InTxn();
  Get("b");
  Put("c");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, MixingReadsAndEndTxnIsRejected) {
  InTxn();
  Get("b");
  EndTxn();
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, HeartbeatTravelsAloneInATransaction) {
  Add()->mutable_heartbeat_txn()->set_key("b");
  EXPECT_TRUE(Rejected());  // no header
  InTxn();
  EXPECT_EQ(Classify(), "heartbeat");
  Get("c");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, PushAndQueryTravelAlone) {
  {
    kvpb::PushTxnRequest* p = Add()->mutable_push_txn();
    p->set_key("b");
    *p->mutable_pushee() = HeaderTxn();
  }
  EXPECT_EQ(Classify(), "push");
  Get("c");
  EXPECT_TRUE(Rejected());

  batch_.Clear();
  {
    kvpb::QueryTxnRequest* q = Add()->mutable_query_txn();
    q->set_key("b");
    q->set_txn_id(kTxnId);
  }
  EXPECT_EQ(Classify(), "query");
  {
    kvpb::QueryTxnRequest* q = Add()->mutable_query_txn();
    q->set_key("c");
    q->set_txn_id(kOtherId);
  }
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, ResolveBatches) {
  Resolve("b");
  Resolve("c", "f");
  EXPECT_EQ(Classify(), "resolve");
  Put("g");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, ResolveSpanMustBeOrdered) {
  Resolve("f", "c");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, RefreshNeedsATransaction) {
  Refresh("b");
  Refresh("c", "f");
  EXPECT_TRUE(Rejected());
  InTxn();
  EXPECT_EQ(Classify(), "refresh");
  Get("g");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, SpansMustBeOrderedAndKeysNonEmpty) {
  Scan("f", "c");
  EXPECT_TRUE(Rejected());
  batch_.Clear();
  Scan("c", "c");
  EXPECT_TRUE(Rejected());
  batch_.Clear();
  Get("");
  EXPECT_TRUE(Rejected());
}

TEST_F(ClassifyBatchTest, InternalKeysAreRejected) {
  Get(std::string("\x01kfoo"));
  EXPECT_TRUE(Rejected());
  batch_.Clear();
  Put(std::string("\x00x", 2));
  EXPECT_TRUE(Rejected());
  batch_.Clear();
  Scan(std::string("\x01", 1), "b");
  EXPECT_TRUE(Rejected());
  batch_.Clear();
  Get(std::string("\x02meta"));  // meta keys are addressable
  EXPECT_EQ(Classify(), "read");
}

TEST_F(ClassifyBatchTest, KeysWithHighFirstByteAreNotInternal) {
  // storage/keys.h: everything from \x02 up to KeyMax (\xff\xff) is addressable.
  for (const std::string& key :
       {std::string("\x80"), std::string("\xc3\xa9t\xc3\xa9"), std::string("\xff")}) {
    batch_.Clear();
    Get(key);
    EXPECT_EQ(Classify(), "read") << absl::CHexEscape(key);
  }
}

TEST_F(ClassifyBatchTest, AtMostMaxBatchRequests) {
  for (size_t i = 0; i < kMaxBatchRequests; ++i) Get("k" + std::to_string(i));
  EXPECT_EQ(Classify(), "read");
  Get("last");
  EXPECT_TRUE(Rejected());
}

TEST(CheckRecordCreationTest, RefusesTransactionsOlderThanHalfTheRecordGCAge) {
  kvpb::Transaction txn;
  txn.set_id(std::string(16, 'x'));
  const Timestamp now{absl::ToUnixNanos(absl::FromUnixSeconds(1'800'000'000)), 0};
  EXPECT_TRUE(CheckRecordCreation(txn, now).ok()) << "no start timestamp: nothing to judge";
  TimestampToProto(Timestamp{now.wall_ns - absl::ToInt64Nanoseconds(absl::Minutes(5)), 0},
                   txn.mutable_start_timestamp());
  EXPECT_TRUE(CheckRecordCreation(txn, now).ok());
  TimestampToProto(Timestamp{now.wall_ns - absl::ToInt64Nanoseconds(kTxnRecordGCAge / 2) - 1, 0},
                   txn.mutable_start_timestamp());
  absl::Status s = CheckRecordCreation(txn, now);
  EXPECT_TRUE(IsTxnAborted(s)) << s;
}

}  // namespace
}  // namespace rangedb::ranges
