// LongRequestWatch: one thread per SQL service that, every `period`, calls OnTick on
// each registered client. The SQL service's request streams use it to notice a
// request that has run longer than their grace period without any work on the
// common path: a short request costs no thread wake-up at all, because the watch
// polls instead of being told when each request starts (node/sql_request_stream.h).
//
// The thread waits while no client is registered, so an idle node does not tick.
//
// Thread safety: Add and Remove are safe from any thread. After Remove(c) returns,
// no OnTick of c runs or will run (OnTick is called under the watch's lock), so c
// may be destroyed; OnTick therefore must not call Add or Remove.
#pragma once

#include <cstdint>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"

namespace rangedb {

class LongRequestWatch {
 public:
  class Client {
   public:
    virtual ~Client() = default;
    virtual void OnTick() = 0;
  };

  // Ticks on time's clock. The SQL service passes the real clock
  // (TimeSource::Real()): noticing that a request runs long is about the machine's
  // time, and a cancel must reach a running statement even where a test or a
  // simulator holds the node's injected time still.
  // REQUIRES: time outlives this; period > 0.
  LongRequestWatch(TimeSource* time, absl::Duration period);
  ~LongRequestWatch();
  LongRequestWatch(const LongRequestWatch&) = delete;
  LongRequestWatch& operator=(const LongRequestWatch&) = delete;

  void Add(Client* client);
  void Remove(Client* client);

 private:
  void Loop();

  TimeSource* const time_;
  const absl::Duration period_;
  absl::Mutex mu_;
  std::set<Client*> clients_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the fields it reads
};

}  // namespace rangedb
