// SqlConnection: the C++ client of rangedb's SQL service (proto/sql.proto,
// rangedb.sqlpb.SQL.Session), one SQL session over one gRPC stream.
//
// A session lives on one node: its SQLite connection and any open transaction are
// that node's. So, unlike KvClient, a connection does not fail over: Connect tries
// the addresses in the order given and opens the session on the first that accepts a
// connection and answers an empty request (which runs nothing: a node that is
// draining, not yet in a cluster, or without the SQL service refuses the session,
// and the next address is tried). It goes round the list with jittered backoff
// (base/backoff.h) within options.timeout; each host gets min(remaining,
// connect_attempt_timeout). Once open, every request goes to that node until the
// connection is destroyed.
//
// Execute sends one SqlRequest (one or more statements, with parameters) and feeds
// the streamed answer to a SqlResultHandler, statement by statement, until the
// server says the request is done. SQL errors (syntax, constraints, 40001, ...) go
// to the handler: they are answers, and the session goes on. Execute returns a
// non-OK status only when the transport failed or the server broke the protocol;
// then the session is gone (the server rolls back its open transaction) and every
// later Execute fails at once with FailedPrecondition. Such a status says whether a
// statement may have run: when the stream broke after the request was sent and
// before the server said it was done, a write may have committed, and the status is
// ambiguous (client::IsAmbiguous, base/kv_api.h) with a message saying so; when the
// request was certainly not sent (or the node does not serve SQL), it is
// kUnavailable or kUnimplemented and nothing ran.
//
// Deadlines. Every Execute has a budget of options.timeout, which is also sent as
// the request's timeout_ms so the server stops the statement itself (57014). If no
// answer has ended the request by the deadline, the client sends a cancel request
// and waits options.cancel_grace more for the server to finish the request; after
// that it abandons the stream (kDeadlineExceeded, ambiguous). Connect has the same
// budget.
//
// Values. SqlValue mirrors SQLite's five storage classes (NULL, INTEGER, REAL, TEXT,
// BLOB) as client/ may not include sql/ (scripts/check_layers.sh): the SQL layer's
// own sql::Value has the same alternatives in the same order. ToProto / FromProto
// convert to and from sqlpb::Value; a Value with no kind set reads as NULL.
//
// Thread safety: a SqlConnection is not thread-safe. One thread at a time may use it
// (a session runs one request at a time anyway); open one connection per thread for
// parallel work. Handlers are called on the thread that called Execute.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/sql.grpc.pb.h"

namespace rangedb::client {

// SQL NULL.
struct SqlNull {
  friend bool operator==(const SqlNull&, const SqlNull&) = default;
};

// A BLOB, as opposed to TEXT (a plain std::string).
struct SqlBlob {
  std::string bytes;
  friend bool operator==(const SqlBlob&, const SqlBlob&) = default;
};

// One value: NULL, INTEGER, REAL, TEXT or BLOB, in SQLite's storage-class order (the
// order of sql::Value, so index() is the storage class there too).
using SqlValue = std::variant<SqlNull, int64_t, double, std::string, SqlBlob>;
using SqlRow = std::vector<SqlValue>;

[[nodiscard]] sqlpb::Value ToProto(const SqlValue& value);
// A Value with no kind set is NULL (proto3's default).
[[nodiscard]] SqlValue FromProto(const sqlpb::Value& value);

// A bound parameter: name is ":name", "@name" or "$name", or empty for the next
// positional parameter (?1, ?2, ... in order).
struct SqlParameter {
  std::string name;
  SqlValue value;
};

// A result column.
struct SqlColumn {
  std::string name;
  std::string declared_type;  // "" when the expression has none
};

// A statement's failure, as the server sent it.
struct SqlError {
  std::string sqlstate;  // five characters, e.g. "42601"
  std::string message;
  // 1-based byte offset into the request's SQL text; 0 when unknown.
  int32_t position = 0;
};

// Receives one request's answer. For each statement, in order (statement_index
// counts from 0 within the request): OnColumns once if it returns rows, then OnRows
// for each batch (possibly none), then exactly one of OnDone or OnError.
class SqlResultHandler {
 public:
  virtual ~SqlResultHandler() = default;
  virtual void OnColumns(int statement_index, const std::vector<SqlColumn>& columns) = 0;
  virtual void OnRows(int statement_index, std::vector<SqlRow> rows) = 0;
  // command_tag: "SELECT", "INSERT", "CREATE TABLE", ...; rows_affected: for writes.
  virtual void OnDone(int statement_index, const std::string& command_tag,
                      int64_t rows_affected) = 0;
  virtual void OnError(int statement_index, const SqlError& error) = 0;
};

struct SqlConnectionOptions {
  // Node addresses, "host:port" or "[v6addr]:port", tried in this order. At least one.
  std::vector<std::string> hosts;
  // The budget of Connect and of each Execute. Positive.
  absl::Duration timeout = absl::Seconds(10);
  // Upper bound of the wait for one host's connection in Connect.
  absl::Duration connect_attempt_timeout = absl::Seconds(3);
  // How long Execute waits for the server's answer to its cancel, after the deadline.
  absl::Duration cancel_grace = absl::Seconds(1);
};

class SqlConnection {
 public:
  // Opens a session on the first host that serves one. InvalidArgument for bad
  // options (no hosts, a malformed host, a non-positive duration); kUnavailable
  // naming every address and why it failed when none served one within
  // options.timeout.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqlConnection>> Connect(
      SqlConnectionOptions options);

