// The transaction record's life cycle end to end (docs/transactions.md, "The
// transaction record"): once a transaction's outcome is decided and its record is
// gone (a one-phase commit never writes one, a commit or rollback with every intent
// local deletes it), nobody may create the record again — not a late heartbeat, not
// a pusher that saw an intent earlier, not a duplicate of the commit. And a
// transaction that has been running for a while is judged alive by its record's
// latest heartbeat.
#include <atomic>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"
#include "proto/ranges.pb.h"
#include "ranges/engine_state.h"
#include "ranges/evaluate_txn.h"
#include "ranges/testing/range_gate.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "storage/keys.h"

namespace rangedb::ranges {
namespace {

using TxnProtocolTest = TxnClusterTest;

// A pusher met the intent of t before t committed in one phase (the intent is gone
// now). Its late PushTxn must not write ABORTED for a committed transaction.
TEST_F(TxnProtocolTest, APusherDoesNotAbortATransactionThatCommittedInOnePhase) {
  kvpb::Transaction t = NewTxn(K("p1"));
  ASSERT_FALSE(SendTxn(&t, Put(K("p1"), "committed")).has_error());
  const kvpb::Transaction seen = t;  // what the pusher read in the intent
  kvpb::BatchRequest end;
  AddEnd(&end, t, {K("p1")});
  kvpb::BatchResponse r = SendTxn(&t, end);
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_EQ(r.responses(0).end_txn().status(), kvpb::COMMITTED);
  ASSERT_FALSE(Record(t).has_value()) << "all intents were local: no record is kept";
  // A higher-priority writer's push arrives now, from the intent it saw.
  kvpb::BatchResponse push = PushTxn(seen, kvpb::PUSH_ABORT, /*pusher_priority=*/3);
  ASSERT_FALSE(push.has_error()) << push.error().message();
  std::optional<kvpb::Transaction> record = Record(t);
  EXPECT_FALSE(record.has_value()) << "the pusher wrote a record for a committed transaction: "
                                   << kvpb::TransactionStatus_Name(record->status());
  EXPECT_EQ(Value(K("p1")), "committed");
}

// A heartbeat delayed past the commit (which deleted the record) must not create a
// PENDING record that nobody will ever finish.
TEST_F(TxnProtocolTest, AStaleHeartbeatDoesNotRecreateTheRecordAfterTheCommit) {
  kvpb::Transaction t = NewTxn(K("h1"));
  ASSERT_FALSE(SendTxn(&t, Put(K("h1"), "v")).has_error());
  ASSERT_FALSE(SendTxn(&t, Heartbeat(t)).has_error());
  ASSERT_TRUE(Record(t).has_value());
  kvpb::BatchRequest end;
  AddEnd(&end, t, {K("h1")});
  kvpb::BatchResponse r = SendTxn(&t, end);
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_FALSE(Record(t).has_value());
  kvpb::BatchResponse hb = SendTxn(&t, Heartbeat(t));  // the late one
  std::optional<kvpb::Transaction> record = Record(t);
  EXPECT_FALSE(record.has_value()) << "a late heartbeat recreated the record as "
                                   << kvpb::TransactionStatus_Name(record->status());
  // The coordinator, had it not known its outcome, learns it is finished.
  if (!hb.has_error()) {
    EXPECT_NE(hb.responses(0).heartbeat_txn().record().status(), kvpb::PENDING);
  }
}

// t wrote on two ranges; a higher-priority writer aborted it (and removed its intent
// on the other range); a rollback listing only the anchor's range deleted the
// ABORTED record. A duplicate of t's commit arriving late must not commit what is
// left of t — that would commit half a transaction.
TEST_F(TxnProtocolTest, ADuplicateCommitAfterTheRollbackDeletedTheAbortedRecordFails) {
  kvpb::Transaction t = NewTxn(K("r1"));
  kvpb::BatchRequest writes = Put(K("r1"), "half");
  *writes.add_requests() = Put(K("r2"), "half").requests(0);
  ASSERT_FALSE(SendTxn(&t, writes).has_error());
  ASSERT_TRUE(HasIntent(kRangeB, K("r1")));
  ASSERT_TRUE(HasIntent(kRangeC, K("r2")));
  kvpb::BatchResponse push = PushTxn(t, kvpb::PUSH_ABORT, /*pusher_priority=*/3);
  ASSERT_FALSE(push.has_error()) << push.error().message();
  const kvpb::Transaction aborted = push.responses(0).push_txn().pushee();
  ASSERT_EQ(aborted.status(), kvpb::ABORTED);
  // The pusher removes the intent it met.
  kvpb::BatchRequest resolve;
  kvpb::ResolveIntentRequest* ri = resolve.add_requests()->mutable_resolve_intent();
  ri->set_key(K("r2"));
  *ri->mutable_txn() = aborted;
  ASSERT_FALSE(Send(resolve).has_error());
  ASSERT_EQ(WaitIntentsGone({K("r2")}), 0);
  // The rollback (every span it lists is local) deletes the record.
  kvpb::BatchRequest rollback;
  AddEnd(&rollback, t, {K("r1")}, /*commit=*/false);
  ASSERT_FALSE(SendTxn(&t, rollback).has_error());
  ASSERT_FALSE(Record(t).has_value());
  // The duplicate commit: t's writes again, and the EndTxn listing both keys.
  kvpb::BatchRequest commit = Put(K("r1"), "half");
  AddEnd(&commit, t, {K("r1"), K("r2")});
  kvpb::BatchResponse r = SendTxn(&t, commit);
  EXPECT_TRUE(r.has_error()) << "an aborted transaction committed (status "
                             << kvpb::TransactionStatus_Name(r.txn().status()) << ")";
  if (r.has_error()) {
    EXPECT_TRUE(r.error().has_aborted()) << r.error().message();
  }
  EXPECT_EQ(Value(K("r1")), std::nullopt);
  EXPECT_EQ(Value(K("r2")), std::nullopt);
}

// The tombstone of a one-phase commit lives in the leaseholder's memory; a new
// leaseholder must refuse the record as well (its tombstone low water covers every
// command applied before its lease).
TEST_F(TxnProtocolTest, ATombstoneOutlivesALeaseChange) {
  kvpb::Transaction t = NewTxn(K("p3"));
  ASSERT_FALSE(SendTxn(&t, Put(K("p3"), "committed")).has_error());
  const kvpb::Transaction seen = t;
  kvpb::BatchRequest end;
  AddEnd(&end, t, {K("p3")});
  ASSERT_FALSE(SendTxn(&t, end).has_error());
  const auto [old, lh] = StopLeaseholder(kRangeB, K("b-wake"), /*wake=*/true);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "no new leaseholder";
  const uint64_t via = old == 1 ? 2 : 1;
  kvpb::BatchResponse push = PushTxn(seen, kvpb::PUSH_ABORT, /*pusher_priority=*/3, via);
  ASSERT_FALSE(push.has_error()) << push.error().message();
  std::optional<kvpb::Transaction> record = Record(t);
  EXPECT_FALSE(record.has_value())
      << "after a lease change a pusher wrote " << kvpb::TransactionStatus_Name(record->status());
}

// A transaction that starts after a lease change — here just after the new lease's
// first use — may create its record: only transactions older than the lease lose
// that right (not, as a low water of clock + max_offset would have it, every
// transaction starting within max_offset of the lease's first use).
TEST_F(TxnProtocolTest, ATransactionStartedAfterALeaseChangeMayCreateItsRecord) {
  // A write keeps range B's followers awake (ticking), so that they elect a new
  // leader, which takes the lease, without any request using it.
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());
  const auto [old, lh] = StopLeaseholder(kRangeB, K("b-wake"), /*wake=*/false);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "no new leaseholder";
  const uint64_t via = old == 1 ? 2 : 1;
  // t starts now; its read is the new lease's first use, which raises the
  // timestamp caches' low waters.
  kvpb::Transaction t = NewTxn(K("f1"));  // in range B
  kvpb::BatchResponse read = SendTxn(&t, Get(K("f1")), via);
  ASSERT_FALSE(read.has_error()) << read.error().message();
  kvpb::BatchResponse hb = SendTxn(&t, Heartbeat(t), via);
  ASSERT_FALSE(hb.has_error()) << hb.error().message();
  EXPECT_EQ(hb.responses(0).heartbeat_txn().record().status(), kvpb::PENDING)
      << "a transaction younger than the lease was refused its record";
}

// A range's first lease follows no leaseholder: nobody has judged a transaction by an
// earlier low water, so a transaction that started before the range's first election
// (any transaction begun right after init) may still create its record. Found by
// NodeLocalSenderTest on a fresh single-node cluster: its first commit across two
// ranges failed with "its record can no longer be created".
TEST_F(TxnProtocolTest, ATransactionOlderThanARangesFirstLeaseMayCreateItsRecord) {
  const uint64_t lh = Leaseholder(kRangeB, K("h0"));
  ASSERT_NE(lh, 0u);
  const ReplicaStatus status = StatusOn(cluster_, lh, kRangeB);
  ASSERT_EQ(status.lease.sequence(), 1u) << "range B changed leaseholders before the test";
  // t's stamps are from just before the lease began, as if its first request had
  // reached a gateway then.
  kvpb::Transaction t = NewTxn(K("h1"));  // in range B
  const Timestamp start = {TimestampFromProto(status.lease.start()).wall_ns - 1000, 0};
  TimestampToProto(start, t.mutable_start_timestamp());
  TimestampToProto(start, t.mutable_read_timestamp());
  TimestampToProto(start, t.mutable_write_timestamp());
  TimestampToProto(Timestamp{start.wall_ns + kTestMaxOffsetNanos, 0},
                   t.mutable_uncertainty_limit());
  ASSERT_FALSE(SendTxn(&t, Put(K("h1"), "t")).has_error());
  kvpb::BatchResponse r = CommitRefreshing(&t, {K("h1")}, {});
  const bool committed = !r.has_error() && r.responses(0).end_txn().status() == kvpb::COMMITTED;
  EXPECT_TRUE(committed) << "a transaction older than its range's first lease was refused its "
                            "record: "
                         << (r.has_error() ? r.error().message() : "not committed");
  EXPECT_EQ(Value(K("h1")), std::optional<std::string>("t"));
}

// After a lease change, the new leaseholder knows of the old one's reads only that
// they were at or below its timestamp cache's low water L (clock + max_offset): a
// write lands above L. A record the coordinator creates then must start above L too
// (a reader of the old leaseholder may have met the transaction's intent and pushed
// it past a read at L) — Next() of the low water, not the low water itself. u, as old
// as t, writes a fresh key and shows where "above L" begins.
TEST_F(TxnProtocolTest, ARecordCreatedAfterALeaseChangeStartsAboveTheLowWater) {
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());
  const auto [old, lh] = StopLeaseholder(kRangeB, K("b-wake"), /*wake=*/false);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "no new leaseholder";
  const uint64_t via = old == 1 ? 2 : 1;
  // t is anchored in range B; its read is the new lease's first use.
  kvpb::Transaction t = NewTxn(K("f2"));
  kvpb::BatchResponse read = SendTxn(&t, Get(K("f2")), via);
  ASSERT_FALSE(read.has_error()) << read.error().message();
  kvpb::Transaction u = NewTxn(K("f3"));
  *u.mutable_read_timestamp() = t.read_timestamp();
  *u.mutable_write_timestamp() = t.write_timestamp();
  *u.mutable_start_timestamp() = t.start_timestamp();
  *u.mutable_uncertainty_limit() = t.uncertainty_limit();
  ASSERT_FALSE(SendTxn(&u, Put(K("f3"), "u"), via).has_error());
  const Timestamp above_low_water = TimestampFromProto(u.write_timestamp());
  ASSERT_LT(TimestampFromProto(t.start_timestamp()), above_low_water)
      << "u's write was not pushed by the low water";
  kvpb::BatchResponse hb = SendTxn(&t, Heartbeat(t), via);
  ASSERT_FALSE(hb.has_error()) << hb.error().message();
  const kvpb::Transaction& record = hb.responses(0).heartbeat_txn().record();
  ASSERT_EQ(record.status(), kvpb::PENDING);
  EXPECT_GE(TimestampFromProto(record.write_timestamp()), above_low_water)
      << "the record starts at " << TimestampFromProto(record.write_timestamp()).ToString()
      << ", at or below the low water (a write lands at " << above_low_water.ToString() << ")";
}

