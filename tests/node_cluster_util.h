// Helpers shared by the node life-cycle tests (tests/node_cluster_test.cc,
// tests/clock_fence_test.cc): bounded polling, clients pinned to nodes, and reading
// a node's /health?ready=1 verdict.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/kv_client.h"
#include "tests/cluster_harness.h"

namespace rangedb::testing_util {

// Polls `done` every 100 ms until it returns true (then true) or `timeout` passes
// (then false). A bounded wait for a condition, never a fixed sleep.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// A client of the given nodes (in that order of preference).
inline std::unique_ptr<client::KvClient> ClientOf(const harness::ClusterHarness& cluster,
                                                  const std::vector<int>& nodes,
                                                  absl::Duration timeout = absl::Seconds(10)) {
  client::KvClientOptions options;
  for (int i : nodes) options.hosts.push_back(cluster.address(i));
  options.timeout = timeout;
  absl::StatusOr<std::unique_ptr<client::KvClient>> c = client::KvClient::Create(options);
  return c.ok() ? std::move(*c) : nullptr;
}

// The body of node i's /health?ready=1 when it is not ready because of its clock;
// empty when it is ready, not reachable, or not ready for another reason.
inline std::string ClockFenceOf(const harness::ClusterHarness& cluster, int i) {
  absl::StatusOr<harness::HttpResponse> r =
      harness::HttpGet(cluster.http_address(i), "/health?ready=1", absl::Seconds(1));
  if (!r.ok() || r->status_code == 200) return "";
  return absl::StrContains(r->body, "clock") ? r->body : "";
}

// An integer from the environment, or `fallback` when unset or malformed.
inline int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) && out > 0 ? out : fallback;
}

}  // namespace rangedb::testing_util