  SqlConnection(const SqlConnection&) = delete;
  SqlConnection& operator=(const SqlConnection&) = delete;
  // Closes the session (half-close, then waits at most cancel_grace for the server
  // to end it, then abandons it). An open transaction is rolled back by the server.
  ~SqlConnection();

  // Runs sql (one or more statements) with params and hands the answer to handler.
  // OK once the server has answered every statement, whether or not some failed.
  // A non-OK status is a transport or protocol failure, described above; the
  // connection is then closed.
  [[nodiscard]] absl::Status Execute(absl::string_view sql, const std::vector<SqlParameter>& params,
                                     SqlResultHandler& handler);

  // The address the session is open on.
  const std::string& address() const { return address_; }
  // Whether the session was inside BEGIN ... COMMIT after the last request.
  bool in_transaction() const { return in_transaction_; }
  // Whether a transport failure closed the connection.
  bool closed() const { return !closed_reason_.ok(); }

 private:
  struct Stream;
  enum class Wait;

  SqlConnection(SqlConnectionOptions options, std::string address,
                std::shared_ptr<grpc::Channel> channel);
  // Starts the Session call; an error (and the connection closed) if it could not.
  absl::Status StartStream(absl::Time deadline);
  // Sends Connect's first request, an empty one, and waits for its answer: it runs
  // nothing, and shows that the node serves SQL sessions (a node without the
  // service, draining, or not yet in a cluster ends the stream instead).
  absl::Status Probe(absl::Time deadline);
  // Waits until the operation with `tag` completes or deadline passes.
  Wait Await(void* tag, absl::Time deadline);
  // Reads the stream's final status (after a failed operation), bounded by the grace.
  grpc::Status FinishStream();
  // Abandons the stream (TryCancel) and records why; returns the status for Execute.
  absl::Status Close(absl::Status reason);
  // Checks one response against the protocol and hands it to handler.
  absl::Status Dispatch(sqlpb::SqlResponse& response, SqlResultHandler& handler);

  const SqlConnectionOptions options_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stream> stream_;
  bool in_transaction_ = false;
  absl::Status closed_reason_;  // OK while the session is usable
  // Protocol state of the request being answered.
  int current_statement_ = 0;         // index of the statement being answered
  bool current_started_ = false;      // a message about it has arrived
  bool current_has_columns_ = false;  // its columns have arrived
  bool current_has_rows_ = false;     // a row batch has arrived
  bool current_done_ = false;         // its done or error has arrived
  int current_columns_ = 0;           // how many columns it has
};

}  // namespace rangedb::client
