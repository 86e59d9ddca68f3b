// Session: one SQL session — one SQLite connection with the rangedb module, and at
// most one distributed transaction at a time (docs/design/sql.md "Sessions and
// transactions"; docs/sql.md for what users see).
//
// Statements run one at a time through ExecuteNext. Transactions:
//   - Autocommit: each statement is its own transaction. One that fails with 40001
//     before it returned any row is run again (at most max_autocommit_attempts
//     times, with jittered backoff); an ambiguous commit (40003) never is.
//   - BEGIN … COMMIT / ROLLBACK, SAVEPOINT / RELEASE / ROLLBACK TO: SQLite's
//     syntax and meaning. Every statement is atomic: a failed one leaves none of its
//     writes (except under OR FAIL, as in SQLite). After an error of the transaction
//     itself (40001, or the key space failing) the session is aborted, as in
//     PostgreSQL: every statement but ROLLBACK (or COMMIT, which then rolls back)
//     fails with 25P02.
//   - Schema: every transaction reads the catalog version and, if it moved, reloads
//     every table. An explicit transaction reads it before its first statement; an
//     autocommit statement under a loaded schema reads it with its first KV read
//     and runs again under the new schema if it moved, before any of its results
//     leave the session (docs/design/sql-point-path.md). DDL runs only as its own
//     (autocommit) statement.
//
// Errors carry a SQLSTATE (sql/sqlstate.h).
//
// Thread safety: one thread calls ExecuteNext at a time; Interrupt may be called
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "base/backoff.h"
#include "sql/cluster_info.h"
#include "sql/index_build.h"
#include "sql/shadow_schema.h"
#include "sql/sqlite_util.h"
#include "sql/statement_cache.h"
#include "sql/table_info.h"
#include "sql/value.h"
#include "sql/vtab_context.h"
#include "sql/write_set.h"
#include "txn/sender.h"
#include "txn/txn.h"

