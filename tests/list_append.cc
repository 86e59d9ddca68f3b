#include "tests/list_append.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/list_append_sets.h"

namespace rangedb::list_append {
namespace {

// Lists longer than this are shortened in messages to their first and last few elements.
constexpr size_t kMaxShownElements = 8;

enum class EdgeType : uint8_t { kWW, kWR, kRW, kRT };
using EdgeMask = uint8_t;
constexpr EdgeMask Bit(EdgeType type) {
  return static_cast<EdgeMask>(1u << static_cast<unsigned>(type));
}
constexpr EdgeMask kWW = Bit(EdgeType::kWW);
constexpr EdgeMask kWR = Bit(EdgeType::kWR);
constexpr EdgeMask kRW = Bit(EdgeType::kRW);
constexpr EdgeMask kRT = Bit(EdgeType::kRT);

const char* EdgeName(EdgeType type) {
  switch (type) {
    case EdgeType::kWW:
      return "ww";
    case EdgeType::kWR:
      return "wr";
    case EdgeType::kRW:
      return "rw";
    case EdgeType::kRT:
      return "rt";
  }
  return "?";
}

struct Edge {
  int to = 0;  // graph node
  EdgeType type = EdgeType::kWW;
  int key = -1;  // the key that made it; -1 for rt
};
using Graph = std::vector<std::vector<Edge>>;

// One edge of a path or cycle: `edge` leaves node `from`.
struct Step {
  int from = 0;
  const Edge* edge = nullptr;
};
using Path = std::vector<Step>;

// Who appended an element to a key.
struct Writer {
  int txn = -1;           // index into the history
  bool has_next = false;  // the writer appended another element to the key after this one
  int64_t next = 0;       // that element, when has_next
};

constexpr size_t kNone = std::numeric_limits<size_t>::max();

// Everything known about one key.
struct KeyState {
  std::string name;
  absl::flat_hash_map<int64_t, Writer> writers;   // element -> its appender
  const std::vector<int64_t>* longest = nullptr;  // the first of the longest reads
  int longest_reader = -1;
  // Indexes into *longest of its first element that repeats an earlier one / that nobody
  // appended / that a failed transaction appended; kNone if none. A read that is a
  // prefix of *longest holds such an element iff it is longer than the index, so only
  // the other reads are looked at element by element.
  size_t first_repeat = kNone;
  size_t first_garbage = kNone;
  size_t first_aborted = kNone;
  absl::flat_hash_set<int64_t> observed_elsewhere;  // elements of reads not prefixes of it
  std::vector<int64_t> order;                       // version order: longest read, deduplicated
  absl::flat_hash_map<int64_t, size_t> position;    // element -> index in `order`
  // i -> the first index >= i of `order` whose writer is committed; order.size() if none.
  std::vector<size_t> next_committed;

  // Whether some committed read holds `element`. REQUIRES: before ExtendOrders.
  bool Observed(int64_t element) const {
    return position.contains(element) || observed_elsewhere.contains(element);
  }
};

// One read of a committed transaction.
struct Read {
  int txn = 0;  // index into the history
  int key = 0;
  const std::vector<int64_t>* list = nullptr;
  bool external = false;    // the txn's first read of the key, before it appended to it
  bool compatible = false;  // a prefix of the key's longest read
};

// Strongly connected components of a graph restricted to some edge types.
struct Components {
  std::vector<int> of;                   // node -> component id
  std::vector<std::vector<int>> cyclic;  // the members of each component of >= 2 nodes
  int count = 0;
};

// Tarjan's algorithm, with an explicit stack so deep graphs cannot overflow the call
// stack. Graphs have no self-loops, so a component is cyclic iff it has >= 2 nodes.
Components StronglyConnected(const Graph& graph, EdgeMask mask) {
  const int n = static_cast<int>(graph.size());
  Components c;
  c.of.assign(n, -1);
  std::vector<int> index(n, -1), low(n, 0), stack;
  std::vector<bool> on_stack(n, false);
  std::vector<std::pair<int, size_t>> frames;  // (node, next edge to look at)
  int counter = 0;
  for (int root = 0; root < n; ++root) {
    if (index[root] != -1) continue;
    frames.push_back({root, 0});
    index[root] = low[root] = counter++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!frames.empty()) {
      const int u = frames.back().first;
      if (frames.back().second < graph[u].size()) {
        const Edge& e = graph[u][frames.back().second++];
        if ((mask & Bit(e.type)) == 0) continue;
        if (index[e.to] == -1) {
          index[e.to] = low[e.to] = counter++;
          stack.push_back(e.to);
          on_stack[e.to] = true;
          frames.push_back({e.to, 0});
        } else if (on_stack[e.to]) {
          low[u] = std::min(low[u], index[e.to]);
        }
        continue;
      }
      frames.pop_back();
      if (!frames.empty()) {
        const int parent = frames.back().first;
        low[parent] = std::min(low[parent], low[u]);
      }
      if (low[u] != index[u]) continue;
      std::vector<int> members;
      int v;
      do {
        v = stack.back();
        stack.pop_back();
        on_stack[v] = false;
        c.of[v] = c.count;
        members.push_back(v);
      } while (v != u);
      ++c.count;
      if (members.size() >= 2) c.cyclic.push_back(std::move(members));
    }
  }
  return c;
}

// Breadth-first search for shortest paths; reuses its arrays across searches.
class PathFinder {
 public:
  explicit PathFinder(const Graph& graph)
      : graph_(graph), seen_(2 * graph.size(), 0), parent_(2 * graph.size()) {}

