#include "sql/sqlite_util.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {

Value ValueFromSqlite(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_value_int64(v));
    case SQLITE_FLOAT:
      return sqlite3_value_double(v);
    case SQLITE_TEXT: {
      const unsigned char* text = sqlite3_value_text(v);
      if (text == nullptr) return std::string();  // out of memory converting it
      return std::string(reinterpret_cast<const char*>(text), sqlite3_value_bytes(v));
    }
    case SQLITE_BLOB: {
      const void* blob = sqlite3_value_blob(v);
      const int n = sqlite3_value_bytes(v);
      return Blob{n == 0 ? std::string() : std::string(static_cast<const char*>(blob), n)};
    }
    default:
      return Null{};
  }
}

Value ColumnValue(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      if (text == nullptr) return std::string();  // out of memory converting it
      return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt, i));
    }
    case SQLITE_BLOB: {
      const void* blob = sqlite3_column_blob(stmt, i);
      const int n = sqlite3_column_bytes(stmt, i);
      return Blob{n == 0 ? std::string() : std::string(static_cast<const char*>(blob), n)};
    }
    default:
      return Null{};
  }
}

int BindValue(sqlite3_stmt* stmt, int index, const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return sqlite3_bind_null(stmt, index);
    case StorageClass::kInteger:
      return sqlite3_bind_int64(stmt, index, std::get<int64_t>(v));
    case StorageClass::kReal:
      return sqlite3_bind_double(stmt, index, std::get<double>(v));
    case StorageClass::kText: {
      const std::string& s = std::get<std::string>(v);
      return sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    case StorageClass::kBlob: {
      const std::string& b = std::get<Blob>(v).bytes;
      return sqlite3_bind_blob64(stmt, index, b.data(), b.size(), SQLITE_TRANSIENT);
    }
  }
  return SQLITE_MISUSE;
}

void ResultValue(sqlite3_context* ctx, const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      sqlite3_result_null(ctx);
      return;
    case StorageClass::kInteger:
      sqlite3_result_int64(ctx, std::get<int64_t>(v));
      return;
    case StorageClass::kReal:
      sqlite3_result_double(ctx, std::get<double>(v));
      return;
    case StorageClass::kText: {
      const std::string& s = std::get<std::string>(v);
      sqlite3_result_text64(ctx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return;
    }
    case StorageClass::kBlob: {
      const std::string& b = std::get<Blob>(v).bytes;
      sqlite3_result_blob64(ctx, b.data(), b.size(), SQLITE_TRANSIENT);
      return;
    }
  }
}

absl::Status SqliteError(int rc, absl::string_view message) {
  const char* code = sqlstate::kGenericError;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_NOTNULL:
          code = sqlstate::kNotNullViolation;
          break;
        case SQLITE_CONSTRAINT_CHECK:
          code = sqlstate::kCheckViolation;
          break;
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
          code = sqlstate::kUniqueViolation;
          break;
        default:
          code = "23000";
      }
      break;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      code = sqlstate::kDataException;
      break;
    case SQLITE_INTERRUPT:
      code = sqlstate::kQueryCanceled;
      break;
    case SQLITE_NOMEM:
      code = "53200";
      break;
    case SQLITE_AUTH:
      code = "42501";
      break;
    case SQLITE_ERROR:
      if (absl::StrContains(message, "syntax error") ||
          absl::StrContains(message, "incomplete input") ||
          absl::StrContains(message, "unrecognized token")) {
        code = sqlstate::kSyntaxError;
      } else if (absl::StartsWith(message, "no such table") ||
                 absl::StartsWith(message, "no such view")) {
        code = sqlstate::kUndefinedTable;
      } else if (absl::StartsWith(message, "no such index")) {
        code = sqlstate::kUndefinedObject;
      } else if (absl::StartsWith(message, "no such column")) {
        code = sqlstate::kUndefinedColumn;
      } else if (absl::StrContains(message, "already exists") ||
                 absl::StartsWith(message, "there is already another table or index")) {
        code = sqlstate::kDuplicateTable;  // CREATE, or ALTER TABLE … RENAME TO
      } else if (absl::StartsWith(message, "CHECK constraint failed")) {
        code = sqlstate::kCheckViolation;  // ALTER TABLE ADD COLUMN, on existing rows
      } else if (absl::StartsWith(message, "Cannot add a NOT NULL column")) {
        code = sqlstate::kNotNullViolation;  // ALTER TABLE ADD COLUMN on a table with rows
      } else if (absl::StrContains(message, "duplicate column name")) {
        code = sqlstate::kDuplicateColumn;  // also "error in table t after rename: …"
      } else if (absl::StartsWith(message, "no such function") ||
                 absl::StrContains(message, "wrong number of arguments")) {
        code = "42883";
      } else if (absl::StrContains(message, "cannot start a transaction within a transaction")) {
        code = sqlstate::kActiveTransaction;
      } else if (absl::StrContains(message, "no transaction is active")) {
        code = sqlstate::kNoActiveTransaction;
      } else if (absl::StartsWith(message, "no such savepoint")) {
        code = "3B001";
      } else {
        code = "42000";
      }
      break;
    default:
      break;
  }
  return SqlError(code, message);
}

absl::Status SqliteError(sqlite3* db) {
  return WithPosition(SqliteError(sqlite3_extended_errcode(db), sqlite3_errmsg(db)),
                      sqlite3_error_offset(db) + 1);
}

absl::StatusOr<Db> OpenMemoryDb() {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      ":memory:", &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_MEMORY,
      nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("cannot open an in-memory SQLite database: ", sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

absl::StatusOr<Stmt> Prepare(sqlite3* db, absl::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return SqliteError(db);
  return stmt;
}

absl::Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(sqlite3_extended_errcode(db), err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

}  // namespace rangedb::sql
