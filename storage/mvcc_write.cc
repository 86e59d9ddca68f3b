// MVCC writes: Put, Delete, ConditionalPut, Increment, DeleteRange.
#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_internal.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb {
namespace {

using mvcc_internal::KeyState;
using mvcc_internal::Version;

// A write at a sequence the intent already covers is a replay (a retried request):
// it succeeds without change if it wrote the same thing, and is an error if not.
absl::StatusOr<MVCCWriteResult> CheckReplay(absl::string_view key, const KeyState& state,
                                            const TxnContext& txn, bool tombstone,
                                            absl::string_view payload) {
  const int32_t seq = txn.meta.sequence;
  bool recorded = false, deleted = false;
  std::string value;
  if (seq == state.lock.txn().sequence()) {
    recorded = true;
    deleted = state.newest->tombstone;
    value = state.newest->payload;
  }
  for (const proto::IntentHistoryEntry& e : state.lock.history()) {
    if (e.sequence() == seq) {
      recorded = true;
      deleted = e.deleted();
      value = e.value();
    }
  }
  if (!recorded || deleted != tombstone || (!tombstone && value != payload)) {
    return absl::InternalError(
        absl::StrCat("transaction write at sequence ", seq, " to key ", absl::CHexEscape(key),
                     " replays a sequence the intent (at sequence ", state.lock.txn().sequence(),
                     ") already covers, with a different value"));
  }
  return MVCCWriteResult{state.newest->timestamp, false};
}

// The heart of every write: lays down one version (value or tombstone) of key.
absl::StatusOr<MVCCWriteResult> WriteVersion(WriteBatch& batch, absl::string_view key,
                                             Timestamp timestamp, bool tombstone,
                                             absl::string_view payload,
                                             const MVCCWriteOptions& options) {
  const TxnContext* txn = options.txn;
  if (timestamp.IsEmpty()) return absl::InvalidArgumentError("an MVCC write needs a timestamp");
  if (txn != nullptr && timestamp != txn->meta.write_timestamp) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transactional write at ", timestamp.ToString(),
        " differs from the transaction's write timestamp ", txn->meta.write_timestamp.ToString()));
  }
  absl::StatusOr<KeyState> loaded = mvcc_internal::LoadKeyState(batch, key);
  if (!loaded.ok()) return loaded.status();
  KeyState& state = *loaded;

  MVCCWriteResult result{timestamp, false};
  proto::LockTableEntry lock;
  bool rewrite_own_intent = false;  // the new version replaces our intent in place
  if (state.newest.has_value() && state.newest->provisional) {
    const proto::TxnMeta& held = state.lock.txn();
    if (txn == nullptr || held.id() != txn->meta.id) {
      return LockConflictError({{std::string(key), TxnMetaFromProto(held)}});
    }
    if (held.epoch() > txn->meta.epoch) {
      return absl::FailedPreconditionError(
          absl::StrCat("write from epoch ", txn->meta.epoch, " to key ", absl::CHexEscape(key),
                       " holding an intent of the same transaction's epoch ", held.epoch()));
    }
    if (held.epoch() == txn->meta.epoch) {
      if (txn->meta.sequence <= held.sequence()) {
        return CheckReplay(key, state, *txn, tombstone, payload);
      }
      *lock.mutable_history() = state.lock.history();
      proto::IntentHistoryEntry* previous = lock.add_history();
      previous->set_sequence(held.sequence());
      previous->set_deleted(state.newest->tombstone);
      previous->set_value(state.newest->payload);
      result.timestamp = std::max(timestamp, state.newest->timestamp);
      rewrite_own_intent = result.timestamp == state.newest->timestamp;
    }
    // An intent of an earlier epoch is discarded; our own intent moves up when the
    // transaction's write timestamp has.
    if (!rewrite_own_intent) mvcc_internal::RemoveNewest(key, &state, batch, options.stats);
  }
  if (!rewrite_own_intent && state.newest.has_value() &&
      state.newest->timestamp >= result.timestamp) {
    result.timestamp = state.newest->timestamp.Next();
    result.write_too_old = true;
  }

  Version version =
      mvcc_internal::MakeVersion(key, result.timestamp, txn != nullptr, tombstone, payload);
  if (rewrite_own_intent) {
    mvcc_internal::ReplaceNewest(key, version, &state, batch, options.stats);
  } else {
    mvcc_internal::AddNewest(key, version, &state, batch, options.stats);
  }
  if (txn != nullptr) {
    TxnMetaToProto(txn->meta, lock.mutable_txn());
    TimestampToProto(result.timestamp, lock.mutable_txn()->mutable_write_timestamp());
    mvcc_internal::PutLock(key, lock, &state, batch, options.stats);
  }
  return result;
}