  // A shortest path from `source` to `target` (REQUIRES: different nodes) over edges of
  // `mask` that stay in source's component of `comp`, leaving `source` once and
  // entering `target` once. With `need_rw`, the path must hold an rw edge: the search
  // runs over (node, rw seen) states, so the path may pass a node twice (once per
  // state). Each edge looked at costs one unit of *budget (unbounded when null).
  // Returns nullopt when there is no such path or the budget runs out.
  std::optional<Path> Find(int source, int target, EdgeMask mask, const std::vector<int>& comp,
                           bool need_rw, int64_t* budget) {
    ++epoch_;
    queue_.clear();
    Visit(2 * source, {-1, nullptr});
    for (size_t head = 0; head < queue_.size(); ++head) {
      const int state = queue_[head];
      for (const Edge& e : graph_[state / 2]) {
        if (budget != nullptr && (*budget)-- <= 0) return std::nullopt;
        if ((mask & Bit(e.type)) == 0 || comp[e.to] != comp[source] || e.to == source) continue;
        const bool rw = need_rw && (state % 2 == 1 || e.type == EdgeType::kRW);
        const int next = 2 * e.to + (rw ? 1 : 0);
        if (seen_[next] == epoch_) continue;
        if (e.to == target && need_rw && !rw) continue;  // through the target: not a cycle
        Visit(next, {state, &e});
        if (e.to == target) return Unwind(next);
      }
    }
    return std::nullopt;
  }

 private:
  struct Parent {
    int state = -1;
    const Edge* edge = nullptr;
  };

  void Visit(int state, Parent parent) {
    seen_[state] = epoch_;
    parent_[state] = parent;
    queue_.push_back(state);
  }

  Path Unwind(int state) const {
    Path path;
    for (; parent_[state].state != -1; state = parent_[state].state) {
      path.push_back({parent_[state].state / 2, parent_[state].edge});
    }
    std::reverse(path.begin(), path.end());
    return path;
  }

  const Graph& graph_;
  std::vector<uint32_t> seen_;  // state -> epoch_ of the search that reached it
  std::vector<Parent> parent_;
  std::vector<int> queue_;
  uint32_t epoch_ = 0;
};

// A cycle class: a cycle that starts with an edge of type `start` and returns over
// edges of `path`, holding another rw edge when `need_rw`.
struct CycleClass {
  Anomaly kind;
  EdgeType start;
  EdgeMask path;
  bool need_rw;
  bool exact;  // a start edge inside a component of start|path always closes a cycle
};
// G0, G1c, G-single and G2, in that order (section 4.4 of the paper).
constexpr CycleClass kCycleClasses[] = {
    {Anomaly::kG0, EdgeType::kWW, kWW, false, true},
    {Anomaly::kG1c, EdgeType::kWR, kWW | kWR, false, true},
    {Anomaly::kGSingle, EdgeType::kRW, kWW | kWR, false, false},
    {Anomaly::kG2, EdgeType::kRW, kWW | kWR | kRW, true, false},
};

// The class of a cycle from the edges it holds.
Anomaly Classify(const Path& cycle, bool* realtime) {
  int rw = 0;
  bool wr = false;
  *realtime = false;
  for (const Step& s : cycle) {
    rw += s.edge->type == EdgeType::kRW ? 1 : 0;
    wr = wr || s.edge->type == EdgeType::kWR;
    *realtime = *realtime || s.edge->type == EdgeType::kRT;
  }
  if (rw >= 2) return Anomaly::kG2;
  if (rw == 1) return Anomaly::kGSingle;
  return wr ? Anomaly::kG1c : Anomaly::kG0;
}

// Splits a closed walk into simple cycles: each time the walk comes back to a node,
// the loop since its last visit is cut out.
std::vector<Path> SimpleCycles(const Path& walk) {
  std::vector<Path> cycles;
  Path stack;
  absl::flat_hash_map<int, size_t> at;  // node -> index in stack of the step leaving it
  for (const Step& s : walk) {
    if (auto it = at.find(s.from); it != at.end()) {
      const size_t loop = it->second;
      cycles.emplace_back(stack.begin() + loop, stack.end());
      for (size_t k = loop; k < stack.size(); ++k) at.erase(stack[k].from);
      stack.resize(loop);
    }
    at[s.from] = stack.size();
    stack.push_back(s);
  }
  cycles.push_back(std::move(stack));
  return cycles;
}

uint8_t CycleBit(Anomaly kind) {
  switch (kind) {
    case Anomaly::kG0:
      return 1;
    case Anomaly::kG1c:
      return 2;
    case Anomaly::kGSingle:
      return 4;
    default:
      return 8;
  }
}

std::string FormatList(const std::vector<int64_t>& list) {
  if (list.size() <= kMaxShownElements) return absl::StrCat("[", absl::StrJoin(list, ", "), "]");
  const size_t half = kMaxShownElements / 2;
  return absl::StrCat("[", absl::StrJoin(list.begin(), list.begin() + half, ", "), ", ..., ",
                      absl::StrJoin(list.end() - half, list.end(), ", "), "] (", list.size(),
                      " elements)");
}

bool IsPrefix(const std::vector<int64_t>& prefix, const std::vector<int64_t>& list) {
  return prefix.size() <= list.size() && std::equal(prefix.begin(), prefix.end(), list.begin());
}

bool EndsWith(const std::vector<int64_t>& list, const std::vector<int64_t>& suffix) {
  return suffix.size() <= list.size() &&
         std::equal(suffix.begin(), suffix.end(), list.end() - suffix.size());
}

// One run of the checker over one history; the phases run in the order declared.
class Checker {
 public:
  Checker(const std::vector<Transaction>& history, const CheckOptions& options)
      : history_(history), options_(options) {}

