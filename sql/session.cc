#include "sql/session.h"

#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/check.h"
#include "base/kv_api.h"
#include "base/limits.h"
#include "base/random.h"
#include "sql/catalog.h"
#include "sql/introspection.h"
#include "sql/row_id.h"
#include "sql/sqlstate.h"
#include "sql/statement_text.h"
#include "sql/vtab.h"
#include "sql/vtab_in_slice.h"

namespace rangedb::sql {
namespace {

bool IsDdlKeyword(absl::string_view kw) { return kw == "CREATE" || kw == "DROP" || kw == "ALTER"; }

std::string CommandTag(absl::string_view keyword, sqlite3_stmt* stmt) {
  if (keyword == "INSERT" || keyword == "REPLACE") return "INSERT";
  if (keyword == "UPDATE" || keyword == "DELETE" || keyword == "BEGIN" || keyword == "SAVEPOINT" ||
      keyword == "RELEASE" || keyword == "ROLLBACK" || keyword == "PRAGMA" ||
      keyword == "EXPLAIN") {
    return std::string(keyword);
  }
  if (keyword == "COMMIT" || keyword == "END") return "COMMIT";
  if (stmt != nullptr && sqlite3_column_count(stmt) > 0) return "SELECT";
  return std::string(keyword);
}

}  // namespace

absl::Status MapKvError(const absl::Status& status) {
  if (status.GetPayload(kSqlStatePayloadUrl).has_value()) return status;
  if (txn::IsRetryable(status)) {
    return SqlError(sqlstate::kSerializationFailure,
                    absl::StrCat("restart transaction: ", status.message()));
  }
  if (kv::IsAmbiguous(status)) {
    return SqlError(sqlstate::kAmbiguousCommit,
                    absl::StrCat("result is ambiguous (the transaction may or may not have "
                                 "committed): ",
                                 status.message()));
  }
  return status;
}

Session::Session(SessionOptions options)
    : options_(std::move(options)),
      rowid_shard_(static_cast<int>(FastRandom() % kRowIdShards)),
      write_set_(options_.txn_options.max_write_bytes) {}

Session::~Session() { Close(); }

absl::StatusOr<std::unique_ptr<Session>> Session::Open(SessionOptions options) {
  RANGEDB_CHECK(options.sender != nullptr);
  std::unique_ptr<Session> session(new Session(std::move(options)));
  if (absl::Status s = session->Init(); !s.ok()) return s;
  return session;
}

absl::Status Session::Init() {
  absl::StatusOr<Db> db = OpenMemoryDb();
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  absl::StatusOr<std::unique_ptr<ShadowSchema>> shadow = ShadowSchema::Open();
  if (!shadow.ok()) return shadow.status();
  shadow_ = std::move(*shadow);
  if (absl::Status s = RegisterModule(db_.get(), this); !s.ok()) return s;
  // The introspection tables read tables_: the schema loaded for the statement's
  // transaction, the one the statement itself runs under.
  if (absl::Status s = RegisterIntrospection(
          db_.get(), {.tables = [this]() -> const TablesById& { return tables_; },
                      .cluster_info = options_.cluster_info,
                      .on_error = [this](absl::Status e) { SetError(std::move(e)); }});
      !s.ok()) {
    return s;
  }
  sqlite3_set_authorizer(db_.get(), &Session::Authorize, this);
  return absl::OkStatus();
}

void Session::Close() {
  if (txn_ != nullptr) RollbackKv();
  CloseKvTxn();
  if (db_ != nullptr && !sqlite3_get_autocommit(db_.get())) {
    internal_ = true;
    (void)Exec(db_.get(), "ROLLBACK");
    internal_ = false;
  }
}

bool Session::in_transaction() const { return !sqlite3_get_autocommit(db_.get()); }

void Session::Interrupt(InterruptReason reason) {
  if (reason == InterruptReason::kShutdown) shutting_down_.store(true);
  interrupted_.store(true);
  sqlite3_interrupt(db_.get());
}

int Session::Authorize(void* self, int op, const char* a1, const char* a2, const char*,
                       const char*) {
  auto* session = static_cast<Session*>(self);
  if (session->internal_) return SQLITE_OK;
  if (session->auth_ops_.size() < kMaxAuthOps) {
    session->auth_ops_.push_back(AuthOp{op, a1 ? a1 : "", a2 ? a2 : ""});
  }
  switch (op) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      return SQLITE_DENY;  // a session has no files
    case SQLITE_PRAGMA: {
      // Reading pragmas (table_info(t), …) is harmless; setting one could change
      // what the connection does under the module (writable_schema, …).
      static constexpr const char* kReadOnlyWithArgument[] = {
          "table_info",       "table_xinfo",   "index_list",     "index_info", "index_xinfo",
          "foreign_key_list", "function_list", "collation_list", "pragma_list"};
      if (a2 == nullptr) return SQLITE_OK;
      for (const char* name : kReadOnlyWithArgument) {
        if (a1 != nullptr && absl::EqualsIgnoreCase(a1, name)) return SQLITE_OK;
      }
      return SQLITE_DENY;
    }
    default:
      return SQLITE_OK;
  }
}

