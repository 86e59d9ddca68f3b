#include "sql/vtab.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"
#include "sql/vtab_internal.h"

namespace rangedb::sql {
namespace vtab_internal {

int Fail(Vtab* vtab, absl::Status status, int rc) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", std::string(status.message()).c_str());
  vtab->context->SetError(std::move(status));
  return rc;
}

absl::Status CheckCurrent(Vtab* vtab) {
  std::shared_ptr<const TableInfo> current = vtab->context->Table(vtab->table->id());
  if (current == nullptr || current->desc().version() != vtab->table->desc().version()) {
    return SqlError(sqlstate::kSerializationFailure,
                    absl::StrCat("restart transaction: table ", vtab->table->name(),
                                 " changed under this statement"));
  }
  return absl::OkStatus();
}

std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

}  // namespace vtab_internal

namespace {

using vtab_internal::Cursor;
using vtab_internal::Fail;
using vtab_internal::Vtab;

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
    *err =
        sqlite3_mprintf("cannot declare table %s: %s", table->name().c_str(), sqlite3_errmsg(db));
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

int Open(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = new Cursor();
  return SQLITE_OK;
}

int Close(sqlite3_vtab_cursor* base) {
  delete static_cast<Cursor*>(base);
  return SQLITE_OK;
}

int Next(sqlite3_vtab_cursor* base) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* vtab = static_cast<Vtab*>(base->pVtab);
  ++cursor->pos;
  cursor->decoded = false;
  if (absl::Status s = vtab_internal::Settle(vtab, cursor); !s.ok()) return Fail(vtab, s);
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
  if (!cursor->decoded && cursor->pos < cursor->entry_values.size() &&
      !cursor->entry_values[cursor->pos].empty()) {
    // Index-only: the columns decoded from the entry (a table has a column).
    cursor->current = std::move(cursor->entry_values[cursor->pos]);
    cursor->decoded = true;
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

int Begin(sqlite3_vtab*) { return SQLITE_OK; }

int Sync(sqlite3_vtab* base) {
  auto* vtab = static_cast<Vtab*>(base);
  if (absl::Status s = vtab->context->Commit(); !s.ok()) {
    // BUSY_SNAPSHOT, never plain BUSY: SQLite then rolls its transaction back
    // instead of leaving it open for a retry of the COMMIT (issue 16's facts).
    const int rc =
        SqlStateOf(s) == sqlstate::kSerializationFailure ? SQLITE_BUSY_SNAPSHOT : SQLITE_ERROR;
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
  m.xBestIndex = vtab_internal::BestIndex;
  m.xDisconnect = Disconnect;
  m.xDestroy = Disconnect;  // never removes data (see the header)
  m.xOpen = Open;
  m.xClose = Close;
  m.xFilter = vtab_internal::Filter;
  m.xNext = Next;
  m.xEof = Eof;
  m.xColumn = Column;
  m.xRowid = Rowid;
  m.xUpdate = vtab_internal::Update;
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
