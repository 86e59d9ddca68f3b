// Value: one SQL value in one of SQLite's five storage classes (NULL, INTEGER, REAL,
// TEXT, BLOB; https://sqlite.org/datatype3.html §2). The SQL layer moves values
// between SQLite (sqlite3_value / sqlite3_result_*), the key and row encodings
// (sql/key_codec.h, sql/row_codec.h) and the wire (proto/sql.proto) as this type.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace rangedb::sql {

// SQL NULL.
struct Null {
  friend bool operator==(const Null&, const Null&) = default;
};

// A BLOB, as opposed to TEXT (a plain std::string).
struct Blob {
  std::string bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// The alternatives are in storage-class order, so value.index() == StorageClass.
using Value = std::variant<Null, int64_t, double, std::string, Blob>;

enum class StorageClass : uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

inline StorageClass ClassOf(const Value& v) { return static_cast<StorageClass>(v.index()); }
inline bool IsNull(const Value& v) { return std::holds_alternative<Null>(v); }

// A column's collating sequence (https://sqlite.org/datatype3.html §7.1).
enum class Collation : uint8_t { kBinary = 0, kNocase = 1, kRtrim = 2 };

// A column's type affinity (https://sqlite.org/datatype3.html §3).
enum class Affinity : uint8_t { kBlob = 0, kText = 1, kNumeric = 2, kInteger = 3, kReal = 4 };

}  // namespace rangedb::sql
