#include "ranges/intent_resolver.h"

#include <atomic>
#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "ranges/evaluate.h"

namespace rangedb::ranges {
namespace {

kvpb::Span Span(const std::string& key, const std::string& end = "") {
  kvpb::Span s;
  s.set_key(key);
  s.set_end_key(end);
  return s;
}

kvpb::Transaction Committed() {
  kvpb::Transaction t;
  t.set_id(std::string(16, 't'));
  t.set_status(kvpb::COMMITTED);
  t.add_lock_spans()->set_key("not sent along");
  return t;
}

// Records what the resolver sends; fails the first `failures` calls.
struct FakeSender {
  absl::Mutex mu;
  std::vector<kvpb::ResolveIntentRequest> sent ABSL_GUARDED_BY(mu);
  int failures ABSL_GUARDED_BY(mu) = 0;
  int64_t resolved_per_call ABSL_GUARDED_BY(mu) = 1;
  // Resume keys the next calls answer with, in order ("" or none left: done).
  std::deque<std::string> resume_keys ABSL_GUARDED_BY(mu);

  kvpb::BatchResponse Send(const kvpb::BatchRequest& request) {
    absl::MutexLock lock(&mu);
    kvpb::BatchResponse resp;
    sent.push_back(request.requests(0).resolve_intent());
    if (failures > 0) {
      --failures;
      *resp.mutable_error() = ToError(absl::UnavailableError("no leaseholder"));
      return resp;
    }
    kvpb::ResolveIntentResponse* r = resp.add_responses()->mutable_resolve_intent();
    r->set_resolved(resolved_per_call);
    if (!resume_keys.empty()) {
      r->set_resume_key(resume_keys.front());
      resume_keys.pop_front();
    }
    return resp;
  }
  size_t Count() {
    absl::MutexLock lock(&mu);
    return sent.size();
  }
};

bool WaitFor(const std::function<bool()>& done) {
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (!done() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  return done();
}

TEST(IntentResolverTest, ResolvesEverySpanWithTheFinishedTransaction) {
  FakeSender fake;
  IntentResolver resolver([&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); });
  ASSERT_TRUE(resolver.Enqueue(Committed(), {Span("a"), Span("m", "p")}));
  ASSERT_TRUE(WaitFor([&] { return resolver.resolved_spans() == 2; }));
  absl::MutexLock lock(&fake.mu);
  ASSERT_EQ(fake.sent.size(), 2u);
  EXPECT_EQ(fake.sent[0].key(), "a");
  EXPECT_EQ(fake.sent[1].end_key(), "p");
  EXPECT_EQ(fake.sent[0].txn().status(), kvpb::COMMITTED);
  EXPECT_EQ(fake.sent[0].txn().lock_spans_size(), 0);  // the spans are the requests
}

TEST(IntentResolverTest, RetriesAFailingSpanWithBackoff) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.failures = 2;
  }
  IntentResolver resolver([&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); });
  ASSERT_TRUE(resolver.Enqueue(Committed(), {Span("a")}));
  ASSERT_TRUE(WaitFor([&] { return resolver.resolved_spans() == 1; }));
  EXPECT_EQ(fake.Count(), 3u);
}

TEST(IntentResolverTest, GivesUpAfterMaxAttempts) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.failures = 1000;
  }
  IntentResolver resolver([&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); });
  ASSERT_TRUE(resolver.Enqueue(Committed(), {Span("a"), Span("b")}));
  // The second span is tried only after the first was given up.
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&fake.mu);
    return !fake.sent.empty() && fake.sent.back().key() == "b";
  }));
  absl::MutexLock lock(&fake.mu);
  int tries_of_a = 0;
  for (const auto& r : fake.sent) tries_of_a += r.key() == "a" ? 1 : 0;
  EXPECT_EQ(tries_of_a, IntentResolver::kMaxAttempts);
  EXPECT_EQ(resolver.resolved_spans(), 0u);
}

