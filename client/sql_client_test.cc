// SqlConnection against an in-process fake SQL service (client/testing/fake_sql_server.h):
// the streamed answer reaches the handler in protocol order, deadlines and cancels,
// and transport failures say whether a statement may have run.
#include "client/sql_client.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/kv_api.h"
#include "client/testing/fake_kv_server.h"
#include "client/testing/fake_sql_server.h"

namespace rangedb::client {
namespace {

using Result = FakeSqlServer::StatementResult;
using Then = FakeSqlServer::Then;

std::string Show(const SqlValue& value) {
  switch (value.index()) {
    case 0:
      return "NULL";
    case 1:
      return absl::StrCat(std::get<int64_t>(value));
    case 2:
      return absl::StrCat("r", std::get<double>(value));
    case 3:
      return absl::StrCat("'", std::get<std::string>(value), "'");
    default:
      return absl::StrCat("blob:", std::get<SqlBlob>(value).bytes);
  }
}

// Records every call as a line.
class RecordingHandler final : public SqlResultHandler {
 public:
  void OnColumns(int index, const std::vector<SqlColumn>& columns) override {
    std::vector<std::string> names;
    for (const SqlColumn& column : columns) names.push_back(column.name);
    events.push_back(absl::StrCat(index, " columns ", absl::StrJoin(names, ",")));
  }
  void OnRows(int index, std::vector<SqlRow> rows) override {
    for (const SqlRow& row : rows) {
      std::vector<std::string> values;
      for (const SqlValue& value : row) values.push_back(Show(value));
      events.push_back(absl::StrCat(index, " row ", absl::StrJoin(values, ",")));
    }
  }
  void OnDone(int index, const std::string& tag, int64_t rows_affected) override {
    events.push_back(absl::StrCat(index, " done ", tag, " ", rows_affected));
  }
  void OnError(int index, const SqlError& error) override {
    events.push_back(
        absl::StrCat(index, " error ", error.sqlstate, " ", error.message, " @", error.position));
  }
  std::vector<std::string> events;
};

class SqlClientTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeSqlServer>> server = FakeSqlServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<SqlConnection> Connect(absl::Duration timeout = absl::Seconds(10),
                                         absl::Duration cancel_grace = absl::Seconds(1)) {
    SqlConnectionOptions options;
    options.hosts = {server_->address()};
    options.timeout = timeout;
    options.cancel_grace = cancel_grace;
    absl::StatusOr<std::unique_ptr<SqlConnection>> connection =
        SqlConnection::Connect(std::move(options));
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  std::unique_ptr<FakeSqlServer> server_;
};

TEST(SqlValueTest, ConvertsEveryStorageClassToProtoAndBack) {
  const std::vector<SqlValue> values = {SqlNull{},
                                        int64_t{-7},
                                        std::numeric_limits<int64_t>::max(),
                                        0.1,
                                        std::string("t\0x", 3),
                                        SqlBlob{std::string("\x00\xff", 2)}};
  for (const SqlValue& value : values) EXPECT_EQ(FromProto(ToProto(value)), value);
  EXPECT_TRUE(ToProto(SqlNull{}).null());
  EXPECT_EQ(ToProto(SqlBlob{"b"}).kind_case(), sqlpb::Value::kBlob);
  EXPECT_EQ(ToProto(std::string("b")).kind_case(), sqlpb::Value::kText);
  EXPECT_EQ(FromProto(sqlpb::Value()), SqlValue(SqlNull{}));  // no kind: NULL
}

TEST_F(SqlClientTest, StreamsEveryStatementsAnswerInOrder) {
  Result select{{"a", "b"},
                {{int64_t{1}, std::string("x")}, {int64_t{2}, SqlNull{}}, {0.5, SqlBlob{"z"}}},
                "SELECT"};
  Result insert{{}, {}, "INSERT", 3};
  Result failed;
  failed.error = SqlError{"23505", "duplicate key", 7};
  server_->Script("SELECT a, b FROM t; INSERT ...; INSERT again", {select, insert, failed});
  std::unique_ptr<SqlConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  ASSERT_TRUE(connection
                  ->Execute("SELECT a, b FROM t; INSERT ...; INSERT again",
                            {{":p", int64_t{5}}, {"", std::string("s")}}, handler)
                  .ok());
  EXPECT_EQ(handler.events,
            (std::vector<std::string>{"0 columns a,b", "0 row 1,'x'", "0 row 2,NULL",
                                      "0 row r0.5,blob:z", "0 done SELECT 0", "1 done INSERT 3",
                                      "2 error 23505 duplicate key @7"}));
  const std::vector<sqlpb::SqlRequest> requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].statement().sql(), "");  // Connect's probe
  EXPECT_EQ(requests[1].timeout_ms(), 10000);    // the budget travels with the request
  ASSERT_EQ(requests[1].statement().parameters_size(), 2);
  EXPECT_EQ(requests[1].statement().parameters(0).name(), ":p");
  EXPECT_EQ(requests[1].statement().parameters(0).value().integer(), 5);
  EXPECT_EQ(requests[1].statement().parameters(1).value().text(), "s");
}