// The key's latest value as the writer sees it: its own intents included, other
// transactions' intents a conflict.
absl::StatusOr<MVCCGetResult> ReadLatest(WriteBatch& batch, absl::string_view key,
                                         const MVCCWriteOptions& options) {
  MVCCReadOptions read;
  read.txn = options.txn;
  return MVCCGet(batch, key, Timestamp::Max(), read);
}

// The timestamp of key's newest committed version (value or tombstone), ignoring
// intents; empty if it has none.
absl::StatusOr<Timestamp> NewestCommittedTimestamp(Reader& reader, absl::string_view key) {
  absl::StatusOr<KeyState> state = mvcc_internal::LoadKeyState(reader, key);
  if (!state.ok()) return state.status();
  if (!state->newest.has_value()) return Timestamp{};
  if (!state->newest->provisional) return state->newest->timestamp;
  return state->below.has_value() ? state->below->timestamp : Timestamp{};
}

struct NewerVersion {
  std::string key;
  Timestamp timestamp;
};

// The newest committed version above `above` among the keys of [start, end), if any.
// Intents are skipped: the transaction's own are not "newer", and another's is a
// conflict that the scan before this one already reported (or, above the read and
// uncertainty limit, one the refresh at commit checks).
absl::StatusOr<std::optional<NewerVersion>> NewestCommittedVersionAbove(Reader& reader,
                                                                        absl::string_view start,
                                                                        absl::string_view end,
                                                                        Timestamp above) {
  std::optional<NewerVersion> newest;
  if (start >= end) return newest;
  IterOptions io;
  io.lower_bound = MVCCKeyPrefix(start);
  io.upper_bound = MVCCKeyPrefix(end);
  std::unique_ptr<Iterator> it = reader.NewIterator(io);
  std::string user_key;
  for (it->Seek(io.lower_bound); it->Valid();) {
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &user_key, &ts); !s.ok()) return s;
    if (ts.IsEmpty()) {  // not a version (metadata): skip
      it->Next();
      continue;
    }
    absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it->value());
    if (!value.ok()) return value.status();
    if (value->provisional) {  // an intent: look at the version below it
      it->Next();
      continue;
    }
    // The newest committed version of user_key; older ones are older still.
    if (ts > above && (!newest.has_value() || ts > newest->timestamp)) {
      newest = NewerVersion{user_key, ts};
    }
    it->Seek(MVCCKeyEnd(user_key));
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  return newest;
}

