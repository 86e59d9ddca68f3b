// Cluster: N in-memory Raft replicas (RawNode + MemoryStorage + a toy state machine)
// joined by a simulated network, driven tick by tick. Used by the scenario tests and
// by raft_sim. Deterministic: one seed drives the network faults and every node's
// election jitter.
//
// Each node handles its Readys exactly as the durability contract in rawnode.h says
// (persist to its MemoryStorage, send, apply, Advance). A crash drops the RawNode and
// the state machine; the MemoryStorage survives (it is the node's disk). Restart
// rebuilds the state machine from the stored snapshot and replays committed entries.
//
// The network delivers messages after a random delay in ticks (0 = within the same
// tick), may drop or duplicate them, and honours cut links (partitions).
//
// Invariant checks run continuously (see CheckXxx in cluster.cc) and collect
// violations instead of crashing, so a simulator can report the seed:
//   election safety, log matching, leader completeness, state machine safety, and
//   that every state machine applies the same command sequence exactly once.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "proto/raft.pb.h"
#include "raft/memory_storage.h"
#include "raft/rand.h"
#include "raft/rawnode.h"

namespace rangedb::raft::sim {

struct ClusterOptions {
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t max_msg_bytes = 1 << 20;
  int max_inflight_msgs = 64;
  uint64_t max_uncommitted_entries_bytes = 0;
  uint64_t max_entry_bytes = 0;
  // Take a snapshot and compact when this many entries were applied since the last
  // snapshot (0 = never). compact_keep entries are kept behind the snapshot.
  uint64_t snapshot_every = 0;
  uint64_t compact_keep = 0;
  bool unsafe_commit_old_term = false;  // raft_sim --inject=commit-old-term
  // Which messages of a Ready go out before the Ready is persisted. The persist then
  // happens later — sometimes only in a later tick, so a crash can lose it — and
  // responses can be stepped in between.
  //   kNone: the plain contract (persist, then send).
  //   kLeaderAppends: a leader's MsgApp/MsgHeartbeat of its term, as ranges/ does
  //     (rawnode.h allows it: the leader counts its own entries once persisted).
  //   kAll: every message, also votes and follower acknowledgements — breaks the
  //     contract; raft_sim --inject=send-all-early shows the checkers catch it.
  enum class EarlySend { kNone, kLeaderAppends, kAll };
  EarlySend early_send = EarlySend::kNone;
};

struct NetworkOptions {
  double drop = 0;          // probability a message is lost
  double duplicate = 0;     // probability a message is delivered twice
  int max_delay_ticks = 0;  // each message waits uniform [0, max_delay_ticks] ticks
};

// The toy state machine: every applied non-empty normal entry, by index, plus the
// distinct commands in apply order (a command applied twice takes effect once).
struct StateMachine {
  std::map<uint64_t, std::string> by_index;
  std::vector<std::string> order;
  std::set<std::string> seen;
  uint64_t applied = 0;

  std::string Encode() const;
  void Decode(const std::string& data, uint64_t applied_index);
  void Apply(uint64_t index, const std::string& data);
};

class Cluster {
 public:
  // Creates nodes with the given ids, all voters of the initial configuration.
  Cluster(const std::vector<uint64_t>& ids, ClusterOptions options, uint64_t seed);
  ~Cluster();

  // --- nodes ---
  // Adds a new, empty node (not in any configuration until a conf change adds it).
  void AddNode(uint64_t id);
  void Crash(uint64_t id);
  void Restart(uint64_t id);
  bool IsUp(uint64_t id) const;
  bool Exists(uint64_t id) const { return nodes_.count(id) > 0; }
  std::vector<uint64_t> Ids() const;
  std::vector<uint64_t> UpIds() const;
  RawNode& raw(uint64_t id);
  MemoryStorage& storage(uint64_t id);
  const StateMachine& state_machine(uint64_t id) const;
  // The membership the node's state machine has applied.
  const raftpb::ConfState& conf_state(uint64_t id) const;