// A transaction's first request is stamped with its timestamps by the gateway that
// receives it. A client that retries it through another gateway (the first went
// silent after sending) sends the same unstamped request, which the second gateway
// stamps again, later; the leaseholder answers the retry from the idempotency
// record of the attempt that applied. The transaction must go on with the stamps
// its intents carry: a pusher judges a recordless transaction by the start in its
// intent, and if the coordinator held a later start, the pusher could find the
// record "no longer creatable" and remove the intent while the coordinator still
// creates the record and commits — a committed transaction missing its own write.
kvpb::BatchRequest WithIdempotencyKey(kvpb::BatchRequest b, const std::string& client_id) {
  kvpb::IdempotencyKey* key = b.mutable_header()->mutable_idempotency_key();
  key->set_client_id(client_id);
  key->set_sequence(1);
  key->set_retry_window_ms(10'000);
  return b;
}

TEST_F(TxnProtocolTest, AFirstWriteRetriedThroughAnotherGatewayKeepsItsTimestamps) {
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());  // range B stays awake
  kvpb::Transaction t = NewTxn(K("g1"));                  // in range B
  const kvpb::BatchRequest first =
      WithIdempotencyKey(ConditionalPut(K("g1"), "t", std::nullopt), RandomBytes(16));
  kvpb::Transaction lost = t;  // the first attempt: applied, its answer lost
  kvpb::BatchResponse r1 = SendTxn(&lost, first, 1);
  ASSERT_FALSE(r1.has_error()) << r1.error().message();
  const Timestamp s1 = TimestampFromProto(lost.start_timestamp());
  // A new lease on range B, whose start is above s1: t, as its intent shows it, is
  // older than the lease and can no longer create its record there. (Moved by a
  // drain, which is quick: t must not look expired, 5 s after s1, to the pusher.)
  physical_.Advance(2 * absl::Nanoseconds(kTestMaxOffsetNanos));  // past any clock's lead
  const auto [old, lh] = DrainLeaseholder(kRangeB, K("b-wake"), /*resume=*/false);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "the drain did not move range B's lease";
  const uint64_t via = old == 1 ? 2 : 1;
  // The client's retry, through another gateway, stamped later than the lease.
  physical_.Advance(2 * absl::Nanoseconds(kTestMaxOffsetNanos));
  kvpb::BatchResponse r2 = SendTxn(&t, first, via);
  ASSERT_FALSE(r2.has_error()) << r2.error().message();
  EXPECT_EQ(TimestampFromProto(t.start_timestamp()), s1)
      << "the retry answered with the second gateway's stamps: the coordinator's start "
      << TimestampFromProto(t.start_timestamp()).ToString() << " differs from its intent's "
      << s1.ToString();
  // A reader meets t's intent: t cannot create its record at the new lease (by the
  // start its intent carries), so the reader treats it as aborted, removes the
  // intent, and writes nothing anywhere.
  kvpb::BatchResponse read = Send(Get(K("g1")), via);
  ASSERT_FALSE(read.has_error()) << read.error().message();
  // t commits as its coordinator would (refreshing what it read, the ConditionalPut's
  // key, if pushed). It must not commit without its write.
  kvpb::BatchResponse r = CommitRefreshing(&t, {K("g1")}, {K("g1")}, via);
  const bool committed = !r.has_error() && r.responses(0).end_txn().status() == kvpb::COMMITTED;
  EXPECT_FALSE(committed) << "t committed, but its ConditionalPut's write is gone (the value is "
                          << Value(K("g1")).value_or("absent") << ")";
  if (!committed) {
    EXPECT_TRUE(r.error().has_aborted()) << r.error().message();
  }
}

