// The SQL service (node/sql_service.h, proto/sql.proto) of real rangedb processes,
// over real gRPC: statement timeouts, cancels, a client that goes away, a node drain
// and malformed input (docs/sql.md "Errors (SQLSTATE)"). client/sql_client_test.cc
// checks the client against a fake server; this checks the server.
//
// One 3-node cluster for the suite. Nodes 0 and 1 serve the sessions of every test
// but the drain test, which drains node 2 for good; so the tests do not depend on
// their order.
//
// Some cases speak the wire protocol directly (RawSession) to send what
// SqlConnection never sends alone: a request with a timeout but no client deadline,
// an explicit cancel, a request with no statement.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/sql_client.h"
#include "proto/node.grpc.pb.h"
#include "proto/sql.grpc.pb.h"
#include "tests/cluster_harness.h"
#include "tests/node_cluster_util.h"
#include "tests/process.h"
#include "tests/sql_collect.h"

namespace rangedb {
namespace {

using client::SqlColumn;
using client::SqlConnection;
using client::SqlError;
using client::SqlParameter;
using client::SqlRow;
using client::SqlValue;
using harness::ClusterHarness;
using harness::ClusterOptions;

// A statement that never ends by itself and touches no table: SQLite counts forever.
constexpr char kEndless[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
// One that never ends and reads a row of table `probe` in every recursive step (a
// point read: one KV batch), so while it runs its node's gateway routes a steady
// stream of batches. (Joined outside the CTE instead, the read would never come:
// SQLite materializes the endless CTE first.)
constexpr char kEndlessReads[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c JOIN probe ON probe.k = 1) "
    "SELECT count(*) FROM c";
// "Promptly": a statement stopped by its deadline or a cancel answers within this.
constexpr absl::Duration kPrompt = absl::Seconds(3);

using Collect = testing_util::SqlCollect;

// One answer on the wire: the messages of a request up to request_done.
struct RawAnswer {
  std::vector<sqlpb::Row> rows;
  std::optional<sqlpb::SqlError> error;
  int done_statements = 0;  // statements that ended (done or error)
  bool in_transaction = false;
};

// A session spoken in the wire protocol (proto/sql.proto), bounded by one deadline
// for the whole call so that a server that never answers fails the test instead of
// hanging it.
class RawSession {
 public:
  RawSession(const std::string& address, absl::Duration budget) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    stub_ = sqlpb::SQL::NewStub(channel_);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + budget));
    stream_ = stub_->Session(&context_);
  }
  ~RawSession() {
    context_.TryCancel();
    (void)stream_->Finish();
  }

  bool Send(const sqlpb::SqlRequest& request) { return stream_->Write(request); }
  bool SendSql(const std::string& sql, int64_t timeout_ms) {
    sqlpb::SqlRequest request;
    request.mutable_statement()->set_sql(sql);
    request.set_timeout_ms(timeout_ms);
    return Send(request);
  }
  bool SendCancel() {
    sqlpb::SqlRequest request;
    request.set_cancel(true);
    return Send(request);
  }
  // Reads one request's answer; nullopt if the stream ended first.
  std::optional<RawAnswer> Read() {
    RawAnswer answer;
    sqlpb::SqlResponse response;
    // Bounded by the call's deadline.
    while (stream_->Read(&response)) {
      for (const sqlpb::Row& r : response.rows()) answer.rows.push_back(r);
      if (response.has_error()) answer.error = response.error();
      if (response.done()) ++answer.done_statements;
      answer.in_transaction = response.in_transaction();
      if (response.request_done()) return answer;
    }
    return std::nullopt;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<sqlpb::SQL::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<sqlpb::SqlRequest, sqlpb::SqlResponse>> stream_;
};

std::string Text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (std::holds_alternative<client::SqlNull>(v)) return "NULL";
  return "?";
}

