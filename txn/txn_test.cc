// Unit tests of the transaction coordinator (txn/txn.h) against a fake Sender: what
// it sends, when, and what it makes of the answers (docs/transactions.md). Time is a
// ManualMonotonicClock and heartbeats run only when a test calls BeatDue, so every
// test is deterministic — except the last, which runs the real thread pool to count
// threads.
#include "txn/txn.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/kv_api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "txn/heartbeater.h"
#include "txn/testing/fake_sender.h"

namespace rangedb::txn {
namespace {

constexpr int64_t kMs = 1'000'000;

bool IsHeartbeat(const kvpb::BatchRequest& b) {
  return b.requests_size() == 1 && b.requests(0).has_heartbeat_txn();
}
bool HasEndTxn(const kvpb::BatchRequest& b, bool commit) {
  for (const kvpb::RequestUnion& r : b.requests()) {
    if (r.has_end_txn() && r.end_txn().commit() == commit) return true;
  }
  return false;
}
bool IsRollback(const kvpb::BatchRequest& b) { return HasEndTxn(b, /*commit=*/false); }
bool IsCommit(const kvpb::BatchRequest& b) { return HasEndTxn(b, /*commit=*/true); }
int64_t WallNs(const proto::Timestamp& ts) { return ts.wall_time_ns(); }

// The kinds of a batch's requests, e.g. "put,put,end_txn".
std::string Kinds(const kvpb::BatchRequest& b) {
  std::string out;
  for (const kvpb::RequestUnion& r : b.requests()) {
    if (!out.empty()) out += ",";
    out += kvpb::RequestUnion::descriptor()->FindFieldByNumber(r.value_case())->name();
  }
  return out;
}

using Spans = std::vector<std::pair<std::string, std::string>>;

// Whether key lies in one of spans (an empty end: the single key).
bool Covered(const Spans& spans, const std::string& key) {
  for (const auto& [from, to] : spans) {
    if (from <= key && (to.empty() ? key == from : key < to)) return true;
  }
  return false;
}

size_t SpanBytes(const Spans& spans) {
  size_t n = 0;
  for (const auto& [from, to] : spans) n += from.size() + to.size();
  return n;
}

class TxnTest : public ::testing::Test {
 protected:
  // Every Get comes back with its write timestamp pushed to pushed_ns: the commit
  // must refresh.
  void PushEveryGet(int64_t pushed_ns) {
    sender_.SetHandler(
        [pushed_ns](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
          kvpb::BatchResponse r = FakeSender::Ok(b);
          if (Kinds(b) == "get")
            r.mutable_txn()->mutable_write_timestamp()->set_wall_time_ns(pushed_ns);
          return r;
        });
  }
  // The spans of the Refresh requests sent, and the commit's lock spans.
  Spans RefreshedSpans() {
    Spans out;
    for (const kvpb::BatchRequest& b : sender_.non_heartbeats()) {
      for (const kvpb::RequestUnion& r : b.requests()) {
        if (r.has_refresh()) out.emplace_back(r.refresh().key(), r.refresh().end_key());
      }
    }
    return out;
  }
  Spans LockSpans() {
    Spans out;
    for (const kvpb::BatchRequest& b : sender_.non_heartbeats()) {
      for (const kvpb::RequestUnion& r : b.requests()) {
        if (!r.has_end_txn()) continue;
        for (const kvpb::Span& s : r.end_txn().lock_spans()) out.emplace_back(s.key(), s.end_key());
      }
    }
    return out;
  }
  TxnOptions Options() {
    TxnOptions o;
    o.heartbeater = &heartbeater_;
    o.heartbeat_interval = absl::Seconds(1);
    return o;
  }
  void Advance(absl::Duration d) { clock_.Advance(absl::ToInt64Nanoseconds(d)); }

  ManualMonotonicClock clock_{1'000'000'000};
  // Declared before any Txn of a test body, so it outlives them.
  Heartbeater heartbeater_{HeartbeaterOptions{.max_threads = 0, .clock = &clock_}};
  FakeSender sender_;
};

// --- Buffered writes and read-your-writes ---

TEST_F(TxnTest, BufferedWritesGoOutWithTheCommitInOneBatch) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Put("a", "1").ok());
  ASSERT_TRUE(t.Put("b", "2").ok());
  ASSERT_TRUE(t.Delete("c").ok());
  EXPECT_TRUE(sender_.requests().empty()) << "Put and Delete are buffered";
  ASSERT_TRUE(t.Commit().ok());
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Kinds(sent[0]), "put,put,delete,end_txn");
  const kvpb::EndTxnRequest& end = sent[0].requests(3).end_txn();
  EXPECT_TRUE(end.commit());
  EXPECT_EQ(end.key(), "a");  // the anchor: the first key written
  ASSERT_EQ(end.lock_spans_size(), 3);
  EXPECT_EQ(sent[0].header().txn().anchor_key(), "a");
  EXPECT_EQ(sent[0].header().txn().id(), t.id());
  // Deadlines, idempotency keys and header.now are the Sender's business.
  EXPECT_FALSE(sent[0].header().has_idempotency_key());
  EXPECT_FALSE(sent[0].header().has_now());
  EXPECT_EQ(t.commit_timestamp().wall_ns, FakeSender::kStartWallNs);
}

