// SnapshotReceiver: the receiving end of one snapshot stream (Store::BeginSnapshot;
// docs/design/snapshot-streaming.md).
//
// It writes an SST file in the engine's staging directory: first a range deletion of
// every replicated span of the range (under its current and its incoming bounds), then
// each key as it arrives. Keys must arrive in strictly increasing order and lie in the
// incoming descriptor's replicated spans; anything else fails the stream. Finish
// completes the file and hands the Raft MsgSnap, whose data names the file
// (rangespb::SnapshotData::staged_file), to the replica's inbox; the replica ingests
// the file when its Raft installs the snapshot.
//
// Memory: one chunk at a time. Thread-compatible (one stream).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "proto/ranges.pb.h"
#include "ranges/engine_state.h"
#include "ranges/snapshot_stream.h"
#include "ranges/store_context.h"
#include "storage/engine.h"

namespace rangedb::ranges {

class Replica;

class SnapshotReceiver final : public SnapshotSink {
 public:
  // `release` runs once when the receiver is destroyed (the store's receive slot).
  // REQUIRES: header was validated by the store; replica and metrics outlive this.
  SnapshotReceiver(rangespb::SnapshotHeader header, std::shared_ptr<Replica> replica,
                   std::unique_ptr<SstFileWriter> file, std::vector<EngineSpan> spans,
                   StoreMetrics* metrics, std::function<void()> release);
  ~SnapshotReceiver() override;

  // Writes the range deletions; call once before Add.
  absl::Status Start(const std::vector<EngineSpan>& cleared);
  absl::Status Add(const rangespb::SnapshotChunk& chunk) override;
  absl::Status Finish() override;

 private:
  const rangespb::SnapshotHeader header_;
  const std::shared_ptr<Replica> replica_;
  std::unique_ptr<SstFileWriter> file_;
  const std::vector<EngineSpan> spans_;  // where keys may be, in order
  StoreMetrics* const metrics_;
  const std::function<void()> release_;
  size_t span_ = 0;  // the span the last key was in
  bool finished_ = false;
};

}  // namespace rangedb::ranges
