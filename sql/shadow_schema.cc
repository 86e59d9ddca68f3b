#include "sql/shadow_schema.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/affinity.h"
#include "sql/catalog.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {

absl::StatusOr<std::unique_ptr<ShadowSchema>> ShadowSchema::Open() {
  absl::StatusOr<Db> db = OpenMemoryDb();
  if (!db.ok()) return db.status();
  return std::unique_ptr<ShadowSchema>(new ShadowSchema(std::move(*db)));
}

absl::Status ShadowSchema::Rebuild(const std::vector<std::shared_ptr<const TableInfo>>& tables,
                                   const std::vector<sqlpb::TableDescriptor>& views) {
  statements_.clear();
  absl::StatusOr<Stmt> list =
      Prepare(db(),
              "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') "
              "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "  // sqlite_sequence stays
              "ORDER BY type = 'table'");  // views first: nothing depends on a view's absence
  if (!list.ok()) return list.status();
  std::vector<std::pair<std::string, std::string>> existing;
  while (sqlite3_step(list->get()) == SQLITE_ROW) {
    existing.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list->get(), 0)),
                          reinterpret_cast<const char*>(sqlite3_column_text(list->get(), 1)));
  }
  list->reset();
  for (const auto& [type, name] : existing) {
    const std::string drop =
        absl::StrCat(type == "view" ? "DROP VIEW " : "DROP TABLE ", QuoteIdentifier(name));
    if (absl::Status s = Exec(db(), drop); !s.ok()) return s;
  }
  auto run = [&](const std::string& what, const std::string& sql) -> absl::Status {
    if (sql.empty()) return absl::OkStatus();
    if (absl::Status s = Exec(db(), sql); !s.ok()) {
      return SqlError(sqlstate::kInternalError, absl::StrCat("the stored definition of ", what,
                                                             " does not run: ", s.message()));
    }
    return absl::OkStatus();
  };
  for (const auto& table : tables) {
    if (absl::Status s = run(absl::StrCat("table ", table->name()), table->desc().create_sql());
        !s.ok()) {
      return s;
    }
    for (const sqlpb::IndexDescriptor& index : table->desc().indexes()) {
      if (absl::Status s = run(absl::StrCat("index ", index.name()), index.create_sql()); !s.ok()) {
        return s;
      }
    }
  }
  for (const sqlpb::TableDescriptor& view : views) {
    if (absl::Status s = run(absl::StrCat("view ", view.name()), view.create_sql()); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::string>> ShadowSchema::NameAndSql(
    absl::string_view type, absl::string_view name) const {
  absl::StatusOr<Stmt> q = Prepare(
      db(), "SELECT name, sql FROM sqlite_schema WHERE type = ?1 AND name = ?2 COLLATE NOCASE");
  if (!q.ok()) return q.status();
  BindValue(q->get(), 1, std::string(type));
  BindValue(q->get(), 2, std::string(name));
  if (sqlite3_step(q->get()) != SQLITE_ROW) {
    return SqlError(sqlstate::kUndefinedObject, absl::StrCat("no such ", type, ": ", name));
  }
  const unsigned char* sql = sqlite3_column_text(q->get(), 1);
  return std::make_pair(
      std::string(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0))),
      sql ? std::string(reinterpret_cast<const char*>(sql)) : std::string());
}

absl::StatusOr<std::vector<std::string>> ShadowSchema::TableNames() const {
  absl::StatusOr<Stmt> q = Prepare(db(),
                                   "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                   "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
  if (!q.ok()) return q.status();
  std::vector<std::string> names;
  int rc;
  while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0)));
  }
  if (rc != SQLITE_DONE) return SqliteError(db());
  return names;
}