TEST_F(TxnTest, ReadsSeeTheTransactionsOwnBufferedWrites) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Put("a", "1").ok());
  ASSERT_TRUE(t.Delete("b").ok());
  absl::StatusOr<std::optional<std::string>> a = t.Get("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, std::optional<std::string>("1"));
  absl::StatusOr<std::optional<std::string>> b = t.Get("b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, std::nullopt);
  EXPECT_TRUE(sender_.requests().empty()) << "answered from the buffer";

  // A scan over buffered keys lays them down first, so the server's answer has them.
  ASSERT_TRUE(t.Scan("a", "z", 0).ok());
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(Kinds(sent[0]), "put,delete");
  EXPECT_EQ(Kinds(sent[1]), "scan");
  // A key not written goes to the server.
  ASSERT_TRUE(t.Get("c").ok());
  ASSERT_EQ(sender_.requests().size(), 3u);
  EXPECT_EQ(Kinds(sender_.requests()[2]), "get");
}

// GetMany: one batch per kGetManyBatchKeys unbuffered keys, answers in the keys'
// order, buffered keys answered from the buffer, every key read noted (the commit's
// refresh covers them).
TEST_F(TxnTest, GetManyReadsManyKeysPerRoundTripInTheirOrder) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse resp = FakeSender::Ok(b);
    for (int i = 0; i < b.requests_size(); ++i) {
      const std::string& key = b.requests(i).get().key();
      if (key.back() != '0') {  // keys ending in 0 have no value
        resp.mutable_responses(i)->mutable_get()->set_found(true);
        resp.mutable_responses(i)->mutable_get()->set_value("v" + key);
      }
    }
    return resp;
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Put("k005", "mine").ok());
  ASSERT_TRUE(t.Delete("k007").ok());
  std::vector<std::string> keys;
  for (int i = 139; i >= 0; --i) keys.push_back(absl::StrFormat("k%03d", i));
  absl::StatusOr<std::vector<std::optional<std::string>>> values = t.GetMany(keys);
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    std::optional<std::string> want = "v" + keys[i];
    if (keys[i] == "k005") want = "mine";
    if (keys[i] == "k007" || keys[i].back() == '0') want = std::nullopt;
    EXPECT_EQ((*values)[i], want) << keys[i];
  }
  // 138 keys to the server: 64 + 64 + 10, Gets only.
  std::vector<kvpb::BatchRequest> sent = sender_.non_heartbeats();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].requests_size(), 64);
  EXPECT_EQ(sent[1].requests_size(), 64);
  EXPECT_EQ(sent[2].requests_size(), 10);
  for (const kvpb::BatchRequest& b : sent) {
    for (const kvpb::RequestUnion& r : b.requests()) {
      EXPECT_TRUE(r.has_get());
      EXPECT_NE(r.get().key(), "k005");
      EXPECT_NE(r.get().key(), "k007");
    }
  }
}

// A batch refused for its response budget (InvalidArgument for the whole batch) is
// read again in halves; the transaction stays open and every value comes back.
TEST_F(TxnTest, GetManyOverTheResponseBudgetReadsInHalves) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse resp = FakeSender::Ok(b);
    if (b.requests_size() > 8) {  // as if every value were half a megabyte
      resp.clear_responses();
      resp.mutable_error()->set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
      resp.mutable_error()->set_message("the batch's results reached the response limit");
      resp.mutable_error()->set_over_response_budget(true);
      return resp;
    }
    for (int i = 0; i < b.requests_size(); ++i) {
      resp.mutable_responses(i)->mutable_get()->set_found(true);
      resp.mutable_responses(i)->mutable_get()->set_value(b.requests(i).get().key());
    }
    return resp;
  });
  Txn t(&sender_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back(absl::StrFormat("k%02d", i));
  absl::StatusOr<std::vector<std::optional<std::string>>> values = t.GetMany(keys);
  ASSERT_TRUE(values.ok()) << values.status();
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*values)[i], keys[i]);
  for (const kvpb::BatchRequest& b : sender_.non_heartbeats()) EXPECT_LE(b.requests_size(), 40);
  EXPECT_TRUE(t.Commit().ok()) << "the refused batches did not finish the transaction";
}