  absl::Status Index();
  void CheckReads();
  void OrderVersions();
  void DecideCommitted();
  void ExtendOrders();
  void BuildGraph();
  void FindCycles();
  CheckResult Finish();

 private:
  void CheckTransactionReads(int txn);
  void IndexLongest(int key);
  void CheckRead(Read& read);
  void AddRealtimeEdges();
  void SearchClass(const Components& region, const CycleClass& cls, EdgeMask extra,
                   const std::vector<uint8_t>* skip_if_found);
  void ReportCycle(Path cycle);
  void Report(Anomaly kind, std::vector<int> txns, int key, std::string explanation,
              bool realtime = false);
  std::string Name(int txn) const { return absl::StrCat("T", history_[txn].id); }
  std::string ReadText(const Read& read) const {
    return absl::StrCat(Name(read.txn), " read ", keys_[read.key].name, "=",
                        FormatList(*read.list));
  }
  const Writer* FindWriter(int key, int64_t element) const {
    auto it = keys_[key].writers.find(element);
    return it == keys_[key].writers.end() ? nullptr : &it->second;
  }
  void AddEdge(int from, int to, EdgeType type, int key) {
    if (from != to) graph_[from].push_back({to, type, key});
  }
  // The id of a key named only by the set ops (for edges and reports).
  int KeyIdFor(const std::string& name) {
    auto [it, inserted] = key_ids_.try_emplace(name, static_cast<int>(keys_.size()));
    if (inserted) keys_.push_back(KeyState{name});
    return it->second;
  }
  void ReportFindings(const std::vector<sets::Finding>& findings) {
    for (const sets::Finding& f : findings) {
      Report(f.kind, f.txns, KeyIdFor(f.key), f.explanation);
    }
  }
  void AddSetEdges();

