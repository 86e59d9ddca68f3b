#include "node/long_request_watch.h"

#include <pthread.h>

#include "base/check.h"

namespace rangedb {

LongRequestWatch::LongRequestWatch(TimeSource* time, absl::Duration period)
    : time_(time), period_(period), thread_([this] { Loop(); }) {
  RANGEDB_CHECK(period > absl::ZeroDuration());
}

LongRequestWatch::~LongRequestWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void LongRequestWatch::Add(Client* client) {
  absl::MutexLock lock(&mu_);
  clients_.insert(client);
}

void LongRequestWatch::Remove(Client* client) {
  absl::MutexLock lock(&mu_);
  clients_.erase(client);
}

void LongRequestWatch::Loop() {
  pthread_setname_np(pthread_self(), "sql-watch");
  absl::MutexLock lock(&mu_);
  while (true) {
    auto busy = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !clients_.empty(); };
    mu_.Await(absl::Condition(&busy));
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    if (time_->AwaitWithTimeout(&mu_, absl::Condition(&stopping), period_)) return;
    for (Client* client : clients_) client->OnTick();
  }
}

}  // namespace rangedb
