// RaftTransport: carries Raft messages between nodes. One long-lived gRPC stream
// (Internal.RaftMessages) per ordered pair of nodes carries the messages of every range
// the two nodes share, batched: whatever accumulated while the previous write was in
// flight goes out as one RaftMessageBatch.
//
// Outbound path:
//
//   Send ──► per-peer bounded queue ──► per-peer sender thread ──► gRPC client stream
//
// Memory: each peer's queue is bounded in bytes (queue_max_bytes; a message costs its
// serialized size plus kQueuedMessageOverheadBytes), so a slow or dead peer pins at most
// that much; a message larger than the whole bound is dropped as too large. Control
// messages (no entries, no snapshot: heartbeats, votes, acks) may go
// control_reserve_bytes beyond it, so a queue full of appends to a slow peer still
// takes the heartbeats that keep its followers from calling elections.
//
// Send never blocks: when the queue is full, or the peer is unknown or backing off
// after a failure, the message is dropped and its range reported through
// on_unreachable (Raft retransmits; reporting makes the leader probe the follower
// instead of streaming appends into the void). A stream failure drops the queue's
// contents, reports their ranges, and the sender reconnects after a jittered backoff.
// Streams are re-established every stream_lifetime even when healthy, so no RPC lives
// without a deadline.
//
// Inbound path: the node's Internal service calls ServeRaftMessages from its
// RaftMessages handler; each batch addressed to this node goes to `deliver`.
//
// Snapshots travel on their own streams (Internal.RaftSnapshot, one per snapshot;
// docs/design/snapshot-streaming.md): OpenSnapshotStream dials the peer on a fresh
// channel, ServeSnapshot hands an inbound stream's chunks to `accept_snapshot`'s sink.
//
// Delivery guarantees: none beyond gRPC's (in order, at most once, per stream). Raft
// tolerates loss, duplication and reordering across streams.
//
// Thread safety: Send, ServeRaftMessages and metrics() are safe to call concurrently.
// Callbacks: `deliver` runs on gRPC server threads, concurrently for different peers;
// `on_unreachable` runs on the transport's per-peer sender threads, never inside Send,
// so a caller may hold its own locks while calling Send. A peer's unreachable reports
// are deduplicated per range and may lag while that peer's sender is blocked in a
// write (at most a keepalive timeout for a dead peer).
//
// Lock order: RaftTransport::stop_mu_ < RaftTransport::mu_, and stop_mu_ < Peer::mu_;
// mu_ and Peer::mu_ are never nested. No callback runs under a transport lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "base/limits.h"
#include "base/time_source.h"
#include "grpcpp/channel.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/sync_stream.h"
#include "node/fault_injector.h"
#include "proto/hlc.pb.h"
#include "proto/ranges.pb.h"
#include "ranges/snapshot_stream.h"

namespace rangedb {

// Counters for export by the node's metrics endpoint. Monotonic; read with relaxed
// loads. "Dropped" counts messages, by the reason they were dropped.
struct RaftTransportMetrics {
  std::atomic<uint64_t> messages_sent{0};  // written to a stream
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> bytes_sent{0};  // serialized batch bytes
  std::atomic<uint64_t> dropped_queue_full{0};
  std::atomic<uint64_t> dropped_unknown_peer{0};  // no address for the peer yet
  std::atomic<uint64_t> dropped_stream_broken{
      0};  // queued at, or sent during backoff after, a failure
  std::atomic<uint64_t> dropped_fault_injected{0};  // outbound FaultInjector rule
  std::atomic<uint64_t> dropped_stopped{0};         // Send after (or racing) Stop
  std::atomic<uint64_t> dropped_too_large{0};       // over max_message_bytes or queue_max_bytes
  std::atomic<uint64_t> stream_connects{0};         // streams established, first included
  std::atomic<uint64_t> stream_failures{0};         // connects failed + streams broken
  std::atomic<uint64_t> batches_received{0};
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> batches_dropped_inbound{0};  // inbound fault rule or wrong to_node_id
  // Gauge: bytes queued for every peer now (see RaftTransportOptions::queue_max_bytes
  // and control_reserve_bytes).
  std::atomic<int64_t> queued_bytes{0};
};

// What one queued message costs beyond its serialized size (the request object and the
// queue slot), so that many tiny messages are bounded too.
inline constexpr size_t kQueuedMessageOverheadBytes = 128;

struct RaftTransportOptions {
  uint64_t node_id = 0;  // this node; REQUIRES: non-zero
  // The peer's gRPC "host:port"; empty while unknown (messages drop as unreachable).
  // Called from sender threads; must be thread-safe and must not call into Send.
  std::function<std::string(uint64_t node_id)> resolve_address;
  // Inbound batches addressed to this node (see the class comment for threads).
  std::function<void(rangespb::RaftMessageBatch&&)> deliver;
  // A message for range_id to to_node_id was dropped (may be empty).
  std::function<void(uint64_t range_id, uint64_t to_node_id)> on_unreachable;
  // HLC reading stamped on each outgoing batch (may be empty: no stamp).
  std::function<proto::Timestamp()> now;
  FaultInjector* faults = nullptr;  // not owned; null outside fault tests
  // Where the transport reads time and waits: connect and stream deadlines, stream
  // rotation, reconnect backoff, failure-log rate limit (base/time_source.h). gRPC's
  // own deadlines cross to real time in node/grpc_deadline.h. Not owned; non-null.
  TimeSource* time = TimeSource::Real();
  // Inbound snapshot streams: where the chunks after the header go (a store's
  // BeginSnapshot). Empty: every snapshot is refused.
  std::function<absl::StatusOr<std::unique_ptr<ranges::SnapshotSink>>(
      const rangespb::SnapshotHeader&)>
      accept_snapshot;
  // Cap on one snapshot stream's life; a stalled stream is cancelled much earlier by
  // the sender's watchdog (StoreConfig::snapshot_stall_timeout).
  std::chrono::hours snapshot_stream_deadline{24};

