// Garbage collection against the transaction protocol (docs/transactions.md,
// "Garbage collection"; docs/mvcc.md, "GC threshold"):
//  - a COMMITTED record goes only once every intent it lists is resolved, however
//    many (more than one ResolveIntent page) and whatever the asynchronous resolver
//    lost;
//  - a read that began above the old threshold is not cut short by a GC pass;
//  - writes and refreshes at or below the threshold are refused, since the history
//    they would be checked against is gone; a transaction is told to restart;
//  - a pass latches only what it removes (no other request of the range waits for
//    it), and judges a PENDING record by its latest heartbeat, read under the latch;
//  - the stored threshold never goes down, whatever gc_ttl a later pass used.
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "ranges/engine_state.h"
#include "ranges/evaluate.h"
#include "ranges/evaluate_txn.h"
#include "ranges/intent_resolver.h"
#include "ranges/testing/range_gate.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "storage/keys.h"

namespace rangedb::ranges {
namespace {

// Holds the reads of one range between their GC-threshold check and their engine
// read (StoreConfig::testing_before_read), for the race tests. One per process:
// the tests of this file run one at a time.
RangeGate gate;
// Holds GC passes of one range after they chose what to collect and before they
// latch it (StoreConfig::testing_gc_before_latch).
RangeGate gc_gate;

constexpr absl::Duration kRecordGcAge = absl::Seconds(4);
// More intents than one ResolveIntent page.
constexpr int kLostKeys = static_cast<int>(kMaxKeysPerSpanWrite) + 50;

StoreConfig GcConfig() {
  StoreConfig c = FastStoreConfig();
  c.txn_record_gc_age = kRecordGcAge;
  c.testing_before_read = [](uint64_t range_id) { gate.Hold(range_id); };
  c.testing_gc_before_latch = [](uint64_t range_id) { gc_gate.Hold(range_id); };
  return c;
}

class TxnGcProtocolTest : public TxnClusterTest {
 protected:
  explicit TxnGcProtocolTest(StoreConfig config = GcConfig()) : TxnClusterTest(config) {}
  ~TxnGcProtocolTest() override {
    gate.Open();
    gc_gate.Open();
  }

