#include "node/sql_service.h"

#include "absl/strings/str_cat.h"
#include "node/long_request_watch.h"
#include "node/node.h"
#include "node/sql_cluster_info.h"
#include "node/sql_request_stream.h"
#include "proto/sql.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "sql/sqlstate.h"
#include "sql/statement_text.h"
#include "sql/value_proto.h"

namespace rangedb {
namespace {

constexpr int kRowsPerBatch = 256;
constexpr size_t kBytesPerBatch = 1 << 20;
// A request that runs longer than kCancelGrace has its stream read by a listener
// thread, for cancels (node/sql_request_stream.h): a cancel reaches it within about
// kCancelGrace + kWatchPeriod. Shorter requests never wake a second thread.
constexpr absl::Duration kCancelGrace = absl::Milliseconds(50);
constexpr absl::Duration kWatchPeriod = absl::Milliseconds(25);

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
  explicit SqlService(Node* node)
      : node_(node),
        cluster_info_(node),
        long_requests_(TimeSource::Real(), kWatchPeriod) {}  // real: see LongRequestWatch

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

    {
      SqlRequestStream requests(stream, node_->options().time, TimeSource::Real(), &long_requests_,
                                kCancelGrace,
                                SqlRequestStream::Hooks{
                                    .interrupt = [session] { session->Interrupt(); },
                                    .is_cancelled = [context] { return context->IsCancelled(); },
                                    .cancel_call = [context] { context->TryCancel(); },
                                });
      while (std::optional<sqlpb::SqlRequest> request = requests.Next()) {
        if (!RunRequest(stream, session, requests, *request)) break;
      }
    }  // the listener, if one started, has stopped
    session->Close();
    sessions->Remove(session);
    return grpc::Status::OK;
  }

 private:
  // Runs every statement of request; false if the stream broke.
  bool RunRequest(Stream* stream, sql::Session* session, const SqlRequestStream& requests,
                  const sqlpb::SqlRequest& request) {
    std::vector<sql::Parameter> params;
    for (const sqlpb::Parameter& p : request.statement().parameters()) {
      params.push_back(sql::Parameter{p.name(), sql::ValueFromProto(p.value())});
    }
    // The request's timeout_ms is kept by the request stream (SqlRequestStream).
    absl::string_view sql_text = request.statement().sql();
    bool stream_ok = true;
    bool answered = false;  // a statement's last message carried request_done
    for (int index = 0;; ++index) {
      if (requests.client_gone()) {
        stream_ok = false;
        break;
      }
      StreamSink sink(stream, index);
      absl::StatusOr<std::optional<sql::StatementResult>> result;
      auto timeout = [&request] {
        return sql::SqlError(sql::sqlstate::kQueryCanceled,
                             absl::StrCat("canceling statement due to statement timeout (",
                                          request.timeout_ms(), " ms)"));
      };
      if (requests.timed_out() && !NoStatementLeft(sql_text)) {
        // The timeout passed between two statements of the request: the rest do not run.
        result = timeout();
        sql_text = absl::string_view();
      } else if (!node_->sql_sessions()->BeginStatement()) {
        result = sql::SqlError(sql::sqlstate::kAdminShutdown,
                               "the node is draining: reconnect to another node");
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
            requests.timed_out()) {
          result = timeout();
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
    if (!stream_ok) return false;
    if (answered) return true;
    sqlpb::SqlResponse end;
    end.set_request_done(true);
    end.set_in_transaction(session->in_transaction());
    return stream->Write(end);
  }

  Node* const node_;
  SqlClusterInfo cluster_info_;     // rangedb_ranges, rangedb_nodes of every session
  LongRequestWatch long_requests_;  // hands long requests' streams to a listener
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
  for (sql::Session* session : sessions_) session->Interrupt(sql::InterruptReason::kShutdown);
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