// The value of an untyped metric line `name value` in a Prometheus exposition.
std::optional<double> MetricValue(const std::string& exposition, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

class SqlServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.num_nodes = 3;
    absl::StatusOr<std::unique_ptr<ClusterHarness>> c = ClusterHarness::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
    ASSERT_TRUE(cluster_->StartCluster(absl::Seconds(30)).ok());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr) << "the cluster did not start"; }

  static std::unique_ptr<SqlConnection> Connect(std::vector<int> nodes,
                                                absl::Duration timeout = absl::Seconds(10)) {
    client::SqlConnectionOptions options;
    for (int i : nodes) options.hosts.push_back(cluster_->address(i));
    options.timeout = timeout;
    absl::StatusOr<std::unique_ptr<SqlConnection>> c = SqlConnection::Connect(options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  // Runs sql; the transport must hold (SQL errors are in the answer).
  static Collect Run(SqlConnection& c, const std::string& sql,
                     const std::vector<SqlParameter>& params = {}) {
    Collect out;
    absl::Status s = c.Execute(sql, params, out);
    EXPECT_TRUE(s.ok()) << sql.substr(0, 200) << ": " << s;
    return out;
  }
  // Runs sql, which must succeed, and returns its rows as text, "a|b" per row.
  static std::vector<std::string> Rows(SqlConnection& c, const std::string& sql,
                                       const std::vector<SqlParameter>& params = {}) {
    Collect out = Run(c, sql, params);
    EXPECT_FALSE(out.error) << sql << ": " << out.error->sqlstate << " " << out.error->message;
    std::vector<std::string> rows;
    for (const SqlRow& r : out.rows) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) absl::StrAppend(&line, i ? "|" : "", Text(r[i]));
      rows.push_back(line);
    }
    return rows;
  }
  // The session still runs statements.
  static void ExpectUsable(SqlConnection& c) {
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(Rows(c, "SELECT 1"), std::vector<std::string>{"1"});
  }
  static void ExpectUsable(RawSession& s) {
    ASSERT_TRUE(s.SendSql("SELECT 41 + 1", 5000));
    std::optional<RawAnswer> a = s.Read();
    ASSERT_TRUE(a.has_value()) << "the session ended";
    ASSERT_FALSE(a->error) << a->error->sqlstate() << " " << a->error->message();
    ASSERT_EQ(a->rows.size(), 1u);
    EXPECT_EQ(a->rows[0].values(0).integer(), 42);
  }
  // Sends a cancel now; the running request must answer 57014 (a cancel, not a
  // timeout) promptly, with the session still there.
  static void CancelAndExpectCancelled(RawSession& s) {
    const absl::Time cancelled = absl::Now();
    ASSERT_TRUE(s.SendCancel());
    std::optional<RawAnswer> a = s.Read();
    ASSERT_TRUE(a.has_value()) << "the session ended instead of answering";
    ASSERT_TRUE(a->error.has_value());
    EXPECT_EQ(a->error->sqlstate(), "57014") << a->error->message();
    EXPECT_FALSE(absl::StrContains(a->error->message(), "timeout")) << a->error->message();
    EXPECT_LT(absl::Now() - cancelled, kPrompt);
  }
  // Node i is up: its process runs and its HTTP server answers. (Not an RPC over the
  // harness's long-idle channel, which the server's keepalive may have closed: see
  // AnIdleSessionOutlivesTheServersKeepalive.)
  static void ExpectNodeServes(int i) {
    EXPECT_TRUE(cluster_->IsRunning(i)) << "node " << i << " exited";
    absl::StatusOr<harness::HttpResponse> health =
        harness::HttpGet(cluster_->http_address(i), "/health", absl::Seconds(5));
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(health->status_code, 200) << health->body;
  }
  // Node i's rangedb_gateway_batches_total: the KV batches its gateway routed.
  static double GatewayBatches(int i) {
    absl::StatusOr<harness::HttpResponse> r =
        harness::HttpGet(cluster_->http_address(i), "/metrics", absl::Seconds(5));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return -1;
    std::optional<double> v = MetricValue(r->body, "rangedb_gateway_batches_total");
    EXPECT_TRUE(v.has_value()) << r->body;
    return v.value_or(-1);
  }
  // Batches node i's gateway routes in `window`.
  static double GatewayBatchesIn(int i, absl::Duration window) {
    const double before = GatewayBatches(i);
    absl::SleepFor(window);
    return GatewayBatches(i) - before;
  }

  static ClusterHarness* cluster_;
};

ClusterHarness* SqlServiceTest::cluster_ = nullptr;

// Case 1: the request's timeout_ms is the statement timeout. The server stops the
// statement itself (no cancel from the client) with 57014 naming the timeout, and
// the session goes on.
TEST_F(SqlServiceTest, StatementTimeoutStopsAnEndlessStatementAndTheSessionGoesOn) {
  RawSession session(cluster_->address(0), absl::Seconds(30));
  const absl::Time start = absl::Now();
  ASSERT_TRUE(session.SendSql(kEndless, /*timeout_ms=*/500));
  std::optional<RawAnswer> a = session.Read();
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(a.has_value()) << "the session ended instead of answering";
  ASSERT_TRUE(a->error.has_value()) << "an endless statement ended without an error";
  EXPECT_EQ(a->error->sqlstate(), "57014") << a->error->message();
  EXPECT_TRUE(absl::StrContains(a->error->message(), "statement timeout")) << a->error->message();
  EXPECT_FALSE(a->in_transaction);
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Milliseconds(500) + kPrompt);
  ExpectUsable(session);
  // The next request has no timeout of its own: the last one's does not linger.
  ASSERT_TRUE(
      session.SendSql("SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                      "SELECT x + 1 FROM c WHERE x < 300000) SELECT x FROM c)",
                      /*timeout_ms=*/0));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->error) << a->error->sqlstate() << " " << a->error->message();
}