// The parts of a first request on several ranges must all carry one set of stamps:
// when one part answers from an earlier attempt (stamped elsewhere) and another is
// evaluated now, the intents disagree on the transaction's start and no choice of
// stamps is safe for both. The gateway refuses to go on with a retryable "aborted"
// (the client, which retried after an attempt that may have applied, reports the
// outcome as ambiguous instead).
TEST_F(TxnProtocolTest, AFirstWriteWhosePartsCarryDifferentStampsIsRefused) {
  const std::string client_id = RandomBytes(16);
  kvpb::Transaction t = NewTxn(K("a7"));
  // An earlier attempt that reached only range A's part (part 1: ranges in key order).
  kvpb::Transaction earlier = t;
  kvpb::BatchResponse r1 = SendTxn(&earlier, WithIdempotencyKey(Put(K("a7"), "t"), client_id), 1);
  ASSERT_FALSE(r1.has_error()) << r1.error().message();
  physical_.Advance(absl::Milliseconds(50));
  kvpb::BatchRequest both = Put(K("a7"), "t");
  *both.add_requests() = Put(K("s7"), "t").requests(0);  // range C: evaluated now
  kvpb::BatchResponse r2 = SendTxn(&t, WithIdempotencyKey(both, client_id), 2);
  ASSERT_TRUE(r2.has_error()) << "a first write whose parts disagree on the stamps succeeded";
  // Retryable (nothing committed in this attempt), with the earliest stamps, those of
  // the earlier attempt, for the rollback that follows.
  EXPECT_TRUE(r2.error().has_aborted()) << r2.error().message();
  EXPECT_NE(r2.error().message().find("timestamps of different attempts"), std::string::npos)
      << r2.error().message();
  EXPECT_EQ(TimestampFromProto(r2.txn().start_timestamp()),
            TimestampFromProto(earlier.start_timestamp()));
}

