// The gateway against an in-process 3-node cluster with five ranges:
//   1 meta [KeyMin, \x03)  2 system [\x03, \x04)
//   3 [\x04, \x04b)  4 [\x04b, \x04m)  5 [\x04m, KeyMax)
// send_to_node calls the stores directly and can inject RPC failures before or after
// the request executes (a dead node; a connection lost after sending).
#include "ranges/gateway.h"

#include <deque>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ranges/testing/test_cluster.h"
#include "txn/clock.h"

namespace rangedb::ranges {
namespace {

std::string K(const std::string& suffix) { return "\x04" + suffix; }

const std::vector<std::string> kSplitKeys = {K("b"), K("m")};
constexpr uint64_t kRangeA = 3;  // [\x04, \x04b)
constexpr uint64_t kRangeB = 4;  // [\x04b, \x04m)
constexpr uint64_t kRangeC = 5;  // [\x04m, KeyMax)

kvpb::BatchRequest Gets(const std::vector<std::string>& keys) {
  kvpb::BatchRequest req;
  for (const std::string& k : keys) req.add_requests()->mutable_get()->set_key(k);
  return req;
}
kvpb::BatchRequest Scan(const std::string& start, const std::string& end, int64_t max_keys) {
  kvpb::BatchRequest req;
  auto* s = req.add_requests()->mutable_scan();
  s->set_start_key(start);
  s->set_end_key(end);
  s->set_max_keys(max_keys);
  return req;
}
kvpb::BatchRequest Increment(const std::string& k, int64_t delta) {
  kvpb::BatchRequest req;
  auto* i = req.add_requests()->mutable_increment();
  i->set_key(k);
  i->set_delta(delta);
  return req;
}

// Where an injected fault hits an RPC. kErrorResponse: the node answers with a
// plain error (RESOURCE_EXHAUSTED, as when it is out of latch capacity) without
// executing the request.
enum class Fault { kNone, kFailBefore, kFailAfter, kErrorResponse };

class GatewayTest : public ::testing::Test {
 protected:
  GatewayTest() : cluster_(3, FastStoreConfig(), kSplitKeys), clock_(&physical_, 500'000'000) {}

  std::unique_ptr<Gateway> NewGateway(absl::Duration attempt_timeout = absl::Seconds(1)) {
    GatewayOptions o;
    o.node_id = 1;
    o.clock = &clock_;
    o.send_to_node = [this](uint64_t node_id, const kvpb::BatchRequest& req, absl::Time deadline) {
      return SendToNode(node_id, req, deadline);
    };
    o.first_range = [this]() -> std::optional<kvpb::RangeDescriptor> {
      return cluster_.initial_ranges()[0];
    };
    o.attempt_timeout = attempt_timeout;
    return std::make_unique<Gateway>(std::move(o));
  }

  // Fails the next `times` RPCs to node_id (times < 0: all of them) at `fault`.
  void SetFault(uint64_t node_id, Fault fault, int times = -1) {
    absl::MutexLock lock(&mu_);
    faults_[node_id] = {fault, times};
  }
  // The next RPCs to node_id get these faults, one each, before SetFault's.
  void QueueFaults(uint64_t node_id, std::vector<Fault> faults) {
    absl::MutexLock lock(&mu_);
    for (Fault f : faults) queued_[node_id].push_back(f);
  }
  void ClearFaults() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
    queued_.clear();
  }
  int Calls(uint64_t node_id) {
    absl::MutexLock lock(&mu_);
    return calls_[node_id];
  }

  NodeSendResult SendToNode(uint64_t node_id, const kvpb::BatchRequest& req, absl::Time deadline) {
    Fault fault = Fault::kNone;
    {
      absl::MutexLock lock(&mu_);
      ++calls_[node_id];
      auto it = faults_.find(node_id);
      if (auto q = queued_.find(node_id); q != queued_.end() && !q->second.empty()) {
        fault = q->second.front();
        q->second.pop_front();
      } else if (it != faults_.end() && it->second.times != 0) {
        fault = it->second.fault;
        if (it->second.times > 0) --it->second.times;
      }
    }
    NodeSendResult result;
    if (fault == Fault::kFailBefore) {
      result.rpc_status = absl::UnavailableError("injected: node unreachable");
      return result;
    }
    if (fault == Fault::kErrorResponse) {
      kvpb::Error* e = result.response.mutable_error();
      e->set_code(static_cast<int32_t>(absl::StatusCode::kResourceExhausted));
      e->set_message("injected: too many latches");
      return result;
    }
    std::shared_ptr<Store> store = cluster_.StoreRef(node_id);
    if (store == nullptr) {
      result.rpc_status = absl::UnavailableError("node is stopped");
      return result;
    }
    result.response = store->Send(req, deadline);
    if (fault == Fault::kFailAfter) {
      result.rpc_status = absl::UnavailableError("injected: connection lost after sending");
    }
    return result;
  }