// ---- Transactions ----

absl::Status Session::KvError(absl::Status status) {
  kv_failed_ = true;
  return MapKvError(status);
}

absl::Status Session::BeginKvTxn(bool defer_version_read) {
  RANGEDB_CHECK(txn_ == nullptr);
  txn_ = std::make_unique<txn::Txn>(options_.sender, options_.txn_options);
  committed_ = false;
  rolled_back_ = false;
  kv_failed_ = false;
  schema_moved_ = false;
  write_set_.Clear();
  savepoints_.clear();
  version_unverified_ = defer_version_read && schema_version_.has_value();
  if (version_unverified_) return absl::OkStatus();
  absl::StatusOr<uint64_t> version = ReadVersion(*txn_);
  if (!version.ok()) return KvError(version.status());
  if (schema_version_ == *version) return absl::OkStatus();
  return LoadSchema(*version);
}

absl::Status Session::VerifySchemaVersion() {
  if (!version_unverified_) return absl::OkStatus();
  version_unverified_ = false;
  // A finished transaction commits nothing and returns nothing more: its own error
  // is what the statement reports.
  // A key-space error already ends the statement; it does not depend on the schema.
  if (txn_ == nullptr || kv_failed_) return absl::OkStatus();
  if (rolled_back_) {
    // SQLite rolled the statement back already (it failed, e.g. on a constraint).
    // Its error still may not be reported under a stale schema; a read in a new
    // transaction answers as well as one in txn_ would, since versions only grow.
    txn::Txn fresh(options_.sender, options_.txn_options);
    absl::StatusOr<std::optional<std::string>> value = fresh.Get(CatalogVersionKey());
    if (!value.ok()) return MapKvError(value.status());
    return CheckSchemaVersion(*value);
  }
  absl::StatusOr<std::optional<std::string>> value = txn_->Get(CatalogVersionKey());
  if (!value.ok()) return KvError(value.status());
  return CheckSchemaVersion(*value);
}

absl::Status Session::CheckSchemaVersion(const std::optional<std::string>& version_value) {
  version_unverified_ = false;
  absl::StatusOr<uint64_t> version = ParseVersion(version_value);
  if (!version.ok()) return KvError(version.status());
  if (schema_version_ == *version) return absl::OkStatus();
  // Nothing computed under the old schema may leave the session: the transaction
  // cannot commit, and the statement runs again under the new schema.
  schema_moved_ = true;
  kv_failed_ = true;
  return SqlError(sqlstate::kSerializationFailure,
                  "restart transaction: the schema changed while the statement was prepared");
}

absl::Status Session::LoadSchema(uint64_t version) {
  absl::StatusOr<std::vector<sqlpb::TableDescriptor>> descs = LoadDescriptors(*txn_);
  if (!descs.ok()) return KvError(descs.status());
  std::map<uint64_t, std::shared_ptr<const TableInfo>> tables;
  std::map<std::string, uint64_t> ids;
  std::map<std::string, sqlpb::TableDescriptor> views;
  std::vector<std::shared_ptr<const TableInfo>> table_list;
  std::vector<sqlpb::TableDescriptor> view_list;
  for (sqlpb::TableDescriptor& desc : *descs) {
    if (desc.is_view()) {
      view_list.push_back(desc);
      views[FoldName(desc.name())] = std::move(desc);
      continue;
    }
    absl::StatusOr<std::shared_ptr<const TableInfo>> info = TableInfo::Make(std::move(desc));
    if (!info.ok()) return info.status();
    ids[FoldName((*info)->name())] = (*info)->id();
    table_list.push_back(*info);
    tables[(*info)->id()] = std::move(*info);
  }
  // Redeclare what changed (no statement is prepared now): views go and come back
  // every time, tables only when their descriptor moved.
  statement_cache_.Clear();
  internal_ = true;
  absl::Status status;
  for (const auto& [name, view] : views_) {
    status =
        Exec(db_.get(), absl::StrCat("DROP VIEW IF EXISTS main.", QuoteIdentifier(view.name())));
    if (!status.ok()) break;
  }
  auto same = [](const std::shared_ptr<const TableInfo>& a,
                 const std::shared_ptr<const TableInfo>& b) {
    return a->desc().version() == b->desc().version() && a->name() == b->name();
  };
  for (const auto& [id, old] : tables_) {
    if (!status.ok()) break;
    auto it = tables.find(id);
    if (it != tables.end() && same(it->second, old)) continue;
    status = Exec(db_.get(), absl::StrCat("DROP TABLE main.", QuoteIdentifier(old->name())));
  }
  std::map<uint64_t, std::shared_ptr<const TableInfo>> previous = std::move(tables_);
  tables_ = std::move(tables);
  table_ids_ = std::move(ids);
  views_ = std::move(views);
  for (const auto& [id, info] : tables_) {
    if (!status.ok()) break;
    auto it = previous.find(id);
    if (it != previous.end() && same(it->second, info)) continue;
    status =
        Exec(db_.get(), absl::StrCat("CREATE VIRTUAL TABLE main.", QuoteIdentifier(info->name()),
                                     " USING ", kModuleName, "(", id, ")"));
  }
  for (const sqlpb::TableDescriptor& view : view_list) {
    if (!status.ok()) break;
    status = Exec(db_.get(), view.create_sql());
  }
  internal_ = false;
  if (status.ok()) status = shadow_->Rebuild(table_list, view_list);
  if (!status.ok()) {
    // Start over at the next load: forget every table and view, and drop what SQLite
    // still has, so that nothing is left declared from an older descriptor (a vtab
    // that could not be dropped is refused by the module, which checks versions).
    ForgetSchema();
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("cannot load the schema: ", status.message()));
  }
  schema_version_ = version;
  return absl::OkStatus();
}

