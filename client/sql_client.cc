#include "client/sql_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/backoff.h"
#include "base/kv_api.h"
#include "base/limits.h"
#include "client/kv_client.h"

namespace rangedb::client {

sqlpb::Value ToProto(const SqlValue& value) {
  sqlpb::Value proto;
  switch (value.index()) {
    case 0:
      proto.set_null(true);
      break;
    case 1:
      proto.set_integer(std::get<int64_t>(value));
      break;
    case 2:
      proto.set_real(std::get<double>(value));
      break;
    case 3:
      proto.set_text(std::get<std::string>(value));
      break;
    case 4:
      proto.set_blob(std::get<SqlBlob>(value).bytes);
      break;
  }
  return proto;
}

SqlValue FromProto(const sqlpb::Value& value) {
  switch (value.kind_case()) {
    case sqlpb::Value::kInteger:
      return value.integer();
    case sqlpb::Value::kReal:
      return value.real();
    case sqlpb::Value::kText:
      return value.text();
    case sqlpb::Value::kBlob:
      return SqlBlob{value.blob()};
    case sqlpb::Value::kNull:
    case sqlpb::Value::KIND_NOT_SET:
      break;
  }
  return SqlNull{};
}

namespace {

// The operations of a stream: at most one of each is outstanding at a time (gRPC
// allows one read and one write at once), so the kind names the operation.
enum class Op : intptr_t { kStart = 1, kWrite, kRead, kWritesDone, kFinish };

void* Tag(Op op) { return reinterpret_cast<void*>(static_cast<intptr_t>(op)); }

// How long the client waits for a stream to end once it has given up on it; after a
// TryCancel, gRPC completes every operation at once, so this is only a backstop.
constexpr absl::Duration kAbandonWait = absl::Seconds(5);

// Waits until channel is connected, fails to connect, or deadline. (KvClient's
// AwaitConnected, for one channel.)
bool AwaitConnected(grpc::Channel& channel, absl::Time deadline) {
  // Bounded by the deadline: each wait ends by it.
  for (;;) {
    const grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, absl::ToChronoTime(deadline))) return false;
  }
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // A session's own connection, and quick reconnects (as KvClient).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A row batch holds at most a few values of the largest size (base/limits.h).
  args.SetMaxReceiveMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// "a:1" or "any of a:1, b:2".
std::string DescribeHosts(const std::vector<std::string>& hosts) {
  if (hosts.size() == 1) return hosts[0];
  return absl::StrCat("any of ", absl::StrJoin(hosts, ", "));
}

std::string GrpcStatusText(const grpc::Status& status) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  const char* name =
      code >= 0 && code < static_cast<int>(std::size(kNames)) ? kNames[code] : "UNKNOWN";
  return status.error_message().empty() ? name : absl::StrCat(name, ": ", status.error_message());
}

}  // namespace

// The stream and everything its asynchronous operations refer to.
struct SqlConnection::Stream {
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  std::unique_ptr<sqlpb::SQL::Stub> stub;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<sqlpb::SqlRequest, sqlpb::SqlResponse>> rw;
  std::set<void*> pending;          // started, not yet completed and consumed
  std::map<void*, bool> completed;  // completed (tag -> ok), not yet consumed
  sqlpb::SqlRequest request;        // the message of the outstanding Write
  sqlpb::SqlResponse response;      // the target of the outstanding Read
  grpc::Status final_status;        // the target of Finish
  bool finish_started = false;
};

enum class SqlConnection::Wait { kOk, kFailed, kTimeout };

