// MVCC reads: MVCCGet, MVCCScan and the per-key visibility rules they share.
#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_internal.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb {
namespace mvcc_internal {
namespace {

// True while `it` is on a versioned entry of the user key with this prefix.
bool OnVersionOf(const Iterator& it, absl::string_view prefix) {
  return it.Valid() && it.key().size() == prefix.size() + kMVCCTimestampBytes &&
         absl::StartsWith(it.key(), prefix);
}

absl::StatusOr<Timestamp> VersionTimestamp(const Iterator& it, absl::string_view prefix) {
  Timestamp ts;
  if (!DecodeMVCCTimestampSuffix(it.key().substr(prefix.size()), &ts)) {
    return absl::DataLossError(
        absl::StrCat("malformed MVCC timestamp in key ", absl::CHexEscape(it.key())));
  }
  return ts;
}

struct OwnValue {
  bool deleted;
  std::string payload;
};

// The value a transaction sees of its own intent (same epoch): its latest write at
// or below its current sequence outside ignored ranges, if any.
std::optional<OwnValue> OwnIntentValue(const proto::LockTableEntry& lock, const MVCCValue& value,
                                       const TxnContext& txn) {
  const int32_t seq = txn.meta.sequence;
  if (lock.txn().sequence() <= seq && !txn.IsIgnored(lock.txn().sequence())) {
    return OwnValue{value.tombstone, std::string(value.payload)};
  }
  for (int i = lock.history_size() - 1; i >= 0; --i) {
    const proto::IntentHistoryEntry& e = lock.history(i);
    if (e.sequence() <= seq && !txn.IsIgnored(e.sequence())) {
      return OwnValue{e.deleted(), e.value()};
    }
  }
  return std::nullopt;
}

// Moves `it` past the versions of prefix newer than `limit`.
absl::Status SkipVersionsAbove(Iterator& it, absl::string_view user_key, absl::string_view prefix,
                               Timestamp limit) {
  for (int nexts = 0; OnVersionOf(it, prefix); ++nexts) {
    absl::StatusOr<Timestamp> ts = VersionTimestamp(it, prefix);
    if (!ts.ok()) return ts.status();
    if (*ts <= limit) return absl::OkStatus();
    if (nexts == kNextsBeforeSeek) {
      it.Seek(EncodeMVCCKey(user_key, limit));
      return absl::OkStatus();
    }
    it.Next();
  }
  return absl::OkStatus();
}

bool WasPushed(const MVCCReadOptions& options, absl::string_view txn_id) {
  if (options.pushed_txn_ids == nullptr) return false;
  for (const std::string& id : *options.pushed_txn_ids) {
    if (id == txn_id) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<KeyRead> ReadKey(Reader& reader, Iterator& it, absl::string_view user_key,
                                absl::string_view prefix, Timestamp read_timestamp,
                                const MVCCReadOptions& options) {
  KeyRead out;
  const Timestamp limit = std::max(read_timestamp, options.uncertainty_limit);
  if (!OnVersionOf(it, prefix)) return out;

  absl::StatusOr<MVCCValue> newest = DecodeMVCCValue(it.value());
  if (!newest.ok()) return newest.status();
  if (newest->provisional) {
    absl::StatusOr<Timestamp> ts = VersionTimestamp(it, prefix);
    if (!ts.ok()) return ts.status();
    proto::LockTableEntry lock;
    absl::StatusOr<bool> found = ReadLockEntry(reader, user_key, &lock);
    if (!found.ok()) return found.status();
    if (!*found) {
      return absl::DataLossError(absl::StrCat(
          "provisional version of key ", absl::CHexEscape(user_key), " has no lock-table entry"));
    }
    const TxnContext* txn = options.txn;
    if (txn != nullptr && lock.txn().id() == txn->meta.id) {
      if (lock.txn().epoch() > txn->meta.epoch) {
        return absl::FailedPreconditionError(
            absl::StrCat("transaction at epoch ", txn->meta.epoch, " read its own intent of epoch ",
                         lock.txn().epoch(), " on key ", absl::CHexEscape(user_key)));
      }
      if (lock.txn().epoch() == txn->meta.epoch) {
        std::optional<OwnValue> own = OwnIntentValue(lock, *newest, *txn);
        if (own.has_value()) {
          if (own->deleted) return out;
          out.kind = KeyRead::Kind::kValue;
          out.value = std::move(own->payload);
          out.timestamp = *ts;
          return out;
        }
      }
    } else if (*ts <= read_timestamp || (*ts <= limit && !WasPushed(options, lock.txn().id()))) {
      out.kind = KeyRead::Kind::kConflict;
      out.conflict_txn = TxnMetaFromProto(lock.txn());
      return out;
    }
    it.Next();  // the intent is invisible to this reader: read below it
  }

  absl::Status s = SkipVersionsAbove(it, user_key, prefix, limit);
  if (!s.ok()) return s;
  if (!OnVersionOf(it, prefix)) return out;
  absl::StatusOr<Timestamp> ts = VersionTimestamp(it, prefix);
  if (!ts.ok()) return ts.status();
  if (*ts > read_timestamp) return UncertaintyError(user_key, read_timestamp, *ts);
  absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it.value());
  if (!value.ok()) return value.status();
  if (value->provisional) {
    return absl::DataLossError(absl::StrCat("provisional version of key ",
                                            absl::CHexEscape(user_key), " below its newest"));
  }
  if (value->tombstone) return out;
  out.kind = KeyRead::Kind::kValue;
  out.value.assign(value->payload.data(), value->payload.size());
  out.timestamp = *ts;
  return out;
}

}  // namespace mvcc_internal

using mvcc_internal::KeyRead;

absl::StatusOr<MVCCGetResult> MVCCGet(Reader& reader, absl::string_view key,
                                      Timestamp read_timestamp, const MVCCReadOptions& options) {
  const std::string prefix = MVCCKeyPrefix(key);
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, prefix, MVCCKeyEnd(key), /*single_key=*/true});
  it->Seek(prefix);
  if (it->Valid() && it->key().size() == prefix.size()) it->Next();  // unversioned entry

