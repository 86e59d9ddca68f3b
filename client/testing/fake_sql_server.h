// FakeSqlServer: an in-process SQL service (proto/sql.proto, SQL.Session) that answers
// scripted responses, for testing client/sql_client.h and `rangedb sql` without a
// node.
//
// A request without SQL (SqlConnection::Connect's probe) is answered by request_done
// alone, as a node answers it.
//
// A test scripts the answer to a request's exact SQL text: one StatementResult per
// statement, streamed as a server would (columns, row batches of two rows, then done
// or an error, and a final request_done message), and optionally what the server
// does next: hang until cancelled, or break the stream. A request whose SQL is not
// scripted fails with SQLSTATE 42601 "unscripted statement". Every request received
// (cancels too) is recorded.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/sql_client.h"
#include "proto/sql.grpc.pb.h"

namespace rangedb::client {

class FakeSqlServer {
 public:
  // One statement's scripted answer.
  struct StatementResult {
    std::vector<std::string> columns;  // empty: the statement returns no rows
    std::vector<SqlRow> rows;          // each as long as columns
    std::string command_tag;           // "SELECT", "INSERT", ...
    int64_t rows_affected = 0;
    std::optional<SqlError> error;  // set: the statement fails (after its rows, if any)
    bool in_transaction = false;
  };

  // What the server does after streaming a request's scripted messages.
  enum class Then {
    kAnswer,  // nothing more (the messages end with request_done)
    // Sends no request_done: waits for the client's cancel, then answers the
    // statement after the scripted ones with 57014 and request_done.
    kHang,
    // Sends no request_done and ignores the cancel: waits until the client goes away.
    kHangIgnoringCancel,
    // Ends the stream with UNAVAILABLE, without request_done.
    kBreak,
  };

  // Starts on 127.0.0.1 with a kernel-chosen port.
  static absl::StatusOr<std::unique_ptr<FakeSqlServer>> Start();
  ~FakeSqlServer();  // shuts the server down, releasing hung sessions

  // "127.0.0.1:PORT".
  std::string address() const;

  // The answer to every request whose SQL is exactly sql.
  void Script(const std::string& sql, std::vector<StatementResult> results,
              Then then = Then::kAnswer);
  // The same, as the raw messages to stream (request_done is not added).
  void ScriptMessages(const std::string& sql, std::vector<sqlpb::SqlResponse> messages,
                      Then then = Then::kAnswer);

  // From now on, every new session ends at once with UNAVAILABLE and this message, as
  // a draining node's does.
  void RefuseSessions(const std::string& message);

  // Every request received, in order, cancels included.
  std::vector<sqlpb::SqlRequest> requests() const;
  // The SQL of every statement request received, in order, without the empty ones.
  std::vector<std::string> statements() const;
  // Sessions opened so far.
  int sessions() const;

 private:
  class Service;
  FakeSqlServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// The messages a server streams for results (without request_done).
std::vector<sqlpb::SqlResponse> ResultMessages(
    const std::vector<FakeSqlServer::StatementResult>& results);

}  // namespace rangedb::client