// Review of the P0 fix, F1: the leaseholder records a transaction's batch part by
// part under (sequence << 8 | part) and a plain write under its client's key. Both
// come from one client's counter, so a plain write keyed (c, 257) met the record of
// part 1 of the client's transactional batch 1, was answered from it, and never
// applied — an acknowledged write silently dropped. A plain write is part 0 of its
// own batch now.
TEST_F(TxnProtocolTest, APlainWriteIsNeverAnsweredFromATransactionPartsRecord) {
  const std::string client_id = RandomBytes(16);
  kvpb::Transaction t = NewTxn(K("g5"));
  kvpb::BatchRequest txn_batch = WithIdempotencyKey(Put(K("g5"), "t"), client_id);  // part 1
  ASSERT_FALSE(SendTxn(&t, txn_batch).has_error());
  kvpb::BatchRequest plain = WithIdempotencyKey(Put(K("g6"), "plain"), client_id);
  plain.mutable_header()->mutable_idempotency_key()->set_sequence((1 << 8) | 1);
  kvpb::BatchResponse r = Send(plain);
  ASSERT_FALSE(r.has_error()) << r.error().message();
  EXPECT_EQ(Value(K("g6")), "plain") << "the plain write was acknowledged but never applied";
}

// Review of the P0 fix, F2: a new leader stamps its lease's start when it becomes
// leader — before it applied the previous lease, or with a clock that came back
// behind after a restart. The tombstone low water of a lease starts from its start,
// so a lease starting before the one it follows let a transaction that a pusher
// treated as aborted (and whose intent it removed, writing nothing) under the
// previous lease create its record and commit without its write. Here the third
// lease's start is stamped back on purpose (testing_before_propose).
std::atomic<int64_t> g_lease_start_override_ns{0};
StoreConfig LeaseStartOverrideConfig() {
  StoreConfig c = FastStoreConfig();
  c.testing_before_propose = [](uint64_t, rangespb::RaftCommand* cmd) {
    const int64_t ns = g_lease_start_override_ns.load();
    if (ns != 0 && cmd->has_new_lease()) {
      cmd->mutable_new_lease()->mutable_start()->set_wall_time_ns(ns);
      cmd->mutable_new_lease()->mutable_start()->set_logical(0);
    }
  };
  return c;
}
class TxnLeaseStartTest : public TxnClusterTest {
 protected:
  TxnLeaseStartTest() : TxnClusterTest(LeaseStartOverrideConfig()) {}
  ~TxnLeaseStartTest() override { g_lease_start_override_ns.store(0); }
  // Moves range B's lease off its holder by a drain; the new holder (0 if none).
  uint64_t DrainRangeB() { return DrainLeaseholder(kRangeB, K("b-wake"), /*resume=*/true).second; }
};

