// Node: `rangedb init` — claims, the commit point, and completing an existing cluster
// (docs/node.md "Cluster life cycle", docs/design/node-identity.md).
#include <algorithm>
#include <future>
#include <map>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"
#include "node/store_identity.h"
#include "proto/node.grpc.pb.h"
#include "ranges/bootstrap.h"
#include "spdlog/spdlog.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

// A claim lapses after this unless the init commits (then Bootstrap clears it).
constexpr absl::Duration kClaimTtl = absl::Seconds(60);
// The initiator commits only while at least this much of its claims is left.
constexpr absl::Duration kCommitMargin = absl::Seconds(20);
constexpr absl::Duration kPingGiveUp = absl::Seconds(5);
constexpr absl::Duration kClaimDeadline = absl::Seconds(2);
constexpr absl::Duration kBootstrapDeadline = absl::Seconds(5);
constexpr int kBootstrapAttempts = 3;

std::string NewClusterId() {
  std::random_device device;
  std::mt19937_64 rng((uint64_t{device()} << 32) ^ device());
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return absl::BytesToHexString(bytes);
}

// Jittered exponential backoff: ~base * 2^attempt, in [0.5, 1.5) of it.
absl::Duration InitRetryDelay(int attempt) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t ms = int64_t{100} << std::min(attempt, 5);
  return absl::Milliseconds(ms / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(ms)));
}

// Init's count of nodes (review findings N3, F3): this node and the --join peers that
// answered, against this node and its whole --join list.
struct JoinPeerCount {
  size_t reached = 0;                // distinct stores: this node and the peers that answered
  size_t total = 0;                  // reached + missing
  std::vector<std::string> missing;  // --join addresses that did not answer
  bool IsMajority() const { return reached >= total / 2 + 1; }
};

// Counts the nodes of this node's --join list that answered, by store id. Both of
// init's checks use it: the pings (`answered_store_ids` = who answered the ping) and,
// before the commit point, the claims (= who granted its claim).
//
// A member is a store, not an address (review finding F3): this node's own address
// under another name (localhost for 127.0.0.1), or a peer listed under two names,
// answers with the same store id. Counted once per address, an alias let an isolated
// node count itself twice and find a "majority" on its side of a partition. So the
// reached members are the distinct store ids that answered, this node's included
// once. A silent address counts as one more node: its identity is unknown, and if it
// is really an alias of a reached node, counting it only makes the majority harder to
// reach, never easier. Without --join the count is 1 of 1: a single-node cluster,
// which the operator asked for by starting the node alone.
JoinPeerCount CountJoinPeers(const NodeOptions& options, const std::string& self_store_id,
                             const std::map<std::string, std::string>& answered_store_ids) {
  std::vector<std::string> configured = options.join;
  std::sort(configured.begin(), configured.end());
  configured.erase(std::unique(configured.begin(), configured.end()), configured.end());
  std::erase(configured, options.listen_addr);
  std::set<std::string> reached_stores = {self_store_id};
  JoinPeerCount count;
  for (const std::string& addr : configured) {
    auto it = answered_store_ids.find(addr);
    if (it == answered_store_ids.end()) {
      count.missing.push_back(addr);
    } else {
      // Every node answers with its store id; an empty one (never sent) is keyed by
      // the address so it still counts once.
      reached_stores.insert(it->second.empty() ? "address " + addr : it->second);
    }
  }
  count.reached = reached_stores.size();
  count.total = count.reached + count.missing.size();
  return count;
}

}  // namespace

std::optional<nodepb::PingResponse> Node::PingAddress(const std::string& address,
                                                      absl::Duration give_up_after) {
  auto stub = nodepb::Internal::NewStub(dialer_->Channel(address));
  TimeSource* const time = options_.time;
  const absl::Time give_up = time->Now() + give_up_after;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(ToGrpcDeadline(time, std::min(give_up, time->Now() + absl::Seconds(1))));
    ctx.set_wait_for_ready(true);  // a node started together with us may not listen yet
    nodepb::PingRequest ping;
    nodepb::PingResponse pong;
    if (stub->Ping(&ctx, ping, &pong).ok()) return pong;
    if (time->Now() + InitRetryDelay(attempt) >= give_up || stopping_.HasBeenNotified()) {
      return std::nullopt;
    }
    time->SleepFor(InitRetryDelay(attempt));
  }
}

