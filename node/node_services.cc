#include "node/node_services.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "node/sql_service.h"
#include "proto/kv.grpc.pb.h"
#include "proto/node.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

// Calls without a deadline get this one: nothing waits forever.
constexpr absl::Duration kDefaultDeadline = absl::Seconds(10);

// The caller's deadline on the node's clock (node/grpc_deadline.h), capped.
absl::Time DeadlineOf(TimeSource* time, const grpc::ServerContext* ctx) {
  const auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return time->Now() + kDefaultDeadline;
  return std::min(FromGrpcDeadline(time, d), time->Now() + absl::Minutes(5));
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

class KvService final : public kvpb::KV::Service {
 public:
  explicit KvService(Node* node) : node_(node) {
    latency_ = node->metrics()->AddHistogram("rangedb_kv_batch_seconds",
                                             "Latency of KV.Batch RPCs served by this node",
                                             kDefaultLatencyBoundsSeconds);
  }
  grpc::Status Batch(grpc::ServerContext* ctx, const kvpb::BatchRequest* req,
                     kvpb::BatchResponse* resp) override {
    ScopedLatency timer(latency_);
    *resp = node_->HandleBatch(*req, DeadlineOf(node_->options().time, ctx));
    return grpc::Status::OK;
  }

 private:
  Node* node_;
  Histogram* latency_;
};

class InternalService final : public nodepb::Internal::Service {
 public:
  explicit InternalService(Node* node) : node_(node) {}

  grpc::Status RaftMessages(grpc::ServerContext* ctx,
                            grpc::ServerReaderWriter<rangespb::RaftMessageBatchResponse,
                                                     rangespb::RaftMessageBatch>* stream) override {
    RaftTransport* t = node_->transport();
    if (t == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node not initialized");
    return t->ServeRaftMessages(ctx, stream);
  }

  grpc::Status RaftSnapshot(grpc::ServerContext* ctx,
                            grpc::ServerReader<rangespb::SnapshotChunk>* reader,
                            rangespb::SnapshotResponse* resp) override {
    RaftTransport* t = node_->transport();
    if (t == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node not initialized");
    return t->ServeSnapshot(ctx, reader, resp);
  }

  grpc::Status Gossip(grpc::ServerContext*, const nodepb::GossipRequest* req,
                      nodepb::GossipResponse* resp) override {
    if (Dropped(req->sender().node_id())) return Partitioned();
    GossipStore* g = node_->gossip();
    if (g == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "node not initialized");
    if (req->cluster_id() != node_->cluster_id()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("gossip from cluster ", req->cluster_id(),
                                       ", but this node belongs to ", node_->cluster_id()));
    }
    const int64_t now = absl::ToUnixNanos(node_->options().time->Now());
    std::vector<nodepb::GossipInfo> infos(req->infos().begin(), req->infos().end());
    GossipMergeResult merged = g->Merge(infos, now);
    if (merged.rejected > 0) {
      spdlog::warn("gossip: rejected {} infos from node {}: {}", merged.rejected,
                   req->sender().node_id(), merged.status.ToString());
    }
    for (nodepb::GossipInfo& info : g->Infos(now)) *resp->add_infos() = std::move(info);
    resp->mutable_receiver()->set_node_id(node_->node_id());
    return grpc::Status::OK;
  }

  grpc::Status Ping(grpc::ServerContext*, const nodepb::PingRequest* req,
                    nodepb::PingResponse* resp) override {
    if (Dropped(req->from_node_id())) return Partitioned();
    resp->set_node_id(node_->node_id());
    resp->set_cluster_id(node_->cluster_id());
    TimestampToProto(node_->clock()->Now(), resp->mutable_now());
    resp->set_physical_now_ns(node_->clock()->PhysicalNow());
    resp->set_store_id(node_->store_id());
    resp->set_incarnation(node_->incarnation());
    if (req->locate_node_id() != 0) {
      resp->set_located_address(node_->AddressOfNode(req->locate_node_id()));
    }
    return grpc::Status::OK;
  }

  grpc::Status ClaimForInit(grpc::ServerContext*, const nodepb::InitClaimRequest* req,
                            nodepb::InitClaimResponse* resp) override {
    if (req->cluster_id().empty() || req->initiator_address().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "an init claim needs a cluster id and the initiator's address");
    }
    if (node_->faults() != nullptr && node_->faults()->RefuseClaim()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "init claim refused (testing fault)");
    }
    *resp = node_->HandleInitClaim(*req);
    return grpc::Status::OK;
  }

  grpc::Status Bootstrap(grpc::ServerContext*, const nodepb::BootstrapRequest* req,
                         nodepb::BootstrapResponse*) override {
    if (node_->faults() != nullptr && node_->faults()->RefuseBootstrap()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "bootstrap refused (testing fault)");
    }
    return ToGrpc(node_->Bootstrap(*req));
  }

  grpc::Status Join(grpc::ServerContext*, const nodepb::JoinRequest* req,
                    nodepb::JoinResponse* resp) override {
    absl::StatusOr<nodepb::JoinResponse> r = node_->HandleJoin(*req);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

 private:
  bool Dropped(uint64_t from) const {
    return from != 0 && node_->faults() != nullptr && node_->faults()->DropInbound(from);
  }
  static grpc::Status Partitioned() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "dropped by a testing partition");
  }
  Node* node_;
};