  kvpb::BatchResponse Send(Gateway& g, const kvpb::BatchRequest& req,
                           absl::Duration timeout = absl::Seconds(10)) {
    return g.Send(req, absl::Now() + timeout);
  }

  TestCluster cluster_;
  SystemClock physical_;
  HybridLogicalClock clock_;

 private:
  struct FaultSpec {
    Fault fault = Fault::kNone;
    int times = 0;
  };
  absl::Mutex mu_;
  std::map<uint64_t, FaultSpec> faults_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::deque<Fault>> queued_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, int> calls_ ABSL_GUARDED_BY(mu_);
};

// 3 keys in each user range, sorted: \x04a0..a2 | \x04b0..\x04l2 | \x04m0..\x04z2.
std::vector<std::string> SpreadKeys() {
  std::vector<std::string> keys;
  for (char c = 'a'; c <= 'z'; ++c) {
    for (char d = '0'; d <= '2'; ++d) keys.push_back(K(std::string{c, d}));
  }
  return keys;
}

// Reverse scans walk the ranges back to front; resume_key is the exclusive end of
// what is left.
TEST_F(GatewayTest, ReverseScanCrossesRangesBackwardsAndPages) {
  auto g = NewGateway();
  const std::vector<std::string> keys = SpreadKeys();  // over ranges A, B and C
  for (const std::string& k : keys) ASSERT_FALSE(Send(*g, PutRequest(k, "v")).has_error());
  const std::vector<std::string> descending(keys.rbegin(), keys.rend());
  auto reverse_scan = [&](const std::string& start, const std::string& end, int64_t limit) {
    kvpb::BatchRequest req = Scan(start, end, limit);
    req.mutable_requests(0)->mutable_scan()->set_reverse(true);
    return Send(*g, req);
  };
  kvpb::BatchResponse all = reverse_scan(K(""), "\xff\xff", 0);
  ASSERT_FALSE(all.has_error()) << all.error().message();
  std::vector<std::string> got;
  for (const kvpb::KeyValue& kv : all.responses(0).scan().rows()) got.push_back(kv.key());
  EXPECT_EQ(got, descending);
  EXPECT_FALSE(all.responses(0).scan().has_resume());

  // Pages of 7 (crossing range boundaries) until done: every key once, descending.
  std::vector<std::string> paged;
  std::string end = "\xff\xff";
  for (int page = 0; page < 100; ++page) {
    kvpb::BatchResponse resp = reverse_scan(K(""), end, 7);
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
    const kvpb::ScanResponse& s = resp.responses(0).scan();
    EXPECT_LE(s.rows_size(), 7);
    for (const kvpb::KeyValue& kv : s.rows()) paged.push_back(kv.key());
    if (!s.has_resume()) break;
    EXPECT_LT(s.resume_key(), end);
    end = s.resume_key();
  }
  EXPECT_EQ(paged, descending);
}

TEST_F(GatewayTest, PutAndGetAcrossRanges) {
  auto g = NewGateway();
  const std::vector<std::string> keys = {"\x03system-key", K("a"), K("c"), K("x")};
  for (const std::string& k : keys) {
    kvpb::BatchResponse put = Send(*g, PutRequest(k, "v-" + k));
    ASSERT_FALSE(put.has_error()) << put.error().message();
    EXPECT_TRUE(put.has_now());
  }
  for (const std::string& k : keys) {
    kvpb::BatchResponse got = Send(*g, Gets({k}));
    ASSERT_FALSE(got.has_error()) << got.error().message();
    ASSERT_EQ(got.responses_size(), 1);
    EXPECT_TRUE(got.responses(0).get().found());
    EXPECT_EQ(got.responses(0).get().value(), "v-" + k);
  }
  EXPECT_GT(g->metrics().meta_lookups.load(), 0u);
  EXPECT_GE(g->range_cache().size(), 4u);  // meta, system and the user ranges touched
}

TEST_F(GatewayTest, MultiGetSpanningThreeRangesAnswersInRequestOrder) {
  auto g = NewGateway();
  for (const std::string& k : {K("z"), K("a"), K("c"), K("n"), K("a5")}) {
    ASSERT_FALSE(Send(*g, PutRequest(k, "v-" + k)).has_error());
  }
  auto fresh = NewGateway();  // a cold cache: the batch is split by meta lookups
  const std::vector<std::string> keys = {K("z"), K("a"), K("missing"), K("c"), K("n"), K("a5")};
  kvpb::BatchResponse got = Send(*fresh, Gets(keys));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  ASSERT_EQ(got.responses_size(), static_cast<int>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const kvpb::GetResponse& r = got.responses(static_cast<int>(i)).get();
    if (keys[i] == K("missing")) {
      EXPECT_FALSE(r.found());
    } else {
      EXPECT_TRUE(r.found()) << i;
      EXPECT_EQ(r.value(), "v-" + keys[i]);
    }
  }
}

TEST_F(GatewayTest, ScanCrossesEveryRangeAndPagesWithResumeKeys) {
  auto g = NewGateway();
  const std::vector<std::string> keys = SpreadKeys();
  for (const std::string& k : keys) ASSERT_FALSE(Send(*g, PutRequest(k, "v")).has_error());

  // No limit: every range from meta to the last, rows strictly increasing.
  kvpb::BatchResponse all = Send(*g, Scan("\x02", "\xff\xff", 0));
  ASSERT_FALSE(all.has_error()) << all.error().message();
  const kvpb::ScanResponse& rows = all.responses(0).scan();
  EXPECT_FALSE(rows.has_resume());
  std::set<std::string> seen;
  for (int i = 0; i < rows.rows_size(); ++i) {
    if (i > 0) {
      EXPECT_LT(rows.rows(i - 1).key(), rows.rows(i).key());
    }
    seen.insert(rows.rows(i).key());
  }
  for (const std::string& k : keys) EXPECT_TRUE(seen.contains(k)) << k;
  EXPECT_GT(rows.rows_size(), static_cast<int>(keys.size()));  // meta and system rows too

  // Pages of 7 until done: every key exactly once, in order.
  std::vector<std::string> paged;
  std::string start = K("");
  for (int page = 0; page < 100; ++page) {
    kvpb::BatchResponse resp = Send(*g, Scan(start, "\xff\xff", 7));
    ASSERT_FALSE(resp.has_error()) << resp.error().message();
    const kvpb::ScanResponse& s = resp.responses(0).scan();
    EXPECT_LE(s.rows_size(), 7);
    for (const kvpb::KeyValue& kv : s.rows()) paged.push_back(kv.key());
    if (!s.has_resume()) break;
    EXPECT_GT(s.resume_key(), start);
    start = s.resume_key();
  }
  EXPECT_EQ(paged, keys);

  // A limit that runs out exactly at the end of a range: the next page starts with
  // the next range's first key.
  kvpb::BatchResponse first = Send(*g, Scan(K(""), "\xff\xff", 3));
  ASSERT_FALSE(first.has_error());
  ASSERT_EQ(first.responses(0).scan().rows_size(), 3);
  EXPECT_EQ(first.responses(0).scan().rows(2).key(), K("a2"));
  ASSERT_TRUE(first.responses(0).scan().has_resume());
  const std::string resume = first.responses(0).scan().resume_key();
  EXPECT_GT(resume, K("a2"));
  EXPECT_LE(resume, K("b"));
  kvpb::BatchResponse second = Send(*g, Scan(resume, "\xff\xff", 3));
  ASSERT_FALSE(second.has_error());
  ASSERT_EQ(second.responses(0).scan().rows_size(), 3);
  EXPECT_EQ(second.responses(0).scan().rows(0).key(), K("b0"));
}

TEST_F(GatewayTest, StaleLeaseholderHintIsCorrected) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, PutRequest(K("c"), "v")).has_error());
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeB);
  ASSERT_TRUE(lh.has_value());
  g->range_cache().SetLeaseholder(kRangeB, *lh == 1 ? 2 : 1);  // wrong
  kvpb::BatchResponse got = Send(*g, Gets({K("c")}));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "v");
  EXPECT_GE(g->metrics().not_leaseholder.load(), 1u);
}