absl::Status ShadowSchema::HoldRow(const TableInfo& table, const std::vector<Value>& row) {
  std::vector<std::string> names;
  std::vector<int> positions;
  for (int i = 0; i < table.num_columns(); ++i) {
    if (table.column(i).hidden()) continue;  // the shadow table has its own rowid
    names.push_back(QuoteIdentifier(table.column(i).name()));
    positions.push_back(i);
  }
  std::string placeholders;
  for (size_t i = 0; i < names.size(); ++i) absl::StrAppend(&placeholders, i ? ", ?" : "?");
  absl::StatusOr<Stmt> ins =
      Prepare(db(), absl::StrCat("INSERT INTO ", QuoteIdentifier(table.name()), "(",
                                 absl::StrJoin(names, ", "), ") VALUES (", placeholders, ")"));
  if (!ins.ok()) return ins.status();
  for (size_t i = 0; i < positions.size(); ++i) BindValue(ins->get(), i + 1, row[positions[i]]);
  if (sqlite3_step(ins->get()) != SQLITE_DONE) {
    // A stored row always met the table's constraints; not meeting them now is a bug.
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("a stored row of table ", table.name(),
                                 " does not fit its definition: ", sqlite3_errmsg(db())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Value>> ShadowSchema::ReleaseHeldRow(
    absl::string_view table, const std::vector<std::string>& columns) {
  std::vector<Value> values;
  if (!columns.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
    absl::StatusOr<Stmt> sel = Prepare(db(), absl::StrCat("SELECT ", absl::StrJoin(quoted, ", "),
                                                          " FROM ", QuoteIdentifier(table)));
    if (!sel.ok()) return sel.status();
    if (sqlite3_step(sel->get()) != SQLITE_ROW) {
      return SqlError(sqlstate::kInternalError,
                      absl::StrCat("the shadow of table ", table, " lost the row it held"));
    }
    for (size_t i = 0; i < columns.size(); ++i) values.push_back(ColumnValue(sel->get(), i));
  }
  if (absl::Status s = Exec(db(), absl::StrCat("DELETE FROM ", QuoteIdentifier(table))); !s.ok())
    return s;
  return values;
}

absl::StatusOr<sqlpb::IndexDescriptor> ShadowSchema::DescribeIndex(
    const sqlpb::TableDescriptor& table, absl::string_view name) const {
  sqlpb::IndexDescriptor index;
  {
    absl::StatusOr<Stmt> q =
        Prepare(db(),
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) "
                "WHERE name = ?2 COLLATE NOCASE");
    if (!q.ok()) return q.status();
    BindValue(q->get(), 1, table.name());
    BindValue(q->get(), 2, std::string(name));
    if (sqlite3_step(q->get()) != SQLITE_ROW) {
      return SqlError(sqlstate::kUndefinedObject, absl::StrCat("no such index: ", name));
    }
    index.set_name(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0)));
    index.set_unique(sqlite3_column_int(q->get(), 1) != 0);
    if (sqlite3_column_int(q->get(), 3) != 0)
      return NotSupported("partial indexes (CREATE INDEX … WHERE)");
  }
  // Table columns by cid: the descriptor's columns without the hidden rowid.
  std::vector<uint32_t> ids_by_cid;
  for (const sqlpb::ColumnDescriptor& c : table.columns()) {
    if (!c.hidden()) ids_by_cid.push_back(c.id());
  }
  absl::StatusOr<Stmt> q = Prepare(
      db(), "SELECT cid, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno");
  if (!q.ok()) return q.status();
  BindValue(q->get(), 1, index.name());
  while (sqlite3_step(q->get()) == SQLITE_ROW) {
    const int cid = sqlite3_column_int(q->get(), 0);
    if (cid < 0 || cid >= static_cast<int>(ids_by_cid.size())) {
      return NotSupported("indexes on expressions or on the rowid");
    }
    index.add_column_ids(ids_by_cid[cid]);
    index.add_descending(sqlite3_column_int(q->get(), 1) != 0);
    const unsigned char* coll = sqlite3_column_text(q->get(), 2);
    absl::StatusOr<Collation> c =
        CollationByName(coll ? reinterpret_cast<const char*>(coll) : "BINARY");
    if (!c.ok())
      return NotSupported(absl::StrCat("collation ", reinterpret_cast<const char*>(coll)));
    index.add_collations(static_cast<uint32_t>(*c));
  }
  if (index.column_ids_size() == 0)
    return SqlError(sqlstate::kInternalError, "an index without columns");
  absl::StatusOr<std::pair<std::string, std::string>> sql = NameAndSql("index", index.name());
  if (sql.ok()) index.set_create_sql(sql->second);  // NULL (empty) for a constraint's index
  return index;
}

