// RaftTransport over real gRPC on 127.0.0.1: batching, reconnects, bounded queues,
// fault rules and shutdown.
#include "node/raft_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "proto/node.grpc.pb.h"

namespace rangedb {
namespace {

using Batch = rangespb::RaftMessageBatch;
using BatchResponse = rangespb::RaftMessageBatchResponse;
using Stream = grpc::ServerReaderWriter<BatchResponse, Batch>;

// Polls `done` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

rangespb::RaftMessageRequest Message(uint64_t range_id, uint64_t from, uint64_t to,
                                     uint64_t index = 0, size_t payload_bytes = 0) {
  rangespb::RaftMessageRequest request;
  request.set_range_id(range_id);
  request.set_from_node_id(from);
  request.set_to_node_id(to);
  request.mutable_message()->set_type(raftpb::MSG_APP);
  request.mutable_message()->set_index(index);
  if (payload_bytes > 0) {
    request.mutable_message()->add_entries()->set_data(std::string(payload_bytes, 'x'));
  }
  return request;
}

// node id -> "host:port"; an absent id resolves to "" (unknown).
class AddressBook {
 public:
  void Set(uint64_t node_id, std::string address) {
    absl::MutexLock lock(&mu_);
    addresses_[node_id] = std::move(address);
  }
  std::string Resolve(uint64_t node_id) {
    absl::MutexLock lock(&mu_);
    auto it = addresses_.find(node_id);
    return it == addresses_.end() ? "" : it->second;
  }

 private:
  absl::Mutex mu_;
  std::map<uint64_t, std::string> addresses_ ABSL_GUARDED_BY(mu_);
};

// The node's Internal service, reduced to the one method under test.
class ForwardingService final : public nodepb::Internal::Service {
 public:
  explicit ForwardingService(RaftTransport* transport) : transport_(transport) {}
  grpc::Status RaftMessages(grpc::ServerContext* context, Stream* stream) override {
    return transport_->ServeRaftMessages(context, stream);
  }
  grpc::Status RaftSnapshot(grpc::ServerContext* context,
                            grpc::ServerReader<rangespb::SnapshotChunk>* reader,
                            rangespb::SnapshotResponse* response) override {
    return transport_->ServeSnapshot(context, reader, response);
  }

 private:
  RaftTransport* transport_;
};

// A wedged peer: accepts the stream and never reads from it.
class StuckService final : public nodepb::Internal::Service {
 public:
  grpc::Status RaftMessages(grpc::ServerContext* context, Stream*) override {
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
    return grpc::Status::CANCELLED;
  }
};

std::unique_ptr<grpc::Server> StartServer(grpc::Service* service,
                                          const RaftTransportOptions& options, int* port) {
  grpc::ServerBuilder builder;
  RaftTransport::ConfigureServer(options, &builder);
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", *port), grpc::InsecureServerCredentials(),
                           port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EXPECT_NE(server, nullptr);
  EXPECT_NE(*port, 0);
  return server;
}

// One node: a transport behind its own gRPC server, recording what it receives and
// what it reports unreachable.
class TestNode {
 public:
  TestNode(uint64_t node_id, AddressBook* book, FaultInjector* faults = nullptr,
           std::function<void(RaftTransportOptions*)> tweak = nullptr)
      : node_id_(node_id), book_(book) {
    options_.node_id = node_id;
    options_.resolve_address = [book](uint64_t id) { return book->Resolve(id); };
    options_.deliver = [this](Batch&& batch) {
      absl::MutexLock lock(&mu_);
      received_.push_back(std::move(batch));
    };
    options_.on_unreachable = [this](uint64_t range_id, uint64_t to_node_id) {
      absl::MutexLock lock(&mu_);
      unreachable_.insert({range_id, to_node_id});
    };
    options_.now = [] {
      proto::Timestamp ts;
      ts.set_wall_time_ns(42);
      return ts;
    };
    options_.faults = faults;
    if (tweak) tweak(&options_);
    transport_ = std::make_unique<RaftTransport>(options_);
    StartServer();
  }
  ~TestNode() {
    transport_->Stop();
    StopServer();
  }

  void StartServer() {
    service_ = std::make_unique<ForwardingService>(transport_.get());
    server_ = rangedb::StartServer(service_.get(), options_, &port_);
    book_->Set(node_id_, absl::StrCat("127.0.0.1:", port_));
  }
  void StopServer() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now());  // cancels open streams
    server_ = nullptr;
  }