TEST_F(TxnLeaseStartTest, ALeaseNeverStartsBeforeTheOneItFollows) {
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());  // range B stays awake
  kvpb::Transaction t = NewTxn(K("g7"));                  // in range B, no record yet
  ASSERT_FALSE(SendTxn(&t, ConditionalPut(K("g7"), "t", std::nullopt)).has_error());
  const Timestamp start = TimestampFromProto(t.start_timestamp());
  // Lease 2 starts after t: t can no longer create its record, and a reader that meets
  // its intent removes it, writing nothing.
  physical_.Advance(2 * absl::Nanoseconds(kTestMaxOffsetNanos));
  ASSERT_NE(DrainRangeB(), 0u) << "the first drain did not move range B's lease";
  kvpb::BatchResponse read = Send(Get(K("g7")));
  ASSERT_FALSE(read.has_error()) << read.error().message();
  ASSERT_EQ(WaitIntentsGone({K("g7")}), 0) << "the reader did not remove t's intent";
  // Lease 3, stamped as if its holder's clock were before t started.
  g_lease_start_override_ns.store(start.wall_ns - absl::ToInt64Nanoseconds(absl::Seconds(1)));
  const uint64_t lh = DrainRangeB();
  g_lease_start_override_ns.store(0);
  ASSERT_NE(lh, 0u) << "the second drain did not move range B's lease";
  // t commits as its coordinator would (refreshing the ConditionalPut's key if pushed).
  kvpb::BatchResponse r = CommitRefreshing(&t, {K("g7")}, {K("g7")}, lh);
  const bool committed = !r.has_error() && r.responses(0).end_txn().status() == kvpb::COMMITTED;
  EXPECT_FALSE(committed) << "t committed under a lease that started before it, without its "
                             "write (the value is "
                          << Value(K("g7")).value_or("absent") << ")";
  if (!committed) {
    EXPECT_TRUE(r.error().has_aborted()) << r.error().message();
  }
}

