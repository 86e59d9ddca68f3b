#include "sql/index_build.h"

#include <optional>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/sql.pb.h"
#include "sql/catalog.h"
#include "sql/prefix_counter.h"
#include "sql/sqlstate.h"
#include "sql/table_info.h"
#include "storage/encoding.h"
#include "storage/keys.h"
#include "txn/scan_pages.h"

namespace rangedb::sql {
namespace {

absl::Status TakenOver(const sqlpb::IndexBuild& record) {
  return SqlError(
      sqlstate::kAmbiguousCommit,
      absl::StrCat("this CREATE INDEX was paused past its claim and node ", record.owner_node_id(),
                   " took the build over: the index is finished there, or "
                   "removed if it cannot be built"));
}

// The table a build works on, read in the build's own transaction: it may have been
// dropped since the build began.
absl::StatusOr<sqlpb::TableDescriptor> ReadBuildTable(txn::Txn& txn, uint64_t table_id) {
  absl::StatusOr<std::optional<sqlpb::TableDescriptor>> desc = ReadDescriptor(txn, table_id);
  if (!desc.ok()) return desc.status();
  if (!desc->has_value()) {
    return SqlError(sqlstate::kUndefinedTable, "the table was dropped during CREATE INDEX");
  }
  return std::move(**desc);
}

int IndexPosition(const sqlpb::TableDescriptor& desc, uint32_t index_id) {
  for (int i = 0; i < desc.indexes_size(); ++i) {
    if (desc.indexes(i).id() == index_id) return i;
  }
  return -1;
}

absl::Status IndexDropped() {
  return SqlError(sqlstate::kUndefinedObject, "the index was dropped during CREATE INDEX");
}

// The record, read in txn; nullopt if there is none (the index was dropped, or the
// build ended).
absl::StatusOr<std::optional<sqlpb::IndexBuild>> ReadRecord(txn::Txn& txn, uint64_t table_id,
                                                            uint32_t index_id) {
  const std::string key = IndexBuildKey(table_id, index_id);
  absl::StatusOr<std::optional<std::string>> stored = txn.Get(key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<sqlpb::IndexBuild>();
  sqlpb::IndexBuild record;
  if (!record.ParseFromString(**stored) || record.table_id() != table_id ||
      record.index_id() != index_id) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("index build record ", absl::CHexEscape(key), " is corrupt"));
  }
  return std::optional<sqlpb::IndexBuild>(std::move(record));
}

// The record, if builder owns it: 40003 if another builder does or did (it took the
// build over and finished it), 42704 if the index is gone (DROP INDEX deletes the
// record with it), 42P01 if its table is.
absl::StatusOr<sqlpb::IndexBuild> ReadOwnRecord(txn::Txn& txn, const IndexBuilder& builder,
                                                uint64_t table_id, uint32_t index_id) {
  absl::StatusOr<std::optional<sqlpb::IndexBuild>> record = ReadRecord(txn, table_id, index_id);
  if (!record.ok()) return record.status();
  if (record->has_value()) {
    if ((*record)->owner() != builder.owner) return TakenOver(**record);
    return std::move(**record);
  }
  absl::StatusOr<sqlpb::TableDescriptor> desc = ReadBuildTable(txn, table_id);
  if (!desc.ok()) return desc.status();
  const int i = IndexPosition(*desc, index_id);
  if (i < 0) return IndexDropped();
  if (desc->indexes(i).state() != sqlpb::IndexDescriptor::PUBLIC) {
    return SqlError(
        sqlstate::kInternalError,
        absl::StrCat("index ", desc->indexes(i).name(), " is being built but has no build record"));
  }
  return SqlError(sqlstate::kAmbiguousCommit,
                  "this CREATE INDEX was paused past its claim and another node took the "
                  "build over and finished it");
}

absl::Status WriteRecord(txn::Txn& txn, const sqlpb::IndexBuild& record) {
  return txn.Put(IndexBuildKey(record.table_id(), record.index_id()), record.SerializeAsString());
}

int64_t ClaimExpiry(const IndexBuilder& builder) {
  return builder.wall_micros() + absl::ToInt64Microseconds(kIndexBuildClaim);
}

// One chunk of step 2 in txn: the entries of up to kIndexBuildChunkRows rows from
// the record's resume key. Sets *done when the rows ran out.
absl::Status BackfillChunk(txn::Txn& txn, const IndexBuilder& builder, uint64_t table_id,
                           uint32_t index_id, bool* done) {
  absl::StatusOr<sqlpb::IndexBuild> record = ReadOwnRecord(txn, builder, table_id, index_id);
  if (!record.ok()) return record.status();
  absl::StatusOr<sqlpb::TableDescriptor> desc = ReadBuildTable(txn, table_id);
  if (!desc.ok()) return desc.status();
  absl::StatusOr<std::shared_ptr<const TableInfo>> info = TableInfo::Make(*std::move(desc));
  if (!info.ok()) return info.status();
  const IndexInfo* index = nullptr;
  for (const IndexInfo& ii : (*info)->indexes()) {
    if (ii.desc->id() == index_id) index = &ii;
  }
  if (index == nullptr) return IndexDropped();
  const std::string from =
      record->resume_key().empty() ? (*info)->rows_start() : record->resume_key();
  if (from >= (*info)->rows_end()) {  // every row done
    *done = true;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<kv::KeyValue>> rows =
      txn.Scan(from, (*info)->rows_end(), kIndexBuildChunkRows);
  if (!rows.ok()) return rows.status();
  for (const kv::KeyValue& stored_row : *rows) {
    absl::StatusOr<std::vector<Value>> row = (*info)->DecodeRow(stored_row.value);
    if (!row.ok()) return row.status();
    const std::string entry = (*info)->IndexEntryKey(*index, *row, stored_row.key);
    if (TableInfo::EnforcesUniqueness(*index, *row)) {
      absl::StatusOr<std::optional<std::string>> owner = txn.Get(entry);
      if (!owner.ok()) return owner.status();
      if (owner->has_value() && (*info)->RowKeyOfEntry(**owner) != stored_row.key) {
        return SqlError(
            sqlstate::kUniqueViolation,
            absl::StrCat("UNIQUE constraint failed: ", (*info)->ConstraintColumns(index->columns)));
      }
    }
    if (absl::Status p = txn.Put(entry, (*info)->EntryValue(stored_row.key)); !p.ok()) return p;
  }
  *done = static_cast<int64_t>(rows->size()) < kIndexBuildChunkRows;
  if (!rows->empty()) record->set_resume_key(rows->back().key + std::string(1, '\0'));
  record->set_claim_expiry_micros(ClaimExpiry(builder));
  return WriteRecord(txn, *record);
}

// What the check below counted: the statistics the index is published with, as
// ANALYZE would have counted them (sql/session_analyze.cc).
struct BuiltIndexStats {
  int64_t rows = 0;
  std::vector<int64_t> distinct_prefixes;
};

// The check before step 3 (as CockroachDB validates a new index): at one snapshot,
// the index has one entry per row. Read-only, so writers cannot make it fail; a
// difference is a bug in the build or in a writer, and the index must not be used
// (XX000, after which it is removed). Sets *stats.
absl::Status ValidateIndex(txn::Txn& txn, uint64_t table_id, uint32_t index_id,
                           BuiltIndexStats* stats) {
  absl::StatusOr<sqlpb::TableDescriptor> desc = ReadBuildTable(txn, table_id);
  if (!desc.ok()) return desc.status();
  absl::StatusOr<std::shared_ptr<const TableInfo>> info = TableInfo::Make(*std::move(desc));
  if (!info.ok()) return info.status();
  for (const IndexInfo& index : (*info)->indexes()) {
    if (index.desc->id() != index_id) continue;
    absl::StatusOr<int64_t> rows =
        txn::CountInPages(txn, (*info)->rows_start(), (*info)->rows_end());
    if (!rows.ok()) return rows.status();
    int64_t entries = 0;
    PrefixCounter prefixes(index.prefix, static_cast<int>(index.columns.size()));
    if (absl::Status s = txn::ScanInPages(txn, index.prefix, index.prefix_end,
                                          [&](kv::KeyValue& entry) {
                                            ++entries;
                                            prefixes.Add(entry.key);
                                            return absl::OkStatus();
                                          });
        !s.ok()) {
      return s;
    }
    if (*rows == entries) {
      *stats = BuiltIndexStats{*rows, prefixes.distinct()};
      return absl::OkStatus();
    }
    return SqlError(
        sqlstate::kInternalError,
        absl::StrCat("index ", index.desc->name(), " of table ", (*info)->name(), " has ", entries,
                     " entries for ", *rows, " rows after its build: it is not used"));
  }
  return IndexDropped();
}

// Step 3 (publish) or the rollback, in one transaction with the record's deletion.
// stats (publish only): what ValidateIndex counted.
absl::Status FinishBuild(txn::Txn& txn, const IndexBuilder& builder, uint64_t table_id,
                         uint32_t index_id, bool publish, const BuiltIndexStats* stats = nullptr) {
  absl::StatusOr<sqlpb::IndexBuild> record = ReadOwnRecord(txn, builder, table_id, index_id);
  if (!record.ok()) {
    // Nothing left to remove if the index went with its record.
    const std::string state = SqlStateOf(record.status());
    if (!publish && (state == sqlstate::kUndefinedObject || state == sqlstate::kUndefinedTable)) {
      return absl::OkStatus();
    }
    return record.status();
  }
  if (absl::Status s = DeleteIndexBuild(txn, table_id, index_id); !s.ok()) return s;
  absl::StatusOr<std::optional<sqlpb::TableDescriptor>> read = ReadDescriptor(txn, table_id);
  if (!read.ok()) return read.status();
  if (!read->has_value()) {
    return publish ? SqlError(sqlstate::kUndefinedTable,
                              "the table was dropped during CREATE INDEX")
                   : absl::OkStatus();  // the record only, a leftover
  }
  sqlpb::TableDescriptor& desc = **read;
  const int i = IndexPosition(desc, index_id);
  if (i < 0) return publish ? IndexDropped() : absl::OkStatus();
  if (publish) {
    sqlpb::IndexDescriptor* index = desc.mutable_indexes(i);
    index->set_state(sqlpb::IndexDescriptor::PUBLIC);
    // In an analyzed table, planned by from the start rather than after the next
    // ANALYZE. A table never analyzed keeps the planner's defaults for all its key
    // orders (a row count taken now, often of an empty table about to be loaded,
    // would mislead it for good).
    if (stats != nullptr && desc.row_count_estimate() > 0 &&
        static_cast<int>(stats->distinct_prefixes.size()) == index->column_ids_size()) {
      index->clear_distinct_prefix_estimate();
      for (int64_t d : stats->distinct_prefixes) index->add_distinct_prefix_estimate(d);
    }
  } else {
    // Its entries are cleared after the commit (sql/dropped_spans.h).
    if (absl::Status s = RecordDrop(txn, table_id, index_id, keys::IndexPrefix(table_id, index_id),
                                    keys::IndexPrefix(table_id, index_id + 1));
        !s.ok()) {
      return s;
    }
    desc.mutable_indexes()->DeleteSubrange(i, 1);
  }
  desc.set_version(desc.version() + 1);
  if (absl::Status s = WriteDescriptor(txn, desc); !s.ok()) return s;
  absl::StatusOr<uint64_t> v = BumpVersion(txn);
  return v.ok() ? absl::OkStatus() : v.status();
}

// Whether the record's index still waits for its build: the table exists and holds
// the index in state BACKFILL. A record without one is a leftover.
absl::StatusOr<bool> StillBuilding(txn::Txn& txn, uint64_t table_id, uint32_t index_id) {
  absl::StatusOr<std::optional<sqlpb::TableDescriptor>> desc = ReadDescriptor(txn, table_id);
  if (!desc.ok()) return desc.status();
  if (!desc->has_value()) return false;
  const int i = IndexPosition(**desc, index_id);
  return i >= 0 && (*desc)->indexes(i).state() == sqlpb::IndexDescriptor::BACKFILL;
}

enum class Takeover { kTaken, kLive, kLeftover };

// Claims an abandoned record for builder if its claim ran out more than max_offset
// ago; a record whose index is no longer being built is deleted instead.
absl::StatusOr<Takeover> TakeOver(txn::Sender* sender, const txn::TxnOptions& options,
                                  const IndexBuilder& builder, absl::Duration max_offset,
                                  uint64_t table_id, uint32_t index_id, uint64_t* from_node) {
  Takeover outcome = Takeover::kLive;
  absl::Status s = txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        outcome = Takeover::kLive;
        absl::StatusOr<std::optional<sqlpb::IndexBuild>> record =
            ReadRecord(txn, table_id, index_id);
        if (!record.ok()) return record.status();
        if (!record->has_value()) return absl::OkStatus();  // finished meanwhile
        absl::StatusOr<bool> building = StillBuilding(txn, table_id, index_id);
        if (!building.ok()) return building.status();
        if (!*building) {
          outcome = Takeover::kLeftover;
          return DeleteIndexBuild(txn, table_id, index_id);
        }
        // Past its claim by more than the clocks may differ, or further ahead than a
        // claim ever reaches (written while its clock was far ahead): run out.
        const int64_t now = builder.wall_micros();
        const int64_t expiry = (*record)->claim_expiry_micros();
        const int64_t offset = absl::ToInt64Microseconds(max_offset);
        const bool ran_out =
            now > expiry + offset ||
            expiry > now + absl::ToInt64Microseconds(kIndexBuildClaim) + 2 * offset;
        if (!ran_out) return absl::OkStatus();
        outcome = Takeover::kTaken;
        sqlpb::IndexBuild& claimed = **record;
        *from_node = claimed.owner_node_id();
        claimed.set_owner(builder.owner);
        claimed.set_owner_node_id(builder.node_id);
        claimed.set_claim_expiry_micros(ClaimExpiry(builder));
        return WriteRecord(txn, claimed);
      },
      options);
  if (!s.ok()) return s;
  return outcome;
}

