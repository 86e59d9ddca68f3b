// Node: one rangedb server process (`rangedb start`), docs/node.md.
//
// Life cycle:
//   1. Start(): opens the engine, serves gRPC (KV, Internal, Admin, and Testing when
//      --testing-faults) and HTTP at once, so operators and peers can reach it.
//   2. Identity: a store that was bootstrapped before starts its replicas right away.
//      A new store waits: either `rangedb init` reaches some node, which claims the
//      nodes it knows, bootstraps itself and sends every claimed node its identity
//      (Bootstrap), or this node asks its --join peers (Join) until one belongs to a
//      cluster. A planned identity is bound to a store id: a store that lost its
//      data joins as a new node (docs/design/node-identity.md).
//   3. Serving: gossip of node addresses, the first range's descriptor and liveness;
//      pings feed the phi-accrual failure detector; the gateway routes client batches.
//   4. Drain() (SIGTERM): refuse new client batches, move leases away, let in-flight
//      requests finish; then Stop().
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/default_address.h"
#include "base/time_source.h"
#include "node/clock_monitor.h"
#include "node/fault_injector.h"
#include "node/gossip_store.h"
#include "node/grpc_deadline.h"
#include "node/http_server.h"
#include "node/metrics.h"
#include "node/node_dialer.h"
#include "node/offset_clock.h"
#include "node/phi_accrual.h"
#include "node/raft_transport.h"
#include "node/sql_service.h"
#include "proto/node.pb.h"
#include "ranges/gateway.h"
#include "ranges/local_sender.h"
#include "ranges/store.h"
#include "storage/engine.h"
#include "txn/clock.h"
#include "txn/hlc.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace rangedb {

struct NodeOptions {
  std::string store;  // a directory, or "mem" for an in-memory store
  std::string listen_addr = kDefaultNodeAddress;
  std::string http_addr = "127.0.0.1:8080";
  std::vector<std::string> join;
  absl::Duration max_offset = absl::Milliseconds(500);
  absl::Duration raft_tick_interval = absl::Milliseconds(100);
  // Where the node's store, gateway and background loops read time, sleep and wait
  // (base/time_source.h; docs/design/injected-time.md): init and join retries and
  // claims, the transport, the failure detector, every deadline. REQUIRES: non-null,
  // outlives the node. gRPC itself waits in real time: deadlines cross over in
  // node/grpc_deadline.h.
  TimeSource* time = TimeSource::Real();
  size_t cache_bytes = size_t{128} << 20;
  // How often the SQL sweep runs (Node::SqlSweepLoop: abandoned index builds, dropped
  // tables' keys); jittered by up to a fifth more.
  absl::Duration sql_sweep_interval = absl::Minutes(5);
  // Testing only: serve the fault-injection service; offset the physical clock.
  bool testing_faults = false;
  absl::Duration testing_clock_offset = absl::ZeroDuration();
  bool testing_unsafe_reads = false;            // a planted bug (ranges/store_context.h)
  bool testing_commit_without_refresh = false;  // a planted bug (ranges/store_context.h)
  bool testing_gc_unresolved_records = false;   // a planted bug (ranges/store_context.h)
  // Testing only: override StoreConfig's GC timing (zero: the defaults) and hold the
  // asynchronous intent resolver's work (ranges/store_context.h).
  absl::Duration testing_gc_interval = absl::ZeroDuration();
  absl::Duration testing_txn_record_gc_age = absl::ZeroDuration();
  absl::Duration testing_intent_resolution_delay = absl::ZeroDuration();
  bool testing_deleterange_at_max = false;  // a planted bug (ranges/store_context.h)
  bool testing_cput_reads_latest = false;   // a planted bug (ranges/store_context.h)
  // Testing only: truncate Raft logs past this many entries (0: the default), so
  // tests reach snapshots with little data.
  uint64_t testing_raft_log_truncate_threshold = 0;
};

class Node {
 public:
  // Opens the store and starts serving. Errors name what failed (the store
  // directory, an address in use, ...).
  static absl::StatusOr<std::unique_ptr<Node>> Start(NodeOptions options);
  ~Node();

  // Moves leases away and waits for in-flight requests, up to timeout.
  void Drain(absl::Duration timeout);
  // Stops serving and closes the store. Idempotent.
  void Stop();

  // Initializes a new cluster from this node (Admin.Init), or, if this node already
  // belongs to one, completes it: re-sends the Bootstrap to members still empty and
  // answers with the same cluster (already_initialized). Aborted/FailedPrecondition,
  // with nothing created, if another init holds a node or a node belongs to another
  // cluster.
  absl::StatusOr<nodepb::InitResponse> InitCluster(const nodepb::InitRequest& request);
  // Adopts an identity (Internal.Bootstrap, or a Join answer). Idempotent for the
  // same identity; FailedPrecondition for a different one, for an identity bound to
  // another store, or while another cluster's init holds this node.
  absl::Status Bootstrap(const nodepb::BootstrapRequest& request);
  // Reserves this node for one init (Internal.ClaimForInit), or releases it.
  nodepb::InitClaimResponse HandleInitClaim(const nodepb::InitClaimRequest& request);
  // Answers a joining node (Internal.Join).
  absl::StatusOr<nodepb::JoinResponse> HandleJoin(const nodepb::JoinRequest& request);

