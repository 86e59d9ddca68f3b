// RandomSql: seeded random schemas, data and statements for the differential test
// (sql/differential_test.cc), which runs them through rangedb and through plain
// SQLite and compares. Everything it generates is something rangedb claims to do
// exactly as SQLite does (docs/sql.md): primary-key columns are NOT NULL (rangedb
// refuses NULL keys, SQLite's rowid tables allow them), and no query reads the
// hidden rowid (its values differ by design).
//
// Thread safety: none; one generator per test.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace rangedb::sql::testing {

class RandomSql {
 public:
  explicit RandomSql(uint64_t seed) : rng_(seed) {}

  // CREATE TABLE / CREATE INDEX statements for n tables t0..t{n-1}.
  std::vector<std::string> Schema(int tables) {
    std::vector<std::string> out;
    for (int t = 0; t < tables; ++t) {
      Table table;
      table.name = absl::StrCat("t", t);
      const int columns = 2 + Int(3);
      static const char* kTypes[] = {
          "INTEGER", "TEXT", "REAL", "", "NUMERIC", "TEXT COLLATE NOCASE", "BLOB"};
      std::vector<std::string> defs;
      for (int c = 0; c < columns; ++c) {
        const std::string name = absl::StrCat("c", c);
        table.columns.push_back(name);
        std::string def = absl::StrCat(name, " ", kTypes[Int(7)]);
        if (Int(6) == 0) {
          absl::StrAppend(&def, " NOT NULL DEFAULT 0");
        } else if (Int(8) == 0) {
          absl::StrAppend(&def, " DEFAULT 'd'");
        }
        if (Int(8) == 0) {
          absl::StrAppend(&def, " UNIQUE");
          table.unique_columns.insert(name);
        }
        defs.push_back(def);
      }
      const int pk = Int(4);  // 0: none, 1: INTEGER PRIMARY KEY, 2: one column, 3: two columns
      std::string create = absl::StrCat("CREATE TABLE ", table.name, " (");
      if (pk == 1) {
        create += "id INTEGER PRIMARY KEY, ";
        table.columns.insert(table.columns.begin(), "id");
      }
      create += absl::StrJoin(defs, ", ");
      if (pk == 1) table.unique_columns.insert("id");
      if (pk >= 2) table.unique_columns.insert("c0");
      if (pk == 3) table.unique_columns.insert("c1");
      if (pk == 2) absl::StrAppend(&create, ", PRIMARY KEY (c0)");
      if (pk == 3) absl::StrAppend(&create, ", PRIMARY KEY (c0, c1)");
      if (pk >= 2) {
        // Key columns NOT NULL: see the header.
        create = absl::StrCat(create, ", CHECK (c0 IS NOT NULL)",
                              pk == 3 ? ", CHECK (c1 IS NOT NULL)" : "");
      }
      if (Int(4) == 0) absl::StrAppend(&create, ", CHECK (length(CAST(c1 AS TEXT)) < 6)");
      create += ")";
      out.push_back(create);
      for (int i = Int(3); i > 0; --i) {
        out.push_back(absl::StrCat("CREATE ", Int(3) == 0 ? "UNIQUE " : "", "INDEX ", table.name,
                                   "_i", i, " ON ", table.name, " (", Column(table),
                                   Int(2) ? absl::StrCat(", ", Column(table)) : "", ")"));
        // Read back from the text, so that the random choices stay as they were.
        if (absl::StartsWith(out.back(), "CREATE UNIQUE")) {
          const size_t open = out.back().find('(');
          for (absl::string_view c : absl::StrSplit(
                   absl::string_view(out.back()).substr(open + 1, out.back().size() - open - 2),
                   ", ")) {
            table.unique_columns.insert(std::string(c));
          }
        }
      }
      tables_.push_back(table);
    }
    return out;
  }