absl::StatusOr<std::unique_ptr<SqlConnection>> SqlConnection::Connect(
    SqlConnectionOptions options) {
  if (options.hosts.empty()) return absl::InvalidArgumentError("no hosts given");
  for (const std::string& host : options.hosts) {
    if (absl::Status s = ValidateHostAddress(host); !s.ok()) return s;
  }
  if (options.timeout <= absl::ZeroDuration() ||
      options.connect_attempt_timeout <= absl::ZeroDuration() ||
      options.cancel_grace <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  const absl::Time deadline = absl::Now() + options.timeout;
  std::vector<std::shared_ptr<grpc::Channel>> channels(options.hosts.size());
  std::vector<std::string> errors(options.hosts.size(), "not tried");
  Backoff backoff(BackoffOptions{std::chrono::milliseconds(20), std::chrono::milliseconds(1000)});
  // Bounded by the deadline: every wait and sleep ends by it.
  while (absl::Now() < deadline) {
    for (size_t i = 0; i < options.hosts.size() && absl::Now() < deadline; ++i) {
      const std::string& address = options.hosts[i];
      if (channels[i] == nullptr) channels[i] = NewChannel(address);
      const absl::Time attempt_deadline =
          std::min(deadline, absl::Now() + options.connect_attempt_timeout);
      // An attempt cut short by the end of the budget keeps the host's earlier, more
      // telling error.
      const auto record = [&](absl::string_view error) {
        if (absl::Now() < deadline || errors[i] == "not tried") errors[i] = std::string(error);
      };
      if (!AwaitConnected(*channels[i], attempt_deadline)) {
        record("could not connect");
        continue;
      }
      std::unique_ptr<SqlConnection> connection(new SqlConnection(options, address, channels[i]));
      absl::Status started = connection->StartStream(attempt_deadline);
      if (started.ok()) started = connection->Probe(attempt_deadline);
      if (started.ok()) return connection;
      record(started.message());
    }
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) break;
    std::this_thread::sleep_for(std::min(absl::ToChronoMilliseconds(remaining), backoff.Next()));
  }
  std::vector<std::string> tried;
  for (size_t i = 0; i < options.hosts.size(); ++i) {
    tried.push_back(absl::StrCat(options.hosts[i], ": ", errors[i]));
  }
  return absl::UnavailableError(
      absl::StrCat("could not open a SQL session on ", DescribeHosts(options.hosts), " within ",
                   absl::FormatDuration(options.timeout), " (", absl::StrJoin(tried, "; "), ")"));
}

SqlConnection::SqlConnection(SqlConnectionOptions options, std::string address,
                             std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      address_(std::move(address)),
      channel_(std::move(channel)),
      stream_(std::make_unique<Stream>()) {}

SqlConnection::~SqlConnection() {
  Stream& s = *stream_;
  if (s.rw != nullptr) {
    bool ended = false;
    if (!closed()) {
      // Half-close and let the server end the session; abandon it if it does not.
      const absl::Time deadline = absl::Now() + options_.cancel_grace;
      ended = !s.pending.count(Tag(Op::kWrite)) || Await(Tag(Op::kWrite), deadline) == Wait::kOk;
      if (ended) {
        s.rw->WritesDone(Tag(Op::kWritesDone));
        s.pending.insert(Tag(Op::kWritesDone));
        ended = Await(Tag(Op::kWritesDone), deadline) == Wait::kOk;
      }
      if (ended) {
        s.rw->Finish(&s.final_status, Tag(Op::kFinish));
        s.finish_started = true;
        s.pending.insert(Tag(Op::kFinish));
        ended = Await(Tag(Op::kFinish), deadline) != Wait::kTimeout;
      }
    }
    if (!ended) s.context.TryCancel();
    if (!s.finish_started) {
      s.rw->Finish(&s.final_status, Tag(Op::kFinish));
      s.finish_started = true;
    }
  }
  // Every operation completes once the call has ended or been cancelled; the queue
  // must be drained before it is destroyed.
  s.cq.Shutdown();
  void* tag;
  bool ok;
  while (s.cq.Next(&tag, &ok)) {
  }
}

absl::Status SqlConnection::StartStream(absl::Time deadline) {
  Stream& s = *stream_;
  s.stub = sqlpb::SQL::NewStub(channel_);
  s.rw = s.stub->PrepareAsyncSession(&s.context, &s.cq);
  s.rw->StartCall(Tag(Op::kStart));
  s.pending.insert(Tag(Op::kStart));
  switch (Await(Tag(Op::kStart), deadline)) {
    case Wait::kOk:
      return absl::OkStatus();
    case Wait::kFailed:
      return Close(absl::UnavailableError("could not start a session"));
    case Wait::kTimeout:
      break;
  }
  return Close(absl::UnavailableError("could not start a session in time"));
}

SqlConnection::Wait SqlConnection::Await(void* tag, absl::Time deadline) {
  Stream& s = *stream_;
  // Bounded by the deadline: AsyncNext returns by it.
  for (;;) {
    if (auto it = s.completed.find(tag); it != s.completed.end()) {
      const bool ok = it->second;
      s.completed.erase(it);
      s.pending.erase(tag);
      return ok ? Wait::kOk : Wait::kFailed;
    }
    void* got = nullptr;
    bool ok = false;
    switch (s.cq.AsyncNext(&got, &ok, absl::ToChronoTime(deadline))) {
      case grpc::CompletionQueue::TIMEOUT:
        return Wait::kTimeout;
      case grpc::CompletionQueue::SHUTDOWN:
        return Wait::kFailed;
      case grpc::CompletionQueue::GOT_EVENT:
        s.completed[got] = ok;
        break;
    }
  }
}

grpc::Status SqlConnection::FinishStream() {
  Stream& s = *stream_;
  if (!s.finish_started) {
    s.rw->Finish(&s.final_status, Tag(Op::kFinish));
    s.finish_started = true;
    s.pending.insert(Tag(Op::kFinish));
  }
  if (Await(Tag(Op::kFinish), absl::Now() + kAbandonWait) == Wait::kTimeout) {
    s.context.TryCancel();
    if (Await(Tag(Op::kFinish), absl::Now() + kAbandonWait) == Wait::kTimeout) {
      return grpc::Status(grpc::StatusCode::UNKNOWN, "the stream did not end");
    }
  }
  return s.final_status;
}

absl::Status SqlConnection::Close(absl::Status reason) {
  Stream& s = *stream_;
  s.context.TryCancel();
  // Every outstanding operation completes promptly once the call is cancelled.
  const std::vector<void*> pending(s.pending.begin(), s.pending.end());
  for (void* tag : pending) {
    if (tag != Tag(Op::kFinish)) Await(tag, absl::Now() + kAbandonWait);
  }
  if (!s.finish_started) FinishStream();
  closed_reason_ = reason;
  return reason;
}

absl::Status SqlConnection::Probe(absl::Time deadline) {
  Stream& s = *stream_;
  s.request.Clear();
  s.request.mutable_statement();  // no SQL: runs nothing
  s.request.set_timeout_ms(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.timeout)));
  s.rw->Write(s.request, Tag(Op::kWrite));
  s.pending.insert(Tag(Op::kWrite));
  Wait wait = Await(Tag(Op::kWrite), deadline);
  // Bounded: the answer to an empty request is request_done alone; a server that
  // sends more than a few messages is not one this client speaks to.
  for (int messages = 0; wait == Wait::kOk && messages < 8; ++messages) {
    s.response.Clear();
    s.rw->Read(&s.response, Tag(Op::kRead));
    s.pending.insert(Tag(Op::kRead));
    wait = Await(Tag(Op::kRead), deadline);
    if (wait == Wait::kOk && s.response.request_done()) return absl::OkStatus();
  }
  if (wait != Wait::kFailed) return Close(absl::UnavailableError("no answer to an empty request"));
  const grpc::Status status = FinishStream();
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return Close(absl::UnimplementedError(
        absl::StrCat("does not serve SQL (", GrpcStatusText(status), ")")));
  }
  return Close(
      absl::UnavailableError(absl::StrCat("refused the session (", GrpcStatusText(status), ")")));
}

