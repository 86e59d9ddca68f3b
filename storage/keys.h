// The key space map. Every key rangedb stores is in exactly one of these regions;
// docs/keyspace.md draws the same map with examples.
//
//   ""                              KeyMin
//   \x01 ...                        local: never addressed by clients
//     \x01 i <range id:8 BE> u <suffix>   range-ID-local, unreplicated (per replica):
//                                          Raft hard state, truncated state, snapshot
//     \x01 i <range id:8 BE> r <suffix>   range-ID-local, replicated (lease, applied state)
//     \x01 k <key> <suffix>               range-local (transaction records, descriptor copy)
//     \x01 s <suffix>                     store-local: this node's identity (cluster id, node id)
//     \x01 z <key>                        the lock table: metadata of the intent on <key>
//   \x02 <range end key>            meta: RangeDescriptor of the range ending at that key
//   \x03 ...                        system: id generators, liveness, settings, SQL catalog
//   \x04 ...                        table data: /<table id>/<index id>/<columns...>
//   \xff\xff                        KeyMax
//
// All of them are stored in the data column family as MVCC-encoded keys
// (storage/mvcc_key.h): versioned for MVCC data, unversioned for local state and
// lock-table entries. Raft log entries live in their own column family.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace rangedb::keys {

inline constexpr absl::string_view kKeyMin = "";
inline constexpr absl::string_view kKeyMax = "\xff\xff";

inline constexpr absl::string_view kLocalPrefix = "\x01";
inline constexpr absl::string_view kRangeIdLocalPrefix = "\x01i";
inline constexpr absl::string_view kRangeLocalPrefix = "\x01k";
inline constexpr absl::string_view kStoreLocalPrefix = "\x01s";
inline constexpr absl::string_view kLockTablePrefix = "\x01z";
inline constexpr absl::string_view kLocalEnd = "\x02";

inline constexpr absl::string_view kMetaPrefix = "\x02";
inline constexpr absl::string_view kSystemPrefix = "\x03";
inline constexpr absl::string_view kTableDataPrefix = "\x04";

// Range-ID-local keys. Unreplicated state belongs to one replica and must survive
// anything that rewrites the range's replicated state (a snapshot, a range clear);
// keeping it under its own infix lets that be a span operation that skips it.
inline constexpr char kRangeIdUnreplicatedInfix = 'u';
inline constexpr char kRangeIdReplicatedInfix = 'r';
inline constexpr absl::string_view kRaftHardStateSuffix = "rfth";       // unreplicated
inline constexpr absl::string_view kRaftTruncatedStateSuffix = "rftt";  // unreplicated
inline constexpr absl::string_view kRaftSnapshotMetaSuffix = "rfts";    // unreplicated

// \x01 i <range id:8 BE> <infix> <suffix>.
inline std::string RangeIdLocalKey(uint64_t range_id, char infix, absl::string_view suffix) {
  std::string key(kRangeIdLocalPrefix);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(range_id >> shift));
  key.push_back(infix);
  key.append(suffix.data(), suffix.size());
  return key;
}

// The lock-table key holding the metadata of the intent on user_key.
inline std::string LockTableKey(absl::string_view user_key) {
  std::string out(kLockTablePrefix);
  out.append(user_key.data(), user_key.size());
  return out;
}

// True for keys a client may address (everything outside the local region).
inline bool IsUserAddressable(absl::string_view key) {
  return key.empty() || static_cast<unsigned char>(key[0]) >= 0x02;
}

}  // namespace rangedb::keys
