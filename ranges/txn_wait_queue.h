// TxnWaitQueue: the pushers waiting for transactions whose records this replica
// holds, and what deadlock detection needs to know about them
// (docs/transactions.md, "Waiting and deadlocks").
//
// A PushTxn that cannot succeed yet (an abort-push of a live transaction) registers
// here as a Waiter on the pushee and sleeps until the pushee's record changes
// (Notify) or a short poll interval passes. Each waiter also carries the ids of the
// transactions known to wait on its pusher (its dependents, learnt by querying the
// pusher's own record range); Dependents(T) is T's direct waiters plus their
// dependents. A pusher that finds its pushee among its own dependents has found a
// waits-for cycle.
//
// Bounds: at most kMaxWaiters waiters per replica (more pushes are answered "not
// pushed" at once and retried by their senders with backoff); dependents lists are
// cut at kMaxDependents ids.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"

namespace rangedb::ranges {

class TxnWaitQueue {
 public:
  static constexpr size_t kMaxWaiters = 10000;
  static constexpr size_t kMaxDependents = 1000;

  // Waits are measured by time (base/time_source.h). REQUIRES: time outlives the queue.
  explicit TxnWaitQueue(TimeSource* time = TimeSource::Real()) : time_(time) {}

  // A registration; unregisters when destroyed.
  class Waiter {
   public:
    ~Waiter();
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

    // Replaces the dependents reported for this waiter's pusher.
    void SetDependents(std::vector<std::string> dependents);
    // Sleeps until the pushee's record changes (since Enqueue or the last Wait that
    // saw a change) or timeout passes; true if it changed.
    bool Wait(absl::Duration timeout);

   private:
    friend class TxnWaitQueue;
    Waiter(TxnWaitQueue* queue, uint64_t id, std::string pushee_id, uint64_t seen)
        : queue_(queue), id_(id), pushee_id_(std::move(pushee_id)), seen_(seen) {}
    TxnWaitQueue* const queue_;
    const uint64_t id_;
    const std::string pushee_id_;
    // The pushee's version last seen (at Enqueue, then at each wake-up), so a change
    // between two Waits is not missed.
    uint64_t seen_;
  };

  // Registers pusher_id ("" for a non-transactional pusher) as waiting on pushee_id.
  // nullptr when kMaxWaiters are already waiting.
  std::unique_ptr<Waiter> Enqueue(const std::string& pushee_id, const std::string& pusher_id);

  // The pushee's record changed (finished, pushed, heartbeated): wake its waiters.
  void Notify(const std::string& txn_id);

  // Transactions waiting on txn_id, directly or through the dependents they reported.
  std::vector<std::string> Dependents(const std::string& txn_id) const;

  size_t size() const;

 private:
  struct Entry {
    std::string pushee_id;
    std::string pusher_id;
    std::vector<std::string> dependents;
  };

  TimeSource* const time_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> waiters_ ABSL_GUARDED_BY(mu_);
  // Bumped by Notify(pushee id); waiters sleep while theirs is unchanged.
  std::map<std::string, uint64_t> versions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::ranges
