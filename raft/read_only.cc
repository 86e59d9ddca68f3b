#include "raft/read_only.h"

#include "base/check.h"

namespace rangedb::raft {

void ReadOnly::AddRequest(uint64_t index, const raftpb::Message& m) {
  const std::string& ctx = m.context();
  if (pending_.count(ctx) > 0) return;
  ReadIndexStatus st;
  st.req = m;
  st.index = index;
  pending_.emplace(ctx, std::move(st));
  queue_.push_back(ctx);
}

const std::map<uint64_t, bool>* ReadOnly::RecvAck(uint64_t id, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::Advance(const std::string& ctx) {
  size_t n = 0;
  bool found = false;
  for (const std::string& c : queue_) {
    ++n;
    if (c == ctx) {
      found = true;
      break;
    }
  }
  if (!found) return {};
  std::vector<ReadIndexStatus> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto it = pending_.find(queue_.front());
    RANGEDB_CHECK(it != pending_.end()) << "read index queue (" << queue_.size() << ") and map ("
                                        << pending_.size() << ") disagree";
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace rangedb::raft
