#include "sql/introspection_vtab.h"

#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {
namespace {

struct Table : sqlite3_vtab {
  const IntrospectionTableSpec* spec = nullptr;  // the module's client data
};

struct Cursor : sqlite3_vtab_cursor {
  std::vector<std::vector<Value>> rows;  // computed by xFilter
  size_t pos = 0;
};

// Reports status in zErrMsg and to the spec's on_error; returns SQLITE_ERROR.
int Fail(Table* table, absl::Status status) {
  sqlite3_free(table->zErrMsg);
  table->zErrMsg = sqlite3_mprintf("%s", std::string(status.message()).c_str());
  if (table->spec->on_error) table->spec->on_error(std::move(status));
  return SQLITE_ERROR;
}

// xConnect (there is no xCreate: eponymous-only). aux is the spec.
int Connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char** err) {
  const auto* spec = static_cast<const IntrospectionTableSpec*>(aux);
  if (int rc = sqlite3_declare_vtab(db, spec->declaration.c_str()); rc != SQLITE_OK) {
    *err = sqlite3_mprintf("cannot declare %s: %s", spec->name.c_str(), sqlite3_errmsg(db));
    return rc;
  }
  auto* table = new Table();
  table->spec = spec;
  *out = table;
  return SQLITE_OK;
}

int Disconnect(sqlite3_vtab* base) {
  delete static_cast<Table*>(base);
  return SQLITE_OK;
}

// Always a full scan: the constraints stay with SQLite (omit is never set).
int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 1000;
  info->estimatedRows = 100;
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

// Computes the rows once per scan and checks their shape.
int Filter(sqlite3_vtab_cursor* base, int, const char*, int, sqlite3_value**) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* table = static_cast<Table*>(base->pVtab);
  cursor->rows.clear();
  cursor->pos = 0;
  absl::StatusOr<std::vector<std::vector<Value>>> rows = table->spec->rows();
  if (!rows.ok()) return Fail(table, rows.status());
  if (rows->size() > kMaxIntrospectionRows) {
    return Fail(table, SqlError(sqlstate::kProgramLimitExceeded,
                                absl::StrCat(table->spec->name, " has more than ",
                                             kMaxIntrospectionRows, " rows")));
  }
  cursor->rows = std::move(*rows);
  return SQLITE_OK;
}

int Next(sqlite3_vtab_cursor* base) {
  ++static_cast<Cursor*>(base)->pos;
  return SQLITE_OK;
}

int Eof(sqlite3_vtab_cursor* base) {
  auto* cursor = static_cast<Cursor*>(base);
  return cursor->pos >= cursor->rows.size();
}

int Column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int i) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* table = static_cast<Table*>(base->pVtab);
  RANGEDB_DCHECK(cursor->pos < cursor->rows.size());
  const std::vector<Value>& row = cursor->rows[cursor->pos];
  if (i < 0 || static_cast<size_t>(i) >= row.size()) {
    return Fail(table, SqlError(sqlstate::kInternalError,
                                absl::StrCat(table->spec->name, ": a row has ", row.size(),
                                             " values, column ", i, " was asked for")));
  }
  ResultValue(ctx, row[i]);
  return SQLITE_OK;
}

int Rowid(sqlite3_vtab_cursor* base, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(static_cast<Cursor*>(base)->pos);
  return SQLITE_OK;
}

sqlite3_module MakeModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof(m));
  m.iVersion = 1;
  m.xCreate = nullptr;  // eponymous-only
  m.xConnect = Connect;
  m.xBestIndex = BestIndex;
  m.xDisconnect = Disconnect;
  m.xDestroy = nullptr;
  m.xOpen = Open;
  m.xClose = Close;
  m.xFilter = Filter;
  m.xNext = Next;
  m.xEof = Eof;
  m.xColumn = Column;
  m.xRowid = Rowid;
  m.xUpdate = nullptr;  // read-only: SQLite refuses writes when preparing them
  return m;
}

const sqlite3_module kModule = MakeModule();

}  // namespace

absl::Status RegisterIntrospectionTable(sqlite3* db, IntrospectionTableSpec spec) {
  RANGEDB_CHECK(spec.rows != nullptr) << spec.name;
  auto owned = std::make_unique<IntrospectionTableSpec>(std::move(spec));
  const std::string name = owned->name;
  // SQLite owns the spec from here on, also when registration fails (it calls the
  // destructor then).
  const int rc = sqlite3_create_module_v2(db, name.c_str(), &kModule, owned.release(), [](void* p) {
    delete static_cast<IntrospectionTableSpec*>(p);
  });
  if (rc != SQLITE_OK) return SqliteError(db);
  return absl::OkStatus();
}

}  // namespace rangedb::sql