TEST_F(SqlClientTest, OneSessionServesManyRequestsAndTracksTheTransaction) {
  Result begin{{}, {}, "BEGIN"};
  begin.in_transaction = true;
  server_->Script("BEGIN", {begin});
  server_->Script("COMMIT", {Result{{}, {}, "COMMIT"}});
  std::unique_ptr<SqlConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  ASSERT_TRUE(connection->Execute("BEGIN", {}, handler).ok());
  EXPECT_TRUE(connection->in_transaction());
  ASSERT_TRUE(connection->Execute("COMMIT", {}, handler).ok());
  EXPECT_FALSE(connection->in_transaction());
  EXPECT_EQ(server_->sessions(), 1);
  EXPECT_EQ(handler.events, (std::vector<std::string>{"0 done BEGIN 0", "0 done COMMIT 0"}));
}

TEST_F(SqlClientTest, RequestDoneMayShareTheLastStatementsMessage) {
  sqlpb::SqlResponse done;
  done.set_done(true);
  done.set_command_tag("CREATE TABLE");
  done.set_request_done(true);
  server_->ScriptMessages("CREATE TABLE t (a)", {done});
  std::unique_ptr<SqlConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  ASSERT_TRUE(connection->Execute("CREATE TABLE t (a)", {}, handler).ok());
  EXPECT_EQ(handler.events, (std::vector<std::string>{"0 done CREATE TABLE 0"}));
}

TEST_F(SqlClientTest, ConnectTakesTheFirstReachableHost) {
  SqlConnectionOptions options;
  options.hosts = {"127.0.0.1:1", server_->address()};  // nothing listens on port 1
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = SqlConnection::Connect(options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ((*connection)->address(), server_->address());
}

TEST_F(SqlClientTest, ConnectFailsNamingEveryAddressTried) {
  SqlConnectionOptions options;
  options.hosts = {"127.0.0.1:1", "127.0.0.1:2"};
  options.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = SqlConnection::Connect(options);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(
      connection.status().message(),
      "could not open a SQL session on any of 127.0.0.1:1, 127.0.0.1:2 within 300ms"))
      << connection.status();
}

