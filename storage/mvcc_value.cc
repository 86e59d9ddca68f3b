#include "storage/mvcc_value.h"

#include "absl/strings/str_cat.h"

namespace rangedb {

void AppendMVCCValue(std::string* out, bool provisional, bool tombstone,
                     absl::string_view payload) {
  uint8_t header =
      (provisional ? kMVCCValueProvisional : 0) | (tombstone ? kMVCCValueTombstone : 0);
  out->push_back(static_cast<char>(header));
  if (!tombstone) out->append(payload.data(), payload.size());
}

std::string EncodeMVCCValue(bool provisional, bool tombstone, absl::string_view payload) {
  std::string out;
  out.reserve(1 + payload.size());
  AppendMVCCValue(&out, provisional, tombstone, payload);
  return out;
}

absl::StatusOr<MVCCValue> DecodeMVCCValue(absl::string_view raw) {
  if (raw.empty()) return absl::DataLossError("MVCC value is empty (missing header byte)");
  uint8_t header = static_cast<uint8_t>(raw[0]);
  if ((header & ~(kMVCCValueProvisional | kMVCCValueTombstone)) != 0) {
    return absl::DataLossError(
        absl::StrCat("MVCC value header 0x", absl::Hex(header), " has unknown bits"));
  }
  MVCCValue v;
  v.provisional = (header & kMVCCValueProvisional) != 0;
  v.tombstone = (header & kMVCCValueTombstone) != 0;
  v.payload = raw.substr(1);
  if (v.tombstone && !v.payload.empty()) {
    return absl::DataLossError(
        absl::StrCat("MVCC tombstone carries a ", v.payload.size(), "-byte payload"));
  }
  return v;
}

}  // namespace rangedb
