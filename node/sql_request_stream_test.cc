// SqlRequestStream (node/sql_request_stream.h) over a scripted stream: who reads,
// when a listener takes over, cancels, timeouts, the client going away, and the
// stop. The service over real gRPC is in tests/sql_service_test.cc.
#include "node/sql_request_stream.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace rangedb {
namespace {

constexpr absl::Duration kGrace = absl::Milliseconds(50);
constexpr int64_t kGraceNanos = 50'000'000;

// A stream whose client is the test: Push and HalfClose feed Read, which blocks
// until one of them or Cancel. It records the thread of every Read that returned a
// message.
class ScriptedStream final : public SqlRequestStream::Stream {
 public:
  void Push(sqlpb::SqlRequest r) {
    absl::MutexLock lock(&mu_);
    in_.push_back(std::move(r));
  }
  void HalfClose() {
    absl::MutexLock lock(&mu_);
    half_closed_ = true;
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  // Waits until every pushed message was read.
  void AwaitDrained() {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_.empty(); };
    mu_.Await(absl::Condition(&drained));
  }
  std::vector<std::thread::id> readers() const {
    absl::MutexLock lock(&mu_);
    return readers_;
  }

  bool Read(sqlpb::SqlRequest* msg) override {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled_ || half_closed_ || !in_.empty();
    };
    mu_.Await(absl::Condition(&ready));
    if (cancelled_ || in_.empty()) return false;
    *msg = std::move(in_.front());
    in_.pop_front();
    readers_.push_back(std::this_thread::get_id());
    return true;
  }
  bool Write(const sqlpb::SqlResponse&, grpc::WriteOptions) override { return true; }
  bool NextMessageSize(uint32_t* sz) override {
    *sz = 0;
    return true;
  }
  void SendInitialMetadata() override {}

 private:
  mutable absl::Mutex mu_;
  std::deque<sqlpb::SqlRequest> in_ ABSL_GUARDED_BY(mu_);
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread::id> readers_ ABSL_GUARDED_BY(mu_);
};

sqlpb::SqlRequest Statement(const std::string& sql, int64_t timeout_ms = 0) {
  sqlpb::SqlRequest r;
  r.mutable_statement()->set_sql(sql);
  r.set_timeout_ms(timeout_ms);
  return r;
}

sqlpb::SqlRequest CancelRequest() {
  sqlpb::SqlRequest r;
  r.set_cancel(true);
  return r;
}

class SqlRequestStreamTest : public ::testing::Test {
 protected:
  SqlRequestStreamTest() {
    requests_ = std::make_unique<SqlRequestStream>(
        &stream_, &time_, /*tick_clock=*/&time_, /*watch=*/nullptr, kGrace,
        SqlRequestStream::Hooks{
            .interrupt = [this] { interrupts_.fetch_add(1); },
            .is_cancelled = [this] { return stream_.cancelled(); },
            .cancel_call = [this] { stream_.Cancel(); },
        });
  }

  // Time passes, then the watch ticks.
  void Tick(absl::Duration passes) {
    time_.Advance(passes);
    requests_->OnTick();
  }

  void AwaitInterrupts(int n) {
    for (int i = 0; i < 5000 && interrupts_.load() < n; ++i) absl::SleepFor(absl::Milliseconds(1));
    EXPECT_EQ(interrupts_.load(), n);
  }

  std::string NextSql() {
    std::optional<sqlpb::SqlRequest> r = requests_->Next();
    return r.has_value() ? r->statement().sql() : "<end>";
  }

  ScriptedStream stream_;
  ManualTimeSource time_;
  std::atomic<int> interrupts_{0};
  std::unique_ptr<SqlRequestStream> requests_;
};

