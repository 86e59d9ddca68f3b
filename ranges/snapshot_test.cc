// Streamed Raft snapshots between stores in one process
// (docs/design/snapshot-streaming.md): bounded chunks, the outcome reported to Raft,
// retries after failures, refusals before any data moves, and the scheduler free while
// a snapshot is sent.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "ranges/engine_state.h"
#include "ranges/store.h"
#include "ranges/testing/test_cluster.h"
#include "storage/keys.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;   // [\x04, \x05)
constexpr uint64_t kOtherRange = 4;  // [\x05, KeyMax)

StoreConfig SnapshotConfig() {
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_log_truncate_threshold_entries = 10;
  cfg.snapshot_chunk_bytes = 4 << 10;
  return cfg;
}

// Makes `lagger` need a snapshot of the user range: it misses `keys` writes of
// value_bytes each and the leader truncates its log past them.
void FallBehind(TestCluster& c, uint64_t lagger, int keys, size_t value_bytes) {
  c.SetDropped(lagger, true);
  for (int i = 0; i < keys; ++i) {
    kvpb::BatchResponse r = c.Send(
        kUserRange, PutRequest(absl::StrFormat("\x04k%05d", i), std::string(value_bytes, 'v')));
    ASSERT_FALSE(r.has_error()) << r.error().message();
  }
  const uint64_t lagger_last = StatusOn(c, lagger, kUserRange).last_log_index;
  ASSERT_TRUE(WaitFor(
      [&] {
        const uint64_t lh = c.LeaseholderOf(kUserRange);
        if (lh == 0 || StatusOn(c, lh, kUserRange).first_log_index > lagger_last + 1) return true;
        (void)c.Send(kUserRange, PutRequest("\x04pad", "v"));
        return false;
      },
      absl::Seconds(30)))
      << "the leader never truncated past the lagger";
}

// Once nothing is written, the two replicas apply the same index and hold the same
// replicated keys and values.
void ExpectSameReplicatedState(TestCluster& c, uint64_t a, uint64_t b) {
  const auto [da, db] = c.StableDigests(kUserRange, a, b, absl::Seconds(20));
  EXPECT_GT(da.keys, 0u);
  EXPECT_EQ(da.keys, db.keys);
  EXPECT_EQ(da.bytes, db.bytes);
  EXPECT_EQ(da.hash, db.hash);
}

bool CaughtUp(TestCluster& c, uint64_t node_id) {
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  return lh != 0 && StatusOn(c, node_id, kUserRange).applied_index >=
                        StatusOn(c, lh, kUserRange).applied_index;
}

TEST(SnapshotTest, StreamsInBoundedChunksAndTheFollowerCatchesUp) {
  TestCluster c(3, SnapshotConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  std::atomic<int> chunks{0};
  c.SetSnapshotFault([&](uint64_t, uint64_t, int) {
    ++chunks;
    return absl::OkStatus();
  });
  FallBehind(c, lagger, 100, 1 << 10);  // about 100 KiB: 25 chunks of 4 KiB
  c.SetDropped(lagger, false);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, lagger); }, absl::Seconds(20)));
  EXPECT_GE(chunks.load(), 20);
  const StoreMetrics& sent = c.StoreOf(c.LeaseholderOf(kUserRange))->metrics();
  const StoreMetrics& got = c.StoreOf(lagger)->metrics();
  // Sender and receiver count a stream when they finish with it, which may be just
  // after the follower applied the snapshot (a failure under load).
  EXPECT_TRUE(WaitFor([&] { return sent.snapshots_sent.load() >= 1; }, absl::Seconds(10)));
  EXPECT_TRUE(WaitFor([&] { return got.snapshots_received.load() >= 1; }, absl::Seconds(10)));
  EXPECT_GE(got.snapshots_applied.load(), 1u);
  EXPECT_GE(got.snapshot_bytes_received.load(), 100u << 10);
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), lagger);
}

