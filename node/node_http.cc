// Node: status — HTTP endpoints (/health, /metrics, /status), metrics, NodeStatus.
#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "proto/node.grpc.pb.h"
#include "ranges/engine_state.h"

namespace rangedb {
namespace {

double ProcessThreads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stod(line.substr(8));
  }
  return 0;
}

double DirectoryBytes(const std::string& path) {
  std::error_code ec;
  double total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<double>(it->file_size(ec));
  }
  return total;
}

}  // namespace

void Node::RegisterHttpHandlers() {
  http_.Handle("/health", [this](const HttpRequest& req) {
    HttpResponse resp;
    if (req.query.count("ready") && req.query.at("ready") != "0") {
      const bool ready = Ready();
      resp.status_code = ready ? 200 : 503;
      const std::string fenced = ClockFenceReason();
      if (!fenced.empty()) {
        resp.status_code = 503;
        resp.body = absl::StrCat("not ready: ", fenced, "\n");
        return resp;
      }
      resp.body = ready ? "ready\n"
                        : (serving_.load() ? "not ready: ranges without a leader, or draining\n"
                                           : "not ready: not part of a cluster yet\n");
      return resp;
    }
    resp.body = "ok\n";
    return resp;
  });
  http_.Handle("/metrics", [this](const HttpRequest&) {
    HttpResponse resp;
    resp.content_type = std::string(MetricsRegistry::kContentType);
    resp.body = metrics_.Exposition();
    return resp;
  });
  http_.Handle("/status", [this](const HttpRequest&) {
    HttpResponse resp;
    resp.body = Status(/*local_only=*/true).DebugString();
    return resp;
  });
}

