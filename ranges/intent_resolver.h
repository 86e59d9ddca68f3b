// IntentResolver: resolves a finished transaction's intents on other ranges after
// its EndTxn applied (docs/transactions.md, "After the commit point").
//
// Resolution is an optimisation, never needed for correctness: a reader that meets
// an intent of a finished transaction pushes its record, learns the outcome and
// resolves the intent itself, and the GC pass resolves every intent a record lists
// before it removes the record. So the queue may drop work when full (or lose it in
// a crash), and a task that keeps failing is given up after kMaxAttempts (with
// jittered backoff between them).
//
// Bounds: at most kMaxQueuedTasks tasks queued; one worker thread; every RPC has a
// deadline of kRpcTimeout; a span takes at most kMaxPagesPerSpan requests.
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
#include "base/time_source.h"
#include "proto/kv.pb.h"

namespace rangedb::ranges {

// Sends a batch routed by key (header.range_id == 0), like a gateway.
using KeySender = std::function<kvpb::BatchResponse(const kvpb::BatchRequest&, absl::Time)>;

// A span resolves at most kMaxKeysPerSpanWrite keys per ResolveIntent; this many
// pages (10 million keys) bound one span's resolution.
inline constexpr int kMaxPagesPerSpan = 1000;

// Resolves finished's intents in span completely: one ResolveIntent per page,
// following each response's resume key to the span's end (bounded by
// kMaxPagesPerSpan and deadline; each request's deadline is at most
// min(deadline, time->Now() + rpc_timeout)). OK only when no intent of finished is left in
// span; else the first error (ResourceExhausted after kMaxPagesPerSpan pages).
[[nodiscard]] absl::Status ResolveSpanFully(const KeySender& sender,
                                            const kvpb::Transaction& finished,
                                            const kvpb::Span& span, absl::Time deadline,
                                            absl::Duration rpc_timeout = absl::Seconds(5),
                                            TimeSource* time = TimeSource::Real());
// TESTING ONLY — the planted bug behind StoreConfig::testing_gc_unresolved_records:
// one request, ignoring its resume key (at most one page resolved).
[[nodiscard]] absl::Status ResolveSpanOnce(const KeySender& sender,
                                           const kvpb::Transaction& finished,
                                           const kvpb::Span& span, absl::Time deadline);

class IntentResolver {
 public:
  static constexpr size_t kMaxQueuedTasks = 10000;
  static constexpr int kMaxAttempts = 5;
  static constexpr absl::Duration kRpcTimeout = absl::Seconds(5);

  // testing_start_delay (StoreConfig::testing_intent_resolution_delay): each task
  // waits this long before its first attempt, so a test can lose the queue (kill
  // the node) deterministically. Zero outside tests. Delays, backoffs and deadlines
  // are measured by time (base/time_source.h), which must outlive the resolver.
  explicit IntentResolver(KeySender sender,
                          absl::Duration testing_start_delay = absl::ZeroDuration(),
                          TimeSource* time = TimeSource::Real());
  ~IntentResolver();  // stops the worker; queued tasks are dropped

  // Queues the resolution of finished's intents in spans. False if the queue is full.
  bool Enqueue(const kvpb::Transaction& finished, std::vector<kvpb::Span> spans);

  uint64_t resolved_spans() const { return resolved_.load(); }
  uint64_t dropped_tasks() const { return dropped_.load(); }

 private:
  struct Task {
    kvpb::Transaction txn;
    kvpb::Span span;
    absl::Time not_before;  // testing_start_delay after it was queued
  };
  void Run();
  const KeySender sender_;
  const absl::Duration testing_start_delay_;
  TimeSource* const time_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> resolved_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread worker_;
};

}  // namespace rangedb::ranges
