// RangedbConnection: an SltConnection over a rangedb cluster's SQL service
// (client/sql_client.h), so sqllogictest scripts run against real nodes.
//
// Open connects one session and gives the script an empty database: it drops every
// view and table the cluster has (scripts share one cluster, one after another).
// A statement's SQL error becomes the status "message (SQLSTATE xxxxx)", so
// `statement error <pattern>` can match either; rows that arrived before an error
// are kept with the error as execution_error, as the runner expects.
//
// Thread safety: one thread at a time, as the connection it wraps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/sql_client.h"
#include "tests/sqllogictest/slt_connection.h"

namespace rangedb::slt {

class RangedbConnection final : public SltConnection {
 public:
  // hosts: "host:port" of the cluster's nodes (the session opens on the first that
  // serves one).
  static absl::StatusOr<std::unique_ptr<RangedbConnection>> Open(
      const std::vector<std::string>& hosts, absl::Duration timeout = absl::Seconds(30));

  absl::StatusOr<SltResult> Execute(const std::string& sql) override;

 private:
  explicit RangedbConnection(std::unique_ptr<client::SqlConnection> connection)
      : connection_(std::move(connection)) {}
  // Drops every view, then every table.
  absl::Status DropEverything();

  std::unique_ptr<client::SqlConnection> connection_;
};

}  // namespace rangedb::slt
