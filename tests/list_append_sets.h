// Internal to the list-append checker (tests/list_append.cc): the sets-of-keys part
// of the model — inserts, scans and range deletes (tests/list_append.h, "Sets of
// keys"). It validates the set ops, checks each committed transaction's observations
// against its own earlier ones, and turns observations into dependency edges and
// anomalies; the list checker puts those into its graph and its report.
//
// Transactions are named by their index in the history.
//
// Thread safety: one SetChecker per Check call; not shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "tests/list_append.h"

namespace rangedb::list_append::sets {

struct Edge {
  enum class Type { kWW, kWR, kRW };
  int from = 0;  // history index
  int to = 0;
  Type type = Type::kWW;
  std::string key;
};

struct Finding {
  Anomaly kind = Anomaly::kInternal;
  std::vector<int> txns;  // history indexes
  std::string key;
  std::string explanation;
};

class SetChecker {
 public:
  SetChecker(const std::vector<Transaction>& history, const CheckOptions& options)
      : history_(history), options_(options) {}

  // Validates the set ops and indexes inserts, deletes and the deletion log.
  // list_keys: every key read or appended as a list. InvalidArgument for a key
  // inserted twice, an empty span, or a list key inserted or inside a span.
  absl::Status Index(const absl::flat_hash_set<std::string>& list_keys);

  // Checks each committed (kOk) transaction's observations against its own earlier
  // ops (kInternal, kGarbageRead, kDuplicateElements) and records its external
  // observations for Relate.
  void CheckTransactions(std::vector<Finding>* findings);

  // Whether a committed transaction saw a key inserted by (ambiguous) `txn` present:
  // then `txn` committed.
  bool InsertObserved(int txn) const { return observed_inserters_.contains(txn); }

  // Edges and anomalies between graph nodes. committed[t]: history[t] committed (kOk,
  // or ambiguous and observed).
  void Relate(const std::vector<bool>& committed, std::vector<Edge>* edges,
              std::vector<Finding>* findings) const;

 private:
  // What is known of one inserted key.
  struct KeyInfo {
    int inserter = -1;
    std::vector<int> deleters;  // transactions (any outcome) that reported deleting it
  };
  // A transaction's first observation of a key, before it wrote the key itself.
  struct Observation {
    int txn = 0;
    std::string key;
    bool present = false;
    bool by_delete = false;  // a delete-range's observation (it deletes what is present)
  };

  void CheckTransaction(int txn, std::vector<Finding>* findings);
  // The known keys in [start, end), in order.
  std::vector<const std::string*> KeysIn(const std::string& start, const std::string& end) const;
  void RelateAbsent(const Observation& o, const KeyInfo& info, const std::vector<bool>& committed,
                    std::vector<Edge>* edges) const;
  std::string Name(int txn) const;

  const std::vector<Transaction>& history_;
  const CheckOptions& options_;
  std::vector<std::string> sorted_keys_;            // every inserted key, sorted
  absl::flat_hash_map<std::string, KeyInfo> keys_;  // by inserted key
  std::vector<Observation> observations_;           // external, of committed transactions
  absl::flat_hash_set<int> observed_inserters_;     // see InsertObserved
  // The deletion log (CheckOptions::deletion_log_key): each transaction's first read
  // of it before appending to it, and the element it appended.
  absl::flat_hash_map<int, std::vector<int64_t>> log_reads_;
  absl::flat_hash_map<int, int64_t> log_appends_;
};

}  // namespace rangedb::list_append::sets
