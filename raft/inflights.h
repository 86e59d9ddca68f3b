// Inflights: the bounded window of MsgApp messages a leader has sent to one follower
// in the replicate state and not yet seen acknowledged. A full window pauses
// replication to that follower (flow control).
//
// Each inflight message is remembered by the index of its last entry and its payload
// bytes; the window is full at max_count messages or max_bytes bytes (0 = no byte
// limit). A ring buffer, allocated lazily. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "base/check.h"

namespace rangedb::raft {

class Inflights {
 public:
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {
    RANGEDB_CHECK_GT(max_count, 0);
  }

  // Records a message whose last entry is `index`. REQUIRES: !Full(), and index is
  // larger than every recorded index.
  void Add(uint64_t index, uint64_t bytes) {
    RANGEDB_CHECK(!Full()) << "add of index " << index << " to a full inflight window (" << count_
                           << " messages, " << bytes_ << " bytes)";
    if (buffer_.empty()) buffer_.resize(max_count_);
    size_t next = start_ + count_;
    if (next >= max_count_) next -= max_count_;
    buffer_[next] = Item{index, bytes};
    ++count_;
    bytes_ += bytes;
  }

  // Frees every message whose last index is <= to (they were acknowledged).
  void FreeLE(uint64_t to) {
    while (count_ > 0 && buffer_[start_].index <= to) {
      bytes_ -= buffer_[start_].bytes;
      if (++start_ == max_count_) start_ = 0;
      --count_;
    }
    if (count_ == 0) start_ = 0;
  }

  // Frees the oldest message (a heartbeat response shows the follower is alive).
  void FreeFirstOne() {
    if (count_ > 0) FreeLE(buffer_[start_].index);
  }

  bool Full() const { return count_ == max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_); }
  size_t Count() const { return count_; }
  void Reset() {
    count_ = 0;
    start_ = 0;
    bytes_ = 0;
  }

 private:
  struct Item {
    uint64_t index = 0;
    uint64_t bytes = 0;
  };
  size_t max_count_;
  uint64_t max_bytes_;
  size_t start_ = 0;
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  std::vector<Item> buffer_;
};

}  // namespace rangedb::raft
