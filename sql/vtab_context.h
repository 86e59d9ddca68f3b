// VtabContext: what the virtual-table module (sql/vtab.h) needs from the session
// that runs it. Every read and write of a table goes through it, so all of them are
// part of the session's transaction, and reads see the session's own uncommitted
// writes (sql/write_set.h).
//
// Errors: a method that fails returns the status; the module also hands it to
// SetError, so that the session reports it with its SQLSTATE rather than SQLite's
// generic message.
//
// Thread safety: called on the session's thread only (SQLite calls the module from
// inside sqlite3_step).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/kv_api.h"
#include "sql/table_info.h"
#include "sql/value.h"

namespace rangedb::sql {

// One page of a merged scan: the rows, and where the next page starts (empty when
// the span is done): a forward scan's next page starts at resume_key, a reverse
// scan's ends (exclusive) at it.
struct ScanPage {
  std::vector<kv::KeyValue> rows;
  std::string resume_key;
};

// How a failed INSERT or UPDATE affects the statement (sqlite3_vtab_on_conflict()).
enum class ConflictMode { kAbort, kFail, kRollback, kIgnore, kReplace };

class VtabContext {
 public:
  virtual ~VtabContext() = default;

  // The table with this id in the session's current schema; null if none.
  virtual std::shared_ptr<const TableInfo> Table(uint64_t id) = 0;

  // The value of key, the session's own writes included.
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
  // The values of keys, in their order, as Get would read each, in few round trips.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      const std::vector<std::string>& keys) = 0;
  // Rows in [start, end), ascending, the session's own writes included; at most
  // about max_rows from the key space per page.
  [[nodiscard]] virtual absl::StatusOr<ScanPage> Scan(absl::string_view start,
                                                      absl::string_view end, int64_t max_rows) = 0;
  // The same, descending: the page's rows are the last ones of [start, end).
  [[nodiscard]] virtual absl::StatusOr<ScanPage> ReverseScan(absl::string_view start,
                                                             absl::string_view end,
                                                             int64_t max_rows) = 0;
  // The last row in [start, end), the session's own writes included.
  [[nodiscard]] virtual absl::StatusOr<std::optional<kv::KeyValue>> Last(absl::string_view start,
                                                                         absl::string_view end) = 0;
  [[nodiscard]] virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  [[nodiscard]] virtual absl::Status Delete(absl::string_view key) = 0;

  // ShadowSchema::NormalizeRow for this session.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Value>> NormalizeRow(
      const TableInfo& table, const std::vector<Value>& row, const std::vector<bool>& named,
      bool or_replace) = 0;
  // For an INSERT into table in the running statement: which columns it named
  // (defaults apply to the others). All true when it named none explicitly.
  virtual std::vector<bool> InsertedColumns(const TableInfo& table) = 0;
  // A new row id for a table without a declared primary key: unique in the cluster,
  // spread over the key space (docs/design/sql.md "Keys").
  virtual int64_t NewRowId() = 0;
  // The running statement's ON CONFLICT mode, noted at each row it writes: which of
  // its writes a failure leaves decides on it (Session, "statement atomicity").
  virtual void NoteMode(ConflictMode mode) = 0;

  // xSync: commit the transaction now. xRollback: abandon it.
  [[nodiscard]] virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;

  // The error the running statement reports (the first one set wins).
  virtual void SetError(absl::Status status) = 0;
};

}  // namespace rangedb::sql
