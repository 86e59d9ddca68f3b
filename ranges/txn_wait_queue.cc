#include "ranges/txn_wait_queue.h"

#include <algorithm>
#include <set>

namespace rangedb::ranges {

TxnWaitQueue::Waiter::~Waiter() {
  absl::MutexLock lock(&queue_->mu_);
  queue_->waiters_.erase(id_);
  const bool others = std::any_of(queue_->waiters_.begin(), queue_->waiters_.end(),
                                  [&](const auto& w) { return w.second.pushee_id == pushee_id_; });
  if (!others) queue_->versions_.erase(pushee_id_);
}

void TxnWaitQueue::Waiter::SetDependents(std::vector<std::string> dependents) {
  if (dependents.size() > kMaxDependents) dependents.resize(kMaxDependents);
  absl::MutexLock lock(&queue_->mu_);
  auto it = queue_->waiters_.find(id_);
  if (it != queue_->waiters_.end()) it->second.dependents = std::move(dependents);
}

bool TxnWaitQueue::Waiter::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&queue_->mu_);
  auto changed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_->mu_) {
    return queue_->versions_[pushee_id_] != seen_;
  };
  const bool woke =
      queue_->time_->AwaitWithTimeout(&queue_->mu_, absl::Condition(&changed), timeout);
  seen_ = queue_->versions_[pushee_id_];
  return woke;
}

std::unique_ptr<TxnWaitQueue::Waiter> TxnWaitQueue::Enqueue(const std::string& pushee_id,
                                                            const std::string& pusher_id) {
  absl::MutexLock lock(&mu_);
  if (waiters_.size() >= kMaxWaiters) return nullptr;
  const uint64_t id = next_id_++;
  waiters_[id] = Entry{pushee_id, pusher_id, {}};
  const uint64_t seen = versions_.try_emplace(pushee_id, 0).first->second;
  return std::unique_ptr<Waiter>(new Waiter(this, id, pushee_id, seen));
}

void TxnWaitQueue::Notify(const std::string& txn_id) {
  absl::MutexLock lock(&mu_);
  auto it = versions_.find(txn_id);
  if (it != versions_.end()) ++it->second;
}

std::vector<std::string> TxnWaitQueue::Dependents(const std::string& txn_id) const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const auto& [id, w] : waiters_) {
    if (w.pushee_id != txn_id || w.pusher_id.empty()) continue;
    out.insert(w.pusher_id);
    for (const std::string& d : w.dependents) {
      if (out.size() >= kMaxDependents) break;
      out.insert(d);
    }
    if (out.size() >= kMaxDependents) break;
  }
  return {out.begin(), out.end()};
}

size_t TxnWaitQueue::size() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace rangedb::ranges
