#include "tests/linearizability.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rangedb::linearizability {
namespace {

// Ambiguous writes return "never": they stay pending until the end of the history.
constexpr int64_t kNeverNs = std::numeric_limits<int64_t>::max();
// How many operations a violation message lists, per list.
constexpr size_t kMaxListedOps = 6;
// Values longer than this are cut in messages.
constexpr size_t kMaxShownValueBytes = 40;

std::string DescribeValue(const Value& v) {
  if (!v.has_value()) return "absent";
  if (v->size() <= kMaxShownValueBytes) return absl::StrCat("\"", *v, "\"");
  return absl::StrCat("\"", v->substr(0, kMaxShownValueBytes), "...\"(", v->size(), " bytes)");
}

// Executes `op` on a register holding `state`. Returns false if the op's recorded
// result is impossible from that state; otherwise sets *next to the register after it.
// Ambiguous writes always succeed: their result is unknown.
bool Step(const Operation& op, const Value& state, Value* next) {
  const bool ambiguous = op.outcome == Outcome::kAmbiguous;
  switch (op.kind) {
    case OpKind::kGet:
      *next = state;
      return state == op.read_value;
    case OpKind::kPut:
      *next = op.write_value;
      return true;
    case OpKind::kDelete:
      *next = std::nullopt;
      return true;
    case OpKind::kConditionalPut: {
      const bool holds = state == op.expected_value;
      if (ambiguous) {
        *next = holds ? Value(op.write_value) : state;
        return true;
      }
      if (op.cput_succeeded) {
        *next = op.write_value;
        return holds;
      }
      *next = state;
      return !holds && (!op.actual_known || state == op.actual_value);
    }
  }
  return false;
}

// One event of the history. Events are numbered in time order (calls before returns
// at equal times, so touching intervals count as concurrent) and threaded on two
// doubly linked lists: the calls and returns of closed operations (with a finite
// return), and the calls of open ones (ambiguous writes that never return).
struct Entry {
  int op = -1;  // index into the key's operations; -1 for the sentinels
  bool is_call = false;
  int match = -1;  // call of a closed op: index of its return entry
  int prev = -1;
  int next = -1;
};

// The part of a search state that must match exactly for one state to stand in for
// another: the linearized closed operations and the register.
struct MemoKey {
  std::vector<uint64_t> linearized;
  Value state;

  bool operator==(const MemoKey& other) const {
    return linearized == other.linearized && state == other.state;
  }
  template <typename H>
  friend H AbslHashValue(H h, const MemoKey& e) {
    // absl::Hash knows absl::optional, which is not std::optional in this Abseil.
    if (!e.state.has_value()) return H::combine(std::move(h), e.linearized, false);
    return H::combine(std::move(h), e.linearized, true, *e.state);
  }
};

bool IsSubset(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] & ~b[i]) != 0) return false;
  }
  return true;
}

// The backtracking search of one key (Porcupine's checkSingle): walk the closed list;
// linearize a pending call whose step succeeds and whose resulting state is new, then
// restart from the head; reaching a return entry means every closed candidate before
// it failed, so try the open calls made before it, and then undo the latest choice.
//
// Memoization (Lowe's cache) with subsumption: an open operation can be linearized at
// any later time, so a state that has linearized fewer of them (same closed ops, same
// register) can do everything one with more can. A new state is pruned if a visited one
// has the same MemoKey and a subset of its open ops. Open ops are tried last so the
// small subsets are visited first. Without this a failing search explores every subset
// of the pending open ops.
class Search {
 public:
  Search(const std::vector<Operation>& ops, const CheckOptions& options)
      : ops_(ops), options_(options), bit_(ops.size()) {
    int64_t closed = 0;
    int64_t open = 0;
    for (size_t i = 0; i < ops.size(); ++i) bit_[i] = IsOpen(i) ? open++ : closed++;
    linearized_.assign((closed + 63) / 64, 0);
    open_linearized_.assign((open + 63) / 64, 0);
    closed_left_ = closed;
    BuildEntries();
  }

  KeyResult Run(const std::string& key);

 private:
  struct Frame {
    int call_entry;
    int blocked_at;  // open op: the return entry that made the search try open ops
    Value state_before;
  };
  struct Blocked {  // the furthest return the search reached; see Explain()
    int entry = -1;
    Value state;
    std::vector<int> last_linearized;  // ops, oldest first
    size_t linearized_count = 0;
    std::vector<int> pending;
    int completed_before = 0;
  };

