// Session: schema changes (docs/design/sql.md "Catalog"). A DDL statement runs first
// in the shadow schema, where SQLite parses and checks it; then the session writes
// the descriptors it changed and the new schema version in one transaction.
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "sql/catalog.h"
#include "sql/dropped_spans.h"
#include "sql/index_build.h"
#include "sql/introspection.h"
#include "sql/session.h"
#include "sql/sqlstate.h"
#include "sql/statement_text.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

// The statement's kind: its first schema operation (CREATE TABLE also reports the
// indexes SQLite makes for its PRIMARY KEY and UNIQUE constraints).
struct DdlKind {
  int op = 0;  // SQLITE_CREATE_TABLE, …; 0: nothing to change
  std::string name;
  std::string table;  // for an index: its table
};

absl::StatusOr<DdlKind> Classify(const std::vector<AuthorizerOp>& ops) {
  DdlKind kind;
  for (const auto& [op, arg1, arg2] : ops) {
    if (kind.op != 0) {
      if (op == SQLITE_SELECT && kind.op == SQLITE_CREATE_TABLE) {
        return NotSupported("CREATE TABLE … AS SELECT");
      }
      continue;
    }
    switch (op) {
      case SQLITE_CREATE_TABLE:
      case SQLITE_DROP_TABLE:
      case SQLITE_CREATE_INDEX:
      case SQLITE_DROP_INDEX:
      case SQLITE_CREATE_VIEW:
      case SQLITE_DROP_VIEW:
        kind.op = op;
        kind.name = arg1;
        kind.table = arg2;
        break;
      case SQLITE_CREATE_TRIGGER:
      case SQLITE_DROP_TRIGGER:
        return NotSupported("triggers");
      case SQLITE_ALTER_TABLE:  // a1 is the schema, a2 the table as stored
        kind.op = op;
        kind.name = arg2;
        kind.table = arg2;
        break;
      case SQLITE_CREATE_TEMP_TABLE:
      case SQLITE_CREATE_TEMP_INDEX:
      case SQLITE_CREATE_TEMP_VIEW:
      case SQLITE_CREATE_TEMP_TRIGGER:
      case SQLITE_DROP_TEMP_TABLE:
      case SQLITE_DROP_TEMP_INDEX:
      case SQLITE_DROP_TEMP_VIEW:
      case SQLITE_DROP_TEMP_TRIGGER:
        return NotSupported("temporary tables, indexes, views and triggers");
      case SQLITE_CREATE_VTABLE:
      case SQLITE_DROP_VTABLE:
        return NotSupported("virtual tables");
      default:
        break;
    }
  }
  return kind;
}

// The index build's transactions: small, and retried more than a statement's, since
// they run while writers go on.

const char* TagOf(int op) {
  switch (op) {
    case SQLITE_CREATE_TABLE:
      return "CREATE TABLE";
    case SQLITE_DROP_TABLE:
      return "DROP TABLE";
    case SQLITE_CREATE_INDEX:
      return "CREATE INDEX";
    case SQLITE_DROP_INDEX:
      return "DROP INDEX";
    case SQLITE_CREATE_VIEW:
      return "CREATE VIEW";
    case SQLITE_DROP_VIEW:
      return "DROP VIEW";
    case SQLITE_ALTER_TABLE:
      return "ALTER TABLE";
    default:
      return "";
  }
}

}  // namespace

int Session::PrepareInShadow(absl::string_view text, Stmt* stmt, absl::string_view* tail,
                             std::vector<AuthorizerOp>* ops) {
  sqlite3_set_authorizer(
      shadow_->db(),
      [](void* out, int op, const char* a1, const char* a2, const char*, const char*) {
        auto* list = static_cast<std::vector<AuthorizerOp>*>(out);
        if (list->size() < kMaxAuthOps) list->push_back({op, a1 ? a1 : "", a2 ? a2 : ""});
        return SQLITE_OK;
      },
      ops);
  sqlite3_stmt* raw = nullptr;
  const char* end = nullptr;
  const int rc =
      sqlite3_prepare_v2(shadow_->db(), text.data(), static_cast<int>(text.size()), &raw, &end);
  sqlite3_set_authorizer(shadow_->db(), nullptr, nullptr);
  stmt->reset(raw);
  *tail = end != nullptr ? text.substr(end - text.data()) : absl::string_view();
  return rc;
}

txn::TxnOptions Session::WorkTxnOptions() const {
  txn::TxnOptions options = options_.txn_options;
  options.max_attempts = 50;
  options.sleep_for = options_.sleep_for;
  return options;
}

