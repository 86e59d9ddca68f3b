// Heartbeater: keeps the transaction records of a process's open transactions alive
// (docs/transactions.md, "Liveness"). One per process (Default()), or one per
// gateway or test: a registry of the transactions that laid intents, each with the
// time its next heartbeat is due, served by a small bounded pool of threads — not a
// thread per transaction.
//
// A transaction (txn/txn.h) registers with Start at its first batch that lays
// intents and unregisters with Stop once its outcome is known. In between, every
// `interval` (the first beat at `first_beat_ns`), a pool thread sends a HeartbeatTxn
// for it through the transaction's own Sender, with the identity and timestamps the
// owner last published (Publish) — never reading the owner's state. What the beats
// learn goes back to the owner through seen(): the record is PENDING (alive), or
// ABORTED (the owner gives up with a retryable error; no more beats are sent). A
// beat that fails (no answer, an error) changes nothing and the next one is due an
// interval later. A beat the owner sends itself (NoteBeat) moves the next one an
// interval on.
//
// Threads: max_threads bounds the pool. It starts one thread at the first Start and
// adds one (up to the bound) whenever a beat falls due while every thread is busy
// sending — a beat blocked on an unreachable node holds its thread for up to the
// Sender's own timeout, and the others go on. Threads end with the Heartbeater.
// max_threads 0 runs no thread at all: the owner drives the beats with BeatDue
// (deterministic tests with a ManualMonotonicClock).
//
// Bounds: one registry entry per open transaction that laid intents (its owner
// holds it); each entry is sent at most one beat at a time.
//
// Thread safety: every method is safe for concurrent use. Lock order: mu_ is a leaf;
// no Sender is called under it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "txn/clock.h"
#include "txn/sender.h"

namespace rangedb::txn {

struct HeartbeaterOptions {
  // Bound of the pool of sending threads; 0: none (BeatDue drives the beats).
  int max_threads = 16;
  // Due times are read from it. Null: SteadyClock::Get(). With threads it must be a
  // real clock (the threads wait on it in real time).
  MonotonicClock* clock = nullptr;
};

class Heartbeater {
 public:
  // What the beats of one transaction found.
  struct Seen {
    bool record_alive = false;  // a beat found the record PENDING
    bool aborted = false;       // a beat found it ABORTED (or not PENDING)
  };

  explicit Heartbeater(HeartbeaterOptions options = {});
  // REQUIRES: every registration stopped. Ends the threads.
  ~Heartbeater();
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;

  // The process's shared heartbeater (default options; created on first use, never
  // destroyed). Transactions use it unless TxnOptions::heartbeater says otherwise.
  static Heartbeater* Default();

  // The clock that due times are read from (transactions measure their age on it).
  int64_t NowNanos() const { return clock_->NowNanos(); }

  // Registers a transaction: beats of its record (txn.anchor_key) through sender,
  // the first when the clock reaches first_beat_ns, then every interval. txn is what
  // the beats send (identity and timestamps); until it has a read timestamp, a due
  // beat is skipped (the record needs the transaction's start). Returns the
  // registration's id (never 0).
  // REQUIRES: sender outlives the registration (until Stop returns); interval > 0.
  uint64_t Start(Sender* sender, absl::Duration interval, int64_t first_beat_ns,
                 kvpb::Transaction txn);
  // What the beats send from now on.
  void Publish(uint64_t id, kvpb::Transaction txn);
  // A beat the owner sent itself found the record in `status`: the next beat is due an
  // interval from now; PENDING marks the record alive, anything else aborted.
  void NoteBeat(uint64_t id, kvpb::TransactionStatus status);
  // What the beats found so far.
  Seen seen(uint64_t id);
  // Unregisters; waits for a beat in flight to end. After it returns, the sender is
  // never used for this registration again. Returns what the beats found.
  Seen Stop(uint64_t id);

  // Sends every beat due now, one after another on the caller's thread; returns how
  // many were sent. For max_threads 0 (with threads, they may race it).
  int BeatDue();

  // Registered transactions, pool threads, and beats sent so far (tests, metrics).
  size_t open();
  size_t threads();
  uint64_t beats_sent();

 private:
  struct Entry {
    Sender* sender = nullptr;
    int64_t interval_ns = 0;
    kvpb::Transaction txn;     // what the beats send (Publish)
    int64_t next_beat_ns = 0;  // when the next beat is due (changed only unscheduled)
    bool scheduled = false;    // in schedule_ (not in flight, not finished)
    bool in_flight = false;    // a thread is sending its beat
    bool stopping = false;     // Stop is waiting for the beat in flight
    bool done = false;         // found ABORTED: no more beats
    Seen seen;
  };
  // One beat taken off the schedule, to send without the lock.
  struct Beat {
    uint64_t id = 0;
    Sender* sender = nullptr;
    kvpb::BatchRequest batch;
  };

  // Takes the first due beat off the schedule, if any (skipping, and rescheduling,
  // entries with nothing to send yet).
  bool TakeDueLocked(Beat* beat) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records what a beat came back with and schedules the next.
  void FinishLocked(uint64_t id, const absl::StatusOr<kvpb::BatchResponse>& resp)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleLocked(uint64_t id, Entry& e, int64_t at_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnscheduleLocked(uint64_t id, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a pool thread if beats are due, none is idle and the bound allows.
  void MaybeAddThreadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A pool thread: waits for the first due beat, sends it, repeats until shutdown.
  void Loop();

  const HeartbeaterOptions options_;
  MonotonicClock* const clock_;

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // (due time, id) of every entry waiting for its next beat, soonest first.
  std::set<std::pair<int64_t, uint64_t>> schedule_ ABSL_GUARDED_BY(mu_);
  // Signalled when schedule_'s soonest entry moves earlier and at shutdown. Idle pool
  // threads wait on it rather than on an absl::Condition: a Condition is evaluated by
  // whichever thread releases mu_, reading the waiter's stack, which ThreadSanitizer
  // cannot see ordered through Debian's uninstrumented Abseil.
  absl::CondVar schedule_changed_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int idle_threads_ ABSL_GUARDED_BY(mu_) = 0;  // pool threads waiting for a due beat
  uint64_t beats_sent_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rangedb::txn