absl::Status SqlConnection::Dispatch(sqlpb::SqlResponse& response, SqlResultHandler& handler) {
  const int index = response.statement_index();
  const bool has_content = response.columns_size() > 0 || response.rows_size() > 0 ||
                           response.done() || response.has_error();
  auto malformed = [&](absl::string_view what) {
    return absl::InternalError(
        absl::StrCat(address_, " broke the SQL protocol: statement ", index, ": ", what));
  };
  // A message with nothing but request_done may carry any index (the server's own
  // leaves it 0); the others move through the statements in order.
  if (has_content) {
    if (index < current_statement_) return malformed("answered after a later statement");
    if (index > current_statement_) {
      if (current_started_ && !current_done_) {
        return malformed(absl::StrCat("began before statement ", current_statement_, " was done"));
      }
      current_statement_ = index;
      current_started_ = current_has_columns_ = current_has_rows_ = current_done_ = false;
    }
    if (current_done_) return malformed("answered after it was done");
    current_started_ = true;
  }
  if (response.columns_size() > 0) {
    if (current_has_columns_ || current_has_rows_) return malformed("columns sent twice");
    current_has_columns_ = true;
    current_columns_ = response.columns_size();
    std::vector<SqlColumn> columns;
    columns.reserve(response.columns_size());
    for (sqlpb::Column& column : *response.mutable_columns()) {
      columns.push_back(
          {std::move(*column.mutable_name()), std::move(*column.mutable_declared_type())});
    }
    handler.OnColumns(index, columns);
  }
  if (response.rows_size() > 0) {
    if (!current_has_columns_) return malformed("rows before columns");
    current_has_rows_ = true;
    std::vector<SqlRow> rows;
    rows.reserve(response.rows_size());
    for (const sqlpb::Row& row : response.rows()) {
      if (row.values_size() != current_columns_) {
        return malformed(absl::StrCat("a row of ", row.values_size(), " values for ",
                                      current_columns_, " columns"));
      }
      SqlRow values;
      values.reserve(row.values_size());
      for (const sqlpb::Value& value : row.values()) values.push_back(FromProto(value));
      rows.push_back(std::move(values));
    }
    handler.OnRows(index, std::move(rows));
  }
  if (response.has_error()) {
    const sqlpb::SqlError& e = response.error();
    current_done_ = true;
    in_transaction_ = response.in_transaction();
    handler.OnError(index, SqlError{e.sqlstate(), e.message(), e.position()});
  } else if (response.done()) {
    current_done_ = true;
    in_transaction_ = response.in_transaction();
    handler.OnDone(index, response.command_tag(), response.rows_affected());
  }
  if (response.request_done() && current_started_ && !current_done_) {
    return malformed("the request ended before the statement was done");
  }
  return absl::OkStatus();
}

