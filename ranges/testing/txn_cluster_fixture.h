// TxnClusterTest: a GoogleTest fixture for transaction-protocol tests in one process
// (docs/testing.md; txn_protocol_test.cc, txn_span_ops_test.cc,
// txn_record_protocol_test.cc, txn_gc_test.cc): three stores of a TestCluster, a
// Gateway per node wired as each store's key sender, and helpers that build raw kvpb
// batches and send them through a gateway the way a coordinator would. Ranges:
//   3 [\x04, \x04b)   4 [\x04b, \x04m)   5 [\x04m, KeyMax)
// Keys are written K("suffix") = "\x04suffix".
//
// Every hybrid clock (stores and gateways) reads one AdvanceableClock, so a test can
// make time pass (a transaction expire, a record age) without sleeping; a node's own
// wall clock can still be stepped alone (TestCluster::StepWallClock).
//
// Logs: warnings and errors only (RANGEDB_TEST_LOG=info for the rest; QuietTestLogs).
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

#include "base/random.h"
#include "gtest/gtest.h"
#include "ranges/evaluate.h"
#include "ranges/evaluate_txn.h"
#include "ranges/gateway.h"
#include "ranges/testing/quiet_test_logs.h"
#include "ranges/testing/test_cluster.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {

inline std::string K(const std::string& suffix) { return "\x04" + suffix; }

class TxnClusterTest : public ::testing::Test, private QuietTestLogs {
 protected:
  static constexpr uint64_t kRangeA = 3;
  static constexpr uint64_t kRangeB = 4;
  static constexpr uint64_t kRangeC = 5;