  bool IsOpen(size_t op) const { return ops_[op].return_ns == kNeverNs; }
  void Flip(size_t op) {
    std::vector<uint64_t>& bits = IsOpen(op) ? open_linearized_ : linearized_;
    bits[bit_[op] / 64] ^= uint64_t{1} << (bit_[op] % 64);
  }
  // Records the current sets with register `state` as visited. Returns false if a
  // visited state subsumes it. Adds the memory used to *memo_bytes.
  bool Visit(const Value& state, int64_t* memo_bytes);
  void BuildEntries();
  void Link(int list_tail, int e);  // appends e before the sentinel list_tail
  void Lift(int call);
  void Unlift(int call);
  void Remove(int e) {
    entries_[entries_[e].prev].next = entries_[e].next;
    entries_[entries_[e].next].prev = entries_[e].prev;
  }
  void Restore(int e) {
    entries_[entries_[e].prev].next = e;
    entries_[entries_[e].next].prev = e;
  }
  void RecordBlocked(int return_entry, const Value& state);
  std::string Explain() const;

  const std::vector<Operation>& ops_;
  const CheckOptions& options_;
  // [0, n): events in time order, then the head and tail sentinels of both lists.
  std::vector<Entry> entries_;
  int head_ = 0;
  int tail_ = 0;
  int open_head_ = 0;
  int open_tail_ = 0;
  std::vector<int64_t> bit_;               // op -> its bit in one of the two sets
  std::vector<uint64_t> linearized_;       // linearized closed ops
  std::vector<uint64_t> open_linearized_;  // linearized open ops
  absl::flat_hash_map<MemoKey, std::vector<std::vector<uint64_t>>> memo_;  // -> open sets
  int64_t closed_left_ = 0;  // closed ops not yet linearized
  std::vector<Frame> stack_;
  Blocked blocked_;
};

void Search::BuildEntries() {
  struct Event {
    int64_t time;
    bool is_return;
    int op;
  };
  std::vector<Event> events;
  events.reserve(2 * ops_.size());
  for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
    events.push_back({ops_[i].call_ns, false, i});
    if (!IsOpen(i)) events.push_back({ops_[i].return_ns, true, i});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return !a.is_return;
    return a.op < b.op;
  });
  const int n = static_cast<int>(events.size());
  entries_.resize(n + 4);
  head_ = n;
  tail_ = n + 1;
  open_head_ = n + 2;
  open_tail_ = n + 3;
  entries_[head_].next = tail_;
  entries_[tail_].prev = head_;
  entries_[open_head_].next = open_tail_;
  entries_[open_tail_].prev = open_head_;
  std::vector<int> call_entry_of(ops_.size(), -1);
  for (int i = 0; i < n; ++i) {
    const Event& ev = events[i];
    entries_[i].op = ev.op;
    entries_[i].is_call = !ev.is_return;
    if (ev.is_return) {
      entries_[call_entry_of[ev.op]].match = i;
    } else {
      call_entry_of[ev.op] = i;
    }
    Link(IsOpen(ev.op) ? open_tail_ : tail_, i);
  }
}

void Search::Link(int list_tail, int e) {
  const int last = entries_[list_tail].prev;
  entries_[e].prev = last;
  entries_[e].next = list_tail;
  entries_[last].next = e;
  entries_[list_tail].prev = e;
}

void Search::Lift(int call) {
  Remove(call);
  if (entries_[call].match >= 0) Remove(entries_[call].match);
}

void Search::Unlift(int call) {
  if (entries_[call].match >= 0) Restore(entries_[call].match);
  Restore(call);
}