// Every build record's key, and its (table, index), or why it cannot be read: a
// record that does not parse fails alone.
struct ListedBuild {
  std::string key;
  absl::StatusOr<std::pair<uint64_t, uint32_t>> ids;
};

absl::StatusOr<std::vector<ListedBuild>> ListBuilds(txn::Sender* sender,
                                                    const txn::TxnOptions& options) {
  std::vector<ListedBuild> out;
  absl::Status s = txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        out.clear();
        return txn::ScanInPages(
            txn, IndexBuildSpanStart(), IndexBuildSpanEnd(), [&out](kv::KeyValue& kv) {
              sqlpb::IndexBuild record;
              if (!record.ParseFromString(kv.value) ||
                  kv.key != IndexBuildKey(record.table_id(), record.index_id())) {
                out.push_back(
                    {kv.key, SqlError(sqlstate::kInternalError,
                                      absl::StrCat("index build record ", absl::CHexEscape(kv.key),
                                                   " is corrupt"))});
              } else {
                out.push_back({kv.key, std::make_pair(record.table_id(), record.index_id())});
              }
              return absl::OkStatus();
            });
      },
      options);
  if (!s.ok()) return s;
  return out;
}

}  // namespace

IndexBuilder NewIndexBuilder(uint64_t node_id, std::function<int64_t()> wall_micros) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  IndexBuilder builder;
  while (builder.owner == 0) builder.owner = rng();
  builder.node_id = node_id;
  builder.wall_micros =
      wall_micros ? std::move(wall_micros) : [] { return absl::ToUnixMicros(absl::Now()); };
  return builder;
}