absl::StatusOr<nodepb::InitClaimResponse> Node::ClaimRemote(const std::string& address,
                                                            const nodepb::InitClaimRequest& req) {
  auto stub = nodepb::Internal::NewStub(dialer_->Channel(address));
  grpc::Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) options_.time->SleepFor(InitRetryDelay(attempt));
    grpc::ClientContext ctx;
    ctx.set_deadline(GrpcDeadlineIn(kClaimDeadline));
    nodepb::InitClaimResponse resp;
    st = stub->ClaimForInit(&ctx, req, &resp);
    if (st.ok()) return resp;
  }
  return absl::UnavailableError(absl::StrCat(address, ": ", st.error_message()));
}

absl::Status Node::SendBootstrap(const std::string& address, const nodepb::BootstrapRequest& req) {
  auto stub = nodepb::Internal::NewStub(dialer_->Channel(address));
  absl::Status last;
  for (int attempt = 0; attempt < kBootstrapAttempts; ++attempt) {
    if (attempt > 0) options_.time->SleepFor(InitRetryDelay(attempt + 1));
    grpc::ClientContext ctx;
    ctx.set_deadline(GrpcDeadlineIn(kBootstrapDeadline));
    nodepb::BootstrapResponse resp;
    grpc::Status st = stub->Bootstrap(&ctx, req, &resp);
    if (st.ok()) return absl::OkStatus();
    last = absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        absl::StrCat("bootstrap of node ", req.node_id(), " at ", address, ": ",
                                     st.error_message()));
    if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) break;
  }
  return last;
}

nodepb::InitClaimResponse Node::HandleInitClaim(const nodepb::InitClaimRequest& request) {
  nodepb::InitClaimResponse resp;
  resp.set_store_id(store_id_);
  absl::MutexLock lock(&mu_);
  if (identity_.has_value()) {
    resp.set_cluster_id(identity_->cluster_id());
    return resp;
  }
  const int64_t now_ns = options_.time->MonotonicNanos();
  if (claim_.has_value() && claim_->expires_mono_ns <= now_ns) claim_.reset();
  if (request.release()) {
    if (claim_.has_value() && claim_->cluster_id == request.cluster_id()) claim_.reset();
    return resp;
  }
  // A live claim of another init wins; a new claim of the same initiator replaces
  // its old one (that init is over: an initiator runs one init at a time).
  if (claim_.has_value() && claim_->cluster_id != request.cluster_id() &&
      claim_->initiator != request.initiator_address()) {
    resp.set_held_by(claim_->initiator);
    return resp;
  }
  const absl::Duration ttl =
      std::clamp(absl::Milliseconds(request.ttl_ms()), absl::Seconds(1), absl::Minutes(2));
  claim_ = InitClaim{request.cluster_id(), request.initiator_address(),
                     now_ns + absl::ToInt64Nanoseconds(ttl)};
  resp.set_granted(true);
  return resp;
}

void Node::ReleaseClaims(const std::string& cluster_id, const std::vector<std::string>& addresses) {
  nodepb::InitClaimRequest release;
  release.set_cluster_id(cluster_id);
  release.set_initiator_address(options_.listen_addr);
  release.set_release(true);
  (void)HandleInitClaim(release);
  std::vector<std::future<void>> sent;
  for (const std::string& addr : addresses) {
    sent.push_back(std::async(std::launch::async, [this, &release, addr] {
      auto stub = nodepb::Internal::NewStub(dialer_->Channel(addr));
      grpc::ClientContext ctx;
      ctx.set_deadline(GrpcDeadlineIn(kClaimDeadline));
      nodepb::InitClaimResponse ignored;
      (void)stub->ClaimForInit(&ctx, release, &ignored);  // best effort: claims lapse anyway
    }));
  }
  for (auto& f : sent) f.get();
}

absl::Status Node::CheckJoinPeersReached(
    const std::map<std::string, std::string>& answered_store_ids) const {
  // This node and the --join peers that answered must be a majority of this node and
  // its --join peers: two inits over one --join set cannot both have a majority, so
  // an isolated node (or one started before the others) cannot make a second cluster.
  const JoinPeerCount count = CountJoinPeers(options_, store_id_, answered_store_ids);
  if (count.IsMajority()) return absl::OkStatus();
  // FailedPrecondition, not Unavailable: this node answered and refuses until the
  // operator starts its peers or fixes the network; `rangedb init` reports Unavailable
  // as "cannot reach <host>", which would send the operator to the wrong node.
  return absl::FailedPreconditionError(absl::StrCat(
      "init reached ", count.reached, " of the ", count.total,
      " nodes of this node and its --join list (addresses that reach the same node count "
      "once; no answer from ",
      absl::StrJoin(count.missing, ", "), " within ", absl::FormatDuration(kPingGiveUp),
      "); a cluster needs a majority of them, or this node, cut off from the others, could "
      "form a second cluster beside theirs. This init changed nothing: start those nodes or "
      "fix the network, then run init again (a single-node cluster is a node started "
      "without --join)"));
}