void Session::ForgetSchema() {
  statement_cache_.Clear();
  internal_ = true;
  absl::StatusOr<Stmt> list =
      Prepare(db_.get(),
              "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') "
              "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table'");
  std::vector<std::pair<std::string, std::string>> objects;
  while (list.ok() && sqlite3_step(list->get()) == SQLITE_ROW) {
    objects.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list->get(), 0)),
                         reinterpret_cast<const char*>(sqlite3_column_text(list->get(), 1)));
  }
  if (list.ok()) list->reset();
  for (const auto& [type, name] : objects) {
    (void)Exec(db_.get(), absl::StrCat(type == "view" ? "DROP VIEW main." : "DROP TABLE main.",
                                       QuoteIdentifier(name)));
  }
  internal_ = false;
  tables_.clear();
  table_ids_.clear();
  views_.clear();
  schema_version_.reset();
}

absl::Status Session::CommitKv() {
  if (committed_) return absl::OkStatus();
  if (absl::Status s = VerifySchemaVersion(); !s.ok()) return s;
  if (txn_ == nullptr || kv_failed_ || rolled_back_) {
    return SqlError(sqlstate::kInFailedTransaction, "the transaction can no longer commit");
  }
  if (absl::Status s = write_set_.ApplyTo(*txn_); !s.ok()) return KvError(s);
  if (absl::Status s = txn_->Commit(); !s.ok()) return KvError(s);
  committed_ = true;
  return absl::OkStatus();
}

void Session::RollbackKv() {
  if (txn_ != nullptr && !committed_ && !rolled_back_ && !kv_failed_) (void)txn_->Rollback();
  rolled_back_ = true;
  write_set_.Clear();
}

void Session::CloseKvTxn() {
  txn_.reset();
  write_set_.Clear();
  savepoints_.clear();
  aborted_ = false;
}

void Session::Sleep(std::chrono::milliseconds wait) {
  if (options_.sleep_for) {
    options_.sleep_for(wait);
  } else {
    std::this_thread::sleep_for(wait);
  }
}

// ---- Statements ----

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteNext(
    absl::string_view* sql, absl::Span<const Parameter> params, RowSink* sink) {
  *sql = SkipSpaceAndComments(*sql);
  // A lone ';' is an empty statement.
  while (!sql->empty() && sql->front() == ';') *sql = SkipSpaceAndComments(sql->substr(1));
  if (sql->empty()) return std::optional<StatementResult>();
  interrupted_.store(false);  // a cancel is for the statement that runs when it comes
  if (aborted_) return ExecuteWhileAborted(sql);
  const std::string keyword = FirstKeyword(*sql);
  if (IsDdlKeyword(keyword)) return ExecuteDdl(sql);
  if (keyword == "REINDEX") return ExecuteReindex(sql);
  if (keyword == "ANALYZE") return ExecuteAnalyze(sql);
  return ExecuteDml(sql, params, sink);
}

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteWhileAborted(
    absl::string_view* sql) {
  const std::string keyword = FirstKeyword(*sql);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  internal_ = true;
  const int rc =
      sqlite3_prepare_v2(db_.get(), sql->data(), static_cast<int>(sql->size()), &raw, &tail);
  internal_ = false;
  Stmt stmt(raw);
  // The statement's text: up to what SQLite parsed, or all of it if it did not parse.
  const size_t length =
      rc == SQLITE_OK && tail != nullptr ? static_cast<size_t>(tail - sql->data()) : sql->size();
  const bool rollback_to = keyword == "ROLLBACK" &&
                           absl::StrContains(absl::AsciiStrToUpper(sql->substr(0, length)), " TO ");
  *sql = sql->substr(length);
  if ((keyword == "ROLLBACK" && !rollback_to) || keyword == "COMMIT" || keyword == "END") {
    RollbackKv();
    CloseKvTxn();
    internal_ = true;
    absl::Status s = Exec(db_.get(), "ROLLBACK");
    internal_ = false;
    if (!s.ok()) return s;
    return std::optional<StatementResult>(StatementResult{"ROLLBACK", 0});
  }
  return SqlError(
      sqlstate::kInFailedTransaction,
      "current transaction is aborted, commands ignored until end of transaction block");
}

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteReindex(absl::string_view* sql) {
  // Indexes are kept exact by every write, so there is nothing to rebuild; the
  // shadow schema still checks that the statement names a collation, table or index.
  const absl::string_view text = *sql;
  sqlite3_stmt* raw = nullptr;
  const char* end = nullptr;
  const int rc =
      sqlite3_prepare_v2(shadow_->db(), text.data(), static_cast<int>(text.size()), &raw, &end);
  Stmt stmt(raw);
  *sql = end != nullptr ? text.substr(end - text.data()) : absl::string_view();
  if (rc != SQLITE_OK) return SqliteError(shadow_->db());
  if (stmt != nullptr && sqlite3_step(stmt.get()) != SQLITE_DONE) return SqliteError(shadow_->db());
  return std::optional<StatementResult>(StatementResult{"REINDEX", 0});
}