// Case 1 inside BEGIN … : a statement timeout of a read (a SELECT) fails that
// statement only. The transaction stays open and usable: it still sees its own
// write, and COMMIT commits it. (SQLite's rule for an interrupted read; PostgreSQL
// would abort the transaction instead, 25P02 until ROLLBACK. docs/sql.md does not
// say which; see the report.)
TEST_F(SqlServiceTest, StatementTimeoutOfAReadInsideBeginKeepsTheTransaction) {
  std::unique_ptr<SqlConnection> setup = Connect({0});
  ASSERT_NE(setup, nullptr);
  ASSERT_FALSE(Run(*setup, "CREATE TABLE timeout_read (k INTEGER PRIMARY KEY, v TEXT)").error);

  RawSession session(cluster_->address(0), absl::Seconds(30));
  ASSERT_TRUE(session.SendSql("BEGIN; INSERT INTO timeout_read VALUES (1, 'kept')", 5000));
  std::optional<RawAnswer> a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->error) << a->error->message();
  ASSERT_TRUE(a->in_transaction);

  const absl::Time start = absl::Now();
  ASSERT_TRUE(session.SendSql(kEndless, /*timeout_ms=*/500));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->error.has_value());
  EXPECT_EQ(a->error->sqlstate(), "57014") << a->error->message();
  EXPECT_TRUE(absl::StrContains(a->error->message(), "statement timeout")) << a->error->message();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500) + kPrompt);
  EXPECT_TRUE(a->in_transaction) << "the timeout ended the transaction";

  // Still open, not aborted: reads its own write, then commits it.
  ASSERT_TRUE(session.SendSql("SELECT v FROM timeout_read WHERE k = 1", 5000));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->error) << a->error->sqlstate() << " " << a->error->message();
  ASSERT_EQ(a->rows.size(), 1u);
  EXPECT_EQ(a->rows[0].values(0).text(), "kept");
  ASSERT_TRUE(session.SendSql("COMMIT", 5000));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->error) << a->error->sqlstate() << " " << a->error->message();
  EXPECT_FALSE(a->in_transaction);
  EXPECT_EQ(Rows(*setup, "SELECT v FROM timeout_read"), std::vector<std::string>{"kept"});
}

// Case 1 inside BEGIN … for a write: SQLite rolls the whole transaction back when it
// interrupts a write, and the server keeps the session in it, aborted (25P02 until
// ROLLBACK, as PostgreSQL; sql/session.cc RunDmlOnce); COMMIT then rolls back, and
// nothing of the transaction is committed.
//
// It was a race (found by this test): about one run in four the session's own check
// in the virtual table's write (Session::CheckInterrupted) saw the interrupt first,
// SQLite then undid only the statement, and COMMIT committed the earlier row. The
// session now ends the transaction either way.
TEST_F(SqlServiceTest, StatementTimeoutOfAWriteInsideBeginAbortsTheTransaction) {
  std::unique_ptr<SqlConnection> setup = Connect({1});
  ASSERT_NE(setup, nullptr);
  ASSERT_FALSE(Run(*setup, "CREATE TABLE timeout_write (k INTEGER PRIMARY KEY, v TEXT)").error);

  RawSession session(cluster_->address(1), absl::Seconds(30));
  ASSERT_TRUE(session.SendSql("BEGIN; INSERT INTO timeout_write VALUES (1, 'lost')", 5000));
  std::optional<RawAnswer> a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(a->error) << a->error->message();

  // An INSERT … SELECT of an endless row source: bounded only by the timeout (and,
  // far later, by the transaction's write limit).
  ASSERT_TRUE(
      session.SendSql("INSERT INTO timeout_write (k, v) WITH RECURSIVE c(x) AS (SELECT 2 UNION ALL "
                      "SELECT x + 1 FROM c) SELECT x, 'x' FROM c",
                      /*timeout_ms=*/500));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->error.has_value());
  EXPECT_EQ(a->error->sqlstate(), "57014") << a->error->message();
  EXPECT_TRUE(a->in_transaction);

  ASSERT_TRUE(session.SendSql("SELECT count(*) FROM timeout_write", 5000));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->error.has_value()) << "the aborted transaction ran a statement";
  EXPECT_EQ(a->error->sqlstate(), "25P02") << a->error->message();
  ASSERT_TRUE(session.SendSql("COMMIT", 5000));
  a = session.Read();
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->error) << a->error->sqlstate() << " " << a->error->message();
  EXPECT_FALSE(a->in_transaction);
  ExpectUsable(session);
  EXPECT_EQ(Rows(*setup, "SELECT count(*) FROM timeout_write"), std::vector<std::string>{"0"});
}