TEST_F(GatewayTest, StaleDescriptorIsRefreshedOnRangeKeyMismatch) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, PutRequest(K("c"), "v")).has_error());
  auto stale = NewGateway();
  kvpb::RangeDescriptor wrong = cluster_.initial_ranges()[kRangeA - 1];
  wrong.set_end_key(K("z"));  // as if range 3 still held [\x04, \x04z)
  wrong.set_generation(0);
  stale->range_cache().Insert(wrong);
  kvpb::BatchResponse got = Send(*stale, Gets({K("c")}));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "v");
  std::optional<kvpb::RangeDescriptor> now = stale->range_cache().Lookup(K("c"));
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->range_id(), kRangeB);
}

TEST_F(GatewayTest, RequestSucceedsAfterTheLeaseholderStops) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, PutRequest(K("c"), "before")).has_error());
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeB);
  ASSERT_TRUE(lh.has_value());
  cluster_.StopNode(*lh);
  kvpb::BatchResponse got = Send(*g, Gets({K("c")}));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "before");
  kvpb::BatchResponse put = Send(*g, PutRequest(K("c"), "after"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  std::optional<uint64_t> lh2 = g->range_cache().Leaseholder(kRangeB);
  ASSERT_TRUE(lh2.has_value());
  EXPECT_NE(*lh2, *lh);
}

TEST_F(GatewayTest, AmbiguousFirstAttemptOfAnIncrementAppliesOnce) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, Gets({K("n")})).has_error());  // warms the cache
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeC);
  ASSERT_TRUE(lh.has_value());
  SetFault(*lh, Fault::kFailAfter, /*times=*/1);  // applies, then the reply is lost
  kvpb::BatchResponse inc = Send(*g, Increment(K("n"), 5));
  ASSERT_FALSE(inc.has_error()) << inc.error().message();
  EXPECT_EQ(inc.responses(0).increment().new_value(), 5);  // the recorded answer
  EXPECT_GE(Calls(*lh), 3);                                // warm-up, the lost reply, the retry
  kvpb::BatchResponse got = Send(*g, Gets({K("n")}));
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.responses(0).get().value(), "5");
  // A new write gets a new idempotency key and applies.
  kvpb::BatchResponse again = Send(*g, Increment(K("n"), 5));
  ASSERT_FALSE(again.has_error());
  EXPECT_EQ(again.responses(0).increment().new_value(), 10);
}