// Remembers the search state at `return_entry` if it is further into the history than
// any return reached before: the prefix up to it is the shortest one with no
// linearization, should the search fail.
void Search::RecordBlocked(int return_entry, const Value& state) {
  if (return_entry <= blocked_.entry) return;
  blocked_.entry = return_entry;
  blocked_.state = state;
  blocked_.linearized_count = stack_.size();
  blocked_.last_linearized.clear();
  const size_t first = stack_.size() > kMaxListedOps ? stack_.size() - kMaxListedOps : 0;
  for (size_t i = first; i < stack_.size(); ++i) {
    blocked_.last_linearized.push_back(entries_[stack_[i].call_entry].op);
  }
  blocked_.pending.clear();
  for (int e = entries_[head_].next; e != return_entry; e = entries_[e].next) {
    if (entries_[e].is_call && blocked_.pending.size() < kMaxListedOps) {
      blocked_.pending.push_back(entries_[e].op);
    }
  }
  int completed = 0;
  for (int e = 0; e < return_entry; ++e) {
    if (!entries_[e].is_call) ++completed;
  }
  blocked_.completed_before = completed;
}

std::string Search::Explain() const {
  const Operation& op = ops_[entries_[blocked_.entry].op];
  std::vector<std::string> last;
  for (int i : blocked_.last_linearized) last.push_back(DescribeOperation(ops_[i]));
  std::vector<std::string> pending;
  for (int i : blocked_.pending) pending.push_back(DescribeOperation(ops_[i]));
  return absl::StrCat("no linearization reaches the return of {", DescribeOperation(op),
                      "}, after ", blocked_.completed_before, " of ", ops_.size(),
                      " operations completed. The longest partial linearization (",
                      blocked_.linearized_count, " ops) ends with [", absl::StrJoin(last, "; "),
                      "] leaving the register ", DescribeValue(blocked_.state),
                      "; pending then, not linearized: [", absl::StrJoin(pending, "; "), "]");
}

bool Search::Visit(const Value& state, int64_t* memo_bytes) {
  auto [it, inserted] = memo_.try_emplace(MemoKey{linearized_, state});
  std::vector<std::vector<uint64_t>>& open_sets = it->second;
  if (inserted) {
    *memo_bytes += static_cast<int64_t>(sizeof(MemoKey) + 64 + linearized_.size() * 8 +
                                        (state.has_value() ? state->size() : 0));
  }
  for (const std::vector<uint64_t>& visited : open_sets) {
    if (IsSubset(visited, open_linearized_)) return false;
  }
  // Visited sets that contain the new one are now subsumed by it.
  std::erase_if(open_sets, [this](const std::vector<uint64_t>& visited) {
    return IsSubset(open_linearized_, visited);
  });
  open_sets.push_back(open_linearized_);
  *memo_bytes += static_cast<int64_t>(sizeof(open_linearized_) + open_linearized_.size() * 8);
  return true;
}

KeyResult Search::Run(const std::string& key) {
  KeyResult result;
  result.key = key;
  result.operations = static_cast<int64_t>(ops_.size());
  int64_t memo_bytes = 0;
  Value state;
  int entry = entries_[head_].next;
  int blocked_at = -1;  // >= 0 while trying the open calls made before this return
  while (closed_left_ > 0) {
    if (++result.steps > options_.max_steps_per_key) {
      result.verdict = Verdict::kUnknown;
      result.explanation =
          absl::StrCat("budget exceeded: more than ", options_.max_steps_per_key, " search steps");
      return result;
    }
    const Entry& e = entries_[entry];
    const bool open_exhausted = blocked_at >= 0 && (entry == open_tail_ || entry > blocked_at);
    if (blocked_at < 0 && !e.is_call) {
      // A return: its op is still pending, so no closed call before it works here.
      RecordBlocked(entry, state);
      blocked_at = entry;
      entry = entries_[open_head_].next;
      continue;
    }
    if (open_exhausted) {
      if (stack_.empty()) {
        result.verdict = Verdict::kViolation;
        result.explanation = Explain();
        return result;
      }
      Frame top = std::move(stack_.back());
      stack_.pop_back();
      state = std::move(top.state_before);
      const int op_index = entries_[top.call_entry].op;
      Flip(op_index);
      if (!IsOpen(op_index)) ++closed_left_;
      Unlift(top.call_entry);
      entry = entries_[top.call_entry].next;
      blocked_at = top.blocked_at;
      continue;
    }
    // A call, closed or open, that may be linearized now.
    const Operation& op = ops_[e.op];
    Value next;
    if (Step(op, state, &next)) {
      Flip(e.op);
      if (Visit(next, &memo_bytes)) {
        if (memo_bytes > options_.max_cache_bytes_per_key) {
          result.verdict = Verdict::kUnknown;
          result.explanation = absl::StrCat("budget exceeded: search memo above ",
                                            options_.max_cache_bytes_per_key, " bytes");
          return result;
        }
        stack_.push_back({entry, blocked_at, std::move(state)});
        state = std::move(next);
        if (!IsOpen(e.op)) --closed_left_;
        Lift(entry);
        entry = entries_[head_].next;
        blocked_at = -1;
        continue;
      }
      Flip(e.op);
    }
    entry = e.next;
  }
  // Every remaining operation is open, and open ops can always be linearized after
  // everything else (as a no-op or an unobserved write).
  return result;
}

