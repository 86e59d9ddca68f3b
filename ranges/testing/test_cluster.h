// TestCluster: the Stores of n nodes in one process, wired by an in-memory Raft
// message router, bootstrapped with the initial ranges (plus optional split keys).
// For tests of ranges/ and of what sits on top of it (the gateway).
//
// Thread safety: Send, StoreOf, StoreRef, LeaseholderOf and SetDropped may be called
// from any thread; StartNode / StopNode from the test's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "proto/kv.pb.h"
#include "ranges/store.h"
#include "ranges/testing/fault_engine.h"
#include "storage/engine.h"
#include "txn/clock.h"
#include "txn/hlc.h"

namespace rangedb::ranges {

// The nodes' --max-offset: small, so that waits for the clock after a lease change
// stay short in tests.
inline constexpr int64_t kTestMaxOffsetNanos = 100'000'000;

// The system clock plus an offset that a test moves forward: for every hybrid clock
// built on it, time passes at once (a transaction expires, a record ages) without the
// test sleeping. Raft ticks and leases run on the stores' TimeSource (the real one
// unless the test passes another) and are not affected, so the cluster keeps its
// leaseholders. Shared by all nodes, so no clock is ahead of another.
class AdvanceableClock final : public PhysicalClock {
 public:
  int64_t NowNanos() override {
    return system_.NowNanos() + offset_ns_.load(std::memory_order_acquire);
  }
  // REQUIRES: d >= 0 (hybrid clocks never go back; a step back would only stall them).
  void Advance(absl::Duration d) {
    offset_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }

 private:
  SystemClock system_;
  std::atomic<int64_t> offset_ns_{0};
};

// A store configuration with 20 ms ticks, so tests elect and fail over quickly.
StoreConfig FastStoreConfig();
// One-request batches.
kvpb::BatchRequest PutRequest(const std::string& key, const std::string& value);
kvpb::BatchRequest GetRequest(const std::string& key);

// A digest of every replicated key and value of a range in one engine
// (ReplicatedEngineSpans): two replicas that applied the same index have equal digests.
struct ReplicatedDigest {
  uint64_t keys = 0;
  uint64_t bytes = 0;
  uint64_t hash = 0;
  bool operator==(const ReplicatedDigest&) const = default;
};
ReplicatedDigest DigestReplicatedState(Engine* engine, const kvpb::RangeDescriptor& desc);

class TestCluster {
 public:
  // Nodes 1..n, each holding its replicas of PlanInitialRanges({1..n}, split_keys).
  // Their hybrid clocks read `physical` (null: the system clock), which must outlive
  // the cluster, plus each node's own offset (StepWallClock). Engines are in memory,
  // or on disk under data_dir/n<id> if data_dir is set (for tests that move hundreds
  // of MiB). The stores read time (ticks, leases, deadlines, sleeps) from `time`
  // (null: the real time source), which must outlive the cluster; the cluster's own
  // polling (Send's rounds, WaitFor) waits in real time.
  explicit TestCluster(int n, StoreConfig base = {}, std::vector<std::string> split_keys = {},
                       PhysicalClock* physical = nullptr, std::string data_dir = "",
                       TimeSource* time = nullptr);
  ~TestCluster();

  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  void StartNode(uint64_t id);
  // Stops the node's store (joins its threads); StoreOf / StoreRef return null after.
  void StopNode(uint64_t id);

  // The stores' time source.
  TimeSource* time() const { return time_; }

  // Sends to whichever node holds the lease of range_id, following hints.
  kvpb::BatchResponse Send(uint64_t range_id, kvpb::BatchRequest req,
                           absl::Duration timeout = absl::Seconds(10));

  // Stores are only destroyed by StopNode, which tests call between sends.
  Store* StoreOf(uint64_t id);
  // A reference that keeps the store alive while a send is in flight.
  std::shared_ptr<Store> StoreRef(uint64_t id);
  // The node's engine; it outlives StopNode (a stopped node's disk).
  Engine* EngineOf(uint64_t id) { return nodes_.at(id).faults.get(); }
  // Fails reads of node id's engine while fault returns an error (FaultEngine); an
  // empty function fails nothing. Kept across StopNode / StartNode.
  void SetEngineReadFault(uint64_t id, FaultEngine::ReadFault fault) {
    nodes_.at(id).faults->SetReadFault(std::move(fault));
  }
  // The same for node id's IngestFiles (how a replica installs a snapshot).
  void SetEngineIngestFault(uint64_t id, FaultEngine::IngestFault fault) {
    nodes_.at(id).faults->SetIngestFault(std::move(fault));
  }
  uint64_t LeaseholderOf(uint64_t range_id);
  // Drops every Raft message from or to node id.
  void SetDropped(uint64_t id, bool dropped);
  // Steps node id's wall clock (what its HLC reads) by delta; negative steps it
  // back, as NTP or an operator might.
  void StepWallClock(uint64_t id, absl::Duration delta);

