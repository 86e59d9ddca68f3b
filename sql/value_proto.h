// A SQL value as Protocol Buffers carry it (sqlpb::Value): in descriptors (a column's
// missing value) and on the SQL service's wire (rows, parameters). An unset Value is
// NULL; TEXT travels as bytes, since SQLite's TEXT need not be UTF-8.
#pragma once

#include "proto/sql.pb.h"
#include "sql/value.h"

namespace rangedb::sql {

sqlpb::Value ValueToProto(const Value& v);
Value ValueFromProto(const sqlpb::Value& v);

}  // namespace rangedb::sql