// Review (GetMany): the uncertainty-refresh budget of SendReads (5 rounds) is shared
// by the whole batch of up to 64 Gets, and each round moves the read timestamp just
// above the one uncertain value the server named. Keys written at ascending
// timestamps inside the uncertainty interval therefore restart the transaction
// after 6 of them, where the same keys read with Get (as LoadPage did before
// 717ee93) each refresh once and succeed.
TEST_F(TxnTest, GetManyOfSeveralUncertainKeysDoesNotRestartWhereGetsDoNot) {
  // Key i has a value at kStartWallNs + 10 * (i + 1): inside (read, uncertainty limit].
  auto value_ns = [](const std::string& key) -> int64_t {
    return FakeSender::kStartWallNs + 10 * (key.back() - '0' + 1);
  };
  sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse resp = FakeSender::Ok(b);
    if (Kinds(b).find("get") == std::string::npos) return resp;
    const int64_t read_ns = resp.txn().read_timestamp().wall_time_ns();
    const int64_t limit_ns = resp.txn().uncertainty_limit().wall_time_ns();
    for (int i = 0; i < b.requests_size(); ++i) {
      const std::string& key = b.requests(i).get().key();
      const int64_t ns = value_ns(key);
      if (ns > read_ns && ns <= limit_ns) {  // the first uncertain key, in request order
        resp.clear_responses();
        kvpb::Error* e = resp.mutable_error();
        e->set_code(static_cast<int>(absl::StatusCode::kAborted));
        e->set_message("read within uncertainty interval");
        e->set_request_index(i);
        e->mutable_retry()->set_reason(kvpb::TransactionRetryError::UNCERTAINTY);
        e->mutable_retry()->mutable_existing_timestamp()->set_wall_time_ns(ns);
        return resp;
      }
      resp.mutable_responses(i)->mutable_get()->set_found(true);
      resp.mutable_responses(i)->mutable_get()->set_value("v" + key);
    }
    return resp;
  });
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) keys.push_back(absl::StrFormat("k%d", i));
  {  // Control: one Get per key succeeds (one refresh each).
    Txn t(&sender_, Options());
    for (const std::string& k : keys) {
      absl::StatusOr<std::optional<std::string>> v = t.Get(k);
      ASSERT_TRUE(v.ok()) << k << ": " << v.status();
      EXPECT_EQ(*v, "v" + k);
    }
  }
  Txn t(&sender_, Options());
  absl::StatusOr<std::vector<std::optional<std::string>>> values = t.GetMany(keys);
  ASSERT_TRUE(values.ok()) << "8 Gets succeed, GetMany of the same 8 keys: " << values.status();
}

// Review (GetMany): every whole-batch InvalidArgument is taken for the response
// budget. A real one (here the server refusing one key of the batch, as ClassifyBatch
// refuses an internal or oversized key) is found only after halving down to the one
// key: 13 round trips for 64 keys, 63 of them read (and waited on) for nothing.
TEST_F(TxnTest, GetManyDoesNotTakeEveryInvalidArgumentForTheBudget) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse resp = FakeSender::Ok(b);
    for (int i = 0; i < b.requests_size(); ++i) {
      if (b.requests(i).has_get() && b.requests(i).get().key() == "k63") {
        resp.clear_responses();
        resp.mutable_error()->set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
        resp.mutable_error()->set_message(
            absl::StrCat("request ", i, ": keys below \\x02 are internal and cannot be addressed"));
        return resp;
      }
    }
    return resp;
  });
  Txn t(&sender_, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(absl::StrFormat("k%02d", i));
  absl::StatusOr<std::vector<std::optional<std::string>>> values = t.GetMany(keys);
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LE(sender_.non_heartbeats().size(), 2u)
      << "a non-budget InvalidArgument was retried in halves";
}

TEST_F(TxnTest, ReadOnlyCommitSendsNothing) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(sender_.requests().size(), 1u);
  EXPECT_EQ(heartbeater_.open(), 0u);
}

TEST_F(TxnTest, FailedConditionKeepsTheTransactionUsable) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (Kinds(b) != "conditional_put") return FakeSender::Ok(b);
    kvpb::Error e;
    e.set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
    e.mutable_condition_failed()->set_has_actual(true);
    e.mutable_condition_failed()->set_actual("other");
    return FakeSender::Error(b, e);
  });
  Txn t(&sender_, Options());
  absl::Status s = t.ConditionalPut("k", "v", std::nullopt);
  ASSERT_TRUE(kv::IsConditionFailed(s)) << s;
  EXPECT_EQ(kv::ConditionFailedActual(s), std::optional<std::optional<std::string>>("other"));
  EXPECT_FALSE(IsRetryable(s));
  ASSERT_TRUE(t.Put("k2", "v").ok());
  EXPECT_TRUE(t.Commit().ok());
}

// --- Refresh on a pushed timestamp ---

TEST_F(TxnTest, PushedReadRefreshesItsReadSpansBeforeTheCommit) {
  constexpr int64_t kPushedNs = 2000;
  PushEveryGet(kPushedNs);
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  ASSERT_TRUE(t.Put("y", "1").ok());
  ASSERT_TRUE(t.Commit().ok());
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(Kinds(sent[0]), "get");
  ASSERT_EQ(Kinds(sent[1]), "refresh");
  EXPECT_EQ(sent[1].requests(0).refresh().key(), "x");
  EXPECT_EQ(WallNs(sent[1].header().txn().write_timestamp()), kPushedNs);
  EXPECT_EQ(Kinds(sent[2]), "put,end_txn");
  EXPECT_EQ(WallNs(sent[2].header().txn().read_timestamp()), kPushedNs)
      << "the commit goes out at the refreshed timestamp";
  EXPECT_EQ(t.refreshes(), 1);
  EXPECT_EQ(t.commit_timestamp().wall_ns, kPushedNs);
}

