// FuzzKeySpace: the key space session_fuzz's sessions run on — one node of a
// TestCluster in this process (real Raft and MVCC over an in-memory engine, no
// network), its Gateway and a LocalSender, as a node wires them for its own SQL
// sessions. One node keeps each input fast; replication under faults is the chaos
// tests' job, not the fuzzer's.
//
// Thread safety: SessionOptions may be called from any thread; the key space is
// built once and lives until the process exits.
#pragma once

#include <memory>

#include "ranges/gateway.h"
#include "ranges/local_sender.h"
#include "ranges/store.h"
#include "ranges/testing/test_cluster.h"
#include "sql/session.h"

namespace rangedb::sql::fuzz {

class FuzzKeySpace {
 public:
  // Starts the node and waits until its first range serves.
  FuzzKeySpace();
  ~FuzzKeySpace();
  FuzzKeySpace(const FuzzKeySpace&) = delete;
  FuzzKeySpace& operator=(const FuzzKeySpace&) = delete;

  // Options for a new session on this key space.
  sql::SessionOptions SessionOptions();

 private:
  static constexpr uint64_t kNodeId = 1;
  ranges::TestCluster cluster_;
  std::unique_ptr<HybridLogicalClock> clock_;
  std::unique_ptr<ranges::Gateway> gateway_;
  ranges::KeySenderBinding binding_;  // after gateway_: destroyed before it
  std::unique_ptr<ranges::LocalSender> sender_;
};

}  // namespace rangedb::sql::fuzz