TEST_F(GatewayTest, DeadRangeIsUnavailableWithinTheDeadline) {
  auto g = NewGateway(/*attempt_timeout=*/absl::Milliseconds(300));
  ASSERT_FALSE(Send(*g, Gets({K("q")})).has_error());
  for (uint64_t id = 1; id <= 3; ++id) SetFault(id, Fault::kFailBefore);
  const absl::Duration timeout = absl::Milliseconds(800);
  const absl::Time start = absl::Now();
  kvpb::BatchResponse got = Send(*g, Gets({K("q")}), timeout);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(got.has_error());
  EXPECT_EQ(got.error().code(), static_cast<int32_t>(absl::StatusCode::kUnavailable));
  EXPECT_NE(got.error().message().find("range 5"), std::string::npos) << got.error().message();
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + absl::Milliseconds(400));
  EXPECT_GT(g->metrics().retries.load(), 0u);
}

TEST_F(GatewayTest, WriteWhoseEveryAttemptMayHaveAppliedIsAmbiguous) {
  auto g = NewGateway(/*attempt_timeout=*/absl::Milliseconds(300));
  ASSERT_FALSE(Send(*g, Gets({K("w")})).has_error());
  for (uint64_t id = 1; id <= 3; ++id) SetFault(id, Fault::kFailAfter);
  const absl::Duration timeout = absl::Seconds(1);
  const absl::Time start = absl::Now();
  kvpb::BatchResponse put = Send(*g, PutRequest(K("w"), "maybe"), timeout);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(put.has_error());
  EXPECT_EQ(put.error().code(), static_cast<int32_t>(absl::StatusCode::kUnknown));
  EXPECT_TRUE(put.error().has_ambiguous()) << put.error().message();
  EXPECT_NE(put.error().message().find("range 5"), std::string::npos) << put.error().message();
  EXPECT_LT(took, timeout + absl::Milliseconds(400));
  EXPECT_EQ(g->metrics().ambiguous.load(), 1u);
  // It did apply: which is why neither success nor failure could be reported.
  ClearFaults();
  kvpb::BatchResponse got = Send(*g, Gets({K("w")}));
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.responses(0).get().value(), "maybe");
}

// Issue 14, finding 11: the first attempt applies and its reply is lost; a later
// attempt fails with a plain error. That error says nothing about the first attempt:
// the answer must be ambiguous, never a plain failure.
TEST_F(GatewayTest, ErrorAfterAPossiblyAppliedAttemptIsAmbiguous) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, Gets({K("n")})).has_error());  // warms the cache
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeC);
  ASSERT_TRUE(lh.has_value());
  QueueFaults(*lh, {Fault::kFailAfter, Fault::kErrorResponse});
  kvpb::BatchResponse inc = Send(*g, Increment(K("n"), 5));
  ASSERT_TRUE(inc.has_error());
  EXPECT_TRUE(inc.error().has_ambiguous()) << inc.error().message();
  EXPECT_EQ(inc.error().code(), static_cast<int32_t>(absl::StatusCode::kUnknown));
  EXPECT_NE(inc.error().message().find("too many latches"), std::string::npos)
      << inc.error().message();
  // It did apply.
  kvpb::BatchResponse got = Send(*g, Gets({K("n")}));
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.responses(0).get().value(), "5");
}

