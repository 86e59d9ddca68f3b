// xFilter of the rangedb module and the cursor's reads: the keys or key spans a plan
// (vtab_plan.cc) reads for the values SQLite hands it, read in pages (docs/sql.md
// "Planning").
#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/limits.h"
#include "sql/affinity.h"
#include "sql/key_codec.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"
#include "sql/vtab_internal.h"

namespace rangedb::sql::vtab_internal {
namespace {

// The value a constraint compares with, as the key stores it; nullopt when the
// key order cannot answer for it (the span is then widened).
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
      if (ClassOf(v) == StorageClass::kInteger || ClassOf(v) == StorageClass::kReal)
        return std::nullopt;
      return v;
  }
  return std::nullopt;
}

// The keys of the values of an IN list that SQLite hands over whole (argv value
// `list`, sqlite3_vtab_in), as key column `pos` under `collation` holds them:
// ascending, each once, NULLs left out (NULL IN (…) is never true). nullopt if a
// value cannot narrow (KeyValueFor). As many keys as the statement's list has values.
absl::StatusOr<std::optional<std::vector<std::string>>> InListKeys(const TableInfo& table, int pos,
                                                                   Collation collation,
                                                                   sqlite3_value* list) {
  std::vector<std::string> keys;
  sqlite3_value* element = nullptr;
  int rc = sqlite3_vtab_in_first(list, &element);
  for (; rc == SQLITE_OK && element != nullptr; rc = sqlite3_vtab_in_next(list, &element)) {
    Value v = ValueFromSqlite(element);
    if (IsNull(v)) continue;
    std::optional<Value> kv = KeyValueFor(table, pos, std::move(v));
    if (!kv) return std::nullopt;
    std::string key;
    AppendValueKey(&key, *kv, collation, Direction::kAscending);
    keys.push_back(std::move(key));
  }
  if (rc != SQLITE_DONE && rc != SQLITE_OK) return SqliteError(rc, "reading an IN list");
  // One key column's encodings are prefix-free, so this is also the order of the
  // whole keys they go into.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// Sets cursor->rows to the rows at row_keys, in their order. For an index's entries:
// each must have its row.
absl::Status ReadRows(Vtab* vtab, Cursor* cursor, std::vector<std::string> row_keys) {
  absl::StatusOr<std::vector<std::optional<std::string>>> rows = vtab->context->GetMany(row_keys);
  if (!rows.ok()) return rows.status();
  cursor->rows.clear();
  cursor->entry_values.clear();
  for (size_t i = 0; i < row_keys.size(); ++i) {
    if (!(*rows)[i].has_value()) {
      return SqlError(
          sqlstate::kInternalError,
          absl::StrCat("index ", cursor->index->desc->name(), " of table ", vtab->table->name(),
                       " has an entry for a row that does not exist"));
    }
    cursor->rows.push_back(kv::KeyValue{std::move(row_keys[i]), std::move(*(*rows)[i])});
  }
  return absl::OkStatus();
}

// The row of an index entry (key, value) with the columns the entry holds exactly
// (ExactInKey; others NULL); nullopt where a value cannot be told from another with
// the same key: then the row is read.
std::optional<std::vector<Value>> ValuesOfEntry(const TableInfo& table, const IndexInfo& index,
                                                absl::string_view key, absl::string_view value) {
  std::vector<Value> row(table.num_columns(), Value(Null{}));
  // Sets row[pos] from the front of *src; false if the key cannot be read or the
  // value is ambiguous.
  auto take = [&](absl::string_view* src, int pos, Collation collation) -> bool {
    absl::StatusOr<Value> v = ConsumeValueKey(src, Direction::kAscending);
    if (!v.ok()) return false;
    if (!ExactInKey(table, pos, collation)) return true;  // not used (IndexCovers)
    const int64_t* i = std::get_if<int64_t>(&*v);
    switch (table.affinity(pos)) {
      case Affinity::kReal:  // its numbers are REAL: a whole one reads as INTEGER
        if (i != nullptr) *v = static_cast<double>(*i);
        break;
      case Affinity::kInteger:
      case Affinity::kNumeric:
        // REAL -2^63 stays REAL (IntegerIfExact) and shares INTEGER -2^63's key.
        if (i != nullptr && *i == std::numeric_limits<int64_t>::min()) return false;
        break;
      case Affinity::kText:  // holds no numbers, but if it did: 1 or 1.0?
        if (i != nullptr || std::holds_alternative<double>(*v)) return false;
        break;
      case Affinity::kBlob:
        return false;
    }
    row[pos] = *std::move(v);
    return true;
  };
  if (!absl::StartsWith(key, index.prefix)) return std::nullopt;
  key.remove_prefix(index.prefix.size());
  for (size_t k = 0; k < index.columns.size(); ++k) {
    if (!take(&key, index.columns[k], index.collations[k])) return std::nullopt;
  }
  const std::vector<int>& pk = table.pk_columns();
  for (size_t k = 0; k < pk.size(); ++k) {
    if (!take(&value, pk[k], table.pk_collations()[k])) return std::nullopt;
  }
  return row;
}

// Sets cursor->rows to the rows of index entries, in their order: read with GetMany
// (ReadRows), or for an index-only plan decoded from the entries (ValuesOfEntry),
// reading only the rows of entries that cannot be decoded exactly.
absl::Status ReadEntries(Vtab* vtab, Cursor* cursor, std::vector<kv::KeyValue> entries) {
  const TableInfo& table = *vtab->table;
  std::vector<std::string> row_keys;
  row_keys.reserve(entries.size());
  if (!cursor->covering) {
    for (const kv::KeyValue& entry : entries) row_keys.push_back(table.RowKeyOfEntry(entry.value));
    return ReadRows(vtab, cursor, std::move(row_keys));
  }
  cursor->rows.clear();
  cursor->entry_values.clear();
  std::vector<size_t> unread;  // positions in rows of the rows to read
  for (kv::KeyValue& entry : entries) {
    std::optional<std::vector<Value>> values =
        ValuesOfEntry(table, *cursor->index, entry.key, entry.value);
    if (!values) {
      unread.push_back(cursor->rows.size());
      row_keys.push_back(table.RowKeyOfEntry(entry.value));
    }
    cursor->rows.push_back(kv::KeyValue{table.RowKeyOfEntry(entry.value), ""});
    cursor->entry_values.push_back(values ? *std::move(values) : std::vector<Value>());
  }
  if (row_keys.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<std::optional<std::string>>> rows = vtab->context->GetMany(row_keys);
  if (!rows.ok()) return rows.status();
  for (size_t i = 0; i < unread.size(); ++i) {
    if (!(*rows)[i].has_value()) {
      return SqlError(sqlstate::kInternalError,
                      absl::StrCat("index ", cursor->index->desc->name(), " of table ",
                                   table.name(), " has an entry for a row that does not exist"));
    }
    cursor->rows[unread[i]].value = std::move(*(*rows)[i]);
  }
  return absl::OkStatus();
}

// The next page's size; the one after it is twice as large, up to kv::kScanPageRows.
int64_t TakePageRows(Cursor* cursor) {
  const int64_t page_rows = cursor->page_rows;
  cursor->page_rows = std::min<int64_t>(page_rows * 2, kv::kScanPageRows);
  return page_rows;
}

// Keeps the first Cursor::rows_left of rows (rows, or index entries before their rows
// are read) and counts them off: a LIMIT's cap.
void CountOff(Cursor* cursor, std::vector<kv::KeyValue>* rows) {
  if (cursor->rows_left < 0) return;
  if (static_cast<int64_t>(rows->size()) > cursor->rows_left) rows->resize(cursor->rows_left);
  cursor->rows_left -= static_cast<int64_t>(rows->size());
}

// Reads the rows of the cursor's next page of point keys, in one GetMany (and for an
// index one more for the rows its entries point at, unless index-only). Keys without a value have
// no row.
absl::Status LoadPoints(Vtab* vtab, Cursor* cursor) {
  const size_t n = std::min<size_t>(TakePageRows(cursor), cursor->keys.size() - cursor->next_key);
  std::vector<std::string> keys(cursor->keys.begin() + cursor->next_key,
                                cursor->keys.begin() + cursor->next_key + n);
  cursor->next_key += n;
  cursor->pos = 0;
  cursor->decoded = false;
  cursor->rows.clear();
  cursor->entry_values.clear();
  absl::StatusOr<std::vector<std::optional<std::string>>> values = vtab->context->GetMany(keys);
  if (!values.ok()) return values.status();
  std::vector<kv::KeyValue> entries;
  std::vector<kv::KeyValue>& found = cursor->index == nullptr ? cursor->rows : entries;
  for (size_t i = 0; i < n; ++i) {
    if (!(*values)[i].has_value()) continue;
    found.push_back(kv::KeyValue{std::move(keys[i]), std::move(*(*values)[i])});
  }
  CountOff(cursor, &found);
  if (cursor->index == nullptr || entries.empty()) return absl::OkStatus();
  return ReadEntries(vtab, cursor, std::move(entries));
}

// Reads the next page of the cursor's current span: rows, or index entries and then
// the rows they point at. Moves on to the next span when this one is done.
absl::Status LoadPage(Vtab* vtab, Cursor* cursor) {
  const KeySpan& span = cursor->spans[cursor->span];
  int64_t page_rows = TakePageRows(cursor);
  if (cursor->rows_left >= 0) page_rows = std::min(page_rows, cursor->rows_left);
  absl::StatusOr<ScanPage> page =
      cursor->reverse ? vtab->context->ReverseScan(span.start, cursor->resume_key, page_rows)
                      : vtab->context->Scan(cursor->resume_key, span.end, page_rows);
  if (!page.ok()) return page.status();
  cursor->pos = 0;
  cursor->decoded = false;
  cursor->resume_key = std::move(page->resume_key);
  if (cursor->resume_key.empty() && ++cursor->span < cursor->spans.size()) {
    const KeySpan& next = cursor->spans[cursor->span];
    cursor->resume_key = cursor->reverse ? next.end : next.start;
  }
  // The session's writes merged in may make the page longer than asked.
  CountOff(cursor, &page->rows);
  if (cursor->index == nullptr) {
    cursor->rows = std::move(page->rows);
    cursor->entry_values.clear();
    return absl::OkStatus();
  }
  // The rows the page's entries point at: read together, a few round trips a page
  // (none for an index-only plan).
  return ReadEntries(vtab, cursor, std::move(page->rows));
}

// The key columns a plan fixes, as xFilter's values give them.
struct FixedColumns {
  bool empty = false;                // no row can match ("= NULL", an IN list of NULLs)
  bool widened = false;              // a value could not narrow: only `prefix` holds
  std::string prefix;                // the fixed columns before the IN column (or a widened one)
  std::string suffix;                // the fixed columns after the IN column
  std::vector<std::string> in_keys;  // the IN column's keys (InListKeys)
  int next_arg = 0;                  // argv after the fixed columns'
};

// Encodes the plan's fixed key columns from argv, after `base`.
absl::StatusOr<FixedColumns> FixColumns(const TableInfo& table, const PlanCode& plan,
                                        const std::vector<int>& columns,
                                        const std::vector<Collation>& collations,
                                        const std::string& base, int argc, sqlite3_value** argv) {
  FixedColumns fixed;
  fixed.prefix = base;
  int& arg = fixed.next_arg;
  for (int k = 0; k < plan.n_eq && arg < argc; ++k, ++arg) {
    std::string* dst = plan.in_column >= 0 && k > plan.in_column ? &fixed.suffix : &fixed.prefix;
    if (plan.IsNull(k)) {  // NULL's key is the same under every collation
      AppendValueKey(dst, Null{}, collations[k], Direction::kAscending);
      continue;
    }
    if (k == plan.in_column) {
      absl::StatusOr<std::optional<std::vector<std::string>>> keys =
          InListKeys(table, columns[k], collations[k], argv[arg]);
      if (!keys.ok()) return keys.status();
      if (!keys->has_value()) {
        fixed.widened = true;
        return fixed;
      }
      fixed.empty = (*keys)->empty();
      if (fixed.empty) return fixed;
      fixed.in_keys = std::move(**keys);
      continue;
    }
    Value v = ValueFromSqlite(argv[arg]);
    fixed.empty = IsNull(v);  // "= NULL" is never true
    if (fixed.empty) return fixed;
    std::optional<Value> kv = KeyValueFor(table, columns[k], std::move(v));
    if (!kv) {
      fixed.widened = true;
      return fixed;
    }
    AppendValueKey(dst, *kv, collations[k], Direction::kAscending);
  }
  fixed.widened = arg < plan.n_eq;  // argv too short: only what was read narrows
  return fixed;
}

// The spans of a scan of key column n_eq within `whole` (the fixed columns' span):
// narrowed by the plan's bounds and pattern, from argv[arg] on. Empty when no row
// can match. Clears *exact if a row in them may fail a bound or the pattern.
std::vector<KeySpan> NarrowSpan(sqlite3* db, const TableInfo& table, const PlanCode& plan, int pos,
                                Collation collation, KeySpan whole, int arg, int argc,
                                sqlite3_value** argv, bool* exact) {
  const std::string prefix = whole.start;
  // A pattern narrows to the keys that start with its literal prefix, not to its matches.
  if (plan.pattern != PatternKind::kNone) *exact = false;
  // false: the result is empty.
  auto bound = [&](Bound op, bool is_lower) -> bool {
    if (op == Bound::kNone) return true;
    if (arg >= argc) {
      *exact = false;
      return true;
    }
    Value v = ValueFromSqlite(argv[arg++]);
    if (IsNull(v)) return false;  // a comparison with NULL is never true
    std::optional<Value> kv = KeyValueFor(table, pos, std::move(v));
    if (!kv) {  // cannot narrow: leave this side open
      *exact = false;
      return true;
    }
    std::string key = prefix;
    AppendValueKey(&key, *kv, collation, Direction::kAscending);
    if (is_lower) {
      whole.start = op == Bound::kStrict ? PrefixEnd(key) : key;
    } else {
      whole.end = op == Bound::kStrict ? key : PrefixEnd(key);
    }
    return true;
  };
  if (!bound(plan.lower, true) || !bound(plan.upper, false)) return {};
  // A comparison is never true of NULL, whose key sorts first (an index column's: a
  // primary-key column holds none): an upper bound alone, or a lower one that could
  // not narrow, would leave the NULLs in the span.
  if (plan.lower != Bound::kNone || plan.upper != Bound::kNone) {
    std::string null_key = prefix;
    AppendValueKey(&null_key, Null{}, collation, Direction::kAscending);
    whole.start = std::max(whole.start, PrefixEnd(std::move(null_key)));
  }
  // Any other pattern (NULL, a number, a BLOB) leaves the span whole, and so does
  // one longer than SQLite matches: it fails on every row, and so must the query.
  if (plan.pattern == PatternKind::kNone || arg >= argc ||
      sqlite3_value_type(argv[arg]) != SQLITE_TEXT ||
      sqlite3_value_bytes(argv[arg]) > sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, -1)) {
    return {whole};
  }
  const PatternOp op = plan.pattern == PatternKind::kLike ? PatternOp::kLike : PatternOp::kGlob;
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[arg]));
  const std::string literal =
      LiteralPrefix(absl::string_view(text, sqlite3_value_bytes(argv[arg])), op);
  if (literal.empty()) return {whole};
  std::vector<KeySpan> spans = PatternSpans(prefix, literal, op, PatternsMatchBlobs());
  for (KeySpan& span : spans) {  // and within the bounds: a row must satisfy both
    span.start = std::max(span.start, whole.start);
    span.end = std::min(span.end, whole.end);
  }
  return spans;
}

