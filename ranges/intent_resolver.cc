#include "ranges/intent_resolver.h"

#include <pthread.h>

#include "absl/strings/escaping.h"
#include "client/backoff.h"
#include "ranges/evaluate.h"
#include "spdlog/spdlog.h"

namespace rangedb::ranges {

IntentResolver::IntentResolver(KeySender sender) : sender_(std::move(sender)) {
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
  for (kvpb::Span& s : spans) queue_.push_back(Task{txn, std::move(s)});
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
    }
    Backoff backoff({std::chrono::milliseconds(50), std::chrono::milliseconds(1000)});
    absl::Status s;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      s = ResolveSpan(task);
      if (s.ok()) break;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      std::this_thread::sleep_for(backoff.Next());
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

absl::Status IntentResolver::ResolveSpan(const Task& task) {
  // Bounded: each round resolves kMaxKeysPerSpanWrite keys or finishes.
  for (int round = 0; round < 1000; ++round) {
    kvpb::BatchRequest batch;
    kvpb::ResolveIntentRequest* r = batch.add_requests()->mutable_resolve_intent();
    r->set_key(task.span.key());
    r->set_end_key(task.span.end_key());
    *r->mutable_txn() = task.txn;
    kvpb::BatchResponse resp = sender_(batch, absl::Now() + kRpcTimeout);
    if (resp.has_error()) return FromError(resp.error());
    int64_t resolved = 0;
    for (const kvpb::ResponseUnion& u : resp.responses()) resolved += u.resolve_intent().resolved();
    if (task.span.end_key().empty() || resolved < kMaxKeysPerSpanWrite) return absl::OkStatus();
  }
  return absl::ResourceExhaustedError("span still holds intents after 1000 rounds");
}

}  // namespace rangedb::ranges
