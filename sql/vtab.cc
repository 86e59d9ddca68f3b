#include "sql/vtab.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "sql/affinity.h"
#include "sql/key_codec.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {
namespace {

struct Vtab : sqlite3_vtab {
  VtabContext* context = nullptr;
  sqlite3* db = nullptr;
  std::shared_ptr<const TableInfo> table;
};

struct Cursor : sqlite3_vtab_cursor {
  std::vector<kv::KeyValue> rows;  // the current page
  size_t pos = 0;
  std::string resume_key;  // where the next page starts; empty: no more pages
  std::string end;
  std::vector<Value> current;  // rows[pos] decoded
  bool decoded = false;
};

// The plan in idxNum: bits 0-7 the number of leading key columns fixed by
// equality; bits 8-9 the lower bound's op on the next (0 none, 1 >, 2 >=); bits
// 10-11 the upper bound's (0 none, 1 <, 2 <=).
constexpr int kLowerShift = 8;
constexpr int kUpperShift = 10;
enum BoundOp { kNoBound = 0, kStrict = 1, kInclusive = 2 };

// The smallest key greater than every key that starts with prefix.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // empty: no bound
}

int Fail(Vtab* vtab, absl::Status status, int rc = SQLITE_ERROR) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", std::string(status.message()).c_str());
  vtab->context->SetError(std::move(status));
  return rc;
}

