#include "sql/dropped_spans.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/sql.pb.h"
#include "sql/catalog.h"
#include "sql/sqlstate.h"
#include "storage/keys.h"
#include "txn/scan_pages.h"

namespace rangedb::sql {
namespace {

// The drop records, in key order.
absl::StatusOr<std::vector<kv::KeyValue>> ReadRecords(txn::Sender* sender,
                                                      const txn::TxnOptions& options) {
  std::vector<kv::KeyValue> records;
  absl::Status s = txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        records.clear();
        return txn::ScanInPages(txn, DropRecordSpanStart(), DropRecordSpanEnd(),
                                [&records](kv::KeyValue& r) {
                                  records.push_back(std::move(r));
                                  return absl::OkStatus();
                                });
      },
      options);
  if (!s.ok()) return s;
  return records;
}

// Whether span names the record's own table or index and lies inside its keys.
bool Consistent(const std::string& record_key, const sqlpb::DroppedSpan& span) {
  if (record_key != DropRecordKey(span.table_id(), span.index_id())) return false;
  const uint64_t t = span.table_id();
  const uint32_t i = span.index_id();
  const std::string lo = i == 0 ? keys::TablePrefix(t) : keys::IndexPrefix(t, i);
  const std::string hi = i == 0 ? keys::TablePrefix(t + 1) : keys::IndexPrefix(t, i + 1);
  return span.end() == hi && span.start() >= lo && span.start() <= span.end();
}

// One chunk of the record's span: deletes up to kClearChunkKeys keys from the
// start of what is left, and moves the record's start past them — or, when the
// span is empty, deletes the record. Returns the keys deleted and whether the
// record is done.
absl::StatusOr<std::pair<int64_t, bool>> ClearChunk(txn::Sender* sender,
                                                    const txn::TxnOptions& options,
                                                    const std::string& record_key) {
  int64_t deleted = 0;
  bool done = false;
  absl::Status s = txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        deleted = 0;
        done = false;
        absl::StatusOr<std::optional<std::string>> value = txn.Get(record_key);
        if (!value.ok()) return value.status();
        if (!value->has_value()) {  // another clearer finished it
          done = true;
          return absl::OkStatus();
        }
        sqlpb::DroppedSpan span;
        if (!span.ParseFromString(**value) || !Consistent(record_key, span)) {
          return SqlError(sqlstate::kInternalError,
                          absl::StrCat("the drop record ", absl::CHexEscape(record_key),
                                       " is corrupt (it is left in place)"));
        }
        absl::StatusOr<std::vector<kv::KeyValue>> keys =
            txn.Scan(span.start(), span.end(), kClearChunkKeys);
        if (!keys.ok()) return keys.status();
        if (keys->empty()) {
          done = true;
          return txn.Delete(record_key);
        }
        const std::string through = keys->back().key + std::string(1, '\0');
        absl::StatusOr<int64_t> n = txn.DeleteRange(span.start(), through);
        if (!n.ok()) return n.status();
        deleted = *n;
        span.set_start(through);
        return txn.Put(record_key, span.SerializeAsString());
      },
      options);
  if (!s.ok()) return s;
  return std::make_pair(deleted, done);
}

// Clears record_key's span chunk by chunk, counting into *cleared. *stopped says
// whether an error came from check_stop (stop everything) rather than the record.
absl::Status ClearRecord(txn::Sender* sender, const txn::TxnOptions& options,
                         const std::string& record_key,
                         const std::function<absl::Status()>& check_stop, ClearedSpans* cleared,
                         bool* stopped) {
  *stopped = false;
  while (true) {  // bounded: each chunk deletes keys or ends the record
    if (check_stop) {
      if (absl::Status s = check_stop(); !s.ok()) {
        *stopped = true;
        return s;
      }
    }
    absl::StatusOr<std::pair<int64_t, bool>> chunk = ClearChunk(sender, options, record_key);
    if (!chunk.ok()) return chunk.status();
    cleared->keys += chunk->first;
    if (chunk->second) {
      ++cleared->records;
      return absl::OkStatus();
    }
  }
}

}  // namespace

absl::StatusOr<ClearedSpans> ClearDroppedSpans(txn::Sender* sender, const txn::TxnOptions& options,
                                               const std::function<absl::Status()>& check_stop) {
  absl::StatusOr<std::vector<kv::KeyValue>> records = ReadRecords(sender, options);
  if (!records.ok()) return records.status();
  ClearedSpans cleared;
  for (const kv::KeyValue& record : *records) {
    bool stopped = false;
    absl::Status s = ClearRecord(sender, options, record.key, check_stop, &cleared, &stopped);
    if (s.ok()) continue;
    if (stopped) return s;
    // One record that fails must not hold up the others.
    cleared.failed.emplace_back(record.key, s);
  }
  return cleared;
}

absl::StatusOr<ClearedSpans> ClearDroppedSpan(txn::Sender* sender, const txn::TxnOptions& options,
                                              uint64_t table_id, uint32_t index_id,
                                              const std::function<absl::Status()>& check_stop) {
  ClearedSpans cleared;
  bool stopped = false;
  if (absl::Status s = ClearRecord(sender, options, DropRecordKey(table_id, index_id), check_stop,
                                   &cleared, &stopped);
      !s.ok()) {
    return s;
  }
  return cleared;
}

}  // namespace rangedb::sql
