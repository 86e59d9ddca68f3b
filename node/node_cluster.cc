// Node: cluster life cycle — init, bootstrap, join (docs/node.md).
#include <algorithm>
#include <future>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "proto/node.grpc.pb.h"
#include "ranges/bootstrap.h"
#include "ranges/range_keys.h"
#include "spdlog/spdlog.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

constexpr size_t kMaxKnockingNodes = 100;

std::string NewClusterId() {
  std::mt19937_64 rng(std::random_device{}());
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return absl::BytesToHexString(bytes);
}

}  // namespace

absl::StatusOr<nodepb::InitResponse> Node::InitCluster(const nodepb::InitRequest& request) {
  std::vector<std::string> candidates;
  {
    absl::MutexLock lock(&mu_);
    if (identity_.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cluster already initialized (cluster ", identity_->cluster_id(),
                       ", this is node ", identity_->node_id(), "); init is needed only once"));
    }
    if (initializing_) return absl::FailedPreconditionError("init is already in progress");
    initializing_ = true;
    candidates = knocking_;
  }
  struct Reset {
    Node* n;
    ~Reset() {
      absl::MutexLock lock(&n->mu_);
      n->initializing_ = false;
    }
  } reset{this};
  candidates.insert(candidates.end(), options_.join.begin(), options_.join.end());
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  candidates.erase(std::remove(candidates.begin(), candidates.end(), options_.listen_addr),
                   candidates.end());

  // Every other node must answer and must not belong to a cluster yet.
  // A node started together with this one may not listen yet: give each a few
  // seconds (with retries) before leaving it out.
  std::vector<std::string> members = {options_.listen_addr};
  for (const std::string& addr : candidates) {
    auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
    nodepb::PingRequest ping;
    nodepb::PingResponse pong;
    grpc::Status st;
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(ToChronoDeadline(absl::Now() + absl::Seconds(1)));
      ctx.set_wait_for_ready(true);
      st = stub->Ping(&ctx, ping, &pong);
    } while (!st.ok() && absl::Now() < give_up);
    if (!st.ok()) {
      spdlog::warn("init: {} did not answer ({}); it is left out and can join later", addr,
                   st.error_message());
      continue;
    }
    if (!pong.cluster_id().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("node at ", addr, " already belongs to cluster ", pong.cluster_id(),
                       "; a new cluster must start from nodes without data"));
    }
    members.push_back(addr);
  }
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < members.size(); ++i) ids.push_back(i + 1);
  std::vector<std::string> splits(request.split_keys().begin(), request.split_keys().end());
  absl::StatusOr<std::vector<kvpb::RangeDescriptor>> plan = ranges::PlanInitialRanges(ids, splits);
  if (!plan.ok()) return plan.status();

  nodepb::BootstrapRequest base;
  base.set_cluster_id(NewClusterId());
  for (size_t i = 0; i < members.size(); ++i) {
    nodepb::NodeDescriptor* d = base.add_nodes();
    d->set_node_id(ids[i]);
    d->set_address(members[i]);
  }
  for (const kvpb::RangeDescriptor& d : *plan) *base.add_ranges() = d;
  TimestampToProto(hlc_->Now(), base.mutable_now());
  spdlog::info("init: bootstrapping cluster {} with {} nodes and {} ranges", base.cluster_id(),
               members.size(), plan->size());

  // The others first: if one of them fails, this node stays uninitialized and init can
  // be retried (Bootstrap is idempotent on the nodes that did take it).
  std::vector<std::future<absl::Status>> sent;
  for (size_t i = 1; i < members.size(); ++i) {
    nodepb::BootstrapRequest req = base;
    req.set_node_id(ids[i]);
    sent.push_back(std::async(std::launch::async, [this, req, addr = members[i]]() {
      absl::Status last;
      for (int attempt = 0; attempt < 3; ++attempt) {
        auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
        grpc::ClientContext ctx;
        ctx.set_deadline(ToChronoDeadline(absl::Now() + absl::Seconds(5)));
        nodepb::BootstrapResponse resp;
        grpc::Status st = stub->Bootstrap(&ctx, req, &resp);
        if (st.ok()) return absl::OkStatus();
        last =
            absl::UnavailableError(absl::StrCat("bootstrap of ", addr, ": ", st.error_message()));
        if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) break;
        absl::SleepFor(absl::Milliseconds(200));
      }
      return last;
    }));
  }
  std::vector<std::string> failures;
  for (auto& f : sent) {
    if (absl::Status s = f.get(); !s.ok()) failures.push_back(std::string(s.message()));
  }
  if (!failures.empty()) {
    return absl::UnavailableError(absl::StrCat("init failed: ", absl::StrJoin(failures, "; "),
                                               ". Fix the node and run init again."));
  }
  nodepb::BootstrapRequest mine = base;
  mine.set_node_id(ids[0]);
  if (absl::Status s = Bootstrap(mine); !s.ok()) return s;

  nodepb::InitResponse resp;
  resp.set_cluster_id(base.cluster_id());
  *resp.mutable_nodes() = base.nodes();
  *resp.mutable_ranges() = base.ranges();
  return resp;
}