  const std::vector<Transaction>& history_;
  const CheckOptions& options_;
  std::vector<KeyState> keys_;
  absl::flat_hash_map<std::string, int> key_ids_;
  std::vector<std::vector<int>> op_keys_;  // [txn][op] -> key id; -1 for set ops
  std::vector<Read> reads_;                // every read of a kOk transaction
  std::vector<int> node_of_;               // history index -> graph node; -1 if not committed
  std::vector<int> txn_of_;                // graph node -> history index
  Graph graph_;
  Components full_;                            // components over every edge type in use
  std::vector<uint8_t> full_found_;            // full component -> CycleBit()s of the cycles found
  sets::SetChecker sets_{history_, options_};  // inserts, scans, range deletes
  CheckResult result_;
};

bool IsListOp(const MicroOp& op) {
  return op.kind == MicroOp::Kind::kAppend || op.kind == MicroOp::Kind::kRead;
}

// Validates the history, names keys and records the writer of every element.
absl::Status Checker::Index() {
  if (options_.max_reports_per_kind < 0 || options_.max_search_steps < 0) {
    return absl::InvalidArgumentError("max_reports_per_kind and max_search_steps must be >= 0");
  }
  absl::flat_hash_set<int64_t> ids;
  op_keys_.resize(history_.size());
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    const Transaction& txn = history_[t];
    if (!ids.insert(txn.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate transaction id ", Name(t)));
    }
    if (txn.outcome != Outcome::kAmbiguous && txn.return_ns < txn.call_ns) {
      return absl::InvalidArgumentError(absl::StrCat(Name(t), " returns at ", txn.return_ns,
                                                     " ns, before its call at ", txn.call_ns));
    }
    for (const MicroOp& op : txn.ops) {
      if (!IsListOp(op)) {
        op_keys_[t].push_back(-1);
        continue;
      }
      auto [it, inserted] = key_ids_.try_emplace(op.key, static_cast<int>(keys_.size()));
      if (inserted) keys_.push_back(KeyState{op.key});
      op_keys_[t].push_back(it->second);
    }
    // Backwards, so that each append learns the transaction's next append to its key.
    absl::flat_hash_map<int, int64_t> later;  // key -> the next append after this point
    for (int i = static_cast<int>(txn.ops.size()) - 1; i >= 0; --i) {
      if (txn.ops[i].kind != MicroOp::Kind::kAppend) continue;
      const int key = op_keys_[t][i];
      const int64_t element = txn.ops[i].element;
      Writer writer{t};
      if (auto next = later.find(key); next != later.end()) writer = {t, true, next->second};
      later[key] = element;
      auto [it, inserted] = keys_[key].writers.try_emplace(element, writer);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("element ", element, " appended to key ",
                                                       keys_[key].name, " twice, by ",
                                                       Name(it->second.txn), " and ", Name(t)));
      }
    }
  }
  absl::flat_hash_set<std::string> list_keys;
  for (const KeyState& k : keys_) list_keys.insert(k.name);
  return sets_.Index(list_keys);
}

void Checker::CheckReads() {
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    if (history_[t].outcome == Outcome::kOk) CheckTransactionReads(t);
  }
  std::vector<sets::Finding> findings;
  sets_.CheckTransactions(&findings);
  ReportFindings(findings);
}

// Checks each read of committed transaction `txn` against the transaction's own earlier
// ops on the key (kInternal), records it, and keeps the longest read of each key.
void Checker::CheckTransactionReads(int txn) {
  struct Local {
    bool has_read = false;
    std::vector<int64_t> state;     // has_read: the list the key must now hold
    std::vector<int64_t> appended;  // !has_read: the appends so far, which must end it
  };
  absl::flat_hash_map<int, Local> local;  // key -> what the txn knows of it
  const std::vector<MicroOp>& ops = history_[txn].ops;
  for (size_t i = 0; i < ops.size(); ++i) {
    const int key = op_keys_[txn][i];
    if (key == -1) continue;  // a set op (list_append_sets.h)
    Local& l = local[key];
    if (ops[i].kind == MicroOp::Kind::kAppend) {
      (l.has_read ? l.state : l.appended).push_back(ops[i].element);
      continue;
    }
    const std::vector<int64_t>& list = ops[i].read_list;
    const Read read{txn, key, &list, !l.has_read && l.appended.empty()};
    reads_.push_back(read);
    KeyState& k = keys_[key];
    if (k.longest == nullptr || list.size() > k.longest->size()) {
      k.longest = &list;
      k.longest_reader = txn;
    }
    if (l.has_read && list != l.state) {
      Report(Anomaly::kInternal, {txn}, key,
             absl::StrCat(ReadText(read), ", but its earlier ops on the key imply ",
                          FormatList(l.state)));
    } else if (!l.has_read && !EndsWith(list, l.appended)) {
      Report(Anomaly::kInternal, {txn}, key,
             absl::StrCat(ReadText(read), ", which does not end with its own appends ",
                          FormatList(l.appended)));
    } else if (read.external) {
      // A read before the txn's first append to the key must not hold its appends.
      for (size_t j = i + 1; j < ops.size(); ++j) {
        if (ops[j].kind != MicroOp::Kind::kAppend || op_keys_[txn][j] != key) continue;
        if (std::find(list.begin(), list.end(), ops[j].element) == list.end()) continue;
        Report(Anomaly::kInternal, {txn}, key,
               absl::StrCat(ReadText(read), " before appending ", ops[j].element, " itself"));
        break;
      }
    }
    l.has_read = true;
    l.state = list;
    l.appended.clear();
  }
}

// Builds each key's version order from its longest read, then checks every read
// against it.
void Checker::OrderVersions() {
  for (int key = 0; key < static_cast<int>(keys_.size()); ++key) IndexLongest(key);
  for (Read& read : reads_) CheckRead(read);
}