  // Drops every Raft message for which drop(message) is true (in addition to
  // SetDropped); an empty function drops nothing. Called on the sending store's
  // thread with the router's lock held: must be quick and must not call back in.
  void SetDropFilter(std::function<bool(const rangespb::RaftMessageRequest&)> drop);
  // Rewrites every Raft message in transit (after the drop filter), as a faulty
  // network or NIC might; same rules as SetDropFilter. Empty: messages pass as sent.
  void SetRewriteFilter(std::function<void(rangespb::RaftMessageRequest*)> rewrite);

  // Snapshot streams run in process (sender thread → receiving store). A fault
  // function, if set, is asked before every chunk (chunk 0 is the header) and fails the
  // stream with what it returns. Streams to or from a SetDropped node fail.
  void SetSnapshotFault(std::function<absl::Status(uint64_t from, uint64_t to, int chunk)> fault);

  // The replicated state of range_id on nodes a and b, read while both had applied the
  // same index and applied nothing else meanwhile (retried up to timeout; the last
  // attempt's digests otherwise). Equal digests: the replicas converged.
  std::pair<ReplicatedDigest, ReplicatedDigest> StableDigests(uint64_t range_id, uint64_t a,
                                                              uint64_t b, absl::Duration timeout);

  // The ranges as bootstrapped, in key order (range 1 is the meta range).
  const std::vector<kvpb::RangeDescriptor>& initial_ranges() const { return ranges_; }

 private:
  // The cluster's physical clock plus a per-node offset that a test may step.
  class SteppableClock final : public PhysicalClock {
   public:
    explicit SteppableClock(PhysicalClock* base) : base_(base) {}
    int64_t NowNanos() override { return base_->NowNanos() + offset_ns_.load(); }
    void Step(int64_t delta_ns) { offset_ns_.fetch_add(delta_ns); }

   private:
    PhysicalClock* const base_;
    std::atomic<int64_t> offset_ns_{0};
  };
  struct Node {
    std::unique_ptr<SteppableClock> wall;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<FaultEngine> faults;  // over engine: what the store uses
    std::unique_ptr<HybridLogicalClock> clock;
    std::shared_ptr<Store> store;
  };
  // Called with the sender's replica lock held, like the real transport: queue the
  // message and deliver it from the router thread.
  void Route(uint64_t from, rangespb::RaftMessageRequest m);
  void RouterLoop();
  class SnapshotStreamImpl;
  absl::StatusOr<std::unique_ptr<SnapshotStream>> OpenSnapshotStream(uint64_t from, uint64_t to);
  // Whether a chunk from -> to may pass now (dropped nodes, the fault function).
  absl::Status SnapshotChunkAllowed(uint64_t from, uint64_t to, int chunk);

  StoreConfig base_;
  SystemClock system_clock_;
  PhysicalClock* const physical_;  // what every node's SteppableClock reads
  TimeSource* const time_;         // what every node's store reads
  std::vector<kvpb::RangeDescriptor> ranges_;
  absl::Mutex mu_;
  std::map<uint64_t, Node> nodes_;  // the map's shape is fixed after construction
  std::set<uint64_t> dropped_ ABSL_GUARDED_BY(mu_);
  std::function<bool(const rangespb::RaftMessageRequest&)> drop_filter_ ABSL_GUARDED_BY(mu_);
  std::function<void(rangespb::RaftMessageRequest*)> rewrite_filter_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Status(uint64_t, uint64_t, int)> snapshot_fault_ ABSL_GUARDED_BY(mu_);
  std::vector<rangespb::RaftMessageRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread router_{[this] { RouterLoop(); }};
};

// Polls condition every 10 ms until it holds (true) or timeout passes (false), in
// real time: it waits for threads to act, also under a manual time source.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// The status of node_id's replica of range_id; empty if the node is stopped or holds
// no such replica.
ReplicaStatus StatusOn(TestCluster& c, uint64_t node_id, uint64_t range_id);

}  // namespace rangedb::ranges
