// EtcdTarget: the kv workload's KvTarget (bench/workload_kv.h) over etcd's v3 gRPC
// KV API (bench/etcd_kv.proto), so bench/kv_compare.cc can drive etcd and rangedb
// with the same loop.
//
// Like KvClient it tries the endpoints in turn from a rotating preference, gives
// each attempt min(remaining, attempt_timeout), and backs off with jitter between
// rounds, all within one operation's timeout. Gets are linearizable Range calls (etcd's
// default). A retried Put may apply twice; for a benchmark writing random values
// that only costs a revision.
//
// Thread safety: not thread-safe; one target per worker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/workload_kv.h"

namespace rangedb {

struct EtcdTargetOptions {
  // "host:port", optionally with an "http://" prefix as etcdctl accepts.
  std::vector<std::string> endpoints;
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration attempt_timeout = absl::Seconds(3);
};

// InvalidArgument when no endpoint is given or one is not host:port.
absl::StatusOr<std::unique_ptr<KvTarget>> NewEtcdTarget(EtcdTargetOptions options);

}  // namespace rangedb