// A scan cut short by its limit read only through its last row: the refresh covers
// that much, so a later write past it (by anyone) is no conflict. Forward and
// reverse; a scan that ran to its end still covers its whole span.
TEST_F(TxnTest, AScanCutShortByItsLimitReadsThroughItsLastRowOnly) {
  constexpr int64_t kPushedNs = 2000;
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse r = FakeSender::Ok(b);
    if (Kinds(b) != "scan") return r;
    r.mutable_txn()->mutable_write_timestamp()->set_wall_time_ns(kPushedNs);
    const kvpb::ScanRequest& scan = b.requests(0).scan();
    kvpb::ScanResponse* page = r.mutable_responses(0)->mutable_scan();
    // Rows "b", "c" ascending or "x", "w" descending; more follow, but for max_keys.
    const std::vector<std::string> keys =
        scan.reverse() ? std::vector<std::string>{"x", "w"} : std::vector<std::string>{"b", "c"};
    for (int i = 0; i < std::min<int64_t>(scan.max_keys(), 2); ++i) {
      kvpb::KeyValue* kv = page->add_rows();
      kv->set_key(keys[i]);
      kv->set_value("v");
    }
    if (scan.max_keys() <= 2) {
      page->set_has_resume(true);
      page->set_resume_key(scan.reverse() ? "w" : std::string("c\0", 2));
    }
    return r;
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Scan("a", "m", 2).ok());
  ASSERT_TRUE(t.ReverseScan("n", "z", 2).ok());
  ASSERT_TRUE(t.Scan("p", "q", 0).ok());  // to its end
  ASSERT_TRUE(t.Put("k", "1").ok());
  ASSERT_TRUE(t.Commit().ok());
  std::vector<std::pair<std::string, std::string>> refreshed;
  for (const kvpb::BatchRequest& b : sender_.non_heartbeats()) {
    for (const kvpb::RequestUnion& r : b.requests()) {
      if (r.has_refresh()) refreshed.emplace_back(r.refresh().key(), r.refresh().end_key());
    }
  }
  std::sort(refreshed.begin(), refreshed.end());
  EXPECT_THAT(refreshed, ::testing::ElementsAre(
                             std::pair<std::string, std::string>("a", std::string("c\0", 2)),
                             std::pair<std::string, std::string>("p", "q"),
                             std::pair<std::string, std::string>("w", "z")));
}

// Finding 8: a transaction that read more keys than it tracks spans for refreshes
// them condensed, but only among neighbours: the catalog key it read and the table
// it did not read stay outside the refreshed spans.
TEST_F(TxnTest, ARefreshOfManyReadsCoversNeitherTheCatalogsNeighboursNorOtherTables) {
  PushEveryGet(2000);
  TxnOptions options = Options();
  options.max_tracked_spans = 20;
  Txn t(&sender_, options);
  ASSERT_TRUE(t.Get("\x03version").ok());
  for (int row = 0; row < 100; ++row) {
    ASSERT_TRUE(t.Get(absl::StrFormat("\x04t2/r%03d", row)).ok());
  }
  ASSERT_TRUE(t.Put("\x04t2/r000", "1").ok());
  ASSERT_TRUE(t.Commit().ok());
  const Spans refreshed = RefreshedSpans();
  ASSERT_FALSE(refreshed.empty());
  EXPECT_LE(refreshed.size(), 20u);
  EXPECT_TRUE(Covered(refreshed, "\x03version"));
  EXPECT_TRUE(Covered(refreshed, "\x04t2/r099"));
  EXPECT_FALSE(Covered(refreshed, "\x03versioo")) << "the catalog's neighbour";
  EXPECT_FALSE(Covered(refreshed, "\x04t1/r000")) << "a table between the catalog and the one read";
}

