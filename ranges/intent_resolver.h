// IntentResolver: resolves a finished transaction's intents on other ranges after
// its EndTxn applied (docs/transactions.md, "After the commit point").
//
// Resolution is an optimisation, never needed for correctness: a reader that meets
// an intent of a finished transaction pushes its record, learns the outcome and
// resolves the intent itself. So the queue may drop work when full, and a task that
// keeps failing is given up after kMaxAttempts (with jittered backoff between them).
//
// Bounds: at most kMaxQueuedTasks tasks queued; one worker thread; every RPC has a
// deadline of kRpcTimeout.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"

namespace rangedb::ranges {

// Sends a batch routed by key (header.range_id == 0), like a gateway.
using KeySender = std::function<kvpb::BatchResponse(const kvpb::BatchRequest&, absl::Time)>;

class IntentResolver {
 public:
  static constexpr size_t kMaxQueuedTasks = 10000;
  static constexpr int kMaxAttempts = 5;
  static constexpr absl::Duration kRpcTimeout = absl::Seconds(5);

  explicit IntentResolver(KeySender sender);
  ~IntentResolver();  // stops the worker; queued tasks are dropped

  // Queues the resolution of finished's intents in spans. False if the queue is full.
  bool Enqueue(const kvpb::Transaction& finished, std::vector<kvpb::Span> spans);

  uint64_t resolved_spans() const { return resolved_.load(); }
  uint64_t dropped_tasks() const { return dropped_.load(); }

 private:
  struct Task {
    kvpb::Transaction txn;
    kvpb::Span span;
  };
  void Run();
  // Resolves one span completely (a span resolves at most kMaxKeysPerSpanWrite keys
  // per request, so it repeats while requests come back full). OK or the last error.
  absl::Status ResolveSpan(const Task& task);

  const KeySender sender_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> resolved_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread worker_;
};

}  // namespace rangedb::ranges