  // Client and gateway batches (KV.Batch), and the batches of local_sender(): refused
  // (UNAVAILABLE, in the response) while the node has no cluster, is fenced for its
  // clock, is draining (batches without a range id) or has stopped.
  kvpb::BatchResponse HandleBatch(const kvpb::BatchRequest& request, absl::Time deadline);
  // The txn::Sender of transaction coordinators that run in this node (SQL sessions):
  // each batch goes through HandleBatch — the same checks as a client's KV.Batch — to
  // this node's gateway, without an RPC. Never null; lives as long as the node.
  // Unlike a KvClient it cannot fail over: once Drain() begins, its batches are
  // refused, commits and rollbacks included, so the coordinators that use it must be
  // finished (sessions drained) before Drain(); and they must be stopped before
  // Stop(), which does not wait for batches in flight (one sent after Stop() began
  // is refused).
  txn::Sender* local_sender() { return &local_sender_; }
  // The SQL sessions running in this node (node/sql_service.h). Drain() drains them
  // before anything else.
  SqlSessions* sql_sessions() { return sql_sessions_.get(); }
  nodepb::NodeStatusResponse Status(bool local_only);
  bool Ready() const;
  // Stops serving for good (until restarted): refuses requests with `reason` and
  // moves its leases away. Idempotent.
  void FenceForClock(const std::string& reason);
  // Serves again after FenceForClock (the clock is back within bounds). Idempotent.
  void LiftClockFence();
  // Why this node stopped serving because of its clock; empty if it did not.
  std::string ClockFenceReason() const;

  uint64_t node_id() const;
  // This store's id (node/store_identity.h); set by Start.
  const std::string& store_id() const { return store_id_; }
  // Random, new at every process start: tells apart two processes that hold copies
  // of one store (a cloned directory, a restored image). Gossiped in this node's
  // descriptor and answered to pings.
  const std::string& incarnation() const { return incarnation_; }
  // Where node_id runs as far as this node knows (its own address for itself); ""
  // if unknown. Answers PingRequest.locate_node_id.
  std::string AddressOfNode(uint64_t node_id) const;
  std::string cluster_id() const;
  const NodeOptions& options() const { return options_; }
  FaultInjector* faults() { return faults_.get(); }
  // The skewable physical clock; null unless testing_faults or a testing offset.
  OffsetClock* testing_clock() { return testing_clock_; }
  // Null until the node has an identity (serving).
  GossipStore* gossip() { return serving_.load() ? gossip_.get() : nullptr; }
  RaftTransport* transport() { return serving_.load() ? transport_.get() : nullptr; }
  ranges::Store* store() { return serving_.load() ? store_.get() : nullptr; }
  HybridLogicalClock* clock() { return hlc_.get(); }
  MetricsRegistry* metrics() { return &metrics_; }
  NodeDialer* dialer() { return dialer_.get(); }

