#include "sql/statement_cache.h"

#include <utility>

namespace rangedb::sql {

StatementCache::StatementCache(size_t max_entries, size_t max_text_bytes)
    : max_entries_(max_entries), max_text_bytes_(max_text_bytes) {}

std::optional<StatementCache::Entry> StatementCache::Take(absl::string_view text) {
  auto it = by_text_.find(text);
  if (it == by_text_.end()) return std::nullopt;
  Entry entry = std::move(it->second.entry);
  lru_.erase(it->second.lru);
  by_text_.erase(it);
  return entry;
}

void StatementCache::Put(absl::string_view text, Entry entry) {
  if (entry.stmt == nullptr || text.size() > max_text_bytes_ || max_entries_ == 0) return;
  sqlite3_reset(entry.stmt.get());
  sqlite3_clear_bindings(entry.stmt.get());
  if (auto it = by_text_.find(text); it != by_text_.end()) {  // one of each text
    lru_.erase(it->second.lru);
    by_text_.erase(it);
  }
  while (by_text_.size() >= max_entries_) {
    by_text_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.emplace_front(text);
  by_text_.emplace(std::string(text), Kept{std::move(entry), lru_.begin()});
}

void StatementCache::Clear() {
  by_text_.clear();
  lru_.clear();
}

}  // namespace rangedb::sql
