#include "txn/heartbeater.h"

#include <pthread.h>

#include <algorithm>

#include "base/check.h"

namespace rangedb::txn {

Heartbeater::Heartbeater(HeartbeaterOptions options)
    : options_(options), clock_(options.clock != nullptr ? options.clock : SteadyClock::Get()) {}

Heartbeater::~Heartbeater() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    RANGEDB_CHECK(entries_.empty()) << "a transaction outlives its Heartbeater";
    shutting_down_ = true;
    schedule_changed_.SignalAll();
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

Heartbeater* Heartbeater::Default() {
  static Heartbeater* const heartbeater = new Heartbeater();
  return heartbeater;
}

uint64_t Heartbeater::Start(Sender* sender, absl::Duration interval, int64_t first_beat_ns,
                            kvpb::Transaction txn) {
  RANGEDB_CHECK(sender != nullptr);
  RANGEDB_CHECK(interval > absl::ZeroDuration());
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  Entry& e = entries_[id];
  e.sender = sender;
  e.interval_ns = std::max<int64_t>(1, absl::ToInt64Nanoseconds(interval));
  e.txn = std::move(txn);
  ScheduleLocked(id, e, first_beat_ns);
  MaybeAddThreadLocked();
  return id;
}

void Heartbeater::Publish(uint64_t id, kvpb::Transaction txn) {
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(id); it != entries_.end()) it->second.txn = std::move(txn);
}

void Heartbeater::NoteBeat(uint64_t id, kvpb::TransactionStatus status) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  // A beat in flight reschedules when it ends (FinishLocked), at the new time.
  const bool was_scheduled = e.scheduled;
  UnscheduleLocked(id, e);
  e.next_beat_ns = clock_->NowNanos() + e.interval_ns;
  if (status == kvpb::PENDING) {
    e.seen.record_alive = true;
  } else {
    e.seen.aborted = true;  // ABORTED, or finished: this attempt cannot commit
    e.done = true;
  }
  if (was_scheduled && !e.done) ScheduleLocked(id, e, e.next_beat_ns);
}

Heartbeater::Seen Heartbeater::seen(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? Seen{} : it->second.seen;
}

Heartbeater::Seen Heartbeater::Stop(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return Seen{};
  Entry& e = it->second;
  e.stopping = true;
  UnscheduleLocked(id, e);
  // The entry stays put meanwhile: only Stop erases, and its owner calls it once.
  auto beat_over = [&e]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !e.in_flight; };
  mu_.Await(absl::Condition(&beat_over));
  const Seen seen = e.seen;
  entries_.erase(it);
  return seen;
}

int Heartbeater::BeatDue() {
  int sent = 0;
  // Bounded: a beat taken is rescheduled an interval after now, so each entry is
  // sent at most once per call (while the clock stands still).
  for (;;) {
    Beat beat;
    {
      absl::MutexLock lock(&mu_);
      if (!TakeDueLocked(&beat)) return sent;
    }
    absl::StatusOr<kvpb::BatchResponse> resp = beat.sender->Send(std::move(beat.batch));
    absl::MutexLock lock(&mu_);
    FinishLocked(beat.id, resp);
    ++sent;
  }
}

size_t Heartbeater::open() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t Heartbeater::threads() {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

uint64_t Heartbeater::beats_sent() {
  absl::MutexLock lock(&mu_);
  return beats_sent_;
}

bool Heartbeater::TakeDueLocked(Beat* beat) {
  const int64_t now = clock_->NowNanos();
  // Bounded by the schedule's size: an entry skipped is rescheduled after now.
  while (!schedule_.empty() && schedule_.begin()->first <= now) {
    const uint64_t id = schedule_.begin()->second;
    Entry& e = entries_.at(id);
    UnscheduleLocked(id, e);
    e.next_beat_ns = now + e.interval_ns;
    // Not before the first response: the record needs the transaction's start.
    if (!e.txn.has_read_timestamp()) {
      ScheduleLocked(id, e, e.next_beat_ns);
      continue;
    }
    e.in_flight = true;
    beat->id = id;
    beat->sender = e.sender;
    beat->batch.Clear();
    beat->batch.add_requests()->mutable_heartbeat_txn()->set_key(e.txn.anchor_key());
    *beat->batch.mutable_header()->mutable_txn() = e.txn;
    return true;
  }
  return false;
}

void Heartbeater::FinishLocked(uint64_t id, const absl::StatusOr<kvpb::BatchResponse>& resp) {
  ++beats_sent_;
  Entry& e = entries_.at(id);  // Stop waits for the beat in flight before erasing
  e.in_flight = false;
  if (e.stopping) return;
  if (resp.ok() && !resp->has_error() && resp->responses_size() == 1) {
    const kvpb::TransactionStatus status = resp->responses(0).heartbeat_txn().record().status();
    if (status == kvpb::ABORTED) {
      e.seen.aborted = true;
      e.done = true;
    } else if (status == kvpb::PENDING) {
      e.seen.record_alive = true;
    }
  }
  // A failed beat changes nothing: the next is due an interval after it went out.
  if (!e.done) ScheduleLocked(id, e, e.next_beat_ns);
}

void Heartbeater::ScheduleLocked(uint64_t id, Entry& e, int64_t at_ns) {
  RANGEDB_CHECK(!e.scheduled);
  e.next_beat_ns = at_ns;
  e.scheduled = true;
  const bool soonest = schedule_.empty() || at_ns < schedule_.begin()->first;
  schedule_.emplace(at_ns, id);
  if (soonest) schedule_changed_.SignalAll();
}

void Heartbeater::UnscheduleLocked(uint64_t id, Entry& e) {
  if (!e.scheduled) return;
  const size_t erased = schedule_.erase({e.next_beat_ns, id});
  RANGEDB_CHECK(erased == 1) << "next_beat_ns changed while scheduled";
  (void)erased;
  e.scheduled = false;
}

void Heartbeater::MaybeAddThreadLocked() {
  // Always one idle thread waiting for the next due beat, up to the bound: a thread
  // blocked in a slow Send delays nobody else's beat while the bound allows.
  if (shutting_down_ || idle_threads_ > 0) return;
  if (static_cast<int>(threads_.size()) >= options_.max_threads) return;
  ++idle_threads_;  // counted from now, so concurrent callers do not add another
  threads_.emplace_back([this] {
    pthread_setname_np(pthread_self(), "txn-heartbeat");
    Loop();
  });
}

void Heartbeater::Loop() {
  // Bounded by shutting_down_ (the destructor); one beat at a time. The thread
  // starts counted as idle (MaybeAddThreadLocked).
  for (;;) {
    Beat beat;
    {
      absl::MutexLock lock(&mu_);
      // Each round ends at shutdown, with a due beat taken, or when the soonest due
      // time comes or moves earlier.
      for (;;) {
        if (shutting_down_) {
          --idle_threads_;
          return;
        }
        if (TakeDueLocked(&beat)) break;
        // Wakes when the soonest entry moves earlier (or at shutdown), or when it is
        // due; spurious wake-ups just go round again.
        if (schedule_.empty()) {
          schedule_changed_.Wait(&mu_);
        } else {
          schedule_changed_.WaitWithTimeout(
              &mu_, absl::Nanoseconds(schedule_.begin()->first - clock_->NowNanos()));
        }
      }
      --idle_threads_;
      MaybeAddThreadLocked();
    }
    absl::StatusOr<kvpb::BatchResponse> resp = beat.sender->Send(std::move(beat.batch));
    absl::MutexLock lock(&mu_);
    FinishLocked(beat.id, resp);
    ++idle_threads_;
  }
}

}  // namespace rangedb::txn