class AdminService final : public nodepb::Admin::Service {
 public:
  explicit AdminService(Node* node) : node_(node) {}

  grpc::Status Init(grpc::ServerContext*, const nodepb::InitRequest* req,
                    nodepb::InitResponse* resp) override {
    absl::StatusOr<nodepb::InitResponse> r = node_->InitCluster(*req);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status NodeStatus(grpc::ServerContext*, const nodepb::NodeStatusRequest* req,
                          nodepb::NodeStatusResponse* resp) override {
    *resp = node_->Status(req->local_only());
    return grpc::Status::OK;
  }

  grpc::Status Drain(grpc::ServerContext* ctx, const nodepb::DrainRequest*,
                     nodepb::DrainResponse*) override {
    TimeSource* const time = node_->options().time;
    node_->Drain(std::min(absl::Seconds(30), DeadlineOf(time, ctx) - time->Now()));
    return grpc::Status::OK;
  }

 private:
  Node* node_;
};

class TestingService final : public nodepb::Testing::Service {
 public:
  explicit TestingService(Node* node) : node_(node) {}
  grpc::Status SetPartition(grpc::ServerContext*, const nodepb::SetPartitionRequest* req,
                            nodepb::SetPartitionResponse*) override {
    std::set<uint64_t> in(req->drop_inbound_from().begin(), req->drop_inbound_from().end());
    std::set<uint64_t> out(req->drop_outbound_to().begin(), req->drop_outbound_to().end());
    spdlog::warn("node: TESTING: partition: drop inbound from {} nodes, outbound to {} nodes",
                 in.size(), out.size());
    node_->faults()->Set(std::move(in), std::move(out));
    return grpc::Status::OK;
  }
  grpc::Status SetClockOffset(grpc::ServerContext*, const nodepb::SetClockOffsetRequest* req,
                              nodepb::SetClockOffsetResponse*) override {
    spdlog::warn("node: TESTING: physical clock offset set to {} ms", req->offset_ms());
    node_->testing_clock()->SetOffset(req->offset_ms() * 1'000'000);
    return grpc::Status::OK;
  }
  grpc::Status RefuseBootstraps(grpc::ServerContext*, const nodepb::RefuseBootstrapsRequest* req,
                                nodepb::RefuseBootstrapsResponse*) override {
    spdlog::warn("node: TESTING: refusing the next {} Bootstrap RPCs", req->count());
    node_->faults()->RefuseBootstraps(req->count());
    return grpc::Status::OK;
  }

 private:
  Node* node_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeNodeServices(Node* node) {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<KvService>(node));
  services.push_back(std::make_unique<InternalService>(node));
  services.push_back(std::make_unique<AdminService>(node));
  services.push_back(MakeSqlService(node));
  if (node->faults() != nullptr) services.push_back(std::make_unique<TestingService>(node));
  return services;
}

}  // namespace rangedb