// The coordinator keeps its tracked spans in budget through CondenseSpans with
// running byte counts: the commit's lock spans cover every key written (points and
// DeleteRanges, in several "tables") and stay within the budget, and so do the
// refreshed read spans.
TEST_F(TxnTest, TrackedSpansCoverEveryKeyAndStayInTheirBudget) {
  PushEveryGet(2000);
  TxnOptions options = Options();
  options.max_tracked_spans = 10;
  options.max_tracked_span_bytes = 600;
  Txn t(&sender_, options);
  std::vector<std::string> written, read;
  for (int table = 1; table <= 3; ++table) {
    for (int row = 0; row < 60; ++row) {
      written.push_back(absl::StrFormat("\x04t%d/row%04d-%s", table, row, std::string(200, 'x')));
      ASSERT_TRUE(t.Put(written.back(), "v").ok());
      read.push_back(absl::StrFormat("\x04t%d/read%04d-%s", table, row, std::string(200, 'y')));
      ASSERT_TRUE(t.Get(read.back()).ok());
    }
    ASSERT_TRUE(
        t.DeleteRange(absl::StrFormat("\x04t%d/z", table), absl::StrFormat("\x04t%d/zz", table))
            .ok());
    written.push_back(absl::StrFormat("\x04t%d/z5", table));  // inside the DeleteRange
  }
  ASSERT_TRUE(t.Commit().ok());
  const Spans locks = LockSpans();
  const Spans refreshed = RefreshedSpans();
  ASSERT_FALSE(locks.empty());
  for (const std::string& k : written) EXPECT_TRUE(Covered(locks, k)) << k;
  for (const std::string& k : read) EXPECT_TRUE(Covered(refreshed, k)) << k;
  // Point writes are tracked as keys up to the budget, then as spans: each within it.
  EXPECT_LE(locks.size(), 2 * options.max_tracked_spans);
  EXPECT_LE(SpanBytes(locks), 2 * options.max_tracked_span_bytes);
  EXPECT_LE(refreshed.size(), options.max_tracked_spans);
  EXPECT_LE(SpanBytes(refreshed), options.max_tracked_span_bytes);
}

// A page or piece that filled exactly at the span's last key resumes at that key +
// '\0' — the end itself when the span ends there. That is the end of the span, not a
// request for [end, end) (which the server refuses): the review of the DROP clearing
// found a DROP that could never clear its keys this way.
TEST_F(TxnTest, AResumeKeyAtTheSpansEndEndsTheScanAndTheDeleteRange) {
  const std::string end = std::string("k2") + '\0';
  sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse r = FakeSender::Ok(b);
    for (int i = 0; i < b.requests_size(); ++i) {
      const kvpb::RequestUnion& req = b.requests(i);
      if (req.has_scan()) {
        EXPECT_LT(req.scan().start_key(), req.scan().end_key()) << "an empty span was sent";
        kvpb::ScanResponse* page = r.mutable_responses(i)->mutable_scan();
        for (const char* k : {"k1", "k2"}) {
          kvpb::KeyValue* kv = page->add_rows();
          kv->set_key(k);
          kv->set_value("v");
        }
        page->set_has_resume(true);
        page->set_resume_key(end);
      }
      if (req.has_delete_range()) {
        EXPECT_LT(req.delete_range().start_key(), req.delete_range().end_key())
            << "an empty span was sent";
        kvpb::DeleteRangeResponse* piece = r.mutable_responses(i)->mutable_delete_range();
        piece->add_deleted_keys("k1");
        piece->add_deleted_keys("k2");
        piece->set_resume_key(end);
      }
    }
    return r;
  });
  Txn t(&sender_, Options());
  absl::StatusOr<std::vector<kv::KeyValue>> rows = t.Scan("k1", end, 0);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 2u);
  absl::StatusOr<int64_t> deleted = t.DeleteRange("k1", end);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(sender_.non_heartbeats().size(), 2u) << "one request each";
}

TEST_F(TxnTest, CommitPushedByTheServerRefreshesAndCommitsAgain) {
  constexpr int64_t kPushedNs = 3000;
  int commits = 0;
  sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (IsCommit(b) && commits++ == 0) {
      kvpb::BatchResponse r =
          FakeSender::Error(b, FakeSender::RetryError(kvpb::TransactionRetryError::PUSHED));
      r.mutable_txn()->mutable_write_timestamp()->set_wall_time_ns(kPushedNs);
      return r;
    }
    return FakeSender::Ok(b);
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  ASSERT_TRUE(t.Put("y", "1").ok());
  ASSERT_TRUE(t.Commit().ok());
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(Kinds(sent[1]), "put,end_txn");
  EXPECT_EQ(Kinds(sent[2]), "refresh");
  EXPECT_EQ(Kinds(sent[3]), "put,end_txn");
  EXPECT_EQ(WallNs(sent[3].header().txn().read_timestamp()), kPushedNs);
  EXPECT_EQ(t.refreshes(), 1);
}

TEST_F(TxnTest, FailedRefreshIsRetryableAndRollsBack) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (IsCommit(b)) {
      kvpb::BatchResponse r =
          FakeSender::Error(b, FakeSender::RetryError(kvpb::TransactionRetryError::PUSHED));
      r.mutable_txn()->mutable_write_timestamp()->set_wall_time_ns(5000);
      return r;
    }
    if (Kinds(b) == "refresh") {
      return FakeSender::Error(b,
                               FakeSender::RetryError(kvpb::TransactionRetryError::SERIALIZATION));
    }
    return FakeSender::Ok(b);
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  ASSERT_TRUE(t.Put("y", "1").ok());
  absl::Status s = t.Commit();
  EXPECT_TRUE(IsRetryable(s)) << s;
  EXPECT_FALSE(kv::IsAmbiguous(s));
  ASSERT_FALSE(sender_.requests().empty());
  EXPECT_TRUE(IsRollback(sender_.requests().back())) << Kinds(sender_.requests().back());
}

