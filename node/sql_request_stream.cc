#include "node/sql_request_stream.h"

#include <pthread.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "spdlog/spdlog.h"

namespace rangedb {

SqlRequestStream::SqlRequestStream(Stream* stream, TimeSource* time, TimeSource* tick_clock,
                                   LongRequestWatch* watch, absl::Duration grace, Hooks hooks)
    : stream_(stream),
      time_(time),
      tick_clock_(tick_clock),
      watch_(watch),
      grace_nanos_(absl::ToInt64Nanoseconds(grace)),
      hooks_(std::move(hooks)) {
  if (watch_ != nullptr) watch_->Add(this);
}

SqlRequestStream::~SqlRequestStream() {
  if (watch_ != nullptr) watch_->Remove(this);  // no OnTick after this
  bool cancel = false;
  std::thread listener;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cancel = listener_reads_ && !closed_;
    listener = std::move(listener_);
  }
  // A Read blocked in the listener ends only when the call does.
  if (cancel) hooks_.cancel_call();
  if (listener.joinable()) listener.join();
}

std::optional<sqlpb::SqlRequest> SqlRequestStream::Next() {
  {
    absl::MutexLock lock(&mu_);
    running_ = false;
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !queue_.empty() || closed_ || !listener_reads_;
    };
    mu_.Await(absl::Condition(&ready));
    if (!queue_.empty()) {
      sqlpb::SqlRequest request = std::move(queue_.front());
      queue_.pop_front();
      StartRunning(request);
      return request;
    }
    if (closed_) return std::nullopt;
    // The listener does not read, and cannot start to while nothing runs (OnTick):
    // the stream is this thread's to read.
  }
  return ReadOwn();
}

std::optional<sqlpb::SqlRequest> SqlRequestStream::ReadOwn() {
  sqlpb::SqlRequest request;
  while (stream_->Read(&request)) {
    if (request.kind_case() == sqlpb::SqlRequest::kCancel) continue;  // nothing runs
    absl::MutexLock lock(&mu_);
    StartRunning(request);
    return request;
  }
  NoteClosed();
  return std::nullopt;
}

void SqlRequestStream::StartRunning(const sqlpb::SqlRequest& request) {
  running_ = true;
  started_tick_nanos_ = tick_clock_->MonotonicNanos();
  // Clamped: a timeout of centuries must not overflow into the past.
  constexpr int64_t kMaxTimeoutMs = int64_t{1} << 40;  // about 35 years
  deadline_nanos_ =
      request.timeout_ms() > 0
          ? time_->MonotonicNanos() + std::min(request.timeout_ms(), kMaxTimeoutMs) * 1'000'000
          : 0;
  timed_out_ = false;
}

bool SqlRequestStream::timed_out() const {
  absl::MutexLock lock(&mu_);
  return timed_out_;
}

void SqlRequestStream::NoteClosed() {
  // A half-close lets the queued requests run; a client that went away (the call
  // cancelled) also stops the running statement.
  const bool gone = hooks_.is_cancelled();
  absl::MutexLock lock(&mu_);
  closed_ = true;
  if (gone) {
    client_gone_ = true;
    if (running_) hooks_.interrupt();
  }
}

void SqlRequestStream::OnTick() {
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return;
  if (deadline_nanos_ != 0 && time_->MonotonicNanos() >= deadline_nanos_) {
    timed_out_ = true;
    hooks_.interrupt();  // again at every tick: see the header
  }
  if (listener_reads_ || closed_) return;
  if (tick_clock_->MonotonicNanos() - started_tick_nanos_ < grace_nanos_) return;
  if (!listener_.joinable()) {
    try {
      listener_ = std::thread([this] { Listen(); });
    } catch (const std::system_error& e) {
      // Out of threads: this request's cancel waits; the next tick tries again.
      spdlog::warn("sql: cannot start a listener thread for a long request: {}", e.what());
      return;
    }
  }
  listener_reads_ = true;
}

bool SqlRequestStream::listener_started() const {
  absl::MutexLock lock(&mu_);
  return listener_.joinable();
}

bool SqlRequestStream::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void SqlRequestStream::Listen() {
  pthread_setname_np(pthread_self(), "sql-listener");
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto told = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return listener_reads_ || stopping_; };
      mu_.Await(absl::Condition(&told));
      if (stopping_) return;
    }
    // Read until a request arrives while nothing runs; then the runner reads again.
    while (true) {
      sqlpb::SqlRequest request;
      if (!stream_->Read(&request)) {
        NoteClosed();
        return;
      }
      absl::MutexLock lock(&mu_);
      if (request.kind_case() == sqlpb::SqlRequest::kCancel) {
        // Under the lock: the interrupt reaches the request that runs now, never the
        // next one (Next clears running_ under this lock before it takes another).
        if (running_) hooks_.interrupt();
        continue;
      }
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || queue_.size() < kMaxQueued;
      };
      mu_.Await(absl::Condition(&room));
      if (stopping_) return;
      queue_.push_back(std::move(request));
      if (!running_) {
        listener_reads_ = false;
        break;
      }
    }
  }
}

}  // namespace rangedb