absl::Status RecordIndexBuild(txn::Txn& txn, uint64_t table_id, uint32_t index_id,
                              const IndexBuilder& builder) {
  sqlpb::IndexBuild record;
  record.set_table_id(table_id);
  record.set_index_id(index_id);
  record.set_owner(builder.owner);
  record.set_owner_node_id(builder.node_id);
  record.set_claim_expiry_micros(ClaimExpiry(builder));
  return WriteRecord(txn, record);
}

absl::Status DeleteIndexBuild(txn::Txn& txn, uint64_t table_id, uint32_t index_id) {
  return txn.Delete(IndexBuildKey(table_id, index_id));
}

absl::Status RunIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                           const IndexBuilder& builder, uint64_t table_id, uint32_t index_id,
                           const std::function<absl::Status()>& check_stop) {
  // A chunk that meets a concurrent write to its rows fails its refresh and runs
  // again; writers keep the entries of their own rows (the index is in every write
  // since step 1).
  bool done = false;
  while (!done) {  // bounded: each chunk moves the resume key past its last row
    if (check_stop) {
      if (absl::Status s = check_stop(); !s.ok()) return s;
    }
    absl::Status s = txn::RunTransaction(
        sender,
        [&](txn::Txn& txn) -> absl::Status {
          return BackfillChunk(txn, builder, table_id, index_id, &done);
        },
        options);
    if (!s.ok()) return s;
  }
  BuiltIndexStats stats;
  if (absl::Status s = txn::RunTransaction(
          sender,
          [&](txn::Txn& txn) -> absl::Status {
            return ValidateIndex(txn, table_id, index_id, &stats);
          },
          options);
      !s.ok()) {
    return s;
  }
  return txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        return FinishBuild(txn, builder, table_id, index_id, /*publish=*/true, &stats);
      },
      options);
}