void Checker::IndexLongest(int key) {
  KeyState& k = keys_[key];
  if (k.longest == nullptr) return;
  for (size_t i = 0; i < k.longest->size(); ++i) {
    const int64_t e = (*k.longest)[i];
    if (!k.position.try_emplace(e, k.order.size()).second) {
      k.first_repeat = std::min(k.first_repeat, i);
      continue;
    }
    k.order.push_back(e);
    const Writer* w = FindWriter(key, e);
    if (w == nullptr) {
      k.first_garbage = std::min(k.first_garbage, i);
    } else if (history_[w->txn].outcome == Outcome::kFailed) {
      k.first_aborted = std::min(k.first_aborted, i);
    }
  }
}

// The checks of one read: order, duplicates, garbage, G1a, G1b.
void Checker::CheckRead(Read& read) {
  KeyState& k = keys_[read.key];
  const std::vector<int64_t>& list = *read.list;
  read.compatible = IsPrefix(list, *k.longest);
  // The first repeated, garbage and aborted elements of the list, if any.
  std::optional<int64_t> repeat, garbage, aborted;
  if (read.compatible) {
    if (k.first_repeat < list.size()) repeat = list[k.first_repeat];
    if (k.first_garbage < list.size()) garbage = list[k.first_garbage];
    if (k.first_aborted < list.size()) aborted = list[k.first_aborted];
  } else {
    std::vector<int> txns = {k.longest_reader};
    if (read.txn != k.longest_reader) txns.push_back(read.txn);
    Report(Anomaly::kIncompatibleOrder, std::move(txns), read.key,
           absl::StrCat(ReadText(read), ", which is not a prefix of ", Name(k.longest_reader),
                        "'s read ", k.name, "=", FormatList(*k.longest)));
    absl::flat_hash_set<int64_t> seen;
    for (int64_t e : list) {
      k.observed_elsewhere.insert(e);
      if (!seen.insert(e).second && !repeat.has_value()) repeat = e;
      const Writer* w = FindWriter(read.key, e);
      if (w == nullptr && !garbage.has_value()) garbage = e;
      if (w != nullptr && history_[w->txn].outcome == Outcome::kFailed && !aborted.has_value()) {
        aborted = e;
      }
    }
  }
  if (repeat.has_value()) {
    Report(Anomaly::kDuplicateElements, {read.txn}, read.key,
           absl::StrCat(ReadText(read), ", which holds ", *repeat, " more than once"));
  }
  if (garbage.has_value()) {
    Report(
        Anomaly::kGarbageRead, {read.txn}, read.key,
        absl::StrCat(ReadText(read), ", but no transaction appended ", *garbage, " to ", k.name));
  }
  if (aborted.has_value()) {
    const int writer = FindWriter(read.key, *aborted)->txn;
    Report(Anomaly::kG1a, {writer, read.txn}, read.key,
           absl::StrCat(ReadText(read), ", which holds ", *aborted, ", appended by failed ",
                        Name(writer)));
  }
  if (!read.external || list.empty()) return;
  const Writer* w = FindWriter(read.key, list.back());
  if (w != nullptr && w->txn != read.txn && w->has_next &&
      history_[w->txn].outcome != Outcome::kFailed) {
    Report(Anomaly::kG1b, {w->txn, read.txn}, read.key,
           absl::StrCat(ReadText(read), ", ending at ", list.back(), ", an intermediate append of ",
                        Name(w->txn), ", which then appended ", w->next, " to ", k.name));
  }
}

// kOk transactions committed; so did ambiguous ones whose appends someone read.
void Checker::DecideCommitted() {
  node_of_.assign(history_.size(), -1);
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    const Transaction& txn = history_[t];
    bool committed = txn.outcome == Outcome::kOk;
    if (txn.outcome == Outcome::kAmbiguous) {
      for (size_t i = 0; i < txn.ops.size() && !committed; ++i) {
        committed = txn.ops[i].kind == MicroOp::Kind::kAppend &&
                    keys_[op_keys_[t][i]].Observed(txn.ops[i].element);
      }
      committed = committed || sets_.InsertObserved(t);
      ++(committed ? result_.ambiguous_committed : result_.ambiguous_dropped);
    }
    result_.failed += txn.outcome == Outcome::kFailed ? 1 : 0;
    if (!committed) continue;
    node_of_[t] = static_cast<int>(txn_of_.size());
    txn_of_.push_back(t);
  }
}