// Commands whose write batch holds "refuse-me" are refused at application by every
// replica (StoreConfig::testing_refuse_command): known not applied.
StoreConfig RefusingConfig() {
  StoreConfig c = FastStoreConfig();
  c.testing_refuse_command = [](const rangespb::RaftCommand& command) {
    return command.write_batch().find("refuse-me") != std::string::npos;
  };
  return c;
}
class TxnRefusedCommandTest : public TxnClusterTest {
 protected:
  TxnRefusedCommandTest() : TxnClusterTest(RefusingConfig()) {}
};

// A one-phase commit whose command is refused did not happen: nothing was removed,
// so nothing may say "removed" — the tombstone marker is left only once the command
// applies. The transaction's next commit attempt then commits; had the marker been
// left before the proposal, it would be refused as finished.
TEST_F(TxnRefusedCommandTest, ACommitThatDidNotApplyLeavesNoTombstone) {
  kvpb::Transaction t = NewTxn(K("o1"));
  ASSERT_FALSE(SendTxn(&t, Get(K("o1"))).has_error());  // t's timestamps
  kvpb::BatchRequest first = Put(K("o1"), "refuse-me");
  AddEnd(&first, t, {K("o1")});
  *first.mutable_header()->mutable_txn() = t;
  // The refusal comes at application; a short deadline under load made it ambiguous.
  kvpb::BatchResponse refused = Send(first, 1);
  ASSERT_TRUE(refused.has_error()) << "the refused command applied";
  ASSERT_FALSE(refused.error().has_ambiguous()) << refused.error().message();
  // (Not read here: a read of o1 would push the retry above it, into a refresh.)
  kvpb::BatchRequest second = Put(K("o1"), "second");
  AddEnd(&second, t, {K("o1")});
  kvpb::BatchResponse r = SendTxn(&t, second);
  EXPECT_FALSE(r.has_error()) << "a commit that never applied doomed its retry: "
                              << r.error().message();
  EXPECT_EQ(Value(K("o1")), r.has_error() ? std::nullopt : std::optional<std::string>("second"));
}

// Idempotency records live 2 s, so that a new leaseholder deletes one (an internal
// command) soon after its lease, without any request.
StoreConfig ShortIdempotencyConfig() {
  StoreConfig c = FastStoreConfig();
  c.idempotency_record_ttl = absl::Seconds(2);
  return c;
}
class TxnInternalCommandTest : public TxnClusterTest {
 protected:
  TxnInternalCommandTest() : TxnClusterTest(ShortIdempotencyConfig()) {}
};