  RaftTransport& transport() { return *transport_; }
  size_t MessagesReceived() {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const Batch& batch : received_) n += batch.requests_size();
    return n;
  }
  std::vector<Batch> Received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  bool ReceivedRange(uint64_t range_id) {
    absl::MutexLock lock(&mu_);
    for (const Batch& batch : received_) {
      for (const auto& request : batch.requests()) {
        if (request.range_id() == range_id) return true;
      }
    }
    return false;
  }
  bool Unreachable(uint64_t range_id, uint64_t to_node_id) {
    absl::MutexLock lock(&mu_);
    return unreachable_.count({range_id, to_node_id}) > 0;
  }

 private:
  const uint64_t node_id_;
  AddressBook* book_;
  RaftTransportOptions options_;
  std::unique_ptr<RaftTransport> transport_;
  std::unique_ptr<ForwardingService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex mu_;
  std::vector<Batch> received_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<uint64_t, uint64_t>> unreachable_ ABSL_GUARDED_BY(mu_);
};

TEST(RaftTransportTest, DeliversManyRangesInFewerBatchesInOrder) {
  AddressBook book;
  TestNode n1(1, &book), n2(2, &book);
  constexpr int kRanges = 100, kPerRange = 20;
  for (int i = 0; i < kPerRange; ++i) {
    for (int range = 1; range <= kRanges; ++range) {
      n1.transport().Send(Message(range, 1, 2, /*index=*/i));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return n2.MessagesReceived() == kRanges * kPerRange; }));

  const std::vector<Batch> batches = n2.Received();
  EXPECT_LT(batches.size(), static_cast<size_t>(kRanges * kPerRange));
  std::map<uint64_t, uint64_t> next_index;  // per range: in order, none lost
  for (const Batch& batch : batches) {
    EXPECT_EQ(batch.from_node_id(), 1u);
    EXPECT_EQ(batch.to_node_id(), 2u);
    EXPECT_EQ(batch.now().wall_time_ns(), 42);
    for (const auto& request : batch.requests()) {
      EXPECT_EQ(request.message().index(), next_index[request.range_id()]++);
    }
  }
  EXPECT_EQ(next_index.size(), static_cast<size_t>(kRanges));
  const RaftTransportMetrics& m = n1.transport().metrics();
  EXPECT_EQ(m.messages_sent.load(), static_cast<uint64_t>(kRanges * kPerRange));
  EXPECT_EQ(m.batches_sent.load(), batches.size());
  EXPECT_GT(m.bytes_sent.load(), 0u);
  EXPECT_EQ(m.stream_connects.load(), 1u);
  EXPECT_EQ(n2.transport().metrics().batches_received.load(), batches.size());

  // The reverse direction uses its own stream.
  n2.transport().Send(Message(7, 2, 1));
  EXPECT_TRUE(WaitFor([&] { return n1.ReceivedRange(7); }));
}

TEST(RaftTransportTest, PeerRestartReportsUnreachableThenResumes) {
  AddressBook book;
  TestNode n1(1, &book), n2(2, &book);
  n1.transport().Send(Message(1, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(1); }));

  n2.StopServer();
  // The first write after the peer went away fails (or later ones drop in backoff).
  EXPECT_TRUE(WaitFor([&] {
    n1.transport().Send(Message(2, 1, 2));
    absl::SleepFor(absl::Milliseconds(20));
    return n1.Unreachable(2, 2);
  }));
  EXPECT_GE(n1.transport().metrics().stream_failures.load(), 1u);

  n2.StartServer();  // same port
  EXPECT_TRUE(WaitFor([&] {
    n1.transport().Send(Message(3, 1, 2));
    absl::SleepFor(absl::Milliseconds(20));
    return n2.ReceivedRange(3);
  }));
  EXPECT_GE(n1.transport().metrics().stream_connects.load(), 2u);
}

TEST(RaftTransportTest, UnknownPeerIsReportedUnreachable) {
  AddressBook book;
  TestNode n1(1, &book);
  n1.transport().Send(Message(5, 1, 9));  // node 9 has no address
  EXPECT_TRUE(WaitFor([&] { return n1.Unreachable(5, 9); }));
  EXPECT_GE(n1.transport().metrics().dropped_unknown_peer.load(), 1u);
}