// Streams that break are reported to Raft as failed; Raft asks again (after the
// sender's backoff) and a later stream succeeds.
TEST(SnapshotTest, FailedSendsAreReportedAndRetried) {
  TestCluster c(3, SnapshotConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  FallBehind(c, lagger, 60, 1 << 10);
  std::atomic<int> failures{0};
  c.SetSnapshotFault([&](uint64_t, uint64_t to, int chunk) {
    if (to == lagger && chunk == 3 && failures.load() < 2) {
      ++failures;
      return absl::UnavailableError("injected: the stream broke");
    }
    return absl::OkStatus();
  });
  c.SetDropped(lagger, false);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, lagger); }, absl::Seconds(30)));
  EXPECT_EQ(failures.load(), 2);
  const StoreMetrics& sent = c.StoreOf(c.LeaseholderOf(kUserRange))->metrics();
  EXPECT_GE(sent.snapshots_send_failed.load(), 2u);
  // Counted when the sender finishes with the stream, maybe just after the apply.
  EXPECT_TRUE(WaitFor([&] { return sent.snapshots_sent.load() >= 1; }, absl::Seconds(10)));
  EXPECT_GE(c.StoreOf(lagger)->metrics().snapshots_receive_failed.load(), 2u);
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), lagger);
}

// While a slow (rate-limited) snapshot is on its way, the sending node's other ranges
// keep committing: the snapshot is read and sent off the scheduler thread.
TEST(SnapshotTest, SendingASnapshotDoesNotHoldUpOtherRanges) {
  StoreConfig cfg = SnapshotConfig();
  cfg.snapshot_chunk_bytes = 16 << 10;
  cfg.snapshot_rate_bytes_per_sec = 256 << 10;  // 2 MiB take about 8 s
  TestCluster c(3, cfg, {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  FallBehind(c, lagger, 64, 32 << 10);
  const StoreMetrics& sent = c.StoreOf(lh)->metrics();
  c.SetDropped(lagger, false);
  ASSERT_TRUE(WaitFor([&] { return sent.snapshot_bytes_sent.load() > 0; }, absl::Seconds(10)));
  for (int i = 0; i < 20; ++i) {
    kvpb::BatchResponse r = c.Send(kOtherRange, PutRequest(absl::StrFormat("\x05o%d", i), "v"));
    ASSERT_FALSE(r.has_error()) << r.error().message();
  }
  EXPECT_EQ(sent.snapshots_sent.load(), 0u) << "the snapshot ended before the other writes";
  // Writes to the range itself go on, far past the truncation threshold: the leader
  // keeps the log after the snapshot, so one snapshot is enough.
  for (int i = 0; i < 100; ++i) {
    kvpb::BatchResponse r = c.Send(kUserRange, PutRequest(absl::StrFormat("\x04m%d", i), "v"));
    ASSERT_FALSE(r.has_error()) << r.error().message();
  }
  EXPECT_TRUE(WaitFor([&] { return CaughtUp(c, lagger); }, absl::Seconds(60)));
  EXPECT_TRUE(WaitFor([&] { return sent.snapshots_sent.load() >= 1; }, absl::Seconds(10)));
  EXPECT_EQ(sent.snapshots_sent.load(), 1u);
  ExpectSameReplicatedState(c, lh, lagger);
}

kvpb::BatchRequest Increment(const std::string& key) {
  kvpb::BatchRequest req;
  kvpb::IncrementRequest* inc = req.add_requests()->mutable_increment();
  inc->set_key(key);
  inc->set_delta(1);
  return req;
}

// The crash window of an install: the snapshot's file is ingested (durable) but the
// Raft state (log, hard state) is not written yet. The replica restarts with data
// newer than its log; it must skip the entries the data already holds (the increments
// below would otherwise count twice) and converge with the leader.
TEST(SnapshotTest, RestartBetweenIngestAndRaftStateConverges) {
  TestCluster c(3, FastStoreConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, Increment("\x04n")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t f = lh == 3 ? 2 : 3;
  c.StopNode(f);
  for (int i = 0; i < 30; ++i) ASSERT_FALSE(c.Send(kUserRange, Increment("\x04n")).has_error());
  // A lease change in the part of the log the data will cover: a lease command
  // applied twice would bump the lease sequence.
  c.StopNode(lh);
  c.StartNode(lh);
  for (int i = 0; i < 30; ++i) ASSERT_FALSE(c.Send(kUserRange, Increment("\x04n")).has_error());
  const uint64_t source_node = c.LeaseholderOf(kUserRange);
  ASSERT_NE(source_node, 0u);
  // What the stopped follower's disk would hold after the ingest: the leader's
  // replicated state at some applied index, over the follower's old Raft state.
  std::unique_ptr<Snapshot> source = c.EngineOf(source_node)->NewSnapshot();
  kvpb::RangeDescriptor desc;
  ASSERT_TRUE(*ReadLocalProto(*source, keys::DescriptorKey(kUserRange), &desc));
  absl::StatusOr<std::unique_ptr<SstFileWriter>> file =
      c.EngineOf(f)->NewSstFileWriter(ColumnFamily::kData);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<EngineSpan> spans =
      ReplicatedEngineSpans(kUserRange, desc.start_key(), desc.end_key());
  for (const EngineSpan& span : spans)
    ASSERT_TRUE((*file)->DeleteRange(span.lower, span.upper).ok());
  for (const EngineSpan& span : spans) {
    IterOptions opts;
    opts.lower_bound = span.lower;
    opts.upper_bound = span.upper;
    std::unique_ptr<Iterator> it = source->NewIterator(opts);
    for (it->Seek(span.lower); it->Valid(); it->Next()) {
      ASSERT_TRUE((*file)->Put(it->key(), it->value()).ok());
    }
  }
  ASSERT_TRUE((*file)->Finish().ok());
  ASSERT_TRUE(c.EngineOf(f)->IngestFiles(ColumnFamily::kData, {(*file)->path()}).ok());
  source.reset();

  c.StartNode(f);
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(c.Send(kUserRange, Increment("\x04n")).has_error());
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04n"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), f);
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id == f) continue;
    ExpectSameReplicatedState(c, id, f);
  }
}

// A snapshot the replica already has (at or below its commit index) is refused before
// any data moves; so is a second stream for the same range, and one for a range the
// store does not hold.
TEST(SnapshotTest, ReceiverRefusesBeforeDataMoves) {
  TestCluster c(3, FastStoreConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  Store* store = c.StoreOf(1);
  const ReplicaStatus st = StatusOn(c, 1, kUserRange);
  rangespb::SnapshotHeader h;
  h.set_range_id(kUserRange);
  h.set_from_node_id(2);
  h.set_to_node_id(1);
  h.mutable_message()->set_type(raftpb::MSG_SNAP);
  h.mutable_message()->mutable_snapshot()->mutable_metadata()->set_index(st.commit_index);
  *h.mutable_range_descriptor() = st.descriptor;
  EXPECT_TRUE(absl::IsFailedPrecondition(store->BeginSnapshot(h).status()));

  h.mutable_message()->mutable_snapshot()->mutable_metadata()->set_index(st.commit_index + 1000);
  absl::StatusOr<std::unique_ptr<SnapshotSink>> first = store->BeginSnapshot(h);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::IsAlreadyExists(store->BeginSnapshot(h).status()));
  // Keys must be in the range's spans, in order.
  rangespb::SnapshotChunk outside;
  outside.add_kvs()->set_key(
      "\x7f"
      "not-in-the-range");
  EXPECT_TRUE(absl::IsInvalidArgument((*first)->Add(outside)));
  first->reset();  // abandoned: the slot is free again
  absl::StatusOr<std::unique_ptr<SnapshotSink>> again = store->BeginSnapshot(h);
  EXPECT_TRUE(again.ok()) << again.status();

  // A MsgSnap in an ordinary message batch has no staged data: dropped, harmless.
  rangespb::RaftMessageBatch batch;
  rangespb::RaftMessageRequest* m = batch.add_requests();
  m->set_range_id(kUserRange);
  m->set_from_node_id(2);
  m->set_to_node_id(1);
  *m->mutable_message() = h.message();
  m->mutable_message()->set_from(2);
  m->mutable_message()->set_to(1);
  m->mutable_message()->set_term(1000);
  const uint64_t dropped = store->metrics().raft_messages_dropped.load();
  store->HandleRaftBatch(batch);
  EXPECT_EQ(store->metrics().raft_messages_dropped.load(), dropped + 1);
  EXPECT_TRUE(store->CorruptReplicas().empty());

  rangespb::SnapshotHeader unknown = h;
  unknown.set_range_id(99);
  unknown.mutable_range_descriptor()->set_range_id(99);
  EXPECT_TRUE(absl::IsNotFound(store->BeginSnapshot(unknown).status()));
}

// Writes one key after another (each waits for its apply) until stopped: a steady
// stream of commands, as a busy range sees.
class SteadyWriter {
 public:
  explicit SteadyWriter(TestCluster& c)
      : thread_([this, &c] {
          for (int i = 0; !stop_.load(); ++i) {
            (void)c.Send(kUserRange, PutRequest(absl::StrFormat("\x04w%06d", i), "v"));
          }
        }) {}
  ~SteadyWriter() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Issue 14 review, R1: a follower that was down while the range took writes comes back
// while writes go on. It needs a snapshot; after installing it, it continues from the
// leader's log after the snapshot's index. The leader's log grows past 4x the
// truncation threshold meanwhile (which truncates to the applied index for an ordinary
// laggard), but it must keep what the follower needs, or the follower needs another
// snapshot, and under steady writes another, ...
//
// Deterministic: the follower's appends are held back (dropped) right after it
// installed the snapshot until the leader applied 6x the threshold past the snapshot
// and ran its truncation check, so the check sees exactly the state that cut the
// follower off.
TEST(SnapshotTest, CatchingUpUnderSteadyWritesNeedsOneSnapshot) {
  StoreConfig cfg = SnapshotConfig();
  TestCluster c(3, cfg, {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t f = lh == 3 ? 2 : 3;
  c.StopNode(f);
  {
    SteadyWriter writer(c);
    // The leader truncates past everything the stopped follower has.
    ASSERT_TRUE(WaitFor([&] { return StatusOn(c, lh, kUserRange).first_log_index > 50; },
                        absl::Seconds(30)));
  }
  const uint64_t leader_first = StatusOn(c, lh, kUserRange).first_log_index;
  SteadyWriter writer(c);
  c.StartNode(f);
  // Shared with the filter, which the router may call until the cluster is gone.
  const std::shared_ptr<Store> fstore = c.StoreRef(f);
  ASSERT_NE(fstore, nullptr);
  const StoreMetrics& fm = fstore->metrics();
  auto hold_back = std::make_shared<std::atomic<bool>>(true);
  c.SetDropFilter([hold_back, fstore, f](const rangespb::RaftMessageRequest& m) {
    return hold_back->load() && m.range_id() == kUserRange && m.to_node_id() == f &&
           m.message().type() == raftpb::MSG_APP && fstore->metrics().snapshots_applied.load() > 0;
  });
  // Installed: the follower's log starts after the snapshot's index, which is at or
  // above what the leader had truncated when the follower came back.
  ASSERT_TRUE(WaitFor(
      [&] {
        return fm.snapshots_applied.load() > 0 &&
               StatusOn(c, f, kUserRange).first_log_index >= leader_first;
      },
      absl::Seconds(30)));
  const uint64_t snapshot_index = StatusOn(c, f, kUserRange).first_log_index - 1;
  // The leader's log grows far past 4x the threshold beyond the snapshot.
  const uint64_t threshold = cfg.raft_log_truncate_threshold_entries;
  ASSERT_TRUE(WaitFor(
      [&] { return StatusOn(c, lh, kUserRange).applied_index > snapshot_index + 6 * threshold; },
      absl::Seconds(30)));
  std::shared_ptr<Store> leader = c.StoreRef(lh);
  ASSERT_NE(leader, nullptr);
  std::shared_ptr<Replica> lr = leader->GetReplica(kUserRange);
  ASSERT_NE(lr, nullptr);
  lr->MaybeTruncateLog();  // what the ticker does once a second, now
  // Whatever it proposed applies before the writes proposed after it.
  const uint64_t after = StatusOn(c, lh, kUserRange).applied_index + 2;
  ASSERT_TRUE(WaitFor([&] { return StatusOn(c, lh, kUserRange).applied_index >= after; },
                      absl::Seconds(30)));
  EXPECT_LE(StatusOn(c, lh, kUserRange).first_log_index, snapshot_index + 1)
      << "the leader truncated its log past the snapshot the follower is catching up from";
  hold_back->store(false);
  // The follower catches up with the writes still going on.
  const uint64_t target = StatusOn(c, lh, kUserRange).applied_index;
  ASSERT_TRUE(WaitFor([&] { return StatusOn(c, f, kUserRange).applied_index >= target; },
                      absl::Seconds(30)));
  writer.Stop();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, f); }, absl::Seconds(30)));
  EXPECT_EQ(fm.snapshots_applied.load(), 1u) << "the follower needed more than one snapshot";
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), f);
}

