// What the MVCC layer knows of transactions: the metadata an intent carries, the
// view of the transaction performing an operation, and how an intent is resolved.
// Transactions themselves (records, coordination) live in txn/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/timestamp.h"

namespace rangedb {

// The metadata stored with every intent (lock-table entry) of a transaction.
struct TxnMeta {
  std::string id;          // 16 random bytes, unique per transaction
  std::string anchor_key;  // the key whose range holds the transaction record
  int32_t epoch = 0;       // incremented when the transaction restarts
  Timestamp write_timestamp;
  int32_t sequence = 0;  // sequence number of the write; grows with every write
  int32_t priority = 0;  // the transaction's priority, for pushers (0 = normal)
  // The transaction's start: never moved by pushes (write_timestamp is). Empty when
  // unknown (a lock entry written before the field existed).
  Timestamp min_timestamp;

  bool operator==(const TxnMeta&) const = default;
};

// An inclusive range of sequence numbers rolled back by a savepoint rollback.
struct IgnoredSeqRange {
  int32_t start = 0;
  int32_t end = 0;
};

inline bool SequenceIsIgnored(const std::vector<IgnoredSeqRange>& ignored, int32_t sequence) {
  for (const IgnoredSeqRange& r : ignored) {
    if (sequence >= r.start && sequence <= r.end) return true;
  }
  return false;
}

// The transaction performing a read or write.
struct TxnContext {
  TxnMeta meta;  // meta.sequence is the sequence of the current operation
  Timestamp read_timestamp;
  std::vector<IgnoredSeqRange> ignored_seqnums;

  bool IsIgnored(int32_t sequence) const { return SequenceIsIgnored(ignored_seqnums, sequence); }
};

enum class TxnStatus : uint8_t { kPending, kCommitted, kAborted };

// How to resolve a transaction's intents:
//   kCommitted: make the value (as of the last non-ignored sequence) a committed
//               version at txn.write_timestamp (the commit timestamp)
//   kAborted:   remove the intent
//   kPending:   the transaction was pushed: move the intent up to txn.write_timestamp
struct IntentResolution {
  TxnMeta txn;  // id, epoch and write_timestamp are used
  TxnStatus status = TxnStatus::kPending;
  std::vector<IgnoredSeqRange> ignored_seqnums;

  bool IsIgnored(int32_t sequence) const { return SequenceIsIgnored(ignored_seqnums, sequence); }
};

}  // namespace rangedb
