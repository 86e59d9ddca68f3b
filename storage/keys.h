// The key map: every key rangedb stores, and the one module that builds them.
//
// Keys are byte strings compared bytewise. The whole space, in order (docs/keyspace.md
// draws the same map with each key's value and writer; keys_test.cc pins the bytes):
//
//   ""                                         KeyMin
//   \x01 ...                                   local: kept with the replica or store that
//                                              owns it; never addressed by a client
//     \x01 i <range id:8 BE> u <suffix>          range-ID-local, unreplicated (one replica's)
//                            u rfth                Raft hard state
//                            u rfts                Raft snapshot metadata
//                            u rftt                Raft truncated state
//     \x01 i <range id:8 BE> r <suffix>          range-ID-local, replicated (in snapshots)
//                            r idcu                idempotency expiry clock
//                            r idem <n:1> <client id:n> <seq:8 BE>
//                                                  idempotency record of one client write
//                            r rask                applied state
//                            r rdsc                range descriptor (the replica's copy)
//                            r rgct                GC threshold
//                            r rll-                lease
//     \x01 k <anchor key> \x00 txn- <txn id>     range-local: transaction record
//           (\x01 k <anchor> \x00 txn- <id> \x00 push: never stored, a timestamp-cache key)
//     \x01 s <suffix>                            store-local, one set per store
//            corr <range id:8 BE>                  replica out of service: corrupt
//            ident                                 the node's identity
//            repl <range id:8 BE>                  replica index: a replica this store holds
//            store-id                              this copy of the data
//     \x01 z <user key>                          lock table: the intent on <user key>
//   \x02 <range end key>                       meta: descriptor of the range ending there
//   \x03 ...                                   system (range 2)
//     \x03 catalog/ ...                          reserved for the SQL catalog
//     \x03 node-idgen                            node id generator
//     \x03 range-idgen                           range id generator
//     \x03 settings/ <name>                      cluster settings (gc_ttl)
//   \x04 <table id> <index id> <columns...>    table data; ids are ascending uvarints and
//                                              columns key-encoded (storage/encoding.h)
//   \xff\xff                                   KeyMax
//
//   ColumnFamily::kRaftLog, a space of its own:
//     <range id:8 BE> <index:8 BE>               Raft log entry
//
// In the data column family every key is MVCC-encoded (storage/mvcc_key.h): local keys
// unversioned, meta, system and table keys versioned. Range ids and sequence numbers are
// big-endian so that they sort numerically: one range's range-ID-local keys are
// contiguous and ranges follow in id order.
//
// Layers: this file knows byte layouts only, never values or engines. Everything
// that writes or reads a stored key takes it from here.
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rangedb::keys {

// ---- Regions ----

inline constexpr absl::string_view kKeyMin = "";
inline constexpr absl::string_view kKeyMax = "\xff\xff";

inline constexpr absl::string_view kLocalPrefix = "\x01";
inline constexpr absl::string_view kRangeIdLocalPrefix = "\x01i";
inline constexpr absl::string_view kRangeLocalPrefix = "\x01k";
inline constexpr absl::string_view kStoreLocalPrefix = "\x01s";
inline constexpr absl::string_view kLockTablePrefix = "\x01z";
inline constexpr absl::string_view kLocalEnd = "\x02";

inline constexpr absl::string_view kMetaPrefix = "\x02";
inline constexpr absl::string_view kMetaEnd = "\x03";
inline constexpr absl::string_view kSystemPrefix = "\x03";
inline constexpr absl::string_view kTableDataPrefix = "\x04";

// True for keys a client may address (everything outside the local region).
inline bool IsUserAddressable(absl::string_view key) {
  return key.empty() || static_cast<unsigned char>(key[0]) >= 0x02;
}

// ---- Range-ID-local: \x01 i <range id:8 BE> <infix> <suffix> ----
//
// Unreplicated state belongs to one replica and must survive anything that rewrites the
// range's replicated state (a snapshot, a range clear); keeping it under its own infix
// makes that a span operation that skips it. The replicated span is [infix r, infix s).

inline constexpr char kRangeIdUnreplicatedInfix = 'u';
inline constexpr char kRangeIdReplicatedInfix = 'r';

inline constexpr absl::string_view kRaftHardStateSuffix = "rfth";       // unreplicated
inline constexpr absl::string_view kRaftSnapshotMetaSuffix = "rfts";    // unreplicated
inline constexpr absl::string_view kRaftTruncatedStateSuffix = "rftt";  // unreplicated
inline constexpr absl::string_view kIdempotencyExpirySuffix = "idcu";   // replicated
inline constexpr absl::string_view kIdempotencyRecordSuffix = "idem";   // replicated
inline constexpr absl::string_view kAppliedStateSuffix = "rask";        // replicated
inline constexpr absl::string_view kDescriptorSuffix = "rdsc";          // replicated
inline constexpr absl::string_view kGcThresholdSuffix = "rgct";         // replicated
inline constexpr absl::string_view kLeaseSuffix = "rll-";               // replicated

// \x01 i <range id:8 BE> <infix> <suffix>.
std::string RangeIdLocalKey(uint64_t range_id, char infix, absl::string_view suffix);

// Unreplicated, written by RaftLogStorage (docs/raft-log.md); values are checksummed
// records of raftpb::HardState, <index:8 BE><term:8 BE>, raftpb::SnapshotMetadata.
std::string RaftHardStateKey(uint64_t range_id);
std::string RaftTruncatedStateKey(uint64_t range_id);
std::string RaftSnapshotMetaKey(uint64_t range_id);

// Replicated, written by applying commands and carried in snapshots.
std::string AppliedStateKey(uint64_t range_id);       // rangespb::AppliedState
std::string LeaseKey(uint64_t range_id);              // rangespb::Lease
std::string DescriptorKey(uint64_t range_id);         // kvpb::RangeDescriptor
std::string GcThresholdKey(uint64_t range_id);        // proto::Timestamp: versions below are gone
std::string IdempotencyExpiryKey(uint64_t range_id);  // rangespb::IdempotencyExpiry

// The longest idempotency client id accepted (our clients use 16 bytes). Longer ids
// are refused rather than truncated: truncation would merge two clients' records.
inline constexpr size_t kMaxIdempotencyClientIdBytes = 64;
// rangespb::IdempotencyRecord of one client write:
// ... r idem <client id length:1> <client id> <sequence:8 BE>.
// REQUIRES: client_id.size() <= kMaxIdempotencyClientIdBytes (aborts otherwise).
std::string IdempotencyRecordKey(uint64_t range_id, absl::string_view client_id, uint64_t sequence);
// All idempotency records of a range: [start, end).
std::string IdempotencyRecordsStart(uint64_t range_id);
std::string IdempotencyRecordsEnd(uint64_t range_id);

// ---- Range-local: \x01 k <key> <suffix>, kept by the range holding <key> ----

// The first range-local key of key: the range-local keys of a range [start, end) are
// [RangeLocalKeyPrefix(start), RangeLocalKeyPrefix(end)).
std::string RangeLocalKeyPrefix(absl::string_view key);

// What follows the anchor in a transaction record key.
inline constexpr absl::string_view kTxnRecordInfix{"\0txn-", 5};
// The transaction record (kvpb::Transaction) of txn_id, anchored at anchor_key:
// \x01 k <anchor> \x00 txn- <txn id>. It sorts right after the anchor's own
// range-local keys, inside the range holding the anchor (unless a split lands exactly
// at anchor + \x00), and moves with it.
std::string TxnRecordKey(absl::string_view anchor_key, absl::string_view txn_id);

// ---- Store-local: \x01 s <suffix>, one set per store (never replicated) ----

// The node's identity: nodepb::BootstrapRequest as received from `rangedb init`.
std::string StoreIdentKey();
// This copy of the data (nodepb::StoreIdRecord; docs/design/node-identity.md).
std::string StoreIdKey();
// The replicas this store holds (value: an empty message), [ReplicaIndexStart,
// ReplicaIndexEnd): \x01 s repl <range id:8 BE>.
std::string ReplicaIndexKey(uint64_t range_id);
std::string ReplicaIndexStart();
std::string ReplicaIndexEnd();
// The range id of a ReplicaIndexKey; 0 if malformed.
uint64_t RangeIdOfReplicaIndexKey(absl::string_view key);
// The replicas this store took out of service because their storage is corrupt
// (value: the error text), [CorruptReplicasStart, CorruptReplicasEnd):
// \x01 s corr <range id:8 BE>.
std::string CorruptReplicaKey(uint64_t range_id);
std::string CorruptReplicasStart();
std::string CorruptReplicasEnd();
// The range id of a CorruptReplicaKey; 0 if malformed.
uint64_t RangeIdOfCorruptReplicaKey(absl::string_view key);

// ---- Lock table: \x01 z <user key> ----

// The lock-table key holding the metadata of the intent on user_key
// (proto::LockTableEntry; storage/lock_table.h).
std::string LockTableKey(absl::string_view user_key);

// ---- Meta: \x02 <range end key> ----

// The kvpb::RangeDescriptor of the range ending at end_key. Meta keys sort like the end
// keys they carry, so the range holding key k is the first meta key after MetaKey(k).
std::string MetaKey(absl::string_view end_key);

// ---- System: \x03 <name> ----

// The SQL catalog (descriptors, names, the schema version); the layout below the
// prefix is the SQL layer's (sql/catalog.h, docs/sql.md). (Octal \003: a hex escape
// would swallow the "ca".)
inline constexpr absl::string_view kSystemCatalogPrefix = "\003catalog/";
// Cluster settings, one key per setting: \x03 settings/ <name>.
inline constexpr absl::string_view kSettingsPrefix = "\x03settings/";

// gc_ttl: a duration ("4h", "90m") overriding StoreConfig::gc_ttl; set it with
// `rangedb kv put '\x03settings/gc_ttl' 2h`.
std::string GcTtlSettingKey();
// The node id and range id generators: decimal counters for Increment.
std::string NodeIdGeneratorKey();
std::string RangeIdGeneratorKey();

// ---- Table data: \x04 <table id:uvarint> <index id:uvarint> <index columns...> ----
//
// Reserved for the SQL layer (DESIGN §7, docs/encoding.md): ids are ascending uvarint
// key encodings; a row is /<table>/<primary index>/<pk columns>, a secondary index
// entry /<table>/<index>/<index columns>/<pk columns> (sql/table_info.h).

std::string TablePrefix(uint64_t table_id);
std::string IndexPrefix(uint64_t table_id, uint64_t index_id);

// ---- Raft log: <range id:8 BE> <index:8 BE> in ColumnFamily::kRaftLog ----

inline constexpr size_t kRaftLogKeyBytes = 16;
// Entry `index` of range_id. The family holds nothing else, so the key is raw (no
// MVCC encoding); one range's entries are contiguous and in index order.
std::string RaftLogKey(uint64_t range_id, uint64_t index);

// ---- Spans ----

struct Span {
  std::string start;
  std::string end;  // exclusive
};

// Where a range's user data starts: never in the local region, even for the range
// starting at KeyMin.
std::string DataSpanStart(absl::string_view range_start);

// Every span of keys a replica of range_id over [start, end) replicates, in key order:
// its replicated range-ID-local keys, its range-local keys, its lock table and its
// user data.
std::vector<Span> ReplicatedSpans(uint64_t range_id, absl::string_view start,
                                  absl::string_view end);

}  // namespace rangedb::keys