// A committed element nobody read follows every read of its key; if it is the only
// one, it is next in the key's order. Then indexes the committed writers of each order.
void Checker::ExtendOrders() {
  for (KeyState& k : keys_) {
    int unread = 0;
    int64_t last = 0;
    for (const auto& [element, writer] : k.writers) {
      if (node_of_[writer.txn] == -1 || k.Observed(element)) continue;
      ++unread;
      last = element;
    }
    if (unread == 1) {
      k.position.emplace(last, k.order.size());
      k.order.push_back(last);
    }
    k.next_committed.assign(k.order.size() + 1, k.order.size());
    for (size_t i = k.order.size(); i-- > 0;) {
      const auto w = k.writers.find(k.order[i]);  // garbage elements have no writer
      const bool committed = w != k.writers.end() && node_of_[w->second.txn] != -1;
      k.next_committed[i] = committed ? i : k.next_committed[i + 1];
    }
  }
}

void Checker::BuildGraph() {
  graph_.assign(txn_of_.size(), {});
  for (int key = 0; key < static_cast<int>(keys_.size()); ++key) {
    int previous = -1;  // node of the last committed writer in the order
    for (int64_t e : keys_[key].order) {
      const Writer* w = FindWriter(key, e);
      const int node = w == nullptr ? -1 : node_of_[w->txn];
      if (node == -1) continue;
      if (previous != -1) AddEdge(previous, node, EdgeType::kWW, key);
      previous = node;
    }
  }
  for (const Read& read : reads_) {
    if (!read.external) continue;
    const KeyState& k = keys_[read.key];
    const int reader = node_of_[read.txn];
    const std::vector<int64_t>& list = *read.list;
    if (!list.empty()) {
      const Writer* w = FindWriter(read.key, list.back());
      if (w != nullptr && node_of_[w->txn] != -1) {
        AddEdge(node_of_[w->txn], reader, EdgeType::kWR, read.key);
      }
    }
    if (!read.compatible) continue;
    const size_t end = list.empty() ? 0 : k.position.at(list.back()) + 1;
    const size_t next = k.next_committed[end];
    if (next < k.order.size()) {
      AddEdge(reader, node_of_[k.writers.at(k.order[next]).txn], EdgeType::kRW, read.key);
    }
  }
  AddSetEdges();
  if (options_.realtime) AddRealtimeEdges();
  for (std::vector<Edge>& edges : graph_) {
    auto by_target = [](const Edge& a, const Edge& b) {
      return std::tie(a.to, a.type) < std::tie(b.to, b.type);
    };
    std::stable_sort(edges.begin(), edges.end(), by_target);
    auto same = [](const Edge& a, const Edge& b) { return a.to == b.to && a.type == b.type; };
    edges.erase(std::unique(edges.begin(), edges.end(), same), edges.end());
    result_.edges += static_cast<int64_t>(edges.size());
  }
}

// The edges (and anomalies) of the inserts, scans and range deletes.
void Checker::AddSetEdges() {
  std::vector<bool> committed(history_.size());
  for (size_t t = 0; t < history_.size(); ++t) committed[t] = node_of_[t] != -1;
  std::vector<sets::Edge> edges;
  std::vector<sets::Finding> findings;
  sets_.Relate(committed, &edges, &findings);
  ReportFindings(findings);
  for (const sets::Edge& e : edges) {
    const EdgeType type = e.type == sets::Edge::Type::kWW   ? EdgeType::kWW
                          : e.type == sets::Edge::Type::kWR ? EdgeType::kWR
                                                            : EdgeType::kRW;
    if (node_of_[e.from] == -1 || node_of_[e.to] == -1) continue;  // Relate links nodes only
    AddEdge(node_of_[e.from], node_of_[e.to], type, KeyIdFor(e.key));
  }
}

// Links T1 -rt-> T2 when T1 returned before T2 was called, as a transitive reduction:
// the frontier holds the completed transactions none of whose real-time successors has
// completed yet, and each call is linked from the whole frontier. Frontier members
// overlap one another in time, so it holds at most as many transactions as were ever
// outstanding at once.
void Checker::AddRealtimeEdges() {
  std::vector<std::tuple<int64_t, bool, int>> events;  // (time, is return, node)
  for (int node = 0; node < static_cast<int>(txn_of_.size()); ++node) {
    const Transaction& txn = history_[txn_of_[node]];
    events.emplace_back(txn.call_ns, false, node);
    if (txn.outcome == Outcome::kOk) events.emplace_back(txn.return_ns, true, node);
  }
  // At equal times calls sort first: touching intervals are concurrent.
  std::sort(events.begin(), events.end());
  std::vector<int> frontier;
  std::vector<int> slot(txn_of_.size(), -1);  // node -> index in frontier, or -1
  std::vector<std::vector<int>> predecessors(txn_of_.size());
  for (const auto& [time_ns, is_return, node] : events) {
    if (!is_return) {
      predecessors[node] = frontier;
      for (int p : frontier) AddEdge(p, node, EdgeType::kRT, -1);
      continue;
    }
    for (int p : predecessors[node]) {
      if (slot[p] == -1) continue;
      slot[frontier.back()] = slot[p];
      frontier[slot[p]] = frontier.back();
      frontier.pop_back();
      slot[p] = -1;
    }
    predecessors[node] = {};
    slot[node] = static_cast<int>(frontier.size());
    frontier.push_back(node);
  }
}