TEST_F(TxnTest, CommitPushedTooOftenGivesUpWithARetryableError) {
  int64_t pushed_ns = 10'000;
  sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (!IsCommit(b)) return FakeSender::Ok(b);
    kvpb::BatchResponse r =
        FakeSender::Error(b, FakeSender::RetryError(kvpb::TransactionRetryError::PUSHED));
    r.mutable_txn()->mutable_write_timestamp()->set_wall_time_ns(pushed_ns += 1000);
    return r;
  });
  TxnOptions o = Options();
  o.max_refreshes = 2;
  Txn t(&sender_, o);
  ASSERT_TRUE(t.Get("x").ok());
  ASSERT_TRUE(t.Put("y", "1").ok());
  absl::Status s = t.Commit();
  EXPECT_TRUE(IsRetryable(s)) << s;
  int commits = 0;
  for (const kvpb::BatchRequest& b : sender_.requests()) commits += IsCommit(b) ? 1 : 0;
  EXPECT_EQ(commits, 3) << "the first attempt and one after each of max_refreshes refreshes";
  EXPECT_TRUE(IsRollback(sender_.requests().back()));
}

// --- Retryable vs ambiguous errors ---

TEST_F(TxnTest, RetryErrorsAndAbortsAreRetryableAndFinishTheTransaction) {
  for (bool aborted : {false, true}) {
    SCOPED_TRACE(aborted ? "aborted" : "retry");
    sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
      kvpb::Error e = FakeSender::RetryError(kvpb::TransactionRetryError::SERIALIZATION);
      if (aborted) {
        e.clear_retry();
        e.mutable_aborted();
      }
      return FakeSender::Error(b, e);
    });
    Txn t(&sender_, Options());
    absl::StatusOr<std::optional<std::string>> got = t.Get("x");
    ASSERT_FALSE(got.ok());
    EXPECT_TRUE(IsRetryable(got.status())) << got.status();
    EXPECT_FALSE(kv::IsAmbiguous(got.status()));
    EXPECT_EQ(t.Get("x").status().code(), absl::StatusCode::kFailedPrecondition)
        << "the transaction is finished";
  }
}

TEST_F(TxnTest, AmbiguousCommitIsReportedAsAmbiguousNotRetryable) {
  // Two ways a Sender says "maybe applied": a status, or an error in the response.
  for (bool as_status : {true, false}) {
    SCOPED_TRACE(as_status ? "status" : "response");
    sender_.SetHandler([&](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
      if (!IsCommit(b)) return FakeSender::Ok(b);
      if (as_status) return kv::AmbiguousError("testing: connection lost");
      kvpb::Error e;
      e.set_code(static_cast<int>(absl::StatusCode::kUnknown));
      e.mutable_ambiguous()->set_reason("testing: deadline after proposing");
      return FakeSender::Error(b, e);
    });
    Txn t(&sender_, Options());
    ASSERT_TRUE(t.Put("a", "1").ok());
    absl::Status s = t.Commit();
    EXPECT_TRUE(kv::IsAmbiguous(s)) << s;
    EXPECT_FALSE(IsRetryable(s));
    // Rolled back all the same: a rollback cannot undo a commit that happened.
    EXPECT_TRUE(IsRollback(sender_.requests().back()));
  }
}

TEST_F(TxnTest, CommitRefusedByTheServerRollsBack) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (!IsCommit(b)) return FakeSender::Ok(b);
    kvpb::Error e;
    e.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
    e.set_message("testing: refused");
    return FakeSender::Error(b, e);
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.ConditionalPut("a", "1", std::nullopt).ok());
  ASSERT_TRUE(t.Put("b", "2").ok());
  absl::Status s = t.Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(IsRetryable(s));
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 3u);
  ASSERT_TRUE(IsRollback(sent[2]));
  EXPECT_EQ(sent[2].requests(0).end_txn().lock_spans_size(), 2) << "every key written";
  EXPECT_EQ(t.Put("c", "3").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(heartbeater_.open(), 0u);
}

TEST_F(TxnTest, TransportFailureRollsBackWhatWasWritten) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (Kinds(b) == "get") return absl::UnavailableError("testing: no node answered");
    return FakeSender::Ok(b);
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.ConditionalPut("a", "1", std::nullopt).ok());
  EXPECT_EQ(t.Get("b").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsRollback(sender_.requests().back()));
}

TEST_F(TxnTest, DestructorRollsBackAnOpenTransactionThatWrote) {
  {
    Txn t(&sender_, Options());
    ASSERT_TRUE(t.Put("a", "1").ok());  // buffered only: nothing to undo
  }
  EXPECT_TRUE(sender_.requests().empty());
  {
    Txn t(&sender_, Options());
    ASSERT_TRUE(t.ConditionalPut("a", "1", std::nullopt).ok());
  }
  ASSERT_EQ(sender_.requests().size(), 2u);
  EXPECT_TRUE(IsRollback(sender_.requests()[1]));
  EXPECT_EQ(heartbeater_.open(), 0u);
}

// --- Heartbeats ---