// Case 2: a cancel request (what SqlConnection sends when its own deadline passes)
// stops the running statement with 57014 at once, and the session goes on. The
// request has no timeout, so only the cancel can stop it.
TEST_F(SqlServiceTest, CancelStopsTheRunningStatementAndTheSessionGoesOn) {
  RawSession session(cluster_->address(0), absl::Seconds(30));
  ASSERT_TRUE(session.SendSql(kEndless, /*timeout_ms=*/0));
  // Let it start: a cancel is for the statement running when it arrives.
  absl::SleepFor(absl::Milliseconds(500));
  CancelAndExpectCancelled(session);
  ExpectUsable(session);
  // A cancel while nothing runs is a no-op: the next statement is not hit by it.
  ASSERT_TRUE(session.SendCancel());
  ExpectUsable(session);
}

// Case 2 with a pipelined request: a client that sends a second request behind an
// endless one, then a cancel. The cancel stops the first (the listener thread reads
// the stream while a request runs long: node/sql_request_stream.h), and the second
// runs after it, in order.
TEST_F(SqlServiceTest, ACancelBehindAPipelinedRequestStopsTheRunningOneOnly) {
  RawSession session(cluster_->address(0), absl::Seconds(30));
  ASSERT_TRUE(session.SendSql(kEndless, /*timeout_ms=*/0));
  ASSERT_TRUE(session.SendSql("SELECT 6 * 7", /*timeout_ms=*/0));
  absl::SleepFor(absl::Milliseconds(500));
  CancelAndExpectCancelled(session);
  std::optional<RawAnswer> second = session.Read();
  ASSERT_TRUE(second.has_value()) << "the pipelined request was lost";
  ASSERT_FALSE(second->error) << second->error->sqlstate() << " " << second->error->message();
  ASSERT_EQ(second->rows.size(), 1u);
  EXPECT_EQ(second->rows[0].values(0).integer(), 42);
  ExpectUsable(session);
}

// Case 2, the cancel sent right behind its statement (before the server reads the
// stream for it: it does so once a request has run 50 ms): it still stops it.
TEST_F(SqlServiceTest, ACancelSentRightAfterItsStatementStopsIt) {
  RawSession session(cluster_->address(2), absl::Seconds(30));
  ASSERT_TRUE(session.SendSql(kEndless, /*timeout_ms=*/0));
  CancelAndExpectCancelled(session);
  ExpectUsable(session);
}

// Case 2 through SqlConnection: its deadline (options.timeout) is sent as the
// request's timeout and also ends its own wait with a cancel; either stops the
// statement with 57014, Execute succeeds (a SQL error is an answer), and the session
// goes on (client/sql_client.h "Deadlines").
TEST_F(SqlServiceTest, ClientDeadlineStopsTheStatementAndTheConnectionGoesOn) {
  std::unique_ptr<SqlConnection> c = Connect({1}, absl::Seconds(1));
  ASSERT_NE(c, nullptr);
  const absl::Time start = absl::Now();
  Collect out;
  absl::Status s = c->Execute(kEndless, {}, out);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1) + kPrompt);
  ASSERT_TRUE(out.error.has_value()) << "an endless statement ended without an error";
  EXPECT_EQ(out.error->sqlstate, "57014") << out.error->message;
  ExpectUsable(*c);
}