absl::Status SqlConnection::Execute(absl::string_view sql, const std::vector<SqlParameter>& params,
                                    SqlResultHandler& handler) {
  if (closed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the session on ", address_,
                     " is closed after an earlier failure: ", closed_reason_.message()));
  }
  Stream& s = *stream_;
  const absl::Time deadline = absl::Now() + options_.timeout;
  const std::string budget = absl::FormatDuration(options_.timeout);
  // The cancel of an earlier request may still be on its way out.
  if (s.pending.count(Tag(Op::kWrite)) && Await(Tag(Op::kWrite), deadline) != Wait::kOk) {
    return Close(absl::UnavailableError(absl::StrCat(
        "the connection to ", address_, " was lost; the request was not sent, nothing ran")));
  }
  s.request.Clear();
  sqlpb::Statement* statement = s.request.mutable_statement();
  statement->set_sql(std::string(sql));
  for (const SqlParameter& param : params) {
    sqlpb::Parameter* p = statement->add_parameters();
    p->set_name(param.name);
    *p->mutable_value() = ToProto(param.value);
  }
  s.request.set_timeout_ms(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.timeout)));
  s.rw->Write(s.request, Tag(Op::kWrite));
  s.pending.insert(Tag(Op::kWrite));
  switch (Await(Tag(Op::kWrite), deadline)) {
    case Wait::kOk:
      break;
    case Wait::kFailed: {
      const grpc::Status status = FinishStream();
      return Close(absl::UnavailableError(
          absl::StrCat("the connection to ", address_, " was lost (", GrpcStatusText(status),
                       "); the request was not sent, nothing ran")));
    }
    case Wait::kTimeout:
      return Close(AmbiguousError(
          absl::StrCat("could not send the request to ", address_, " within ", budget,
                       "; it may have reached the server and run (a write may have committed)")));
  }

  current_statement_ = 0;
  current_started_ = current_has_columns_ = current_has_rows_ = current_done_ = false;
  current_columns_ = 0;
  bool cancel_sent = false;
  absl::Time wait_until = deadline;
  // Out of budget: asks the server to stop, and gives it a moment to say so.
  auto send_cancel = [&] {
    s.request.Clear();
    s.request.set_cancel(true);
    s.rw->Write(s.request, Tag(Op::kWrite));
    s.pending.insert(Tag(Op::kWrite));
    cancel_sent = true;
    wait_until = absl::Now() + options_.cancel_grace;
  };
  auto abandon = [&] {
    return Close(AmbiguousError(absl::StrCat(
        "no answer from ", address_, " within ", budget, " (statement ", current_statement_,
        " was running); the session was closed, and the statement may have run (a write may "
        "have committed)")));
  };
  // Bounded: each wait ends by wait_until, which moves once, by cancel_grace; past
  // it the stream is abandoned even if the server keeps sending.
  for (;;) {
    s.response.Clear();
    s.rw->Read(&s.response, Tag(Op::kRead));
    s.pending.insert(Tag(Op::kRead));
    Wait wait = Await(Tag(Op::kRead), wait_until);
    if (wait == Wait::kTimeout && !cancel_sent) {
      send_cancel();
      wait = Await(Tag(Op::kRead), wait_until);
    }
    if (wait == Wait::kTimeout) return abandon();
    if (wait == Wait::kFailed) {
      const grpc::Status status = FinishStream();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        return Close(absl::UnimplementedError(absl::StrCat(
            address_, " does not serve SQL (", GrpcStatusText(status), "); nothing ran")));
      }
      return Close(AmbiguousError(absl::StrCat(
          "the connection to ", address_, " broke before the server finished the request (",
          GrpcStatusText(status), "): statement ", current_statement_,
          " and later ones may or may not have run (a write may have committed)")));
    }
    if (absl::Status dispatched = Dispatch(s.response, handler); !dispatched.ok()) {
      return Close(AmbiguousError(absl::StrCat(
          dispatched.message(),
          "; the session was closed, and the request may have run (a write may have committed)")));
    }
    if (s.response.request_done()) return absl::OkStatus();
    if (absl::Now() >= wait_until) {
      if (cancel_sent) return abandon();
      send_cancel();
    }
  }
}

}  // namespace rangedb::client