TEST_F(TxnTest, HeartbeatsStartAtTheFirstIntentsAndStopAtTheOutcome) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());  // the transaction starts now
  ASSERT_TRUE(t.Put("a", "1").ok());
  EXPECT_EQ(heartbeater_.open(), 0u) << "no intents yet: nothing to keep alive";
  ASSERT_TRUE(t.ConditionalPut("b", "2", std::nullopt).ok());
  EXPECT_EQ(heartbeater_.open(), 1u);

  EXPECT_EQ(heartbeater_.BeatDue(), 0);
  Advance(absl::Milliseconds(999));
  EXPECT_EQ(heartbeater_.BeatDue(), 0) << "the first beat is due when the txn is 1 s old";
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(heartbeater_.BeatDue(), 1);
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_TRUE(IsHeartbeat(sent.back()));
  EXPECT_EQ(sent.back().requests(0).heartbeat_txn().key(), "a") << "the anchor's record";
  EXPECT_EQ(sent.back().header().txn().id(), t.id());
  EXPECT_TRUE(sent.back().header().txn().has_start_timestamp());
  Advance(absl::Milliseconds(500));
  EXPECT_EQ(heartbeater_.BeatDue(), 0);
  Advance(absl::Milliseconds(500));
  EXPECT_EQ(heartbeater_.BeatDue(), 1) << "then every interval";

  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(heartbeater_.open(), 0u);
  Advance(absl::Seconds(10));
  EXPECT_EQ(heartbeater_.BeatDue(), 0) << "no beat once the outcome is known";
  EXPECT_EQ(sender_.heartbeats(t.id()), 2);
}

TEST_F(TxnTest, HeartbeatFindingTheRecordAbortedStopsTheTransaction) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse r = FakeSender::Ok(b);
    if (IsHeartbeat(b))
      r.mutable_responses(0)->mutable_heartbeat_txn()->mutable_record()->set_status(kvpb::ABORTED);
    return r;
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.ConditionalPut("a", "1", std::nullopt).ok());
  Advance(absl::Seconds(1));
  EXPECT_EQ(heartbeater_.BeatDue(), 1);
  Advance(absl::Seconds(1));
  EXPECT_EQ(heartbeater_.BeatDue(), 0) << "no beat after ABORTED";
  absl::StatusOr<std::optional<std::string>> got = t.Get("b");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(IsRetryable(got.status())) << got.status();
  EXPECT_TRUE(IsRollback(sender_.requests().back()));
  EXPECT_EQ(heartbeater_.open(), 0u);
}

TEST_F(TxnTest, OldTransactionCreatesItsRecordBeforeItLaysIntents) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(t.Put("a", "1").ok());
  ASSERT_TRUE(t.Commit().ok());
  std::vector<kvpb::BatchRequest> sent = sender_.requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(Kinds(sent[0]), "get");
  EXPECT_TRUE(IsHeartbeat(sent[1])) << "a synchronous beat creates the record first";
  EXPECT_EQ(Kinds(sent[2]), "put,end_txn");
}

TEST_F(TxnTest, SynchronousBeatMovesTheNextOneAnIntervalOn) {
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(t.ConditionalPut("a", "1", std::nullopt).ok());  // beats synchronously first
  EXPECT_EQ(sender_.heartbeats(t.id()), 1);
  EXPECT_EQ(heartbeater_.BeatDue(), 0) << "the synchronous beat was the one due";
  Advance(absl::Seconds(1));
  EXPECT_EQ(heartbeater_.BeatDue(), 1);
}

TEST_F(TxnTest, OldTransactionWhoseRecordIsAbortedLaysNoIntent) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    kvpb::BatchResponse r = FakeSender::Ok(b);
    if (IsHeartbeat(b))
      r.mutable_responses(0)->mutable_heartbeat_txn()->mutable_record()->set_status(kvpb::ABORTED);
    return r;
  });
  Txn t(&sender_, Options());
  ASSERT_TRUE(t.Get("x").ok());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(t.Put("a", "1").ok());
  absl::Status s = t.Commit();
  EXPECT_TRUE(IsRetryable(s)) << s;
  for (const kvpb::BatchRequest& b : sender_.requests()) {
    EXPECT_EQ(Kinds(b).find("put"), std::string::npos) << "an intent was sent: " << Kinds(b);
  }
}

// --- RunTransaction ---

class RunTransactionTest : public TxnTest {
 protected:
  TxnOptions RunOptions(int max_attempts) {
    TxnOptions o = Options();
    o.max_attempts = max_attempts;
    o.retry_backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(40)};
    o.sleep_for = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
    return o;
  }
  // Every Get is refused with a retryable error while failures_ > 0.
  void FailGets(int n) {
    failures_ = n;
    sender_.SetHandler([this](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
      if (Kinds(b) == "get" && failures_-- > 0) {
        return FakeSender::Error(
            b, FakeSender::RetryError(kvpb::TransactionRetryError::SERIALIZATION));
      }
      return FakeSender::Ok(b);
    });
  }
  static absl::Status ReadAndWrite(Txn& t) {
    absl::StatusOr<std::optional<std::string>> got = t.Get("x");
    if (!got.ok()) return got.status();
    return t.Put("x", "1");
  }

  std::vector<std::chrono::milliseconds> sleeps_;
  int failures_ = 0;
};

