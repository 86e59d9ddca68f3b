#include "node/raft_transport.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/backoff.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "node/grpc_deadline.h"
#include "proto/node.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace rangedb {
namespace {

using Batch = rangespb::RaftMessageBatch;
using BatchResponse = rangespb::RaftMessageBatchResponse;

// How long a stream may outlive its planned rotation before gRPC itself cancels it:
// the backstop deadline for a graceful close that the peer never acknowledges.
constexpr absl::Duration kStreamDeadlineGrace = absl::Seconds(30);
// Connection state is polled in slices this long so Stop() interrupts a connect.
constexpr absl::Duration kConnectPollSlice = absl::Milliseconds(100);
// Range ids with unreported drops kept per peer (8 bytes each).
constexpr size_t kMaxUnreachableRanges = 65536;

}  // namespace

// A fresh channel per connection attempt: with a local subchannel pool it owns its
// own TCP connection, so gRPC's internal reconnect backoff (up to minutes) never
// delays ours. Insecure: node-to-node traffic runs on a trusted network for now.
std::shared_ptr<grpc::Channel> RaftTransport::NewChannel(const std::string& address,
                                                         const RaftTransportOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // keepalive on idle streams too
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Peer: the outbound queue and sender thread for one destination node.
//
// State machine: kConnecting (queueing; a connect or stream is being set up or runs)
// → kBackoff on failure (Send drops at once, reporting unreachable) → kConnecting when
// the backoff delay ends. Thread safety: Enqueue and Stop from any thread; everything
// else runs on the sender thread.
class RaftTransport::Peer {
 public:
  Peer(uint64_t node_id, const RaftTransportOptions& options, RaftTransportMetrics* metrics)
      : node_id_(node_id),
        options_(options),
        metrics_(*metrics),
        backoff_(BackoffOptions{options.reconnect_backoff_initial, options.reconnect_backoff_max}),
        thread_([this] {
          pthread_setname_np(pthread_self(), "raft-send");
          Run();
        }) {}

  ~Peer() { Stop(); }

  void Enqueue(rangespb::RaftMessageRequest request);

  // Interrupts whatever the sender does and joins it. Idempotent; not concurrent with
  // itself (RaftTransport::stop_mu_).
  void Stop();

 private:
  enum class State { kConnecting, kBackoff };

  void Run();
  absl::Status Connect(const std::string& address);
  absl::Status RunStream(Batch* unsent);
  absl::Status Pump(grpc::ClientReaderWriter<Batch, BatchResponse>* stream, absl::Time rotate_at,
                    Batch* unsent);
  // Moves queued messages into `batch` up to batch_max_bytes; drops oversized ones.
  void TakeBatchLocked(Batch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearQueueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A stream or connect failed: drop the queue and the unsent batch, mark their ranges
  // unreachable and enter kBackoff.
  void Fail(const absl::Status& status, const Batch& unsent, std::atomic<uint64_t>* reason);
  void WaitBackoff(absl::Duration delay);
  void MarkUnreachableLocked(uint64_t range_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportUnreachable() ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopping() ABSL_LOCKS_EXCLUDED(mu_);
  void LogFailure(const absl::Status& status);

  const uint64_t node_id_;
  const RaftTransportOptions& options_;
  RaftTransportMetrics& metrics_;

  absl::Mutex mu_;
  struct Queued {
    rangespb::RaftMessageRequest request;
    size_t bytes;  // serialized size + kQueuedMessageOverheadBytes
  };
  // Sum of Queued::bytes <= options_.queue_max_bytes + options_.control_reserve_bytes.
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Ranges with dropped messages not yet reported; at most kMaxUnreachableRanges
  // (beyond that, reports are skipped: they are advice, and Raft retransmits anyway).
  absl::flat_hash_set<uint64_t> unreachable_ranges_ ABSL_GUARDED_BY(mu_);
  State state_ ABSL_GUARDED_BY(mu_) = State::kConnecting;
  // What Sends during kBackoff count as: unknown peer or broken stream.
  std::atomic<uint64_t>* backoff_drop_reason_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_call_ ABSL_GUARDED_BY(mu_) = nullptr;  // for Stop to cancel

  // Sender thread only.
  Backoff backoff_;
  std::shared_ptr<grpc::Channel> channel_;  // reused only across clean rotations
  std::string channel_address_;
  absl::Time last_failure_log_ = absl::InfinitePast();
  int failures_unlogged_ = 0;
  int failures_since_connect_ = 0;

  std::thread thread_;  // last: starts after every field above is initialized
};

void RaftTransport::Peer::Enqueue(rangespb::RaftMessageRequest request) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    metrics_.dropped_stopped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (state_ == State::kBackoff) {
    backoff_drop_reason_->fetch_add(1, std::memory_order_relaxed);
    MarkUnreachableLocked(request.range_id());
    return;
  }
  const size_t bytes = request.ByteSizeLong() + kQueuedMessageOverheadBytes;
  if (bytes > options_.queue_max_bytes) {
    metrics_.dropped_too_large.fetch_add(1, std::memory_order_relaxed);
    MarkUnreachableLocked(request.range_id());
    return;
  }
  const raftpb::Message& m = request.message();
  const bool control = m.entries_size() == 0 && !m.has_snapshot();
  const size_t bound = options_.queue_max_bytes + (control ? options_.control_reserve_bytes : 0);
  if (queue_bytes_ + bytes > bound) {
    metrics_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
    MarkUnreachableLocked(request.range_id());
    return;
  }
  queue_bytes_ += bytes;
  metrics_.queued_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  queue_.push_back(Queued{std::move(request), bytes});
}

void RaftTransport::Peer::ClearQueueLocked() {
  metrics_.queued_bytes.fetch_sub(static_cast<int64_t>(queue_bytes_), std::memory_order_relaxed);
  queue_.clear();
  queue_bytes_ = 0;
}

void RaftTransport::Peer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (active_call_ != nullptr) active_call_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

// The sender thread: connect, stream until failure or rotation, back off, repeat.
void RaftTransport::Peer::Run() {
  while (!Stopping()) {
    ReportUnreachable();
    const std::string address =
        options_.resolve_address ? options_.resolve_address(node_id_) : std::string();
    absl::Status status;
    Batch unsent;
    std::atomic<uint64_t>* reason = &metrics_.dropped_stream_broken;
    if (address.empty()) {
      status = absl::NotFoundError("no address known");
      reason = &metrics_.dropped_unknown_peer;
    } else {
      if (channel_ == nullptr || channel_address_ != address) {
        channel_ = NewChannel(address, options_);
        channel_address_ = address;
      }
      status = Connect(address);
      if (status.ok()) status = RunStream(&unsent);
    }
    if (status.ok() || Stopping()) continue;
    channel_ = nullptr;  // the next attempt dials afresh
    Fail(status, unsent, reason);
    WaitBackoff(absl::FromChrono(backoff_.Next()));
  }
  absl::MutexLock lock(&mu_);
  metrics_.dropped_stopped.fetch_add(queue_.size(), std::memory_order_relaxed);
  ClearQueueLocked();
}

// Waits for channel_ to become READY, within connect_timeout; Stop() interrupts.
absl::Status RaftTransport::Peer::Connect(const std::string& address) {
  TimeSource* const time = options_.time;
  const absl::Time deadline = time->Now() + absl::FromChrono(options_.connect_timeout);
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
    }
    if (time->Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("connect to ", address, " timed out"));
    }
    if (Stopping()) return absl::CancelledError("stopping");
    ReportUnreachable();  // drops of queue-full messages while we wait
    channel_->WaitForStateChange(
        state, ToGrpcDeadline(time, std::min(deadline, time->Now() + kConnectPollSlice)));
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return absl::OkStatus();
}

