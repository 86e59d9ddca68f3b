#include "ranges/intent_resolver.h"

#include <pthread.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "ranges/evaluate.h"
#include "spdlog/spdlog.h"

namespace rangedb::ranges {

IntentResolver::IntentResolver(KeySender sender, absl::Duration testing_start_delay,
                               TimeSource* time)
    : sender_(std::move(sender)), testing_start_delay_(testing_start_delay), time_(time) {
  worker_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "intent-resolver");
    Run();
  });
}

IntentResolver::~IntentResolver() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

bool IntentResolver::Enqueue(const kvpb::Transaction& finished, std::vector<kvpb::Span> spans) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() + spans.size() > kMaxQueuedTasks) {
    dropped_.fetch_add(1);
    return false;
  }
  kvpb::Transaction txn = finished;
  txn.clear_lock_spans();
  const absl::Time not_before = time_->Now() + testing_start_delay_;
  for (kvpb::Span& s : spans) queue_.push_back(Task{txn, std::move(s), not_before});
  return true;
}

void IntentResolver::Run() {
  for (;;) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      // Only in tests: hold the task (stopping_ ends the wait).
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (time_->AwaitWithDeadline(&mu_, absl::Condition(&stopping), task.not_before)) return;
    }
    Backoff backoff({std::chrono::milliseconds(50), std::chrono::milliseconds(1000)});
    absl::Status s;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      s = ResolveSpanFully(sender_, task.txn, task.span, time_->Now() + kRpcTimeout * 10,
                           kRpcTimeout, time_);
      if (s.ok()) break;
      // The backoff, cut short by stopping (so a stop never waits on a manual time
      // source nobody advances).
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (time_->AwaitWithTimeout(&mu_, absl::Condition(&stopping),
                                  absl::FromChrono(backoff.Next()))) {
        return;
      }
    }
    if (s.ok()) {
      resolved_.fetch_add(1);
    } else {
      // Not a correctness problem: readers resolve what they meet (header comment).
      spdlog::warn("intent resolver: gave up on a span of transaction {}: {}",
                   absl::BytesToHexString(task.txn.id()), s.ToString());
    }
  }
}

absl::Status ResolveSpanFully(const KeySender& sender, const kvpb::Transaction& finished,
                              const kvpb::Span& span, absl::Time deadline,
                              absl::Duration rpc_timeout, TimeSource* time) {
  std::string from = span.key();
  // Bounded: each page resolves kMaxKeysPerSpanWrite keys or ends the span.
  for (int page = 0; page < kMaxPagesPerSpan; ++page) {
    if (time->Now() >= deadline) {
      return absl::DeadlineExceededError("resolving a span: deadline reached with intents left");
    }
    kvpb::BatchRequest batch;
    kvpb::ResolveIntentRequest* r = batch.add_requests()->mutable_resolve_intent();
    r->set_key(from);
    r->set_end_key(span.end_key());
    *r->mutable_txn() = finished;
    r->mutable_txn()->clear_lock_spans();
    kvpb::BatchResponse resp = sender(batch, std::min(deadline, time->Now() + rpc_timeout));
    if (resp.has_error()) return FromError(resp.error());
    if (resp.responses_size() != 1) {
      return absl::InternalError("malformed ResolveIntent response: no result");
    }
    const std::string& resume = resp.responses(0).resolve_intent().resume_key();
    if (span.end_key().empty() || resume.empty()) return absl::OkStatus();
    if (resume <= from || resume >= span.end_key()) {
      return absl::InternalError(absl::StrCat("malformed ResolveIntent response: resume key ",
                                              absl::CHexEscape(resume), " outside the span"));
    }
    from = resume;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("span still holds intents after ", kMaxPagesPerSpan, " pages"));
}

absl::Status ResolveSpanOnce(const KeySender& sender, const kvpb::Transaction& finished,
                             const kvpb::Span& span, absl::Time deadline) {
  kvpb::BatchRequest batch;
  kvpb::ResolveIntentRequest* r = batch.add_requests()->mutable_resolve_intent();
  r->set_key(span.key());
  r->set_end_key(span.end_key());
  *r->mutable_txn() = finished;
  r->mutable_txn()->clear_lock_spans();
  kvpb::BatchResponse resp = sender(batch, deadline);
  return resp.has_error() ? FromError(resp.error()) : absl::OkStatus();
}

}  // namespace rangedb::ranges
