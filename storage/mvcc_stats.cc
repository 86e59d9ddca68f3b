#include "storage/mvcc_stats.h"

#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb {

void MVCCStats::Add(const MVCCStats& o) {
  live_bytes += o.live_bytes;
  live_count += o.live_count;
  key_bytes += o.key_bytes;
  key_count += o.key_count;
  val_bytes += o.val_bytes;
  val_count += o.val_count;
  intent_bytes += o.intent_bytes;
  intent_count += o.intent_count;
}

std::string MVCCStats::ToString() const {
  return absl::StrCat("live_bytes=", live_bytes, " live_count=", live_count,
                      " key_bytes=", key_bytes, " key_count=", key_count, " val_bytes=", val_bytes,
                      " val_count=", val_count, " intent_bytes=", intent_bytes,
                      " intent_count=", intent_count);
}

namespace {

absl::Status AddVersions(Reader& reader, absl::string_view start, absl::string_view end,
                         MVCCStats* stats) {
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, MVCCKeyPrefix(start), MVCCKeyPrefix(end)});
  std::string current_prefix;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::string_view key = it->key();
    absl::string_view prefix = MVCCEncodedPrefix(key);
    if (prefix.empty()) return absl::DataLossError("malformed MVCC key in data");
    if (prefix.size() == key.size()) continue;  // unversioned: not MVCC data
    absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it->value());
    if (!value.ok()) return value.status();
    const int64_t kb = static_cast<int64_t>(key.size());
    const int64_t vb = static_cast<int64_t>(it->value().size());
    stats->key_bytes += kb;
    stats->val_bytes += vb;
    stats->val_count++;
    if (prefix != current_prefix) {  // the newest version of a new user key
      current_prefix.assign(prefix.data(), prefix.size());
      stats->key_count++;
      if (!value->tombstone) {
        stats->live_count++;
        stats->live_bytes += kb + vb;
      }
    }
  }
  return it->status();
}

absl::Status AddLocks(Reader& reader, absl::string_view start, absl::string_view end,
                      MVCCStats* stats) {
  std::unique_ptr<Iterator> it =
      reader.NewIterator({ColumnFamily::kData, EncodedLockKey(start), EncodedLockKey(end)});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    stats->intent_count++;
    stats->intent_bytes += static_cast<int64_t>(it->key().size() + it->value().size());
  }
  return it->status();
}

}  // namespace

absl::StatusOr<MVCCStats> ComputeStats(Reader& reader, absl::string_view start,
                                       absl::string_view end) {
  MVCCStats stats;
  absl::Status s = AddVersions(reader, start, end, &stats);
  if (s.ok()) s = AddLocks(reader, start, end, &stats);
  if (!s.ok()) return s;
  return stats;
}

}  // namespace rangedb
