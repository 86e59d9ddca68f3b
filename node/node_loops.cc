// Node: background loops — gossip and the failure detector's pings.
#include <pthread.h>

#include <future>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "proto/node.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "sql/dropped_spans.h"
#include "sql/index_build.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

constexpr absl::Duration kGossipInterval = absl::Seconds(1);
constexpr absl::Duration kPingInterval = absl::Milliseconds(500);
constexpr absl::Duration kPingTimeout = absl::Seconds(1);
// Infos expire unless their origin refreshes them, so what a dead node or a former
// leaseholder said disappears: liveness every round (TTL 10 s), the first range's
// descriptor every round by its leaseholder (10 s), node descriptors every 10 rounds
// (60 s). The dialer keeps a node's address after its descriptor expired.
constexpr int64_t kLivenessTtlNs = 10'000'000'000;
constexpr int64_t kFirstRangeTtlNs = 10'000'000'000;
constexpr int64_t kNodeDescriptorTtlNs = 60'000'000'000;
constexpr int64_t kNeverHeardDeadNs = 5'000'000'000;
// A peer's clock is warned about at most this often.
constexpr absl::Duration kClockWarningInterval = absl::Seconds(30);

}  // namespace

void Node::GossipLoop() {
  std::mt19937_64 rng(std::random_device{}());
  const uint64_t self = node_id();
  for (int round = 0;; ++round) {
    // Versions and expiries of this node's infos come from its HLC: never below a
    // version it already issued in this life (the HLC only moves forward, also when
    // the wall clock steps back), and above what it heard from others. An older life's
    // higher versions are refuted by the store (GossipStore::Merge).
    const int64_t now = hlc_->Now().wall_ns;
    if (round % 10 == 0) {
      nodepb::NodeDescriptor me;
      me.set_node_id(self);
      me.set_address(options_.listen_addr);
      me.set_http_address(options_.http_addr);
      me.set_started_unix_ns(started_unix_ns_);
      me.set_incarnation(incarnation_);
      (void)gossip_->AddLocal(absl::StrCat("node:", self), me.SerializeAsString(), now,
                              kNodeDescriptorTtlNs);
    }
    (void)gossip_->AddLocal(absl::StrCat("liveness:", self), absl::StrCat(now), now,
                            kLivenessTtlNs);
    if (std::shared_ptr<ranges::Replica> r = store_->GetReplica(1);
        r != nullptr && r->IsLeaseholder()) {
      (void)gossip_->AddLocal("first-range", r->Descriptor().SerializeAsString(), now,
                              kFirstRangeTtlNs);
    }
    // One random peer per round: infos spread in O(log n) rounds.
    std::vector<std::pair<uint64_t, std::string>> peers;
    for (const auto& [id, addr] : dialer_->Addresses()) {
      if (id != self) peers.emplace_back(id, addr);
    }
    if (!peers.empty()) {
      const auto& [peer_id, addr] = peers[rng() % peers.size()];
      if (faults_ == nullptr || !faults_->DropOutbound(peer_id)) {
        auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
        grpc::ClientContext ctx;
        ctx.set_deadline(GrpcDeadlineIn(absl::Seconds(2)));
        nodepb::GossipRequest req;
        req.mutable_sender()->set_node_id(self);
        req.mutable_sender()->set_address(options_.listen_addr);
        req.set_cluster_id(cluster_id());
        for (nodepb::GossipInfo& info : gossip_->Infos(now)) *req.add_infos() = std::move(info);
        nodepb::GossipResponse resp;
        if (stub->Gossip(&ctx, req, &resp).ok() &&
            (faults_ == nullptr || !faults_->DropInbound(peer_id))) {
          std::vector<nodepb::GossipInfo> infos(resp.infos().begin(), resp.infos().end());
          (void)gossip_->Merge(infos, absl::ToUnixNanos(options_.time->Now()));
        }
      }
    }
    const absl::Duration jitter = absl::Milliseconds(static_cast<int64_t>(rng() % 200));
    if (!SleepUnlessStopping(kGossipInterval - absl::Milliseconds(100) + jitter)) return;
  }
}

void Node::SqlSweepLoop() {
  // The first sweep soon after start (what a session that died left), then every
  // few minutes, jittered so that nodes started together do not sweep together.
  std::mt19937_64 rng(std::random_device{}());
  auto jitter = [&rng](absl::Duration up_to) {
    return absl::Milliseconds(rng() % (absl::ToInt64Milliseconds(up_to) + 1));
  };
  const absl::Duration interval = options_.sql_sweep_interval;
  const absl::Duration first = std::min(interval, absl::Seconds(10));
  absl::Duration wait = first + jitter(first);
  const std::function<absl::Status()> check_stop = [this]() -> absl::Status {
    if (stopping_.HasBeenNotified()) return absl::CancelledError("the node is stopping");
    return absl::OkStatus();
  };
  while (SleepUnlessStopping(wait)) {
    // Builds first: one that cannot finish leaves a drop record, cleared below.
    ResumeAbandonedIndexBuilds(check_stop);
    ClearDroppedSpans(check_stop);
    wait = interval + jitter(interval / 5);
  }
}