  // --- network ---
  void SetNetwork(NetworkOptions n) { net_ = n; }
  const NetworkOptions& network() const { return net_; }
  void Cut(uint64_t from, uint64_t to) { cut_.insert({from, to}); }
  void Isolate(uint64_t id);
  void Reconnect(uint64_t id);
  // Splits into groups; links between groups are cut both ways.
  void Partition(const std::vector<std::vector<uint64_t>>& groups);
  void Heal() { cut_.clear(); }
  // Drops every message in flight.
  void DropInFlight() { in_flight_.clear(); }

  // --- time ---
  // One tick on every live node, then messages and Readys are processed until the
  // cluster is quiet for this tick.
  void Tick();
  void RunTicks(int n);
  // Runs until pred() holds or max_ticks pass; returns whether pred() held.
  bool RunUntil(const std::function<bool()>& pred, int max_ticks);
  uint64_t now() const { return now_; }

  // --- clients ---
  absl::Status Propose(uint64_t id, std::string data);
  absl::Status ProposeConfChange(uint64_t id, const raftpb::ConfChange& cc);
  // The live node that believes it leads in the highest term, if any.
  std::optional<uint64_t> Leader() const;
  // Like 6.824's one(): proposes `data` at the current leader (retrying through
  // leader changes) until at least `expected` live nodes applied it. Returns its
  // index, or nullopt after max_ticks.
  std::optional<uint64_t> One(const std::string& data, int expected, int max_ticks = 500);
  // Number of live nodes that applied an entry at index, and its data.
  int NumApplied(uint64_t index, std::string* data) const;
  // Whether a proposal made through Propose() was applied by its proposer (acked).
  const std::set<std::string>& acked() const { return acked_; }
  std::vector<ReadState> TakeReadStates(uint64_t id);

  // --- checks ---
  const std::vector<std::string>& violations() const { return violations_; }
  // Trace lines (leader changes, crashes, applies...), if enabled.
  void set_trace(std::function<void(const std::string&)> f) { trace_ = std::move(f); }
  uint64_t max_applied_index() const { return max_applied_; }
  SplitMix64& rng() { return rng_; }

 private:
  struct Node;
  struct InFlight {
    uint64_t deliver_tick;
    raftpb::Message msg;
  };

  void StartNode(Node& n);
  void HandleReady(Node& n);
  // Steps 1, 2 (what was not sent early), 3 and 4 of the durability contract.
  void FinishReady(Node& n, Ready rd);
  void PersistEntries(Node& n, const std::vector<raftpb::Entry>& ents);
  void InstallSnapshot(Node& n, const raftpb::Snapshot& snap);
  void ApplyEntry(Node& n, const raftpb::Entry& e);
  void MaybeCompact(Node& n);
  void Send(raftpb::Message m);
  bool Deliver();
  void Settle();
  void Violation(std::string what);
  void Trace(const std::string& line);
  uint64_t PrefixHashAt(const Node& n, uint64_t index, bool* ok) const;

  ClusterOptions opts_;
  NetworkOptions net_;
  SplitMix64 rng_;
  uint64_t seed_;
  // With early_send: when a deferred Ready is persisted. Separate
  // from rng_ so that runs without the option replay unchanged.
  SplitMix64 persist_rng_;
  uint64_t now_ = 0;
  std::map<uint64_t, std::unique_ptr<Node>> nodes_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::vector<InFlight> in_flight_;
  std::function<void(const std::string&)> trace_;

  // Checker state.
  std::vector<std::string> violations_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_prefix_hash_;  // (index, term)
  std::map<uint64_t, uint64_t> applied_prefix_hash_;                     // index
  std::map<uint64_t, uint64_t> applied_term_;                            // index
  uint64_t max_applied_ = 0;
  std::vector<std::string> global_order_;
  std::map<std::string, uint64_t> proposer_;
  std::set<std::string> acked_;
};

}  // namespace rangedb::raft::sim
