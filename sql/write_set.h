// WriteSet: the writes of the session's open transaction, held in the session until
// commit (docs/design/sql.md "Sessions and transactions").
//
// Every Put or Delete is recorded with what the key held in the set before it, so
// the set can go back to any earlier Mark: a failed statement leaves none of its
// writes (statement atomicity, without any callback from SQLite), and ROLLBACK TO a
// savepoint undoes everything after it. Reads merge the set over the transaction's
// KV reads (Lookup, Range). At commit, the final state of every key goes to the Txn
// (ApplyTo), so an autocommit statement sends its writes together with EndTxn.
//
// Bounds: the keys and values held, and the undo entries, are counted in bytes()
// against max_bytes; a write past it fails with 54000 and changes nothing.
//
// Thread safety: none; used by the session's thread.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "txn/txn.h"

namespace rangedb::sql {

class WriteSet {
 public:
  // nullopt: the key is deleted.
  using Entry = std::optional<std::string>;

  explicit WriteSet(size_t max_bytes) : max_bytes_(max_bytes) {}

  [[nodiscard]] absl::Status Put(absl::string_view key, absl::string_view value);
  [[nodiscard]] absl::Status Delete(absl::string_view key);

  // What the set holds for key: nullptr if it never wrote it, else its entry.
  const Entry* Lookup(absl::string_view key) const;
  // The entries in [start, end), in key order.
  std::map<std::string, Entry, std::less<>>::const_iterator RangeBegin(
      absl::string_view start) const;
  std::map<std::string, Entry, std::less<>>::const_iterator End() const { return entries_.end(); }

  // A point to go back to.
  size_t Mark() const { return undo_.size(); }
  // Undoes every write made after mark.
  void RollbackTo(size_t mark);

  // Sends the final state of every key to txn (Put or Delete), in key order.
  [[nodiscard]] absl::Status ApplyTo(txn::Txn& txn) const;

  void Clear();
  bool empty() const { return entries_.empty(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Undo {
    std::string key;
    std::optional<Entry> previous;  // nullopt: the key was not in the set
  };
  absl::Status Write(absl::string_view key, Entry entry);
  static size_t EntryBytes(absl::string_view key, const Entry& entry) {
    return key.size() + (entry ? entry->size() : 0) + 16;
  }

  const size_t max_bytes_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<Undo> undo_;
  size_t bytes_ = 0;  // entries_ and undo_, approximately
};

}  // namespace rangedb::sql