  // One random statement over the schema.
  std::string Statement() {
    const Table& t = tables_[Int(tables_.size())];
    switch (Int(14)) {
      case 0:
      case 1:
      case 2:
      case 3:
        return Insert(t);
      case 4: {
        std::string update =
            absl::StrCat("UPDATE ", Int(4) == 0 ? "OR IGNORE " : "", t.name, " SET ", Column(t),
                         " = ", Literal(), " WHERE ", Predicate(t));
        // OR IGNORE setting a unique column to one value over several rows keeps
        // whichever row the scan met first: an order SQL leaves open (and plain
        // SQLite's plan and rangedb's differ). Only an UPDATE whose outcome is fixed
        // is compared.
        const size_t set = update.find(" SET ") + 5;
        const std::string column = update.substr(set, update.find(' ', set) - set);
        if (t.unique_columns.count(column) > 0 && absl::StartsWith(update, "UPDATE OR IGNORE "))
          update.erase(7, 10);
        return update;
      }
      case 5:
        return absl::StrCat("DELETE FROM ", t.name, " WHERE ", Predicate(t));
      case 6: {
        static const char* kTxn[] = {"BEGIN",       "COMMIT",        "ROLLBACK",
                                     "SAVEPOINT s", "ROLLBACK TO s", "RELEASE s"};
        return kTxn[Int(6)];
      }
      case 7: {
        const Table& u = tables_[Int(tables_.size())];
        std::string join =
            absl::StrCat("SELECT ", t.name, ".", Column(t), ", ", u.name, ".", Column(u), " FROM ",
                         t.name, " JOIN ", u.name, " ON ", t.name, ".", Column(t), " = ", u.name,
                         ".", Column(u), " ORDER BY 1, 2");
        // Values that compare equal may print differently (0 and 0.0, 'A' and 'a' under
        // NOCASE), and SQL leaves the order of ties open: break them by type and exact
        // text. (Read back from the text, so that the random choices stay as they were.)
        const size_t from = join.find(" FROM ");
        const std::vector<std::string> selected = absl::StrSplit(join.substr(7, from - 7), ", ");
        join.resize(join.size() - std::string(" ORDER BY 1, 2").size());
        absl::StrAppend(&join, " ORDER BY 1, typeof(", selected[0], "), quote(", selected[0],
                        "), 2, typeof(", selected[1], "), quote(", selected[1], ")");
        return join;
      }
      case 8:
        return absl::StrCat("SELECT count(*), count(", Column(t), "), typeof(max(", Column(t),
                            ")) FROM ", t.name, " WHERE ", Predicate(t));
      default:
        return absl::StrCat(
            "SELECT ", AllColumns(t), " FROM ", t.name, " WHERE ", Predicate(t),
            Int(3) == 0 ? absl::StrCat(" ORDER BY ", AllColumns(t), " LIMIT ", Int(5)) : "");
    }
  }

 private:
  struct Table {
    std::string name;
    std::vector<std::string> columns;
    // Columns in a PRIMARY KEY, UNIQUE constraint or unique index.
    std::set<std::string> unique_columns;
  };

  int Int(size_t n) {
    return static_cast<int>(std::uniform_int_distribution<size_t>(0, n - 1)(rng_));
  }

  std::string Column(const Table& t) { return t.columns[Int(t.columns.size())]; }

  std::string AllColumns(const Table& t) {
    std::vector<std::string> parts;
    for (const std::string& c : t.columns) {
      parts.push_back(c);
      parts.push_back(absl::StrCat("typeof(", c, ")"));
    }
    return absl::StrJoin(parts, ", ");
  }

  std::string Literal() {
    switch (Int(10)) {
      case 0:
        return "NULL";
      case 1:
        return absl::StrCat(Int(20) - 5);
      case 2:
        return absl::StrCat(Int(20) - 5, ".5");
      case 3:
        return absl::StrCat("'", Int(20), "'");
      case 4:
        return absl::StrCat(Int(10), ".0");
      case 5: {
        static const char* kWords[] = {"'a'", "'A'", "'b'", "'abc'", "'a '", "''", "' 7'"};
        return kWords[Int(7)];
      }
      case 6:
        return absl::StrCat("x'0", Int(3), "'");
      case 7:
        // Large integers, but not the largest: once an INTEGER PRIMARY KEY holds it,
        // SQLite (and rangedb) choose new keys at random.
        return Int(2) ? "4611686018427387904" : "9007199254740993";
      case 8:
        return absl::StrCat("'", Int(3), ".0'");
      default:
        return absl::StrCat(Int(8));
    }
  }

  std::string Predicate(const Table& t) {
    const std::string c = Column(t);
    switch (Int(8)) {
      case 0:
        return absl::StrCat(c, " = ", Literal());
      case 1:
        return absl::StrCat(c, " > ", Literal());
      case 2:
        return absl::StrCat(c, " <= ", Literal());
      case 3:
        return absl::StrCat(c, " BETWEEN ", Literal(), " AND ", Literal());
      case 4:
        return absl::StrCat(c, " IN (", Literal(), ", ", Literal(), ")");
      case 5:
        return absl::StrCat(c, " IS NULL");
      case 6:
        return absl::StrCat(c, " = ", Literal(), " AND ", Column(t), " >= ", Literal());
      default:
        return "1";
    }
  }

  std::string Insert(const Table& t) {
    static const char* kModes[] = {"", "", "OR IGNORE ", "OR REPLACE ", "OR FAIL ", "OR ABORT "};
    std::string columns;
    std::vector<std::string> named;
    const bool some = Int(3) == 0;
    for (const std::string& c : t.columns) {
      if (!some || Int(2) == 0) named.push_back(c);
    }
    if (named.empty()) named.push_back(t.columns.back());
    std::vector<std::string> rows;
    for (int r = 1 + Int(3); r > 0; --r) {
      std::vector<std::string> values;
      for (size_t i = 0; i < named.size(); ++i) {
        // An INTEGER PRIMARY KEY never gets the largest integer: after it SQLite
        // (and rangedb) pick the next keys at random.
        values.push_back(named[i] == "id" ? (Int(3) == 0 ? "NULL" : absl::StrCat(Int(30)))
                                          : Literal());
      }
      rows.push_back(absl::StrCat("(", absl::StrJoin(values, ", "), ")"));
    }
    return absl::StrCat("INSERT ", kModes[Int(6)], "INTO ", t.name, " (",
                        absl::StrJoin(named, ", "), ") VALUES ", absl::StrJoin(rows, ", "));
  }

  std::mt19937_64 rng_;
  std::vector<Table> tables_;
};

}  // namespace rangedb::sql::testing
