#include "node/sql_service.h"

#include <atomic>
#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "node/node.h"
#include "node/sql_cluster_info.h"
#include "proto/sql.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "sql/sqlstate.h"
#include "sql/statement_deadline.h"
#include "sql/statement_text.h"
#include "sql/value_proto.h"

namespace rangedb {
namespace {

constexpr int kRowsPerBatch = 256;
constexpr size_t kBytesPerBatch = 1 << 20;
constexpr size_t kMaxQueuedRequests = 16;

using Stream = grpc::ServerReaderWriter<sqlpb::SqlResponse, sqlpb::SqlRequest>;

// Streams one statement's rows in bounded batches.
class StreamSink final : public sql::RowSink {
 public:
  StreamSink(Stream* stream, int statement_index) : stream_(stream), index_(statement_index) {}

  absl::Status Columns(const std::vector<sql::ColumnInfo>& columns) override {
    for (const sql::ColumnInfo& c : columns) {
      sqlpb::Column* col = pending_.add_columns();
      col->set_name(c.name);
      col->set_declared_type(c.declared_type);
    }
    return absl::OkStatus();
  }

  absl::Status Row(std::vector<sql::Value> row) override {
    sqlpb::Row* r = pending_.add_rows();
    for (const sql::Value& v : row) *r->add_values() = sql::ValueToProto(v);
    pending_bytes_ += r->ByteSizeLong();
    if (pending_.rows_size() >= kRowsPerBatch || pending_bytes_ >= kBytesPerBatch) return Flush();
    return absl::OkStatus();
  }

  // Sends what is pending (columns and rows), if anything.
  absl::Status Flush() {
    if (pending_.columns_size() == 0 && pending_.rows_size() == 0) return absl::OkStatus();
    pending_.set_statement_index(index_);
    const bool ok = stream_->Write(pending_);
    pending_.Clear();
    pending_bytes_ = 0;
    if (!ok) return sql::SqlError(sql::sqlstate::kConnectionFailure, "the client went away");
    return absl::OkStatus();
  }

  // The statement's last message (pending rows included).
  bool Finish(sqlpb::SqlResponse done) {
    done.set_statement_index(index_);
    done.set_done(true);
    for (auto& c : *pending_.mutable_columns()) *done.add_columns() = std::move(c);
    for (auto& r : *pending_.mutable_rows()) *done.add_rows() = std::move(r);
    pending_.Clear();
    return stream_->Write(done);
  }

 private:
  Stream* const stream_;
  const int index_;
  sqlpb::SqlResponse pending_;
  size_t pending_bytes_ = 0;
};

// Whether sql holds no statement: only white space, comments and semicolons.
bool NoStatementLeft(absl::string_view sql) {
  sql = sql::SkipSpaceAndComments(sql);
  while (!sql.empty() && sql.front() == ';') sql = sql::SkipSpaceAndComments(sql.substr(1));
  return sql.empty();
}

class SqlService final : public sqlpb::SQL::Service {
 public:
  explicit SqlService(Node* node) : node_(node), cluster_info_(node) {}

  grpc::Status Session(grpc::ServerContext* context, Stream* stream) override {
    if (node_->node_id() == 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "this node has not joined a cluster yet (run `rangedb init`)");
    }
    sql::SessionOptions options;
    options.sender = node_->local_sender();
    options.node_id = node_->node_id();
    options.cluster_info = &cluster_info_;
    HybridLogicalClock* clock = node_->clock();
    options.wall_micros = [clock] { return clock->Now().wall_ns / 1000; };
    absl::StatusOr<std::unique_ptr<sql::Session>> opened = sql::Session::Open(std::move(options));
    if (!opened.ok())
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(opened.status().message()));
    sql::Session* session = opened->get();
    SqlSessions* sessions = node_->sql_sessions();
    if (absl::Status s = sessions->Add(session); !s.ok()) {
      return grpc::Status(s.code() == absl::StatusCode::kResourceExhausted
                              ? grpc::StatusCode::RESOURCE_EXHAUSTED
                              : grpc::StatusCode::UNAVAILABLE,
                          std::string(s.message()));
    }

    sql::StatementDeadline deadline(node_->options().time, session);
    std::atomic<bool> client_gone{false};
    // The reader: requests into a bounded queue; cancels act at once.
    absl::Mutex mu;
    std::deque<sqlpb::SqlRequest> queue;
    bool closed = false;    // the client closed its side (or the stream broke)
    bool stopping = false;  // the handler is done: the reader must not wait for room
    std::thread reader([&] {
      sqlpb::SqlRequest request;
      while (stream->Read(&request)) {
        if (request.kind_case() == sqlpb::SqlRequest::kCancel) {
          session->Interrupt();
          continue;
        }
        absl::MutexLock lock(&mu);
        auto room = [&] { return stopping || queue.size() < kMaxQueuedRequests; };
        mu.Await(absl::Condition(&room));
        if (stopping) break;
        queue.push_back(std::move(request));
      }
      // A half-close lets the queued requests run; a client that went away (the
      // call cancelled) stops the running statement.
      if (context->IsCancelled()) {
        client_gone = true;
        session->Interrupt();
      }
      absl::MutexLock lock(&mu);
      closed = true;
    });
    while (true) {
      sqlpb::SqlRequest request;
      {
        absl::MutexLock lock(&mu);
        auto ready = [&] { return closed || !queue.empty(); };
        mu.Await(absl::Condition(&ready));
        if (queue.empty()) break;
        request = std::move(queue.front());
        queue.pop_front();
      }
      if (!RunRequest(stream, session, &deadline, client_gone, request)) break;
    }
    {
      absl::MutexLock lock(&mu);
      stopping = true;  // wakes a reader waiting for room in the queue
    }
    context->TryCancel();  // ends the reader's Read if the client is still there
    reader.join();
    session->Close();
    sessions->Remove(session);
    return grpc::Status::OK;
  }

