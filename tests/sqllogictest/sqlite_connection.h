// SqliteConnection: an SltConnection (slt_connection.h) over a private in-memory SQLite
// database (the system libsqlite3). It checks the runner itself against the corpus,
// and is the reference engine of differential tests of rangedb's SQL.
//
// Execute runs every statement of the text in order, as sqlite3_exec does, and
// returns the rows of the first statement that has a result set. A statement that
// fails to prepare ends Execute with its error ("<sqlite3_errmsg> (<sqlite3_errstr>,
// code <extended result code>)"), as does a text with a NUL byte in it; one that
// fails while stepping ends it with that error in SltResult::execution_error and the
// rows returned before it.
//
// Thread safety: not thread-safe; one thread uses a connection at a time.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/sqllogictest/slt_connection.h"

struct sqlite3;

namespace rangedb::slt {

class SqliteConnection : public SltConnection {
 public:
  // Opens a new, empty in-memory database.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open();

  ~SqliteConnection() override;
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  absl::StatusOr<SltResult> Execute(const std::string& sql) override;

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* const db_;  // owned; closed by the destructor
};

}  // namespace rangedb::slt
