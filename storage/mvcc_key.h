// The on-disk encoding of MVCC keys in the data column family.
//
//   encoded = Escape(user_key) 0x00 0x01 [ ~wall_ns (8 bytes BE) ~logical (4 bytes BE) ]
//
// Escape replaces every 0x00 byte of the user key by 0x00 0xFF, so 0x00 0x01 marks the
// end of the user key unambiguously. The optional 12-byte suffix holds the version's
// timestamp bit-inverted, so that under RocksDB's bytewise comparator
//   - all entries of one user key are contiguous and ordered by user key,
//   - the unversioned entry (no suffix: local state, lock-table entries) sorts first,
//   - versions follow newest first.
// See docs/mvcc.md for the proof sketch and examples.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/timestamp.h"

namespace rangedb {

inline constexpr size_t kMVCCTimestampBytes = 12;
inline constexpr size_t kMVCCTerminatorBytes = 2;

// Appends the encoding of (user_key, ts). An empty ts encodes the unversioned entry.
// REQUIRES: ts.wall_ns >= 0 and ts.logical >= 0.
void AppendMVCCKey(std::string* out, absl::string_view user_key, Timestamp ts);
std::string EncodeMVCCKey(absl::string_view user_key, Timestamp ts);

// The smallest encoding of any entry of user_key (its unversioned form). Every
// encoded entry of a user key k < user_key sorts before it, so
// [MVCCKeyPrefix(start), MVCCKeyPrefix(end)) is exactly the span of user keys
// [start, end).
inline std::string MVCCKeyPrefix(absl::string_view user_key) { return EncodeMVCCKey(user_key, {}); }

// The smallest encoding greater than every entry of user_key.
std::string MVCCKeyEnd(absl::string_view user_key);

// Splits an encoded key. Returns DataLoss on malformed input (bad escape, missing
// terminator, suffix of the wrong length).
[[nodiscard]] absl::Status DecodeMVCCKey(absl::string_view encoded, std::string* user_key,
                                         Timestamp* ts);

// The part of an encoded key before its timestamp suffix: Escape(user_key) 0x00 0x01.
// Cheap (no unescaping); two encoded keys belong to the same user key iff their
// prefixes are equal. Returns an empty view if encoded is malformed.
absl::string_view MVCCEncodedPrefix(absl::string_view encoded);

// The user key of a valid prefix (as returned by MVCCEncodedPrefix), unescaped.
void UserKeyOfMVCCPrefix(absl::string_view prefix, std::string* user_key);

// The timestamp of an encoded key whose prefix is already known to be valid.
// Returns false if the suffix is malformed.
bool DecodeMVCCTimestampSuffix(absl::string_view suffix, Timestamp* ts);

}  // namespace rangedb
