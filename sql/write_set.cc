#include "sql/write_set.h"

#include "absl/strings/str_cat.h"
#include "base/limits.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {

absl::Status WriteSet::Put(absl::string_view key, absl::string_view value) {
  return Write(key, std::string(value));
}

absl::Status WriteSet::Delete(absl::string_view key) { return Write(key, std::nullopt); }

absl::Status WriteSet::Write(absl::string_view key, Entry entry) {
  // The key space's limits (docs/limits.md), checked here so that the statement
  // fails, not the commit of the whole transaction.
  if (key.size() > limits::kMaxKeyBytes) {
    return SqlError(
        sqlstate::kProgramLimitExceeded,
        absl::StrCat("a key of ", key.size(), " bytes is over the limit of ", limits::kMaxKeyBytes,
                     " bytes (a primary-key or indexed value is too long; docs/limits.md)"));
  }
  if (entry.has_value() && entry->size() > limits::kMaxValueBytes) {
    return SqlError(sqlstate::kProgramLimitExceeded,
                    absl::StrCat("a row of ", entry->size(), " bytes is over the limit of ",
                                 limits::kMaxValueBytes, " bytes (docs/limits.md)"));
  }
  auto it = entries_.find(key);
  std::optional<Entry> previous;
  if (it != entries_.end()) previous = it->second;
  const size_t added = EntryBytes(key, entry) + EntryBytes(key, previous ? *previous : Entry{});
  if (bytes_ + added > max_bytes_) {
    return SqlError(sqlstate::kProgramLimitExceeded,
                    absl::StrCat("transaction too large: its writes would take more than ",
                                 max_bytes_, " bytes (docs/limits.md)"));
  }
  bytes_ += added;
  undo_.push_back(Undo{std::string(key), std::move(previous)});
  if (it != entries_.end()) {
    it->second = std::move(entry);
  } else {
    entries_.emplace(std::string(key), std::move(entry));
  }
  return absl::OkStatus();
}

const WriteSet::Entry* WriteSet::Lookup(absl::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

std::map<std::string, WriteSet::Entry, std::less<>>::const_iterator WriteSet::RangeBegin(
    absl::string_view start) const {
  return entries_.lower_bound(start);
}

void WriteSet::RollbackTo(size_t mark) {
  while (undo_.size() > mark) {
    Undo& undo = undo_.back();
    auto it = entries_.find(undo.key);
    const size_t current = it == entries_.end() ? 0 : EntryBytes(undo.key, it->second);
    const size_t previous = EntryBytes(undo.key, undo.previous ? *undo.previous : Entry{});
    bytes_ -= std::min(bytes_, current + previous);
    if (undo.previous) {
      entries_[undo.key] = std::move(*undo.previous);
    } else if (it != entries_.end()) {
      entries_.erase(it);
    }
    undo_.pop_back();
  }
}

absl::Status WriteSet::ApplyTo(txn::Txn& txn) const {
  for (const auto& [key, entry] : entries_) {
    absl::Status s = entry ? txn.Put(key, *entry) : txn.Delete(key);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void WriteSet::Clear() {
  entries_.clear();
  undo_.clear();
  bytes_ = 0;
}

}  // namespace rangedb::sql