// The keys of [start, end) whose intent this very operation wrote in an earlier
// attempt (the transaction's id, epoch and current sequence, a deletion): a retried
// DeleteRange no longer finds them live, but they are among what it deleted.
absl::Status AddKeysDeletedEarlierByThisOperation(Reader& reader, absl::string_view start,
                                                  absl::string_view end, const TxnContext& txn,
                                                  std::vector<std::string>* keys) {
  if (start >= end) return absl::OkStatus();
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, EncodedLockKey(start), EncodedLockKey(end)});
  std::string lock_key;
  Timestamp ts;
  proto::LockTableEntry entry;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (absl::Status s = DecodeMVCCKey(it->key(), &lock_key, &ts); !s.ok()) return s;
    if (!absl::StartsWith(lock_key, keys::kLockTablePrefix) ||
        !entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("malformed lock-table entry at ", absl::CHexEscape(it->key())));
    }
    if (entry.txn().id() != txn.meta.id || entry.txn().epoch() != txn.meta.epoch ||
        entry.txn().sequence() != txn.meta.sequence) {
      continue;
    }
    std::string user_key = lock_key.substr(keys::kLockTablePrefix.size());
    MVCCReadOptions own;
    own.txn = &txn;
    absl::StatusOr<MVCCGetResult> now = MVCCGet(reader, user_key, Timestamp::Max(), own);
    if (!now.ok()) return now.status();
    if (!now->found) keys->push_back(std::move(user_key));  // its deletion
  }
  return it->status();
}

}  // namespace

absl::StatusOr<MVCCWriteResult> MVCCPut(WriteBatch& batch, absl::string_view key,
                                        Timestamp timestamp, absl::string_view value,
                                        const MVCCWriteOptions& options) {
  return WriteVersion(batch, key, timestamp, /*tombstone=*/false, value, options);
}

absl::StatusOr<MVCCWriteResult> MVCCDelete(WriteBatch& batch, absl::string_view key,
                                           Timestamp timestamp, const MVCCWriteOptions& options) {
  return WriteVersion(batch, key, timestamp, /*tombstone=*/true, "", options);
}

absl::StatusOr<MVCCWriteResult> MVCCConditionalPut(WriteBatch& batch, absl::string_view key,
                                                   Timestamp timestamp, absl::string_view value,
                                                   const std::optional<std::string>& expected,
                                                   bool allow_if_missing,
                                                   const MVCCWriteOptions& options) {
  // Conflicts first: another transaction's intent at any timestamp blocks the write.
  absl::StatusOr<MVCCGetResult> latest = ReadLatest(batch, key, options);
  if (!latest.ok()) return latest.status();
  if (options.txn != nullptr && !options.testing_cput_reads_latest) {
    // The condition is a read at the transaction's snapshot. No other intent is
    // there (ReadLatest would have failed), so if no committed version is newer than
    // the snapshot, the latest value (own intents included) is the snapshot's.
    absl::StatusOr<Timestamp> newest = NewestCommittedTimestamp(batch, key);
    if (!newest.ok()) return newest.status();
    if (*newest > options.txn->read_timestamp) {
      return WriteTooOldError(key, options.txn->read_timestamp, *newest);
    }
  }
  std::optional<std::string> actual;
  if (latest->found) actual = std::move(latest->value);
  const bool pass = actual == expected || (!actual.has_value() && allow_if_missing);
  if (!pass) return ConditionFailedError(key, actual);
  return WriteVersion(batch, key, timestamp, /*tombstone=*/false, value, options);
}

absl::StatusOr<int64_t> MVCCIncrement(WriteBatch& batch, absl::string_view key, Timestamp timestamp,
                                      int64_t delta, const MVCCWriteOptions& options,
                                      MVCCWriteResult* result) {
  absl::StatusOr<MVCCGetResult> latest = ReadLatest(batch, key, options);
  if (!latest.ok()) return latest.status();
  int64_t current = 0;
  if (latest->found && !absl::SimpleAtoi(latest->value, &current)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot increment key ", absl::CHexEscape(key), ": its value \"",
                     absl::CHexEscape(latest->value.substr(0, 64)), "\" is not an integer"));
  }
  int64_t sum;
  if (__builtin_add_overflow(current, delta, &sum)) {
    return absl::OutOfRangeError(absl::StrCat("incrementing key ", absl::CHexEscape(key), " (",
                                              current, ") by ", delta, " overflows int64"));
  }
  absl::StatusOr<MVCCWriteResult> written =
      WriteVersion(batch, key, timestamp, /*tombstone=*/false, absl::StrCat(sum), options);
  if (!written.ok()) return written.status();
  if (result != nullptr) *result = *written;
  return sum;
}