absl::StatusOr<std::shared_ptr<const TableInfo>> Session::TableNamed(
    const std::string& name) const {
  auto it = table_ids_.find(FoldName(name));
  if (it == table_ids_.end()) {
    return SqlError(sqlstate::kUndefinedTable, absl::StrCat("no such table: ", name));
  }
  return tables_.at(it->second);
}

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteDdl(absl::string_view* sql) {
  const absl::string_view text = *sql;
  if (!sqlite3_get_autocommit(db_.get())) {
    // Find the end of the statement so the rest of the request can go on.
    sqlite3_stmt* raw = nullptr;
    const char* end = nullptr;
    sqlite3_prepare_v2(shadow_->db(), text.data(), static_cast<int>(text.size()), &raw, &end);
    Stmt stmt(raw);
    *sql = end != nullptr ? text.substr(end - text.data()) : absl::string_view();
    return NotSupported("schema changes inside BEGIN … COMMIT (run them on their own)");
  }
  rangedb::Backoff backoff(options_.retry_backoff);
  for (int attempt = 1;; ++attempt) {
    absl::string_view tail = text;
    pending_build_.reset();
    pending_clear_.reset();
    absl::StatusOr<StatementResult> result = RunDdlOnce(text, &tail);
    *sql = tail;
    if (result.ok() && pending_build_.has_value()) {
      const PendingIndexBuild build = *std::move(pending_build_);
      pending_build_.reset();
      if (absl::Status built = BuildIndex(build); !built.ok()) return built;
    }
    if (result.ok()) {
      // A DROP left its keys to clear (docs/design/sql-drop.md). The statement has
      // committed whatever happens here: what is not cleared now, the nodes' sweep
      // clears later.
      if (pending_clear_.has_value()) {
        (void)ClearDroppedSpan(options_.sender, WorkTxnOptions(), pending_clear_->first,
                               pending_clear_->second, [this] { return CheckInterrupted(); });
        pending_clear_.reset();
      }
      return std::optional<StatementResult>(std::move(*result));
    }
    if (attempt >= options_.max_autocommit_attempts || interrupted_.load() ||
        SqlStateOf(result.status()) != sqlstate::kSerializationFailure) {
      return result.status();
    }
    Sleep(backoff.Next());
  }
}

absl::StatusOr<StatementResult> Session::RunDdlOnce(absl::string_view text,
                                                    absl::string_view* tail) {
  if (absl::Status s = BeginKvTxn(); !s.ok()) {
    RollbackKv();
    CloseKvTxn();
    return s;
  }
  // Whatever happens next, the shadow may change: reload before the next statement.
  schema_version_.reset();
  auto finish = [&](absl::Status s) -> absl::Status {
    RollbackKv();
    CloseKvTxn();
    return s;
  };
  std::vector<AuthorizerOp> ops;
  Stmt stmt;
  const int prc = PrepareInShadow(text, &stmt, tail, &ops);
  // Refused whatever SQLite would say of it (the feature, not the statement, is missing).
  if (AlterTableAction(text.substr(0, text.size() - tail->size())) == "DROP")
    return finish(NotSupported("ALTER TABLE … DROP COLUMN"));
  if (prc != SQLITE_OK) return finish(SqliteError(shadow_->db()));
  if (stmt == nullptr) return finish(SqlError(sqlstate::kSyntaxError, "empty statement"));
  // Names and declarations go into descriptors, whose strings must be UTF-8 (the
  // wire checks statements the same way; only the in-process API can pass others).
  const absl::string_view statement = text.substr(0, text.size() - tail->size());
  if (!google::protobuf::internal::IsStructurallyValidUTF8(statement.data(),
                                                           static_cast<int>(statement.size()))) {
    return finish(
        SqlError(sqlstate::kCharacterNotInRepertoire, "the statement's text is not valid UTF-8"));
  }
  absl::StatusOr<DdlKind> kind = Classify(ops);
  if (!kind.ok()) return finish(kind.status());
  // IF [NOT] EXISTS that changes nothing.
  const std::string folded = FoldName(kind->name);
  bool index_exists = false;
  for (const auto& [id, table] : tables_) {
    for (const sqlpb::IndexDescriptor& index : table->desc().indexes()) {
      if (FoldName(index.name()) == folded) index_exists = true;
    }
  }
  const bool relation_exists = table_ids_.count(folded) > 0 || views_.count(folded) > 0;
  if ((kind->op == SQLITE_CREATE_TABLE || kind->op == SQLITE_CREATE_VIEW) &&
      IsReservedRelationName(kind->name)) {
    return finish(ReservedNameError(kind->name));
  }
  bool no_op = kind->op == 0;
  switch (kind->op) {
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_VIEW:
      no_op = relation_exists;
      break;
    case SQLITE_DROP_TABLE:
      no_op = table_ids_.count(folded) == 0;
      break;
    case SQLITE_DROP_VIEW:
      no_op = views_.count(folded) == 0;
      break;
    case SQLITE_CREATE_INDEX:
      no_op = index_exists;
      break;
    case SQLITE_DROP_INDEX:
      no_op = !index_exists;
      break;
    default:
      break;
  }
  bool held_row = false;  // PrepareAlterTable put a row in the shadow table
  if (kind->op == SQLITE_ALTER_TABLE) {
    if (absl::Status s = PrepareAlterTable(text, kind->table, &held_row); !s.ok()) return finish(s);
  }
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) return finish(SqliteError(shadow_->db()));
  stmt.reset();
  StatementResult result;
  result.command_tag = TagOf(kind->op);
  if (no_op) {
    if (kind->op == 0) {
      // DROP … IF EXISTS of nothing: SQLite ran it as a no-op.
      absl::string_view rest = SkipSpaceAndComments(text);
      rest.remove_prefix(std::min(rest.size(), FirstKeyword(rest).size()));
      result.command_tag = absl::StrCat(FirstKeyword(text), " ", FirstKeyword(rest));
    }
    (void)finish(absl::OkStatus());
    return result;
  }
  absl::Status status;
  switch (kind->op) {
    case SQLITE_CREATE_TABLE:
      status = CreateTableDdl(kind->name);
      break;
    case SQLITE_DROP_TABLE:
      status = DropTableDdl(kind->name);
      break;
    case SQLITE_CREATE_INDEX:
      status = CreateIndexDdl(kind->name, kind->table);
      break;
    case SQLITE_DROP_INDEX:
      status = DropIndexDdl(kind->name, kind->table);
      break;
    case SQLITE_CREATE_VIEW:
      status = CreateViewDdl(kind->name);
      break;
    case SQLITE_DROP_VIEW:
      status = DropViewDdl(kind->name);
      break;
    case SQLITE_ALTER_TABLE:
      status = AlterTableDdl(kind->table, held_row);
      break;
  }
  if (status.ok()) status = CheckInterrupted();
  if (!status.ok()) return finish(status);
  if (absl::StatusOr<uint64_t> v = BumpVersion(*txn_); !v.ok()) return finish(KvError(v.status()));
  absl::Status commit = CommitKv();
  CloseKvTxn();
  if (!commit.ok()) return commit;
  return result;
}