// The tombstone low water of a new lease must cover the commands that removed records
// (and the lease's start), not every command: a command that removes no record — here
// the deletion of an expired idempotency record, applied after t started and before
// anything used the new lease — must not cost a transaction that started after the
// lease change the right to create its record.
TEST_F(TxnInternalCommandTest, AnInternalCommandDoesNotRaiseTheTombstoneLowWater) {
  kvpb::BatchRequest put = Put(K("i5"), "x");
  kvpb::IdempotencyKey* key = put.mutable_header()->mutable_idempotency_key();
  key->set_client_id("internal-command-test");
  key->set_sequence(1);
  key->set_retry_window_ms(100);
  ASSERT_FALSE(Send(put).has_error());
  // Recorded under the gateway's part key of the write (part 0 of batch 1).
  const std::string idem_key = keys::IdempotencyRecordKey(kRangeB, "internal-command-test", 1 << 8);
  const auto [old, lh] = StopLeaseholder(kRangeB, K("b-wake"), /*wake=*/false);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "no new leaseholder";
  const uint64_t via = old == 1 ? 2 : 1;
  // t starts after the lease change; its first request goes to range A, so nothing
  // uses range B's new lease yet.
  kvpb::Transaction t = NewTxn(K("i6"));  // anchored in range B
  ASSERT_FALSE(SendTxn(&t, Get(K("a6")), via).has_error());
  // The new leaseholder deletes the expired idempotency record: a command whose
  // timestamp is above t's start.
  bool deleted = false;
  for (const absl::Time until = absl::Now() + absl::Seconds(20); !deleted && absl::Now() < until;) {
    rangespb::IdempotencyRecord record;
    absl::StatusOr<bool> found = ReadLocalProto(*cluster_.StoreOf(lh)->engine(), idem_key, &record);
    ASSERT_TRUE(found.ok()) << found.status();
    deleted = !*found;
    if (!deleted) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(deleted) << "the idempotency record was never deleted";
  kvpb::BatchResponse hb = SendTxn(&t, Heartbeat(t), via);  // the lease's first use
  ASSERT_FALSE(hb.has_error()) << hb.error().message();
  EXPECT_EQ(hb.responses(0).heartbeat_txn().record().status(), kvpb::PENDING)
      << "a transaction younger than the lease was refused its record because of a "
         "command that removed no record";
}

// Holds the first user of a new lease before it sets the lease up
// (StoreConfig::testing_on_new_lease).
RangeGate new_lease_gate;
StoreConfig NewLeaseGateConfig() {
  StoreConfig c = FastStoreConfig();
  c.testing_on_new_lease = [](uint64_t range_id) { new_lease_gate.Hold(range_id); };
  return c;
}
class TxnNewLeaseTest : public TxnClusterTest {
 protected:
  TxnNewLeaseTest() : TxnClusterTest(NewLeaseGateConfig()) {}
  ~TxnNewLeaseTest() override { new_lease_gate.Open(); }
};

// Review finding F4 (issue 13): two requests that both found a new lease not yet set
// up each raised its low waters. The later one read the high water of record
// removals after commands of the new lease had raised it, and lifted the tombstone
// low water above a transaction that started after the lease — which then could not
// create its record (a spurious abort: liveness, never safety, since the low water
// only rises). A lease is set up once; other first users wait for it.
TEST_F(TxnNewLeaseTest, ALeaseIsSetUpOnceWhenTwoRequestsAreItsFirstUsers) {
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());
  // The first user of the next lease (a request of ours, or the store's own
  // background work) stops before it sets the lease up.
  new_lease_gate.Close(kRangeB, /*most=*/1);
  absl::Cleanup open_gate = [] { new_lease_gate.Open(); };
  const auto [old, lh] = StopLeaseholder(kRangeB, K("b-wake"), /*wake=*/false);
  ASSERT_NE(old, 0u);
  ASSERT_NE(lh, 0u) << "no new leaseholder";
  const uint64_t via = old == 1 ? 2 : 1;
  std::thread first([&] { (void)Send(Get(K("h2")), via); });
  absl::Cleanup join_first = [&] {
    new_lease_gate.Open();
    first.join();
  };
  ASSERT_TRUE(new_lease_gate.WaitHeld(absl::Seconds(10))) << "nothing used the new lease";
  // t starts after the lease change and writes under the lease (another first user,
  // which sets it up).
  kvpb::Transaction t = NewTxn(K("h3"));  // in range B, no record yet
  ASSERT_FALSE(SendTxn(&t, Put(K("h3"), "t"), via).has_error());
  // u, younger, commits without a record under the new lease: its command removes a
  // record, and raises the high water of removals above t's start.
  physical_.Advance(absl::Milliseconds(1));
  kvpb::Transaction u = NewTxn(K("h4"));
  ASSERT_FALSE(SendTxn(&u, Put(K("h4"), "u"), via).has_error());
  kvpb::BatchRequest u_end;
  AddEnd(&u_end, u, {K("h4")});
  ASSERT_FALSE(SendTxn(&u, u_end, via).has_error());
  std::move(join_first).Invoke();  // the held first user goes on
  // t commits (its write was pushed above the new lease's low water: it refreshes)
  // and creates its record now.
  kvpb::BatchResponse r = CommitRefreshing(&t, {K("h3")}, {}, via);
  EXPECT_FALSE(r.has_error()) << "a transaction younger than the lease was refused its record "
                                 "once a second first user had set the lease up: "
                              << r.error().message();
  EXPECT_EQ(Value(K("h3")), std::optional<std::string>("t"));
}