// What xFilter reads for plan and its argv values (the plan's own, without a LIMIT's):
// point keys (cursor->keys) or spans (cursor->spans), in output order; neither when
// no row can match. Returns whether they hold exactly the rows that satisfy the
// plan's constraints, as a LIMIT's cap needs: not if a value could not narrow its
// column, a pattern narrowed to its prefix, or a span's bound is longer than any key
// (the session clamps it, so the span widens).
absl::StatusOr<bool> ChooseReads(sqlite3* db, const TableInfo& table, const PlanCode& plan,
                                 int argc, sqlite3_value** argv, Cursor* cursor) {
  const IndexInfo* index = cursor->index;
  const std::vector<int>& columns = index ? index->columns : table.pk_columns();
  const std::vector<Collation>& collations = index ? index->collations : table.pk_collations();
  const std::string& base = index ? index->prefix : table.rows_start();
  absl::StatusOr<FixedColumns> fixed =
      FixColumns(table, plan, columns, collations, base, argc, argv);
  if (!fixed.ok()) return fixed.status();
  if (fixed->empty) return true;
  bool exact = !fixed->widened;
  const bool all_fixed = !fixed->widened && plan.n_eq == static_cast<int>(columns.size());
  const bool unique = index == nullptr || index->unique;
  if (all_fixed && unique && plan.is_null == 0) {  // point reads: one key, or one per IN value
    if (plan.in_column < 0) {
      cursor->keys.push_back(std::move(fixed->prefix));
    } else {
      for (const std::string& key : fixed->in_keys)
        cursor->keys.push_back(fixed->prefix + key + fixed->suffix);
    }
    if (cursor->reverse) std::reverse(cursor->keys.begin(), cursor->keys.end());
    return exact;
  }
  // A scan: of each IN value's span, or of the fixed columns' one span (for an IN
  // column only when a value widened: then what precedes the IN column narrows).
  std::vector<KeySpan> fixed_spans;
  if (!fixed->widened && plan.in_column >= 0) {
    for (const std::string& key : fixed->in_keys) {
      std::string start = fixed->prefix + key + fixed->suffix;
      std::string end = PrefixEnd(start);
      fixed_spans.push_back(KeySpan{std::move(start), std::move(end)});
    }
  } else {
    const std::string& prefix = fixed->prefix;
    fixed_spans.push_back(KeySpan{prefix, prefix == base
                                              ? (index ? index->prefix_end : table.rows_end())
                                              : PrefixEnd(prefix)});
  }
  std::vector<KeySpan> spans;
  const bool narrow = !fixed->widened && plan.n_eq < static_cast<int>(columns.size());
  for (KeySpan& span : fixed_spans) {
    if (!narrow) {
      spans.push_back(std::move(span));
      continue;
    }
    for (KeySpan& s : NarrowSpan(db, table, plan, columns[plan.n_eq], collations[plan.n_eq],
                                 std::move(span), fixed->next_arg, argc, argv, &exact)) {
      spans.push_back(std::move(s));
    }
  }
  for (KeySpan& span : spans) {
    if (span.start >= span.end) continue;
    if (span.start.size() > limits::kMaxKeyBytes || span.end.size() > limits::kMaxKeyBytes)
      exact = false;
    cursor->spans.push_back(std::move(span));
  }
  if (cursor->reverse) std::reverse(cursor->spans.begin(), cursor->spans.end());
  if (!cursor->spans.empty()) {
    cursor->resume_key = cursor->reverse ? cursor->spans[0].end : cursor->spans[0].start;
  }
  return exact;
}

