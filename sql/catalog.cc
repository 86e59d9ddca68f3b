#include "sql/catalog.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sql/sqlstate.h"
#include "storage/encoding.h"
#include "storage/keys.h"
#include "txn/scan_pages.h"

namespace rangedb::sql {
namespace {

std::string CatalogKey(absl::string_view suffix) {
  return absl::StrCat(keys::kSystemCatalogPrefix, suffix);
}

// A record about one table's index (or the table: index 0) under kind ("drop/", …).
std::string IndexRecordKey(absl::string_view kind, uint64_t table_id, uint32_t index_id) {
  std::string key = CatalogKey(kind);
  AppendUvarintKey(&key, table_id, Direction::kAscending);
  AppendUvarintKey(&key, index_id, Direction::kAscending);
  return key;
}

absl::StatusOr<uint64_t> ParseCounter(const std::string& key,
                                      const std::optional<std::string>& value) {
  if (!value.has_value()) return 0;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(*value, &n)) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("catalog counter ", absl::CEscape(key), " is corrupt: '",
                                 absl::CEscape(*value), "'"));
  }
  return n;
}

absl::StatusOr<uint64_t> ReadCounter(txn::Txn& txn, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> value = txn.Get(key);
  if (!value.ok()) return value.status();
  return ParseCounter(key, *value);
}

}  // namespace

std::string CatalogVersionKey() { return CatalogKey("version"); }
std::string CatalogIdGeneratorKey() { return CatalogKey("idgen"); }

std::string DescriptorKey(uint64_t id) {
  std::string key = CatalogKey("desc/");
  AppendUvarintKey(&key, id, Direction::kAscending);
  return key;
}
std::string DescriptorSpanStart() { return CatalogKey("desc/"); }
std::string DescriptorSpanEnd() { return CatalogKey("desc0"); }  // '0' follows '/'

std::string DropRecordKey(uint64_t table_id, uint32_t index_id) {
  return IndexRecordKey("drop/", table_id, index_id);
}
std::string DropRecordSpanStart() { return CatalogKey("drop/"); }
std::string DropRecordSpanEnd() { return CatalogKey("drop0"); }  // '0' follows '/'

std::string IndexBuildKey(uint64_t table_id, uint32_t index_id) {
  return IndexRecordKey("build/", table_id, index_id);
}
std::string IndexBuildSpanStart() { return CatalogKey("build/"); }
std::string IndexBuildSpanEnd() { return CatalogKey("build0"); }  // '0' follows '/'

absl::Status RecordDrop(txn::Txn& txn, uint64_t table_id, uint32_t index_id,
                        absl::string_view start, absl::string_view end) {
  sqlpb::DroppedSpan span;
  span.set_start(std::string(start));
  span.set_end(std::string(end));
  span.set_table_id(table_id);
  span.set_index_id(index_id);
  return txn.Put(DropRecordKey(table_id, index_id), span.SerializeAsString());
}

std::string FoldName(absl::string_view name) { return absl::AsciiStrToLower(name); }

std::string NameKey(absl::string_view name) {
  std::string key = CatalogKey("name/");
  AppendTextKey(&key, FoldName(name), Direction::kAscending);
  return key;
}

absl::StatusOr<uint64_t> ReadVersion(txn::Txn& txn) {
  return ReadCounter(txn, CatalogVersionKey());
}

absl::StatusOr<uint64_t> ParseVersion(const std::optional<std::string>& value) {
  return ParseCounter(CatalogVersionKey(), value);
}

absl::StatusOr<uint64_t> BumpVersion(txn::Txn& txn) {
  absl::StatusOr<uint64_t> version = ReadVersion(txn);
  if (!version.ok()) return version.status();
  if (absl::Status s = txn.Put(CatalogVersionKey(), absl::StrCat(*version + 1)); !s.ok()) return s;
  return *version + 1;
}

absl::StatusOr<std::vector<sqlpb::TableDescriptor>> LoadDescriptors(txn::Txn& txn) {
  std::vector<sqlpb::TableDescriptor> out;
  absl::Status s =
      txn::ScanInPages(txn, DescriptorSpanStart(), DescriptorSpanEnd(), [&out](kv::KeyValue& row) {
        sqlpb::TableDescriptor desc;
        if (!desc.ParseFromString(row.value)) {
          return SqlError(
              sqlstate::kInternalError,
              absl::StrCat("table descriptor at ", absl::CEscape(row.key), " does not parse"));
        }
        out.push_back(std::move(desc));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<uint64_t> AllocateTableId(txn::Txn& txn) {
  absl::StatusOr<uint64_t> last = ReadCounter(txn, CatalogIdGeneratorKey());
  if (!last.ok()) return last.status();
  const uint64_t id = std::max(*last + 1, kFirstTableId);
  if (absl::Status s = txn.Put(CatalogIdGeneratorKey(), absl::StrCat(id)); !s.ok()) return s;
  return id;
}

absl::Status CreateTable(txn::Txn& txn, const sqlpb::TableDescriptor& desc) {
  const std::string name_key = NameKey(desc.name());
  absl::StatusOr<std::optional<std::string>> existing = txn.Get(name_key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return SqlError(sqlstate::kDuplicateTable,
                    absl::StrCat("table ", desc.name(), " already exists"));
  }
  if (absl::Status s = txn.Put(name_key, absl::StrCat(desc.id())); !s.ok()) return s;
  return WriteDescriptor(txn, desc);
}

absl::Status DropTable(txn::Txn& txn, const sqlpb::TableDescriptor& desc) {
  // The rows and index entries are cleared after the commit (sql/dropped_spans.h).
  if (!desc.is_view()) {
    if (absl::Status s = RecordDrop(txn, desc.id(), 0, keys::TablePrefix(desc.id()),
                                    keys::TablePrefix(desc.id() + 1));
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = txn.Delete(NameKey(desc.name())); !s.ok()) return s;
  return txn.Delete(DescriptorKey(desc.id()));
}

absl::StatusOr<std::optional<sqlpb::TableDescriptor>> ReadDescriptor(txn::Txn& txn, uint64_t id) {
  absl::StatusOr<std::optional<std::string>> stored = txn.Get(DescriptorKey(id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<sqlpb::TableDescriptor>();
  sqlpb::TableDescriptor desc;
  if (!desc.ParseFromString(**stored)) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("the descriptor of table ", id, " is corrupt"));
  }
  return std::optional<sqlpb::TableDescriptor>(std::move(desc));
}

absl::Status WriteDescriptor(txn::Txn& txn, const sqlpb::TableDescriptor& desc) {
  return txn.Put(DescriptorKey(desc.id()), desc.SerializeAsString());
}

}  // namespace rangedb::sql