// Ambiguous writes stay pending to the end of the history, and every subset of them
// is a distinct search state, so a few dozen make a failing search exponential. Two
// rewrites that keep the verdict exact shrink them:
//  - A write of a value that no operation mentions (read, expected or reported as
//    actual) is dropped. Wherever it is linearized, the operations up to the next write
//    see its value, so they can only be blind writes or ambiguous ones; moving it to
//    the end, which is the same as dropping it, changes no result. A failed cput with
//    an unknown actual value observes "anything but expected", so while one exists
//    nothing is dropped.
//  - A write of a value no other operation writes must precede every operation that
//    observed that value, so it returns at the earliest of their returns.
std::vector<Operation> BoundAmbiguousWrites(std::vector<Operation> ops) {
  bool unknown_actual = false;
  absl::flat_hash_map<std::string, int64_t> writers;        // value -> how many ops write it
  absl::flat_hash_set<std::string> mentioned;               // values any op refers to
  absl::flat_hash_map<std::string, int64_t> first_seen_ns;  // value -> earliest observer's return
  auto observe = [&](const Value& v, int64_t return_ns) {
    if (!v.has_value()) return;
    mentioned.insert(*v);
    auto [it, inserted] = first_seen_ns.try_emplace(*v, return_ns);
    if (!inserted) it->second = std::min(it->second, return_ns);
  };
  for (const Operation& op : ops) {
    const bool ok = op.outcome == Outcome::kOk;
    switch (op.kind) {
      case OpKind::kGet:
        observe(op.read_value, op.return_ns);
        break;
      case OpKind::kPut:
        ++writers[op.write_value];
        break;
      case OpKind::kDelete:
        break;
      case OpKind::kConditionalPut:
        ++writers[op.write_value];
        if (op.expected_value.has_value()) mentioned.insert(*op.expected_value);
        if (ok && op.cput_succeeded) observe(op.expected_value, op.return_ns);
        if (ok && !op.cput_succeeded && op.actual_known) observe(op.actual_value, op.return_ns);
        if (ok && !op.cput_succeeded && !op.actual_known) unknown_actual = true;
        break;
    }
  }
  std::vector<Operation> out;
  out.reserve(ops.size());
  for (Operation& op : ops) {
    const bool ambiguous_write = op.outcome == Outcome::kAmbiguous &&
                                 (op.kind == OpKind::kPut || op.kind == OpKind::kConditionalPut);
    if (ambiguous_write && !unknown_actual && !mentioned.contains(op.write_value)) continue;
    if (op.outcome == Outcome::kAmbiguous) op.return_ns = kNeverNs;
    if (ambiguous_write && writers[op.write_value] == 1) {
      if (auto it = first_seen_ns.find(op.write_value); it != first_seen_ns.end()) {
        op.return_ns = std::max(it->second, op.call_ns);
      }
    }
    out.push_back(std::move(op));
  }
  return out;
}

}  // namespace

Operation GetOp(int64_t client_id, std::string key, Value read_value, int64_t call_ns,
                int64_t return_ns) {
  Operation op;
  op.client_id = client_id;
  op.key = std::move(key);
  op.kind = OpKind::kGet;
  op.read_value = std::move(read_value);
  op.call_ns = call_ns;
  op.return_ns = return_ns;
  return op;
}

Operation PutOp(int64_t client_id, std::string key, std::string value, int64_t call_ns,
                int64_t return_ns) {
  Operation op;
  op.client_id = client_id;
  op.key = std::move(key);
  op.kind = OpKind::kPut;
  op.write_value = std::move(value);
  op.call_ns = call_ns;
  op.return_ns = return_ns;
  return op;
}

