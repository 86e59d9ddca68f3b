// How ranges and stores keep their own state in the engine, beside client data: the
// protobuf value of a local key, and the engine spans a replica replicates. The keys
// themselves, and the map of the whole key space, are storage/keys.h.
//
// Local keys are stored unversioned: the engine key is MVCCKeyPrefix(local key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "storage/engine.h"

namespace rangedb::ranges {

// Engine-key bounds of everything a replica of [start, end) replicates
// (keys::ReplicatedSpans): its replicated range-ID-local keys, range-local keys, lock
// table and user data.
struct EngineSpan {
  std::string lower;
  std::string upper;  // exclusive
};
std::vector<EngineSpan> ReplicatedEngineSpans(uint64_t range_id, absl::string_view start,
                                              absl::string_view end);

// The engine's estimate of the bytes those spans take (Engine::ApproximateSize):
// what rangedb_ranges.size_bytes and `rangedb status` show for a replica.
absl::StatusOr<uint64_t> ApproximateReplicatedBytes(Engine& engine, uint64_t range_id,
                                                    absl::string_view start, absl::string_view end);

// Reads a local key's protobuf value; false if absent; DataLoss if unparseable.
absl::StatusOr<bool> ReadLocalProto(Reader& reader, const std::string& local_key,
                                    google::protobuf::MessageLite* out);
void WriteLocalProto(Writer& writer, const std::string& local_key,
                     const google::protobuf::MessageLite& value);

}  // namespace rangedb::ranges