  explicit TxnClusterTest(StoreConfig config = FastStoreConfig())
      : cluster_(3, config, {K("b"), K("m")}, &physical_) {
    for (uint64_t id = 1; id <= 3; ++id) {
      clocks_[id] = std::make_unique<HybridLogicalClock>(&physical_, kTestMaxOffsetNanos);
      GatewayOptions o;
      o.node_id = id;
      o.clock = clocks_[id].get();
      o.time = cluster_.time();
      o.send_to_node = [this](uint64_t node, const kvpb::BatchRequest& req, absl::Time deadline) {
        NodeSendResult r;
        if (fail_resolutions_.load() && req.requests_size() > 0 &&
            req.requests(0).has_resolve_intent()) {
          failed_resolutions_.fetch_add(1);
          *r.response.mutable_error() =
              ToError(absl::FailedPreconditionError("testing: intent resolution refused"));
          return r;
        }
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
    TimeSource::Real()->SleepFor(absl::Nanoseconds(kTestMaxOffsetNanos) + absl::Milliseconds(20));
  }

  kvpb::BatchResponse Send(kvpb::BatchRequest req, uint64_t via = 1,
                           absl::Duration timeout = absl::Seconds(15)) {
    return gateways_[via]->Send(req, gateways_[via]->time()->Now() + timeout);
  }

  // A transaction's batch: adopts the timestamps the gateway returns.
  kvpb::BatchResponse SendTxn(kvpb::Transaction* txn, kvpb::BatchRequest req, uint64_t via = 1) {
    *req.mutable_header()->mutable_txn() = *txn;
    kvpb::BatchResponse resp = Send(std::move(req), via);
    if (resp.has_txn()) {
      *txn->mutable_read_timestamp() = resp.txn().read_timestamp();
      *txn->mutable_uncertainty_limit() = resp.txn().uncertainty_limit();
      *txn->mutable_write_timestamp() = resp.txn().write_timestamp();
      if (resp.txn().has_start_timestamp()) {
        *txn->mutable_start_timestamp() = resp.txn().start_timestamp();
      }
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
    d->set_resumable(true);
    return b;
  }
  // DeleteRange [start, end) in txn as a coordinator runs it: one request per piece,
  // following resume keys (one range, 10,000 keys or 4 MiB per piece). The response
  // holds every piece's deleted keys, or the first error.
  kvpb::BatchResponse DeleteRangeAll(kvpb::Transaction* txn, const std::string& start,
                                     const std::string& end) {
    kvpb::BatchResponse all;
    kvpb::DeleteRangeResponse* merged = all.add_responses()->mutable_delete_range();
    for (std::string from = start;;) {
      kvpb::BatchResponse piece = SendTxn(txn, DeleteRange(from, end));
      if (piece.has_error() || piece.responses_size() != 1 ||
          !piece.responses(0).has_delete_range()) {
        return piece;
      }
      for (const std::string& k : piece.responses(0).delete_range().deleted_keys()) {
        merged->add_deleted_keys(k);
      }
      const std::string& resume = piece.responses(0).delete_range().resume_key();
      if (resume.empty()) break;
      EXPECT_GT(resume, from) << "a DeleteRange piece made no progress";
      if (resume <= from) return piece;
      from = resume;
    }
    return all;
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
  static kvpb::BatchRequest Heartbeat(const kvpb::Transaction& txn) {
    kvpb::BatchRequest b;
    b.add_requests()->mutable_heartbeat_txn()->set_key(txn.anchor_key());
    return b;
  }
  // Commits txn as its coordinator would: an EndTxn listing lock_keys; on PUSHED,
  // a refresh of read_keys to the new write timestamp and another try (at most 3).
  // The last response (of the EndTxn, or of the refresh that failed).
  kvpb::BatchResponse CommitRefreshing(kvpb::Transaction* txn,
                                       const std::vector<std::string>& lock_keys,
                                       const std::vector<std::string>& read_keys,
                                       uint64_t via = 1) {
    kvpb::BatchResponse r;
    for (int round = 0; round < 3; ++round) {
      kvpb::BatchRequest end;
      AddEnd(&end, *txn, lock_keys);
      r = SendTxn(txn, end, via);
      if (!r.has_error() || !r.error().has_retry() ||
          r.error().retry().reason() != kvpb::TransactionRetryError::PUSHED) {
        return r;
      }
      for (const std::string& k : read_keys) {
        kvpb::BatchResponse refresh = SendTxn(txn, Refresh(k), via);
        if (refresh.has_error()) return refresh;
      }
      *txn->mutable_read_timestamp() = txn->write_timestamp();
    }
    return r;
  }
  // What a request that met txn's intent knows of it (storage's TxnMeta).
  static kvpb::Transaction IntentView(const kvpb::Transaction& txn) {
    kvpb::Transaction t;
    t.set_id(txn.id());
    t.set_anchor_key(txn.anchor_key());
    t.set_epoch(txn.epoch());
    t.set_priority(txn.priority());
    *t.mutable_write_timestamp() = txn.write_timestamp();
    if (txn.has_start_timestamp()) *t.mutable_start_timestamp() = txn.start_timestamp();
    return t;
  }
  // A PushTxn of pushee (as its intent shows it) by a pusher of the given priority.
  kvpb::BatchResponse PushTxn(const kvpb::Transaction& pushee, kvpb::PushType type,
                              int32_t pusher_priority = 2, uint64_t via = 1) {
    kvpb::BatchRequest b;
    kvpb::PushTxnRequest* p = b.add_requests()->mutable_push_txn();
    p->set_key(pushee.anchor_key());
    *p->mutable_pushee() = IntentView(pushee);
    kvpb::Transaction pusher = NewTxn(K("pusher"));
    pusher.set_priority(pusher_priority);
    *p->mutable_pusher() = pusher;
    p->set_push_type(type);
    if (type == kvpb::PUSH_TIMESTAMP) *p->mutable_push_to() = Send(Get(K("now"))).now();
    return Send(std::move(b), via);
  }
  // The record of txn as its leaseholder holds it (QueryTxn); nullopt if none.
  std::optional<kvpb::Transaction> Record(const kvpb::Transaction& txn) {
    kvpb::BatchRequest b;
    kvpb::QueryTxnRequest* q = b.add_requests()->mutable_query_txn();
    q->set_key(txn.anchor_key());
    q->set_txn_id(txn.id());
    kvpb::BatchResponse r = Send(std::move(b));
    EXPECT_FALSE(r.has_error()) << r.error().message();
    if (r.has_error() || r.responses_size() != 1 || !r.responses(0).query_txn().found()) {
      return std::nullopt;
    }
    return r.responses(0).query_txn().record();
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
  // Whether any running node holds an intent (a lock-table entry) on key.
  bool HasIntent(const std::string& key) {
    for (uint64_t id = 1; id <= 3; ++id) {
      Store* store = cluster_.StoreOf(id);
      if (store == nullptr) continue;
      proto::LockTableEntry e;
      if (*ReadLockEntry(*store->engine(), key, &e)) return true;
    }
    return false;
  }
  bool HasIntent(uint64_t /*range_id*/, const std::string& key) { return HasIntent(key); }
  // Waits (bounded) until no node holds an intent on any of keys: followers apply a
  // resolution a moment after the leaseholder. How many keys still have one.
  int WaitIntentsGone(const std::vector<std::string>& keys,
                      absl::Duration most = absl::Seconds(5)) {
    const absl::Time until = TimeSource::Real()->Now() + most;
    for (;;) {
      int left = 0;
      for (const std::string& k : keys) left += HasIntent(k) ? 1 : 0;
      if (left == 0 || TimeSource::Real()->Now() >= until) return left;
      TimeSource::Real()->SleepFor(absl::Milliseconds(20));
    }
  }
  // The leaseholder of range_id, waking the range first (a quiescent range has none).
  uint64_t Leaseholder(uint64_t range_id, const std::string& key_in_range) {
    for (int i = 0; i < 100; ++i) {
      (void)Send(Get(key_in_range));
      if (uint64_t lh = cluster_.LeaseholderOf(range_id); lh != 0) return lh;
      TimeSource::Real()->SleepFor(absl::Milliseconds(20));
    }
    return 0;
  }

  // Stops the leaseholder of range_id and waits (bounded) until another node holds
  // its lease; returns {the stopped node, the new leaseholder} (0 if none came).
  // With `wake`, requests through a live gateway wake the range (a quiescent range
  // elects nobody); without, the range must already be awake (a recent write).
  std::pair<uint64_t, uint64_t> StopLeaseholder(uint64_t range_id, const std::string& key_in_range,
                                                bool wake) {
    const uint64_t old = Leaseholder(range_id, key_in_range);
    if (old == 0) return {0, 0};
    cluster_.StopNode(old);
    const uint64_t via = old == 1 ? 2 : 1;
    uint64_t lh = 0;
    for (const absl::Time until = TimeSource::Real()->Now() + absl::Seconds(20);
         (lh == 0 || lh == old) && TimeSource::Real()->Now() < until;) {
      if (wake) (void)Send(Get(key_in_range), via);
      lh = cluster_.LeaseholderOf(range_id);
      TimeSource::Real()->SleepFor(absl::Milliseconds(wake ? 20 : 5));
    }
    return {old, lh == old ? 0 : lh};
  }

  // Moves range_id's lease off its holder with a drain (quick, unlike stopping the
  // holder: no election timeout) and waits (bounded) until another node holds it.
  // Returns {the drained node, the new leaseholder} (0 if none came). With resume,
  // the drained store takes leases again afterwards.
  std::pair<uint64_t, uint64_t> DrainLeaseholder(uint64_t range_id, const std::string& key_in_range,
                                                 bool resume) {
    const uint64_t old = Leaseholder(range_id, key_in_range);
    if (old == 0) return {0, 0};
    cluster_.StoreOf(old)->DrainLeases(cluster_.time()->Now() + absl::Seconds(5));
    uint64_t lh = 0;
    for (const absl::Time until = TimeSource::Real()->Now() + absl::Seconds(10);
         (lh == 0 || lh == old) && TimeSource::Real()->Now() < until;) {
      lh = cluster_.LeaseholderOf(range_id);
      TimeSource::Real()->SleepFor(absl::Milliseconds(5));
    }
    if (resume) cluster_.StoreOf(old)->ResumeAfterDrain();
    return {old, lh == old ? 0 : lh};
  }

  AdvanceableClock physical_;  // before cluster_: the stores' clocks read it
  TestCluster cluster_;
  std::map<uint64_t, std::unique_ptr<HybridLogicalClock>> clocks_;
  std::map<uint64_t, std::unique_ptr<Gateway>> gateways_;
  // While set, every ResolveIntent a gateway sends fails at once (counted): the
  // asynchronous resolver gives up, as after a crash or a full queue.
  std::atomic<bool> fail_resolutions_{false};
  std::atomic<int> failed_resolutions_{0};
  // The stores' calls into gateways_ (intent resolution, pushes, GC): destroyed
  // first, so they are over before a gateway or clock goes (ranges/key_sender.h).
  std::map<uint64_t, KeySenderBinding> bindings_;
};

}  // namespace rangedb::ranges
