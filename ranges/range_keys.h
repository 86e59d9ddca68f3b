// The keys a range and a store keep besides user data (storage/keys.h has the map;
// docs/replication.md lists what each holds).
//
// Local keys are stored unversioned: the engine key is MVCCKeyPrefix(local key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "storage/engine.h"

namespace rangedb::ranges {

// Replicated range-ID-local state (written by applying commands, carried in snapshots).
std::string AppliedStateKey(uint64_t range_id);  // rangespb::AppliedState
std::string LeaseKey(uint64_t range_id);         // rangespb::Lease
std::string DescriptorKey(uint64_t range_id);    // kvpb::RangeDescriptor
std::string GcThresholdKey(uint64_t range_id);   // proto::Timestamp: versions below are gone
// rangespb::IdempotencyRecord of one client write.
std::string IdempotencyRecordKey(uint64_t range_id, absl::string_view client_id, uint64_t sequence);
// The longest idempotency client id accepted (our clients use 16 bytes). Longer ids
// are refused rather than truncated: truncation would merge two clients' records.
inline constexpr size_t kMaxIdempotencyClientIdBytes = 64;
// The range's rangespb::IdempotencyExpiry.
std::string IdempotencyExpiryKey(uint64_t range_id);
// All idempotency records of a range: [start, end).
std::string IdempotencyRecordsStart(uint64_t range_id);
std::string IdempotencyRecordsEnd(uint64_t range_id);

// Range-local: the transaction record (kvpb::Transaction) of txn_id, anchored at
// anchor_key; it lives in (and moves with) the range holding anchor_key.
std::string TxnRecordKey(absl::string_view anchor_key, absl::string_view txn_id);

// Store-local: the node's identity (nodepb::BootstrapRequest as received), and an
// index of the replicas this store holds ([ReplicaIndexStart, ReplicaIndexEnd)).
std::string StoreIdentKey();
std::string ReplicaIndexKey(uint64_t range_id);
std::string ReplicaIndexStart();
std::string ReplicaIndexEnd();
// The range id of a ReplicaIndexKey; 0 if malformed.
uint64_t RangeIdOfReplicaIndexKey(absl::string_view key);
// Store-local: the replicas this store took out of service because their storage is
// corrupt (value: the error text), [CorruptReplicasStart, CorruptReplicasEnd).
std::string CorruptReplicaKey(uint64_t range_id);
std::string CorruptReplicasStart();
std::string CorruptReplicasEnd();
// The range id of a CorruptReplicaKey; 0 if malformed.
uint64_t RangeIdOfCorruptReplicaKey(absl::string_view key);

// meta: the RangeDescriptor of the range ending at end_key. Lookup of key k reads
// the first meta key after MetaKey(k).
std::string MetaKey(absl::string_view end_key);

// system: cluster settings. gc_ttl holds a duration ("4h", "90m") overriding
// StoreConfig::gc_ttl; set it with `rangedb kv put '\x03settings/gc_ttl' 2h`.
std::string GcTtlSettingKey();

// system: the node id and range id generators (decimal counters for Increment).
std::string NodeIdGeneratorKey();
std::string RangeIdGeneratorKey();

// Engine-key bounds of everything a replica of [start, end) replicates: its
// replicated range-ID-local keys, range-local keys, lock table and user data.
struct EngineSpan {
  std::string lower;
  std::string upper;  // exclusive
};
std::vector<EngineSpan> ReplicatedEngineSpans(uint64_t range_id, absl::string_view start,
                                              absl::string_view end);

// Reads a local key's protobuf value; false if absent; DataLoss if unparseable.
absl::StatusOr<bool> ReadLocalProto(Reader& reader, const std::string& local_key,
                                    google::protobuf::MessageLite* out);
void WriteLocalProto(Writer& writer, const std::string& local_key,
                     const google::protobuf::MessageLite& value);

}  // namespace rangedb::ranges