  size_t queue_max_bytes = size_t{64} << 20;  // per peer; >= the largest Raft entry
  // Per peer, on top of queue_max_bytes, for control messages only (about 3,000
  // heartbeats).
  size_t control_reserve_bytes = size_t{1} << 20;
  size_t batch_max_bytes = 4 << 20;  // a batch holds at least one message
  // gRPC limit of one message (a batch, or a snapshot chunk): a chunk holds at least
  // one key, and an entry is at most limits::kMaxRaftCommandBytes. The node's server
  // takes the larger of this and limits::kMaxKvMessageBytes.
  int max_message_bytes = static_cast<int>(limits::kMaxRaftMessageBytes);
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds stream_lifetime{10 * 60'000};  // then re-established
  // HTTP/2 keepalive: a silent peer is declared dead after time + timeout.
  std::chrono::milliseconds keepalive_time{2'000};
  std::chrono::milliseconds keepalive_timeout{3'000};
  // How long the node's server (ConfigureServer) waits for a client's answer to its
  // keepalive ping. Longer than the peers' own: the one server also carries SQL
  // sessions, and a client between requests answers only when gRPC's backup poller
  // runs (every 5 s by default), so 3 s dropped every idle session and its open
  // transaction (tests/sql_service_test AnIdleSessionOutlivesTheServersKeepalive).
  // A peer's own channel still finds a dead server within time + timeout.
  std::chrono::milliseconds server_keepalive_timeout{20'000};
  std::chrono::milliseconds reconnect_backoff_initial{50};
  std::chrono::milliseconds reconnect_backoff_max{1'000};
  std::chrono::milliseconds log_interval{10'000};  // per peer, for repeated failures
};

class RaftTransport {
 public:
  explicit RaftTransport(RaftTransportOptions options);
  ~RaftTransport();  // Stop()s

  RaftTransport(const RaftTransport&) = delete;
  RaftTransport& operator=(const RaftTransport&) = delete;

  // Queues `request` for request.to_node_id() and returns at once. Never blocks on the
  // network. Starts the peer's sender thread on first use. Drops silently when an
  // outbound fault rule matches, or after Stop(); otherwise every drop is reported.
  // REQUIRES: request.to_node_id() != 0.
  void Send(rangespb::RaftMessageRequest request);

  // The server half of Internal.RaftMessages: reads batches until the client closes
  // the stream, the call is cancelled or Stop() is called, handing each batch to
  // `deliver`. Batches for another node id, or from a peer an inbound fault rule
  // names, are dropped. Returns OK on a clean close, CANCELLED when the call was
  // cancelled, UNAVAILABLE after Stop().
  grpc::Status ServeRaftMessages(grpc::ServerContext* context,
                                 grpc::ServerReaderWriter<rangespb::RaftMessageBatchResponse,
                                                          rangespb::RaftMessageBatch>* stream);

  // Opens a snapshot stream to node_id (ranges/snapshot_stream.h). Fails at once when
  // the peer's address is unknown, an outbound fault rule names it, or after Stop().
  absl::StatusOr<std::unique_ptr<ranges::SnapshotStream>> OpenSnapshotStream(uint64_t node_id);

  // The server half of Internal.RaftSnapshot: the first chunk's header goes to
  // accept_snapshot, the rest to its sink, then Finish. OK only if the sink finished.
  grpc::Status ServeSnapshot(grpc::ServerContext* context,
                             grpc::ServerReader<rangespb::SnapshotChunk>* reader,
                             rangespb::SnapshotResponse* response);

  // Cancels every stream, joins every sender thread and waits for every
  // ServeRaftMessages call to return, so no callback runs after Stop() returns.
  // Prompt: does not wait for network timeouts. Idempotent. Later Sends drop.
  void Stop();

  const RaftTransportMetrics& metrics() const { return metrics_; }

  // Sets the server-side arguments the transport's streams need on the node's gRPC
  // server: accept the clients' keepalive pings (the default policy answers pings
  // more frequent than 5 minutes with GOAWAY), send keepalives so a Read from a dead
  // client ends, and raise the receive limit to max_message_bytes (Raft batches and
  // snapshot chunks).
  static void ConfigureServer(const RaftTransportOptions& options, grpc::ServerBuilder* builder);

 private:
  class Peer;            // raft_transport.cc
  class SnapshotStream;  // raft_transport_snapshot.cc

  // A fresh channel to address (its own TCP connection), with the transport's
  // keepalive and message-size arguments.
  static std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                                   const RaftTransportOptions& options);

  Peer* GetOrCreatePeer(uint64_t node_id);

  const RaftTransportOptions options_;
  RaftTransportMetrics metrics_;

  absl::Mutex stop_mu_;  // serializes Stop() calls; held while joining
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Peers are created on first Send and live until the transport is destroyed.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  // Inbound calls in ServeRaftMessages, so Stop() can cancel and await them.
  absl::flat_hash_set<grpc::ServerContext*> serving_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
