// CondenseSpans: keeps the spans a transaction tracks (its reads, for refreshes; its
// writes, for resolving intents) within a budget, without losing a key.
//
// A refresh fails if anything in a tracked read span changed, so a span grown to
// cover keys the transaction never read turns unrelated writes into false conflicts.
// Condensing everything into one span (what this replaced) made a SQL transaction
// that read many rows of one table cover the catalog and every table between
// (docs/design/sql.md, finding 8). So:
//   1. Spans are sorted and overlapping or touching ones merged: nothing is lost.
//   2. Only if that is still over the budget, neighbours are merged by how close
//      they are: the pairs whose keys share the longest prefix first (keys of one
//      index share a table/index prefix; the catalog and other tables do not), down
//      to half the budget, so that a transaction that keeps reading condenses
//      rarely (O(n log n) per condensation, every n/2 spans added or more:
//      amortised O(log n) per span).
// The result covers every key the input covered, is sorted, and its spans do not
// overlap.
//
// A span with an empty end_key is the single key `key`.
#pragma once

#include <cstddef>
#include <vector>

#include "proto/kv.pb.h"

namespace rangedb::txn {

// The bytes a span's keys take in the budget.
inline size_t SpanBytes(const kvpb::Span& s) { return s.key().size() + s.end_key().size(); }

// *bytes is the sum of SpanBytes over *spans, kept by the caller as it adds spans and
// updated here. No-op while spans has at most max_spans spans and *bytes is at most
// max_bytes: the check costs O(1), so callers may call this after every span added.
// A max_spans of 0 is taken as 1.
void CondenseSpans(std::vector<kvpb::Span>* spans, size_t* bytes, size_t max_spans,
                   size_t max_bytes);

}  // namespace rangedb::txn
