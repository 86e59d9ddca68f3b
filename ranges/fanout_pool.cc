#include "ranges/fanout_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>

#include "base/check.h"

namespace rangedb::ranges {

// One Run's shared state. Posted tasks hold it by reference count, so a task taken
// back by the caller (and so never run) may still be dequeued after Run returned.
struct FanoutPool::Batch {
  enum class Slot { kPosted, kRunning, kDone, kTakenBack };

  size_t n = 0;
  const std::function<void(size_t)>* fn = nullptr;  // valid while a slot is kRunning
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  std::vector<Slot> slots ABSL_GUARDED_BY(mu);

  // Runs parts until none is left.
  void Work() {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) (*fn)(i);
  }
};

FanoutPool::FanoutPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  RANGEDB_CHECK(threads > 0);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "gateway-fanout");
      Loop();
    });
  }
}

FanoutPool::~FanoutPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

FanoutPool& FanoutPool::Default() {
  static FanoutPool* pool = new FanoutPool(16, 1024);  // never destroyed: threads outlive main
  return *pool;
}

void FanoutPool::Loop() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      mu_.Await(absl::Condition(
          +[](FanoutPool* p)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->stopping_ || !p->queue_.empty(); },
          this));
      --idle_;
      if (queue_.empty()) return;  // stopping, and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    RunTask(task);
  }
}

void FanoutPool::RunTask(const Task& task) {
  Batch& batch = *task.batch;
  {
    absl::MutexLock lock(&batch.mu);
    if (batch.slots[task.slot] != Batch::Slot::kPosted) return;  // taken back
    batch.slots[task.slot] = Batch::Slot::kRunning;
  }
  batch.Work();
  absl::MutexLock lock(&batch.mu);
  batch.slots[task.slot] = Batch::Slot::kDone;
}

void FanoutPool::Run(size_t n, size_t max_parallel, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  auto batch = std::make_shared<Batch>();
  batch->n = n;
  batch->fn = &fn;
  const size_t helpers = std::min(n, std::max<size_t>(max_parallel, 1)) - 1;
  size_t posted = 0;
  if (helpers > 0) {
    absl::MutexLock lock(&mu_);
    // As many as there are idle threads for; the rest get threads of their own (as
    // many as before the pool), so parts that wait (on a lock, a lease, the network)
    // still wait side by side when the pool is busy.
    const size_t waiting = queue_.size();
    const size_t free_threads = idle_ > waiting ? idle_ - waiting : 0;
    const size_t room = max_queued_ > waiting ? max_queued_ - waiting : 0;
    posted = std::min({helpers, free_threads, room});
    {
      absl::MutexLock batch_lock(&batch->mu);
      batch->slots.assign(posted, Batch::Slot::kPosted);
    }
    for (size_t slot = 0; slot < posted; ++slot) queue_.push_back(Task{batch, slot});
  }
  std::vector<std::thread> extra;
  for (size_t i = posted; i < helpers; ++i) {
    extra.emplace_back([batch] {
      pthread_setname_np(pthread_self(), "gateway-fanout");
      batch->Work();
    });
  }
  batch->Work();
  for (std::thread& t : extra) t.join();
  // Take back what no pool thread started; wait for what one did.
  absl::MutexLock lock(&batch->mu);
  for (Batch::Slot& slot : batch->slots) {
    if (slot == Batch::Slot::kPosted) slot = Batch::Slot::kTakenBack;
  }
  batch->mu.Await(absl::Condition(
      +[](Batch* b) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return std::none_of(b->slots.begin(), b->slots.end(),
                            [](Batch::Slot s) { return s == Batch::Slot::kRunning; });
      },
      batch.get()));
}

}  // namespace rangedb::ranges
