// ReadOnly: the leader's queue of pending ReadIndex requests (§8, "linearizable
// reads without appending to the log", Raft thesis §6.4).
//
// A request records the commit index at the time it arrived and is released once a
// quorum acknowledged a heartbeat carrying its context (proving the leader was still
// leader when the commit index was read). Requests are released in arrival order: an
// acknowledgement of a later context also confirms every earlier one.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "proto/raft.pb.h"

namespace rangedb::raft {

enum class ReadOnlyOption {
  // Confirm leadership with a heartbeat round for every batch of reads.
  kSafe,
  // Trust the leader's lease (check-quorum) and answer at once; relies on bounded
  // clock drift between nodes.
  kLeaseBased,
};

// A read that may be served once the owner's applied index reaches `index`.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

struct ReadIndexStatus {
  raftpb::Message req;
  uint64_t index = 0;
  std::map<uint64_t, bool> acks;
};

class ReadOnly {
 public:
  explicit ReadOnly(ReadOnlyOption option) : option_(option) {}

  // Records request m (keyed by m.context()) to be served at commit index `index`.
  // A duplicate context is ignored: contexts must be unique among pending reads.
  void AddRequest(uint64_t index, const raftpb::Message& m);
  // Records that `id` acknowledged ctx; returns the acks so far, or nullptr if ctx is
  // not pending.
  const std::map<uint64_t, bool>* RecvAck(uint64_t id, const std::string& ctx);
  // Dequeues and returns every request up to and including ctx (empty if unknown).
  std::vector<ReadIndexStatus> Advance(const std::string& ctx);
  // Context of the newest pending request, or "".
  std::string LastPendingRequestCtx() const;
  size_t PendingCount() const { return queue_.size(); }
  ReadOnlyOption option() const { return option_; }

 private:
  ReadOnlyOption option_;
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace rangedb::raft