  absl::StatusOr<KeyRead> read =
      mvcc_internal::ReadKey(reader, *it, key, prefix, read_timestamp, options);
  if (!read.ok()) return read.status();
  if (absl::Status s = it->status(); !s.ok()) return s;
  MVCCGetResult result;
  switch (read->kind) {
    case KeyRead::Kind::kNone:
      break;
    case KeyRead::Kind::kConflict:
      return LockConflictError({{std::string(key), read->conflict_txn}});
    case KeyRead::Kind::kValue:
      result.found = true;
      result.value = std::move(read->value);
      result.timestamp = read->timestamp;
      break;
  }
  return result;
}

namespace {

// Accumulates a scan's rows and conflicts and applies its limits.
class ScanCollector {
 public:
  ScanCollector(absl::string_view start, absl::string_view end, const MVCCScanOptions& options)
      : start_(start), end_(end), options_(options) {}

  // Returns false when the scan must stop (a limit was reached after this key).
  bool Add(const std::string& user_key, KeyRead& read) {
    if (read.kind == KeyRead::Kind::kConflict) {
      if (static_cast<int64_t>(conflicts_.size()) < options_.max_conflicts) {
        conflicts_.push_back({user_key, read.conflict_txn});
      }
      return static_cast<int64_t>(conflicts_.size()) < options_.max_conflicts;
    }
    if (read.kind != KeyRead::Kind::kValue) return true;
    result_.num_bytes += static_cast<int64_t>(user_key.size() + read.value.size());
    result_.rows.push_back({user_key, std::move(read.value), read.timestamp});
    const bool full =
        (options_.max_keys > 0 && static_cast<int64_t>(result_.rows.size()) >= options_.max_keys) ||
        (options_.target_bytes > 0 && result_.num_bytes >= options_.target_bytes);
    if (full) {
      // Resume just after this key (forward) or just before it (reverse); the
      // smallest key after k is k + "\x00".
      result_.resume_span = options_.reverse ? KeySpan{start_, user_key}
                                             : KeySpan{user_key + std::string(1, '\0'), end_};
    }
    return !full;
  }

  absl::StatusOr<MVCCScanResult> Finish() {
    if (!conflicts_.empty()) return LockConflictError(conflicts_);
    return std::move(result_);
  }

