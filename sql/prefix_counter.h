// PrefixCounter: the distinct prefixes of a key order, counted in one pass over its
// keys in ascending order (ANALYZE, and an index build as it publishes).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "base/check.h"
#include "sql/key_codec.h"

namespace rangedb::sql {

// Counts, over the keys of one key order handed to it in ascending order, the
// distinct values of its first 1..n columns (IndexDescriptor.distinct_prefix_estimate):
// a key starts a new value of its first k columns when their encoding differs from
// the previous key's. Column keys are prefix-free and built under the key's
// collations, so equal bytes mean equal values. Memory: the previous key only.
class PrefixCounter {
 public:
  // prefix: what every key starts with (an index's, or the table's rows'); columns:
  // how many key columns to count prefixes of.
  PrefixCounter(std::string prefix, int columns)
      : prefix_(std::move(prefix)), distinct_(columns, 0) {}

  // REQUIRES: key starts with prefix and sorts after every key added before.
  void Add(absl::string_view key) {
    RANGEDB_DCHECK(absl::StartsWith(key, prefix_));
    key.remove_prefix(std::min(prefix_.size(), key.size()));
    std::vector<size_t> ends = ColumnEnds(key);
    // The first column whose prefix differs from the previous key's; the longer
    // prefixes then differ too.
    size_t k = 0;
    while (has_previous_ && k < distinct_.size() && ends[k] == previous_ends_[k] &&
           key.substr(0, ends[k]) == absl::string_view(previous_).substr(0, ends[k])) {
      ++k;
    }
    for (; k < distinct_.size(); ++k) ++distinct_[k];
    previous_.assign(key.data(), key.size());
    previous_ends_ = std::move(ends);
    has_previous_ = true;
  }

  const std::vector<int64_t>& distinct() const { return distinct_; }

 private:
  // Where each counted column's key ends in key (past the prefix). A key that does
  // not decode (never written by rangedb) ends at its last byte from there on, so it
  // counts as a value of its own.
  std::vector<size_t> ColumnEnds(absl::string_view key) const {
    std::vector<size_t> ends(distinct_.size(), key.size());
    absl::string_view rest = key;
    for (size_t k = 0; k < ends.size(); ++k) {
      if (!ConsumeValueKey(&rest, Direction::kAscending).ok()) break;
      ends[k] = key.size() - rest.size();
    }
    return ends;
  }

  const std::string prefix_;
  std::vector<int64_t> distinct_;
  bool has_previous_ = false;
  std::string previous_;  // the previous key, past the prefix
  std::vector<size_t> previous_ends_;
};

}  // namespace rangedb::sql