// The rows a LIMIT taken lets xFilter read (Cursor::rows_left): LIMIT + OFFSET, from
// the values SQLite hands over (offset null: none). -1, no cap, for a negative LIMIT
// (SQLite's "no limit") and for a sum past int64. SQLite has made both integers
// (OP_MustBeInt: a LIMIT that is not one fails the statement before any xFilter);
// anything else is read without a cap. A negative OFFSET counts as 0, as in SQLite.
int64_t RowsToRead(sqlite3_value* limit, sqlite3_value* offset) {
  if (sqlite3_value_type(limit) != SQLITE_INTEGER) return -1;
  const int64_t n = sqlite3_value_int64(limit);
  if (n < 0) return -1;
  if (offset == nullptr) return n;
  if (sqlite3_value_type(offset) != SQLITE_INTEGER) return -1;
  const int64_t skip = std::max<int64_t>(0, sqlite3_value_int64(offset));
  if (skip > std::numeric_limits<int64_t>::max() - n) return -1;
  return n + skip;
}

}  // namespace

absl::Status Settle(Vtab* vtab, Cursor* cursor) {
  while (cursor->pos >= cursor->rows.size()) {
    absl::Status s;
    if (cursor->rows_left == 0) {  // a LIMIT's rows are all loaded
      break;
    } else if (cursor->next_key < cursor->keys.size()) {
      s = LoadPoints(vtab, cursor);
    } else if (cursor->span < cursor->spans.size()) {
      s = LoadPage(vtab, cursor);
    } else {
      break;
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

int Filter(sqlite3_vtab_cursor* base, int idx_num, const char* idx_str, int argc,
           sqlite3_value** argv) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* vtab = static_cast<Vtab*>(base->pVtab);
  const TableInfo& table = *vtab->table;
  if (absl::Status s = CheckCurrent(vtab); !s.ok()) return Fail(vtab, s);
  const PlanCode plan = PlanCode::Decode(idx_num);
  const PlanFlags flags = PlanFlags::Parse(idx_str);
  if (argc < flags.limit_args()) {
    return Fail(vtab, SqlError(sqlstate::kInternalError,
                               absl::StrCat("xFilter of table ", table.name(), " got ", argc,
                                            " values for plan ", idx_str ? idx_str : "")));
  }
  // The plan's own values come first, then LIMIT and OFFSET (PlanFlags).
  const int plan_argc = argc - flags.limit_args();
  const int64_t rows_to_read =
      flags.limit ? RowsToRead(argv[plan_argc], flags.offset ? argv[plan_argc + 1] : nullptr) : -1;
  cursor->rows.clear();
  cursor->entry_values.clear();
  cursor->pos = 0;
  cursor->decoded = false;
  cursor->keys.clear();
  cursor->next_key = 0;
  cursor->spans.clear();
  cursor->span = 0;
  cursor->resume_key.clear();
  cursor->rows_left = -1;
  cursor->reverse = plan.reverse;
  cursor->index = plan.index >= 0 ? &table.indexes().at(plan.index) : nullptr;
  cursor->covering = cursor->index != nullptr && flags.covering;
  absl::StatusOr<bool> exact = ChooseReads(vtab->db, table, plan, plan_argc, argv, cursor);
  if (!exact.ok()) return Fail(vtab, exact.status());
  // The cap holds only where every row read satisfies the plan's constraints: then
  // the first LIMIT + OFFSET of them, in the plan's order, are the query's.
  cursor->rows_left = *exact ? rows_to_read : -1;
  cursor->page_rows = kFirstPageRows;
  if (cursor->rows_left >= 0) {
    cursor->page_rows = std::clamp<int64_t>(cursor->rows_left, 1, kFirstPageRows);
  }
  if (absl::Status s = Settle(vtab, cursor); !s.ok()) return Fail(vtab, s);
  return SQLITE_OK;
}

}  // namespace rangedb::sql::vtab_internal
