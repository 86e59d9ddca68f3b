// The lock table: one entry per intent, holding the owning transaction's metadata
// and the intent's history of earlier values (for savepoint rollbacks).
//
// An entry lives at the unversioned MVCC key of keys::LockTableKey(user_key). The
// provisional value itself lives in the data at <user_key>@<txn write timestamp>
// with the provisional bit set (storage/mvcc_value.h). Invariant, maintained by every
// MVCC write: a lock entry for k exists iff the newest version of k is provisional,
// and the entry's write timestamp is that version's timestamp.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/mvcc.pb.h"
#include "storage/engine.h"
#include "storage/mvcc_txn.h"

namespace rangedb {

// The encoded engine key of the lock entry for user_key.
std::string EncodedLockKey(absl::string_view user_key);

// Reads the lock entry for user_key into *entry. Returns false if there is none,
// DataLoss if the stored entry does not parse. *encoded_bytes (if not null) gets
// the stored key + value size, which MVCCStats counts.
[[nodiscard]] absl::StatusOr<bool> ReadLockEntry(Reader& reader, absl::string_view user_key,
                                                 proto::LockTableEntry* entry,
                                                 int64_t* encoded_bytes = nullptr);

// Writes (or overwrites) the entry; returns the stored key + value size.
int64_t WriteLockEntry(Writer& writer, absl::string_view user_key,
                       const proto::LockTableEntry& entry);

void DeleteLockEntry(Writer& writer, absl::string_view user_key);

// Conversions between the API and the stored form.
TxnMeta TxnMetaFromProto(const proto::TxnMeta& p);
void TxnMetaToProto(const TxnMeta& meta, proto::TxnMeta* p);
Timestamp TimestampFromProto(const proto::Timestamp& p);
void TimestampToProto(Timestamp ts, proto::Timestamp* p);

}  // namespace rangedb