void Node::RegisterMetrics() {
  ranges::Store* store = store_.get();
  const ranges::StoreMetrics& sm = store->metrics();
  auto counter_gauge = [this](std::string_view name, std::string_view help,
                              const std::atomic<uint64_t>* v) {
    metrics_.AddCallbackGauge(name, help, {}, [v] { return static_cast<double>(v->load()); });
  };
  counter_gauge("rangedb_raft_scheduler_passes_total", "Scheduler passes", &sm.passes);
  counter_gauge("rangedb_raft_synced_commits_total",
                "Synced group commits of Raft state (one per pass with new entries)",
                &sm.synced_commits);
  counter_gauge("rangedb_raft_readies_total", "Raft Readies handled", &sm.readies);
  counter_gauge("rangedb_raft_messages_received_total", "Raft messages received",
                &sm.raft_messages_received);
  counter_gauge("rangedb_raft_messages_dropped_total", "Raft messages dropped on receipt",
                &sm.raft_messages_dropped);
  counter_gauge("rangedb_proposals_total", "Commands proposed to Raft", &sm.proposals);
  counter_gauge("rangedb_commands_applied_total", "Commands applied", &sm.commands_applied);
  counter_gauge("rangedb_commands_rejected_total",
                "Committed commands no replica can apply, applied as no-ops (a proposer bug)",
                &sm.commands_rejected);
  counter_gauge("rangedb_apply_nanos_total", "Time spent applying committed entries (ns)",
                &sm.apply_nanos);
  counter_gauge("rangedb_txn_conflicts_total", "Requests that met other transactions' intents",
                &sm.txn_conflicts);
  counter_gauge("rangedb_txn_pushes_waited_total",
                "PushTxns that waited and answered 'not pushed' (the pusher asks again)",
                &sm.txn_pushes_waited);
  counter_gauge("rangedb_txn_aborted_expired_total",
                "Transactions aborted by a pusher because they stopped heartbeating",
                &sm.txn_aborted_expired);
  counter_gauge("rangedb_txn_aborted_priority_total",
                "Transactions aborted by a higher-priority writer", &sm.txn_aborted_priority);
  counter_gauge("rangedb_txn_deadlocks_broken_total",
                "Waits-for cycles broken by aborting a transaction", &sm.txn_deadlocks_broken);
  counter_gauge("rangedb_gc_versions_removed_total", "MVCC versions removed by GC",
                &sm.gc_versions_removed);
  counter_gauge("rangedb_gc_records_removed_total", "Transaction records removed by GC",
                &sm.gc_records_removed);
  metrics_.AddCallbackGauge("rangedb_raft_inbox_bytes",
                            "Bytes of inbound Raft messages waiting for the scheduler", {},
                            [&sm] { return static_cast<double>(sm.raft_inbox_bytes.load()); });
  metrics_.AddCallbackGauge(
      "rangedb_raft_inbox_control_bytes",
      "Bytes of inbound Raft control messages (votes, heartbeats) waiting for the scheduler", {},
      [&sm] { return static_cast<double>(sm.raft_inbox_control_bytes.load()); });
  counter_gauge("rangedb_proposals_refused_queue_full_total",
                "Proposals refused because their replica's proposal queue was full",
                &sm.proposals_refused_queue_full);
  counter_gauge("rangedb_proposals_too_large_total",
                "Proposals refused as larger than a Raft command may be (docs/limits.md)",
                &sm.proposals_too_large);
  counter_gauge("rangedb_replicas_corrupt",
                "Replicas out of service because their storage is corrupt", &sm.replicas_corrupt);
  const RaftTransportMetrics& tm = transport_->metrics();
  counter_gauge("rangedb_transport_messages_sent_total", "Raft messages sent", &tm.messages_sent);
  counter_gauge("rangedb_transport_batches_sent_total", "Raft message batches sent",
                &tm.batches_sent);
  metrics_.AddCallbackGauge("rangedb_transport_queued_bytes",
                            "Bytes of Raft messages queued for all peers", {},
                            [&tm] { return static_cast<double>(tm.queued_bytes.load()); });
  const ranges::GatewayMetrics& gm = gateway_->metrics();
  counter_gauge("rangedb_gateway_batches_total", "Client batches routed", &gm.batches);
  counter_gauge("rangedb_gateway_retries_total", "Gateway retries", &gm.retries);
  counter_gauge("rangedb_gateway_ambiguous_total", "Writes reported ambiguous", &gm.ambiguous);
  auto count = [store](auto pred) {
    double n = 0;
    for (const auto& r : store->Replicas()) n += pred(r->Status()) ? 1 : 0;
    return n;
  };
  metrics_.AddCallbackGauge("rangedb_replicas", "Replicas on this node", {},
                            [count] { return count([](const auto&) { return true; }); });
  metrics_.AddCallbackGauge("rangedb_leaders", "Replicas that are Raft leaders", {}, [count] {
    return count(
        [](const ranges::ReplicaStatus& s) { return s.leader_replica_id == s.replica_id; });
  });
  metrics_.AddCallbackGauge("rangedb_leaseholders", "Replicas holding a valid lease", {}, [count] {
    return count([](const ranges::ReplicaStatus& s) { return s.lease_valid; });
  });
  metrics_.AddCallbackGauge("rangedb_quiescent_replicas", "Replicas not ticking", {}, [count] {
    return count([](const ranges::ReplicaStatus& s) { return s.quiescent; });
  });
  metrics_.AddCallbackGauge("rangedb_raft_log_entries", "Raft log entries held, all ranges", {},
                            [store] {
                              double n = 0;
                              for (const auto& r : store->Replicas()) {
                                const auto s = r->Status();
                                n += static_cast<double>(s.last_log_index + 1 - s.first_log_index);
                              }
                              return n;
                            });
  metrics_.AddCallbackGauge("rangedb_threads", "Threads of this process", {}, ProcessThreads);
  if (options_.store != "mem") {
    metrics_.AddCallbackGauge("rangedb_store_bytes", "Bytes of the store directory", {},
                              [dir = options_.store] { return DirectoryBytes(dir); });
  }
}