 private:
  // Runs every statement of request; false if the stream broke.
  bool RunRequest(Stream* stream, sql::Session* session, sql::StatementDeadline* deadline,
                  const std::atomic<bool>& client_gone, const sqlpb::SqlRequest& request) {
    std::vector<sql::Parameter> params;
    for (const sqlpb::Parameter& p : request.statement().parameters()) {
      params.push_back(sql::Parameter{p.name(), sql::ValueFromProto(p.value())});
    }
    // The request's deadline: the session's watcher interrupts the statement.
    if (request.timeout_ms() > 0) {
      deadline->Arm(node_->options().time->Now() + absl::Milliseconds(request.timeout_ms()));
    }
    absl::string_view sql_text = request.statement().sql();
    bool stream_ok = true;
    bool answered = false;  // a statement's last message carried request_done
    for (int index = 0;; ++index) {
      if (client_gone.load()) {
        stream_ok = false;
        break;
      }
      StreamSink sink(stream, index);
      absl::StatusOr<std::optional<sql::StatementResult>> result;
      if (!node_->sql_sessions()->BeginStatement()) {
        result = sql::SqlError("57P01", "the node is draining: reconnect to another node");
        sql_text = absl::string_view();
      } else {
        // Where the session's statement starts: past space, comments and empty
        // statements, as Session::ExecuteNext skips them.
        const absl::string_view request_sql = request.statement().sql();
        absl::string_view head = sql::SkipSpaceAndComments(sql_text);
        while (!head.empty() && head.front() == ';')
          head = sql::SkipSpaceAndComments(head.substr(1));
        const size_t statement_start = head.empty()
                                           ? request_sql.size()
                                           : static_cast<size_t>(head.data() - request_sql.data());
        result = session->ExecuteNext(&sql_text, params, &sink);
        if (!result.ok() && sql::PositionOf(result.status()) > 0) {
          // The session counts from its statement; the wire, from the request.
          result = sql::WithPosition(result.status(), sql::PositionOf(result.status()) +
                                                          static_cast<int>(statement_start));
        }
        node_->sql_sessions()->EndStatement();
        if (!result.ok() && sql::SqlStateOf(result.status()) == sql::sqlstate::kQueryCanceled &&
            request.timeout_ms() > 0 && deadline->Disarm()) {
          result = sql::SqlError(sql::sqlstate::kQueryCanceled,
                                 absl::StrCat("canceling statement due to statement timeout (",
                                              request.timeout_ms(), " ms)"));
        }
      }
      if (result.ok() && !result->has_value()) break;  // no statement left
      sqlpb::SqlResponse done;
      if (result.ok()) {
        done.set_command_tag((*result)->command_tag);
        done.set_rows_affected((*result)->rows_affected);
      } else {
        sqlpb::SqlError* error = done.mutable_error();
        error->set_sqlstate(sql::SqlStateOf(result.status()));
        error->set_message(std::string(result.status().message()));
        error->set_position(sql::PositionOf(result.status()));
      }
      done.set_in_transaction(session->in_transaction());
      // The last statement's message also ends the request: one message less for
      // the common request of one statement.
      const bool last = !result.ok() || NoStatementLeft(sql_text);
      done.set_request_done(last);
      if (!sink.Finish(std::move(done))) {
        stream_ok = false;
        break;
      }
      if (last) {
        answered = true;
        break;  // after an error the rest of the request does not run
      }
    }
    if (request.timeout_ms() > 0) deadline->Disarm();
    if (!stream_ok) return false;
    if (answered) return true;
    sqlpb::SqlResponse end;
    end.set_request_done(true);
    end.set_in_transaction(session->in_transaction());
    return stream->Write(end);
  }

  Node* const node_;
  SqlClusterInfo cluster_info_;  // rangedb_ranges, rangedb_nodes of every session
};

}  // namespace

absl::Status SqlSessions::Add(sql::Session* session) {
  absl::MutexLock lock(&mu_);
  if (draining_) return absl::UnavailableError("the node is draining: connect to another node");
  if (static_cast<int>(sessions_.size()) >= kMaxSessions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many SQL sessions on this node (", kMaxSessions, ")"));
  }
  sessions_.insert(session);
  return absl::OkStatus();
}

void SqlSessions::Remove(sql::Session* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

bool SqlSessions::BeginStatement() {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  ++running_;
  return true;
}

void SqlSessions::EndStatement() {
  absl::MutexLock lock(&mu_);
  --running_;
}

int SqlSessions::Drain(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  if (time_->AwaitWithDeadline(&mu_, absl::Condition(&idle), deadline)) return 0;
  for (sql::Session* session : sessions_) session->Interrupt();
  spdlog::warn(
      "sql: drain: interrupted the statements of {} sessions still running at the deadline",
      sessions_.size());
  return running_;
}

bool SqlSessions::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

int SqlSessions::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(sessions_.size());
}

std::unique_ptr<grpc::Service> MakeSqlService(Node* node) {
  return std::make_unique<SqlService>(node);
}

}  // namespace rangedb
