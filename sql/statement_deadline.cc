#include "sql/statement_deadline.h"

namespace rangedb::sql {

StatementDeadline::StatementDeadline(TimeSource* time, Session* session)
    : time_(time), session_(session), thread_([this] { Loop(); }) {}

StatementDeadline::~StatementDeadline() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void StatementDeadline::Arm(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  deadline_ = deadline;
  armed_ = true;
  fired_ = false;
  ++generation_;
}

bool StatementDeadline::Disarm() {
  absl::MutexLock lock(&mu_);
  armed_ = false;
  ++generation_;
  return fired_;
}

void StatementDeadline::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (!armed_) {
      mu_.Await(absl::Condition(this, &StatementDeadline::ArmedOrStopping));
      continue;
    }
    waiting_ = generation_;
    if (!time_->AwaitWithDeadline(&mu_, absl::Condition(this, &StatementDeadline::Changed),
                                  deadline_)) {
      fired_ = true;
      armed_ = false;
      session_->Interrupt();
    }
  }
}

}  // namespace rangedb::sql
