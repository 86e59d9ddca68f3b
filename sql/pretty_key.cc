#include "sql/pretty_key.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sql/key_codec.h"
#include "storage/encoding.h"
#include "storage/keys.h"

namespace rangedb::sql {
namespace {

// More values than any key of ours holds (a key is at most limits::kMaxKeyBytes):
// the loop's bound, not a format limit.
constexpr int kMaxValuesShown = 256;

// The shortest of %.15g and %.17g that reads back as d.
std::string RealText(double d) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.15g", d);
  if (std::strtod(text, nullptr) != d) std::snprintf(text, sizeof(text), "%.17g", d);
  return text;
}

std::string ValueText(const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return "NULL";
    case StorageClass::kInteger:
      return absl::StrCat(std::get<int64_t>(v));
    case StorageClass::kReal:
      return RealText(std::get<double>(v));
    case StorageClass::kText:
      return absl::StrCat("'", absl::CHexEscape(std::get<std::string>(v)), "'");
    case StorageClass::kBlob:
      return absl::StrCat("x'", absl::BytesToHexString(std::get<Blob>(v).bytes), "'");
  }
  return "?";
}

// The name of index_id of table: "primary" (the primary index's descriptor name), a
// secondary index's name, or the id when the descriptor has no such index.
std::string IndexName(const TableInfo& table, uint64_t index_id) {
  if (table.desc().primary_index().id() == index_id) return table.desc().primary_index().name();
  for (const sqlpb::IndexDescriptor& index : table.desc().indexes()) {
    if (index.id() == index_id) return index.name();
  }
  return absl::StrCat(index_id);
}

// What follows \x04: /<table>/<index>/<values...>, as far as it decodes.
std::string TableKeyText(absl::string_view rest, const TablesById& tables) {
  if (rest.empty()) return "/Table";
  std::string out;
  absl::StatusOr<uint64_t> table_id = ConsumeUvarintKey(&rest, Direction::kAscending);
  if (!table_id.ok()) return absl::StrCat("/Table/", absl::CHexEscape(rest));
  auto it = tables.find(*table_id);
  const TableInfo* table = it == tables.end() ? nullptr : it->second.get();
  absl::StrAppend(&out, "/", table != nullptr ? table->name() : absl::StrCat(*table_id));
  if (rest.empty()) return out;
  absl::StatusOr<uint64_t> index_id = ConsumeUvarintKey(&rest, Direction::kAscending);
  if (!index_id.ok()) return absl::StrCat(out, "/", absl::CHexEscape(rest));
  absl::StrAppend(&out, "/",
                  table != nullptr ? IndexName(*table, *index_id) : absl::StrCat(*index_id));
  for (int i = 0; i < kMaxValuesShown && !rest.empty(); ++i) {
    absl::StatusOr<KeyTag> tag = PeekKeyTag(rest);
    absl::StatusOr<Value> value =
        tag.ok() ? ConsumeValueKey(&rest, tag->direction) : absl::StatusOr<Value>(tag.status());
    if (!value.ok()) break;
    absl::StrAppend(&out, "/", ValueText(*value));
  }
  if (!rest.empty()) absl::StrAppend(&out, "/", absl::CHexEscape(rest));
  return out;
}

}  // namespace

std::string PrettyKey(absl::string_view key, const TablesById& tables) {
  if (key.empty()) return "/Min";
  if (key == keys::kKeyMax) return "/Max";
  if (absl::StartsWith(key, keys::kLocalPrefix)) {
    return absl::StrCat("/Local/", absl::CHexEscape(key.substr(keys::kLocalPrefix.size())));
  }
  if (absl::StartsWith(key, keys::kMetaPrefix)) {
    // A meta key carries a range's end key, which is never a meta key itself.
    const absl::string_view inner = key.substr(keys::kMetaPrefix.size());
    if (absl::StartsWith(inner, keys::kMetaPrefix)) {
      return absl::StrCat("/Meta/", absl::CHexEscape(inner));
    }
    return absl::StrCat("/Meta", PrettyKey(inner, tables));
  }
  if (absl::StartsWith(key, keys::kSystemPrefix)) {
    return absl::StrCat("/System/", absl::CHexEscape(key.substr(keys::kSystemPrefix.size())));
  }
  if (absl::StartsWith(key, keys::kTableDataPrefix)) {
    return TableKeyText(key.substr(keys::kTableDataPrefix.size()), tables);
  }
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

}  // namespace rangedb::sql
