// Ready: one batch of work raft hands to its owner. See rawnode.h for the order in
// which the owner must handle the fields (the durability contract).
//
// Ownership: every field is the owner's own copy (raft keeps nothing that points into
// a Ready), so the owner may move out of it, e.g.
// MemoryStorage::Append(std::move(rd.entries)) after step 1 has used the entries.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/raft.h"
#include "raft/read_only.h"

namespace rangedb::raft {

struct Ready {
  // Set when the leader or role changed since the last Ready. Volatile: not persisted.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed: persist before sending `messages`.
  std::optional<raftpb::HardState> hard_state;
  // Reads that can be served once the applied index reaches ReadState::index.
  std::vector<ReadState> read_states;
  // Entries to append to stable storage (they may replace a conflicting suffix).
  std::vector<raftpb::Entry> entries;
  // A snapshot to install in stable storage (and the state machine).
  std::optional<raftpb::Snapshot> snapshot;
  // Committed entries to apply to the state machine, in order. They were persisted by
  // an earlier Ready or are in `entries` of this one.
  std::vector<raftpb::Entry> committed_entries;
  // Messages to send once everything above is durable.
  std::vector<raftpb::Message> messages;
  // Whether hard_state/entries must be written with fsync (term, vote or entries
  // changed); a change of commit index alone may be written lazily.
  bool must_sync = false;
};

}  // namespace rangedb::raft