// Case 3: a client killed (-9) in the middle of an endless statement. The server
// notices the broken stream, stops the statement and ends the session: the node's
// gateway, which routed the statement's reads at a steady rate, goes back to idle
// long before the statement's own timeout (2 minutes) could stop it.
TEST_F(SqlServiceTest, AClientThatGoesAwayHasItsStatementStopped) {
  std::unique_ptr<SqlConnection> setup = Connect({1});
  ASSERT_NE(setup, nullptr);
  ASSERT_FALSE(Run(*setup, "CREATE TABLE probe (k INTEGER PRIMARY KEY)").error);
  ASSERT_FALSE(Run(*setup, "INSERT INTO probe VALUES (1)").error);
  setup.reset();

  const double idle = GatewayBatchesIn(1, absl::Seconds(1));
  harness::ProcessOptions cli;
  cli.argv = {cluster_->binary(), "sql", absl::StrCat("--host=", cluster_->address(1)),
              "--timeout=120s",   "-e",  kEndlessReads};
  cli.log_path = absl::StrCat(cluster_->base_dir(), "/sql_cli.log");
  absl::StatusOr<std::unique_ptr<harness::Process>> p = harness::Process::Start(cli);
  ASSERT_TRUE(p.ok()) << p.status();
  // Running: the gateway routes far more than when idle.
  double running = 0;
  const bool started = testing_util::WaitFor(
      [&] {
        running = GatewayBatchesIn(1, absl::Milliseconds(500));
        return running > 10 * idle + 100;
      },
      absl::Seconds(10));
  ASSERT_TRUE(started) << "idle " << idle << "/s, running " << running << "/0.5s";
  ASSERT_TRUE((*p)->IsRunning()) << "the CLI ended: " << (*p)->exit_info()->ToString();

  ASSERT_TRUE((*p)->Kill().ok());
  const absl::Time killed = absl::Now();
  double after = 0;
  const bool stopped = testing_util::WaitFor(
      [&] {
        after = GatewayBatchesIn(1, absl::Milliseconds(500));
        return after < running / 10;
      },
      absl::Seconds(3));
  EXPECT_TRUE(stopped) << "the statement kept running after its client died: idle " << idle
                       << "/s, running " << running << "/0.5s, after " << after << "/0.5s";
  // Within the 3 s of polling (plus one window): the broken connection, not the
  // server's keepalive (about 5 s for a silent client) nor the statement's timeout.
  EXPECT_LT(absl::Now() - killed, absl::Seconds(4));
  ExpectNodeServes(1);
  std::unique_ptr<SqlConnection> c = Connect({1});
  ASSERT_NE(c, nullptr);
  ExpectUsable(*c);
}

// Case 4: a drain (Admin.Drain, what SIGTERM runs: node/serve.cc) of node 2 while
// one session on it is idle, one is inside BEGIN with a write, and one runs an
// endless statement. The running statement is interrupted (57014) at the drain's SQL
// deadline; every later statement is refused with 57P01; the open transaction is not
// committed; the node refuses new sessions, and a client that lists another node goes
// on there.
//
// The drain is kept short (about 2 s): an idle SqlConnection may lose its session
// to the server's keepalive after about 5 s (AnIdleSessionOutlivesTheServersKeepalive).
TEST_F(SqlServiceTest, DrainRefusesStatementsAndTheClientGoesOnElsewhere) {
  {
    std::unique_ptr<SqlConnection> setup = Connect({0});
    ASSERT_NE(setup, nullptr);
    ASSERT_FALSE(Run(*setup, "CREATE TABLE drained (k INTEGER PRIMARY KEY, v TEXT)").error);
  }
  std::unique_ptr<SqlConnection> idle = Connect({2});
  std::unique_ptr<SqlConnection> in_txn = Connect({2});
  ASSERT_NE(idle, nullptr);
  ASSERT_NE(in_txn, nullptr);
  ASSERT_FALSE(Run(*in_txn, "BEGIN").error);
  ASSERT_FALSE(Run(*in_txn, "INSERT INTO drained VALUES (1, 'from node 2')").error);
  ASSERT_TRUE(in_txn->in_transaction());
  RawSession running(cluster_->address(2), absl::Seconds(30));
  ASSERT_TRUE(running.SendSql(kEndless, /*timeout_ms=*/0));
  std::optional<RawAnswer> interrupted;
  std::thread reader([&] { interrupted = running.Read(); });  // polls while it waits
  absl::SleepFor(absl::Milliseconds(300));                    // the statement runs

  // Node::Drain's budget is the RPC's deadline: half of it for SQL statements.
  constexpr absl::Duration kDrainBudget = absl::Seconds(2);
  auto channel = grpc::CreateChannel(cluster_->address(2), grpc::InsecureChannelCredentials());
  std::unique_ptr<nodepb::Admin::Stub> admin = nodepb::Admin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kDrainBudget));
  nodepb::DrainRequest request;
  nodepb::DrainResponse response;
  const absl::Time drain_start = absl::Now();
  const grpc::Status drained = admin->Drain(&context, request, &response);
  // DEADLINE_EXCEEDED: moving the leases away took the rest of the budget; the node
  // is draining all the same.
  EXPECT_TRUE(drained.ok() || drained.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << drained.error_code() << " " << drained.error_message();
  reader.join();

  // Refused at once, on every session of the node.
  Collect refused = Run(*idle, "SELECT 1");
  ASSERT_TRUE(refused.error.has_value()) << "a draining node ran a statement";
  EXPECT_EQ(refused.error->sqlstate, "57P01") << refused.error->message;
  Collect commit = Run(*in_txn, "COMMIT");
  ASSERT_TRUE(commit.error.has_value()) << "a draining node committed";
  EXPECT_EQ(commit.error->sqlstate, "57P01") << commit.error->message;

  ASSERT_TRUE(interrupted.has_value()) << "the running session ended instead of answering";
  ASSERT_TRUE(interrupted->error.has_value()) << "an endless statement ended without an error";
  EXPECT_EQ(interrupted->error->sqlstate(), "57014") << interrupted->error->message();
  EXPECT_LT(absl::Now() - drain_start, kDrainBudget + kPrompt);
  ASSERT_TRUE(running.SendSql("SELECT 1", 5000));
  std::optional<RawAnswer> after = running.Read();
  ASSERT_TRUE(after.has_value());
  ASSERT_TRUE(after->error.has_value());
  EXPECT_EQ(after->error->sqlstate(), "57P01");

  // The node refuses new sessions; a client that lists another node goes on there.
  client::SqlConnectionOptions only_2;
  only_2.hosts = {cluster_->address(2)};
  only_2.timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<SqlConnection>> refused_session = SqlConnection::Connect(only_2);
  ASSERT_FALSE(refused_session.ok());
  EXPECT_EQ(refused_session.status().code(), absl::StatusCode::kUnavailable)
      << refused_session.status();
  EXPECT_TRUE(absl::StrContains(refused_session.status().message(), "draining"))
      << refused_session.status();
  std::unique_ptr<SqlConnection> elsewhere = Connect({2, 0});
  ASSERT_NE(elsewhere, nullptr);
  EXPECT_EQ(elsewhere->address(), cluster_->address(0));
  // The drained node's transaction was not committed (its session ends with its
  // client; either way nothing of it is visible).
  in_txn.reset();
  EXPECT_EQ(Rows(*elsewhere, "SELECT count(*) FROM drained"), std::vector<std::string>{"0"});
  ASSERT_FALSE(Run(*elsewhere, "BEGIN").error);
  ASSERT_FALSE(Run(*elsewhere, "INSERT INTO drained VALUES (1, 'from node 0')").error);
  Collect committed = Run(*elsewhere, "COMMIT");
  EXPECT_FALSE(committed.error) << committed.error->sqlstate << " " << committed.error->message;
  EXPECT_EQ(Rows(*elsewhere, "SELECT v FROM drained"), std::vector<std::string>{"from node 0"});
  ExpectNodeServes(2);
}

