// The SQL service (proto/sql.proto, service SQL): each gRPC stream is one SQL
// session (sql/session.h) that runs inside this node, its transactions going through
// the node's own gateway (Node::local_sender()).
//
// A stream's requests run one at a time, in order; every statement of a request is
// answered by column names, bounded row batches (kRowsPerBatch rows or
// kBytesPerBatch bytes, whichever comes first: the server never holds a whole large
// result), and a final message with its command tag, rows affected or error
// (SQLSTATE, message, position). A `cancel` request, the request's timeout_ms, the
// client going away and a node drain each interrupt the running statement (57014).
//
// SqlSessions bounds the sessions of a node (kMaxSessions) and drains them: Drain
// refuses new sessions and new statements, waits for running statements up to its
// deadline, then interrupts the rest. Node::Drain calls it first, because a session's
// local sender cannot fail over once the node drains (node/node.h).
//
// Thread safety: SqlSessions is safe for concurrent use. Each stream runs on one gRPC
// thread, which also reads the stream's requests; a request that runs long has its
// stream read by a listener thread of the session's, for cancels
// (node/sql_request_stream.h).
#pragma once

#include <cstdint>
#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "sql/session.h"

namespace rangedb {

class Node;

class SqlSessions {
 public:
  static constexpr int kMaxSessions = 512;

  explicit SqlSessions(TimeSource* time) : time_(time) {}

  // Registers a session; refused (UNAVAILABLE) while draining, RESOURCE_EXHAUSTED
  // past kMaxSessions.
  [[nodiscard]] absl::Status Add(sql::Session* session);
  void Remove(sql::Session* session);
  // Marks a statement of some session as running; false while draining (then the
  // statement must not start).
  bool BeginStatement();
  void EndStatement();
  // See the header comment. Returns how many statements were interrupted.
  int Drain(absl::Time deadline);
  bool draining() const;
  int size() const;

 private:
  TimeSource* const time_;
  mutable absl::Mutex mu_;
  std::set<sql::Session*> sessions_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

// The SQL service of node; node->sql_sessions() bounds and drains its sessions.
std::unique_ptr<grpc::Service> MakeSqlService(Node* node);

}  // namespace rangedb