// The snapshot hold of the test above is bounded: a follower that got a snapshot but
// does not catch up (here its appends are lost for good) keeps the leader's log only
// for snapshot_catchup_grace; then the leader truncates past the snapshot, and the
// follower, once reachable, gets another snapshot.
TEST(SnapshotTest, SnapshotHoldEndsForAFollowerThatDoesNotCatchUp) {
  StoreConfig cfg = SnapshotConfig();
  cfg.snapshot_catchup_grace = absl::Seconds(1);
  TestCluster c(3, cfg, {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t f = lh == 3 ? 2 : 3;
  c.StopNode(f);
  {
    SteadyWriter writer(c);
    ASSERT_TRUE(WaitFor([&] { return StatusOn(c, lh, kUserRange).first_log_index > 50; },
                        absl::Seconds(30)));
  }
  const uint64_t leader_first = StatusOn(c, lh, kUserRange).first_log_index;
  SteadyWriter writer(c);
  c.StartNode(f);
  const std::shared_ptr<Store> fstore = c.StoreRef(f);
  ASSERT_NE(fstore, nullptr);
  auto hold_back = std::make_shared<std::atomic<bool>>(true);
  c.SetDropFilter([hold_back, fstore, f](const rangespb::RaftMessageRequest& m) {
    return hold_back->load() && m.range_id() == kUserRange && m.to_node_id() == f &&
           m.message().type() == raftpb::MSG_APP && fstore->metrics().snapshots_applied.load() > 0;
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        return fstore->metrics().snapshots_applied.load() > 0 &&
               StatusOn(c, f, kUserRange).first_log_index >= leader_first;
      },
      absl::Seconds(30)));
  const uint64_t snapshot_index = StatusOn(c, f, kUserRange).first_log_index - 1;
  // Not forever: the leader truncates past the snapshot once the grace is over.
  EXPECT_TRUE(
      WaitFor([&] { return StatusOn(c, lh, kUserRange).first_log_index > snapshot_index + 1; },
              absl::Seconds(30)))
      << "a follower that does not catch up keeps the leader's log";
  hold_back->store(false);
  const uint64_t target = StatusOn(c, lh, kUserRange).applied_index;
  ASSERT_TRUE(WaitFor([&] { return StatusOn(c, f, kUserRange).applied_index >= target; },
                      absl::Seconds(30)));
  writer.Stop();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, f); }, absl::Seconds(30)));
  EXPECT_GE(fstore->metrics().snapshots_applied.load(), 2u);
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), f);
}