absl::StatusOr<sqlpb::TableDescriptor> ShadowSchema::DescribeTable(absl::string_view name) const {
  sqlpb::TableDescriptor desc;
  {
    absl::StatusOr<Stmt> q = Prepare(
        db(),
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE");
    if (!q.ok()) return q.status();
    BindValue(q->get(), 1, std::string(name));
    if (sqlite3_step(q->get()) != SQLITE_ROW) {
      return SqlError(sqlstate::kUndefinedTable, absl::StrCat("no such table: ", name));
    }
    desc.set_name(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0)));
    desc.set_create_sql(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 1)));
  }
  bool without_rowid = false;
  {
    absl::StatusOr<Stmt> q = Prepare(db(), "SELECT wr FROM pragma_table_list WHERE name = ?1");
    if (!q.ok()) return q.status();
    BindValue(q->get(), 1, desc.name());
    if (sqlite3_step(q->get()) == SQLITE_ROW) without_rowid = sqlite3_column_int(q->get(), 0) != 0;
  }
  bool has_pk_index = false;
  std::string pk_index;  // SQLite's index of a declared PRIMARY KEY (not an alias)
  std::vector<std::string> unique_indexes;  // of UNIQUE constraints, in creation order
  {
    absl::StatusOr<Stmt> q =
        Prepare(db(), "SELECT origin, name FROM pragma_index_list(?1) ORDER BY seq DESC");
    if (!q.ok()) return q.status();
    BindValue(q->get(), 1, desc.name());
    while (sqlite3_step(q->get()) == SQLITE_ROW) {
      const std::string origin = reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0));
      if (origin == "pk") {
        has_pk_index = true;
        pk_index = reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 1));
      }
      if (origin == "u")
        unique_indexes.push_back(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 1)));
    }
  }
  absl::StatusOr<Stmt> q =
      Prepare(db(),
              "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) "
              "ORDER BY cid");
  if (!q.ok()) return q.status();
  BindValue(q->get(), 1, desc.name());
  std::vector<std::pair<int, uint32_t>> pk;  // (position in key, column id)
  uint32_t next_id = 1;
  while (sqlite3_step(q->get()) == SQLITE_ROW) {
    sqlpb::ColumnDescriptor* c = desc.add_columns();
    c->set_id(next_id++);
    c->set_name(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 0)));
    c->set_declared_type(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 1)));
    c->set_not_null(sqlite3_column_int(q->get(), 2) != 0);
    if (sqlite3_column_type(q->get(), 3) != SQLITE_NULL) {
      c->set_default_expr(reinterpret_cast<const char*>(sqlite3_column_text(q->get(), 3)));
    }
    if (sqlite3_column_int(q->get(), 5) != 0) return NotSupported("generated columns");
    if (const int k = sqlite3_column_int(q->get(), 4); k > 0) pk.emplace_back(k, c->id());
    c->set_affinity(static_cast<uint32_t>(AffinityOfDeclaredType(c->declared_type())));
    const char* collation = nullptr;
    if (sqlite3_table_column_metadata(db(), "main", desc.name().c_str(), c->name().c_str(), nullptr,
                                      &collation, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqliteError(db());
    }
    absl::StatusOr<Collation> coll = CollationByName(collation ? collation : "BINARY");
    if (!coll.ok()) return NotSupported(absl::StrCat("collation ", collation));
    c->set_collation(static_cast<uint32_t>(*coll));
  }
  std::sort(pk.begin(), pk.end());
  sqlpb::IndexDescriptor* primary = desc.mutable_primary_index();
  primary->set_id(kPrimaryIndexId);
  primary->set_name("primary");
  primary->set_unique(true);
  if (pk.empty()) {
    // No declared key: a hidden rowid column first, as SQLite's implicit rowid.
    sqlpb::ColumnDescriptor rowid;
    const uint32_t rowid_id = next_id++;
    rowid.set_id(rowid_id);
    rowid.set_name("rowid");
    rowid.set_declared_type("INTEGER");
    rowid.set_affinity(static_cast<uint32_t>(Affinity::kInteger));
    rowid.set_hidden(true);
    desc.mutable_columns()->Add(std::move(rowid));
    std::rotate(desc.mutable_columns()->begin(), desc.mutable_columns()->end() - 1,
                desc.mutable_columns()->end());
    primary->add_column_ids(rowid_id);
  } else {
    for (const auto& [k, id] : pk) primary->add_column_ids(id);
    // The key's collations are the PRIMARY KEY clause's ("PRIMARY KEY (a COLLATE
    // NOCASE)"), which SQLite keeps in its index of the key, not the columns'.
    if (has_pk_index) {
      absl::StatusOr<Stmt> x =
          Prepare(db(), "SELECT coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno");
      if (!x.ok()) return x.status();
      BindValue(x->get(), 1, pk_index);
      while (sqlite3_step(x->get()) == SQLITE_ROW) {
        const unsigned char* coll = sqlite3_column_text(x->get(), 0);
        absl::StatusOr<Collation> c =
            CollationByName(coll ? reinterpret_cast<const char*>(coll) : "BINARY");
        if (!c.ok())
          return NotSupported(absl::StrCat("collation ", reinterpret_cast<const char*>(coll)));
        primary->add_collations(static_cast<uint32_t>(*c));
      }
      if (primary->collations_size() != primary->column_ids_size()) {
        return SqlError(
            sqlstate::kInternalError,
            absl::StrCat("the primary key of ", desc.name(), " has ", primary->column_ids_size(),
                         " columns but its index ", primary->collations_size()));
      }
    }
    if (pk.size() == 1 && !without_rowid && !has_pk_index) {
      for (sqlpb::ColumnDescriptor& c : *desc.mutable_columns()) {
        if (c.id() == pk[0].second) c.set_rowid_alias(true);
      }
    }
  }
  desc.set_next_column_id(next_id);
  uint32_t next_index_id = kPrimaryIndexId + 1;
  for (const std::string& name : unique_indexes) {
    absl::StatusOr<sqlpb::IndexDescriptor> index = DescribeIndex(desc, name);
    if (!index.ok()) return index.status();
    index->set_id(next_index_id++);
    *desc.add_indexes() = std::move(*index);
  }
  desc.set_next_index_id(next_index_id);
  return desc;
}

