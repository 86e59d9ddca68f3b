// FanoutPool: runs the parts of one gateway batch in parallel on a fixed set of
// threads shared by the process, instead of a thread created and joined for every
// part (docs/design/sql-point-path.md: a two-range batch paid a thread start for
// its second part, as much as the read it carried).
//
// Run(n, fn) runs fn(0) … fn(n-1), each exactly once, and returns when all have run,
// at most max_parallel at once. The caller's thread takes parts too. Helpers come
// from the pool while it has idle threads; when it has none, from threads started
// for this Run (as before the pool), so parts that wait on locks, leases or the
// network still wait side by side. When the caller runs out of parts it takes back
// every posted task no pool thread has started, and waits only for started ones.
//
// Bounds: `threads` pool threads (fixed), at most `max_queued` posted tasks, at most
// `max_parallel` parts of one batch at once (and so at most max_parallel - 1
// threads started by one Run).
//
// Thread safety: Run may be called from any number of threads at once; fn must be
// safe to call from several threads at once for different indices. The destructor
// waits for the threads (no Run may be running).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rangedb::ranges {

class FanoutPool {
 public:
  FanoutPool(size_t threads, size_t max_queued);
  ~FanoutPool();
  FanoutPool(const FanoutPool&) = delete;
  FanoutPool& operator=(const FanoutPool&) = delete;

  // The process's pool: 16 threads (a batch runs at most 16 parts at once, and parts
  // mostly wait on the network or a replica, not on a core), 1024 queued tasks.
  // Started on first use.
  static FanoutPool& Default();

  void Run(size_t n, size_t max_parallel, const std::function<void(size_t)>& fn);

 private:
  struct Batch;
  struct Task {
    std::shared_ptr<Batch> batch;
    size_t slot;
  };
  void Loop();
  static void RunTask(const Task& task);

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;  // pool threads waiting for a task
  std::vector<std::thread> threads_;
};

}  // namespace rangedb::ranges
