#include "ranges/latch_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rangedb::ranges {
namespace {

// [start, end) with an empty end meaning the single key start.
bool Overlap(const LatchSpan& a, const LatchSpan& b) {
  const std::string a_end = a.end.empty() ? a.start + '\0' : a.end;
  const std::string b_end = b.end.empty() ? b.start + '\0' : b.end;
  return a.start < b_end && b.start < a_end;
}

}  // namespace

LatchManager::Guard& LatchManager::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    manager_ = other.manager_;
    id_ = other.id_;
    other.manager_ = nullptr;
  }
  return *this;
}

void LatchManager::Guard::Release() {
  if (manager_ != nullptr) manager_->Remove(id_);
  manager_ = nullptr;
}

bool LatchManager::Conflict(const Entry& a, const Entry& b) {
  for (const LatchSpan& x : a.spans) {
    for (const LatchSpan& y : b.spans) {
      if ((x.write || y.write) && Overlap(x, y)) return true;
    }
  }
  return false;
}

bool LatchManager::BlockedLocked(std::list<Entry>::const_iterator it) const {
  for (auto e = entries_.begin(); e != it; ++e) {
    if (Conflict(*e, *it)) return true;
  }
  return false;
}

absl::StatusOr<LatchManager::Guard> LatchManager::Acquire(std::vector<LatchSpan> spans,
                                                          absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_holders_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many requests in flight on this range (", entries_.size(), ")"));
  }
  const uint64_t id = next_id_++;
  entries_.push_back(Entry{id, std::move(spans)});
  auto it = std::prev(entries_.end());
  auto ready = [this, it]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !BlockedLocked(it); };
  if (!time_->AwaitWithDeadline(&mu_, absl::Condition(&ready), deadline)) {
    entries_.erase(it);
    return absl::DeadlineExceededError("timed out waiting for conflicting requests on the range");
  }
  return Guard(this, id);
}

void LatchManager::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  entries_.remove_if([id](const Entry& e) { return e.id == id; });
}

size_t LatchManager::holders() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace rangedb::ranges