TEST(RaftTransportTest, RefusedConnectionIsReportedUnreachable) {
  AddressBook book;
  TestNode n1(1, &book);
  book.Set(9, "127.0.0.1:1");  // nothing listens there
  n1.transport().Send(Message(5, 1, 9));
  EXPECT_TRUE(WaitFor([&] { return n1.Unreachable(5, 9); }));
  EXPECT_GE(n1.transport().metrics().dropped_stream_broken.load(), 1u);
}

TEST(RaftTransportTest, WedgedPeerNeverBlocksSendAndStopIsPrompt) {
  AddressBook book;
  TestNode n1(1, &book, nullptr, [](RaftTransportOptions* options) {
    options->queue_max_bytes = 50 * ((64 << 10) + 256);  // about 50 of the messages below
    options->batch_max_bytes = 256 << 10;
  });
  StuckService stuck;
  int port = 0;
  RaftTransportOptions server_options;
  std::unique_ptr<grpc::Server> server = StartServer(&stuck, server_options, &port);
  book.Set(3, absl::StrCat("127.0.0.1:", port));

  // 64 KiB messages, far more than HTTP/2 flow control lets through unread: the
  // sender ends up blocked in a write while the queue fills behind it.
  const RaftTransportMetrics& m = n1.transport().metrics();
  absl::Duration slowest_send;
  int sent = 0;
  const bool wedged = WaitFor([&] {
    for (int i = 0; i < 20; ++i, ++sent) {
      rangespb::RaftMessageRequest request = Message(sent, 1, 3, 0, 64 << 10);
      const absl::Time start = absl::Now();
      n1.transport().Send(std::move(request));
      slowest_send = std::max(slowest_send, absl::Now() - start);
    }
    absl::SleepFor(absl::Milliseconds(5));
    return m.messages_sent.load() > 0 && m.dropped_queue_full.load() > 0;
  });
  ASSERT_TRUE(wedged);
  // Now the sender is stuck: more Sends stay fast and only add drops.
  const uint64_t sent_before = m.messages_sent.load();
  const uint64_t dropped_before = m.dropped_queue_full.load();
  for (int i = 0; i < 200; ++i, ++sent) {
    rangespb::RaftMessageRequest request = Message(sent, 1, 3, 0, 64 << 10);
    const absl::Time start = absl::Now();
    n1.transport().Send(std::move(request));
    slowest_send = std::max(slowest_send, absl::Now() - start);
  }
  EXPECT_LT(slowest_send, absl::Milliseconds(50));
  EXPECT_GE(m.dropped_queue_full.load(), dropped_before + 150);
  EXPECT_LE(m.messages_sent.load(), sent_before + 50);

  const absl::Time start = absl::Now();
  n1.transport().Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  server->Shutdown(std::chrono::system_clock::now());
}

// A wedged peer and large messages: the queue stops growing at its byte bound, long
// before any message count bound (one slow peer must not pin gigabytes).
TEST(RaftTransportTest, QueueToAWedgedPeerIsBoundedInBytes) {
  AddressBook book;
  TestNode n1(1, &book);
  StuckService stuck;
  int port = 0;
  RaftTransportOptions server_options;
  std::unique_ptr<grpc::Server> server = StartServer(&stuck, server_options, &port);
  book.Set(3, absl::StrCat("127.0.0.1:", port));
  const RaftTransportMetrics& m = n1.transport().metrics();
  for (int i = 0; i < 200; ++i) n1.transport().Send(Message(i, 1, 3, 0, 1 << 20));
  // Whatever HTTP/2 flow control and socket buffers let out, most of 200 MiB must have
  // been refused.
  EXPECT_TRUE(WaitFor([&] { return m.dropped_queue_full.load() > 0; }, absl::Seconds(5)))
      << "200 MiB queued for one peer";
  EXPECT_LE(m.queued_bytes.load(), static_cast<int64_t>(RaftTransportOptions{}.queue_max_bytes));
  EXPECT_GT(m.queued_bytes.load(), 0);
  n1.transport().Stop();
  server->Shutdown(std::chrono::system_clock::now());
}