absl::Status Session::BindParameters(sqlite3_stmt* stmt, absl::Span<const Parameter> params) {
  int position = 0;
  for (const Parameter& p : params) {
    int index = 0;
    if (p.name.empty()) {
      index = ++position;
    } else {
      index = sqlite3_bind_parameter_index(stmt, p.name.c_str());
      if (index == 0) continue;  // a parameter of another statement of the request
    }
    if (index > sqlite3_bind_parameter_count(stmt)) continue;
    if (int rc = BindValue(stmt, index, p.value); rc != SQLITE_OK)
      return SqliteError(rc, sqlite3_errstr(rc));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteDml(
    absl::string_view* sql, absl::Span<const Parameter> params, RowSink* sink) {
  const bool autocommit = sqlite3_get_autocommit(db_.get()) != 0;
  const absl::string_view text = *sql;
  // An autocommit statement runs under the cached schema and checks the version with
  // its first read; one that opens a transaction reads it first, so that the
  // statements after it run under a schema already checked.
  const std::string keyword = FirstKeyword(text);
  bool defer_version_read = autocommit && keyword != "BEGIN" && keyword != "SAVEPOINT";
  rangedb::Backoff backoff(options_.retry_backoff);
  for (int attempt = 1;; ++attempt) {
    int64_t rows_sent = 0;
    std::vector<ColumnInfo> unsent_columns;
    absl::string_view tail = text;
    absl::StatusOr<StatementResult> result =
        RunDmlOnce(text, &tail, params, sink, &rows_sent, &unsent_columns, defer_version_read);
    *sql = tail;
    const bool retry = !result.ok() && autocommit && rows_sent == 0 &&
                       attempt < options_.max_autocommit_attempts && !interrupted_.load() &&
                       SqlStateOf(result.status()) == sqlstate::kSerializationFailure &&
                       sqlite3_get_autocommit(db_.get());
    if (!retry) {
      // A statement's columns go out once, also when it returned no row or failed.
      if (!unsent_columns.empty()) {
        if (absl::Status s = sink->Columns(unsent_columns); !s.ok()) return s;
      }
      if (!result.ok()) return result.status();
      return std::optional<StatementResult>(std::move(*result));
    }
    // Every retry reads the version first: the failure may have come from the
    // schema (a refresh over the version key), and a schema that keeps changing
    // must not keep the statement behind. A schema change is not contention: no
    // backoff for it.
    defer_version_read = false;
    if (schema_moved_) continue;
    Sleep(backoff.Next());
  }
}

absl::StatusOr<StatementResult> Session::RunDmlOnce(absl::string_view text, absl::string_view* tail,
                                                    absl::Span<const Parameter> params,
                                                    RowSink* sink, int64_t* rows_sent,
                                                    std::vector<ColumnInfo>* unsent_columns,
                                                    bool defer_version_read) {
  if (txn_ == nullptr) {
    absl::Status s = BeginKvTxn(defer_version_read);
    if (s.ok()) s = CheckInterrupted();
    if (!s.ok()) {
      RollbackKv();
      CloseKvTxn();
      return s;
    }
  }
  auth_ops_.clear();
  statement_error_ = absl::OkStatus();
  statement_mode_.reset();
  const bool was_explicit = !sqlite3_get_autocommit(db_.get());
  // A statement run before under this schema is not prepared again (its authorizer
  // ops are none of the ones read below: only plain statements are kept).
  int prc = SQLITE_OK;
  std::optional<StatementCache::Entry> prepared = statement_cache_.Take(text);
  if (!prepared.has_value()) {
    sqlite3_stmt* raw = nullptr;
    const char* end = nullptr;
    // An IN that SQLite would drive value by value through a TEXT or untyped key
    // column is left to SQLite (vtab_in_slice.h): a plan that may have one is read
    // and prepared again, with the authorizer's ops already taken.
    ExactInPlanner planner(db_.get());
    prc = planner.Prepare(text, &raw, &end);
    if (prc == SQLITE_OK && raw != nullptr && planner.suspect()) {
      internal_ = true;
      prc = planner.Replan(text.substr(0, end - text.data()), &raw);
      internal_ = false;
    }
    prepared = StatementCache::Entry{
        Stmt(raw), end != nullptr ? static_cast<size_t>(end - text.data()) : text.size()};
  }
  Stmt& stmt = prepared->stmt;
  *tail = text.substr(prepared->length);
  const std::string keyword = FirstKeyword(text);
  absl::Status status;
  if (prc != SQLITE_OK) {
    status = SqliteError(db_.get());
  } else if (stmt == nullptr) {
    // Only a comment: nothing ran.
  } else {
    insert_table_.clear();
    insert_columns_.reset();
    if (std::optional<InsertTarget> target = ParseInsertTarget(text)) {
      insert_table_ = FoldName(target->table);
      if (target->columns) {
        std::vector<std::string> folded;
        for (const std::string& c : *target->columns) folded.push_back(FoldName(c));
        insert_columns_ = std::move(folded);
      }
    }
    status = BindParameters(stmt.get(), params);
  }
  const size_t mark = write_set_.Mark();
  StatementResult result;
  bool wrote = false;  // the statement is an INSERT, UPDATE or DELETE
  if (status.ok() && stmt != nullptr) {
    result.command_tag = CommandTag(keyword, stmt.get());
    const int n = sqlite3_column_count(stmt.get());
    // The columns go out with the first row; without rows, once the statement is
    // over and will not run again (ExecuteDml), also when it failed.
    for (int i = 0; i < n; ++i) {
      const char* type = sqlite3_column_decltype(stmt.get(), i);
      unsent_columns->push_back(ColumnInfo{sqlite3_column_name(stmt.get(), i), type ? type : ""});
    }
    int rc = SQLITE_DONE;
    while (status.ok() && (rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      // No row, and no column header, leaves the session before the schema it was
      // computed under is known to be current (a row not read from the key space:
      // SELECT 1, rangedb_tables).
      status = VerifySchemaVersion();
      if (status.ok() && *rows_sent == 0) {
        status = sink->Columns(*unsent_columns);
        unsent_columns->clear();
      }
      if (!status.ok()) break;
      std::vector<Value> row;
      row.reserve(n);
      for (int i = 0; i < n; ++i) row.push_back(ColumnValue(stmt.get(), i));
      status = sink->Row(std::move(row));
      ++*rows_sent;
    }
    if (status.ok() && rc != SQLITE_DONE) {
      status = statement_error_.ok() ? SqliteError(db_.get()) : statement_error_;
    }
    wrote = !sqlite3_stmt_readonly(stmt.get());
    result.rows_affected = wrote ? sqlite3_changes64(db_.get()) : *rows_sent;
    // Finishes the statement before the transaction is settled (Put resets it).
    if (status.ok() && IsPlainStatement()) {
      statement_cache_.Put(text, std::move(*prepared));
    } else {
      stmt.reset();
    }
  }
  insert_table_.clear();
  insert_columns_.reset();
  // Neither an error nor the outcome is reported under a schema not known to be
  // current: a statement that failed because another node changed the schema (a
  // table dropped there) runs again under the new one. A cancel is the user's and
  // stays as it is (it does not depend on the schema, and must not turn into a
  // 40001 that invites running the statement again).
  const bool cancelled = SqlStateOf(status) == sqlstate::kQueryCanceled;
  if (version_unverified_ && !cancelled) {
    if (absl::Status v = VerifySchemaVersion(); !v.ok()) status = v;
  }

  // Settle the transaction.
  bool user_rollback = false;
  bool user_ended = false;  // COMMIT, ROLLBACK, or RELEASE (of the outermost savepoint)
  for (const AuthOp& op : auth_ops_) {
    if (op.op == SQLITE_TRANSACTION && op.arg1 == "ROLLBACK") user_rollback = true;
    if (op.op == SQLITE_TRANSACTION || (op.op == SQLITE_SAVEPOINT && op.arg1 == "RELEASE")) {
      user_ended = true;
    }
  }
  // A failed statement inside BEGIN leaves its writes only where SQLite keeps them
  // (FailedStatementKeepsWrites). Outside one, SQLite itself settled the transaction
  // (xSync committed an OR FAIL statement's rows, xRollback dropped the others').
  if (!status.ok() && !kv_failed_ && !sqlite3_get_autocommit(db_.get()) &&
      !FailedStatementKeepsWrites(text.substr(0, text.size() - tail->size()), status)) {
    write_set_.RollbackTo(mark);
  }
  // A cancelled write inside BEGIN ends the transaction, as SQLite does when its own
  // interrupt stops the write ("the entire transaction will be rolled back"); the
  // session's check in the write path may see the cancel first, and the outcome must
  // not depend on which did (tests/sql_service_test.cc).
  if (SqlStateOf(status) == sqlstate::kQueryCanceled && was_explicit && wrote &&
      !sqlite3_get_autocommit(db_.get())) {
    internal_ = true;
    const absl::Status rolled_back = Exec(db_.get(), "ROLLBACK");
    internal_ = false;
    if (!rolled_back.ok()) status = rolled_back;
  }
  if (sqlite3_get_autocommit(db_.get())) {
    if (status.ok() && !user_rollback && !rolled_back_ && !kv_failed_) {
      status = CommitKv();
    } else {
      RollbackKv();
    }
    CloseKvTxn();
    // OR ROLLBACK's own conflict ends the transaction by the user's choice; anything
    // else that ended it (a cancel, even of an OR ROLLBACK write) did not.
    const bool rolled_back_by_choice =
        statement_mode_ == ConflictMode::kRollback && absl::StartsWith(SqlStateOf(status), "23");
    if (!status.ok() && was_explicit && !user_ended && !rolled_back_by_choice) {
      // SQLite ended the user's transaction on its own (an interrupted write, out of
      // memory): keep the session in it, aborted, until the user's ROLLBACK, so the
      // next statements do not run on their own (PostgreSQL's 25P02).
      internal_ = true;
      const absl::Status begun = Exec(db_.get(), "BEGIN");
      internal_ = false;
      if (begun.ok()) aborted_ = true;
    }
  } else if (kv_failed_) {
    // The explicit transaction cannot go on: wait for ROLLBACK.
    RollbackKv();
    aborted_ = true;
  } else if (status.ok()) {
    ApplySavepointOps(mark);
  }
  if (!status.ok()) return status;
  return result;
}

bool Session::FailedStatementKeepsWrites(absl::string_view statement,
                                         const absl::Status& error) const {
  const std::string state = SqlStateOf(error);
  const bool constraint = absl::StartsWith(state, "23");
  const ConflictMode mode = statement_mode_.value_or(ConflictMode::kAbort);
  // sqlite3VdbeHalt: an error's action is FAIL for a constraint under OR FAIL, and
  // the statement's writes stay.
  if (constraint && mode == ConflictMode::kFail) return true;
  // Errors of rangedb's own (54000, 57014, XX000, …) leave nothing, nor does one
  // SQLite would not have.
  if (!constraint && state != sqlstate::kDataException) return false;
  // Every other error's action is ABORT (ROLLBACK's conflict ended the transaction
  // already): SQLite rolls back the statement journal, if it opened one. It opens one
  // for a statement that may write more than one row (isMultiWrite: several rows
  // inserted, an UPDATE or DELETE not limited to one row by a unique key, a REPLACE
  // that deletes) and may abort (ShadowSchema::MayAbort). A statement that can fail
  // after a write of its own is one of those, so only "may abort" decides. A
  // statement the shadow cannot prepare leaves nothing.
  absl::StatusOr<bool> may_abort = shadow_->MayAbort(statement);
  return may_abort.ok() && !*may_abort;
}

bool Session::IsPlainStatement() const {
  if (internal_) return false;
  for (const AuthOp& op : auth_ops_) {
    // What settling reads from the ops (a cached statement runs without them), and
    // what changes the connection rather than reading or writing rows.
    switch (op.op) {
      case SQLITE_TRANSACTION:
      case SQLITE_SAVEPOINT:
      case SQLITE_PRAGMA:
      case SQLITE_ATTACH:
      case SQLITE_DETACH:
        return false;
      default:
        break;
    }
  }
  return true;
}

void Session::ApplySavepointOps(size_t mark_before) {
  for (const AuthOp& op : auth_ops_) {
    if (op.op != SQLITE_SAVEPOINT) continue;
    const std::string name = FoldName(op.arg2);
    if (op.arg1 == "BEGIN") {
      savepoints_.emplace_back(name, mark_before);
      continue;
    }
    // RELEASE or ROLLBACK TO the innermost savepoint of that name.
    for (size_t i = savepoints_.size(); i-- > 0;) {
      if (savepoints_[i].first != name) continue;
      if (op.arg1 == "ROLLBACK") {
        write_set_.RollbackTo(savepoints_[i].second);
        savepoints_.resize(i + 1);
      } else {
        savepoints_.resize(i);
      }
      break;
    }
  }
}

// ---- VtabContext ----

std::string Session::ClampedStart(absl::string_view start) {
  return std::string(start.substr(0, limits::kMaxKeyBytes));
}

std::string Session::ClampedEnd(absl::string_view end) {
  if (end.size() <= limits::kMaxKeyBytes) return std::string(end);
  std::string clamped(end.substr(0, limits::kMaxKeyBytes));
  while (!clamped.empty() && static_cast<unsigned char>(clamped.back()) == 0xff) clamped.pop_back();
  if (!clamped.empty())
    clamped.back() = static_cast<char>(static_cast<unsigned char>(clamped.back()) + 1);
  return clamped;
}

absl::Status Session::CheckInterrupted() const {
  if (interrupted_.load()) {
    if (shutting_down_.load()) {
      return SqlError(sqlstate::kAdminShutdown,
                      "the node is shutting down: reconnect to another node");
    }
    return SqlError(sqlstate::kQueryCanceled, "canceling statement due to user request");
  }
  return absl::OkStatus();
}

std::shared_ptr<const TableInfo> Session::Table(uint64_t id) {
  auto it = tables_.find(id);
  return it == tables_.end() ? nullptr : it->second;
}

absl::StatusOr<std::optional<std::string>> Session::Get(absl::string_view key) {
  if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
  if (key.size() > limits::kMaxKeyBytes) return std::optional<std::string>();  // cannot exist
  if (const WriteSet::Entry* entry = write_set_.Lookup(key)) return *entry;
  if (txn_ == nullptr || kv_failed_) {
    return SqlError(sqlstate::kInFailedTransaction, "no open transaction");
  }
  if (version_unverified_) {  // the version rides in the same batch
    absl::StatusOr<std::vector<std::optional<std::string>>> read =
        txn_->GetMany({CatalogVersionKey(), std::string(key)});
    if (!read.ok()) return KvError(read.status());
    // Before the value is decoded under the cached schema.
    if (absl::Status s = CheckSchemaVersion((*read)[0]); !s.ok()) return s;
    return std::move((*read)[1]);
  }
  absl::StatusOr<std::optional<std::string>> value = txn_->Get(key);
  if (!value.ok()) return KvError(value.status());
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>> Session::GetMany(
    const std::vector<std::string>& keys) {
  if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
  std::vector<std::optional<std::string>> values(keys.size());
  std::vector<std::string> to_read;
  std::vector<size_t> positions;  // of to_read in keys
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].size() > limits::kMaxKeyBytes) continue;  // cannot exist
    if (const WriteSet::Entry* entry = write_set_.Lookup(keys[i])) {
      values[i] = *entry;
      continue;
    }
    to_read.push_back(keys[i]);
    positions.push_back(i);
  }
  if (to_read.empty()) return values;
  if (absl::Status s = ReadyToRead(); !s.ok()) return s;
  // The version rides in the same batch, first.
  const size_t first = version_unverified_ ? 1 : 0;
  if (first == 1) to_read.insert(to_read.begin(), CatalogVersionKey());
  absl::StatusOr<std::vector<std::optional<std::string>>> read = txn_->GetMany(to_read);
  if (!read.ok()) return KvError(read.status());
  if (first == 1) {
    if (absl::Status s = CheckSchemaVersion((*read)[0]); !s.ok()) return s;
  }
  for (size_t j = 0; j < positions.size(); ++j) {
    values[positions[j]] = std::move((*read)[first + j]);
  }
  return values;
}

absl::Status Session::ReadyToRead() const {
  if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
  if (txn_ == nullptr || kv_failed_) {
    return SqlError(sqlstate::kInFailedTransaction, "no open transaction");
  }
  return absl::OkStatus();
}

absl::Status Session::ReadyToScan() {
  if (absl::Status s = ReadyToRead(); !s.ok()) return s;
  return VerifySchemaVersion();  // a scan reads the version on its own, first
}

absl::StatusOr<ScanPage> Session::Scan(absl::string_view start_in, absl::string_view end_in,
                                       int64_t max_rows) {
  if (absl::Status s = ReadyToScan(); !s.ok()) return s;
  // Bounds longer than any key widen to ones within the limit (SQLite re-checks).
  const std::string start(ClampedStart(start_in));
  const std::string end(ClampedEnd(end_in));
  absl::StatusOr<std::vector<kv::KeyValue>> rows = txn_->Scan(start, end, max_rows);
  if (!rows.ok()) return KvError(rows.status());
  ScanPage page;
  const bool full = static_cast<int64_t>(rows->size()) >= max_rows;
  const std::string page_end = full ? rows->back().key + std::string(1, '\0') : std::string(end);
  if (full) page.resume_key = page_end;
  // Merge the write set's entries in [start, page_end) over the rows read.
  auto ws = write_set_.RangeBegin(start);
  size_t i = 0;
  while (i < rows->size() || (ws != write_set_.End() && ws->first < page_end)) {
    const bool ws_here = ws != write_set_.End() && ws->first < page_end;
    if (ws_here && (i >= rows->size() || ws->first <= (*rows)[i].key)) {
      if (i < rows->size() && ws->first == (*rows)[i].key) ++i;  // overridden
      if (ws->second.has_value()) page.rows.push_back(kv::KeyValue{ws->first, *ws->second});
      ++ws;
    } else {
      page.rows.push_back(std::move((*rows)[i++]));
    }
  }
  return page;
}

absl::StatusOr<ScanPage> Session::ReverseScan(absl::string_view start_in, absl::string_view end_in,
                                              int64_t max_rows) {
  if (absl::Status s = ReadyToScan(); !s.ok()) return s;
  const std::string start(ClampedStart(start_in));
  const std::string end(ClampedEnd(end_in));
  absl::StatusOr<std::vector<kv::KeyValue>> rows = txn_->ReverseScan(start, end, max_rows);
  if (!rows.ok()) return KvError(rows.status());
  ScanPage page;
  // The page covers [page_start, end); a full one leaves [start, page_start).
  const bool full = static_cast<int64_t>(rows->size()) >= max_rows;
  const std::string page_start = full ? rows->back().key : start;
  if (full) page.resume_key = page_start;
  // Merge the write set's entries in [page_start, end), descending, over the rows.
  std::vector<std::pair<std::string, std::optional<std::string>>> writes;
  for (auto it = write_set_.RangeBegin(page_start); it != write_set_.End() && it->first < end;
       ++it) {
    writes.emplace_back(it->first, it->second);
  }
  auto ws = writes.rbegin();
  size_t i = 0;
  while (i < rows->size() || ws != writes.rend()) {
    if (ws != writes.rend() && (i >= rows->size() || ws->first >= (*rows)[i].key)) {
      if (i < rows->size() && ws->first == (*rows)[i].key) ++i;  // overridden
      if (ws->second.has_value()) page.rows.push_back(kv::KeyValue{ws->first, *ws->second});
      ++ws;
    } else {
      page.rows.push_back(std::move((*rows)[i++]));
    }
  }
  return page;
}

absl::StatusOr<std::optional<kv::KeyValue>> Session::Last(absl::string_view start_in,
                                                          absl::string_view end_in) {
  if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
  const std::string start(ClampedStart(start_in));
  const std::string end(ClampedEnd(end_in));
  // The last put of the write set in the span.
  std::optional<kv::KeyValue> from_writes;
  for (auto it = write_set_.RangeBegin(start); it != write_set_.End() && it->first < end; ++it) {
    if (it->second.has_value()) from_writes = kv::KeyValue{it->first, *it->second};
  }
  // The last stored row the write set does not override.
  if (absl::Status s = ReadyToScan(); !s.ok()) return s;
  std::string upper(end);
  std::optional<kv::KeyValue> stored;
  while (!stored.has_value()) {  // bounded: each page moves upper down
    if (txn_ == nullptr || kv_failed_) {
      return SqlError(sqlstate::kInFailedTransaction, "no open transaction");
    }
    absl::StatusOr<std::vector<kv::KeyValue>> rows = txn_->ReverseScan(start, upper, 100);
    if (!rows.ok()) return KvError(rows.status());
    for (kv::KeyValue& row : *rows) {
      if (write_set_.Lookup(row.key) == nullptr) {
        stored = std::move(row);
        break;
      }
    }
    if (rows->size() < 100) break;
    if (!stored) upper = rows->back().key;
  }
  if (!from_writes) return stored;
  if (!stored || from_writes->key > stored->key) return from_writes;
  return stored;
}

absl::Status Session::Put(absl::string_view key, absl::string_view value) {
  return write_set_.Put(key, value);
}

absl::Status Session::Delete(absl::string_view key) { return write_set_.Delete(key); }

absl::StatusOr<std::vector<Value>> Session::NormalizeRow(const TableInfo& table,
                                                         const std::vector<Value>& row,
                                                         const std::vector<bool>& named,
                                                         bool or_replace) {
  return shadow_->NormalizeRow(table, row, named, or_replace);
}

std::vector<bool> Session::InsertedColumns(const TableInfo& table) {
  std::vector<bool> named(table.num_columns(), true);
  if (insert_table_ != FoldName(table.name()) || !insert_columns_.has_value()) return named;
  for (int i = 0; i < table.num_columns(); ++i) {
    const std::string column = FoldName(table.column(i).name());
    bool found = false;
    for (const std::string& c : *insert_columns_) {
      if (c == column || (table.column(i).hidden() && (c == "_rowid_" || c == "oid"))) found = true;
    }
    // An INTEGER PRIMARY KEY is also named by rowid, _rowid_ and oid.
    if (table.column(i).rowid_alias()) {
      for (const std::string& c : *insert_columns_) {
        if (c == "rowid" || c == "_rowid_" || c == "oid") found = true;
      }
    }
    named[i] = found;
  }
  return named;
}

int64_t Session::NewRowId() {
  const int64_t now =
      options_.wall_micros ? options_.wall_micros() : absl::ToUnixMicros(absl::Now());
  return NextRowId(rowid_shard_, now, options_.node_id);
}

void Session::NoteMode(ConflictMode mode) { statement_mode_ = mode; }

// The session's own schema statements (CREATE VIRTUAL TABLE while loading the
// schema) make SQLite sync and commit the module too; they are not the user's
// transaction.
absl::Status Session::Commit() {
  if (internal_) return absl::OkStatus();
  absl::Status s = CommitKv();
  // The commit's failure is what the statement reports, also over an error SQLite
  // committed past (OR FAIL): none of the statement's rows are kept.
  if (!s.ok()) statement_error_ = s;
  return s;
}

void Session::Rollback() {
  if (!internal_) RollbackKv();
}

void Session::SetError(absl::Status status) {
  if (statement_error_.ok()) statement_error_ = std::move(status);
}

}  // namespace rangedb::sql
