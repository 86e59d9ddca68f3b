// StatementDeadline: the statement deadline of one session — one thread for the
// session's life (not one per statement), armed with a deadline before a statement
// and disarmed when it ends; when an armed deadline passes it interrupts the
// session's running statement (Session::Interrupt: 57014). The SQL service arms it
// with a request's timeout; session_fuzz with a fixed bound per statement.
//
// Thread safety: Arm and Disarm are called by the thread running the session's
// statements; the watcher thread only calls Session::Interrupt, which any thread
// may.
#pragma once

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "sql/session.h"

namespace rangedb::sql {

class StatementDeadline {
 public:
  // REQUIRES: time and session outlive this.
  StatementDeadline(TimeSource* time, Session* session);
  ~StatementDeadline();
  StatementDeadline(const StatementDeadline&) = delete;
  StatementDeadline& operator=(const StatementDeadline&) = delete;

  void Arm(absl::Time deadline);
  // Whether the deadline passed (and interrupted the statement) since Arm.
  bool Disarm();

 private:
  bool Changed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || generation_ != waiting_;
  }
  bool ArmedOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || armed_; }
  void Loop();

  TimeSource* const time_;
  Session* const session_;
  absl::Mutex mu_;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after the fields it reads
};

}  // namespace rangedb::sql
