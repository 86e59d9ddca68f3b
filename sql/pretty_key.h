// PrettyKey: a key of the key space as a person reads it, for rangedb_ranges
// (sql/introspection.h) and error messages. Display only: lossy, never parsed back.
//
// By region (storage/keys.h draws the key map):
//   ""                  /Min
//   \xff\xff            /Max
//   \x01 ...            /Local/<escaped rest>
//   \x02 <key>          /Meta<PrettyKey(key)>           e.g. /Meta/Max
//   \x03 <name>         /System/<escaped name>          e.g. /System/catalog/
//   \x04                /Table
//   \x04 <table id> <index id> <values...>
//                       /<table name>/<index name>/<value>/<value>...
//                       e.g. /users/primary/42, /users/by_email/'a@b.c'/42
//                       A table or index not in `tables` shows by id: /57/2/...
//   other               "<escaped key>"
// Values are decoded with sql/key_codec.h (each value's tag gives its direction):
// NULL, 42, 1.5, 'text' (escaped; collated text as stored, e.g. folded to lower
// case under NOCASE), x'0aff'. Bytes that do not decode end the key as
// /<escaped rest>. Escaping is absl::CHexEscape (\x04, \", \\, \n...).
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "sql/table_info.h"

namespace rangedb::sql {

using TablesById = std::map<uint64_t, std::shared_ptr<const TableInfo>>;

std::string PrettyKey(absl::string_view key, const TablesById& tables);

}  // namespace rangedb::sql
