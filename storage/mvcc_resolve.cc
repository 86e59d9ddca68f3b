// Intent resolution: turning a transaction's intents into committed versions,
// removing them, or moving them up after a push.
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_internal.h"
#include "storage/mvcc_key.h"

namespace rangedb {
namespace {

using mvcc_internal::KeyState;
using mvcc_internal::Version;

void RemoveIntent(absl::string_view key, KeyState* state, WriteBatch& batch, MVCCStats* stats) {
  mvcc_internal::RemoveNewest(key, state, batch, stats);
  mvcc_internal::RemoveLock(key, state, batch, stats);
}

struct FinalValue {
  bool deleted;
  std::string payload;
};

// The value the committed transaction leaves: that of its last write whose
// sequence was not rolled back; nullopt if every write was.
std::optional<FinalValue> CommittedValue(const KeyState& state, const IntentResolution& res) {
  if (!res.IsIgnored(state.lock.txn().sequence())) {
    return FinalValue{state.newest->tombstone, state.newest->payload};
  }
  for (int i = state.lock.history_size() - 1; i >= 0; --i) {
    const proto::IntentHistoryEntry& e = state.lock.history(i);
    if (!res.IsIgnored(e.sequence())) return FinalValue{e.deleted(), e.value()};
  }
  return std::nullopt;
}

absl::Status Commit(absl::string_view key, KeyState* state, const IntentResolution& res,
                    WriteBatch& batch, MVCCStats* stats) {
  const Timestamp commit_ts = res.txn.write_timestamp;
  if (commit_ts < state->newest->timestamp) {
    return absl::FailedPreconditionError(
        absl::StrCat("commit of key ", absl::CHexEscape(key), " at ", commit_ts.ToString(),
                     " is below its intent at ", state->newest->timestamp.ToString()));
  }
  std::optional<FinalValue> final_value = CommittedValue(*state, res);
  if (!final_value.has_value()) {
    RemoveIntent(key, state, batch, stats);
    return absl::OkStatus();
  }
  Version committed = mvcc_internal::MakeVersion(key, commit_ts, /*provisional=*/false,
                                                 final_value->deleted, final_value->payload);
  if (commit_ts == state->newest->timestamp) {
    mvcc_internal::ReplaceNewest(key, committed, state, batch, stats);
  } else {
    mvcc_internal::RemoveNewest(key, state, batch, stats);
    mvcc_internal::AddNewest(key, committed, state, batch, stats);
  }
  mvcc_internal::RemoveLock(key, state, batch, stats);
  return absl::OkStatus();
}

// A pushed (still pending) transaction's intent moves up to the pushed timestamp.
bool Push(absl::string_view key, KeyState* state, const IntentResolution& res, WriteBatch& batch,
          MVCCStats* stats) {
  const Timestamp to = res.txn.write_timestamp;
  if (to <= state->newest->timestamp) return false;
  Version moved = *state->newest;
  moved.timestamp = to;
  proto::LockTableEntry lock = state->lock;
  TimestampToProto(to, lock.mutable_txn()->mutable_write_timestamp());
  mvcc_internal::RemoveNewest(key, state, batch, stats);
  mvcc_internal::AddNewest(key, moved, state, batch, stats);
  mvcc_internal::PutLock(key, lock, state, batch, stats);
  return true;
}

}  // namespace

absl::StatusOr<bool> MVCCResolveIntent(WriteBatch& batch, absl::string_view key,
                                       const IntentResolution& resolution, MVCCStats* stats) {
  absl::StatusOr<KeyState> loaded = mvcc_internal::LoadKeyState(batch, key);
  if (!loaded.ok()) return loaded.status();
  KeyState& state = *loaded;
  if (!state.newest.has_value() || !state.newest->provisional ||
      state.lock.txn().id() != resolution.txn.id) {
    return false;  // no intent of this transaction (already resolved, or never written)
  }
  const int32_t intent_epoch = state.lock.txn().epoch();
  switch (resolution.status) {
    case TxnStatus::kAborted:
      RemoveIntent(key, &state, batch, stats);
      return true;
    case TxnStatus::kPending:
      if (intent_epoch != resolution.txn.epoch) return false;
      return Push(key, &state, resolution, batch, stats);
    case TxnStatus::kCommitted:
      if (intent_epoch > resolution.txn.epoch) {
        return absl::FailedPreconditionError(absl::StrCat(
            "commit at epoch ", resolution.txn.epoch, " of key ", absl::CHexEscape(key),
            " whose intent has the later epoch ", intent_epoch));
      }
      if (intent_epoch < resolution.txn.epoch) {
        // Written by an earlier epoch and not rewritten since: not part of the commit.
        RemoveIntent(key, &state, batch, stats);
        return true;
      }
      if (absl::Status s = Commit(key, &state, resolution, batch, stats); !s.ok()) return s;
      return true;
  }
  return false;
}

absl::StatusOr<MVCCResolveRangeResult> MVCCResolveIntentRange(
    WriteBatch& batch, absl::string_view start, absl::string_view end,
    const IntentResolution& resolution, int64_t max_keys, int64_t max_bytes, MVCCStats* stats) {
  // Collect first: writing to a batch invalidates iterators over it.
  std::vector<std::string> keys;
  MVCCResolveRangeResult result;
  {
    std::unique_ptr<Iterator> it =
        batch.NewIterator({ColumnFamily::kData, EncodedLockKey(start), EncodedLockKey(end)});
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
      if (entry.txn().id() != resolution.txn.id) continue;
      std::string user_key = lock_key.substr(keys::kLockTablePrefix.size());
      if (max_keys > 0 && static_cast<int64_t>(keys.size()) == max_keys) {
        result.resume_span = KeySpan{user_key, std::string(end)};
        break;
      }
      keys.push_back(std::move(user_key));
    }
    if (absl::Status s = it->status(); !s.ok()) return s;
  }
  const size_t bytes_before = batch.ByteSize();
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<bool> resolved = MVCCResolveIntent(batch, keys[i], resolution, stats);
    if (!resolved.ok()) return resolved.status();
    if (*resolved) result.resolved++;
    if (max_bytes > 0 && i + 1 < keys.size() &&
        static_cast<int64_t>(batch.ByteSize() - bytes_before) >= max_bytes) {
      result.resume_span = KeySpan{keys[i + 1], std::string(end)};
      break;
    }
  }
  return result;
}

}  // namespace rangedb