int Connect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
            char** err) {
  auto* context = static_cast<VtabContext*>(aux);
  uint64_t id = 0;
  if (argc < 4 || !absl::SimpleAtoi(argv[3], &id)) {
    *err = sqlite3_mprintf("rangedb virtual table needs a table id");
    return SQLITE_ERROR;
  }
  std::shared_ptr<const TableInfo> table = context->Table(id);
  if (table == nullptr) {
    *err = sqlite3_mprintf("no rangedb table with id %llu", static_cast<unsigned long long>(id));
    return SQLITE_ERROR;
  }
  if (int rc = sqlite3_declare_vtab(db, table->declaration().c_str()); rc != SQLITE_OK) {
    *err = sqlite3_mprintf("cannot declare table %s: %s", table->name().c_str(), sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  auto* vtab = new Vtab();
  vtab->context = context;
  vtab->db = db;
  vtab->table = std::move(table);
  *out = vtab;
  return SQLITE_OK;
}

int Disconnect(sqlite3_vtab* base) {
  delete static_cast<Vtab*>(base);
  return SQLITE_OK;
}

bool SameCollation(sqlite3_index_info* info, int constraint, Collation column) {
  const char* name = sqlite3_vtab_collation(info, constraint);
  absl::StatusOr<Collation> c = CollationByName(name ? name : "BINARY");
  return c.ok() && *c == column;
}

int BestIndex(sqlite3_vtab* base, sqlite3_index_info* info) {
  auto* vtab = static_cast<Vtab*>(base);
  const TableInfo& table = *vtab->table;
  const double rows =
      table.desc().row_count_estimate() > 0 ? table.desc().row_count_estimate() : 100000.0;
  int argv_index = 0;
  int n_eq = 0;
  int lower = kNoBound, upper = kNoBound;
  std::vector<std::string> used;
  for (size_t k = 0; k < table.pk_columns().size(); ++k) {
    const int pos = table.pk_columns()[k];
    const int vcol = pos + 1;
    int eq = -1, lo = -1, hi = -1;
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (!c.usable || c.iColumn != vcol || !SameCollation(info, i, table.collation(pos))) continue;
      switch (c.op) {
        case SQLITE_INDEX_CONSTRAINT_EQ:
          if (eq < 0) eq = i;
          break;
        case SQLITE_INDEX_CONSTRAINT_GT:
        case SQLITE_INDEX_CONSTRAINT_GE:
          if (lo < 0) lo = i;
          break;
        case SQLITE_INDEX_CONSTRAINT_LT:
        case SQLITE_INDEX_CONSTRAINT_LE:
          if (hi < 0) hi = i;
          break;
        default:
          break;
      }
    }
    const std::string& name = table.column(pos).name();
    if (eq >= 0) {
      info->aConstraintUsage[eq].argvIndex = ++argv_index;
      used.push_back(absl::StrCat(name, "=?"));
      ++n_eq;
      continue;
    }
    if (lo >= 0) {
      info->aConstraintUsage[lo].argvIndex = ++argv_index;
      lower = info->aConstraint[lo].op == SQLITE_INDEX_CONSTRAINT_GT ? kStrict : kInclusive;
      used.push_back(absl::StrCat(name, lower == kStrict ? ">?" : ">=?"));
    }
    if (hi >= 0) {
      info->aConstraintUsage[hi].argvIndex = ++argv_index;
      upper = info->aConstraint[hi].op == SQLITE_INDEX_CONSTRAINT_LT ? kStrict : kInclusive;
      used.push_back(absl::StrCat(name, upper == kStrict ? "<?" : "<=?"));
    }
    break;
  }
  info->idxNum = n_eq | (lower << kLowerShift) | (upper << kUpperShift);
  const bool point = n_eq == static_cast<int>(table.pk_columns().size());
  double estimate = rows;
  if (point) {
    estimate = 1;
    info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  } else {
    for (int i = 0; i < n_eq; ++i) estimate /= 10;
    if (lower != kNoBound) estimate /= 3;
    if (upper != kNoBound) estimate /= 3;
  }
  info->estimatedRows = static_cast<sqlite3_int64>(std::max(1.0, estimate));
  // Cost in round trips and rows: one round trip per page of rows.
  info->estimatedCost = 1 + std::max(1.0, estimate) / 100.0;
  const std::string plan =
      used.empty() ? std::string("FULL SCAN") : absl::StrCat("PRIMARY KEY (", absl::StrJoin(used, ", "), ")");
  info->idxStr = sqlite3_mprintf("%s", plan.c_str());
  info->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

int Open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = new Cursor();
  return SQLITE_OK;
}

int Close(sqlite3_vtab_cursor* base) {
  delete static_cast<Cursor*>(base);
  return SQLITE_OK;
}

// The value a constraint compares with, as the key stores it; nullopt when the
// column's key order cannot answer for it (the span is then widened).
std::optional<Value> KeyValueFor(const TableInfo& table, int pos, Value v) {
  switch (table.affinity(pos)) {
    case Affinity::kInteger:
    case Affinity::kReal:
    case Affinity::kNumeric:
      // SQLite applies NUMERIC affinity to the other operand of a comparison with a
      // numeric column (datatype3.html §4.2).
      return ApplyAffinity(Affinity::kNumeric, std::move(v));
    case Affinity::kText:
    case Affinity::kBlob:
      // A number here may come from a numeric column, and then SQLite compares the
      // column's values as numbers ('5' = 5): the key order cannot answer that.
      if (ClassOf(v) == StorageClass::kInteger || ClassOf(v) == StorageClass::kReal) return std::nullopt;
      return v;
  }
  return std::nullopt;
}

absl::Status LoadPage(Vtab* vtab, Cursor* cursor, absl::string_view start) {
  absl::StatusOr<ScanPage> page = vtab->context->Scan(start, cursor->end, kv::kScanPageRows);
  if (!page.ok()) return page.status();
  cursor->rows = std::move(page->rows);
  cursor->resume_key = std::move(page->resume_key);
  cursor->pos = 0;
  cursor->decoded = false;
  return absl::OkStatus();
}

// Moves to the first row at or after the cursor's position, loading pages as needed.
absl::Status Settle(Vtab* vtab, Cursor* cursor) {
  while (cursor->pos >= cursor->rows.size() && !cursor->resume_key.empty()) {
    const std::string start = cursor->resume_key;
    if (absl::Status s = LoadPage(vtab, cursor, start); !s.ok()) return s;
  }
  return absl::OkStatus();
}

int Filter(sqlite3_vtab_cursor* base, int idx_num, const char*, int argc, sqlite3_value** argv) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* vtab = static_cast<Vtab*>(base->pVtab);
  const TableInfo& table = *vtab->table;
  cursor->rows.clear();
  cursor->resume_key.clear();
  cursor->pos = 0;
  cursor->decoded = false;
  const int n_eq = idx_num & 0xff;
  const int lower = (idx_num >> kLowerShift) & 3;
  const int upper = (idx_num >> kUpperShift) & 3;
  std::string prefix = table.rows_start();
  int arg = 0;
  bool widened = false;
  for (int k = 0; k < n_eq && arg < argc; ++k, ++arg) {
    Value v = ValueFromSqlite(argv[arg]);
    if (IsNull(v)) return SQLITE_OK;  // "= NULL" is never true
    std::optional<Value> kv = KeyValueFor(table, table.pk_columns()[k], std::move(v));
    if (!kv) {
      widened = true;
      break;
    }
    table.AppendPkColumnKey(&prefix, k, *kv);
  }
  std::string start = prefix;
  std::string end = prefix == table.rows_start() ? table.rows_end() : PrefixEnd(prefix);
  if (!widened && n_eq == static_cast<int>(table.pk_columns().size())) {
    absl::StatusOr<std::optional<std::string>> value = vtab->context->Get(prefix);
    if (!value.ok()) return Fail(vtab, value.status());
    if (value->has_value()) cursor->rows.push_back(kv::KeyValue{prefix, std::move(**value)});
    return SQLITE_OK;
  }
  if (!widened && n_eq < static_cast<int>(table.pk_columns().size())) {
    const int pos = table.pk_columns()[n_eq];
    auto bound = [&](int op, bool is_lower) -> std::optional<bool> {  // false: empty result
      if (op == kNoBound || arg >= argc) return true;
      Value v = ValueFromSqlite(argv[arg++]);
      if (IsNull(v)) return false;  // a comparison with NULL is never true
      std::optional<Value> kv = KeyValueFor(table, pos, std::move(v));
      if (!kv) return true;  // cannot narrow: leave this side open
      std::string key = prefix;
      table.AppendPkColumnKey(&key, n_eq, *kv);
      if (is_lower) {
        start = op == kStrict ? PrefixEnd(key) : key;
      } else {
        end = op == kStrict ? key : PrefixEnd(key);
      }
      return true;
    };
    if (!*bound(lower, true) || !*bound(upper, false)) return SQLITE_OK;
  }
  if (start >= end) return SQLITE_OK;
  cursor->end = end;
  if (absl::Status s = LoadPage(vtab, cursor, start); !s.ok()) return Fail(vtab, s);
  if (absl::Status s = Settle(vtab, cursor); !s.ok()) return Fail(vtab, s);
  return SQLITE_OK;
}