absl::StatusOr<MVCCDeleteRangeResult> MVCCDeleteRange(WriteBatch& batch, absl::string_view start,
                                                      absl::string_view end, Timestamp timestamp,
                                                      int64_t max_keys,
                                                      const MVCCWriteOptions& options,
                                                      int64_t max_bytes) {
  if (timestamp.IsEmpty()) return absl::InvalidArgumentError("an MVCC write needs a timestamp");
  MVCCScanOptions scan;
  scan.read.txn = options.txn;
  scan.max_keys = max_keys;
  scan.target_bytes = max_bytes;
  // Outside a transaction: the keys live at the write's timestamp (the leaseholder's
  // clock, at or above every stored version).
  Timestamp find_at = timestamp;
  const bool at_snapshot = options.txn != nullptr && !options.testing_deleterange_at_max;
  if (at_snapshot) {
    // A transaction deletes what its snapshot holds: the span is a read at the read
    // timestamp, with the uncertainty interval of any read (a value in it may have
    // been written before the transaction began: UNCERTAINTY, refresh above it).
    find_at = options.txn->read_timestamp;
    scan.read.uncertainty_limit = options.uncertainty_limit;
  } else if (options.testing_deleterange_at_max) {
    find_at = Timestamp::Max();
  }
  absl::StatusOr<MVCCScanResult> live = MVCCScan(batch, start, end, find_at, scan);
  if (!live.ok()) return live.status();
  if (at_snapshot) {
    // Any committed version newer than the snapshot in what was scanned — a newer
    // value, a tombstone, a key inserted since — means the snapshot is no longer
    // what the delete would act on: WriteTooOld, so the coordinator refreshes above
    // it and deletes again (as a ConditionalPut does). Nothing newer: the keys found
    // are exactly what the transaction's reads would see, at any timestamp up to now.
    const std::string scanned_end =
        live->resume_span.has_value() ? live->resume_span->start : std::string(end);
    absl::StatusOr<std::optional<NewerVersion>> newer =
        NewestCommittedVersionAbove(batch, start, scanned_end, options.txn->read_timestamp);
    if (!newer.ok()) return newer.status();
    if (newer->has_value()) {
      return WriteTooOldError((*newer)->key, options.txn->read_timestamp, (*newer)->timestamp);
    }
  }
  MVCCDeleteRangeResult result;
  if (at_snapshot) {
    const std::string scanned_end =
        live->resume_span.has_value() ? live->resume_span->start : std::string(end);
    if (absl::Status s = AddKeysDeletedEarlierByThisOperation(batch, start, scanned_end,
                                                              *options.txn, &result.deleted_keys);
        !s.ok()) {
      return s;
    }
  }
  result.resume_span = std::move(live->resume_span);
  // max_bytes bounds what is written too: a tombstone is small, but its lock-table
  // entry carries the anchor key, so small keys found can still make a large batch.
  const size_t bytes_before = batch.ByteSize();
  for (size_t i = 0; i < live->rows.size(); ++i) {
    MVCCKeyValue& row = live->rows[i];
    absl::StatusOr<MVCCWriteResult> deleted =
        WriteVersion(batch, row.key, timestamp, /*tombstone=*/true, "", options);
    if (!deleted.ok()) return deleted.status();
    result.timestamp = std::max(result.timestamp, deleted->timestamp);
    result.deleted_keys.push_back(std::move(row.key));
    if (max_bytes > 0 && i + 1 < live->rows.size() &&
        static_cast<int64_t>(batch.ByteSize() - bytes_before) >= max_bytes) {
      result.resume_span = KeySpan{live->rows[i + 1].key, std::string(end)};
      break;
    }
  }
  std::sort(result.deleted_keys.begin(), result.deleted_keys.end());
  return result;
}

}  // namespace rangedb