// Issue 14 review, R5: the outcome of a snapshot send reaches Raft only for the send it
// belongs to. The sender frees a follower's slot before it reports the outcome, so the
// OK of an older transfer can arrive after a newer snapshot to the same follower
// started (after a leadership change, or a failed report). Taken for the newer one, it
// tells Raft the follower holds a snapshot it has not got: the leader moves it to probe
// from that index and log truncation stops keeping the log for it.
TEST(SnapshotTest, StaleSnapshotOutcomeIsNotReportedForANewerSend) {
  TestCluster c(3, SnapshotConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  const uint64_t lagger_replica = StatusOn(c, lagger, kUserRange).replica_id;
  // The stream to the lagger stops before its second chunk until the test releases it.
  auto release = std::make_shared<absl::Notification>();
  c.SetSnapshotFault([release, lagger](uint64_t, uint64_t to, int chunk) {
    if (to == lagger && chunk == 1) release->WaitForNotificationWithTimeout(absl::Seconds(20));
    return absl::OkStatus();
  });
  FallBehind(c, lagger, 60, 1 << 10);
  c.SetDropped(lagger, false);
  std::shared_ptr<Store> leader = c.StoreRef(lh);
  ASSERT_NE(leader, nullptr);
  std::shared_ptr<Replica> lr = leader->GetReplica(kUserRange);
  ASSERT_NE(lr, nullptr);
  auto lagger_progress = [&] {
    const ReplicaStatus st = lr->Status();
    auto it = st.followers.find(lagger_replica);
    return it == st.followers.end() ? FollowerStatus{} : it->second;
  };
  // The newer send is under way: Raft holds the follower in snapshot state.
  ASSERT_TRUE(WaitFor([&] { return lagger_progress().state == raft::ProgressState::kSnapshot; },
                      absl::Seconds(30)));
  const uint64_t pending = lagger_progress().pending_snapshot;
  // The late OK of an older transfer to the same follower.
  // (Send ids start at 1: 0 is never the current send.)
  lr->OnSnapshotSent(lagger_replica, /*send_id=*/0, absl::OkStatus());
  const FollowerStatus after = lagger_progress();
  EXPECT_EQ(after.state, raft::ProgressState::kSnapshot)
      << "an older transfer's OK was reported to Raft for the snapshot being sent";
  EXPECT_EQ(after.pending_snapshot, pending);
  release->Notify();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, lagger); }, absl::Seconds(30)));
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), lagger);
}