// An idle session, inside BEGIN, outlives the server's HTTP/2 keepalive: a user at
// `rangedb sql`'s prompt may think for a while before COMMIT.
//
// Found by this test: the server closed it after about 5-15 s ("keepalive watchdog
// timeout") and the open transaction was lost. The node's one gRPC server pinged
// every connection every 2 s and dropped one that did not answer within 3 s (tuned
// for Raft peers); between requests nothing polls SqlConnection's completion queue,
// so the client answers only when gRPC's backup poller runs (every 5 s). The server
// now waits 20 s for an answer (RaftTransportOptions::server_keepalive_timeout).
TEST_F(SqlServiceTest, AnIdleSessionOutlivesTheServersKeepalive) {
  std::unique_ptr<SqlConnection> c = Connect({0});
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(Run(*c, "CREATE TABLE idle_txn (k INTEGER PRIMARY KEY)").error);
  ASSERT_FALSE(Run(*c, "BEGIN").error);
  ASSERT_FALSE(Run(*c, "INSERT INTO idle_txn VALUES (1)").error);
  absl::SleepFor(absl::Seconds(12));
  Collect commit;
  absl::Status s = c->Execute("COMMIT", {}, commit);
  ASSERT_TRUE(s.ok()) << "the idle session was lost: " << s;
  EXPECT_FALSE(commit.error) << commit.error->message;
  EXPECT_EQ(Rows(*c, "SELECT count(*) FROM idle_txn"), std::vector<std::string>{"1"});
}

// Case 5: a statement that does not parse is 42601 with its position in the
// request's text (past the statements before it), and nothing after it runs.
TEST_F(SqlServiceTest, SyntaxErrorCarriesItsPositionInTheRequest) {
  std::unique_ptr<SqlConnection> c = Connect({0});
  ASSERT_NE(c, nullptr);
  //                      1234567890123
  Collect out = Run(*c, "SELECT 1;\n  SELEC 2; SELECT 3");
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->sqlstate, "42601") << out.error->message;
  EXPECT_EQ(out.error_index, 1);
  EXPECT_EQ(out.error->position, 13) << out.error->message;
  EXPECT_TRUE(absl::StrContains(out.error->message, "SELEC")) << out.error->message;
  ASSERT_EQ(out.done.size(), 1u) << "a statement after the error ran";
  EXPECT_EQ(out.done[0].first, 0);
  ExpectUsable(*c);
}