int Next(sqlite3_vtab_cursor* base) {
  auto* cursor = static_cast<Cursor*>(base);
  ++cursor->pos;
  cursor->decoded = false;
  if (absl::Status s = Settle(static_cast<Vtab*>(base->pVtab), cursor); !s.ok()) {
    return Fail(static_cast<Vtab*>(base->pVtab), s);
  }
  return SQLITE_OK;
}

int Eof(sqlite3_vtab_cursor* base) {
  auto* cursor = static_cast<Cursor*>(base);
  return cursor->pos >= cursor->rows.size();
}

int Column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int i) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* vtab = static_cast<Vtab*>(base->pVtab);
  const kv::KeyValue& row = cursor->rows[cursor->pos];
  if (i == 0) {
    sqlite3_result_blob64(ctx, row.key.data(), row.key.size(), SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if (!cursor->decoded) {
    absl::StatusOr<std::vector<Value>> decoded = vtab->table->DecodeRow(row.value);
    if (!decoded.ok()) return Fail(vtab, decoded.status());
    cursor->current = std::move(*decoded);
    cursor->decoded = true;
  }
  if (i - 1 < static_cast<int>(cursor->current.size())) ResultValue(ctx, cursor->current[i - 1]);
  return SQLITE_OK;
}

int Rowid(sqlite3_vtab_cursor* base, sqlite3_int64* rowid) {
  // A WITHOUT ROWID virtual table: SQLite never asks. Answer the position anyway.
  *rowid = static_cast<sqlite3_int64>(static_cast<Cursor*>(base)->pos);
  return SQLITE_OK;
}

ConflictMode ModeOf(sqlite3* db) {
  switch (sqlite3_vtab_on_conflict(db)) {
    case SQLITE_ROLLBACK:
      return ConflictMode::kRollback;
    case SQLITE_IGNORE:
      return ConflictMode::kIgnore;
    case SQLITE_FAIL:
      return ConflictMode::kFail;
    case SQLITE_REPLACE:
      return ConflictMode::kReplace;
    default:
      return ConflictMode::kAbort;
  }
}

// A new value for an INTEGER PRIMARY KEY given as NULL: one more than the largest.
absl::StatusOr<int64_t> NextRowidAlias(Vtab* vtab) {
  const TableInfo& table = *vtab->table;
  absl::StatusOr<std::optional<kv::KeyValue>> last =
      vtab->context->Last(table.rows_start(), table.rows_end());
  if (!last.ok()) return last.status();
  if (!last->has_value()) return 1;
  absl::StatusOr<std::vector<Value>> row = table.DecodeRow((*last)->value);
  if (!row.ok()) return row.status();
  const Value& v = (*row)[table.rowid_column()];
  if (ClassOf(v) != StorageClass::kInteger) return 1;
  const int64_t max = std::get<int64_t>(v);
  if (max == INT64_MAX) {
    return SqlError("13000", "database or disk is full: no integer primary key is left above the largest");
  }
  return max + 1;
}

std::string ConstraintName(const TableInfo& table, const std::vector<int>& positions) {
  std::vector<std::string> names;
  for (int pos : positions) names.push_back(absl::StrCat(table.name(), ".", table.column(pos).name()));
  return absl::StrJoin(names, ", ");
}

// Writes one row (an INSERT when old_key is null). Returns an SQLite code.
int WriteRow(Vtab* vtab, const std::string* old_key, std::vector<Value> row, std::vector<bool> named) {
  VtabContext& context = *vtab->context;
  const TableInfo& table = *vtab->table;
  const ConflictMode mode = ModeOf(vtab->db);
  const int rowid = table.rowid_column();
  if (rowid >= 0 && IsNull(row[rowid])) {
    if (table.has_hidden_rowid()) {
      row[rowid] = context.NewRowId();
    } else {
      absl::StatusOr<int64_t> next = NextRowidAlias(vtab);
      if (!next.ok()) return Fail(vtab, next.status());
      row[rowid] = *next;
    }
    named[rowid] = true;
  }
  absl::StatusOr<std::vector<Value>> normalized = context.NormalizeRow(table, row, named);
  if (!normalized.ok()) {
    if (absl::StartsWith(SqlStateOf(normalized.status()), "23")) {
      context.NoteConflict(mode);
      if (mode == ConflictMode::kIgnore) return SQLITE_CONSTRAINT;
      return Fail(vtab, normalized.status(), SQLITE_CONSTRAINT);
    }
    return Fail(vtab, normalized.status());
  }
  row = std::move(*normalized);
  for (int pos : table.pk_columns()) {
    if (IsNull(row[pos])) {
      context.NoteConflict(mode);
      if (mode == ConflictMode::kIgnore) return SQLITE_CONSTRAINT;
      return Fail(vtab,
                  SqlError(sqlstate::kNotNullViolation,
                           absl::StrCat("NOT NULL constraint failed: ", ConstraintName(table, {pos}))),
                  SQLITE_CONSTRAINT);
    }
  }
  const std::string key = table.RowKey(row);
  if (old_key == nullptr || *old_key != key) {
    absl::StatusOr<std::optional<std::string>> existing = context.Get(key);
    if (!existing.ok()) return Fail(vtab, existing.status());
    if (existing->has_value()) {
      if (mode != ConflictMode::kReplace) {
        context.NoteConflict(mode);
        if (mode == ConflictMode::kIgnore) return SQLITE_CONSTRAINT;
        return Fail(vtab,
                    SqlError(sqlstate::kUniqueViolation,
                             absl::StrCat("UNIQUE constraint failed: ",
                                          ConstraintName(table, table.pk_columns()))),
                    SQLITE_CONSTRAINT);
      }
      // OR REPLACE: the row in the way goes first (the Put below overwrites it).
    }
    if (old_key != nullptr) {
      if (absl::Status s = context.Delete(*old_key); !s.ok()) return Fail(vtab, s);
    }
  }
  if (absl::Status s = context.Put(key, table.EncodeRow(row)); !s.ok()) return Fail(vtab, s);
  return SQLITE_OK;
}

int Update(sqlite3_vtab* base, int argc, sqlite3_value** argv, sqlite3_int64*) {
  auto* vtab = static_cast<Vtab*>(base);
  const TableInfo& table = *vtab->table;
  if (argc == 1) {  // DELETE
    const Value key = ValueFromSqlite(argv[0]);
    if (ClassOf(key) != StorageClass::kBlob) return SQLITE_OK;
    if (absl::Status s = vtab->context->Delete(std::get<Blob>(key).bytes); !s.ok()) return Fail(vtab, s);
    return SQLITE_OK;
  }
  RANGEDB_CHECK_EQ(argc, table.num_columns() + 3);
  std::vector<Value> row;
  row.reserve(table.num_columns());
  for (int i = 0; i < table.num_columns(); ++i) row.push_back(ValueFromSqlite(argv[3 + i]));
  const Value old = ValueFromSqlite(argv[0]);
  if (IsNull(old)) {  // INSERT
    if (sqlite3_value_type(argv[2]) != SQLITE_NULL) {
      return Fail(vtab, SqlError(sqlstate::kFeatureNotSupported,
                                 absl::StrCat("cannot write the hidden column ", kKeyColumnName)));
    }
    return WriteRow(vtab, nullptr, std::move(row), vtab->context->InsertedColumns(table));
  }
  if (ClassOf(old) != StorageClass::kBlob) {
    return Fail(vtab, SqlError(sqlstate::kInternalError, "an UPDATE without the row's key"));
  }
  const std::string old_key = std::get<Blob>(old).bytes;
  return WriteRow(vtab, &old_key, std::move(row), std::vector<bool>(table.num_columns(), true));
}

int Begin(sqlite3_vtab*) { return SQLITE_OK; }

int Sync(sqlite3_vtab* base) {
  auto* vtab = static_cast<Vtab*>(base);
  if (absl::Status s = vtab->context->Commit(); !s.ok()) {
    // BUSY_SNAPSHOT, never plain BUSY: SQLite then rolls its transaction back
    // instead of leaving it open for a retry of the COMMIT (issue 16's facts).
    const int rc = SqlStateOf(s) == sqlstate::kSerializationFailure ? SQLITE_BUSY_SNAPSHOT : SQLITE_ERROR;
    return Fail(vtab, s, rc);
  }
  return SQLITE_OK;
}

int Commit(sqlite3_vtab*) { return SQLITE_OK; }

int Rollback(sqlite3_vtab* base) {
  static_cast<Vtab*>(base)->context->Rollback();
  return SQLITE_OK;
}

sqlite3_module MakeModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof(m));
  m.iVersion = 1;
  m.xCreate = Connect;
  m.xConnect = Connect;
  m.xBestIndex = BestIndex;
  m.xDisconnect = Disconnect;
  m.xDestroy = Disconnect;  // never removes data (see the header)
  m.xOpen = Open;
  m.xClose = Close;
  m.xFilter = Filter;
  m.xNext = Next;
  m.xEof = Eof;
  m.xColumn = Column;
  m.xRowid = Rowid;
  m.xUpdate = Update;
  m.xBegin = Begin;
  m.xSync = Sync;
  m.xCommit = Commit;
  m.xRollback = Rollback;
  return m;
}

const sqlite3_module kModule = MakeModule();

}  // namespace

absl::Status RegisterModule(sqlite3* db, VtabContext* context) {
  if (sqlite3_create_module_v2(db, kModuleName, &kModule, context, nullptr) != SQLITE_OK) {
    return SqliteError(db);
  }
  return absl::OkStatus();
}

}  // namespace rangedb::sql
