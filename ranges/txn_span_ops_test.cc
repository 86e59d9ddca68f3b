// Transactional DeleteRange and ConditionalPut at the protocol level (issue 13,
// findings 1, 2 and 9; docs/transactions.md "Which operations are reads"): what the
// leaseholder finds, where it places the writes, what it remembers in the timestamp
// cache, and what it answers — through the gateways of three in-process stores.
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ranges/testing/txn_cluster_fixture.h"

namespace rangedb::ranges {
namespace {

Timestamp Ts(const proto::Timestamp& p) { return TimestampFromProto(p); }

std::vector<std::string> DeletedKeys(const kvpb::BatchResponse& r, int index = 0) {
  const kvpb::DeleteRangeResponse& d = r.responses(index).delete_range();
  return {d.deleted_keys().begin(), d.deleted_keys().end()};
}

// The answers that mean "a version newer than your snapshot is in the way; refresh
// above it": WRITE_TOO_OLD, or UNCERTAINTY when it lies in the uncertainty interval.
bool NewerVersionError(const kvpb::BatchResponse& r) {
  return r.has_error() && r.error().has_retry() &&
         (r.error().retry().reason() == kvpb::TransactionRetryError::WRITE_TOO_OLD ||
          r.error().retry().reason() == kvpb::TransactionRetryError::UNCERTAINTY);
}

using TxnSpanOpsTest = TxnClusterTest;

// Finding 9: a DeleteRange that finds nothing still answers with a DeleteRange
// response (an empty one), so the client does not reject the batch as malformed.
TEST_F(TxnSpanOpsTest, DeleteRangeOverAnEmptySpanAnswersAndCommits) {
  kvpb::Transaction t = NewTxn(K("e/anchor"));
  kvpb::BatchResponse r = SendTxn(&t, DeleteRange(K("e/"), K("e0")));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_EQ(r.responses_size(), 1);
  ASSERT_TRUE(r.responses(0).has_delete_range()) << "response 0 does not match its request";
  EXPECT_TRUE(DeletedKeys(r).empty());
  kvpb::BatchRequest end;
  AddEnd(&end, t, {});
  end.mutable_requests(0)->mutable_end_txn()->add_lock_spans()->set_key(K("e/"));
  end.mutable_requests(0)->mutable_end_txn()->mutable_lock_spans(0)->set_end_key(K("e0"));
  r = SendTxn(&t, end);
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(r.responses(0).end_txn().status(), kvpb::COMMITTED);
}

// Finding 9: across ranges A, B, C with keys only in A and C, every range's piece
// answers (one range per request, resuming at its end) and an empty middle piece
// reports nothing rather than failing.
TEST_F(TxnSpanOpsTest, DeleteRangeAcrossRangesWithKeysOnlyInSomeReportsThemAll) {
  ASSERT_FALSE(Send(Put(K("a7"), "x")).has_error());
  ASSERT_FALSE(Send(Put(K("n7"), "y")).has_error());
  kvpb::Transaction t = NewTxn(K("a7"));
  kvpb::BatchResponse r = DeleteRangeAll(&t, K("a5"), K("n9"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_TRUE(r.responses(0).has_delete_range());
  EXPECT_EQ(DeletedKeys(r), (std::vector<std::string>{K("a7"), K("n7")}));
  // Keys only in the first range: the later, empty parts keep them.
  ASSERT_FALSE(Send(Put(K("a8"), "x")).has_error());
  kvpb::Transaction t2 = NewTxn(K("a8"));
  r = DeleteRangeAll(&t2, K("a8"), K("n"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(DeletedKeys(r), (std::vector<std::string>{K("a8")}));
}

// Finding 9: keys that exist only as tombstones are not deleted again.
TEST_F(TxnSpanOpsTest, DeleteRangeOverOnlyDeletedKeysDeletesNothing) {
  for (const char* k : {"d1", "d2", "n1"}) {
    ASSERT_FALSE(Send(Put(K(k), "x")).has_error());
    ASSERT_FALSE(Send(Delete(K(k))).has_error());
  }
  kvpb::Transaction t = NewTxn(K("d1"));
  kvpb::BatchResponse r = DeleteRangeAll(&t, K("d"), K("n2"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_TRUE(r.responses(0).has_delete_range());
  EXPECT_TRUE(DeletedKeys(r).empty());
  EXPECT_FALSE(HasIntent(K("d1")));
}

// Finding 1(a): T1 deletes [f, h) at its timestamp; T3, which started earlier, then
// writes g inside the span. T3's write must land above T1's delete (the span is in
// the timestamp cache), else T1 commits "after" g was written without deleting it.
TEST_F(TxnSpanOpsTest, AWriteIntoADeletedSpanLandsAboveTheDelete) {
  kvpb::Transaction t3 = NewTxn(K("g"));
  ASSERT_FALSE(SendTxn(&t3, Get(K("x"))).has_error());  // T3's timestamps: now
  kvpb::Transaction t1 = NewTxn(K("f"));
  ASSERT_FALSE(SendTxn(&t1, Get(K("y"))).has_error());  // T1's: later
  ASSERT_LT(Ts(t3.write_timestamp()), Ts(t1.write_timestamp()));
  kvpb::BatchResponse r = SendTxn(&t1, DeleteRange(K("f"), K("h")));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  r = SendTxn(&t3, Put(K("g"), "phantom"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_GT(Ts(t3.write_timestamp()), Ts(t1.write_timestamp()))
      << "T3's write into T1's deleted span stayed below T1's delete";
  // T1's own writes are not pushed by its own delete.
  r = SendTxn(&t1, Put(K("f5"), "mine"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(Ts(t1.write_timestamp()), Ts(t1.read_timestamp()));
}

// Finding 1(b): a key live at T1's snapshot was deleted by someone else after it. T1
// cannot act on its snapshot any more (deleting "k5" at its timestamp would hide
// the other deletion's place in history): WRITE_TOO_OLD, naming the newer version.
// Once T1 reads above it (the coordinator refreshes), the span holds nothing to
// delete.
TEST_F(TxnSpanOpsTest, DeleteRangeOverAKeyDeletedAfterTheSnapshotIsWriteTooOld) {
  ASSERT_FALSE(Send(Put(K("k5"), "live")).has_error());
  kvpb::Transaction t1 = NewTxn(K("k1"));
  ASSERT_FALSE(SendTxn(&t1, Get(K("k1"))).has_error());  // T1's timestamps: now
  ASSERT_FALSE(Send(Delete(K("k5"))).has_error());       // deleted after T1's snapshot
  kvpb::BatchResponse r = SendTxn(&t1, DeleteRange(K("k"), K("l")));
  ASSERT_TRUE(r.has_error());
  ASSERT_TRUE(NewerVersionError(r)) << r.error().message();
  EXPECT_GT(Ts(r.error().retry().existing_timestamp()), Ts(t1.read_timestamp()));
  EXPECT_FALSE(HasIntent(K("k5")));
  const proto::Timestamp later = Now();
  *t1.mutable_read_timestamp() = later;
  *t1.mutable_write_timestamp() = later;
  r = SendTxn(&t1, DeleteRange(K("k"), K("l")));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_TRUE(DeletedKeys(r).empty());
}

// Review of issue 13: a DeleteRange is a read with an uncertainty interval like any
// other. u5 was acknowledged before T1 began, on a gateway whose clock lags by 1 ms:
// T1's snapshot is just below u5. Deleting nothing and committing there would leave
// u5 standing after a delete that began after it was written.
TEST_F(TxnSpanOpsTest, DeleteRangeHonoursTheUncertaintyInterval) {
  kvpb::BatchResponse put = Send(Put(K("u5"), "v"));
  ASSERT_FALSE(put.has_error());
  const Timestamp p = Ts(put.responses(0).put().timestamp());
  kvpb::Transaction t = NewTxn(K("u/anchor"));
  const Timestamp start{p.wall_ns - 1'000'000, 0};
  TimestampToProto(start, t.mutable_read_timestamp());
  TimestampToProto(start, t.mutable_write_timestamp());
  TimestampToProto(start, t.mutable_start_timestamp());
  TimestampToProto(Timestamp{start.wall_ns + kTestMaxOffsetNanos, 0},
                   t.mutable_uncertainty_limit());
  kvpb::BatchResponse r = SendTxn(&t, DeleteRange(K("u"), K("u9")));
  ASSERT_TRUE(r.has_error()) << "deleted " << DeletedKeys(r).size() << " keys at "
                             << start.ToString() << ", below u5 at " << p.ToString();
  ASSERT_TRUE(r.error().has_retry()) << r.error().message();
  EXPECT_EQ(Ts(r.error().retry().existing_timestamp()), p);
  // Above it (after the coordinator's refresh) u5 is deleted.
  TimestampToProto(p.Next(), t.mutable_read_timestamp());
  TimestampToProto(p.Next(), t.mutable_write_timestamp());
  r = SendTxn(&t, DeleteRange(K("u"), K("u9")));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(DeletedKeys(r), (std::vector<std::string>{K("u5")}));
}

// Review of issue 13: a DeleteRange pushed to a write timestamp above its snapshot
// must not report (or delete) a key created after the snapshot.
TEST_F(TxnSpanOpsTest, DeleteRangeNeverReportsAKeyNewerThanTheSnapshot) {
  kvpb::Transaction t = NewTxn(K("o/anchor"));
  ASSERT_FALSE(SendTxn(&t, Get(K("o0"))).has_error());  // the snapshot
  ASSERT_FALSE(Send(Put(K("o5"), "new")).has_error());  // after it
  *t.mutable_write_timestamp() = Now();                 // pushed
  kvpb::BatchResponse r = SendTxn(&t, DeleteRange(K("o1"), K("o9")));
  ASSERT_TRUE(r.has_error()) << "reported " << DeletedKeys(r).size() << " keys";
  ASSERT_TRUE(NewerVersionError(r)) << r.error().message();
  EXPECT_FALSE(HasIntent(K("o5")));
}

// A DeleteRange across ranges whose part in range C meets a newer version: the part
// in range A has already deleted a7 when the coordinator retries the same operation
// (same sequence) above it. The retry still reports a7: it is among what the
// operation deleted, though no longer live to the retry.
TEST_F(TxnSpanOpsTest, RetriedDeleteRangeReportsWhatItsEarlierAttemptDeleted) {
  ASSERT_FALSE(Send(Put(K("a7"), "x")).has_error());
  ASSERT_FALSE(Send(Put(K("n7"), "y")).has_error());
  kvpb::Transaction t = NewTxn(K("a7"));
  ASSERT_FALSE(SendTxn(&t, Get(K("a0"))).has_error());  // the snapshot
  ASSERT_FALSE(Send(Put(K("n8"), "z")).has_error());    // newer, in range C
  t.set_sequence(t.sequence() + 1);
  kvpb::BatchResponse r = DeleteRangeAll(&t, K("a5"), K("n9"));
  ASSERT_TRUE(r.has_error());
  ASSERT_TRUE(r.error().has_retry()) << r.error().message();
  ASSERT_TRUE(HasIntent(K("a7"))) << "range A's part did not run: nothing to show";
  const proto::Timestamp later = Now();
  *t.mutable_read_timestamp() = later;
  *t.mutable_write_timestamp() = later;
  r = DeleteRangeAll(&t, K("a5"), K("n9"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(DeletedKeys(r), (std::vector<std::string>{K("a7"), K("n7"), K("n8")}));
}

// Finding 2: a failed ConditionalPut told T1 the key's value: that is a read, so the
// key goes into the timestamp cache and a later write of an older transaction lands
// above it.
TEST_F(TxnSpanOpsTest, AFailedConditionalPutIsRememberedAsARead) {
  ASSERT_FALSE(Send(Put(K("cp1"), "A")).has_error());
  kvpb::Transaction t3 = NewTxn(K("cp1"));
  ASSERT_FALSE(SendTxn(&t3, Get(K("x"))).has_error());  // older
  kvpb::Transaction t1 = NewTxn(K("cp1"));
  ASSERT_FALSE(SendTxn(&t1, Get(K("y"))).has_error());
  kvpb::BatchResponse r = SendTxn(&t1, ConditionalPut(K("cp1"), "C", std::string("Z")));
  ASSERT_TRUE(r.has_error());
  ASSERT_TRUE(r.error().has_condition_failed()) << r.error().message();
  EXPECT_EQ(r.error().condition_failed().actual(), "A");
  r = SendTxn(&t3, Put(K("cp1"), "B"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_GT(Ts(t3.write_timestamp()), Ts(t1.write_timestamp()))
      << "a write landed under what the failed ConditionalPut showed";
}

// Finding 2: T1 read at its snapshot; T2 then wrote k. T1's ConditionalPut of k must
// not show T2's value (T1 could commit at its old timestamp knowing it): it fails
// with WRITE_TOO_OLD naming the newer version, whatever T1 expected.
TEST_F(TxnSpanOpsTest, AConditionalPutNeverShowsAValueNewerThanTheSnapshot) {
  ASSERT_FALSE(Send(Put(K("cp2"), "A")).has_error());
  kvpb::Transaction t1 = NewTxn(K("cp2"));
  ASSERT_FALSE(SendTxn(&t1, Get(K("x2"))).has_error());
  ASSERT_FALSE(Send(Put(K("cp2"), "B")).has_error());  // T2, after T1's snapshot
  for (const std::optional<std::string>& expected :
       {std::optional<std::string>("A"), std::optional<std::string>("B"),
        std::optional<std::string>()}) {
    kvpb::Transaction attempt = t1;
    kvpb::BatchResponse r = SendTxn(&attempt, ConditionalPut(K("cp2"), "C", expected));
    ASSERT_TRUE(r.has_error());
    EXPECT_FALSE(r.error().has_condition_failed())
        << "showed " << r.error().condition_failed().actual();
    ASSERT_TRUE(r.error().has_retry()) << r.error().message();
    EXPECT_EQ(r.error().retry().reason(), kvpb::TransactionRetryError::WRITE_TOO_OLD);
    EXPECT_GT(Ts(r.error().retry().existing_timestamp()), Ts(t1.read_timestamp()));
  }
  EXPECT_FALSE(HasIntent(K("cp2")));
  // Once T1's snapshot is above the newer version (after a refresh), it is a plain
  // snapshot read again.
  kvpb::Transaction t1b = t1;
  const proto::Timestamp later = Now();
  *t1b.mutable_read_timestamp() = later;
  *t1b.mutable_write_timestamp() = later;
  kvpb::BatchResponse r = SendTxn(&t1b, ConditionalPut(K("cp2"), "C", std::string("A")));
  ASSERT_TRUE(r.has_error());
  ASSERT_TRUE(r.error().has_condition_failed()) << r.error().message();
  EXPECT_EQ(r.error().condition_failed().actual(), "B");
}

}  // namespace
}  // namespace rangedb::ranges