// Case 5: parameters that do not match the statement. The server binds by SQLite's
// rules and skips what the statement has no place for, as a request's parameters
// are shared by all its statements (sql/session.cc BindParameters): an extra
// positional or an unknown name is ignored, and a parameter left unbound is NULL.
// A placeholder beyond SQLite's limit does not parse.
TEST_F(SqlServiceTest, ParametersThatDoNotMatchAreSkippedOrNull) {
  std::unique_ptr<SqlConnection> c = Connect({0});
  ASSERT_NE(c, nullptr);
  const SqlParameter one{"", int64_t{1}}, two{"", int64_t{2}};
  // Too many.
  EXPECT_EQ(Rows(*c, "SELECT ?1", {one, two}), std::vector<std::string>{"1"});
  // A name the statement does not have: :a stays unbound.
  EXPECT_EQ(Rows(*c, "SELECT :a", {{":b", int64_t{7}}}), std::vector<std::string>{"NULL"});
  // A name without its prefix matches nothing.
  EXPECT_EQ(Rows(*c, "SELECT :a", {{"a", int64_t{7}}}), std::vector<std::string>{"NULL"});
  // Too few: ?3 is beyond the one given.
  EXPECT_EQ(Rows(*c, "SELECT ?1, ?3", {one}), std::vector<std::string>{"1|NULL"});
  // Shared by the statements of one request: each takes what it names.
  Collect shared = Run(*c, "SELECT :x; SELECT :y", {{":y", int64_t{5}}, {":x", int64_t{4}}});
  EXPECT_FALSE(shared.error);
  ASSERT_EQ(shared.rows.size(), 2u);
  EXPECT_EQ(Text(shared.rows[0][0]), "4");
  EXPECT_EQ(Text(shared.rows[1][0]), "5");
  // Beyond SQLite's highest parameter number (32766): an error, not a crash.
  Collect too_high = Run(*c, "SELECT ?99999999", {one});
  ASSERT_TRUE(too_high.error.has_value());
  EXPECT_TRUE(absl::StartsWith(too_high.error->sqlstate, "42")) << too_high.error->sqlstate;
  ExpectUsable(*c);
}

// Case 5: values of the wrong type for where they go. A TEXT bound to an INTEGER
// PRIMARY KEY is 22000 (datatype mismatch); a value with no kind set reads as NULL,
// which NOT NULL refuses (23502); a CHECK sees the bound value (23514). The session
// goes on after each.
TEST_F(SqlServiceTest, ParameterValuesOfTheWrongTypeAreSqlErrors) {
  std::unique_ptr<SqlConnection> c = Connect({1});
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(Run(*c,
                   "CREATE TABLE typed (k INTEGER PRIMARY KEY, v TEXT NOT NULL, "
                   "n INTEGER CHECK (typeof(n) = 'integer'))")
                   .error);
  Collect bad_key = Run(*c, "INSERT INTO typed VALUES (?1, 'a', 1)", {{"", std::string("abc")}});
  ASSERT_TRUE(bad_key.error.has_value());
  EXPECT_EQ(bad_key.error->sqlstate, "22000") << bad_key.error->message;
  Collect blob_check = Run(*c, "INSERT INTO typed VALUES (1, 'a', ?1)",
                           {{"", client::SqlBlob{std::string("\x00\xff", 2)}}});
  ASSERT_TRUE(blob_check.error.has_value());
  EXPECT_EQ(blob_check.error->sqlstate, "23514") << blob_check.error->message;
  ExpectUsable(*c);

  // On the wire: a Value with no kind is NULL.
  RawSession raw(cluster_->address(1), absl::Seconds(30));
  sqlpb::SqlRequest request;
  request.mutable_statement()->set_sql("INSERT INTO typed VALUES (2, ?1, 2)");
  request.mutable_statement()->add_parameters()->mutable_value();  // no kind
  request.set_timeout_ms(5000);
  ASSERT_TRUE(raw.Send(request));
  std::optional<RawAnswer> a = raw.Read();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->error.has_value());
  EXPECT_EQ(a->error->sqlstate(), "23502") << a->error->message();
  ExpectUsable(raw);
  EXPECT_EQ(Rows(*c, "SELECT count(*) FROM typed"), std::vector<std::string>{"0"});
}