// Review of the F4 fix: a first user of lease n held up while its replica lost the
// lease and won it back (lease n+2, set up meanwhile) must not set the replica up
// again from later readings when it goes on — the same spurious abort as F4 — nor
// record its older sequence as set up.
TEST_F(TxnNewLeaseTest, AStaleFirstUserDoesNotSetUpALaterLease) {
  ASSERT_FALSE(Send(Put(K("b-wake"), "x")).has_error());
  new_lease_gate.Close(kRangeB, /*most=*/1);
  absl::Cleanup open_gate = [] { new_lease_gate.Open(); };
  const auto [x, first_lh] = DrainLeaseholder(kRangeB, K("b-wake"), /*resume=*/true);
  ASSERT_NE(first_lh, 0u) << "the drain did not move range B's lease";
  std::thread first([&, lh = first_lh] { (void)Send(Get(K("h5")), lh); });
  absl::Cleanup join_first = [&] {
    new_lease_gate.Open();
    first.join();
  };
  ASSERT_TRUE(new_lease_gate.WaitHeld(absl::Seconds(10))) << "nothing used the new lease";
  // The lease leaves first_lh and comes back to it (drains move it to either other
  // node: bounded tries).
  uint64_t lh = first_lh;
  for (int i = 0; i < 12 && (i == 0 || lh != first_lh); ++i) {
    lh = DrainLeaseholder(kRangeB, K("b-wake"), /*resume=*/true).second;
    ASSERT_NE(lh, 0u) << "a drain did not move range B's lease";
  }
  ASSERT_EQ(lh, first_lh) << "range B's lease never came back to node " << first_lh;
  // t starts under the lease that came back and writes (which sets the lease up); u,
  // younger, commits without a record, raising the removals' high water above t's
  // start.
  kvpb::Transaction t = NewTxn(K("h6"));
  ASSERT_FALSE(SendTxn(&t, Put(K("h6"), "t"), lh).has_error());
  physical_.Advance(absl::Milliseconds(1));
  kvpb::Transaction u = NewTxn(K("h7"));
  ASSERT_FALSE(SendTxn(&u, Put(K("h7"), "u"), lh).has_error());
  kvpb::BatchRequest u_end;
  AddEnd(&u_end, u, {K("h7")});
  ASSERT_FALSE(SendTxn(&u, u_end, lh).has_error());
  std::move(join_first).Invoke();                    // the stale first user goes on
  ASSERT_FALSE(Send(Get(K("h8")), lh).has_error());  // and one more user of the lease
  kvpb::BatchResponse r = CommitRefreshing(&t, {K("h6")}, {}, lh);
  EXPECT_FALSE(r.has_error()) << "a transaction younger than the lease was refused its record "
                                 "after a stale first user set the lease up again: "
                              << r.error().message();
  EXPECT_EQ(Value(K("h6")), std::optional<std::string>("t"));
}

}  // namespace
}  // namespace rangedb::ranges
