// TxnClusterTest: a GoogleTest fixture for transaction-protocol tests in one process
// (docs/testing.md): three stores of a TestCluster, a Gateway per node wired as each
// store's key sender, and helpers that build raw kvpb batches and send them through
// a gateway the way a coordinator would. Ranges:
//   3 [\x04, \x04b)   4 [\x04b, \x04m)   5 [\x04m, KeyMax)
// Keys are written K("suffix") = "\x04suffix".
//
// Thread safety: the helpers may be called from several test threads at once (the
// gateways and stores are thread-safe); the fixture is built and torn down by the
// test's thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/random.h"
#include "gtest/gtest.h"
#include "ranges/gateway.h"
#include "ranges/testing/test_cluster.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {

inline std::string K(const std::string& suffix) { return "\x04" + suffix; }

class TxnClusterTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kRangeA = 3;
  static constexpr uint64_t kRangeB = 4;
  static constexpr uint64_t kRangeC = 5;

  explicit TxnClusterTest(StoreConfig config = FastStoreConfig())
      : cluster_(3, config, {K("b"), K("m")}) {
    for (uint64_t id = 1; id <= 3; ++id) {
      clocks_[id] = std::make_unique<HybridLogicalClock>(&physical_, kTestMaxOffsetNanos);
      GatewayOptions o;
      o.node_id = id;
      o.clock = clocks_[id].get();
      o.send_to_node = [this](uint64_t node, const kvpb::BatchRequest& req, absl::Time deadline) {
        NodeSendResult r;
        std::shared_ptr<Store> s = cluster_.StoreRef(node);
        if (s == nullptr) {
          r.rpc_status = absl::UnavailableError("node stopped");
          return r;
        }
        r.response = s->Send(req, deadline);
        return r;
      };
      o.first_range = [this]() -> std::optional<kvpb::RangeDescriptor> {
        return cluster_.initial_ranges()[0];
      };
      gateways_[id] = std::make_unique<Gateway>(std::move(o));
      Gateway* gw = gateways_[id].get();
      bindings_.emplace(id, cluster_.StoreOf(id)->BindKeySender(
                                [gw](const kvpb::BatchRequest& req, absl::Time deadline) {
                                  return gw->Send(req, deadline);
                                }));
    }
    // Every range gets its leaseholder, and the clock passes the timestamp caches'
    // low water (max_offset above the lease's first use), so that transactions
    // starting now are not pushed by it.
    for (const std::string& k : {K("a"), K("c"), K("n")}) EXPECT_FALSE(Send(Get(k)).has_error());
    absl::SleepFor(absl::Nanoseconds(kTestMaxOffsetNanos) + absl::Milliseconds(20));
  }

  kvpb::BatchResponse Send(kvpb::BatchRequest req, uint64_t via = 1,
                           absl::Duration timeout = absl::Seconds(15)) {
    return gateways_[via]->Send(req, absl::Now() + timeout);
  }

  // A transaction's batch: adopts the timestamps the gateway returns.
  kvpb::BatchResponse SendTxn(kvpb::Transaction* txn, kvpb::BatchRequest req, uint64_t via = 1) {
    *req.mutable_header()->mutable_txn() = *txn;
    kvpb::BatchResponse resp = Send(std::move(req), via);
    if (resp.has_txn()) {
      *txn->mutable_read_timestamp() = resp.txn().read_timestamp();
      *txn->mutable_uncertainty_limit() = resp.txn().uncertainty_limit();
      *txn->mutable_write_timestamp() = resp.txn().write_timestamp();
    }
    return resp;
  }

  static kvpb::Transaction NewTxn(const std::string& anchor) {
    kvpb::Transaction t;
    t.set_id(RandomBytes(16));
    t.set_anchor_key(anchor);
    return t;
  }
  static kvpb::BatchRequest Put(const std::string& k, const std::string& v) {
    kvpb::BatchRequest b;
    b.add_requests()->mutable_put()->set_key(k);
    b.mutable_requests(0)->mutable_put()->set_value(v);
    return b;
  }
  static kvpb::BatchRequest Delete(const std::string& k) {
    kvpb::BatchRequest b;
    b.add_requests()->mutable_delete_()->set_key(k);
    return b;
  }
  static kvpb::BatchRequest Get(const std::string& k) {
    kvpb::BatchRequest b;
    b.add_requests()->mutable_get()->set_key(k);
    return b;
  }
  static kvpb::BatchRequest DeleteRange(const std::string& start, const std::string& end) {
    kvpb::BatchRequest b;
    kvpb::DeleteRangeRequest* d = b.add_requests()->mutable_delete_range();
    d->set_start_key(start);
    d->set_end_key(end);
    return b;
  }
  // expected nullopt: the key must have no value.
  static kvpb::BatchRequest ConditionalPut(const std::string& k, const std::string& v,
                                           const std::optional<std::string>& expected) {
    kvpb::BatchRequest b;
    kvpb::ConditionalPutRequest* c = b.add_requests()->mutable_conditional_put();
    c->set_key(k);
    c->set_value(v);
    if (expected.has_value()) {
      c->set_has_expected(true);
      c->set_expected(*expected);
    }
    return b;
  }
  // A Refresh of [start, end) (end empty: the key start).
  static kvpb::BatchRequest Refresh(const std::string& start, const std::string& end = "") {
    kvpb::BatchRequest b;
    kvpb::RefreshRequest* r = b.add_requests()->mutable_refresh();
    r->set_key(start);
    r->set_end_key(end);
    return b;
  }
  static void AddEnd(kvpb::BatchRequest* b, const kvpb::Transaction& txn,
                     const std::vector<std::string>& keys, bool commit = true) {
    kvpb::EndTxnRequest* e = b->add_requests()->mutable_end_txn();
    e->set_key(txn.anchor_key());
    e->set_commit(commit);
    for (const std::string& k : keys) e->add_lock_spans()->set_key(k);
  }
  std::optional<std::string> Value(const std::string& k) {
    kvpb::BatchResponse r = Send(Get(k));
    EXPECT_FALSE(r.has_error()) << r.error().message();
    if (r.has_error() || !r.responses(0).get().found()) return std::nullopt;
    return r.responses(0).get().value();
  }
  // The gateway's clock now (a timestamp no earlier than anything acknowledged).
  proto::Timestamp Now() { return Send(Get(K("a"))).now(); }

  // A store metric summed over the three stores.
  uint64_t Metric(std::atomic<uint64_t> StoreMetrics::*counter) {
    uint64_t n = 0;
    for (uint64_t id = 1; id <= 3; ++id) n += (cluster_.StoreOf(id)->metrics().*counter).load();
    return n;
  }
  bool HasIntent(const std::string& key) {
    for (uint64_t id = 1; id <= 3; ++id) {
      proto::LockTableEntry e;
      if (*ReadLockEntry(*cluster_.StoreOf(id)->engine(), key, &e)) return true;
    }
    return false;
  }

  TestCluster cluster_;
  SystemClock physical_;
  std::map<uint64_t, std::unique_ptr<HybridLogicalClock>> clocks_;
  std::map<uint64_t, std::unique_ptr<Gateway>> gateways_;
  // The stores' calls into gateways_ (intent resolution, pushes, GC): destroyed
  // first, so they are over before a gateway or clock goes (ranges/key_sender.h).
  std::map<uint64_t, KeySenderBinding> bindings_;
};

}  // namespace rangedb::ranges