// Runs one stream until it fails, Stop() is called or stream_lifetime passes.
// On a write failure, *unsent holds the batch that did not go out.
absl::Status RaftTransport::Peer::RunStream(Batch* unsent) {
  const absl::Time rotate_at = options_.time->Now() + absl::FromChrono(options_.stream_lifetime);
  grpc::ClientContext context;
  context.set_deadline(ToGrpcDeadline(options_.time, rotate_at + kStreamDeadlineGrace));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    active_call_ = &context;
  }
  auto stub = nodepb::Internal::NewStub(channel_);
  std::unique_ptr<grpc::ClientReaderWriter<Batch, BatchResponse>> stream =
      stub->RaftMessages(&context);
  metrics_.stream_connects.fetch_add(1, std::memory_order_relaxed);
  if (failures_since_connect_ > 0) {
    spdlog::info("raft transport n{}->n{}: connected to {} after {} failures", options_.node_id,
                 node_id_, channel_address_, failures_since_connect_);
  } else {
    spdlog::debug("raft transport n{}->n{}: stream to {} opened", options_.node_id, node_id_,
                  channel_address_);
  }
  failures_since_connect_ = 0;
  last_failure_log_ = absl::InfinitePast();

  absl::Status status = Pump(stream.get(), rotate_at, unsent);
  if (status.ok()) stream->WritesDone();  // rotation or Stop: close gracefully
  const grpc::Status finish = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_call_ = nullptr;
  }
  if (!status.ok() && !finish.ok()) {
    status = absl::UnavailableError(
        absl::StrCat("stream to ", channel_address_, " broken: ", finish.error_message()));
  }
  return status;
}

