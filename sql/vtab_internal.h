// Internals of the rangedb virtual-table module (sql/vtab.h), shared by its three
// files: vtab.cc (the module, cursors, transactions), vtab_plan.cc (xBestIndex and
// xFilter: which keys a query reads) and vtab_write.cc (xUpdate: rows and index
// entries written).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/kv_api.h"
#include "sql/table_info.h"
#include "sql/vtab_context.h"
#include "sqlite3.h"

namespace rangedb::sql::vtab_internal {

struct Vtab : sqlite3_vtab {
  VtabContext* context = nullptr;
  sqlite3* db = nullptr;
  std::shared_ptr<const TableInfo> table;
};

struct Cursor : sqlite3_vtab_cursor {
  const IndexInfo* index = nullptr;  // null: the rows themselves are scanned
  std::vector<kv::KeyValue> rows;    // the current page: (row key, row value)
  size_t pos = 0;
  // Where the next page starts (forward) or ends (reverse); empty: no more pages.
  std::string resume_key;
  std::string start;  // the span [start, end)
  std::string end;
  bool reverse = false;        // rows in descending key order (an ORDER BY … DESC consumed)
  int64_t page_rows = 0;       // the next page's size: small first, for LIMIT and joins
  std::vector<Value> current;  // rows[pos] decoded
  bool decoded = false;
};

// OK if the table this virtual table was declared from is still the session's
// current one (same version); else a retryable error, so that no statement reads or
// writes through a stale declaration.
absl::Status CheckCurrent(Vtab* vtab);

// Reports status as the statement's error (VtabContext::SetError) and in zErrMsg.
int Fail(Vtab* vtab, absl::Status status, int rc = SQLITE_ERROR);

// The smallest key greater than every key that starts with prefix ("" if none).
std::string PrefixEnd(std::string prefix);

int BestIndex(sqlite3_vtab* base, sqlite3_index_info* info);
int Filter(sqlite3_vtab_cursor* base, int idx_num, const char* idx_str, int argc,
           sqlite3_value** argv);
// Moves the cursor to its next row in scan order at or after its position, loading
// pages.
absl::Status Settle(Vtab* vtab, Cursor* cursor);
int Update(sqlite3_vtab* base, int argc, sqlite3_value** argv, sqlite3_int64* rowid);

}  // namespace rangedb::sql::vtab_internal
