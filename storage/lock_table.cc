#include "storage/lock_table.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"

namespace rangedb {

std::string EncodedLockKey(absl::string_view user_key) {
  return MVCCKeyPrefix(keys::LockTableKey(user_key));
}

absl::StatusOr<bool> ReadLockEntry(Reader& reader, absl::string_view user_key,
                                   proto::LockTableEntry* entry, int64_t* encoded_bytes) {
  std::string key = EncodedLockKey(user_key);
  std::string raw;
  absl::StatusOr<bool> found = reader.Get(ColumnFamily::kData, key, &raw);
  if (!found.ok() || !*found) return found;
  if (!entry->ParseFromString(raw)) {
    return absl::DataLossError(
        absl::StrCat("lock-table entry for key ", absl::CHexEscape(user_key), " does not parse"));
  }
  if (encoded_bytes != nullptr) *encoded_bytes = static_cast<int64_t>(key.size() + raw.size());
  return true;
}

int64_t WriteLockEntry(Writer& writer, absl::string_view user_key,
                       const proto::LockTableEntry& entry) {
  std::string key = EncodedLockKey(user_key);
  std::string raw = entry.SerializeAsString();
  writer.Put(ColumnFamily::kData, key, raw);
  return static_cast<int64_t>(key.size() + raw.size());
}

void DeleteLockEntry(Writer& writer, absl::string_view user_key) {
  writer.Delete(ColumnFamily::kData, EncodedLockKey(user_key));
}

Timestamp TimestampFromProto(const proto::Timestamp& p) { return {p.wall_time_ns(), p.logical()}; }

void TimestampToProto(Timestamp ts, proto::Timestamp* p) {
  p->set_wall_time_ns(ts.wall_ns);
  p->set_logical(ts.logical);
}

TxnMeta TxnMetaFromProto(const proto::TxnMeta& p) {
  TxnMeta m;
  m.id = p.id();
  m.anchor_key = p.anchor_key();
  m.epoch = p.epoch();
  m.write_timestamp = TimestampFromProto(p.write_timestamp());
  m.sequence = p.sequence();
  m.priority = p.priority();
  if (p.has_min_timestamp()) m.min_timestamp = TimestampFromProto(p.min_timestamp());
  return m;
}

void TxnMetaToProto(const TxnMeta& meta, proto::TxnMeta* p) {
  p->set_id(meta.id);
  p->set_anchor_key(meta.anchor_key);
  p->set_epoch(meta.epoch);
  TimestampToProto(meta.write_timestamp, p->mutable_write_timestamp());
  p->set_sequence(meta.sequence);
  p->set_priority(meta.priority);
  if (!meta.min_timestamp.IsEmpty()) {
    TimestampToProto(meta.min_timestamp, p->mutable_min_timestamp());
  }
}

}  // namespace rangedb
