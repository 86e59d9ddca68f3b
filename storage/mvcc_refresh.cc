// Refresh: has anything been written in a span between two timestamps?
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb {

absl::Status MVCCCheckNoWritesBetween(Reader& reader, absl::string_view start,
                                      absl::string_view end, Timestamp from, Timestamp to,
                                      absl::string_view own_txn_id) {
  IterOptions options;
  options.lower_bound = MVCCKeyPrefix(start);
  options.upper_bound = end.empty() ? MVCCKeyEnd(start) : MVCCKeyPrefix(end);
  options.single_key = end.empty();
  std::unique_ptr<Iterator> it = reader.NewIterator(options);
  std::string user_key;
  for (it->Seek(options.lower_bound); it->Valid();) {
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &user_key, &ts); !s.ok()) return s;
    // Versions are newest first: skip those above `to`, stop at the first at or
    // below `from` (everything older is older still).
    if (ts.IsEmpty() || ts > to) {
      it->Next();
      continue;
    }
    if (ts > from) {
      absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it->value());
      if (!value.ok()) return value.status();
      bool own = false;
      if (value->provisional) {
        proto::LockTableEntry entry;
        absl::StatusOr<bool> found = ReadLockEntry(reader, user_key, &entry);
        if (!found.ok()) return found.status();
        own = *found && entry.txn().id() == own_txn_id;
      }
      if (!own) {
        return absl::AbortedError(absl::StrCat("refresh failed: key ", absl::CHexEscape(user_key),
                                               " has a ", value->provisional ? "intent" : "version",
                                               " at ", ts.ToString(),
                                               ", written after the read at ", from.ToString()));
      }
      it->Next();
      continue;
    }
    // The newest version at or below `from`. Another transaction's intent here may
    // still commit above `from` (the read at `from` pushed it there and saw no
    // value), possibly at or below `to`: the refreshed read would then see a write
    // the original read did not. Only a committed version here is safe.
    absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it->value());
    if (!value.ok()) return value.status();
    if (value->provisional) {
      proto::LockTableEntry entry;
      absl::StatusOr<bool> found = ReadLockEntry(reader, user_key, &entry);
      if (!found.ok()) return found.status();
      if (!*found || entry.txn().id() != own_txn_id) {
        return absl::AbortedError(absl::StrCat(
            "refresh failed: key ", absl::CHexEscape(user_key), " has an intent at ", ts.ToString(),
            " of another transaction, which may commit after the read at ", from.ToString()));
      }
    }
    it->Seek(MVCCKeyEnd(user_key));
  }
  return it->status();
}

}  // namespace rangedb
