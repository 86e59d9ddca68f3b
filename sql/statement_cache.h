// StatementCache: one connection's prepared statements by SQL text, so that a
// statement a client runs again (a point SELECT with new parameters) is not parsed
// and planned again (docs/design/sql-point-path.md).
//
// Take hands a statement out (reset, its bindings cleared) and removes it, so no
// statement is ever run twice at once; Put gives it back. The owner clears the cache
// whenever the connection's schema changes (a statement refers to the tables it was
// planned against).
//
// Bounds: max_entries statements (the least recently used goes first) and texts of
// at most max_text_bytes (a longer one is finalized instead of kept).
//
// Thread safety: as the connection (one thread at a time).
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "sql/sqlite_util.h"

namespace rangedb::sql {

class StatementCache {
 public:
  struct Entry {
    Stmt stmt;
    size_t length = 0;  // of the statement within the text it was prepared from
  };

  StatementCache(size_t max_entries, size_t max_text_bytes);

  // The statement prepared from text (the same bytes), ready to bind and step; nullopt
  // if none is kept.
  std::optional<Entry> Take(absl::string_view text);
  // Keeps entry for the next Take(text), after resetting it and clearing its
  // bindings.
  void Put(absl::string_view text, Entry entry);
  // Finalizes every statement kept.
  void Clear();
  size_t size() const { return by_text_.size(); }

 private:
  using Lru = std::list<std::string>;  // texts, most recently used first
  struct Kept {
    Entry entry;
    Lru::iterator lru;
  };
  const size_t max_entries_;
  const size_t max_text_bytes_;
  Lru lru_;
  std::map<std::string, Kept, std::less<>> by_text_;
};

}  // namespace rangedb::sql
