// Exactly-once writes at the leaseholder (ranges/idempotency.h, docs/kv-api.md):
// what a leaseholder refuses up front, and record expiry that a wall-clock jump
// cannot hurry. Issue 14, findings 10 and 12.
#include "ranges/idempotency.h"

#include <string>

#include "gtest/gtest.h"
#include "ranges/testing/test_cluster.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;  // [\x04, KeyMax)

kvpb::BatchRequest Increment(const std::string& client_id, uint64_t sequence, int64_t delta,
                             uint64_t retry_window_ms = 0) {
  kvpb::BatchRequest inc;
  auto* i = inc.add_requests()->mutable_increment();
  i->set_key("\x04n");
  i->set_delta(delta);
  kvpb::IdempotencyKey* key = inc.mutable_header()->mutable_idempotency_key();
  key->set_client_id(client_id);
  key->set_sequence(sequence);
  key->set_retry_window_ms(retry_window_ms);
  inc.mutable_header()->set_range_id(kUserRange);
  return inc;
}

// Sends to the range's leaseholder (found by a warm-up read), once.
kvpb::BatchResponse SendOnce(TestCluster& c, const kvpb::BatchRequest& req) {
  EXPECT_FALSE(c.Send(kUserRange, GetRequest("\x04n")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  EXPECT_NE(lh, 0u);
  return c.StoreOf(lh)->Send(req, absl::Now() + absl::Seconds(5));
}

std::string Value(TestCluster& c) {
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04n"));
  EXPECT_FALSE(got.has_error()) << got.error().message();
  return got.responses(0).get().found() ? got.responses(0).get().value() : "<absent>";
}

TEST(IdempotencyTest, RetryWindowLongerThanHalfTheRecordLifetimeIsRefusedUpFront) {
  StoreConfig cfg = FastStoreConfig();
  cfg.idempotency_record_ttl = absl::Seconds(10);
  TestCluster c(3, cfg);
  kvpb::BatchResponse refused = SendOnce(c, Increment("client-a", 1, 5, /*window=*/6000));
  ASSERT_TRUE(refused.has_error());
  EXPECT_EQ(refused.error().code(), static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(refused.error().message().find("retry window"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(Value(c), "<absent>");  // nothing written
  kvpb::BatchResponse ok = SendOnce(c, Increment("client-a", 2, 5, /*window=*/5000));
  ASSERT_FALSE(ok.has_error()) << ok.error().message();
  EXPECT_EQ(Value(c), "5");
}

// Before the fix, record keys kept the first 255 bytes of the client id: two clients
// sharing them shared records, and the second one's write was answered with the
// first one's response without being applied.
TEST(IdempotencyTest, OverlongClientIdsAreRefusedNotTruncated) {
  TestCluster c(3, FastStoreConfig());
  const std::string a = std::string(255, 'x') + "client-a";
  const std::string b = std::string(255, 'x') + "client-b";
  kvpb::BatchResponse first = SendOnce(c, Increment(a, 1, 5));
  kvpb::BatchResponse second = SendOnce(c, Increment(b, 1, 7));
  ASSERT_TRUE(first.has_error());
  ASSERT_TRUE(second.has_error());
  EXPECT_EQ(second.error().code(), static_cast<int32_t>(absl::StatusCode::kInvalidArgument))
      << second.error().message();
  EXPECT_EQ(Value(c), "<absent>");
  // At the limit it works, and distinct ids stay distinct.
  const std::string a64 = std::string(63, 'y') + "a";
  const std::string b64 = std::string(63, 'y') + "b";
  ASSERT_FALSE(SendOnce(c, Increment(a64, 1, 5)).has_error());
  ASSERT_FALSE(SendOnce(c, Increment(b64, 1, 7)).has_error());
  EXPECT_EQ(Value(c), "12");
}

// The whole cluster's wall clock jumps an hour forward (a bad NTP server). A record
// written just before must still answer a retry: expiry follows the HLC, but never
// faster than twice the real time passing at the leaseholder, so a record lives at
// least half its lifetime (5 s here), which is as long as a retry may come.
TEST(IdempotencyTest, RecordsSurviveAForwardJumpOfTheWallClock) {
  StoreConfig cfg = FastStoreConfig();
  cfg.idempotency_record_ttl = absl::Seconds(10);
  TestCluster c(3, cfg);
  kvpb::BatchResponse first = SendOnce(c, Increment("client-a", 1, 5));
  ASSERT_FALSE(first.has_error()) << first.error().message();
  for (uint64_t id = 1; id <= 3; ++id) c.StepWallClock(id, absl::Hours(1));
  // Several housekeeping rounds (every 10 ticks of 20 ms), with the range kept awake.
  for (int i = 0; i < 10; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    (void)c.Send(kUserRange, GetRequest("\x04n"));
  }
  kvpb::BatchResponse retry = SendOnce(c, Increment("client-a", 1, 5));
  ASSERT_FALSE(retry.has_error()) << retry.error().message();
  EXPECT_EQ(retry.responses(0).increment().new_value(), 5);  // the recorded answer
  EXPECT_EQ(Value(c), "5");                                  // applied once
}

// The same jump, and then the leaseholder stops: the new leaseholder's lease starts an
// hour "later", yet it must keep the record. Before the fix a range that had never
// expired a record had no replicated cutoff, so the new leaseholder started from its
// lease's start minus the lifetime and deleted the record at once: the retry applied
// the increment a second time. CI caught it in the test above when a lease moved by
// itself (new_value 10, not 5).
TEST(IdempotencyTest, RecordsSurviveAForwardJumpAndThenANewLeaseholder) {
  StoreConfig cfg = FastStoreConfig();
  cfg.idempotency_record_ttl = absl::Seconds(10);
  TestCluster c(3, cfg);
  kvpb::BatchResponse first = SendOnce(c, Increment("client-a", 1, 5));
  ASSERT_FALSE(first.has_error()) << first.error().message();
  for (uint64_t id = 1; id <= 3; ++id) c.StepWallClock(id, absl::Hours(1));
  const uint64_t old_leaseholder = c.LeaseholderOf(kUserRange);
  ASSERT_NE(old_leaseholder, 0u);
  c.StopNode(old_leaseholder);
  for (int i = 0; i < 10; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    (void)c.Send(kUserRange, GetRequest("\x04n"));
  }
  ASSERT_NE(c.LeaseholderOf(kUserRange), old_leaseholder);
  kvpb::BatchResponse retry = SendOnce(c, Increment("client-a", 1, 5));
  ASSERT_FALSE(retry.has_error()) << retry.error().message();
  EXPECT_EQ(retry.responses(0).increment().new_value(), 5);
  EXPECT_EQ(Value(c), "5");
}

// Records still expire once real time passes their lifetime, under a new leaseholder
// too: the replicated cutoff is refreshed even when nothing was deleted.
TEST(IdempotencyTest, RecordsExpireUnderANewLeaseholderOnceTheirLifetimePassed) {
  StoreConfig cfg = FastStoreConfig();
  cfg.idempotency_record_ttl = absl::Milliseconds(400);
  TestCluster c(3, cfg);
  kvpb::BatchResponse first = SendOnce(c, Increment("client-a", 1, 5));
  ASSERT_FALSE(first.has_error()) << first.error().message();
  const uint64_t old_leaseholder = c.LeaseholderOf(kUserRange);
  c.StopNode(old_leaseholder);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::string value = "5";
  while (value != "10" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    // Once the record expired the same key is a new write (past its retry window).
    kvpb::BatchResponse again = SendOnce(c, Increment("client-a", 1, 5));
    if (again.has_error()) continue;
    value = Value(c);
  }
  EXPECT_EQ(value, "10");
}

TEST(IdempotencyTest, CheckNamesTheLimits) {
  kvpb::IdempotencyKey key;
  key.set_client_id(std::string(65, 'c'));
  absl::Status s = CheckIdempotencyKey(key, absl::InfiniteDuration());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("65 bytes"), std::string::npos) << s;
  key.set_client_id("c");
  key.set_retry_window_ms(3'600'000);
  EXPECT_TRUE(CheckIdempotencyKey(key, absl::InfiniteDuration()).ok());
  s = CheckIdempotencyKey(key, absl::Minutes(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1h"), std::string::npos) << s;
  key.set_retry_window_ms(0);  // not stated
  EXPECT_TRUE(CheckIdempotencyKey(key, absl::Minutes(10)).ok());
}

}  // namespace
}  // namespace rangedb::ranges
