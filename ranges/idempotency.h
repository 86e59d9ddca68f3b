// What a leaseholder can promise about exactly-once writes, checked before anything
// is evaluated (docs/kv-api.md, "Exactly once and ambiguity").
//
// A write's IdempotencyKey names it across retries; the leaseholder that applies it
// keeps a record for StoreConfig::idempotency_record_ttl, and a retry that finds the
// record gets the recorded answer instead of applying again. Two things would break
// that, so both are refused up front with InvalidArgument (nothing written):
//   - a client id longer than keys::kMaxIdempotencyClientIdBytes (record keys would have
//     to truncate it, and two clients could share records);
//   - a retry window (how long the sender may keep retrying) longer than half the
//     record lifetime: a retry after the record expired would apply the write again.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"

namespace rangedb::ranges {

// record_ttl: the leaseholder's record lifetime; absl::InfiniteDuration() checks the
// client id only (a gateway does not know the leaseholders' lifetime).
absl::Status CheckIdempotencyKey(const kvpb::IdempotencyKey& key, absl::Duration record_ttl);

}  // namespace rangedb::ranges