absl::Status Node::Bootstrap(const nodepb::BootstrapRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    if (identity_.has_value()) {
      if (identity_->cluster_id() == request.cluster_id() &&
          identity_->node_id() == request.node_id()) {
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(absl::StrCat("this node is already node ",
                                                        identity_->node_id(), " of cluster ",
                                                        identity_->cluster_id()));
    }
    if (request.cluster_id().empty() || request.node_id() == 0) {
      return absl::InvalidArgumentError("bootstrap needs a cluster id and a node id");
    }
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    ranges::WriteLocalProto(*batch, ranges::StoreIdentKey(), request);
    std::vector<kvpb::RangeDescriptor> plan(request.ranges().begin(), request.ranges().end());
    absl::Status s =
        ranges::WriteInitialReplicas(engine_.get(), batch.get(), request.node_id(), plan,
                                     request.nodes_size(), TimestampFromProto(request.now()));
    if (!s.ok()) return s;
    if (s = batch->Commit(/*sync=*/true); !s.ok()) return s;
    identity_ = request;
  }
  spdlog::info("node: joined cluster {} as node {}", request.cluster_id(), request.node_id());
  return StartStore();
}

absl::StatusOr<nodepb::JoinResponse> Node::HandleJoin(const nodepb::JoinRequest& request) {
  nodepb::BootstrapRequest ident;
  {
    absl::MutexLock lock(&mu_);
    if (!identity_.has_value()) {
      if (knocking_.size() < kMaxKnockingNodes &&
          std::find(knocking_.begin(), knocking_.end(), request.address()) == knocking_.end()) {
        knocking_.push_back(request.address());
      }
      return absl::FailedPreconditionError("this node has not joined a cluster yet");
    }
    ident = *identity_;
  }
  nodepb::JoinResponse resp;
  nodepb::BootstrapRequest* b = resp.mutable_bootstrap();
  *b = ident;
  for (const nodepb::NodeDescriptor& n : ident.nodes()) {
    if (n.address() == request.address()) {
      // Part of the initial plan: the same identity init gave (or tried to give) it.
      b->set_node_id(n.node_id());
      return resp;
    }
  }
  if (!serving_.load()) return absl::UnavailableError("this node is still starting");
  // A new node: the next id from the system range's generator.
  kvpb::BatchRequest inc;
  inc.add_requests()->mutable_increment()->set_key(ranges::NodeIdGeneratorKey());
  inc.mutable_requests(0)->mutable_increment()->set_delta(1);
  kvpb::BatchResponse r = gateway_->Send(inc, absl::Now() + absl::Seconds(5));
  if (r.has_error()) {
    return absl::UnavailableError(absl::StrCat("allocating a node id: ", r.error().message()));
  }
  b->set_node_id(static_cast<uint64_t>(r.responses(0).increment().new_value()));
  spdlog::info("node: {} joins the cluster as node {}", request.address(), b->node_id());
  return resp;
}

void Node::JoinLoop() {
  std::mt19937_64 rng(std::random_device{}());
  while (SleepUnlessStopping(absl::Milliseconds(500 + rng() % 500))) {
    {
      absl::MutexLock lock(&mu_);
      if (identity_.has_value()) return;
    }
    for (const std::string& addr : options_.join) {
      if (addr == options_.listen_addr) continue;
      auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
      grpc::ClientContext ctx;
      ctx.set_deadline(ToChronoDeadline(absl::Now() + absl::Seconds(2)));
      nodepb::JoinRequest req;
      req.set_address(options_.listen_addr);
      req.set_http_address(options_.http_addr);
      nodepb::JoinResponse resp;
      if (!stub->Join(&ctx, req, &resp).ok()) continue;
      if (absl::Status s = Bootstrap(resp.bootstrap()); !s.ok()) {
        spdlog::error("node: joining through {}: {}", addr, s.ToString());
        continue;
      }
      return;
    }
  }
}

}  // namespace rangedb