absl::StatusOr<std::vector<Value>> ShadowSchema::NormalizeRow(const TableInfo& table,
                                                              const std::vector<Value>& row,
                                                              const std::vector<bool>& named,
                                                              bool or_replace) {
  std::string cache_key =
      absl::StrCat(table.id(), "/", table.desc().version(), or_replace ? "/r/" : "/a/");
  std::vector<int> positions;  // descriptor positions bound, in order
  std::vector<std::string> names;
  std::vector<std::string> all;  // every stored column, in order
  for (int i = 0; i < table.num_columns(); ++i) {
    if (table.column(i).hidden()) continue;
    all.push_back(QuoteIdentifier(table.column(i).name()));
    cache_key.push_back(named[i] ? '1' : '0');
    if (!named[i]) continue;
    positions.push_back(i);
    names.push_back(all.back());
  }
  auto it = statements_.find(cache_key);
  if (it == statements_.end()) {
    // INSERT, then SELECT the row back: RETURNING would be one statement less, but
    // SQLite 3.40's RETURNING hands back every column of a table with a REAL column
    // as a REAL, even one that stored an INTEGER. The table holds this row only.
    const std::string quoted = QuoteIdentifier(table.name());
    const char* verb = or_replace ? "INSERT OR REPLACE INTO " : "INSERT INTO ";
    std::string insert;
    if (names.empty()) {
      insert = absl::StrCat(verb, quoted, " DEFAULT VALUES");
    } else {
      std::string placeholders;  // one per named column
      for (size_t i = 0; i < names.size(); ++i) absl::StrAppend(&placeholders, i ? ", ?" : "?");
      insert = absl::StrCat(verb, quoted, "(", absl::StrJoin(names, ", "), ") VALUES (",
                            placeholders, ")");
    }
    Statements statements;
    absl::StatusOr<Stmt> ins = Prepare(db(), insert);
    if (!ins.ok()) return ins.status();
    absl::StatusOr<Stmt> sel =
        Prepare(db(), absl::StrCat("SELECT ", absl::StrJoin(all, ", "), " FROM ", quoted));
    if (!sel.ok()) return sel.status();
    absl::StatusOr<Stmt> del = Prepare(db(), absl::StrCat("DELETE FROM ", quoted));
    if (!del.ok()) return del.status();
    statements.insert = std::move(*ins);
    statements.select = std::move(*sel);
    statements.remove = std::move(*del);
    it = statements_.emplace(cache_key, std::move(statements)).first;
  }
  sqlite3_stmt* ins = it->second.insert.get();
  for (size_t i = 0; i < positions.size(); ++i) BindValue(ins, i + 1, row[positions[i]]);
  const int rc = sqlite3_step(ins);
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db());
  sqlite3_reset(ins);
  sqlite3_clear_bindings(ins);
  if (!status.ok()) return status;
  sqlite3_stmt* sel = it->second.select.get();
  std::vector<Value> out(row.size(), Null{});
  if (sqlite3_step(sel) != SQLITE_ROW) {
    status = SqlError(sqlstate::kInternalError,
                      absl::StrCat("the shadow of table ", table.name(), " lost a row"));
  } else {
    int k = 0;
    for (int i = 0; i < table.num_columns(); ++i) {
      out[i] = table.column(i).hidden() ? row[i] : ColumnValue(sel, k++);
    }
  }
  sqlite3_reset(sel);
  sqlite3_step(it->second.remove.get());
  sqlite3_reset(it->second.remove.get());
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<bool> ShadowSchema::MayAbort(absl::string_view statement) const {
  // sqliteInt.h's OE_Abort: the conflict action a halt's P2 holds (not in the public
  // API).
  constexpr int kOeAbort = 2;
  absl::StatusOr<Stmt> explain = Prepare(db(), absl::StrCat("EXPLAIN ", statement));
  if (!explain.ok()) return explain.status();
  // EXPLAIN's columns: addr, opcode, p1, p2, p3, p4, p5, comment. A program is
  // bounded by what SQLite generates for one statement.
  int rc;
  while ((rc = sqlite3_step(explain->get())) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(explain->get(), 1);
    const absl::string_view opcode = text ? reinterpret_cast<const char*>(text) : "";
    if (opcode == "Function" || opcode == "PureFunc") return true;
    if ((opcode == "Halt" || opcode == "HaltIfNull") &&
        sqlite3_column_int(explain->get(), 2) != SQLITE_OK &&
        sqlite3_column_int(explain->get(), 3) == kOeAbort) {
      return true;
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db());
  return false;
}

}  // namespace rangedb::sql