Operation DeleteOp(int64_t client_id, std::string key, int64_t call_ns, int64_t return_ns) {
  Operation op;
  op.client_id = client_id;
  op.key = std::move(key);
  op.kind = OpKind::kDelete;
  op.call_ns = call_ns;
  op.return_ns = return_ns;
  return op;
}

Operation CPutOp(int64_t client_id, std::string key, Value expected, std::string value,
                 int64_t call_ns, int64_t return_ns) {
  Operation op = PutOp(client_id, std::move(key), std::move(value), call_ns, return_ns);
  op.kind = OpKind::kConditionalPut;
  op.expected_value = std::move(expected);
  op.cput_succeeded = true;
  return op;
}

Operation CPutFailedOp(int64_t client_id, std::string key, Value expected, std::string value,
                       std::optional<Value> actual, int64_t call_ns, int64_t return_ns) {
  Operation op =
      CPutOp(client_id, std::move(key), std::move(expected), std::move(value), call_ns, return_ns);
  op.cput_succeeded = false;
  op.actual_known = actual.has_value();
  if (actual.has_value()) op.actual_value = std::move(*actual);
  return op;
}

std::string DescribeOperation(const Operation& op) {
  std::string what;
  switch (op.kind) {
    case OpKind::kGet:
      what = absl::StrCat("Get(", op.key, ")");
      if (op.outcome == Outcome::kOk) absl::StrAppend(&what, " -> ", DescribeValue(op.read_value));
      break;
    case OpKind::kPut:
      what = absl::StrCat("Put(", op.key, ", ", DescribeValue(op.write_value), ")");
      break;
    case OpKind::kDelete:
      what = absl::StrCat("Delete(", op.key, ")");
      break;
    case OpKind::kConditionalPut:
      what = absl::StrCat("CPut(", op.key, ", expect ", DescribeValue(op.expected_value), ", ",
                          DescribeValue(op.write_value), ")");
      if (op.outcome == Outcome::kOk) {
        if (op.cput_succeeded) {
          absl::StrAppend(&what, " -> ok");
        } else {
          absl::StrAppend(&what, " -> condition failed, actual ",
                          op.actual_known ? DescribeValue(op.actual_value) : "unknown");
        }
      }
      break;
  }
  if (op.outcome == Outcome::kAmbiguous) absl::StrAppend(&what, " -> ambiguous");
  if (op.outcome == Outcome::kFailed) absl::StrAppend(&what, " -> failed");
  return absl::StrCat("client ", op.client_id, " ", what, " [", op.call_ns, ", ",
                      op.return_ns == kNeverNs ? "inf" : absl::StrCat(op.return_ns), "]");
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

KeyResult CheckKey(const std::string& key, const std::vector<Operation>& ops,
                   const CheckOptions& options) {
  // Failed operations had no effect and ambiguous reads observed nothing: drop both.
  std::vector<Operation> kept;
  kept.reserve(ops.size());
  for (const Operation& op : ops) {
    if (op.outcome == Outcome::kFailed) continue;
    if (op.outcome == Outcome::kAmbiguous && op.kind == OpKind::kGet) continue;
    kept.push_back(op);
  }
  return Search(BoundAmbiguousWrites(std::move(kept)), options).Run(key);
}

absl::StatusOr<CheckResult> CheckHistory(const std::vector<Operation>& history,
                                         const CheckOptions& options) {
  std::map<std::string, std::vector<Operation>> by_key;
  for (const Operation& op : history) {
    if (op.outcome != Outcome::kAmbiguous && op.return_ns < op.call_ns) {
      return absl::InvalidArgumentError(
          absl::StrCat("operation returns before its call: ", DescribeOperation(op)));
    }
    by_key[op.key].push_back(op);
  }
  CheckResult result;
  for (const auto& [key, ops] : by_key) {
    KeyResult key_result = CheckKey(key, ops, options);
    const bool worse =
        (key_result.verdict == Verdict::kViolation && result.verdict != Verdict::kViolation) ||
        (key_result.verdict == Verdict::kUnknown && result.verdict == Verdict::kOk);
    if (worse) {
      result.verdict = key_result.verdict;
      result.key = key;
      result.explanation = absl::StrCat("key ", key, ": ", key_result.explanation);
    }
    result.keys.push_back(std::move(key_result));
  }
  return result;
}

}  // namespace rangedb::linearizability
