// The checks of base/limits.h on one KV batch: the client library runs them before
// it sends, and the gateway and every replica run them again on what they receive
// (ranges/evaluate.h, ClassifyBatch), so a request over a limit is refused up front,
// with nothing written, wherever it came from.
//
// Every refusal is an InvalidArgument of the form
//   "<what> of <n> bytes exceeds the limit of <m> bytes (<limit>; docs/limits.md)"
// so a user sees which limit, by how much, and where the table is.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/kv.pb.h"

namespace rangedb::limits {

// InvalidArgument naming the limit, when size > limit.
[[nodiscard]] absl::Status CheckLimit(absl::string_view what, size_t size, size_t limit,
                                      absl::string_view limit_name);

// Key and value bytes the request writes (0 for reads and internal requests).
size_t WriteBytesOf(const kvpb::RequestUnion& request);

// Every key, value, the batch's write bytes and its serialized size against the
// table. The request count and the batch's shape are ClassifyBatch's business.
[[nodiscard]] absl::Status CheckBatchLimits(const kvpb::BatchRequest& batch);

}  // namespace rangedb::limits