 private:
  explicit Node(NodeOptions options);
  absl::Status Open();
  absl::Status StartServers();
  // Starts the Store once the identity is known. REQUIRES: identity_ set.
  absl::Status StartStore();
  // Before a node with an identity starts its replicas: refuses (FailedPrecondition,
  // naming the address) if another live process answers as this node id with
  // another incarnation — this store is a copy of a running node's store
  // (node_cluster.cc; docs/design/node-identity.md, "Copied stores").
  absl::Status RefuseIfThisNodeRunsElsewhere();
  void JoinLoop();
  // Init helpers (node_init.cc). PingAddress retries until give_up_after.
  std::optional<nodepb::PingResponse> PingAddress(const std::string& address,
                                                  absl::Duration give_up_after);
  // OK if this node and the --join peers that answered init's pings are a majority
  // of this node and its --join list, or the list is empty (a single-node cluster by
  // choice). `answered_store_ids` maps each address that answered to the store id it
  // answered with; nodes are counted by store id, so an alias of this node or of a
  // peer is one node (review finding F3). FailedPrecondition, naming the silent
  // peers, if not.
  absl::Status CheckJoinPeersReached(
      const std::map<std::string, std::string>& answered_store_ids) const;
  // The same majority, recounted before the commit point over the nodes that granted
  // this init's claim (`claimed_store_ids`: address -> store id, aliases included),
  // of the same --join list: a peer that answered the ping but not the claim (a
  // partition that began in between) counts as silent. Aborted, naming those peers
  // with `claim_errors` (address -> why the claim failed), if no longer a majority.
  absl::Status CheckJoinPeersClaimed(const std::map<std::string, std::string>& claimed_store_ids,
                                     const std::map<std::string, std::string>& claim_errors) const;
  absl::StatusOr<nodepb::InitClaimResponse> ClaimRemote(const std::string& address,
                                                        const nodepb::InitClaimRequest& req);
  // Releases this init's claims here and on `addresses` (best effort).
  void ReleaseClaims(const std::string& cluster_id, const std::vector<std::string>& addresses);
  absl::Status SendBootstrap(const std::string& address, const nodepb::BootstrapRequest& req);
  // Sends every other member of `plan` its Bootstrap unless it already has it; the
  // answer lists the members still missing. REQUIRES: this node has an identity.
  nodepb::InitResponse SendPlanBootstraps(const nodepb::BootstrapRequest& plan);
  absl::StatusOr<nodepb::InitResponse> CompleteInit(const nodepb::InitRequest& request,
                                                    const nodepb::BootstrapRequest& identity);
  // The ping loop's clock verdict: fences, lifts the fence, or warns about a peer.
  void CheckClock();
  void GossipLoop();
  void PingLoop();
  // The SQL layer's garbage collection, soon after start and every few minutes:
  // finishes the index builds of sessions that died (sql/index_build.h), then clears
  // the key spans of dropped tables and indexes (sql/dropped_spans.h). Each logs what
  // it did and what failed; check_stop stops them when the node stops.
  void SqlSweepLoop();
  void ResumeAbandonedIndexBuilds(const std::function<absl::Status()>& check_stop);
  void ClearDroppedSpans(const std::function<absl::Status()>& check_stop);
  void RegisterHttpHandlers();
  void RegisterMetrics();
  std::optional<kvpb::RangeDescriptor> FirstRange();
  ranges::NodeSendResult SendToNode(uint64_t node_id, const kvpb::BatchRequest& request,
                                    absl::Time deadline);
  // The failure detector's view of a peer (kLive for this node itself).
  PeerState PeerStateOf(uint64_t node_id) const;
  // Sleeps up to d; returns false if the node is stopping.
  bool SleepUnlessStopping(absl::Duration d);
  // The gRPC deadline d from now on options_.time (node/grpc_deadline.h).
  std::chrono::system_clock::time_point GrpcDeadlineIn(absl::Duration d) const {
    return ToGrpcDeadline(options_.time, options_.time->Now() + d);
  }

  const NodeOptions options_;
  const int64_t started_unix_ns_;  // wall: gossiped as the node's start time
  const int64_t started_mono_ns_;  // options_.time's monotonic reading at start
  const std::string incarnation_;  // see incarnation()
  std::unique_ptr<PhysicalClock> physical_clock_;
  OffsetClock* testing_clock_ = nullptr;  // physical_clock_, when it is an OffsetClock
  std::unique_ptr<HybridLogicalClock> hlc_;
  std::unique_ptr<Engine> engine_;
  std::string store_id_;                   // written once by Open
  std::unique_ptr<FaultInjector> faults_;  // null unless testing_faults
  std::unique_ptr<GossipStore> gossip_;
  std::unique_ptr<PhiAccrualDetector> detector_;
  std::unique_ptr<ClockMonitor> clock_monitor_;
  std::unique_ptr<RaftTransport> transport_;
  std::unique_ptr<NodeDialer> dialer_;
  std::unique_ptr<ranges::Gateway> gateway_;
  ranges::LocalSender local_sender_;  // over HandleBatch
  // The store's calls into gateway_; destroyed (detached) before gateway_.
  ranges::KeySenderBinding key_sender_binding_;
  MetricsRegistry metrics_;
  HttpServer http_;
  std::unique_ptr<SqlSessions> sql_sessions_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_server_;

  mutable absl::Mutex mu_;
  std::optional<nodepb::BootstrapRequest> identity_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ranges::Store> store_;  // written once before serving_
  // Addresses of uninitialized nodes that asked to join us (init candidates).
  std::vector<std::string> knocking_ ABSL_GUARDED_BY(mu_);
  bool initializing_ ABSL_GUARDED_BY(mu_) = false;
  // The init this node is reserved for, if any (docs/design/node-identity.md).
  struct InitClaim {
    std::string cluster_id;
    std::string initiator;  // its address
    // On options_.time's monotonic reading: a wall clock step must not stretch or
    // cut a claim.
    int64_t expires_mono_ns = 0;
  };
  std::optional<InitClaim> claim_ ABSL_GUARDED_BY(mu_);
  // When CheckClock last warned about a far peer (rate limit).
  absl::Time last_clock_warning_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // Set (release) once StartStore built gossip_, transport_, store_ and gateway_;
  // request paths check it (acquire) before touching them.
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  // Set while the clock monitor finds this node's clock too far off from a majority
  // of the cluster: it drains and refuses requests (docs/transactions.md, "Clocks").
  std::atomic<bool> clock_fenced_{false};
  std::string fence_reason_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> in_flight_{0};
  // Guards starting the store against Stop: StartStore runs under it (and refuses
  // once stopping_ is notified); Stop notifies and takes threads_ under it.
  // Lock order: lifecycle_mu_ < mu_.
  absl::Mutex lifecycle_mu_;
  absl::Notification stopping_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(lifecycle_mu_);
  std::atomic<bool> stopped_{false};
};

}  // namespace rangedb
