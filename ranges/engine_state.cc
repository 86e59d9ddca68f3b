#include "ranges/engine_state.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {

std::vector<EngineSpan> ReplicatedEngineSpans(uint64_t range_id, absl::string_view start,
                                              absl::string_view end) {
  std::vector<EngineSpan> spans;
  for (const keys::Span& span : keys::ReplicatedSpans(range_id, start, end)) {
    spans.push_back({MVCCKeyPrefix(span.start), MVCCKeyPrefix(span.end)});
  }
  return spans;
}

absl::StatusOr<uint64_t> ApproximateReplicatedBytes(Engine& engine, uint64_t range_id,
                                                    absl::string_view start,
                                                    absl::string_view end) {
  uint64_t total = 0;
  for (const EngineSpan& span : ReplicatedEngineSpans(range_id, start, end)) {
    absl::StatusOr<uint64_t> size =
        engine.ApproximateSize(ColumnFamily::kData, span.lower, span.upper);
    if (!size.ok()) return size.status();
    total += *size;
  }
  return total;
}

absl::StatusOr<bool> ReadLocalProto(Reader& reader, const std::string& local_key,
                                    google::protobuf::MessageLite* out) {
  std::string value;
  absl::StatusOr<bool> found = reader.Get(ColumnFamily::kData, MVCCKeyPrefix(local_key), &value);
  if (!found.ok() || !*found) return found;
  if (!out->ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("unparseable ", out->GetTypeName(), " at local key ",
                                            absl::CHexEscape(local_key)));
  }
  return true;
}

void WriteLocalProto(Writer& writer, const std::string& local_key,
                     const google::protobuf::MessageLite& value) {
  writer.Put(ColumnFamily::kData, MVCCKeyPrefix(local_key), value.SerializeAsString());
}

}  // namespace rangedb::ranges