// Case 5: requests with no statement — empty SQL, only comments and semicolons, and
// a request with neither a statement nor a cancel — are answered by request_done
// alone, and the session goes on.
TEST_F(SqlServiceTest, EmptyRequestsAreAnsweredWithNothing) {
  std::unique_ptr<SqlConnection> c = Connect({0});
  ASSERT_NE(c, nullptr);
  for (const char* sql : {"", "   ", " -- nothing\n ; ;; /* still nothing */ "}) {
    Collect out = Run(*c, sql);
    EXPECT_FALSE(out.error) << "'" << sql << "': " << out.error->message;
    EXPECT_TRUE(out.done.empty()) << "'" << sql << "'";
    EXPECT_TRUE(out.rows.empty()) << "'" << sql << "'";
  }
  ExpectUsable(*c);

  RawSession raw(cluster_->address(0), absl::Seconds(30));
  ASSERT_TRUE(raw.Send(sqlpb::SqlRequest()));  // kind not set
  std::optional<RawAnswer> a = raw.Read();
  ASSERT_TRUE(a.has_value()) << "the session ended";
  EXPECT_FALSE(a->error);
  EXPECT_EQ(a->done_statements, 0);
  ExpectUsable(raw);
}

// Case 5: a 20 MiB statement (below the client's and server's gRPC message limits,
// base/limits.h and node/raft_transport.cc) is answered — a SELECT of a 20 MiB
// literal runs, an INSERT of it is refused by the value limit (2 MiB) with a SQL
// error — never a crash, a hang or a lost session.
TEST_F(SqlServiceTest, ATwentyMegabyteStatementIsAnsweredAndTheNodeStaysUp) {
  std::unique_ptr<SqlConnection> c = Connect({0}, absl::Seconds(30));
  ASSERT_NE(c, nullptr);
  const std::string big(20 << 20, 'x');
  Collect select = Run(*c, absl::StrCat("SELECT length('", big, "')"));
  if (select.error) {
    ADD_FAILURE() << "SELECT of a 20 MiB literal: " << select.error->sqlstate << " "
                  << select.error->message;
  } else {
    ASSERT_EQ(select.rows.size(), 1u);
    EXPECT_EQ(Text(select.rows[0][0]), absl::StrCat(20 << 20));
  }
  ExpectUsable(*c);

  ASSERT_FALSE(Run(*c, "CREATE TABLE big_values (k INTEGER PRIMARY KEY, v TEXT)").error);
  Collect insert = Run(*c, absl::StrCat("INSERT INTO big_values VALUES (1, '", big, "')"));
  ASSERT_TRUE(insert.error.has_value()) << "a 20 MiB value was written";
  EXPECT_EQ(insert.error->sqlstate, "54000") << insert.error->message.substr(0, 300);
  EXPECT_LT(insert.error->message.size(), 4096u) << "the error quotes the statement";
  ExpectUsable(*c);
  EXPECT_EQ(Rows(*c, "SELECT count(*) FROM big_values"), std::vector<std::string>{"0"});
  ExpectNodeServes(0);
}

// docs/design/sql-point-path.md, review finding 1: a session whose cached schema
// another node changed runs its next statement again under the new one, and the
// answer carries the new columns once (the client refuses a row whose width is not
// its columns').
TEST_F(SqlServiceTest, ASelectAfterAnotherNodesSchemaChangeAnswersWithTheNewColumns) {
  std::unique_ptr<SqlConnection> a = Connect({0});
  std::unique_ptr<SqlConnection> b = Connect({1});
  ASSERT_FALSE(Run(*a, "CREATE TABLE stale (k INTEGER PRIMARY KEY, v)").error);
  ASSERT_FALSE(Run(*a, "INSERT INTO stale VALUES (1, 'one')").error);
  EXPECT_EQ(Rows(*b, "SELECT * FROM stale WHERE k = 1"), std::vector<std::string>{"1|one"});
  ASSERT_FALSE(Run(*a, "ALTER TABLE stale ADD COLUMN w DEFAULT 'w'").error);
  EXPECT_EQ(Rows(*b, "SELECT * FROM stale WHERE k = 1"), std::vector<std::string>{"1|one|w"});
  ASSERT_FALSE(Run(*a, "CREATE TABLE unrelated (x)").error);
  EXPECT_EQ(Rows(*b, "SELECT v FROM stale WHERE k = 1"), std::vector<std::string>{"one"});
  ASSERT_FALSE(Run(*a, "CREATE TABLE unrelated2 (x)").error);
  EXPECT_EQ(Rows(*b, "SELECT v FROM stale WHERE k = 2"), std::vector<std::string>{});
  ExpectUsable(*b);
}

}  // namespace
}  // namespace rangedb
