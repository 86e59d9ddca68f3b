#include "tests/sql_bank_requests.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rangedb::sqlbank {
namespace {

class Collector final : public client::SqlResultHandler {
 public:
  void OnColumns(int i, const std::vector<client::SqlColumn>&) override { (void)At(i); }
  void OnRows(int i, std::vector<client::SqlRow> rows) override {
    if (Answer* a = At(i)) {
      for (client::SqlRow& row : rows) a->rows.push_back(std::move(row));
    }
  }
  void OnDone(int i, const std::string& tag, int64_t rows_affected) override {
    if (Answer* a = At(i)) {
      a->done = true;
      a->tag = tag;
      a->rows_affected = rows_affected;
    }
  }
  void OnError(int i, const client::SqlError& error) override {
    if (Answer* a = At(i)) a->error = error;
  }
  std::vector<Answer> answers;

 private:
  Answer* At(int i) {
    if (i < 0 || i >= kMaxStatements) return nullptr;
    if (answers.size() <= static_cast<size_t>(i)) answers.resize(i + 1);
    return &answers[i];
  }
};

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const client::SqlError* Reply::FirstError() const {
  for (const Answer& a : answers) {
    if (a.error) return &*a.error;
  }
  return nullptr;
}

bool Reply::AllDone(size_t n) const {
  if (answers.size() < n) return false;
  return std::all_of(answers.begin(), answers.begin() + n, [](const Answer& a) { return a.done; });
}

Reply Run(client::SqlConnection& c, absl::string_view sql,
          const std::vector<client::SqlParameter>& params) {
  Collector collector;
  Reply reply;
  reply.transport = c.Execute(sql, params, collector);
  reply.answers = std::move(collector.answers);
  return reply;
}

absl::Status RequireDone(const Reply& reply, size_t n, absl::string_view what) {
  if (!reply.transport.ok()) {
    return absl::Status(reply.transport.code(),
                        absl::StrCat(what, ": ", reply.transport.message()));
  }
  if (const client::SqlError* e = reply.FirstError()) {
    return absl::UnavailableError(absl::StrCat(what, ": ", e->sqlstate, " ", e->message));
  }
  if (!reply.AllDone(n)) {
    return absl::InternalError(absl::StrCat(what, ": the server answered only ",
                                            reply.answers.size(), " of ", n, " statements"));
  }
  return absl::OkStatus();
}

bool AsInt(const client::SqlValue& v, int64_t* out) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) {
    *out = *i;
    return true;
  }
  return false;
}

std::vector<std::string> Rotated(std::vector<std::string> hosts, size_t by) {
  if (!hosts.empty()) std::rotate(hosts.begin(), hosts.begin() + by % hosts.size(), hosts.end());
  return hosts;
}

absl::StatusOr<std::unique_ptr<client::SqlConnection>> Open(std::vector<std::string> hosts,
                                                            absl::Duration timeout,
                                                            absl::Duration attempt_timeout) {
  client::SqlConnectionOptions o;
  o.hosts = std::move(hosts);
  o.timeout = timeout;
  o.connect_attempt_timeout = std::min(timeout, attempt_timeout);
  return client::SqlConnection::Connect(std::move(o));
}

}  // namespace rangedb::sqlbank