// Review of issue 14: a queue full of appends to a slow peer must still take control
// messages (heartbeats, votes): dropping them makes the peer's followers call
// elections. They have a reserve of their own; appends stay bounded as before.
TEST(RaftTransportTest, AQueueFullOfAppendsStillTakesHeartbeats) {
  AddressBook book;
  TestNode n1(1, &book, nullptr, [](RaftTransportOptions* options) {
    options->queue_max_bytes = 20 * ((64 << 10) + 256);
    options->batch_max_bytes = 256 << 10;
  });
  StuckService stuck;
  int port = 0;
  RaftTransportOptions server_options;
  std::unique_ptr<grpc::Server> server = StartServer(&stuck, server_options, &port);
  book.Set(3, absl::StrCat("127.0.0.1:", port));
  const RaftTransportMetrics& m = n1.transport().metrics();
  int sent = 0;
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 20; ++i) n1.transport().Send(Message(sent++, 1, 3, 0, 64 << 10));
    absl::SleepFor(absl::Milliseconds(5));
    return m.dropped_queue_full.load() > 0;
  })) << "the queue to the wedged peer never filled";
  const uint64_t dropped = m.dropped_queue_full.load();
  for (int i = 0; i < 100; ++i) {
    rangespb::RaftMessageRequest heartbeat = Message(1000 + i, 1, 3);
    heartbeat.mutable_message()->set_type(raftpb::MSG_HEARTBEAT);
    n1.transport().Send(std::move(heartbeat));
  }
  EXPECT_EQ(m.dropped_queue_full.load(), dropped) << "heartbeats were dropped behind appends";
  n1.transport().Send(Message(sent++, 1, 3, 0, 64 << 10));
  EXPECT_EQ(m.dropped_queue_full.load(), dropped + 1) << "an append went past the bound";
  EXPECT_LE(
      m.queued_bytes.load(),
      static_cast<int64_t>(20 * ((64 << 10) + 256) + RaftTransportOptions{}.control_reserve_bytes));
  n1.transport().Stop();
  server->Shutdown(std::chrono::system_clock::now());
}

// A sink that records what it is fed; fails Add once `fail_at` chunks arrived.
class RecordingSink final : public ranges::SnapshotSink {
 public:
  struct Log {
    absl::Mutex mu;
    std::vector<rangespb::SnapshotChunk> chunks ABSL_GUARDED_BY(mu);
    bool finished ABSL_GUARDED_BY(mu) = false;
  };
  RecordingSink(Log* log, int fail_at) : log_(log), fail_at_(fail_at) {}
  absl::Status Add(const rangespb::SnapshotChunk& chunk) override {
    absl::MutexLock lock(&log_->mu);
    if (static_cast<int>(log_->chunks.size()) == fail_at_) {
      return absl::InvalidArgumentError("injected: bad chunk");
    }
    log_->chunks.push_back(chunk);
    return absl::OkStatus();
  }
  absl::Status Finish() override {
    absl::MutexLock lock(&log_->mu);
    log_->finished = true;
    return absl::OkStatus();
  }

 private:
  Log* log_;
  const int fail_at_;
};

rangespb::SnapshotChunk Chunk(int i, size_t bytes) {
  rangespb::SnapshotChunk c;
  rangespb::SnapshotKeyValue* kv = c.add_kvs();
  kv->set_key(absl::StrCat("k", i));
  kv->set_value(std::string(bytes, 'v'));
  return c;
}

