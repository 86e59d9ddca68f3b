// Node: cluster life cycle — bootstrap and join (docs/node.md); init is in
// node_init.cc. docs/design/node-identity.md has the identity rules.
#include <algorithm>
#include <future>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "node/store_identity.h"
#include "proto/node.grpc.pb.h"
#include "ranges/bootstrap.h"
#include "ranges/engine_state.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

constexpr size_t kMaxKnockingNodes = 100;

}  // namespace

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
    if (claim_.has_value() && claim_->expires_mono_ns > options_.time->MonotonicNanos() &&
        claim_->cluster_id != request.cluster_id()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this node is reserved by the init of cluster ", claim_->cluster_id, " (started on ",
          claim_->initiator, "); refusing cluster ", request.cluster_id()));
    }
    // Only the store init bound this node id to may write its replicas: a store that
    // lost its data never takes an old identity (docs/design/node-identity.md).
    if (absl::Status s = CheckBootstrapFor(request, store_id_); !s.ok()) return s;
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    ranges::WriteLocalProto(*batch, keys::StoreIdentKey(), request);
    std::vector<kvpb::RangeDescriptor> plan(request.ranges().begin(), request.ranges().end());
    absl::Status s =
        ranges::WriteInitialReplicas(engine_.get(), batch.get(), request.node_id(), plan,
                                     request.nodes_size(), TimestampFromProto(request.now()));
    if (!s.ok()) return s;
    if (s = batch->Commit(/*sync=*/true); !s.ok()) return s;
    identity_ = request;
    claim_.reset();
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
  uint64_t replaced = 0;
  if (std::optional<uint64_t> planned =
          PlanIdentityFor(ident, request.address(), request.store_id(), &replaced)) {
    // Its own store, never bootstrapped (else it would not ask): the identity init
    // gave (or tried to give) it, so a lost Bootstrap is recovered.
    b->set_node_id(*planned);
    return resp;
  }
  if (!serving_.load()) return absl::UnavailableError("this node is still starting");
  // A new node (or a new store at a planned node's address): the next id from the
  // system range's generator, and no replicas.
  kvpb::BatchRequest inc;
  inc.add_requests()->mutable_increment()->set_key(keys::NodeIdGeneratorKey());
  inc.mutable_requests(0)->mutable_increment()->set_delta(1);
  kvpb::BatchResponse r = gateway_->Send(inc, options_.time->Now() + absl::Seconds(5));
  if (r.has_error()) {
    return absl::UnavailableError(absl::StrCat("allocating a node id: ", r.error().message()));
  }
  b->set_node_id(static_cast<uint64_t>(r.responses(0).increment().new_value()));
  if (replaced != 0) {
    spdlog::warn(
        "node: the node at {} was node {}, but its store {} is not the one init bound to "
        "node {} (its data was lost or replaced): it joins as node {}; node {}'s replicas "
        "are missing until they are replaced",
        request.address(), replaced, request.store_id(), replaced, b->node_id(), replaced);
  } else {
    spdlog::info("node: {} joins the cluster as node {}", request.address(), b->node_id());
  }
  return resp;
}

absl::Status Node::RefuseIfThisNodeRunsElsewhere() {
  constexpr absl::Duration kTwinPingDeadline = absl::Seconds(1);
  nodepb::BootstrapRequest ident;
  {
    absl::MutexLock lock(&mu_);
    ident = *identity_;
  }
  const uint64_t self = ident.node_id();
  // Asks `address`; returns the address of another live process answering as this
  // node of this cluster with another incarnation, if it is one. Fills *located with
  // where the answering node knows this node id to run.
  auto ask = [&](const std::string& address, std::string* located) -> std::optional<std::string> {
    auto stub = nodepb::Internal::NewStub(dialer_->Channel(address));
    grpc::ClientContext ctx;
    ctx.set_deadline(GrpcDeadlineIn(kTwinPingDeadline));
    nodepb::PingRequest req;
    req.set_from_node_id(self);
    req.set_locate_node_id(self);
    nodepb::PingResponse resp;
    if (!stub->Ping(&ctx, req, &resp).ok()) return std::nullopt;
    if (located != nullptr) *located = resp.located_address();
    if (resp.node_id() == self && resp.cluster_id() == ident.cluster_id() &&
        resp.incarnation() != incarnation_) {
      return address;
    }
    return std::nullopt;
  };
  // 1. The other members of the plan and the --join peers, in parallel: one of them
  // may be the original itself, and each says where it knows this node id to run.
  std::set<std::string> peers(options_.join.begin(), options_.join.end());
  std::string planned_here;
  for (const nodepb::NodeDescriptor& n : ident.nodes()) {
    peers.insert(n.address());
    if (n.node_id() == self) planned_here = n.address();
  }
  peers.erase(options_.listen_addr);
  std::vector<std::pair<std::string, std::future<std::optional<std::string>>>> asked;
  std::vector<std::string> located(peers.size());
  size_t i = 0;
  for (const std::string& addr : peers) {
    asked.emplace_back(addr, std::async(std::launch::async, ask, addr, &located[i++]));
  }
  std::optional<std::string> twin;
  for (auto& [addr, f] : asked) {
    if (std::optional<std::string> t = f.get(); t.has_value() && !twin.has_value()) twin = t;
  }
  // 2. Where the peers (and the plan) place this node id, if that is not asked yet.
  std::set<std::string> suspects(located.begin(), located.end());
  suspects.insert(planned_here);
  for (const std::string& addr : suspects) {
    if (twin.has_value()) break;
    if (addr.empty() || addr == options_.listen_addr || peers.contains(addr)) continue;
    twin = ask(addr, nullptr);
  }
  if (!twin.has_value()) return absl::OkStatus();
  const std::string why = absl::StrCat(
      "node ", self, " of cluster ", ident.cluster_id(), " is already running at ", *twin,
      " (another process); this store (", engine_->Path(), ", store id ", store_id_,
      ") is a copy of that node's store: a copied directory or a restored backup or VM "
      "image. Two processes with one node id would vote twice as the same replicas and "
      "lose writes, so this one does not serve. To add this machine, start it with an "
      "empty store: it joins as a new node");
  spdlog::error("node: REFUSING TO START: {}", why);
  return absl::FailedPreconditionError(why);
}

void Node::JoinLoop() {
  std::mt19937_64 rng(std::random_device{}());
  while (SleepUnlessStopping(absl::Milliseconds(500 + rng() % 500))) {
    std::vector<std::string> targets;
    {
      absl::MutexLock lock(&mu_);
      if (identity_.has_value()) return;
      // The init that claimed this node first: it hands over a lost Bootstrap.
      if (claim_.has_value()) targets.push_back(claim_->initiator);
    }
    targets.insert(targets.end(), options_.join.begin(), options_.join.end());
    for (const std::string& addr : targets) {
      if (addr == options_.listen_addr) continue;
      auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
      grpc::ClientContext ctx;
      ctx.set_deadline(GrpcDeadlineIn(absl::Seconds(2)));
      nodepb::JoinRequest req;
      req.set_address(options_.listen_addr);
      req.set_http_address(options_.http_addr);
      req.set_store_id(store_id_);
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