absl::Status Session::CreateTableDdl(const std::string& name) {
  absl::StatusOr<sqlpb::TableDescriptor> desc = shadow_->DescribeTable(name);
  if (!desc.ok()) return desc.status();
  absl::StatusOr<uint64_t> id = AllocateTableId(*txn_);
  if (!id.ok()) return KvError(id.status());
  desc->set_id(*id);
  desc->set_version(1);
  if (absl::Status s = CreateTable(*txn_, *desc); !s.ok()) return KvError(s);
  return absl::OkStatus();
}

absl::Status Session::DropTableDdl(const std::string& name) {
  absl::StatusOr<std::shared_ptr<const TableInfo>> table = TableNamed(name);
  if (!table.ok()) return table.status();
  const sqlpb::TableDescriptor& desc = (*table)->desc();
  if (absl::Status s = DropTable(*txn_, desc); !s.ok()) return KvError(s);
  for (const sqlpb::IndexDescriptor& index : desc.indexes()) {
    if (index.state() != sqlpb::IndexDescriptor::BACKFILL) continue;
    if (absl::Status s = DeleteIndexBuild(*txn_, desc.id(), index.id()); !s.ok()) {
      return KvError(s);
    }
  }
  pending_clear_ = std::make_pair(desc.id(), uint32_t{0});
  return absl::OkStatus();
}

absl::Status Session::CreateIndexDdl(const std::string& index_name, const std::string& table_name) {
  absl::StatusOr<std::shared_ptr<const TableInfo>> table = TableNamed(table_name);
  if (!table.ok()) return table.status();
  sqlpb::TableDescriptor desc = (*table)->desc();
  absl::StatusOr<sqlpb::IndexDescriptor> index = shadow_->DescribeIndex(desc, index_name);
  if (!index.ok()) return index.status();
  index->set_id(desc.next_index_id());
  // Step 1 of the online index build (docs/design/sql.md "Online index builds"):
  // written by every write from this version on, read by no query yet.
  index->set_state(sqlpb::IndexDescriptor::BACKFILL);
  desc.set_next_index_id(desc.next_index_id() + 1);
  PendingIndexBuild build{desc.id(), index->id(),
                          NewIndexBuilder(options_.node_id, options_.wall_micros)};
  if (absl::Status s = RecordIndexBuild(*txn_, build.table_id, build.index_id, build.builder);
      !s.ok()) {
    return KvError(s);
  }
  pending_build_ = std::move(build);
  *desc.add_indexes() = std::move(*index);
  desc.set_version(desc.version() + 1);
  if (absl::Status s = WriteDescriptor(*txn_, desc); !s.ok()) return KvError(s);
  return absl::OkStatus();
}