void Node::ResumeAbandonedIndexBuilds(const std::function<absl::Status()>& check_stop) {
  HybridLogicalClock* clock = hlc_.get();
  const sql::IndexBuilder builder =
      sql::NewIndexBuilder(node_id(), [clock] { return clock->Now().wall_ns / 1000; });
  absl::StatusOr<sql::ResumedIndexBuilds> resumed = sql::ResumeAbandonedIndexBuilds(
      local_sender(), txn::TxnOptions{}, builder, options_.max_offset, check_stop,
      [](uint64_t table_id, uint32_t index_id, uint64_t from_node) {
        spdlog::info(
            "sql: took over the build of index {} of table {} from node {} (its session "
            "stopped or went silent): finishing it here",
            index_id, table_id, from_node);
      });
  if (!resumed.ok() && stopping_.HasBeenNotified()) {
    spdlog::info("sql: the node stops: index builds left to the next sweep");
    return;
  }
  if (!resumed.ok()) {
    spdlog::warn("sql: resuming index builds of sessions that died: {} (the next sweep goes on)",
                 resumed.status().ToString());
    return;
  }
  if (resumed->published > 0 || resumed->abandoned > 0 || resumed->cleaned > 0) {
    spdlog::info(
        "sql: index builds of sessions that died: {} finished and published, {} removed "
        "(they could not be built), {} leftover records deleted",
        resumed->published, resumed->abandoned, resumed->cleaned);
  }
  for (const auto& [record, why] : resumed->failed) {
    spdlog::warn("sql: resuming the index build of record {}: {} (the next sweep tries again)",
                 absl::CHexEscape(record), why.ToString());
  }
}

void Node::ClearDroppedSpans(const std::function<absl::Status()>& check_stop) {
  absl::StatusOr<sql::ClearedSpans> cleared =
      sql::ClearDroppedSpans(local_sender(), txn::TxnOptions{}, check_stop);
  if (!cleared.ok()) {
    spdlog::warn("sql: clearing dropped tables and indexes: {} (the next sweep goes on)",
                 cleared.status().ToString());
    return;
  }
  if (cleared->records > 0) {
    spdlog::info("sql: cleared {} dropped tables or indexes left by sessions ({} keys)",
                 cleared->records, cleared->keys);
  }
  for (const auto& [record, why] : cleared->failed) {
    spdlog::warn("sql: clearing the dropped keys of record {}: {} (the next sweep tries again)",
                 absl::CHexEscape(record), why.ToString());
  }
}

void Node::PingLoop() {
  const uint64_t self = node_id();
  std::map<uint64_t, PeerState> last_state;
  for (;;) {
    std::vector<std::pair<uint64_t, std::future<bool>>> pings;
    for (const auto& [id, addr] : dialer_->Addresses()) {
      if (id == self) continue;
      if (faults_ != nullptr && faults_->DropOutbound(id)) continue;
      pings.emplace_back(id, std::async(std::launch::async, [this, self, id = id, addr = addr] {
                           pthread_setname_np(pthread_self(), "ping");
                           auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
                           grpc::ClientContext ctx;
                           ctx.set_deadline(GrpcDeadlineIn(kPingTimeout));
                           nodepb::PingRequest req;
                           req.set_from_node_id(self);
                           TimestampToProto(hlc_->Now(), req.mutable_now());
                           nodepb::PingResponse resp;
                           const int64_t sent_ns = hlc_->PhysicalNow();
                           const bool answered = stub->Ping(&ctx, req, &resp).ok() &&
                                                 (faults_ == nullptr || !faults_->DropInbound(id));
                           // A node that answers with id 0 is the one at that address before it has
                           // its identity (it is joining): its clock counts, its liveness does not
                           // yet.
                           const bool same_node = resp.node_id() == id || resp.node_id() == 0;
                           if (answered && same_node && resp.physical_now_ns() != 0) {
                             clock_monitor_->Record(id, sent_ns, hlc_->PhysicalNow(),
                                                    resp.physical_now_ns());
                           }
                           return answered && resp.node_id() == id;
                         }));
    }
    for (auto& [id, f] : pings) {
      if (f.get()) detector_->Heartbeat(id, options_.time->MonotonicNanos());
    }
    CheckClock();
    for (const auto& [id, addr] : dialer_->Addresses()) {
      if (id == self) continue;
      const PeerState state = PeerStateOf(id);
      PeerState& prev = last_state[id];
      if (state != prev) {
        spdlog::info("node: node {} is now {}", id, PeerStateName(state));
        // Waking a quiescent range costs little: do it as soon as the leader is suspect.
        if (state == PeerState::kDead || state == PeerState::kSuspect) store_->OnNodeDead(id);
        prev = state;
      }
    }
    if (!SleepUnlessStopping(kPingInterval)) return;
  }
}

void Node::CheckClock() {
  // The whole cluster, this node included, not just the peers that answered; node
  // ids replaced by a new node at their address are no longer members.
  const int cluster_size = FenceMembers(dialer_->Addresses());
  const ClockAssessment a = clock_monitor_->Assess(hlc_->PhysicalNow(), cluster_size);
  if (a.fence) {
    FenceForClock(a.message);
    return;
  }
  if (clock_fenced_.load()) {
    if (a.clear) {
      LiftClockFence();
    } else {
      // Still fenced: any leadership this node holds (one the fence's drain could
      // not move in time, or that arrived since) is handed over; one pass, no wait.
      (void)store_->DrainLeases(options_.time->Now());
    }
    return;
  }
  if (a.far.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    if (options_.time->Now() - last_clock_warning_ < kClockWarningInterval) return;
    last_clock_warning_ = options_.time->Now();
  }
  spdlog::warn("node: {}", a.message);
}

PeerState Node::PeerStateOf(uint64_t node_id) const {
  if (node_id == this->node_id()) return PeerState::kLive;
  const int64_t now = options_.time->MonotonicNanos();  // the detector's clock
  const PeerState state = detector_->State(node_id, now);
  // A peer never heard from since this node started is as good as dead after a while.
  if (state == PeerState::kUnknown && now - started_mono_ns_ > kNeverHeardDeadNs) {
    return PeerState::kDead;
  }
  return state;
}

}  // namespace rangedb
