// Catalog: the SQL schema as descriptors in the system key space, read and written
// inside a transaction (docs/design/sql.md "Catalog"; the layout is in docs/sql.md).
//
//   \x03catalog/desc/<id:uvarint key>   sqlpb::TableDescriptor
//   \x03catalog/name/<name:text key>    the id (decimal) of the table with that name,
//                                       folded to ASCII lower case (SQLite's names
//                                       are case-insensitive)
//   \x03catalog/idgen                   the last descriptor id handed out (decimal)
//   \x03catalog/version                 the schema version (decimal; absent = 0)
//   \x03catalog/drop/…, \x03catalog/build/… what DROPs left to clear (below) and
//                                       index builds in progress (sql/index_build.h)
//
// Schema-change protocol: every SQL transaction reads the version key (ReadVersion)
// before it uses the schema, and every change writes its descriptors and increments
// the version in the same transaction (BumpVersion). Serializable isolation then
// orders every transaction either before a change or after it, with the schema it
// saw (the safety argument is in docs/design/sql.md).
//
// Table ids start at kFirstTableId, so table data never shares a prefix with the
// ids a future system table might need.
//
// Thread safety: stateless functions over a caller's transaction (a Txn is used by
// one thread at a time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/sql.pb.h"
#include "txn/txn.h"

namespace rangedb::sql {

inline constexpr uint64_t kFirstTableId = 100;
inline constexpr uint32_t kPrimaryIndexId = 1;

std::string CatalogVersionKey();
std::string CatalogIdGeneratorKey();
std::string DescriptorKey(uint64_t id);
// The span of every descriptor key.
std::string DescriptorSpanStart();
std::string DescriptorSpanEnd();
std::string NameKey(absl::string_view name);
// The drop record of a dropped table (index_id 0) or index: what is left to clear
// (docs/design/sql-drop.md); all of them lie in [DropRecordSpanStart, End).
std::string DropRecordKey(uint64_t table_id, uint32_t index_id);
std::string DropRecordSpanStart();
std::string DropRecordSpanEnd();
// The build record of an index being built (sql/index_build.h); all of them lie in
// [IndexBuildSpanStart, End).
std::string IndexBuildKey(uint64_t table_id, uint32_t index_id);
std::string IndexBuildSpanStart();
std::string IndexBuildSpanEnd();
// Writes the drop record of [start, end) in txn.
[[nodiscard]] absl::Status RecordDrop(txn::Txn& txn, uint64_t table_id, uint32_t index_id,
                                      absl::string_view start, absl::string_view end);
// ASCII lower case: SQLite compares identifiers without regard to ASCII case.
std::string FoldName(absl::string_view name);

// The schema version as of the transaction's snapshot (0 before the first change).
[[nodiscard]] absl::StatusOr<uint64_t> ReadVersion(txn::Txn& txn);
// The schema version from the version key's value read by the caller (nullopt:
// absent), e.g. in a batch with other keys.
[[nodiscard]] absl::StatusOr<uint64_t> ParseVersion(const std::optional<std::string>& value);
// Writes version + 1 (after ReadVersion in the same transaction) and returns it.
[[nodiscard]] absl::StatusOr<uint64_t> BumpVersion(txn::Txn& txn);

// Every table descriptor, in id order. Bounded by the number of tables (one scan).
[[nodiscard]] absl::StatusOr<std::vector<sqlpb::TableDescriptor>> LoadDescriptors(txn::Txn& txn);

// Hands out a new table id (kFirstTableId and up).
[[nodiscard]] absl::StatusOr<uint64_t> AllocateTableId(txn::Txn& txn);

// Writes a new table: its descriptor and its name. 42P07 if the name is taken.
// REQUIRES: desc.id() was allocated in this transaction.
[[nodiscard]] absl::Status CreateTable(txn::Txn& txn, const sqlpb::TableDescriptor& desc);
// Removes a table: its descriptor and its name, and records its rows and index
// entries as dropped (RecordDrop), to be cleared after the commit.
[[nodiscard]] absl::Status DropTable(txn::Txn& txn, const sqlpb::TableDescriptor& desc);
// Replaces a table's descriptor (version bumped by the caller).
// The descriptor with this id as of the transaction's snapshot (nullopt: none).
[[nodiscard]] absl::StatusOr<std::optional<sqlpb::TableDescriptor>> ReadDescriptor(txn::Txn& txn,
                                                                                   uint64_t id);
[[nodiscard]] absl::Status WriteDescriptor(txn::Txn& txn, const sqlpb::TableDescriptor& desc);

}  // namespace rangedb::sql