absl::Status Session::BuildIndex(const PendingIndexBuild& build) {
  const txn::TxnOptions options = WorkTxnOptions();
  const absl::Status built =
      MapKvError(RunIndexBuild(options_.sender, options, build.builder, build.table_id,
                               build.index_id, [this] { return CheckInterrupted(); }));
  if (built.ok()) return built;
  // Outcome unknown (the publish may have committed, or a node's sweep took the
  // build over): whatever did not happen, the sweep finishes.
  if (SqlStateOf(built) == sqlstate::kAmbiguousCommit) return built;
  if (SqlStateOf(built) == sqlstate::kAdminShutdown) {
    // The node goes down: the build is not cancelled, another node's sweep finishes it.
    // Released, the next sweep takes it; if not, the one after its claim ran out.
    (void)ReleaseIndexBuild(options_.sender, options, build.builder, build.table_id,
                            build.index_id);
    return SqlError(sqlstate::kAdminShutdown,
                    "the node is shutting down: CREATE INDEX stopped here, and a node's sweep "
                    "finishes the index within minutes (until then it is written, not used)");
  }
  if (absl::Status undo = AbandonIndexBuild(options_.sender, options, build.builder, build.table_id,
                                            build.index_id);
      !undo.ok()) {
    return SqlError(
        SqlStateOf(built),
        absl::StrCat(built.message(), "; and removing the unfinished index failed too (",
                     undo.message(),
                     "): a node's sweep finishes or removes it within minutes, or DROP INDEX "
                     "removes it"));
  }
  // Its entries, unless the build was cancelled: then the nodes' sweep does it.
  (void)ClearDroppedSpan(options_.sender, options, build.table_id, build.index_id,
                         [this] { return CheckInterrupted(); });
  return built;
}

absl::Status Session::DropIndexDdl(const std::string& index_name, const std::string& table_name) {
  absl::StatusOr<std::shared_ptr<const TableInfo>> table = TableNamed(table_name);
  if (!table.ok()) return table.status();
  sqlpb::TableDescriptor desc = (*table)->desc();
  for (int i = 0; i < desc.indexes_size(); ++i) {
    if (FoldName(desc.indexes(i).name()) != FoldName(index_name)) continue;
    const IndexInfo& index = (*table)->indexes()[i];
    // Its entries are cleared after the commit (sql/dropped_spans.h).
    if (absl::Status s =
            RecordDrop(*txn_, desc.id(), index.desc->id(), index.prefix, index.prefix_end);
        !s.ok()) {
      return KvError(s);
    }
    if (absl::Status s = DeleteIndexBuild(*txn_, desc.id(), index.desc->id()); !s.ok()) {
      return KvError(s);
    }
    pending_clear_ = std::make_pair(desc.id(), index.desc->id());
    desc.mutable_indexes()->DeleteSubrange(i, 1);
    desc.set_version(desc.version() + 1);
    if (absl::Status s = WriteDescriptor(*txn_, desc); !s.ok()) return KvError(s);
    return absl::OkStatus();
  }
  return SqlError(sqlstate::kUndefinedObject, absl::StrCat("no such index: ", index_name));
}

absl::Status Session::CreateViewDdl(const std::string& name) {
  absl::StatusOr<std::pair<std::string, std::string>> view = shadow_->NameAndSql("view", name);
  if (!view.ok()) return view.status();
  sqlpb::TableDescriptor desc;
  absl::StatusOr<uint64_t> id = AllocateTableId(*txn_);
  if (!id.ok()) return KvError(id.status());
  desc.set_id(*id);
  desc.set_name(view->first);
  desc.set_create_sql(view->second);
  desc.set_is_view(true);
  desc.set_version(1);
  if (absl::Status s = CreateTable(*txn_, desc); !s.ok()) return KvError(s);
  return absl::OkStatus();
}

absl::Status Session::DropViewDdl(const std::string& name) {
  auto it = views_.find(FoldName(name));
  if (it == views_.end())
    return SqlError(sqlstate::kUndefinedTable, absl::StrCat("no such view: ", name));
  if (absl::Status s = DropTable(*txn_, it->second); !s.ok()) return KvError(s);
  return absl::OkStatus();
}

}  // namespace rangedb::sql