// A snapshot crosses on its own stream: the header goes to accept_snapshot, every
// chunk to the sink, in order, and Finish answers only after the sink finished.
TEST(RaftTransportTest, SnapshotStreamDeliversEveryChunkThenFinishes) {
  AddressBook book;
  RecordingSink::Log log;
  int fail_at = -1;
  rangespb::SnapshotHeader seen;
  TestNode n1(1, &book);
  TestNode n2(2, &book, nullptr, [&](RaftTransportOptions* o) {
    o->accept_snapshot = [&](const rangespb::SnapshotHeader& h)
        -> absl::StatusOr<std::unique_ptr<ranges::SnapshotSink>> {
      if (h.range_id() == 99) return absl::FailedPreconditionError("stale");
      seen = h;
      return std::unique_ptr<ranges::SnapshotSink>(std::make_unique<RecordingSink>(&log, fail_at));
    };
  });
  auto open = [&] {
    absl::StatusOr<std::unique_ptr<ranges::SnapshotStream>> s =
        n1.transport().OpenSnapshotStream(2);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  };
  rangespb::SnapshotChunk header;
  header.mutable_header()->set_range_id(7);
  header.mutable_header()->set_from_node_id(1);
  header.mutable_header()->set_to_node_id(2);
  {
    std::unique_ptr<ranges::SnapshotStream> s = open();
    absl::Status st = s->Send(header);
    ASSERT_TRUE(st.ok()) << st;
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->Send(Chunk(i, 256 << 10)).ok());  // 5 MiB
    st = s->Finish();
    ASSERT_TRUE(st.ok()) << st;
    absl::MutexLock lock(&log.mu);
    EXPECT_TRUE(log.finished);
    ASSERT_EQ(log.chunks.size(), 20u);
    EXPECT_EQ(log.chunks[19].kvs(0).key(), "k19");
    EXPECT_EQ(seen.range_id(), 7u);
  }
  // The receiver refusing a chunk, or the whole snapshot, fails the sender's stream
  // with its reason.
  {
    {
      absl::MutexLock lock(&log.mu);
      log.chunks.clear();
      log.finished = false;
    }
    fail_at = 3;
    std::unique_ptr<ranges::SnapshotStream> s = open();
    absl::Status st = s->Send(header);
    for (int i = 0; st.ok() && i < 10; ++i) st = s->Send(Chunk(i, 1024));
    if (st.ok()) st = s->Finish();
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    absl::MutexLock lock(&log.mu);
    EXPECT_FALSE(log.finished);
  }
  {
    header.mutable_header()->set_range_id(99);
    std::unique_ptr<ranges::SnapshotStream> s = open();
    absl::Status st = s->Send(header);
    if (st.ok()) st = s->Finish();
    EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  }
  // No address: refused at once.
  EXPECT_FALSE(n1.transport().OpenSnapshotStream(5).ok());
}

// A peer that accepts TCP connections but never speaks HTTP/2 (a blackhole, or a
// SIGSTOPped process): the connect times out and the message is reported.
TEST(RaftTransportTest, SilentPeerTimesOutAndIsReportedUnreachable) {
  AddressBook book;
  TestNode n1(1, &book, nullptr, [](RaftTransportOptions* options) {
    options->connect_timeout = std::chrono::milliseconds(300);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(fd, 16), 0);  // never accept(): the kernel completes handshakes
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  book.Set(9, absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)));

  const absl::Time start = absl::Now();
  n1.transport().Send(Message(5, 1, 9));
  EXPECT_TRUE(WaitFor([&] { return n1.Unreachable(5, 9); }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  n1.transport().Stop();
  close(fd);
}

TEST(RaftTransportTest, FaultInjectorDropsOutboundSilentlyAndInbound) {
  AddressBook book;
  FaultInjector faults1, faults2;
  TestNode n1(1, &book, &faults1), n2(2, &book, &faults2);

  faults1.Set({}, {2});
  n1.transport().Send(Message(1, 1, 2));
  EXPECT_EQ(n1.transport().metrics().dropped_fault_injected.load(), 1u);
  faults1.Set({}, {});
  n1.transport().Send(Message(2, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(2); }));
  EXPECT_FALSE(n2.ReceivedRange(1));
  EXPECT_FALSE(n1.Unreachable(1, 2));  // a partition is silent, like a lost packet

  faults2.Set({1}, {});
  n1.transport().Send(Message(3, 1, 2));
  ASSERT_TRUE(
      WaitFor([&] { return n2.transport().metrics().batches_dropped_inbound.load() >= 1; }));
  faults2.Set({}, {});
  n1.transport().Send(Message(4, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(4); }));
  EXPECT_FALSE(n2.ReceivedRange(3));
}

TEST(RaftTransportTest, MisaddressedBatchIsDropped) {
  AddressBook book;
  TestNode n1(1, &book), n2(2, &book);
  book.Set(5, book.Resolve(2));  // a stale address: node 2 now listens where 5 did
  n1.transport().Send(Message(1, 1, 5));
  ASSERT_TRUE(
      WaitFor([&] { return n2.transport().metrics().batches_dropped_inbound.load() >= 1; }));
  EXPECT_EQ(n2.MessagesReceived(), 0u);
}