TEST_F(SqlClientTest, BadOptionsAreRefused) {
  EXPECT_EQ(SqlConnection::Connect({}).status().code(), absl::StatusCode::kInvalidArgument);
  SqlConnectionOptions options;
  options.hosts = {"nohostport"};
  EXPECT_EQ(SqlConnection::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.hosts = {server_->address()};
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(SqlConnection::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// The stream broke after the request was sent and before the server finished it: the
// statement may have run, and the status says so.
TEST_F(SqlClientTest, AStreamBrokenAfterSendingIsAmbiguousAndClosesTheSession) {
  server_->Script("INSERT INTO t VALUES (1)", {}, Then::kBreak);
  std::unique_ptr<SqlConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  absl::Status status = connection->Execute("INSERT INTO t VALUES (1)", {}, handler);
  EXPECT_TRUE(kv::IsAmbiguous(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "may or may not have run")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "a write may have committed")) << status;
  EXPECT_TRUE(connection->closed());
  absl::Status next = connection->Execute("SELECT 1", {}, handler);
  EXPECT_EQ(next.code(), absl::StatusCode::kFailedPrecondition) << next;
  EXPECT_EQ(server_->statements().size(), 1u);  // the later request was never sent
}

// Past the budget the client sends a cancel; the server's answer (57014) ends the
// request normally and the session goes on.
TEST_F(SqlClientTest, PastTheDeadlineTheClientCancelsAndTheSessionGoesOn) {
  server_->Script("SELECT slow()", {}, Then::kHang);
  server_->Script("SELECT 1", {Result{{"1"}, {{int64_t{1}}}, "SELECT"}});
  std::unique_ptr<SqlConnection> connection = Connect(absl::Milliseconds(300));
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  ASSERT_TRUE(connection->Execute("SELECT slow()", {}, handler).ok());
  EXPECT_EQ(handler.events,
            (std::vector<std::string>{"0 error 57014 canceling statement due to user request @0"}));
  const std::vector<sqlpb::SqlRequest> requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);  // the probe, the statement, the cancel
  EXPECT_EQ(requests[1].timeout_ms(), 300);
  EXPECT_TRUE(requests[2].cancel());
  handler.events.clear();
  ASSERT_TRUE(connection->Execute("SELECT 1", {}, handler).ok());
  EXPECT_EQ(handler.events.size(), 3u);
}

// A server that ignores the cancel too is abandoned after the grace period.
TEST_F(SqlClientTest, AServerThatNeverAnswersIsAbandonedAfterTheGrace) {
  server_->Script("SELECT forever()", {}, Then::kHangIgnoringCancel);
  std::unique_ptr<SqlConnection> connection =
      Connect(absl::Milliseconds(200), absl::Milliseconds(200));
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  const absl::Time start = absl::Now();
  absl::Status status = connection->Execute("SELECT forever()", {}, handler);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(kv::IsAmbiguous(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "no answer from")) << status;
  EXPECT_TRUE(connection->closed());
}

TEST_F(SqlClientTest, AProtocolViolationClosesTheSession) {
  sqlpb::SqlResponse rows_first;
  rows_first.add_rows()->add_values()->set_integer(1);
  server_->ScriptMessages("SELECT 1", {rows_first});
  std::unique_ptr<SqlConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  RecordingHandler handler;
  absl::Status status = connection->Execute("SELECT 1", {}, handler);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "rows before columns")) << status;
  EXPECT_TRUE(connection->closed());
}

TEST_F(SqlClientTest, ANodeWithoutTheSqlServiceIsPassedOver) {
  absl::StatusOr<std::unique_ptr<FakeKvServer>> kv = FakeKvServer::Start();
  ASSERT_TRUE(kv.ok()) << kv.status();
  SqlConnectionOptions options;
  options.hosts = {(*kv)->address(), server_->address()};
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = SqlConnection::Connect(options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ((*connection)->address(), server_->address());

  options.hosts = {(*kv)->address()};
  options.timeout = absl::Milliseconds(300);
  connection = SqlConnection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(connection.status().message(),
                                absl::StrCat((*kv)->address(), ": does not serve SQL")))
      << connection.status();
}

// A node that ends the stream when the session opens (draining, not yet in a
// cluster) is passed over for the next address.
TEST_F(SqlClientTest, ANodeThatRefusesTheSessionIsPassedOver) {
  absl::StatusOr<std::unique_ptr<FakeSqlServer>> refusing = FakeSqlServer::Start();
  ASSERT_TRUE(refusing.ok()) << refusing.status();
  (*refusing)->RefuseSessions("the node is draining: connect to another node");
  SqlConnectionOptions options;
  options.hosts = {(*refusing)->address(), server_->address()};
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = SqlConnection::Connect(options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ((*connection)->address(), server_->address());

  options.hosts = {(*refusing)->address()};
  options.timeout = absl::Milliseconds(300);
  connection = SqlConnection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_TRUE(absl::StrContains(connection.status().message(),
                                "refused the session (UNAVAILABLE: the node is draining"))
      << connection.status();
}

}  // namespace
}  // namespace rangedb::client