absl::Status Node::CheckJoinPeersClaimed(
    const std::map<std::string, std::string>& claimed_store_ids,
    const std::map<std::string, std::string>& claim_errors) const {
  // The pings found a majority, but a partition that began after them can leave this
  // node with fewer: a peer that answered the ping and not the claim is left out, and
  // this node, cut off, would commit a cluster of a minority while the others form
  // theirs (review finding, issue 14 HIGH). So the claimed members are counted again,
  // the same way, of the same --join list; only they become members. An address whose
  // claim failed counts as silent even if it pinged as an alias of a claimed node:
  // that can only make the majority harder to reach, never easier.
  const JoinPeerCount count = CountJoinPeers(options_, store_id_, claimed_store_ids);
  if (count.IsMajority()) return absl::OkStatus();
  std::vector<std::string> unclaimed;  // answered the ping, not the claim
  std::vector<std::string> silent;     // did not answer the ping either
  for (const std::string& addr : count.missing) {
    auto it = claim_errors.find(addr);
    if (it == claim_errors.end()) {
      silent.push_back(addr);
    } else {
      unclaimed.push_back(absl::StrCat(addr, " (", it->second, ")"));
    }
  }
  std::vector<std::string> who;
  if (!unclaimed.empty()) {
    who.push_back(absl::StrCat("no answer to its claim from ", absl::StrJoin(unclaimed, ", "),
                               ", which answered its ping"));
  }
  if (!silent.empty()) {
    who.push_back(absl::StrCat("no answer to its ping from ", absl::StrJoin(silent, ", ")));
  }
  // Aborted, not FailedPrecondition: these nodes answered moments ago, the failure may
  // be transient, and the remedy is to run the whole init again (`rangedb init`
  // prints the message as is).
  return absl::AbortedError(absl::StrCat(
      "init claimed ", count.reached, " of the ", count.total,
      " nodes of this node and its --join list (addresses that reach the same node count "
      "once; ",
      absl::StrJoin(who, "; "),
      "); a cluster needs a majority of them, or this node, cut off from the others since its "
      "ping, could form a second cluster beside theirs. This init changed nothing and "
      "released its claims: check the network between this node and those nodes, then run "
      "init again"));
}