TEST_F(RunTransactionTest, RetriesARetryableErrorUpToTheBoundWithBackoff) {
  FailGets(1000);
  int attempts = 0;
  absl::Status s = RunTransaction(&sender_, ReadAndWrite, RunOptions(4), &attempts);
  EXPECT_TRUE(IsRetryable(s)) << s;
  EXPECT_EQ(attempts, 4);
  ASSERT_EQ(sleeps_.size(), 3u) << "a backoff between attempts, none after the last";
  // Full jitter: delay n is uniform in [initial/2, min(max, initial * 2^n)].
  const int64_t ceilings[] = {10, 20, 40};
  for (size_t i = 0; i < sleeps_.size(); ++i) {
    EXPECT_GE(sleeps_[i].count(), 5) << i;
    EXPECT_LE(sleeps_[i].count(), ceilings[i]) << i;
  }
}

TEST_F(RunTransactionTest, SucceedsOnALaterAttempt) {
  FailGets(2);
  int attempts = 0;
  ASSERT_TRUE(RunTransaction(&sender_, ReadAndWrite, RunOptions(10), &attempts).ok());
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(sleeps_.size(), 2u);
  EXPECT_TRUE(IsCommit(sender_.requests().back()));
}

TEST_F(RunTransactionTest, StopsAtTheFirstNonRetryableError) {
  int attempts = 0;
  int calls = 0;
  absl::Status s = RunTransaction(
      &sender_,
      [&](Txn&) {
        ++calls;
        return absl::InvalidArgumentError("testing: bad input");
      },
      RunOptions(10), &attempts);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RunTransactionTest, DoesNotRetryAnAmbiguousCommit) {
  sender_.SetHandler([](const kvpb::BatchRequest& b) -> absl::StatusOr<kvpb::BatchResponse> {
    if (IsCommit(b)) return kv::AmbiguousError("testing: connection lost");
    return FakeSender::Ok(b);
  });
  int attempts = 0;
  absl::Status s = RunTransaction(&sender_, ReadAndWrite, RunOptions(10), &attempts);
  EXPECT_TRUE(kv::IsAmbiguous(s)) << s;
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(sleeps_.empty());
}

// --- Threads: one heartbeat pool, not a thread per transaction ---

// Threads of this process now.
int ThreadCount() {
  int n = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  for (dirent* e = readdir(dir); e != nullptr; e = readdir(dir)) n += e->d_name[0] != '.' ? 1 : 0;
  closedir(dir);
  return n;
}

TEST(TxnThreadsTest, ThousandOpenTransactionsRunABoundedNumberOfThreads) {
  constexpr int kTxns = 1000;
  constexpr int kMaxThreads = 4;
  FakeSender sender;
  Heartbeater heartbeater(HeartbeaterOptions{.max_threads = kMaxThreads});
  TxnOptions o;
  o.heartbeater = &heartbeater;
  o.heartbeat_interval = absl::Milliseconds(20);
  const int before = ThreadCount();
  ASSERT_GT(before, 0);
  std::vector<std::unique_ptr<Txn>> txns;
  for (int i = 0; i < kTxns; ++i) {
    txns.push_back(std::make_unique<Txn>(&sender, o));
    ASSERT_TRUE(txns.back()->ConditionalPut("k" + std::to_string(i), "v", std::nullopt).ok());
  }
  EXPECT_EQ(heartbeater.open(), static_cast<size_t>(kTxns));
  // Every record gets its beats (bounded wait), while the thread count stays put.
  int most = ThreadCount();
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (sender.transactions_heartbeated() < static_cast<size_t>(kTxns) && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
    most = std::max(most, ThreadCount());
  }
  for (const std::unique_ptr<Txn>& t : txns) {
    EXPECT_GE(sender.heartbeats(t->id()), 1) << "a record was never heartbeated";
  }
  std::cout << "threads: " << before << " before, at most " << most << " with " << kTxns
            << " open transactions (pool: " << heartbeater.threads() << ", beats sent "
            << heartbeater.beats_sent() << ")\n";
  // ThreadSanitizer's runtime starts a background thread of its own once the
  // process has threads to watch; it is not ours.
#if defined(__SANITIZE_THREAD__)
  constexpr int kRuntimeThreads = 1;
#else
  constexpr int kRuntimeThreads = 0;
#endif
  EXPECT_LE(most, before + kMaxThreads + kRuntimeThreads);
  EXPECT_LE(heartbeater.threads(), static_cast<size_t>(kMaxThreads));
  for (std::unique_ptr<Txn>& t : txns) ASSERT_TRUE(t->Commit().ok());
  EXPECT_EQ(heartbeater.open(), 0u);
}

}  // namespace
}  // namespace rangedb::txn