// Finds cycles: first without rt edges, per component of ww|wr|rw, then, with
// realtime, per component of the whole graph for the classes not found there yet.
void Checker::FindCycles() {
  const EdgeMask all = kWW | kWR | kRW | (options_.realtime ? kRT : 0);
  full_ = StronglyConnected(graph_, all);
  if (full_.cyclic.empty()) return;
  full_found_.assign(full_.count, 0);
  const Components no_rt = options_.realtime ? StronglyConnected(graph_, kWW | kWR | kRW) : full_;
  for (const EdgeMask extra : {EdgeMask{0}, kRT}) {
    if (extra == kRT && !options_.realtime) break;
    for (const CycleClass& cls : kCycleClasses) {
      // The region of an exact class is the components of its own edge types, so any
      // start edge inside one closes a cycle; the others search the wider components.
      if (cls.exact) {
        const Components region = StronglyConnected(graph_, Bit(cls.start) | cls.path | extra);
        SearchClass(region, cls, extra, extra == kRT ? &full_found_ : nullptr);
      } else {
        SearchClass(extra == kRT ? full_ : no_rt, cls, extra,
                    extra == kRT ? &full_found_ : nullptr);
      }
    }
  }
  // Only a spent budget leaves a component without a cycle: report any cycle in it.
  PathFinder finder(graph_);
  for (const std::vector<int>& members : full_.cyclic) {
    if (full_found_[full_.of[members[0]]] != 0) continue;
    const int u = members[0];
    for (const Edge& e : graph_[u]) {
      if (full_.of[e.to] != full_.of[u]) continue;
      std::optional<Path> back = finder.Find(e.to, u, all, full_.of, false, nullptr);
      assert(back.has_value());  // u and e.to share a component
      if (!back.has_value()) continue;
      back->insert(back->begin(), Step{u, &e});
      ReportCycle(std::move(*back));
      break;
    }
  }
}

// Reports the first cycle of class `cls` (with `extra` edge types allowed on the way
// back) in each cyclic component of `region`, skipping components of full_ where
// *skip_if_found already holds a cycle of the class.
void Checker::SearchClass(const Components& region, const CycleClass& cls, EdgeMask extra,
                          const std::vector<uint8_t>* skip_if_found) {
  PathFinder finder(graph_);
  const uint8_t bit = CycleBit(cls.kind);
  // The budgeted searches (G-single and G2, with and without rt) share it equally.
  int64_t budget = options_.max_search_steps / (options_.realtime ? 4 : 2);
  for (const std::vector<int>& members : region.cyclic) {
    if (skip_if_found != nullptr && ((*skip_if_found)[full_.of[members[0]]] & bit) != 0) continue;
    std::optional<Path> cycle;
    for (size_t i = 0; i < members.size() && !cycle.has_value(); ++i) {
      const int u = members[i];
      for (const Edge& e : graph_[u]) {
        if (e.type != cls.start || region.of[e.to] != region.of[u]) continue;
        if (!cls.exact && budget <= 0) {
          result_.search_incomplete = true;
          return;
        }
        std::optional<Path> walk = finder.Find(e.to, u, cls.path | extra, region.of, cls.need_rw,
                                               cls.exact ? nullptr : &budget);
        if (!walk.has_value()) continue;
        walk->insert(walk->begin(), Step{u, &e});
        // A G2 walk may pass a node twice; keep a simple cycle that is still G2.
        for (Path& simple : SimpleCycles(*walk)) {
          bool realtime;
          if (Classify(simple, &realtime) == cls.kind) {
            cycle = std::move(simple);
            break;
          }
        }
        if (cycle.has_value()) break;
      }
    }
    if (cycle.has_value()) ReportCycle(std::move(*cycle));
  }
}