namespace rangedb::sql {

struct SessionOptions {
  txn::Sender* sender = nullptr;  // REQUIRES: outlives the session
  txn::TxnOptions txn_options;
  uint64_t node_id = 0;  // in new row ids
  // Wall-clock microseconds for new row ids; null: the system clock.
  std::function<int64_t()> wall_micros;
  int max_autocommit_attempts = 5;
  BackoffOptions retry_backoff{std::chrono::milliseconds(2), std::chrono::milliseconds(200)};
  // How a retry's backoff is waited out; null: sleeps.
  std::function<void(std::chrono::milliseconds)> sleep_for;
  // The cluster, for rangedb_ranges and rangedb_nodes (sql/introspection.h); null:
  // those tables fail with 55000. REQUIRES: outlives the session.
  ClusterInfo* cluster_info = nullptr;
};

struct ColumnInfo {
  std::string name;
  std::string declared_type;
};

// Where a statement's rows go. A sink's error stops the statement (it fails with it).
// Columns comes exactly once for a statement that has columns (also when it returns
// no row or fails; never again when the server runs it again), before its first Row.
class RowSink {
 public:
  virtual ~RowSink() = default;
  [[nodiscard]] virtual absl::Status Columns(const std::vector<ColumnInfo>& columns) = 0;
  [[nodiscard]] virtual absl::Status Row(std::vector<Value> row) = 0;
};

struct StatementResult {
  std::string command_tag;    // "SELECT", "INSERT", "CREATE TABLE", …
  int64_t rows_affected = 0;  // rows written (INSERT, UPDATE, DELETE) or returned
};

// A bound parameter: by name (":x", "@x", "$x", "?3") or, with an empty name, by
// position (the i-th unnamed parameter binds ?i).
struct Parameter {
  std::string name;
  Value value;
};

// One call of SQLite's authorizer while a statement is prepared: the action code and
// its first two arguments (sqlite3_set_authorizer).
struct AuthorizerOp {
  int op;
  std::string arg1;
  std::string arg2;
};

// A key-space error (txn/txn.h) as the SQL layer reports it: a retryable one as
// 40001, an ambiguous one as 40003; one that already carries a SQLSTATE unchanged.
absl::Status MapKvError(const absl::Status& status);

enum class InterruptReason { kCancel, kShutdown };

class Session final : private VtabContext {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(SessionOptions options);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the first statement of *sql and moves *sql past it. nullopt (and *sql
  // empty) when only white space and comments were left. Rows go to sink.
  absl::StatusOr<std::optional<StatementResult>> ExecuteNext(absl::string_view* sql,
                                                             absl::Span<const Parameter> params,
                                                             RowSink* sink);

  // Whether a BEGIN … is open (also when it is aborted).
  bool in_transaction() const;
  // Stops the running statement at its next step: 57014 for a cancel; for a shutdown
  // (the node drains), 57P01 where the session checks it (key-space reads, backfills),
  // and a CREATE INDEX leaves its build to the nodes' sweep. Any thread.
  void Interrupt(InterruptReason reason = InterruptReason::kCancel);
  // Rolls back an open transaction (the session is about to go away).
  void Close();

 private:
  // An index CREATE INDEX added (step 1), to build after its transaction committed.
  struct PendingIndexBuild {
    uint64_t table_id = 0;
    uint32_t index_id = 0;
    IndexBuilder builder;
  };

  explicit Session(SessionOptions options);
  absl::Status Init();

  // Statement kinds.
  absl::StatusOr<std::optional<StatementResult>> ExecuteDml(absl::string_view* sql,
                                                            absl::Span<const Parameter> params,
                                                            RowSink* sink);
  // defer_version_read: run under the cached schema and verify the version with the
  // first KV read (BeginKvTxn). The statement's columns go to sink with its first
  // row; *unsent_columns holds them if no row went (the caller sends them once it
  // knows the statement will not run again).
  absl::StatusOr<StatementResult> RunDmlOnce(absl::string_view text, absl::string_view* tail,
                                             absl::Span<const Parameter> params, RowSink* sink,
                                             int64_t* rows_sent,
                                             std::vector<ColumnInfo>* unsent_columns,
                                             bool defer_version_read);
  absl::StatusOr<std::optional<StatementResult>> ExecuteDdl(absl::string_view* sql);
  absl::StatusOr<StatementResult> RunDdlOnce(absl::string_view text, absl::string_view* tail);
  // The parts of RunDdlOnce, one per kind of statement (sql/session_ddl.cc): each
  // writes its descriptors in txn_, after the shadow ran the statement.
  absl::Status CreateTableDdl(const std::string& name);
  absl::Status DropTableDdl(const std::string& name);
  absl::Status CreateIndexDdl(const std::string& index_name, const std::string& table_name);
  absl::Status DropIndexDdl(const std::string& index_name, const std::string& table_name);
  // The online index build after CreateIndexDdl's transaction (step 1) committed
  // (sql/index_build.h): every row's entry, then the index PUBLIC; a build that
  // fails is removed, one whose outcome is unknown is left to the nodes' sweep.
  absl::Status BuildIndex(const PendingIndexBuild& build);
  absl::Status CreateViewDdl(const std::string& name);
  absl::Status DropViewDdl(const std::string& name);
  // ALTER TABLE (sql/session_alter.cc). PrepareAlterTable runs before the shadow
  // runs the statement: for ADD COLUMN (anything but a RENAME) on a table with rows
  // it puts one row in the shadow table (*held_row), so SQLite's checks of existing
  // rows run. AlterTableDdl runs after it and writes what the rewrite changed.
  absl::Status PrepareAlterTable(absl::string_view text, const std::string& table_name,
                                 bool* held_row);
  absl::Status AlterTableDdl(const std::string& table_name, bool held_row);
  // Checks every row of table (the descriptor after ADD COLUMN) against its CHECK
  // constraints in the shadow, as SQLite's ADD COLUMN does.
  absl::Status CheckRowsAfterAddColumn(const TableInfo& table);
  // Writes the descriptors of other tables and views whose SQL the shadow rewrote
  // (a RENAME changes the views and foreign keys that name the table or column).
  absl::Status WriteRewrittenDefinitions(uint64_t altered_id);
  // The table with this name (any case); 42P01 if there is none.
  absl::StatusOr<std::shared_ptr<const TableInfo>> TableNamed(const std::string& name) const;
  absl::StatusOr<std::optional<StatementResult>> ExecuteWhileAborted(absl::string_view* sql);
  absl::StatusOr<std::optional<StatementResult>> ExecuteReindex(absl::string_view* sql);
  // ANALYZE [name] (sql/session_analyze.cc): each table's row count into its
  // descriptor, for the planner. On its own, not inside BEGIN (0A000).
  absl::StatusOr<std::optional<StatementResult>> ExecuteAnalyze(absl::string_view* sql);
  // The options of the session's own transactions beside the user's (an index
  // build, ANALYZE's counts): more attempts, the session's sleep.
  txn::TxnOptions WorkTxnOptions() const;

  // Transactions.
  // Opens txn_ and reads the catalog version in it, loading the schema if it moved.
  // defer_version_read (only with a schema loaded): the version is read later, with
  // the first KV read or by VerifySchemaVersion, whichever comes first.
  absl::Status BeginKvTxn(bool defer_version_read = false);
  // Reads the version now if it is still unverified; 40001 (and schema_moved_) if it
  // is not the cached schema's.
  absl::Status VerifySchemaVersion();
  // The version read in txn_ against the cached schema (as VerifySchemaVersion).
  absl::Status CheckSchemaVersion(const std::optional<std::string>& version_value);
  absl::Status CommitKv();
  void RollbackKv();
  void CloseKvTxn();
  absl::Status LoadSchema(uint64_t version);
  // After a failed load: no table or view is known or declared.
  void ForgetSchema();
  // Records a key-space failure: the Txn is finished after any error.
  absl::Status KvError(absl::Status status);
  void ApplySavepointOps(size_t mark_before);
  // Whether `statement`, failed with `error` inside an explicit transaction, keeps
  // the writes it made before the error, as plain SQLite's statement journal decides
  // (docs/design/sql.md "Statement atomicity").
  bool FailedStatementKeepsWrites(absl::string_view statement, const absl::Status& error) const;
  // The statement just run may be kept prepared (StatementCache): its authorizer ops
  // (auth_ops_) hold nothing the session acts on after it ran.
  bool IsPlainStatement() const;
  absl::Status BindParameters(sqlite3_stmt* stmt, absl::Span<const Parameter> params);
  // 57014 once Interrupt was called for the running statement.
  absl::Status CheckInterrupted() const;
  // OK if a read may go to the key space now: not interrupted, a transaction open.
  absl::Status ReadyToRead() const;
  // ReadyToRead, and the catalog version verified (a scan does not carry it along).
  absl::Status ReadyToScan();
  // Span bounds within the key space's key limit, never narrower.
  static std::string ClampedStart(absl::string_view start);
  static std::string ClampedEnd(absl::string_view end);
  // Waits out a retry's backoff (options_.sleep_for, or a real sleep).
  void Sleep(std::chrono::milliseconds wait);

  // The authorizer: records what a statement does while it is prepared.
  static int Authorize(void* self, int op, const char* a1, const char* a2, const char* db,
                       const char* trigger);
  using AuthOp = AuthorizerOp;
  static constexpr size_t kMaxAuthOps = 256;  // recorded per statement
  // Prepares text's first statement in the shadow schema, recording what its
  // authorizer saw in *ops (at most kMaxAuthOps); *tail is the text after it. SQLite's
  // result code.
  int PrepareInShadow(absl::string_view text, Stmt* stmt, absl::string_view* tail,
                      std::vector<AuthorizerOp>* ops);

  // VtabContext.
  std::shared_ptr<const TableInfo> Table(uint64_t id) override;
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override;
  absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      const std::vector<std::string>& keys) override;
  absl::StatusOr<ScanPage> Scan(absl::string_view start, absl::string_view end,
                                int64_t max_rows) override;
  absl::StatusOr<ScanPage> ReverseScan(absl::string_view start, absl::string_view end,
                                       int64_t max_rows) override;
  absl::StatusOr<std::optional<kv::KeyValue>> Last(absl::string_view start,
                                                   absl::string_view end) override;
  absl::Status Put(absl::string_view key, absl::string_view value) override;
  absl::Status Delete(absl::string_view key) override;
  absl::StatusOr<std::vector<Value>> NormalizeRow(const TableInfo& table,
                                                  const std::vector<Value>& row,
                                                  const std::vector<bool>& named,
                                                  bool or_replace) override;
  std::vector<bool> InsertedColumns(const TableInfo& table) override;
  int64_t NewRowId() override;
  void NoteMode(ConflictMode mode) override;
  absl::Status Commit() override;
  void Rollback() override;
  void SetError(absl::Status status) override;