TEST(IntentResolverTest, FollowsResumeKeysToTheEndOfTheSpan) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.resolved_per_call = kMaxKeysPerSpanWrite;
    fake.resume_keys = {"f", "q"};  // two full pages, then the rest
  }
  IntentResolver resolver([&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); });
  ASSERT_TRUE(resolver.Enqueue(Committed(), {Span("a", "z")}));
  ASSERT_TRUE(WaitFor([&] { return resolver.resolved_spans() == 1; }));
  absl::MutexLock lock(&fake.mu);
  ASSERT_EQ(fake.sent.size(), 3u);
  EXPECT_EQ(fake.sent[0].key(), "a");
  EXPECT_EQ(fake.sent[1].key(), "f");
  EXPECT_EQ(fake.sent[2].key(), "q");
  for (const auto& r : fake.sent) EXPECT_EQ(r.end_key(), "z");
}

TEST(ResolveSpanTest, FullyIsOkOnlyWhenNoPageIsLeft) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.resume_keys = {"c", "d"};
    fake.failures = 0;
  }
  KeySender sender = [&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); };
  EXPECT_TRUE(
      ResolveSpanFully(sender, Committed(), Span("a", "z"), absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(fake.Count(), 3u);
  // A failing page fails the whole span: the caller must not think it done.
  {
    absl::MutexLock lock(&fake.mu);
    fake.resume_keys = {"c"};
    fake.sent.clear();
  }
  FakeSender failing;
  KeySender flaky = [&](const kvpb::BatchRequest& r, absl::Time) {
    if (fake.Count() == 1) return failing.Send(r);  // the second page
    return fake.Send(r);
  };
  {
    absl::MutexLock lock(&failing.mu);
    failing.failures = 1;
  }
  EXPECT_FALSE(
      ResolveSpanFully(flaky, Committed(), Span("a", "z"), absl::Now() + absl::Seconds(5)).ok());
}

TEST(ResolveSpanTest, AResumeKeyOutsideTheSpanIsAnError) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.resume_keys = {"a"};  // not past the start: would loop forever
  }
  KeySender sender = [&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); };
  absl::Status s =
      ResolveSpanFully(sender, Committed(), Span("a", "z"), absl::Now() + absl::Seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
}

TEST(ResolveSpanTest, OnceSendsOnePageWhateverIsLeft) {
  FakeSender fake;
  {
    absl::MutexLock lock(&fake.mu);
    fake.resume_keys = {"m"};
  }
  KeySender sender = [&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); };
  EXPECT_TRUE(
      ResolveSpanOnce(sender, Committed(), Span("a", "z"), absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(fake.Count(), 1u);
}

TEST(IntentResolverTest, TheTestingStartDelayHoldsTasksUntilStop) {
  FakeSender fake;
  {
    IntentResolver resolver([&](const kvpb::BatchRequest& r, absl::Time) { return fake.Send(r); },
                            /*testing_start_delay=*/absl::Hours(1));
    ASSERT_TRUE(resolver.Enqueue(Committed(), {Span("a")}));
    absl::SleepFor(absl::Milliseconds(100));
  }  // the destructor ends the wait: the task is lost, as in a crash
  EXPECT_EQ(fake.Count(), 0u);
}

TEST(IntentResolverTest, AFullQueueRefusesWork) {
  absl::Notification release;
  IntentResolver resolver([&](const kvpb::BatchRequest&, absl::Time) {
    release.WaitForNotification();  // the worker is stuck on the first span
    kvpb::BatchResponse resp;
    resp.add_responses()->mutable_resolve_intent();
    return resp;
  });
  std::vector<kvpb::Span> many(IntentResolver::kMaxQueuedTasks, Span("k"));
  EXPECT_TRUE(resolver.Enqueue(Committed(), many));
  EXPECT_FALSE(resolver.Enqueue(Committed(), {Span("one more"), Span("and another")}));
  EXPECT_GE(resolver.dropped_tasks(), 1u);
  release.Notify();
}

}  // namespace
}  // namespace rangedb::ranges