// The first attempt of a ConditionalPut fails its condition and the reply is lost
// (so it may have applied, for all the gateway knows); the retry is evaluated by the
// leaseholder, which finds no record of the write: its answer is definite.
TEST_F(GatewayTest, EvaluatedFailureAfterAPossiblyAppliedAttemptIsDefinite) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, Gets({K("n")})).has_error());
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeC);
  ASSERT_TRUE(lh.has_value());
  QueueFaults(*lh, {Fault::kFailAfter});
  kvpb::BatchRequest cput;
  auto* c = cput.add_requests()->mutable_conditional_put();
  c->set_key(K("n"));
  c->set_value("new");
  c->set_has_expected(true);
  c->set_expected("absent");
  kvpb::BatchResponse resp = Send(*g, cput);
  ASSERT_TRUE(resp.has_error());
  EXPECT_FALSE(resp.error().has_ambiguous()) << resp.error().message();
  EXPECT_TRUE(resp.error().has_condition_failed()) << resp.error().message();
}

// The same error without an earlier possibly-applied attempt is definite.
TEST_F(GatewayTest, ErrorWithoutAnEarlierAttemptIsDefinite) {
  auto g = NewGateway();
  ASSERT_FALSE(Send(*g, Gets({K("n")})).has_error());
  std::optional<uint64_t> lh = g->range_cache().Leaseholder(kRangeC);
  ASSERT_TRUE(lh.has_value());
  QueueFaults(*lh, {Fault::kErrorResponse});
  kvpb::BatchResponse inc = Send(*g, Increment(K("n"), 5));
  ASSERT_TRUE(inc.has_error());
  EXPECT_FALSE(inc.error().has_ambiguous()) << inc.error().message();
  EXPECT_EQ(inc.error().code(), static_cast<int32_t>(absl::StatusCode::kResourceExhausted));
}

// Issue 14, finding 12: client ids that would have to be truncated are refused.
TEST_F(GatewayTest, OverlongIdempotencyClientIdIsRefused) {
  auto g = NewGateway();
  kvpb::BatchRequest put = PutRequest(K("a"), "v");
  put.mutable_header()->mutable_idempotency_key()->set_client_id(std::string(300, 'c'));
  put.mutable_header()->mutable_idempotency_key()->set_sequence(1);
  kvpb::BatchResponse resp = Send(*g, put);
  ASSERT_TRUE(resp.has_error());
  EXPECT_EQ(resp.error().code(), static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(resp.error().message().find("300 bytes"), std::string::npos) << resp.error().message();
  kvpb::BatchResponse got = Send(*g, Gets({K("a")}));
  ASSERT_FALSE(got.has_error());
  EXPECT_FALSE(got.responses(0).get().found());
}

TEST_F(GatewayTest, ApplicationErrorsReturnAsIs) {
  auto g = NewGateway();
  kvpb::BatchRequest cput;
  auto* c = cput.add_requests()->mutable_conditional_put();
  c->set_key(K("c"));
  c->set_value("new");
  c->set_has_expected(true);
  c->set_expected("absent");
  kvpb::BatchResponse resp = Send(*g, cput);
  ASSERT_TRUE(resp.has_error());
  EXPECT_TRUE(resp.error().has_condition_failed());
  EXPECT_EQ(resp.error().request_index(), 0);
  EXPECT_EQ(g->metrics().retries.load(), 0u);
}

TEST_F(GatewayTest, RejectsInvalidBatches) {
  auto g = NewGateway();
  kvpb::BatchRequest mixed = PutRequest(K("a"), "v");
  mixed.add_requests()->mutable_get()->set_key(K("b"));
  kvpb::BatchResponse resp = Send(*g, mixed);
  ASSERT_TRUE(resp.has_error());
  EXPECT_EQ(resp.error().code(), static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
  kvpb::BatchRequest addressed = Gets({K("a")});
  addressed.mutable_header()->set_range_id(kRangeA);
  resp = Send(*g, addressed);
  ASSERT_TRUE(resp.has_error());
  EXPECT_EQ(resp.error().code(), static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace rangedb::ranges
