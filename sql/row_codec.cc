#include "sql/row_codec.h"

#include "base/check.h"
#include "storage/value_encoding.h"

namespace rangedb::sql {
namespace {

// sql::Value and storage's SqlValue have the same alternatives in the same order
// (storage class == type code); only the NULL and BLOB wrappers differ.
SqlValue ToStorage(const Value& value) {
  switch (ClassOf(value)) {
    case StorageClass::kNull:
      return NullDatum{};
    case StorageClass::kInteger:
      return std::get<int64_t>(value);
    case StorageClass::kReal:
      return std::get<double>(value);
    case StorageClass::kText:
      return std::get<std::string>(value);
    case StorageClass::kBlob:
      return BytesDatum{std::get<Blob>(value).bytes};
  }
  RANGEDB_FATAL() << "unknown storage class " << value.index();
}

Value FromStorage(SqlValue value) {
  switch (static_cast<SqlType>(value.index())) {
    case SqlType::kNull:
      return Null{};
    case SqlType::kInteger:
      return std::get<int64_t>(value);
    case SqlType::kReal:
      return std::get<double>(value);
    case SqlType::kText:
      return std::get<std::string>(std::move(value));
    case SqlType::kBlob:
      return Blob{std::get<BytesDatum>(std::move(value)).bytes};
  }
  RANGEDB_FATAL() << "unknown SQL type " << value.index();
}

}  // namespace

void EncodeRow(const std::vector<std::pair<uint32_t, Value>>& columns, std::string* dst,
               NullColumns nulls) {
  std::vector<ColumnValue> present;
  present.reserve(columns.size());
  uint32_t previous_id = 0;
  for (const auto& [id, value] : columns) {
    RANGEDB_CHECK_GT(id, previous_id) << "row column ids must be >= 1 and strictly increase";
    previous_id = id;
    if (!IsNull(value) || nulls == NullColumns::kWrite)
      present.push_back(ColumnValue{id, ToStorage(value)});
  }
  absl::StatusOr<std::string> row = rangedb::EncodeRow(present);
  // It fails only on the id order checked above.
  RANGEDB_CHECK(row.ok()) << row.status();
  *dst = *std::move(row);
}

absl::StatusOr<std::vector<std::pair<uint32_t, Value>>> DecodeRow(absl::string_view row) {
  absl::StatusOr<std::vector<ColumnValue>> stored = rangedb::DecodeRow(row);
  if (!stored.ok()) return stored.status();
  std::vector<std::pair<uint32_t, Value>> columns;
  columns.reserve(stored->size());
  for (ColumnValue& column : *stored) {
    columns.emplace_back(column.column_id, FromStorage(std::move(column.value)));
  }
  return columns;
}

}  // namespace rangedb::sql