absl::StatusOr<nodepb::InitResponse> Node::InitCluster(const nodepb::InitRequest& request) {
  std::vector<std::string> candidates;
  std::optional<nodepb::BootstrapRequest> existing;
  {
    absl::MutexLock lock(&mu_);
    if (identity_.has_value()) {
      existing = *identity_;
    } else {
      if (initializing_) {
        return absl::FailedPreconditionError(
            "`rangedb init` is already running on this node; wait for it to finish");
      }
      initializing_ = true;
      candidates = knocking_;
    }
  }
  if (existing.has_value()) return CompleteInit(request, *existing);
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
  std::erase(candidates, options_.listen_addr);

  // 1. Who answers (in parallel: an unreachable node costs kPingGiveUp once), and
  // with which store: the majority check counts stores, not addresses.
  std::vector<std::future<std::optional<nodepb::PingResponse>>> pings;
  for (const std::string& addr : candidates) {
    pings.push_back(
        std::async(std::launch::async, [this, addr] { return PingAddress(addr, kPingGiveUp); }));
  }
  std::vector<std::string> order = {options_.listen_addr};
  std::vector<std::string> silent;
  std::map<std::string, std::string> answered_store_ids;  // address -> store id
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (std::optional<nodepb::PingResponse> pong = pings[i].get(); pong.has_value()) {
      order.push_back(candidates[i]);
      answered_store_ids[candidates[i]] = pong->store_id();
    } else {
      silent.push_back(candidates[i]);
    }
  }
  if (absl::Status s = CheckJoinPeersReached(answered_store_ids); !s.ok()) {
    spdlog::warn("init: refused, nothing was created: {}", std::string(s.message()));
    return s;
  }
  for (const std::string& addr : silent) {
    spdlog::warn("init: {} did not answer; it is left out and can join later", addr);
  }
  // 2. Claims, in address order (every init uses the same order: see the design note).
  std::sort(order.begin(), order.end());
  const std::string cluster_id = NewClusterId();
  nodepb::InitClaimRequest claim;
  claim.set_cluster_id(cluster_id);
  claim.set_initiator_address(options_.listen_addr);
  claim.set_ttl_ms(absl::ToInt64Milliseconds(kClaimTtl));
  const int64_t claims_start_ns = options_.time->MonotonicNanos();  // monotonic, like the claims
  std::vector<std::pair<std::string, std::string>> claimed;         // (address, store id)
  std::map<std::string, std::string> granted_store_ids;             // address -> store id
  std::map<std::string, std::string> claim_errors;                  // address -> why not
  std::vector<std::string> asked;
  // Addresses that reached a node already claimed under another address (an alias:
  // localhost for 127.0.0.1, a second DNS name). Not members; their claim is that
  // node's own claim, so it is not released either.
  std::vector<std::string> aliases;
  auto abort = [&](absl::Status why) {
    ReleaseClaims(cluster_id, asked);
    spdlog::warn("init: aborted, nothing was created: {}", std::string(why.message()));
    return why;
  };
  for (const std::string& addr : order) {
    nodepb::InitClaimResponse r;
    if (addr == options_.listen_addr) {
      r = HandleInitClaim(claim);
    } else {
      asked.push_back(addr);
      absl::StatusOr<nodepb::InitClaimResponse> got = ClaimRemote(addr, claim);
      if (!got.ok()) {
        spdlog::warn("init: {} did not answer its claim ({})", addr,
                     std::string(got.status().message()));
        claim_errors[addr] = std::string(absl::StripPrefix(got.status().message(), addr + ": "));
        continue;
      }
      r = *std::move(got);
    }
    if (!r.cluster_id().empty()) {
      bool joining = false;  // that cluster's init claimed this node too
      {
        absl::MutexLock lock(&mu_);
        joining = claim_.has_value() && claim_->cluster_id == r.cluster_id();
      }
      return abort(absl::FailedPreconditionError(absl::StrCat(
          "the node at ", addr, " already belongs to cluster ", r.cluster_id(),
          joining ? ", which this node is joining too (another init created it)" : "",
          "; this init changed nothing. A new cluster starts from nodes without data; to "
          "finish that cluster's init, run `rangedb init` against one of its nodes")));
    }
    if (!r.granted()) {
      return abort(absl::AbortedError(absl::StrCat(
          "another `rangedb init` (started on ", r.held_by(), ") holds the node at ", addr,
          "; this init changed nothing. Wait for it: `rangedb init` run again against any "
          "of these nodes then reports the cluster it created")));
    }
    granted_store_ids[addr] = r.store_id();
    // One store is one node, whatever the address it was reached by (finding N5):
    // this node under another name, or a node already claimed.
    if (addr != options_.listen_addr &&
        (r.store_id() == store_id_ ||
         std::any_of(claimed.begin(), claimed.end(),
                     [&](const auto& m) { return m.second == r.store_id(); }))) {
      spdlog::warn(
          "init: {} reaches a node reached by another address too (store {}); it "
          "is one member",
          addr, r.store_id());
      aliases.push_back(addr);
      continue;
    }
    claimed.emplace_back(addr, r.store_id());
  }
  // The majority again, over the nodes actually claimed: a peer that stopped answering
  // since the ping is no member (see CheckJoinPeersClaimed).
  if (absl::Status s = CheckJoinPeersClaimed(granted_store_ids, claim_errors); !s.ok()) {
    return abort(s);
  }
  for (const auto& [addr, why] : claim_errors) {
    spdlog::warn("init: {} is left out (its claim failed: {}); it can join later", addr, why);
  }
  if (options_.time->MonotonicNanos() >
      claims_start_ns + absl::ToInt64Nanoseconds(kClaimTtl - kCommitMargin)) {
    return abort(absl::AbortedError(
        "init took too long to reserve its nodes (their claims may lapse); this init changed "
        "nothing: run it again"));
  }
  // 3. The plan (this node is node 1, the others follow in address order) and the
  // commit point: this node's own Bootstrap.
  std::stable_partition(claimed.begin(), claimed.end(),
                        [this](const auto& m) { return m.first == options_.listen_addr; });
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < claimed.size(); ++i) ids.push_back(i + 1);
  std::vector<std::string> splits(request.split_keys().begin(), request.split_keys().end());
  absl::StatusOr<std::vector<kvpb::RangeDescriptor>> plan = ranges::PlanInitialRanges(ids, splits);
  if (!plan.ok()) return abort(plan.status());
  nodepb::BootstrapRequest base;
  base.set_cluster_id(cluster_id);
  for (size_t i = 0; i < claimed.size(); ++i) {
    nodepb::NodeDescriptor* d = base.add_nodes();
    d->set_node_id(ids[i]);
    d->set_address(claimed[i].first);
    d->set_store_id(claimed[i].second);
  }
  for (const kvpb::RangeDescriptor& d : *plan) *base.add_ranges() = d;
  TimestampToProto(hlc_->Now(), base.mutable_now());
  spdlog::info("init: creating cluster {} with {} nodes and {} ranges", cluster_id, claimed.size(),
               plan->size());
  nodepb::BootstrapRequest mine = base;
  mine.set_node_id(ids[0]);
  if (absl::Status s = Bootstrap(mine); !s.ok()) return abort(s);

  // 4. Roll forward: the others' Bootstraps. One that misses it asks for it (Join).
  std::vector<std::string> left_out;
  for (const std::string& addr : asked) {
    if (std::none_of(claimed.begin(), claimed.end(),
                     [&](const auto& m) { return m.first == addr; }) &&
        std::find(aliases.begin(), aliases.end(), addr) == aliases.end())
      left_out.push_back(addr);
  }
  if (!left_out.empty()) ReleaseClaims(cluster_id, left_out);
  nodepb::InitResponse resp = SendPlanBootstraps(base);
  resp.set_already_initialized(false);
  return resp;
}

