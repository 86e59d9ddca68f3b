// The two ends of a Raft snapshot stream between stores
// (docs/design/snapshot-streaming.md). The node implements SnapshotStream over gRPC
// (node/raft_transport.h); tests connect the ends in process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/ranges.pb.h"
#include "storage/engine.h"

namespace rangedb::ranges {

// The sending end of one snapshot stream to another node: a header chunk, then chunks
// of keys. Thread-compatible, except Cancel (any thread).
class SnapshotStream {
 public:
  virtual ~SnapshotStream() = default;
  // Sends one chunk; blocks while the receiver is behind (flow control). An error
  // ends the stream.
  [[nodiscard]] virtual absl::Status Send(const rangespb::SnapshotChunk& chunk) = 0;
  // Ends the stream and waits for the receiver's answer: OK means it staged every
  // chunk and handed the snapshot to its replica's Raft.
  [[nodiscard]] virtual absl::Status Finish() = 0;
  // Makes a blocked or later Send / Finish fail promptly.
  virtual void Cancel() = 0;
};

// A snapshot a replica hands to its store for sending (SnapshotSender).
struct OutgoingSnapshot {
  rangespb::SnapshotHeader header;  // range, nodes, the MsgSnap, descriptor, applied state
  uint64_t to_replica_id = 0;
  // The sending replica's number for this send, handed back with its outcome so that
  // the outcome of an older send is never taken for a newer one's.
  uint64_t send_id = 0;
  std::unique_ptr<Snapshot> engine_snapshot;  // holds the state the header describes
};

// Opens a stream to a node (it may fail at once, or at the first Send).
using SnapshotStreamFactory =
    std::function<absl::StatusOr<std::unique_ptr<SnapshotStream>>(uint64_t to_node_id)>;

// The receiving end (Store::BeginSnapshot), fed the chunks after the header.
// Thread-compatible. Destroying it before a successful Finish abandons the snapshot.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  [[nodiscard]] virtual absl::Status Add(const rangespb::SnapshotChunk& chunk) = 0;
  [[nodiscard]] virtual absl::Status Finish() = 0;
};

}  // namespace rangedb::ranges
