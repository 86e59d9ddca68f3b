// Requests of the SQL bank (tests/sql_bank.h) over client::SqlConnection: one call
// collects a request's answer statement by statement. Internal to the bank's files
// (sql_bank_workload.cc, sql_bank_setup.cc).
//
// Thread safety: stateless functions; a connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/sql_client.h"

namespace rangedb::sqlbank {

// Steady-clock nanoseconds (the clock of tests/kv_history.h MonotonicNowNs).
int64_t NowNs();

// One statement's answer.
struct Answer {
  bool done = false;  // it finished without an error (OnDone)
  std::string tag;    // its command tag, when done
  int64_t rows_affected = 0;
  std::optional<client::SqlError> error;
  std::vector<client::SqlRow> rows;
};

// A request's result: the transport status and each statement's answer. A request
// stops at its first failing statement, so the answers end there.
struct Reply {
  absl::Status transport;  // non-OK: the connection is closed (client/sql_client.h)
  std::vector<Answer> answers;

  // The first statement error, or null.
  const client::SqlError* FirstError() const;
  // Statements 0 .. n-1 all answered done.
  bool AllDone(size_t n) const;
};

// Sends one request (at most kMaxStatements statements are collected).
inline constexpr int kMaxStatements = 8;
Reply Run(client::SqlConnection& c, absl::string_view sql,
          const std::vector<client::SqlParameter>& params = {});

// OK when the transport held and statements 0 .. n-1 answered done; else a status
// naming `what` and the transport error, SQLSTATE or missing answer.
absl::Status RequireDone(const Reply& reply, size_t n, absl::string_view what);

// The value as an INTEGER; false for another storage class.
bool AsInt(const client::SqlValue& v, int64_t* out);

// hosts rotated left by `by` (mod its size): the (by)th host comes first.
std::vector<std::string> Rotated(std::vector<std::string> hosts, size_t by);

// SqlConnection::Connect over `hosts` within `timeout`, each host getting at most
// `attempt_timeout`; every later request has `timeout` as its budget.
absl::StatusOr<std::unique_ptr<client::SqlConnection>> Open(std::vector<std::string> hosts,
                                                            absl::Duration timeout,
                                                            absl::Duration attempt_timeout);

}  // namespace rangedb::sqlbank
