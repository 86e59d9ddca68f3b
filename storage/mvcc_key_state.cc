// The per-key state that MVCC writes load before changing a key, and the
// statistics bookkeeping of each shape of change (see mvcc_internal.h).
#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/lock_table.h"
#include "storage/mvcc_internal.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb::mvcc_internal {
namespace {

absl::StatusOr<Version> VersionAt(const Iterator& it, absl::string_view prefix) {
  Version v;
  if (!DecodeMVCCTimestampSuffix(it.key().substr(prefix.size()), &v.timestamp) ||
      v.timestamp.IsEmpty()) {
    return absl::DataLossError(absl::StrCat("malformed MVCC key ", absl::CHexEscape(it.key())));
  }
  absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it.value());
  if (!value.ok()) return value.status();
  v.provisional = value->provisional;
  v.tombstone = value->tombstone;
  v.payload.assign(value->payload.data(), value->payload.size());
  v.key_bytes = static_cast<int64_t>(it.key().size());
  v.val_bytes = static_cast<int64_t>(it.value().size());
  return v;
}

bool OnVersionOf(const Iterator& it, absl::string_view prefix) {
  return it.Valid() && it.key().size() > prefix.size() &&
         it.key().substr(0, prefix.size()) == prefix;
}

void AddLive(MVCCStats* stats, const Version& v, int sign) {
  if (v.tombstone) return;
  stats->live_count += sign;
  stats->live_bytes += sign * (v.key_bytes + v.val_bytes);
}

}  // namespace

absl::StatusOr<KeyState> LoadKeyState(Reader& reader, absl::string_view key) {
  KeyState state;
  const std::string prefix = MVCCKeyPrefix(key);
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, prefix, MVCCKeyEnd(key), /*single_key=*/true});
  it->Seek(prefix);
  if (it->Valid() && it->key().size() == prefix.size()) it->Next();  // unversioned entry
  if (OnVersionOf(*it, prefix)) {
    absl::StatusOr<Version> newest = VersionAt(*it, prefix);
    if (!newest.ok()) return newest.status();
    state.newest = std::move(*newest);
  }
  if (state.newest.has_value() && state.newest->provisional) {
    absl::StatusOr<bool> found = ReadLockEntry(reader, key, &state.lock, &state.lock_bytes);
    if (!found.ok()) return found.status();
    if (!*found) {
      return absl::DataLossError(absl::StrCat("provisional version of key ", absl::CHexEscape(key),
                                              " has no lock-table entry"));
    }
    it->Next();
    if (OnVersionOf(*it, prefix)) {
      absl::StatusOr<Version> below = VersionAt(*it, prefix);
      if (!below.ok()) return below.status();
      state.below = std::move(*below);
    }
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  return state;
}

Version MakeVersion(absl::string_view key, Timestamp timestamp, bool provisional, bool tombstone,
                    absl::string_view payload) {
  Version v;
  v.timestamp = timestamp;
  v.provisional = provisional;
  v.tombstone = tombstone;
  if (!tombstone) v.payload.assign(payload.data(), payload.size());
  const int64_t zeros = std::count(key.begin(), key.end(), '\0');  // each escaped to two bytes
  v.key_bytes =
      static_cast<int64_t>(key.size()) + zeros + kMVCCTerminatorBytes + kMVCCTimestampBytes;
  v.val_bytes = 1 + static_cast<int64_t>(v.payload.size());
  return v;
}

void RemoveNewest(absl::string_view key, KeyState* state, WriteBatch& batch, MVCCStats* stats) {
  const Version& n = *state->newest;
  batch.Delete(ColumnFamily::kData, EncodeMVCCKey(key, n.timestamp));
  if (stats != nullptr) {
    stats->key_bytes -= n.key_bytes;
    stats->val_bytes -= n.val_bytes;
    stats->val_count--;
    AddLive(stats, n, -1);
    if (state->below.has_value()) {
      AddLive(stats, *state->below, +1);
    } else {
      stats->key_count--;
    }
  }
  state->newest = std::move(state->below);
  state->below.reset();
}

void AddNewest(absl::string_view key, const Version& version, KeyState* state, WriteBatch& batch,
               MVCCStats* stats) {
  batch.Put(ColumnFamily::kData, EncodeMVCCKey(key, version.timestamp),
            EncodeMVCCValue(version.provisional, version.tombstone, version.payload));
  if (stats != nullptr) {
    if (state->newest.has_value()) {
      AddLive(stats, *state->newest, -1);
    } else {
      stats->key_count++;
    }
    stats->key_bytes += version.key_bytes;
    stats->val_bytes += version.val_bytes;
    stats->val_count++;
    AddLive(stats, version, +1);
  }
  state->below = std::move(state->newest);
  state->newest = version;
}

void ReplaceNewest(absl::string_view key, const Version& version, KeyState* state,
                   WriteBatch& batch, MVCCStats* stats) {
  batch.Put(ColumnFamily::kData, EncodeMVCCKey(key, version.timestamp),
            EncodeMVCCValue(version.provisional, version.tombstone, version.payload));
  if (stats != nullptr) {
    stats->val_bytes += version.val_bytes - state->newest->val_bytes;
    AddLive(stats, *state->newest, -1);
    AddLive(stats, version, +1);
  }
  state->newest = version;
}

void PutLock(absl::string_view key, const proto::LockTableEntry& entry, KeyState* state,
             WriteBatch& batch, MVCCStats* stats) {
  const int64_t bytes = WriteLockEntry(batch, key, entry);
  if (stats != nullptr) {
    if (state->lock_bytes == 0) stats->intent_count++;
    stats->intent_bytes += bytes - state->lock_bytes;
  }
  state->lock = entry;
  state->lock_bytes = bytes;
}

void RemoveLock(absl::string_view key, KeyState* state, WriteBatch& batch, MVCCStats* stats) {
  DeleteLockEntry(batch, key);
  if (stats != nullptr && state->lock_bytes > 0) {
    stats->intent_count--;
    stats->intent_bytes -= state->lock_bytes;
  }
  state->lock.Clear();
  state->lock_bytes = 0;
}

}  // namespace rangedb::mvcc_internal