// Writes one batch per round of whatever is queued. Returns OK when the stream should
// close gracefully (rotation, Stop) and an error when a write failed.
absl::Status RaftTransport::Peer::Pump(grpc::ClientReaderWriter<Batch, BatchResponse>* stream,
                                       absl::Time rotate_at, Batch* unsent) {
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty() || !unreachable_ranges_.empty();
  };
  while (true) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      options_.time->AwaitWithDeadline(&mu_, absl::Condition(&has_work), rotate_at);
      if (stopping_) return absl::OkStatus();
      TakeBatchLocked(&batch);
    }
    ReportUnreachable();
    if (batch.requests().empty()) {
      if (options_.time->Now() >= rotate_at) return absl::OkStatus();
      continue;
    }
    batch.set_from_node_id(options_.node_id);
    batch.set_to_node_id(node_id_);
    if (options_.now) *batch.mutable_now() = options_.now();
    const size_t bytes = batch.ByteSizeLong();
    if (!stream->Write(batch)) {
      *unsent = std::move(batch);
      return absl::UnavailableError(absl::StrCat("write to ", channel_address_, " failed"));
    }
    metrics_.batches_sent.fetch_add(1, std::memory_order_relaxed);
    metrics_.messages_sent.fetch_add(batch.requests_size(), std::memory_order_relaxed);
    metrics_.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
    backoff_.Reset();  // only a stream that carried data counts as recovered
  }
}

void RaftTransport::Peer::TakeBatchLocked(Batch* batch) {
  size_t bytes = 0;
  while (!queue_.empty()) {
    Queued& front = queue_.front();
    const size_t size = front.bytes - kQueuedMessageOverheadBytes;
    if (bytes > 0 && bytes + size > options_.batch_max_bytes) break;
    queue_bytes_ -= front.bytes;
    metrics_.queued_bytes.fetch_sub(static_cast<int64_t>(front.bytes), std::memory_order_relaxed);
    // Leave headroom for the batch envelope under gRPC's per-message limit.
    if (size + 1024 > static_cast<size_t>(options_.max_message_bytes)) {
      metrics_.dropped_too_large.fetch_add(1, std::memory_order_relaxed);
      MarkUnreachableLocked(front.request.range_id());
      queue_.pop_front();
      continue;
    }
    bytes += size;
    *batch->add_requests() = std::move(front.request);
    queue_.pop_front();
  }
}

void RaftTransport::Peer::Fail(const absl::Status& status, const Batch& unsent,
                               std::atomic<uint64_t>* reason) {
  metrics_.stream_failures.fetch_add(1, std::memory_order_relaxed);
  ++failures_since_connect_;
  LogFailure(status);
  {
    absl::MutexLock lock(&mu_);
    reason->fetch_add(queue_.size() + unsent.requests_size(), std::memory_order_relaxed);
    for (const rangespb::RaftMessageRequest& request : unsent.requests()) {
      MarkUnreachableLocked(request.range_id());
    }
    for (const Queued& queued : queue_) MarkUnreachableLocked(queued.request.range_id());
    ClearQueueLocked();
    state_ = State::kBackoff;
    backoff_drop_reason_ = reason;
  }
}

// Sleeps out a backoff delay, still reporting the drops of Sends made meanwhile.
void RaftTransport::Peer::WaitBackoff(absl::Duration delay) {
  TimeSource* const time = options_.time;
  const absl::Time deadline = time->Now() + delay;
  auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !unreachable_ranges_.empty();
  };
  while (true) {
    ReportUnreachable();
    absl::MutexLock lock(&mu_);
    time->AwaitWithDeadline(&mu_, absl::Condition(&wake), deadline);
    if (stopping_ || time->Now() >= deadline) {
      state_ = State::kConnecting;
      return;
    }
  }
}