TEST_F(SqlRequestStreamTest, ShortRequestsAreReadByTheThreadThatRunsThem) {
  stream_.Push(Statement("a"));
  stream_.Push(Statement("b"));
  EXPECT_EQ(NextSql(), "a");
  Tick(absl::Milliseconds(10));  // shorter than the grace: nobody else reads
  EXPECT_EQ(NextSql(), "b");
  stream_.HalfClose();
  EXPECT_EQ(NextSql(), "<end>");
  EXPECT_FALSE(requests_->listener_started());
  for (std::thread::id id : stream_.readers()) EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_FALSE(requests_->client_gone());
}

TEST_F(SqlRequestStreamTest, ACancelWhileNothingRunsIsDropped) {
  stream_.Push(CancelRequest());
  stream_.Push(Statement("a"));
  EXPECT_EQ(NextSql(), "a");
  EXPECT_EQ(interrupts_.load(), 0);
}

TEST_F(SqlRequestStreamTest, ALongRequestsCancelIsReadByTheListenerAndReadingComesBack) {
  stream_.Push(Statement("long"));
  EXPECT_EQ(NextSql(), "long");
  Tick(absl::Nanoseconds(kGraceNanos - 1));
  EXPECT_FALSE(requests_->listener_started());
  Tick(absl::Nanoseconds(1));
  EXPECT_TRUE(requests_->listener_started());
  stream_.Push(CancelRequest());
  AwaitInterrupts(1);
  // A pipelined request is queued while "long" runs; a cancel after it still
  // reaches "long".
  stream_.Push(Statement("next"));
  stream_.Push(CancelRequest());
  AwaitInterrupts(2);
  EXPECT_EQ(NextSql(), "next");  // from the queue
  // "next" ends; the listener still reads: the request after it comes through it,
  // and reading goes back to this thread.
  std::string after;
  std::thread runner([&] { after = NextSql(); });
  // Once the runner waits in Next, nothing runs: the listener hands over the next
  // request and stops reading. (Pushed earlier, "third" would be read while "next"
  // still counts as running, and the listener would read on.)
  while (requests_->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stream_.Push(Statement("third"));
  runner.join();
  EXPECT_EQ(after, "third");
  stream_.Push(Statement("fourth"));
  EXPECT_EQ(NextSql(), "fourth");
  const std::vector<std::thread::id> readers = stream_.readers();
  ASSERT_EQ(readers.size(), 6u);
  EXPECT_EQ(readers[0], std::this_thread::get_id());
  for (int i = 1; i <= 4; ++i) EXPECT_NE(readers[i], std::this_thread::get_id()) << i;
  EXPECT_EQ(readers[5], std::this_thread::get_id()) << "reading did not come back";
  EXPECT_EQ(interrupts_.load(), 2);
}

// Past its timeout a request is interrupted at every tick until it ends: the session
// clears an interrupt that lands between two statements or before SQLite's first
// step (the review's finding F1), so one would not be enough.
TEST_F(SqlRequestStreamTest, TheTimeoutInterruptsTheRequestAtEveryTickUntilItEnds) {
  stream_.Push(Statement("slow", /*timeout_ms=*/100));
  EXPECT_EQ(NextSql(), "slow");
  Tick(absl::Milliseconds(99));
  EXPECT_EQ(interrupts_.load(), 0);
  EXPECT_FALSE(requests_->timed_out());
  Tick(absl::Milliseconds(1));
  EXPECT_EQ(interrupts_.load(), 1);
  EXPECT_TRUE(requests_->timed_out());
  Tick(absl::Milliseconds(25));
  Tick(absl::Milliseconds(25));
  EXPECT_EQ(interrupts_.load(), 3);
  // The next request starts with its own budget (none here).
  stream_.Push(Statement("untimed"));
  EXPECT_EQ(NextSql(), "untimed");
  EXPECT_FALSE(requests_->timed_out());
  Tick(absl::Hours(1));
  EXPECT_FALSE(requests_->timed_out());
  EXPECT_EQ(interrupts_.load(), 3);
}

// The grace is measured on the tick clock (real time in the service), the timeout on
// the node's injected time: with the injected time held still, a long request's
// cancel is still read, and its timeout does not fire.
TEST(SqlRequestStreamClocksTest, TheGraceRunsOnTheTickClockAndTheTimeoutOnTheNodesTime) {
  ScriptedStream stream;
  ManualTimeSource node_time, tick_clock;
  std::atomic<int> interrupts{0};
  SqlRequestStream requests(&stream, &node_time, &tick_clock, /*watch=*/nullptr, kGrace,
                            SqlRequestStream::Hooks{
                                .interrupt = [&] { interrupts.fetch_add(1); },
                                .is_cancelled = [&] { return stream.cancelled(); },
                                .cancel_call = [&] { stream.Cancel(); },
                            });
  stream.Push(Statement("long", /*timeout_ms=*/10));
  ASSERT_TRUE(requests.Next().has_value());
  tick_clock.Advance(absl::Hours(1));
  requests.OnTick();
  EXPECT_TRUE(requests.listener_started());
  EXPECT_FALSE(requests.timed_out()) << "the node's time did not move";
  stream.Push(CancelRequest());
  for (int i = 0; i < 5000 && interrupts.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(interrupts.load(), 1);
  node_time.Advance(absl::Milliseconds(10));
  requests.OnTick();
  EXPECT_TRUE(requests.timed_out());
  EXPECT_EQ(interrupts.load(), 2);
}

TEST_F(SqlRequestStreamTest, AHugeTimeoutDoesNotOverflowIntoThePast) {
  stream_.Push(Statement("slow", std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(NextSql(), "slow");
  Tick(absl::Milliseconds(1));
  EXPECT_FALSE(requests_->timed_out());
  EXPECT_EQ(interrupts_.load(), 0);
}

TEST_F(SqlRequestStreamTest, AClientThatGoesAwayStopsTheRunningRequest) {
  stream_.Push(Statement("long"));
  EXPECT_EQ(NextSql(), "long");
  Tick(kGrace);
  stream_.Cancel();
  AwaitInterrupts(1);
  EXPECT_TRUE(requests_->client_gone());
  EXPECT_EQ(NextSql(), "<end>");
}

TEST_F(SqlRequestStreamTest, AHalfCloseLetsTheQueuedRequestsRun) {
  stream_.Push(Statement("long"));
  EXPECT_EQ(NextSql(), "long");
  Tick(kGrace);
  stream_.Push(Statement("queued"));
  stream_.HalfClose();
  stream_.AwaitDrained();
  EXPECT_EQ(NextSql(), "queued");
  EXPECT_EQ(NextSql(), "<end>");
  EXPECT_FALSE(requests_->client_gone());
  EXPECT_EQ(interrupts_.load(), 0);
}

TEST_F(SqlRequestStreamTest, StoppingWhileTheListenerReadsCancelsTheCall) {
  stream_.Push(Statement("long"));
  EXPECT_EQ(NextSql(), "long");
  Tick(kGrace);
  ASSERT_TRUE(requests_->listener_started());
  requests_.reset();  // must not hang in the listener's Read
  EXPECT_TRUE(stream_.cancelled());
}

TEST_F(SqlRequestStreamTest, TheListenersQueueIsBoundedAndKeepsOrder) {
  stream_.Push(Statement("long"));
  EXPECT_EQ(NextSql(), "long");
  Tick(kGrace);
  constexpr int kPipelined = SqlRequestStream::kMaxQueued + 4;
  for (int i = 0; i < kPipelined; ++i) stream_.Push(Statement(std::to_string(i)));
  // The listener stops reading at the bound: "long", kMaxQueued queued, and one in
  // its hands waiting for room.
  const size_t bound = SqlRequestStream::kMaxQueued + 2;
  for (int i = 0; i < 2000 && stream_.readers().size() < bound; ++i)
    absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(stream_.readers().size(), bound);
  for (int i = 0; i < kPipelined; ++i) EXPECT_EQ(NextSql(), std::to_string(i));
}

}  // namespace
}  // namespace rangedb
