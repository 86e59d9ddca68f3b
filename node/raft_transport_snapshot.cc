// RaftTransport: snapshot streams (Internal.RaftSnapshot), one client stream per Raft
// snapshot (docs/design/snapshot-streaming.md).
#include <atomic>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "node/grpc_deadline.h"
#include "node/raft_transport.h"
#include "proto/node.grpc.pb.h"

namespace rangedb {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  return s.ok() ? grpc::Status::OK
                : grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

// The sending end over gRPC. Send blocks under HTTP/2 flow control while the receiver
// is behind; Cancel (any thread) ends a blocked Write.
class RaftTransport::SnapshotStream final : public ranges::SnapshotStream {
 public:
  SnapshotStream(std::shared_ptr<grpc::Channel> channel, std::string address, TimeSource* time,
                 std::chrono::hours lifetime)
      : channel_(std::move(channel)), address_(std::move(address)) {
    context_.set_deadline(ToGrpcDeadline(time, time->Now() + absl::FromChrono(lifetime)));
    stub_ = nodepb::Internal::NewStub(channel_);
    writer_ = stub_->RaftSnapshot(&context_, &response_);
  }
  ~SnapshotStream() override {
    if (!finished_) {
      context_.TryCancel();
      (void)writer_->Finish();
    }
  }

  absl::Status Send(const rangespb::SnapshotChunk& chunk) override {
    if (finished_) return absl::FailedPreconditionError("snapshot stream already finished");
    if (writer_->Write(chunk)) return absl::OkStatus();
    // The stream is broken: its status says why.
    finished_ = true;
    return FromGrpc(writer_->Finish(), absl::StrCat("snapshot stream to ", address_));
  }
  absl::Status Finish() override {
    if (finished_) return absl::FailedPreconditionError("snapshot stream already finished");
    finished_ = true;
    (void)writer_->WritesDone();
    return FromGrpc(writer_->Finish(), absl::StrCat("snapshot stream to ", address_));
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  const std::string address_;
  grpc::ClientContext context_;
  std::unique_ptr<nodepb::Internal::Stub> stub_;
  rangespb::SnapshotResponse response_;
  std::unique_ptr<grpc::ClientWriter<rangespb::SnapshotChunk>> writer_;
  bool finished_ = false;
};

absl::StatusOr<std::unique_ptr<ranges::SnapshotStream>> RaftTransport::OpenSnapshotStream(
    uint64_t node_id) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::UnavailableError("raft transport stopped");
  }
  if (options_.faults != nullptr && options_.faults->DropOutbound(node_id)) {
    return absl::UnavailableError(absl::StrCat("node ", node_id, " is partitioned away (test)"));
  }
  const std::string address =
      options_.resolve_address ? options_.resolve_address(node_id) : std::string();
  if (address.empty()) {
    return absl::UnavailableError(absl::StrCat("no address known for node ", node_id));
  }
  return std::unique_ptr<ranges::SnapshotStream>(std::make_unique<SnapshotStream>(
      NewChannel(address, options_), address, options_.time, options_.snapshot_stream_deadline));
}

grpc::Status RaftTransport::ServeSnapshot(grpc::ServerContext* context,
                                          grpc::ServerReader<rangespb::SnapshotChunk>* reader,
                                          rangespb::SnapshotResponse* response) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "raft transport stopped");
    serving_.insert(context);
  }
  const absl::Status status = [&]() -> absl::Status {
    rangespb::SnapshotChunk chunk;
    if (!reader->Read(&chunk)) return absl::InvalidArgumentError("empty snapshot stream");
    if (!chunk.has_header()) return absl::InvalidArgumentError("snapshot stream without header");
    const uint64_t from = chunk.header().from_node_id();
    if (options_.faults != nullptr && options_.faults->DropInbound(from)) {
      return absl::UnavailableError(absl::StrCat("node ", from, " is partitioned away (test)"));
    }
    if (!options_.accept_snapshot) return absl::UnavailableError("this node takes no snapshots");
    absl::StatusOr<std::unique_ptr<ranges::SnapshotSink>> sink =
        options_.accept_snapshot(chunk.header());
    if (!sink.ok()) return sink.status();
    while (reader->Read(&chunk)) {
      if (absl::Status s = (*sink)->Add(chunk); !s.ok()) return s;
    }
    if (context->IsCancelled()) return absl::CancelledError("snapshot stream cancelled");
    return (*sink)->Finish();
  }();
  absl::MutexLock lock(&mu_);
  serving_.erase(context);
  return ToGrpc(status);
}

}  // namespace rangedb