  const SessionOptions options_;
  const int rowid_shard_;  // where this session's new row ids go (sql/row_id.h)
  Db db_;
  // Statements of db_ kept prepared by text (after db_: finalized before it closes).
  // Cleared whenever the schema is redeclared.
  StatementCache statement_cache_{64, 4096};
  std::unique_ptr<ShadowSchema> shadow_;

  // Schema: as of schema_version_ (nullopt: not loaded, or changed by this session).
  std::optional<uint64_t> schema_version_;
  std::map<uint64_t, std::shared_ptr<const TableInfo>> tables_;  // by id
  std::map<std::string, uint64_t> table_ids_;                    // by folded name
  std::map<std::string, sqlpb::TableDescriptor> views_;          // by folded name

  // The transaction.
  std::unique_ptr<txn::Txn> txn_;
  WriteSet write_set_;
  bool committed_ = false;    // CommitKv succeeded
  bool rolled_back_ = false;  // RollbackKv ran (xRollback or the session)
  bool kv_failed_ = false;    // a Txn call failed: the Txn is finished
  bool aborted_ = false;      // an explicit transaction waits for ROLLBACK
  // txn_ runs under the cached schema and has not read the catalog version yet.
  bool version_unverified_ = false;
  // The version read in txn_ was not the cached schema's: the statement runs again.
  bool schema_moved_ = false;
  std::vector<std::pair<std::string, size_t>> savepoints_;  // (folded name, write-set mark)

  // The index CreateIndexDdl added, to build once its transaction committed.
  std::optional<PendingIndexBuild> pending_build_;
  // The drop record the DDL statement wrote (table id, index id; 0: the table),
  // cleared once it committed (sql/dropped_spans.h).
  std::optional<std::pair<uint64_t, uint32_t>> pending_clear_;

  // The running statement.
  absl::Status statement_error_;
  std::optional<ConflictMode> statement_mode_;              // of its writes (VtabContext::NoteMode)
  std::string insert_table_;                                // folded; "" when not an INSERT
  std::optional<std::vector<std::string>> insert_columns_;  // folded
  std::vector<AuthOp> auth_ops_;                            // bounded: kMaxAuthOps
  bool internal_ = false;  // the session's own schema statements are running
  // Interrupt() was called since the running statement began: checked where SQLite's
  // own interrupt does not reach (key-space reads, DDL backfill, retries).
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> shutting_down_{false};  // for good: Interrupt(kShutdown) came
};

}  // namespace rangedb::sql