void Checker::ReportCycle(Path cycle) {
  bool realtime = false;
  const Anomaly kind = Classify(cycle, &realtime);
  full_found_[full_.of[cycle[0].from]] |= CycleBit(kind);
  // Start at the smallest transaction id, so reports read the same from run to run.
  auto smallest = std::min_element(cycle.begin(), cycle.end(), [&](const Step& a, const Step& b) {
    return history_[txn_of_[a.from]].id < history_[txn_of_[b.from]].id;
  });
  std::rotate(cycle.begin(), smallest, cycle.end());
  std::vector<int> txns;
  std::string text;
  for (const Step& s : cycle) {
    txns.push_back(txn_of_[s.from]);
    const std::string via =
        s.edge->key == -1 ? "" : absl::StrCat("(", keys_[s.edge->key].name, ")");
    absl::StrAppend(&text, Name(txn_of_[s.from]), " -", EdgeName(s.edge->type), via, "-> ");
  }
  absl::StrAppend(&text, Name(txn_of_[cycle[0].from]), realtime ? " (realtime)" : "");
  Report(kind, std::move(txns), -1, std::move(text), realtime);
}

void Checker::Report(Anomaly kind, std::vector<int> txns, int key, std::string explanation,
                     bool realtime) {
  if (++result_.found_by_kind[kind] > options_.max_reports_per_kind) return;
  AnomalyReport report;
  report.kind = kind;
  for (int t : txns) report.txn_ids.push_back(history_[t].id);
  if (key != -1) report.key = keys_[key].name;
  report.realtime = realtime;
  report.explanation = std::move(explanation);
  result_.anomalies.push_back(std::move(report));
}

CheckResult Checker::Finish() {
  result_.transactions = static_cast<int64_t>(history_.size());
  result_.committed = static_cast<int64_t>(txn_of_.size());
  result_.valid = result_.found_by_kind.empty();
  std::stable_sort(result_.anomalies.begin(), result_.anomalies.end(),
                   [](const AnomalyReport& a, const AnomalyReport& b) { return a.kind < b.kind; });
  return std::move(result_);
}

}  // namespace

MicroOp AppendOp(std::string key, int64_t element) {
  MicroOp op;
  op.kind = MicroOp::Kind::kAppend;
  op.key = std::move(key);
  op.element = element;
  return op;
}

MicroOp ReadOp(std::string key, std::vector<int64_t> read_list) {
  MicroOp op;
  op.kind = MicroOp::Kind::kRead;
  op.key = std::move(key);
  op.read_list = std::move(read_list);
  return op;
}

MicroOp InsertOp(std::string key) {
  MicroOp op;
  op.kind = MicroOp::Kind::kInsert;
  op.key = std::move(key);
  return op;
}

MicroOp ScanOp(std::string start, std::string end, std::vector<std::string> present) {
  MicroOp op;
  op.kind = MicroOp::Kind::kScan;
  op.key = std::move(start);
  op.end_key = std::move(end);
  op.keys = std::move(present);
  return op;
}

MicroOp DeleteRangeOp(std::string start, std::string end, std::vector<std::string> deleted) {
  MicroOp op;
  op.kind = MicroOp::Kind::kDeleteRange;
  op.key = std::move(start);
  op.end_key = std::move(end);
  op.keys = std::move(deleted);
  return op;
}

const char* AnomalyName(Anomaly anomaly) {
  switch (anomaly) {
    case Anomaly::kG0:
      return "G0";
    case Anomaly::kG1a:
      return "G1a";
    case Anomaly::kG1b:
      return "G1b";
    case Anomaly::kG1c:
      return "G1c";
    case Anomaly::kGSingle:
      return "G-single";
    case Anomaly::kG2:
      return "G2";
    case Anomaly::kIncompatibleOrder:
      return "incompatible-order";
    case Anomaly::kDuplicateElements:
      return "duplicate-elements";
    case Anomaly::kInternal:
      return "internal";
    case Anomaly::kGarbageRead:
      return "garbage-read";
  }
  return "unknown";
}

absl::StatusOr<CheckResult> Check(const std::vector<Transaction>& history,
                                  const CheckOptions& options) {
  Checker checker(history, options);
  if (absl::Status s = checker.Index(); !s.ok()) return s;
  checker.CheckReads();
  checker.OrderVersions();
  checker.DecideCommitted();
  checker.ExtendOrders();
  checker.BuildGraph();
  checker.FindCycles();
  return checker.Finish();
}

std::string Summarize(const CheckResult& result) {
  std::string line =
      absl::StrCat(result.valid ? "valid: " : "invalid: ", result.transactions, " transactions (",
                   result.committed, " committed, ", result.failed, " failed, ",
                   result.ambiguous_committed, " ambiguous committed, ", result.ambiguous_dropped,
                   " ambiguous dropped), ", result.edges, " edges");
  const char* separator = "; ";
  for (const auto& [kind, count] : result.found_by_kind) {
    absl::StrAppend(&line, separator, AnomalyName(kind), " x", count);
    separator = ", ";
  }
  if (result.search_incomplete) absl::StrAppend(&line, "; cycle search incomplete");
  return line;
}

}  // namespace rangedb::list_append
