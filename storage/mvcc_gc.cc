// Garbage collection of MVCC versions no read at or above a threshold can see.
#include <vector>

#include "absl/strings/match.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"

namespace rangedb {
namespace {

struct Doomed {
  std::string encoded_key;
  int64_t key_bytes;
  int64_t val_bytes;
};

// Per user key, walking versions newest first: once the newest committed version at
// or below the threshold is found, it (if a tombstone) and everything older go.
class KeyGC {
 public:
  explicit KeyGC(Timestamp threshold) : threshold_(threshold) {}

  void StartKey() {
    kept_any_ = false;
    found_boundary_ = false;
  }

  // Returns true if this version is garbage.
  bool Visit(Timestamp ts, const MVCCValue& value) {
    if (found_boundary_) return true;
    if (!value.provisional && ts <= threshold_) {
      found_boundary_ = true;
      if (value.tombstone) return true;
    }
    kept_any_ = true;
    return false;
  }

  bool KeptAny() const { return kept_any_; }

 private:
  const Timestamp threshold_;
  bool kept_any_ = false;
  bool found_boundary_ = false;
};

}  // namespace

absl::StatusOr<MVCCGCResult> MVCCGarbageCollect(WriteBatch& batch, absl::string_view start,
                                                absl::string_view end, Timestamp threshold,
                                                int64_t max_versions, MVCCStats* stats,
                                                std::vector<std::string>* keys) {
  MVCCGCResult result;
  std::vector<Doomed> doomed;  // collected first: writes invalidate batch iterators
  MVCCStats delta;
  {
    std::unique_ptr<Iterator> it =
        batch.NewIterator({ColumnFamily::kData, MVCCKeyPrefix(start), MVCCKeyPrefix(end)});
    KeyGC gc(threshold);
    std::string prefix, user_key;
    bool doomed_in_key = false;
    auto finish_key = [&] {
      if (doomed_in_key && !gc.KeptAny()) delta.key_count--;
    };
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Timestamp ts;
      if (absl::Status s = DecodeMVCCKey(it->key(), &user_key, &ts); !s.ok()) return s;
      if (ts.IsEmpty()) continue;  // unversioned entry: not MVCC data
      absl::string_view key_prefix = MVCCEncodedPrefix(it->key());
      if (key_prefix != prefix) {
        finish_key();
        if (max_versions > 0 && static_cast<int64_t>(doomed.size()) >= max_versions) {
          result.resume_span = KeySpan{user_key, std::string(end)};
          doomed_in_key = false;
          break;
        }
        prefix.assign(key_prefix.data(), key_prefix.size());
        gc.StartKey();
        doomed_in_key = false;
      }
      absl::StatusOr<MVCCValue> value = DecodeMVCCValue(it->value());
      if (!value.ok()) return value.status();
      if (!gc.Visit(ts, *value)) continue;
      if (!doomed_in_key && keys != nullptr) keys->push_back(user_key);
      doomed_in_key = true;
      doomed.push_back({std::string(it->key()), static_cast<int64_t>(it->key().size()),
                        static_cast<int64_t>(it->value().size())});
    }
    if (!result.resume_span.has_value()) finish_key();
    if (absl::Status s = it->status(); !s.ok()) return s;
  }
  for (const Doomed& d : doomed) {
    batch.Delete(ColumnFamily::kData, d.encoded_key);
    delta.key_bytes -= d.key_bytes;
    delta.val_bytes -= d.val_bytes;
    delta.val_count--;
  }
  result.versions_removed = static_cast<int64_t>(doomed.size());
  if (stats != nullptr) stats->Add(delta);
  return result;
}

}  // namespace rangedb