void RaftTransport::Peer::MarkUnreachableLocked(uint64_t range_id) {
  if (unreachable_ranges_.size() < kMaxUnreachableRanges) {
    unreachable_ranges_.insert(range_id);
  }
}

void RaftTransport::Peer::ReportUnreachable() {
  absl::flat_hash_set<uint64_t> ranges;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;  // no callbacks once the owner is shutting down
    ranges.swap(unreachable_ranges_);
  }
  if (!options_.on_unreachable) return;
  for (uint64_t range_id : ranges) options_.on_unreachable(range_id, node_id_);
}

bool RaftTransport::Peer::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

// Logs the first failure after a success, then at most one line per log_interval:
// a dead peer must not flood the log with one line per reconnect attempt.
void RaftTransport::Peer::LogFailure(const absl::Status& status) {
  const absl::Time now = options_.time->Now();
  if (now - last_failure_log_ < absl::FromChrono(options_.log_interval)) {
    ++failures_unlogged_;
    return;
  }
  spdlog::warn("raft transport n{}->n{}: {} ({} similar failures not logged)", options_.node_id,
               node_id_, status.ToString(), failures_unlogged_);
  last_failure_log_ = now;
  failures_unlogged_ = 0;
}

// ---- RaftTransport ----

RaftTransport::RaftTransport(RaftTransportOptions options) : options_(std::move(options)) {}

RaftTransport::~RaftTransport() { Stop(); }

void RaftTransport::Send(rangespb::RaftMessageRequest request) {
  const uint64_t to = request.to_node_id();
  if (options_.faults != nullptr && options_.faults->DropOutbound(to)) {
    metrics_.dropped_fault_injected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Peer* peer = GetOrCreatePeer(to);
  if (peer == nullptr) {
    metrics_.dropped_stopped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  peer->Enqueue(std::move(request));
}

RaftTransport::Peer* RaftTransport::GetOrCreatePeer(uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  std::unique_ptr<Peer>& peer = peers_[node_id];
  if (peer == nullptr) peer = std::make_unique<Peer>(node_id, options_, &metrics_);
  return peer.get();
}

grpc::Status RaftTransport::ServeRaftMessages(
    grpc::ServerContext* context, grpc::ServerReaderWriter<BatchResponse, Batch>* stream) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "raft transport stopped");
    serving_.insert(context);
  }
  Batch batch;
  while (stream->Read(&batch)) {
    metrics_.batches_received.fetch_add(1, std::memory_order_relaxed);
    if (options_.faults != nullptr && options_.faults->DropInbound(batch.from_node_id())) {
      metrics_.batches_dropped_inbound.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (batch.to_node_id() != options_.node_id) {
      // Log the 1st, 2nd, 4th, 8th... occurrence: visible, but never a flood.
      const uint64_t n = metrics_.batches_dropped_inbound.fetch_add(1) + 1;
      if ((n & (n - 1)) == 0) {
        spdlog::error("raft transport n{}: dropped batch from n{} addressed to n{} ({} so far)",
                      options_.node_id, batch.from_node_id(), batch.to_node_id(), n);
      }
      continue;
    }
    metrics_.messages_received.fetch_add(batch.requests_size(), std::memory_order_relaxed);
    if (options_.deliver) options_.deliver(std::move(batch));
    batch.Clear();
  }
  absl::MutexLock lock(&mu_);
  serving_.erase(context);
  return context->IsCancelled() ? grpc::Status::CANCELLED : grpc::Status::OK;
}

void RaftTransport::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  std::vector<Peer*> peers;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& [node_id, peer] : peers_) peers.push_back(peer.get());
    for (grpc::ServerContext* context : serving_) context->TryCancel();
  }
  for (Peer* peer : peers) peer->Stop();  // peers_ never shrinks, so the pointers hold
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](absl::flat_hash_set<grpc::ServerContext*>* serving) { return serving->empty(); },
      &serving_));
}

void RaftTransport::ConfigureServer(const RaftTransportOptions& options,
                                    grpc::ServerBuilder* builder) {
  const int keepalive_time_ms = static_cast<int>(options.keepalive_time.count());
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_time_ms);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              static_cast<int>(options.server_keepalive_timeout.count()));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              keepalive_time_ms / 2);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);  // 0 = unlimited
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // One receive limit for the whole server: Raft's messages and KV batches alike.
  builder->SetMaxReceiveMessageSize(
      std::max(options.max_message_bytes, static_cast<int>(limits::kMaxKvMessageBytes)));
}

}  // namespace rangedb