TEST(RaftTransportTest, StreamsAreReestablishedAfterTheirLifetime) {
  AddressBook book;
  TestNode n1(1, &book, nullptr, [](RaftTransportOptions* options) {
    options->stream_lifetime = std::chrono::milliseconds(100);
  });
  TestNode n2(2, &book);
  for (int i = 0; i < 50; ++i) {
    n1.transport().Send(Message(1, 1, 2, i));
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(WaitFor([&] { return n2.MessagesReceived() == 50; }));
  EXPECT_GE(n1.transport().metrics().stream_connects.load(), 3u);
  EXPECT_EQ(n1.transport().metrics().stream_failures.load(), 0u);
}

// Issue 15: stream rotation is decided on the transport's injected clock
// (RaftTransportOptions::time). With a manual clock the stream lives exactly
// stream_lifetime of it, however little real time passes; were the transport to read
// the real clock, the 10-minute stream would not rotate within the test.
TEST(RaftTransportTest, AStreamRotatesWhenTheInjectedClockPassesItsLifetime) {
  ManualTimeSource time;
  AddressBook book;
  TestNode n1(1, &book, nullptr, [&time](RaftTransportOptions* options) {
    options->time = &time;
    options->stream_lifetime = std::chrono::minutes(10);
  });
  TestNode n2(2, &book);
  n1.transport().Send(Message(1, 1, 2, 0));
  ASSERT_TRUE(WaitFor([&] { return n2.MessagesReceived() == 1; }));
  EXPECT_EQ(n1.transport().metrics().stream_connects.load(), 1u);
  time.Advance(absl::Minutes(10) - absl::Nanoseconds(1));
  n1.transport().Send(Message(1, 1, 2, 1));
  ASSERT_TRUE(WaitFor([&] { return n2.MessagesReceived() == 2; }));
  // Real time for the sender to (wrongly) notice a passed deadline: 20 poll slices.
  absl::SleepFor(20 * ManualTimeSource::kPollSlice);
  EXPECT_EQ(n1.transport().metrics().stream_connects.load(), 1u) << "1 ns before its end";
  time.Advance(absl::Nanoseconds(1));
  EXPECT_TRUE(WaitFor([&] { return n1.transport().metrics().stream_connects.load() == 2; }));
  n1.transport().Send(Message(1, 1, 2, 2));
  EXPECT_TRUE(WaitFor([&] { return n2.MessagesReceived() == 3; }));
  EXPECT_EQ(n1.transport().metrics().stream_failures.load(), 0u);
}

// ConfigureServer accepts keepalive pings on an idle stream: without it the server
// answers frequent pings with GOAWAY and every idle stream breaks.
TEST(RaftTransportTest, IdleStreamSurvivesKeepalives) {
  AddressBook book;
  auto fast_keepalive = [](RaftTransportOptions* options) {
    options->keepalive_time = std::chrono::milliseconds(100);
    options->keepalive_timeout = std::chrono::milliseconds(1000);
  };
  TestNode n1(1, &book, nullptr, fast_keepalive), n2(2, &book, nullptr, fast_keepalive);
  n1.transport().Send(Message(1, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(1); }));
  absl::SleepFor(absl::Seconds(6));  // the default policy sends GOAWAY by ~5 s
  n1.transport().Send(Message(2, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(2); }));
  EXPECT_EQ(n1.transport().metrics().stream_failures.load(), 0u);
  EXPECT_EQ(n1.transport().metrics().stream_connects.load(), 1u);
}

TEST(RaftTransportTest, StopWithConnectedStreamsIsPromptAndLaterSendsDrop) {
  AddressBook book;
  TestNode n1(1, &book), n2(2, &book);
  n1.transport().Send(Message(1, 1, 2));
  n2.transport().Send(Message(1, 2, 1));  // n1 also serves an inbound stream
  ASSERT_TRUE(WaitFor([&] { return n2.ReceivedRange(1) && n1.ReceivedRange(1); }));

  const absl::Time start = absl::Now();
  n1.transport().Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  n1.transport().Stop();  // idempotent

  n1.transport().Send(Message(2, 1, 2));
  EXPECT_EQ(n1.transport().metrics().dropped_stopped.load(), 1u);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(n2.ReceivedRange(2));
}

}  // namespace
}  // namespace rangedb