  // A GC pass on range B (it finds the leaseholder by reading a key no test
  // writes, so that it records no read of theirs in the timestamp cache).
  // On the leaseholder; again (up to 3 times) if the lease moved under the pass,
  // which then wrote nothing (seen under load).
  absl::StatusOr<Replica::GcResult> RunGC(absl::Duration gc_ttl) {
    absl::StatusOr<Replica::GcResult> gc;
    for (int attempt = 0; attempt < 3; ++attempt) {
      gc = RunGCOn(Leaseholder(kRangeB, K("b-wake")), gc_ttl);
      if (gc.ok() || !absl::IsUnavailable(gc.status())) break;
    }
    return gc;
  }
  absl::StatusOr<Replica::GcResult> RunGCOn(uint64_t leaseholder, absl::Duration gc_ttl) {
    if (leaseholder == 0) return absl::UnavailableError("no leaseholder");
    return cluster_.StoreOf(leaseholder)
        ->GetReplica(kRangeB)
        ->RunGC(gc_ttl, absl::Now() + absl::Seconds(30));
  }
  // t (anchored in range B) commits more intents in one span of range C than one
  // ResolveIntent resolves, and the asynchronous resolver gives up on them; once
  // the record is old enough, a GC pass removes it. How many of t's intents are
  // left then (-1: the scenario failed).
  int LostResolution(kvpb::Transaction* t);
  // A transaction reading and writing at ts.
  static kvpb::Transaction TxnAt(const std::string& anchor, const proto::Timestamp& ts) {
    kvpb::Transaction t = NewTxn(anchor);
    *t.mutable_read_timestamp() = ts;
    *t.mutable_write_timestamp() = ts;
    *t.mutable_start_timestamp() = ts;
    *t.mutable_uncertainty_limit() = ts;
    return t;
  }
};

std::string NKey(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "n/%05d", i);
  return K(buf);
}

int TxnGcProtocolTest::LostResolution(kvpb::Transaction* t) {
  constexpr int kKeys = kLostKeys;
  if (SendTxn(t, Put(t->anchor_key(), "anchor")).has_error()) return -1;
  for (int i = 0; i < kKeys;) {
    kvpb::BatchRequest b;
    for (; i < kKeys && static_cast<size_t>(b.requests_size()) < kMaxBatchRequests; ++i) {
      kvpb::PutRequest* p = b.add_requests()->mutable_put();
      p->set_key(NKey(i));
      p->set_value("committed");
    }
    kvpb::BatchResponse r = SendTxn(t, b);
    EXPECT_FALSE(r.has_error()) << r.error().message();
    if (r.has_error()) return -1;
  }
  fail_resolutions_ = true;  // the resolver's work is lost
  kvpb::BatchRequest end;
  AddEnd(&end, *t, {t->anchor_key()});
  kvpb::Span* span = end.mutable_requests(0)->mutable_end_txn()->add_lock_spans();
  span->set_key(K("n/"));
  span->set_end_key(K("n0"));
  kvpb::BatchResponse r = SendTxn(t, end);
  EXPECT_FALSE(r.has_error()) << r.error().message();
  if (r.has_error() || r.responses(0).end_txn().status() != kvpb::COMMITTED) return -1;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (failed_resolutions_.load() < IntentResolver::kMaxAttempts && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(failed_resolutions_.load(), IntentResolver::kMaxAttempts);
  absl::SleepFor(absl::Milliseconds(100));  // past the resolver's last attempt
  fail_resolutions_ = false;
  EXPECT_TRUE(HasIntent(kRangeC, NKey(0)));
  EXPECT_TRUE(HasIntent(kRangeC, NKey(kKeys - 1)));

  physical_.Advance(kRecordGcAge + absl::Seconds(1));  // the record is old enough to go
  absl::StatusOr<Replica::GcResult> gc = RunGC(absl::Hours(1));
  EXPECT_TRUE(gc.ok()) << gc.status();
  if (!gc.ok()) return -1;
  EXPECT_EQ(gc->records_removed, 1);
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(NKey(i));
  // Followers apply the resolution a moment after the leaseholder: wait for all.
  return WaitIntentsGone(keys, gc->records_removed == 1 ? absl::Seconds(5) : absl::Seconds(0));
}

// GC must resolve every intent before it removes the record: the record is the only
// proof that they committed.
TEST_F(TxnGcProtocolTest, GcResolvesEveryIntentOfACommittedRecordBeforeRemovingIt) {
  kvpb::Transaction t = NewTxn(K("ga"));
  ASSERT_EQ(LostResolution(&t), 0)
      << "GC removed the record of a committed transaction whose intents remain";
  EXPECT_FALSE(Record(t).has_value());
  // Every committed write reads as committed (a reader that met a leftover intent
  // without a record would have removed it).
  for (int i : {0, kLostKeys / 2, kLostKeys - 1}) {
    EXPECT_EQ(Value(NKey(i)), "committed") << NKey(i);
  }
  EXPECT_EQ(Value(K("ga")), "anchor");
}

// The planted bug (StoreConfig::testing_gc_unresolved_records): GC resolves one page
// of each span and removes the record. The test above must catch it.
class TxnGcPlantedBugTest : public TxnGcProtocolTest {
 protected:
  static StoreConfig BuggyConfig() {
    StoreConfig c = GcConfig();
    c.testing_gc_unresolved_records = true;
    return c;
  }
  TxnGcPlantedBugTest() : TxnGcProtocolTest(BuggyConfig()) {}
};

// QUARANTINED (docs/testing.md "Quarantined"): misses the planted bug in about one run
// of five since 2026-12-08 (all intents resolved after the resolver gave up).
TEST_F(TxnGcPlantedBugTest, DISABLED_TheGcCheckCatchesRecordsRemovedWithIntentsLeft) {
  kvpb::Transaction t = NewTxn(K("ga"));
  const int left = LostResolution(&t);
  EXPECT_EQ(left, kLostKeys - static_cast<int>(kMaxKeysPerSpanWrite))
      << "the check missed the planted bug";
  EXPECT_EQ(Value(NKey(kLostKeys - 1)), std::nullopt) << "a committed write should be lost";
}

// A read that passed the threshold check must see what it would have seen had GC
// not run meanwhile (GC waits for it, or it waits for GC and is then refused).
TEST_F(TxnGcProtocolTest, AReadRacingAGcPassSeesEveryVersionItShould) {
  ASSERT_FALSE(Send(Put(K("g1"), "old")).has_error());
  const proto::Timestamp between = Now();
  ASSERT_FALSE(Send(Put(K("g1"), "new")).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  kvpb::Transaction reader = TxnAt(K("g1"), between);
  const uint64_t leaseholder = Leaseholder(kRangeB, K("b-wake"));
  gate.Close(kRangeB);
  kvpb::BatchResponse read;
  std::thread r([&] { read = SendTxn(&reader, Get(K("g1"))); });
  ASSERT_TRUE(gate.WaitHeld(absl::Seconds(10)));
  std::atomic<bool> gc_done{false};
  absl::StatusOr<Replica::GcResult> gc;
  std::thread g([&] {
    gc = RunGCOn(leaseholder, absl::Nanoseconds(1));  // "old" is collectable
    gc_done = true;
  });
  // Let GC run as far as it can while the read is held (it must not get past it).
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (!gc_done.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  gate.Open();
  r.join();
  g.join();
  ASSERT_TRUE(gc.ok()) << gc.status();
  if (read.has_error()) {
    EXPECT_NE(read.error().message().find("GC threshold"), std::string::npos)
        << read.error().message();
  } else {
    ASSERT_TRUE(read.responses(0).get().found()) << "the read lost the version GC removed";
    EXPECT_EQ(read.responses(0).get().value(), "old");
  }
}

// A key deleted above ts and then garbage collected: a write at ts would resurrect
// it (nothing is left to push it above the deletion). It must be refused.
TEST_F(TxnGcProtocolTest, AWriteBelowTheGcThresholdIsRefused) {
  ASSERT_FALSE(Send(Put(K("d1"), "old")).has_error());
  const proto::Timestamp between = Now();
  ASSERT_FALSE(Send(Delete(K("d1"))).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  absl::StatusOr<Replica::GcResult> gc = RunGC(absl::Nanoseconds(1));
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_GE(gc->versions_removed, 2);
  kvpb::Transaction zombie = TxnAt(K("d1"), between);
  kvpb::BatchRequest b = Put(K("d1"), "zombie");
  AddEnd(&b, zombie, {K("d1")});
  kvpb::BatchResponse r = SendTxn(&zombie, b);
  EXPECT_TRUE(r.has_error()) << "a write below the GC threshold was accepted";
  if (r.has_error()) {
    EXPECT_NE(r.error().message().find("GC threshold"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(Value(K("d1")), std::nullopt) << "a deleted key came back";
}

// A refresh from below the threshold would not see a deletion GC collected: it
// must be refused rather than succeed.
TEST_F(TxnGcProtocolTest, ARefreshFromBelowTheGcThresholdIsRefused) {
  ASSERT_FALSE(Send(Put(K("d2"), "old")).has_error());
  kvpb::Transaction t = TxnAt(K("d2"), Now());
  kvpb::BatchResponse read = SendTxn(&t, Get(K("d2")));
  ASSERT_FALSE(read.has_error()) << read.error().message();
  ASSERT_EQ(read.responses(0).get().value(), "old");
  ASSERT_FALSE(Send(Delete(K("d2"))).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  absl::StatusOr<Replica::GcResult> gc = RunGC(absl::Nanoseconds(1));
  ASSERT_TRUE(gc.ok()) << gc.status();
  *t.mutable_write_timestamp() = Now();
  kvpb::BatchRequest refresh;
  refresh.add_requests()->mutable_refresh()->set_key(K("d2"));
  kvpb::BatchResponse r = SendTxn(&t, refresh);
  EXPECT_TRUE(r.has_error()) << "a refresh across a collected deletion succeeded";
}

// A transaction whose timestamp is at or below the GC threshold cannot go on: its
// reads, writes and refreshes are refused. A new attempt at a newer timestamp can, so
// the refusal is a TransactionRetryError (GC_THRESHOLD), which the client turns into
// a restart (as CockroachDB's BatchTimestampBeforeGCError does), not a final error.
TEST_F(TxnGcProtocolTest, ATransactionBelowTheGcThresholdIsToldToRestart) {
  ASSERT_FALSE(Send(Put(K("d3"), "old")).has_error());
  const proto::Timestamp old_ts = Now();
  ASSERT_FALSE(Send(Put(K("d3"), "new")).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  absl::StatusOr<Replica::GcResult> gc = RunGC(absl::Nanoseconds(1));  // "old" goes
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_GE(gc->versions_removed, 1);
  struct Case {
    const char* what;
    kvpb::BatchRequest batch;
  };
  for (Case& c : std::vector<Case>{{"read", Get(K("d3"))},
                                   {"write", Put(K("d3"), "zombie")},
                                   {"refresh", Refresh(K("d3"))}}) {
    kvpb::Transaction t = TxnAt(K("d3"), old_ts);
    if (std::string(c.what) == "refresh") *t.mutable_write_timestamp() = Now();
    kvpb::BatchResponse r = SendTxn(&t, c.batch);
    ASSERT_TRUE(r.has_error()) << c.what << " below the GC threshold was accepted";
    EXPECT_TRUE(r.error().has_retry()) << c.what << ": not retryable: " << r.error().message();
    EXPECT_EQ(r.error().retry().reason(), kvpb::TransactionRetryError::GC_THRESHOLD) << c.what;
    EXPECT_NE(r.error().message().find("GC threshold"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(Value(K("d3")), "new");
}

// A GC pass must not stop the range's traffic: it latches only the keys whose
// versions it removes and the records it removes, chosen by a scan without latches
// and checked again under them. While a read of another key is held (with its
// latch), a pass with nothing to collect and a pass that collects a key finish, and
// a write, a heartbeat and a commit elsewhere in the range go through.
TEST_F(TxnGcProtocolTest, AGcPassLatchesOnlyWhatItRemoves) {
  ASSERT_FALSE(Send(Put(K("l1-old"), "v1")).has_error());
  ASSERT_FALSE(Send(Put(K("l1-old"), "v2")).has_error());  // v1 is collectable
  kvpb::Transaction t = NewTxn(K("l1-t"));
  ASSERT_FALSE(SendTxn(&t, Put(K("l1-t"), "x")).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  const uint64_t leaseholder = Leaseholder(kRangeB, K("b-wake"));
  gate.Close(kRangeB);
  kvpb::BatchResponse read;
  std::thread r([&] { read = Send(Get(K("l1-held"))); });
  ASSERT_TRUE(gate.WaitHeld(absl::Seconds(10)));
  // Each step runs on its own thread, so that one that waits for the held read
  // (the bug) is seen as not done after a while instead of hanging the test; all are
  // joined once the read goes on.
  std::vector<std::thread> steps;
  auto finishes = [&steps](std::function<void()> step) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    steps.emplace_back([step = std::move(step), done] {
      step();
      done->store(true);
    });
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (!done->load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
    return done->load();
  };
  absl::StatusOr<Replica::GcResult> idle, busy;
  kvpb::BatchResponse write, heartbeat, commit;
  kvpb::Transaction hb_txn = t;
  kvpb::BatchRequest end;
  AddEnd(&end, t, {K("l1-t")});
  EXPECT_TRUE(finishes([&] { idle = RunGCOn(leaseholder, absl::Hours(1)); }))
      << "a GC pass with nothing to collect waited for a read";
  EXPECT_TRUE(finishes([&] { busy = RunGCOn(leaseholder, absl::Nanoseconds(1)); }))
      << "a GC pass waited for a read of a key it does not collect";
  EXPECT_TRUE(finishes([&] { write = Send(Put(K("l1-w"), "w")); }))
      << "a write waited for a GC pass";
  EXPECT_TRUE(finishes([&] { heartbeat = SendTxn(&hb_txn, Heartbeat(hb_txn)); }))
      << "a heartbeat waited for a GC pass";
  EXPECT_TRUE(finishes([&] { commit = SendTxn(&t, end); })) << "a commit waited for a GC pass";
  gate.Open();
  r.join();
  for (std::thread& step : steps) step.join();
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->versions_removed + idle->records_removed, 0);
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_GE(busy->versions_removed, 1);
  EXPECT_FALSE(write.has_error()) << write.error().message();
  EXPECT_FALSE(heartbeat.has_error()) << heartbeat.error().message();
  EXPECT_FALSE(commit.has_error()) << commit.error().message();
  EXPECT_FALSE(read.has_error()) << read.error().message();
  EXPECT_EQ(Value(K("l1-t")), "x");
}

// A PENDING record is collectable only if its latest heartbeat is old. The pass
// chose this one while it was (its coordinator had been silent for longer than the
// expiry and the GC age); a heartbeat arrived before the pass latched it. The
// coordinator is alive: the record must stay, so the pass decides again under the
// latch from the record as it is then.
TEST_F(TxnGcProtocolTest, AGcPassKeepsARecordHeartbeatedAfterItWasChosen) {
  kvpb::Transaction t = NewTxn(K("hb1"));
  ASSERT_FALSE(SendTxn(&t, Put(K("hb1"), "v")).has_error());
  ASSERT_FALSE(SendTxn(&t, Heartbeat(t)).has_error());
  ASSERT_TRUE(Record(t).has_value());
  physical_.Advance(std::max(kRecordGcAge, kTxnExpiration) + absl::Seconds(1));
  const uint64_t leaseholder = Leaseholder(kRangeB, K("b-wake"));
  gc_gate.Close(kRangeB);
  absl::StatusOr<Replica::GcResult> gc;
  std::thread g([&] { gc = RunGCOn(leaseholder, absl::Hours(1)); });
  ASSERT_TRUE(gc_gate.WaitHeld(absl::Seconds(10)));
  kvpb::BatchResponse hb = SendTxn(&t, Heartbeat(t));  // the coordinator is alive
  gc_gate.Open();
  g.join();
  ASSERT_FALSE(hb.has_error()) << hb.error().message();
  ASSERT_EQ(hb.responses(0).heartbeat_txn().record().status(), kvpb::PENDING);
  ASSERT_TRUE(gc.ok()) << gc.status();
  EXPECT_EQ(gc->records_removed, 0) << "GC removed a record heartbeated after it chose it";
  std::optional<kvpb::Transaction> record = Record(t);
  ASSERT_TRUE(record.has_value()) << "the record of a live transaction is gone";
  EXPECT_EQ(record->status(), kvpb::PENDING);
}

// Review of issue 13, F3: every pass stores its own threshold (now - gc_ttl), and
// gc_ttl is read at every pass (a cluster setting, with a fallback): a pass with a
// longer TTL that removes anything — a single finished record is enough — must not
// store a threshold below one an earlier pass already collected at. Replicas keep
// the maximum in memory, but a restarted replica (or one built from a snapshot)
// reads the stored one, and would then serve reads and accept writes below versions
// that are gone.
TEST_F(TxnGcProtocolTest, TheStoredGcThresholdNeverGoesDown) {
  ASSERT_FALSE(Send(Put(K("gt"), "1")).has_error());
  ASSERT_FALSE(Send(Put(K("gt"), "2")).has_error());
  absl::SleepFor(absl::Milliseconds(2));
  absl::StatusOr<Replica::GcResult> gc = RunGC(absl::Nanoseconds(1));  // "1" goes
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_GE(gc->versions_removed, 1);
  const uint64_t lh = Leaseholder(kRangeB, K("b-wake"));
  ASSERT_NE(lh, 0u);
  const Timestamp collected_at = cluster_.StoreOf(lh)->GetReplica(kRangeB)->GcThreshold();
  ASSERT_FALSE(collected_at.IsEmpty());
  // A commit across ranges keeps its COMMITTED record, which the next pass removes.
  kvpb::Transaction t = NewTxn(K("gt-rec"));
  kvpb::BatchRequest b = Put(K("gt-rec"), "x");
  *b.add_requests() = Put(K("n-gt"), "y").requests(0);
  AddEnd(&b, t, {K("gt-rec"), K("n-gt")});
  ASSERT_FALSE(SendTxn(&t, b).has_error());
  physical_.Advance(kRecordGcAge + absl::Seconds(1));
  gc = RunGC(absl::Hours(1));  // now - 1 h: far below collected_at
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_EQ(gc->records_removed, 1);
  // Every replica applied the pass once none holds the record.
  auto record_somewhere = [&] {
    for (uint64_t id = 1; id <= 3; ++id) {
      if (ReadTxnRecord(*cluster_.EngineOf(id), t.anchor_key(), t.id())->has_value()) return true;
    }
    return false;
  };
  for (const absl::Time until = absl::Now() + absl::Seconds(5);
       record_somewhere() && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(record_somewhere());
  for (uint64_t id = 1; id <= 3; ++id) {
    proto::Timestamp stored;
    absl::StatusOr<bool> found =
        ReadLocalProto(*cluster_.EngineOf(id), keys::GcThresholdKey(kRangeB), &stored);
    ASSERT_TRUE(found.ok() && *found) << "node " << id;
    EXPECT_GE(TimestampFromProto(stored), collected_at)
        << "node " << id << " stored the GC threshold " << TimestampFromProto(stored).ToString()
        << ", below " << collected_at.ToString() << " where versions were already collected";
  }
  // What a restarted replica would refuse reads and writes below.
  cluster_.StopNode(lh);
  cluster_.StartNode(lh);
  std::shared_ptr<Replica> restarted = cluster_.StoreOf(lh)->GetReplica(kRangeB);
  ASSERT_NE(restarted, nullptr);
  EXPECT_GE(restarted->GcThreshold(), collected_at)
      << "node " << lh << " restarted with the GC threshold " << restarted->GcThreshold().ToString()
      << ", below " << collected_at.ToString();
}

}  // namespace
}  // namespace rangedb::ranges