nodepb::NodeStatusResponse Node::Status(bool local_only) {
  nodepb::NodeStatusResponse resp;
  resp.set_cluster_id(cluster_id());
  resp.set_node_id(node_id());
  resp.set_clock_fence_reason(ClockFenceReason());
  if (!serving_.load(std::memory_order_acquire)) return resp;
  TimeSource* const time = options_.time;
  const int64_t now = absl::ToUnixNanos(time->Now());  // gossip and start times: wall
  const int64_t now_mono_ns = time->MonotonicNanos();  // the failure detector's clock
  std::map<uint64_t, nodepb::NodeDescriptor> descs;
  for (const auto& [id, addr] : dialer_->Addresses()) descs[id].set_address(addr);
  for (const nodepb::GossipInfo& info : gossip_->GetPrefix("node:", now)) {
    nodepb::NodeDescriptor d;
    if (d.ParseFromString(info.value()) && d.node_id() != 0) descs[d.node_id()] = d;
  }
  for (auto& [id, d] : descs) {
    nodepb::NodeLiveness* l = resp.add_nodes();
    d.set_node_id(id);
    if (id == node_id()) d.set_started_unix_ns(started_unix_ns_);
    *l->mutable_node() = d;
    const PeerState state = PeerStateOf(id);
    l->set_state(std::string(PeerStateName(state)));
    l->set_phi(id == node_id() ? 0 : detector_->Phi(id, now_mono_ns));
    if (d.started_unix_ns() > 0 && state == PeerState::kLive) {
      l->set_uptime_seconds((now - d.started_unix_ns()) / 1'000'000'000);
    }
    if (std::optional<PeerClock> m = clock_monitor_->Measurement(id, hlc_->PhysicalNow())) {
      l->set_clock_offset_ns(m->offset_ns);
      l->set_clock_offset_error_ns(m->error_ns);
    }
    if (id == node_id()) l->set_stopped_reason(resp.clock_fence_reason());
  }
  for (const auto& r : store_->Replicas()) {
    const ranges::ReplicaStatus s = r->Status();
    nodepb::RangeStatus* rs = resp.add_ranges();
    *rs->mutable_range_descriptor() = s.descriptor;
    rs->set_leader_replica_id(s.leader_replica_id);
    // The holder of the current term's lease (valid now, or lapsed while quiescent).
    if (s.lease_valid || (s.lease.term() == s.term && s.lease.holder().node_id() != 0)) {
      rs->set_leaseholder_node_id(s.lease.holder().node_id());
    }
    rs->set_applied_index(s.applied_index);
    rs->set_commit_index(s.commit_index);
    rs->set_term(s.term);
    rs->set_quiescent(s.quiescent);
    rs->set_reporting_node_id(node_id());
    absl::StatusOr<uint64_t> size =
        ranges::ApproximateReplicatedBytes(*store_->engine(), s.descriptor.range_id(),
                                           s.descriptor.start_key(), s.descriptor.end_key());
    if (size.ok()) rs->set_approximate_size_bytes(*size);
  }
  for (const auto& [range_id, why] : store_->CorruptReplicas()) {
    nodepb::CorruptReplica* c = resp.add_corrupt_replicas();
    c->set_range_id(range_id);
    c->set_node_id(node_id());
    c->set_error(std::string(why.message()));
  }
  if (local_only) return resp;
  // Every range, as its replicas report it: ask every other node for its own view.
  std::vector<std::pair<uint64_t, std::future<std::optional<nodepb::NodeStatusResponse>>>> asks;
  for (const auto& [id, d] : descs) {
    if (id == node_id() || PeerStateOf(id) == PeerState::kDead) continue;
    asks.emplace_back(
        id, std::async(std::launch::async,
                       [this, addr = d.address()]() -> std::optional<nodepb::NodeStatusResponse> {
                         auto stub = nodepb::Admin::NewStub(dialer_->Channel(addr));
                         grpc::ClientContext ctx;
                         ctx.set_deadline(GrpcDeadlineIn(absl::Seconds(2)));
                         nodepb::NodeStatusRequest req;
                         req.set_local_only(true);
                         nodepb::NodeStatusResponse r;
                         if (!stub->NodeStatus(&ctx, req, &r).ok()) return std::nullopt;
                         return r;
                       }));
  }
  // Per range, keep the leaseholder's report, else the most advanced one.
  std::map<uint64_t, nodepb::RangeStatus> ranges;
  auto consider = [&ranges](const nodepb::RangeStatus& rs) {
    auto [it, inserted] = ranges.emplace(rs.range_descriptor().range_id(), rs);
    if (inserted) return;
    const bool better =
        (rs.leaseholder_node_id() != 0 && it->second.leaseholder_node_id() == 0) ||
        (it->second.leaseholder_node_id() == 0 && rs.applied_index() > it->second.applied_index());
    if (better) it->second = rs;
  };
  for (const nodepb::RangeStatus& rs : resp.ranges()) consider(rs);
  std::map<uint64_t, std::string> stopped;  // node id -> why it stopped serving
  for (auto& [id, f] : asks) {
    std::optional<nodepb::NodeStatusResponse> r = f.get();
    if (!r.has_value() || r->node_id() != id) continue;  // another node at that address
    for (const nodepb::RangeStatus& rs : r->ranges()) consider(rs);
    for (const nodepb::CorruptReplica& c : r->corrupt_replicas()) {
      *resp.add_corrupt_replicas() = c;
    }
    stopped[id] = r->clock_fence_reason();
  }
  for (nodepb::NodeLiveness& l : *resp.mutable_nodes()) {
    if (auto it = stopped.find(l.node().node_id()); it != stopped.end()) {
      l.set_stopped_reason(it->second);
    }
  }
  resp.clear_ranges();
  for (auto& [id, rs] : ranges) {
    // This node's view of each replica's node: the dead ones are missing copies.
    rs.clear_dead_replica_node_ids();
    for (const kvpb::ReplicaDescriptor& r : rs.range_descriptor().replicas()) {
      if (PeerStateOf(r.node_id()) == PeerState::kDead) rs.add_dead_replica_node_ids(r.node_id());
    }
    *resp.add_ranges() = std::move(rs);
  }
  return resp;
}

}  // namespace rangedb