absl::Status AbandonIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                               const IndexBuilder& builder, uint64_t table_id, uint32_t index_id) {
  return txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        return FinishBuild(txn, builder, table_id, index_id, /*publish=*/false);
      },
      options);
}

absl::Status ReleaseIndexBuild(txn::Sender* sender, const txn::TxnOptions& options,
                               const IndexBuilder& builder, uint64_t table_id, uint32_t index_id) {
  return txn::RunTransaction(
      sender,
      [&](txn::Txn& txn) -> absl::Status {
        absl::StatusOr<sqlpb::IndexBuild> record = ReadOwnRecord(txn, builder, table_id, index_id);
        if (!record.ok()) return record.status();
        record->set_claim_expiry_micros(0);
        return WriteRecord(txn, *record);
      },
      options);
}

bool IndexBuildCannotFinish(const absl::Status& status) {
  const std::string state = SqlStateOf(status);
  return state == sqlstate::kUniqueViolation || state == sqlstate::kUndefinedTable ||
         state == sqlstate::kUndefinedObject || state == sqlstate::kInternalError;
}

absl::StatusOr<ResumedIndexBuilds> ResumeAbandonedIndexBuilds(
    txn::Sender* sender, const txn::TxnOptions& options, const IndexBuilder& builder,
    absl::Duration max_offset, const std::function<absl::Status()>& check_stop,
    const std::function<void(uint64_t table_id, uint32_t index_id, uint64_t from_node)>&
        on_takeover) {
  absl::StatusOr<std::vector<ListedBuild>> builds = ListBuilds(sender, options);
  if (!builds.ok()) return builds.status();
  ResumedIndexBuilds resumed;
  for (const ListedBuild& listed : *builds) {
    if (check_stop) {
      if (absl::Status s = check_stop(); !s.ok()) return s;
    }
    const std::string& key = listed.key;
    if (!listed.ids.ok()) {
      resumed.failed.emplace_back(key, listed.ids.status());
      continue;
    }
    const auto [table_id, index_id] = *listed.ids;
    uint64_t from_node = 0;
    absl::StatusOr<Takeover> taken =
        TakeOver(sender, options, builder, max_offset, table_id, index_id, &from_node);
    if (!taken.ok()) {
      resumed.failed.emplace_back(key, taken.status());
      continue;
    }
    if (*taken == Takeover::kLeftover) ++resumed.cleaned;
    if (*taken != Takeover::kTaken) continue;
    if (on_takeover) on_takeover(table_id, index_id, from_node);
    absl::Status built = RunIndexBuild(sender, options, builder, table_id, index_id, check_stop);
    if (built.ok()) {
      ++resumed.published;
      continue;
    }
    if (check_stop) {
      if (absl::Status s = check_stop(); !s.ok()) return s;
    }
    if (!IndexBuildCannotFinish(built)) {
      resumed.failed.emplace_back(key, built);
      continue;
    }
    if (absl::Status undo = AbandonIndexBuild(sender, options, builder, table_id, index_id);
        !undo.ok()) {
      resumed.failed.emplace_back(key, undo);
      continue;
    }
    ++resumed.abandoned;
  }
  return resumed;
}

}  // namespace rangedb::sql