nodepb::InitResponse Node::SendPlanBootstraps(const nodepb::BootstrapRequest& plan) {
  const uint64_t self = node_id();
  std::vector<std::future<std::string>> results;  // "" = confirmed, else why not
  for (const nodepb::NodeDescriptor& n : plan.nodes()) {
    if (n.node_id() == self) continue;
    results.push_back(std::async(std::launch::async, [this, &plan, n]() -> std::string {
      const std::string who = absl::StrCat("node ", n.node_id(), " at ", n.address());
      std::optional<nodepb::PingResponse> pong = PingAddress(n.address(), absl::Seconds(2));
      if (pong.has_value() && pong->cluster_id() == plan.cluster_id()) {
        if (pong->node_id() == n.node_id()) return "";
        return absl::StrCat(who, ": its store was replaced; the node there joined as node ",
                            pong->node_id(), " (node ", n.node_id(),
                            "'s replicas are missing until they are replaced)");
      }
      if (pong.has_value() && !pong->cluster_id().empty()) {
        return absl::StrCat(who, ": belongs to another cluster, ", pong->cluster_id());
      }
      nodepb::BootstrapRequest req = plan;
      req.set_node_id(n.node_id());
      absl::Status s = SendBootstrap(n.address(), req);
      return s.ok() ? "" : std::string(s.message());
    }));
  }
  nodepb::InitResponse resp;
  resp.set_cluster_id(plan.cluster_id());
  *resp.mutable_nodes() = plan.nodes();
  *resp.mutable_ranges() = plan.ranges();
  for (auto& f : results) {
    if (std::string why = f.get(); !why.empty()) {
      spdlog::warn("init: {}", why);
      resp.add_pending(std::move(why));
    }
  }
  return resp;
}

absl::StatusOr<nodepb::InitResponse> Node::CompleteInit(const nodepb::InitRequest& request,
                                                        const nodepb::BootstrapRequest& identity) {
  if (request.split_keys_size() > 0) {
    std::vector<std::string> asked(request.split_keys().begin(), request.split_keys().end());
    std::sort(asked.begin(), asked.end());
    asked.erase(std::unique(asked.begin(), asked.end()), asked.end());
    const std::vector<std::string> planned = PlanSplitKeys(identity);
    if (asked != planned) {
      std::vector<std::string> shown;
      for (const std::string& k : planned) shown.push_back(absl::CHexEscape(k));
      return absl::FailedPreconditionError(absl::StrCat(
          "cluster ", identity.cluster_id(), " was already initialized with split points [",
          absl::StrJoin(shown, ","), "]; run init again without --split-at (or with the same)"));
    }
  }
  spdlog::info("init: cluster {} exists; completing it (Bootstraps to members still empty)",
               identity.cluster_id());
  nodepb::InitResponse resp = SendPlanBootstraps(identity);
  resp.set_already_initialized(true);
  return resp;
}

}  // namespace rangedb
