// Internal to the MVCC implementation (mvcc_*.cc): the per-key reading and the
// per-key state that writes, resolution and statistics share. Not an API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/mvcc.pb.h"
#include "storage/engine.h"
#include "storage/mvcc.h"

namespace rangedb::mvcc_internal {

// How many Next() calls to try before a Seek() when skipping versions: Next is much
// cheaper than Seek when the target is close, and Seek bounds the cost when not.
inline constexpr int kNextsBeforeSeek = 4;

// The outcome of reading one user key.
struct KeyRead {
  enum class Kind { kNone, kValue, kConflict };
  Kind kind = Kind::kNone;
  std::string value;     // kValue
  Timestamp timestamp;   // kValue
  TxnMeta conflict_txn;  // kConflict: the transaction holding the intent
};

// Reads the version of one user key visible at read_timestamp to options.
// `it` must be positioned at the key's newest versioned entry, whose encoded
// prefix is `prefix` (see MVCCEncodedPrefix); it may be left anywhere at or after
// that key's entries. `reader` is used for the lock-table lookup of an intent.
// Returns UncertaintyError and DataLoss as errors; a conflict is a result, so a
// scan can collect several.
[[nodiscard]] absl::StatusOr<KeyRead> ReadKey(Reader& reader, Iterator& it,
                                              absl::string_view user_key, absl::string_view prefix,
                                              Timestamp read_timestamp,
                                              const MVCCReadOptions& options);

// One stored version, as writes need to know it.
struct Version {
  Timestamp timestamp;
  bool provisional = false;
  bool tombstone = false;
  std::string payload;
  int64_t key_bytes = 0;  // encoded key length
  int64_t val_bytes = 0;  // encoded value length
};

// What a write needs to know about a key before changing it.
struct KeyState {
  std::optional<Version> newest;
  // When newest is provisional: the newest committed version below it, and the
  // intent's lock-table entry.
  std::optional<Version> below;
  proto::LockTableEntry lock;
  int64_t lock_bytes = 0;
};

[[nodiscard]] absl::StatusOr<KeyState> LoadKeyState(Reader& reader, absl::string_view key);

// Stats bookkeeping for the only shapes of change writes make to a key. Each also
// updates `state` to describe the key afterwards.
//
// Removes the newest version (an intent); `below` becomes the newest.
void RemoveNewest(absl::string_view key, KeyState* state, WriteBatch& batch, MVCCStats* stats);
// Adds a version above every existing one.
void AddNewest(absl::string_view key, const Version& version, KeyState* state, WriteBatch& batch,
               MVCCStats* stats);
// Rewrites the newest version in place (same timestamp, new value or flags).
void ReplaceNewest(absl::string_view key, const Version& version, KeyState* state,
                   WriteBatch& batch, MVCCStats* stats);
// Writes or removes the key's lock-table entry.
void PutLock(absl::string_view key, const proto::LockTableEntry& entry, KeyState* state,
             WriteBatch& batch, MVCCStats* stats);
void RemoveLock(absl::string_view key, KeyState* state, WriteBatch& batch, MVCCStats* stats);

// Fills the encoded sizes of a version about to be written.
Version MakeVersion(absl::string_view key, Timestamp timestamp, bool provisional, bool tombstone,
                    absl::string_view payload);

}  // namespace rangedb::mvcc_internal
