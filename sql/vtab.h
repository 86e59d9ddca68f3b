// The `rangedb` SQLite virtual-table module: every rangedb table, as SQLite sees it
// in a session's connection (docs/design/sql.md, docs/sql.md).
//
//   CREATE VIRTUAL TABLE main."t" USING rangedb(<table id>)
//
// declares the table from its descriptor (TableInfo::declaration(): a WITHOUT ROWID
// table keyed by a hidden column holding the encoded primary key). The module reads
// and writes rows only through the VtabContext the connection was registered with.
//
// Planning (xBestIndex; vtab_internal.h's PlanCode says what it hands xFilter):
// for the primary key and each secondary index, equality (`=`, an IN list, IS NULL)
// on a prefix of the key's columns, then one lower and/or upper bound or a LIKE/GLOB
// prefix on the next, become key spans (point reads when every column of a unique
// key is fixed: an IN list's keys in one GetMany). A constraint is used only where
// the key order answers it for every value SQLite might compare (same collation as
// the column; affinity handled in xFilter, which widens the span when a value's
// affinity cannot be known). SQLite still checks every constraint (omit is never
// set), so a wider span costs time, never correctness. idxStr names what was used,
// for EXPLAIN QUERY PLAN, e.g. "PRIMARY KEY (id IN ?)" or "FULL SCAN".
//
// Writes (xUpdate): the row is normalized by SQLite itself (ShadowSchema::
// NormalizeRow: affinity, defaults, NOT NULL, CHECK), the primary key checked for
// uniqueness by a transactional read, and written to the session's write set. ON
// CONFLICT modes per sqlite3_vtab_on_conflict (SQLITE_VTAB_CONSTRAINT_SUPPORT).
//
// Destroying the virtual table (the session redeclaring its schema) never touches
// stored data: data is removed only by DROP TABLE through the catalog.
#pragma once

#include "absl/status/status.h"
#include "sql/vtab_context.h"
#include "sqlite3.h"

namespace rangedb::sql {

inline constexpr char kModuleName[] = "rangedb";

// Registers the module on db. REQUIRES: context outlives db.
[[nodiscard]] absl::Status RegisterModule(sqlite3* db, VtabContext* context);

}  // namespace rangedb::sql
