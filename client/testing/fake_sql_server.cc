#include "client/testing/fake_sql_server.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace rangedb::client {
namespace {

constexpr size_t kRowsPerBatch = 2;  // small, so tests see several batches

}  // namespace

std::vector<sqlpb::SqlResponse> ResultMessages(
    const std::vector<FakeSqlServer::StatementResult>& results) {
  std::vector<sqlpb::SqlResponse> messages;
  for (size_t i = 0; i < results.size(); ++i) {
    const FakeSqlServer::StatementResult& result = results[i];
    const int index = static_cast<int>(i);
    if (!result.columns.empty()) {
      sqlpb::SqlResponse& first = messages.emplace_back();
      first.set_statement_index(index);
      for (const std::string& name : result.columns) first.add_columns()->set_name(name);
    }
    for (size_t r = 0; r < result.rows.size(); r += kRowsPerBatch) {
      sqlpb::SqlResponse& batch = messages.emplace_back();
      batch.set_statement_index(index);
      for (size_t k = r; k < std::min(result.rows.size(), r + kRowsPerBatch); ++k) {
        sqlpb::Row* row = batch.add_rows();
        for (const SqlValue& value : result.rows[k]) *row->add_values() = ToProto(value);
      }
    }
    sqlpb::SqlResponse& last = messages.emplace_back();
    last.set_statement_index(index);
    last.set_done(true);
    last.set_in_transaction(result.in_transaction);
    if (result.error.has_value()) {
      last.mutable_error()->set_sqlstate(result.error->sqlstate);
      last.mutable_error()->set_message(result.error->message);
      last.mutable_error()->set_position(result.error->position);
    } else {
      last.set_command_tag(result.command_tag);
      last.set_rows_affected(result.rows_affected);
    }
  }
  return messages;
}

class FakeSqlServer::Service final : public sqlpb::SQL::Service {
 public:
  struct Script {
    std::vector<sqlpb::SqlResponse> messages;
    Then then = Then::kAnswer;
  };

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<sqlpb::SqlResponse, sqlpb::SqlRequest>* stream) override {
    {
      absl::MutexLock lock(&mu_);
      if (refusal_.has_value()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, *refusal_);
      ++sessions_;
    }
    sqlpb::SqlRequest request;
    // Ends when the client half-closes or goes away, or the server shuts down.
    while (stream->Read(&request)) {
      Record(request);
      if (request.kind_case() != sqlpb::SqlRequest::kStatement) continue;  // nothing runs
      if (request.statement().sql().empty()) {  // no statement: request_done alone
        sqlpb::SqlResponse done;
        done.set_request_done(true);
        stream->Write(done);
        continue;
      }
      const Script script = Lookup(request.statement().sql());
      for (const sqlpb::SqlResponse& message : script.messages) stream->Write(message);
      switch (script.then) {
        case Then::kAnswer:
          break;
        case Then::kBreak:
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: the node went away");
        case Then::kHang: {
          sqlpb::SqlRequest next;
          if (!stream->Read(&next)) return grpc::Status::OK;
          Record(next);
          sqlpb::SqlResponse cancelled;
          int index = 0;
          for (const sqlpb::SqlResponse& message : script.messages) {
            if (message.done()) index = message.statement_index() + 1;
          }
          cancelled.set_statement_index(index);
          cancelled.set_done(true);
          cancelled.mutable_error()->set_sqlstate("57014");
          cancelled.mutable_error()->set_message("canceling statement due to user request");
          cancelled.set_request_done(true);
          stream->Write(cancelled);
          break;
        }
        case Then::kHangIgnoringCancel: {
          sqlpb::SqlRequest next;
          while (stream->Read(&next)) Record(next);
          return grpc::Status::OK;
        }
      }
    }
    return grpc::Status::OK;
  }

  void Refuse(const std::string& message) {
    absl::MutexLock lock(&mu_);
    refusal_ = message;
  }

  void Add(const std::string& sql, Script script) {
    absl::MutexLock lock(&mu_);
    scripts_[sql] = std::move(script);
  }

  Script Lookup(const std::string& sql) {
    absl::MutexLock lock(&mu_);
    if (auto it = scripts_.find(sql); it != scripts_.end()) return it->second;
    StatementResult unscripted;
    unscripted.error = SqlError{"42601", absl::StrCat("unscripted statement: ", sql), 1};
    Script script{ResultMessages({unscripted}), Then::kAnswer};
    script.messages.back().set_request_done(true);
    return script;
  }

  void Record(const sqlpb::SqlRequest& request) {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
  }

  std::vector<sqlpb::SqlRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  int sessions() const {
    absl::MutexLock lock(&mu_);
    return sessions_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::vector<sqlpb::SqlRequest> requests_ ABSL_GUARDED_BY(mu_);
  int sessions_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<std::string> refusal_ ABSL_GUARDED_BY(mu_);  // set: refuse sessions
};

absl::StatusOr<std::unique_ptr<FakeSqlServer>> FakeSqlServer::Start() {
  std::unique_ptr<FakeSqlServer> server(new FakeSqlServer());
  server->service_ = std::make_unique<Service>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::InternalError("fake SQL server: could not listen on 127.0.0.1");
  }
  return server;
}

FakeSqlServer::~FakeSqlServer() {
  if (server_ == nullptr) return;
  // Sessions still open (a hung one, a client not yet gone) are cancelled at once.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

std::string FakeSqlServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeSqlServer::Script(const std::string& sql, std::vector<StatementResult> results,
                           Then then) {
  std::vector<sqlpb::SqlResponse> messages = ResultMessages(results);
  if (then == Then::kAnswer) {
    sqlpb::SqlResponse& done = messages.emplace_back();
    done.set_statement_index(results.empty() ? 0 : static_cast<int>(results.size()) - 1);
    done.set_request_done(true);
  }
  service_->Add(sql, Service::Script{std::move(messages), then});
}

void FakeSqlServer::ScriptMessages(const std::string& sql, std::vector<sqlpb::SqlResponse> messages,
                                   Then then) {
  service_->Add(sql, Service::Script{std::move(messages), then});
}

void FakeSqlServer::RefuseSessions(const std::string& message) { service_->Refuse(message); }

std::vector<sqlpb::SqlRequest> FakeSqlServer::requests() const { return service_->requests(); }

std::vector<std::string> FakeSqlServer::statements() const {
  std::vector<std::string> sql;
  for (const sqlpb::SqlRequest& request : service_->requests()) {
    if (request.kind_case() == sqlpb::SqlRequest::kStatement &&
        !request.statement().sql().empty()) {
      sql.push_back(request.statement().sql());
    }
  }
  return sql;
}

int FakeSqlServer::sessions() const { return service_->sessions(); }

}  // namespace rangedb::client
