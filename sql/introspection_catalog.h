// The catalog's introspection tables, rangedb_tables and rangedb_indexes
// (docs/sql.md "Introspection tables"): their columns and their rows, computed from
// the tables of the schema a statement runs under (the session's, loaded for its
// transaction: docs/design/sql.md "Catalog").
//
//   rangedb_tables(table_id INTEGER, name TEXT, columns INTEGER,
//                  primary_key TEXT, indexes INTEGER, version INTEGER,
//                  create_sql TEXT)
//     columns:     the user's columns (a hidden rowid is not one)
//     primary_key: its column names, "a, b" ("rowid" for a table without one)
//     indexes:     secondary indexes, backfilling ones included
//     version:     the descriptor's version, bumped by every change to the table
//   rangedb_indexes(table_id INTEGER, table_name TEXT, index_id INTEGER,
//                   index_name TEXT, is_primary INTEGER, is_unique INTEGER,
//                   columns TEXT, state TEXT)
//     one row for the primary index ("primary") and one per secondary index;
//     columns: "a, b DESC"; state: PUBLIC or BACKFILL
//
// Rows come ordered by table id, then index id. Views are not tables: not listed.
//
// Thread safety: pure functions.
#pragma once

#include <vector>

#include "sql/pretty_key.h"
#include "sql/value.h"

namespace rangedb::sql {

inline constexpr char kTablesTableName[] = "rangedb_tables";
inline constexpr char kIndexesTableName[] = "rangedb_indexes";
extern const char kTablesDeclaration[];
extern const char kIndexesDeclaration[];

std::vector<std::vector<Value>> TablesRows(const TablesById& tables);
std::vector<std::vector<Value>> IndexesRows(const TablesById& tables);

}  // namespace rangedb::sql