// Issue 14 review, R2, on the install path: ingesting a received snapshot fails with an
// I/O error (RocksDB's IOError, e.g. the file system is full). The follower's replica
// must not be retired for good; the node stops, and once restarted (the disk works
// again) the follower gets a snapshot again and catches up.
TEST(SnapshotTest, IngestIOErrorStopsTheNodeNotTheReplica) {
  TestCluster c(3, SnapshotConfig(), {"\x05"});
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04"
                                             "first",
                                             "v"))
                   .has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  FallBehind(c, lagger, 60, 1 << 10);
  auto failures_left = std::make_shared<std::atomic<int>>(1);
  c.SetEngineIngestFault(lagger, [failures_left] {
    if (failures_left->fetch_sub(1) > 0) {
      return absl::UnavailableError("injected: IO error: No space left on device");
    }
    return absl::OkStatus();
  });
  c.SetDropped(lagger, false);
  std::shared_ptr<Store> store = c.StoreRef(lagger);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WaitFor([&] { return failures_left->load() <= 0; }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return !store->Failure().ok() || !store->CorruptReplicas().empty(); },
                      absl::Seconds(10)));
  EXPECT_TRUE(store->CorruptReplicas().empty())
      << "an I/O error while installing a snapshot retired the replica: "
      << store->CorruptReplicas().begin()->second;
  EXPECT_TRUE(absl::IsUnavailable(store->Failure())) << store->Failure();
  // The supervisor restarts the node.
  store.reset();
  c.StopNode(lagger);
  c.StartNode(lagger);
  ASSERT_NE(StatusOn(c, lagger, kUserRange).replica_id, 0u) << "the replica did not come back";
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(c, lagger); }, absl::Seconds(30)));
  ExpectSameReplicatedState(c, c.LeaseholderOf(kUserRange), lagger);
}

}  // namespace
}  // namespace rangedb::ranges
