// SqlRequestStream: the requests of one SQL session stream, as the thread that runs
// them sees them — the next request to run, with cancels acted on.
//
// The thread that runs the session's statements also reads its requests: between
// two requests it calls Next(), which reads from the stream itself. So a short
// request (the common point SELECT or INSERT) passes from gRPC to the session on one
// thread, with no hand-off through a queue and no wake-up of a second thread — on a
// 2-core machine such hand-offs cost more CPU than the statement's SQL.
//
// While a request runs, nobody reads the stream, so a cancel (or the client going
// away) would not be seen. A LongRequestWatch ticks every few milliseconds; when a
// request has run longer than `grace`, OnTick hands the reading to a listener thread
// (started the first time it is needed, then kept for the session's life). The
// listener reads: a cancel interrupts the running statement at once; a client that
// goes away interrupts it too; a new request (a client may pipeline) is queued,
// bounded by kMaxQueued. The listener gives the reading back with the first request
// it reads while no request runs. So a cancel reaches a statement that runs longer
// than `grace` within about grace + the watch's period, and a cancel that arrives
// while no statement runs is dropped (as the SQL service documents).
//
// The same ticks enforce each request's timeout_ms, counted on the node's injected
// time from when Next returns the request: past it, the running statement is
// interrupted (57014) at every tick until the request ends — an interrupt that lands
// between two statements, or before SQLite's first step, is cleared when the next
// statement starts, so one would not be enough — and timed_out() says so. A timeout
// is thus kept to within the watch's period, with no per-request timer and no
// thread woken to arm one. The grace, by contrast, is measured on `tick_clock` (the
// real clock in the service): see LongRequestWatch.
//
// A cancel that arrives in a request's first `grace` waits until the listener
// reads it; if the request ends before that, the cancel arrives while nothing runs
// and is dropped.
//
// Thread safety: Next, client_gone, timed_out and the destructor are called by the one thread
// that runs the session's requests; OnTick by the watch's thread; the listener is
// internal. gRPC allows one Read concurrent with one Write on a stream, and only one
// thread reads at a time here: the runner in Next while no request runs and the
// listener does not read, the listener otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "grpcpp/support/sync_stream.h"
#include "node/long_request_watch.h"
#include "proto/sql.pb.h"

namespace rangedb {

class SqlRequestStream final : public LongRequestWatch::Client {
 public:
  using Stream = grpc::ServerReaderWriterInterface<sqlpb::SqlResponse, sqlpb::SqlRequest>;

  static constexpr size_t kMaxQueued = 16;

  struct Hooks {
    std::function<void()> interrupt;     // stops the running statement (57014); any thread
    std::function<bool()> is_cancelled;  // whether the call was cancelled (the client went away)
    std::function<void()> cancel_call;   // cancels the call: ends a Read blocked in the listener
  };

  // Registers with watch (if not null; tests may call OnTick themselves). time keeps
  // timeouts, tick_clock the grace.
  // REQUIRES: stream, time, tick_clock and watch outlive this.
  SqlRequestStream(Stream* stream, TimeSource* time, TimeSource* tick_clock,
                   LongRequestWatch* watch, absl::Duration grace, Hooks hooks);
  // Leaves the watch and stops the listener (cancelling the call if the listener is
  // blocked in Read).
  ~SqlRequestStream() override;
  SqlRequestStream(const SqlRequestStream&) = delete;
  SqlRequestStream& operator=(const SqlRequestStream&) = delete;

  // The previous request (if any) has ended; blocks for the next one to run, never a
  // cancel. nullopt when the client closed its side or went away (and every queued
  // request was returned).
  std::optional<sqlpb::SqlRequest> Next();
  // Whether the client went away (the call was cancelled while reading).
  bool client_gone() const { return client_gone_.load(); }
  // Whether the running request's timeout_ms passed and interrupted it.
  bool timed_out() const;

  // Interrupts a request past its timeout; hands the reading to the listener if a
  // request has run longer than grace (if the listener thread cannot be started,
  // logs it and tries again at the next tick).
  void OnTick() override;

  // For tests: whether the listener thread was ever started; whether a request runs
  // (from Next's return until the next call of Next).
  bool listener_started() const;
  bool running() const;

 private:
  void Listen();
  // Reads a request on the runner's thread; cancels are dropped (nothing runs).
  std::optional<sqlpb::SqlRequest> ReadOwn();
  void StartRunning(const sqlpb::SqlRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream ended (Read returned false).
  void NoteClosed();

  Stream* const stream_;
  TimeSource* const time_;
  TimeSource* const tick_clock_;
  LongRequestWatch* const watch_;
  const int64_t grace_nanos_;
  const Hooks hooks_;
  std::atomic<bool> client_gone_{false};

  mutable absl::Mutex mu_;
  std::deque<sqlpb::SqlRequest> queue_ ABSL_GUARDED_BY(mu_);  // read by the listener
  bool running_ ABSL_GUARDED_BY(mu_) = false;                 // a request runs
  int64_t started_tick_nanos_ ABSL_GUARDED_BY(mu_) = 0;       // when it started (tick_clock_)
  int64_t deadline_nanos_ ABSL_GUARDED_BY(mu_) = 0;           // time_; 0: no timeout
  bool timed_out_ ABSL_GUARDED_BY(mu_) = false;
  bool listener_reads_ ABSL_GUARDED_BY(mu_) = false;  // the listener owns reading
  bool closed_ ABSL_GUARDED_BY(mu_) = false;          // no more requests will come
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;        // the destructor runs
  std::thread listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