 private:
  const std::string start_, end_;
  const MVCCScanOptions& options_;
  MVCCScanResult result_;
  std::vector<LockConflict> conflicts_;
};

// Positions `it` on the first entry of the user key after the one with `prefix`.
void NextUserKey(Iterator& it, const std::string& prefix) {
  for (int nexts = 0; it.Valid() && absl::StartsWith(it.key(), prefix); ++nexts) {
    if (nexts == mvcc_internal::kNextsBeforeSeek) {
      std::string end = prefix;
      end.back() = '\x02';
      it.Seek(end);
      return;
    }
    it.Next();
  }
}

absl::Status ScanForward(Reader& reader, Iterator& it, Timestamp ts, const MVCCScanOptions& options,
                         ScanCollector& collector) {
  std::string user_key, prefix;
  it.SeekToFirst();
  while (it.Valid()) {
    const absl::string_view key = it.key();
    const absl::string_view key_prefix = MVCCEncodedPrefix(key);
    if (key_prefix.empty()) {
      return absl::DataLossError(absl::StrCat("malformed MVCC key ", absl::CHexEscape(key)));
    }
    if (key.size() == key_prefix.size()) {  // unversioned entry: not MVCC data
      it.Next();
      continue;
    }
    prefix.assign(key_prefix.data(), key_prefix.size());
    UserKeyOfMVCCPrefix(key_prefix, &user_key);
    Timestamp newest_ts;
    if (!DecodeMVCCTimestampSuffix(key.substr(key_prefix.size()), &newest_ts)) {
      return absl::DataLossError(absl::StrCat("malformed MVCC key ", absl::CHexEscape(key)));
    }
    // The common case in one step: the newest version is a committed value at or
    // below the read timestamp. It is then the visible version, and nothing newer
    // exists to be uncertain about or to conflict with.
    const absl::string_view raw = it.value();
    KeyRead read;
    if (!raw.empty() && raw[0] == 0 && newest_ts <= ts) {
      read.kind = KeyRead::Kind::kValue;
      read.value.assign(raw.data() + 1, raw.size() - 1);
      read.timestamp = newest_ts;
    } else {
      absl::StatusOr<KeyRead> slow =
          mvcc_internal::ReadKey(reader, it, user_key, prefix, ts, options.read);
      if (!slow.ok()) return slow.status();
      read = std::move(*slow);
    }
    if (!collector.Add(user_key, read)) break;
    NextUserKey(it, prefix);
  }
  return it.status();
}

absl::Status ScanReverse(Reader& reader, Iterator& it, Timestamp ts, const MVCCScanOptions& options,
                         ScanCollector& collector) {
  std::string user_key, prefix;
  it.SeekToLast();
  while (it.Valid()) {
    Timestamp version_ts;
    if (absl::Status s = DecodeMVCCKey(it.key(), &user_key, &version_ts); !s.ok()) return s;
    {
      absl::string_view p = MVCCEncodedPrefix(it.key());
      prefix.assign(p.data(), p.size());
    }
    it.Seek(prefix);  // the key's first entry, then its newest version
    if (it.Valid() && it.key().size() == prefix.size()) it.Next();
    absl::StatusOr<KeyRead> read =
        mvcc_internal::ReadKey(reader, it, user_key, prefix, ts, options.read);
    if (!read.ok()) return read.status();
    if (!collector.Add(user_key, *read)) break;
    it.SeekForPrev(prefix);  // the last entry before this key's versions
    if (it.Valid() && it.key() == prefix) it.Prev();
  }
  return it.status();
}

}  // namespace

absl::StatusOr<MVCCScanResult> MVCCScan(Reader& reader, absl::string_view start,
                                        absl::string_view end, Timestamp read_timestamp,
                                        const MVCCScanOptions& options) {
  if (start >= end) {
    return absl::InvalidArgumentError(absl::StrCat("empty scan span [", absl::CHexEscape(start),
                                                   ", ", absl::CHexEscape(end), ")"));
  }
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, MVCCKeyPrefix(start), MVCCKeyPrefix(end)});
  ScanCollector collector(start, end, options);
  absl::Status s = options.reverse ? ScanReverse(reader, *it, read_timestamp, options, collector)
                                   : ScanForward(reader, *it, read_timestamp, options, collector);
  if (!s.ok()) return s;
  return collector.Finish();
}

}  // namespace rangedb
