#include "raft/sim/cluster.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"

namespace rangedb::raft::sim {

namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}

uint64_t HashBytes(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Hash of the log prefix ending with e, given the hash of the prefix before it.
uint64_t PrefixHash(uint64_t prev, const raftpb::Entry& e) {
  uint64_t h = Mix(prev, e.index());
  h = Mix(h, e.term());
  h = Mix(h, static_cast<uint64_t>(e.type()));
  return Mix(h, HashBytes(e.data()));
}

}  // namespace

// ---------------------------------------------------------------------------
// StateMachine

std::string StateMachine::Encode() const {
  raftpb::Message m;
  for (const auto& [index, data] : by_index) {
    raftpb::Entry* e = m.add_entries();
    e->set_index(index);
    e->set_data(data);
  }
  return m.SerializeAsString();
}

void StateMachine::Decode(const std::string& data, uint64_t applied_index) {
  *this = StateMachine();
  raftpb::Message m;
  RANGEDB_CHECK(m.ParseFromString(data))
      << "corrupt state machine snapshot at applied index " << applied_index;
  for (const raftpb::Entry& e : m.entries()) Apply(e.index(), e.data());
  applied = applied_index;
}

void StateMachine::Apply(uint64_t index, const std::string& data) {
  by_index[index] = data;
  if (seen.insert(data).second) order.push_back(data);
  applied = index;
}

// ---------------------------------------------------------------------------
// Cluster

// The node's disk. Like a production replica, it generates snapshots on demand from
// the current state machine (so a snapshot sent to a new member always includes the
// configuration that added it), rather than handing out the last compaction point.
class OnDemandStorage : public MemoryStorage {
 public:
  std::function<std::optional<raftpb::Snapshot>()> fresh;

  absl::StatusOr<raftpb::Snapshot> Snapshot() const override {
    if (fresh) {
      if (std::optional<raftpb::Snapshot> s = fresh()) return *s;
    }
    return MemoryStorage::Snapshot();
  }
  absl::StatusOr<raftpb::Snapshot> Stored() const { return MemoryStorage::Snapshot(); }
};

struct Cluster::Node {
  uint64_t id = 0;
  OnDemandStorage storage;
  std::unique_ptr<RawNode> raw;
  StateMachine sm;
  raftpb::ConfState conf_state;
  // Prefix hashes mirroring `storage`: hashes[k] covers the log through index
  // hash_base + k (hash_base is the snapshot index).
  uint64_t hash_base = 0;
  std::vector<uint64_t> hashes{0};
  std::vector<ReadState> read_states;
  // A Ready whose leader messages went out before it was persisted (volatile: a
  // crash loses it).
  std::optional<Ready> unpersisted;
  int restarts = 0;
  uint64_t observed_leader_term = 0;
};

Cluster::Cluster(const std::vector<uint64_t>& ids, ClusterOptions options, uint64_t seed)
    : opts_(options), rng_(seed), seed_(seed), persist_rng_(Mix(seed, 0x9e75157)) {
  // Bootstrap: every initial member starts from a snapshot at index 1 holding the
  // initial configuration, so a member added later (with an empty log) needs a
  // snapshot and learns the configuration from it.
  raftpb::Snapshot boot;
  for (uint64_t id : ids) boot.mutable_metadata()->mutable_conf_state()->add_voters(id);
  boot.mutable_metadata()->set_index(1);
  boot.mutable_metadata()->set_term(1);
  boot.set_data(StateMachine().Encode());
  raftpb::Entry boot_entry;
  boot_entry.set_index(1);
  boot_entry.set_term(1);
  entry_prefix_hash_[{1, 1}] = PrefixHash(0, boot_entry);
  applied_prefix_hash_[1] = entry_prefix_hash_[{1, 1}];
  applied_term_[1] = 1;
  for (uint64_t id : ids) {
    auto n = std::make_unique<Node>();
    n->id = id;
    const absl::Status s = n->storage.ApplySnapshot(boot);
    RANGEDB_CHECK(s.ok()) << "node " << id << ": " << s;
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(1);
    n->storage.SetHardState(hs);
    n->hash_base = 1;
    n->hashes = {entry_prefix_hash_[{1, 1}]};
    nodes_[id] = std::move(n);
  }
  for (auto& [id, n] : nodes_) StartNode(*n);
}

Cluster::~Cluster() = default;

void Cluster::StartNode(Node& n) {
  Config c;
  c.id = n.id;
  c.election_ticks = opts_.election_ticks;
  c.heartbeat_ticks = opts_.heartbeat_ticks;
  c.storage = &n.storage;
  c.pre_vote = opts_.pre_vote;
  c.check_quorum = opts_.check_quorum;
  c.max_msg_bytes = opts_.max_msg_bytes;
  c.max_inflight_msgs = opts_.max_inflight_msgs;
  c.max_uncommitted_entries_bytes = opts_.max_uncommitted_entries_bytes;
  c.max_entry_bytes = opts_.max_entry_bytes;
  c.testing_unsafe_commit_old_term = opts_.unsafe_commit_old_term;
  c.random = [rng =
                  SplitMix64(Mix(Mix(seed_, n.id), static_cast<uint64_t>(n.restarts)))]() mutable {
    return rng.Next();
  };
  // The state machine restarts from the stored snapshot; raft replays the rest.
  const raftpb::Snapshot snap = *n.storage.Stored();
  n.sm.Decode(snap.data().empty() ? StateMachine().Encode() : snap.data(), snap.metadata().index());
  n.conf_state = snap.metadata().conf_state();
  c.applied = snap.metadata().index();
  absl::StatusOr<std::unique_ptr<RawNode>> raw = RawNode::Create(c);
  RANGEDB_CHECK(raw.ok()) << "cannot start raft node " << n.id << ": " << raw.status();
  n.raw = *std::move(raw);
  Node* np = &n;
  n.storage.fresh = [np]() -> std::optional<raftpb::Snapshot> {
    const uint64_t applied = np->sm.applied;
    if (!np->raw || applied <= np->storage.Stored()->metadata().index()) return std::nullopt;
    raftpb::Snapshot s;
    s.mutable_metadata()->set_index(applied);
    s.mutable_metadata()->set_term(np->storage.Term(applied).value());
    *s.mutable_metadata()->mutable_conf_state() = np->conf_state;
    s.set_data(np->sm.Encode());
    return s;
  };
  n.observed_leader_term = 0;
}

void Cluster::AddNode(uint64_t id) {
  RANGEDB_CHECK_EQ(nodes_.count(id), 0) << "node " << id << " exists";
  auto n = std::make_unique<Node>();
  n->id = id;
  StartNode(*n);
  nodes_[id] = std::move(n);
  Trace(absl::StrCat("add-node n", id));
}

void Cluster::Crash(uint64_t id) {
  Node& n = *nodes_.at(id);
  if (!n.raw) return;
  n.raw.reset();
  n.unpersisted.reset();
  n.sm = StateMachine();
  n.read_states.clear();
  // Messages still queued in the crashed process's transport die with it.
  std::erase_if(in_flight_,
                [&](const InFlight& f) { return f.msg.from() == id && f.deliver_tick > now_; });
  Trace(absl::StrCat("crash n", id));
}

void Cluster::Restart(uint64_t id) {
  Node& n = *nodes_.at(id);
  if (n.raw) return;
  ++n.restarts;
  StartNode(n);
  Trace(absl::StrCat("restart n", id));
  Settle();
}

bool Cluster::IsUp(uint64_t id) const {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second->raw != nullptr;
}

std::vector<uint64_t> Cluster::Ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

std::vector<uint64_t> Cluster::UpIds() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) {
    if (n->raw) out.push_back(id);
  }
  return out;
}

RawNode& Cluster::raw(uint64_t id) {
  Node& n = *nodes_.at(id);
  RANGEDB_CHECK(n.raw != nullptr) << "node " << id << " is down";
  return *n.raw;
}

MemoryStorage& Cluster::storage(uint64_t id) { return nodes_.at(id)->storage; }

const StateMachine& Cluster::state_machine(uint64_t id) const { return nodes_.at(id)->sm; }

const raftpb::ConfState& Cluster::conf_state(uint64_t id) const {
  return nodes_.at(id)->conf_state;
}

void Cluster::Isolate(uint64_t id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id) continue;
    cut_.insert({id, other});
    cut_.insert({other, id});
  }
}

void Cluster::Reconnect(uint64_t id) {
  for (auto it = cut_.begin(); it != cut_.end();) {
    if (it->first == id || it->second == id) {
      it = cut_.erase(it);
    } else {
      ++it;
    }
  }
}

void Cluster::Partition(const std::vector<std::vector<uint64_t>>& groups) {
  cut_.clear();
  std::map<uint64_t, size_t> group_of;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (uint64_t id : groups[g]) group_of[id] = g;
  }
  for (const auto& [a, na] : nodes_) {
    for (const auto& [b, nb] : nodes_) {
      if (a == b) continue;
      auto ga = group_of.find(a), gb = group_of.find(b);
      // Nodes not named in any group are isolated.
      if (ga == group_of.end() || gb == group_of.end() || ga->second != gb->second) {
        cut_.insert({a, b});
      }
    }
  }
}

void Cluster::Tick() {
  ++now_;
  for (auto& [id, n] : nodes_) {
    if (n->raw) n->raw->Tick();
  }
  Settle();
}

void Cluster::RunTicks(int n) {
  for (int i = 0; i < n; ++i) Tick();
}

bool Cluster::RunUntil(const std::function<bool()>& pred, int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    if (pred()) return true;
    Tick();
  }
  return pred();
}

void Cluster::Settle() {
  // Bounded: each round either handles a Ready or delivers messages; a healthy
  // cluster goes quiet within a few rounds per tick.
  for (int round = 0; round < 100000; ++round) {
    bool busy = false;
    bool waiting_for_disk = false;
    for (auto& [id, n] : nodes_) {
      // Observe leadership after every input (a node may lead only briefly).
      if (!n->raw) continue;
      const Raft& r = n->raw->raft();
      if (r.state() == StateType::kLeader && n->observed_leader_term != r.term()) {
        n->observed_leader_term = r.term();
        auto [it, inserted] = leader_of_term_.emplace(r.term(), id);
        if (!inserted && it->second != id) {
          Violation(absl::StrCat("election safety: term ", r.term(), " has leaders n", it->second,
                                 " and n", id));
        }
        Trace(absl::StrCat("leader n", id, " term=", r.term()));
        // Leader completeness (§5.4): the new leader holds every applied entry.
        const uint64_t m = max_applied_;
        if (m > 0) {
          const RaftLog& log = r.log();
          if (m > log.LastIndex()) {
            Violation(absl::StrCat("leader completeness: n", id, " leads term ", r.term(),
                                   " without committed index ", m));
          } else if (m + 1 >= log.FirstIndex()) {
            absl::StatusOr<uint64_t> t = log.Term(m);
            if (t.ok() && *t != applied_term_.at(m)) {
              Violation(absl::StrCat("leader completeness: n", id, " leads term ", r.term(),
                                     " with term ", *t, " at committed index ", m,
                                     " (committed term ", applied_term_.at(m), ")"));
            }
          }
        }
      }
      if (n->unpersisted.has_value()) {
        // The fsync finishes in this round, a later one, or a later tick.
        if (!persist_rng_.Chance(0.5)) {
          waiting_for_disk = true;
          continue;
        }
        Ready rd = *std::move(n->unpersisted);
        n->unpersisted.reset();
        FinishReady(*n, std::move(rd));
        busy = true;
      }
      while (n->raw && !n->unpersisted.has_value() && n->raw->HasReady()) {
        HandleReady(*n);
        busy = true;
      }
    }
    if (Deliver()) busy = true;
    if (!busy && (!waiting_for_disk || persist_rng_.Chance(0.5))) return;
  }
  Violation("the cluster did not settle within a tick");
}

void Cluster::HandleReady(Node& n) {
  Ready rd = n.raw->GetReady();
  const Raft& r = n.raw->raft();
  const bool leader = r.state() == StateType::kLeader;
  const bool defer =
      (opts_.early_send == ClusterOptions::EarlySend::kLeaderAppends && leader &&
       !rd.entries.empty()) ||
      (opts_.early_send == ClusterOptions::EarlySend::kAll && (rd.must_sync || rd.snapshot));
  if (defer) {
    // Send now what may go early, persist later.
    std::vector<raftpb::Message> later;
    for (raftpb::Message& m : rd.messages) {
      const bool early =
          opts_.early_send == ClusterOptions::EarlySend::kAll ||
          (leader && (m.type() == raftpb::MSG_APP || m.type() == raftpb::MSG_HEARTBEAT) &&
           m.term() == r.term());
      if (early) {
        Send(std::move(m));
      } else {
        later.push_back(std::move(m));
      }
    }
    rd.messages = std::move(later);
    n.unpersisted = std::move(rd);
    return;
  }
  FinishReady(n, std::move(rd));
}

void Cluster::FinishReady(Node& n, Ready rd) {
  // 1. Persist: snapshot, entries, hard state.
  if (rd.snapshot) InstallSnapshot(n, *rd.snapshot);
  PersistEntries(n, rd.entries);
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  // 2. Send.
  for (raftpb::Message& m : rd.messages) Send(std::move(m));
  // 3. Apply.
  for (const raftpb::Entry& e : rd.committed_entries) {
    ApplyEntry(n, e);
    if (!n.raw) return;
  }
  for (ReadState& rs : rd.read_states) n.read_states.push_back(std::move(rs));
  // 4. Advance.
  n.raw->Advance();
  MaybeCompact(n);
}

void Cluster::PersistEntries(Node& n, const std::vector<raftpb::Entry>& ents) {
  if (ents.empty()) return;
  n.storage.Append(ents);
  for (const raftpb::Entry& e : ents) {
    if (e.index() <= n.hash_base) continue;
    const size_t pos = e.index() - n.hash_base;
    RANGEDB_CHECK_LE(pos, n.hashes.size()) << "gap in the persisted log of node " << n.id;
    n.hashes.resize(pos);
    const uint64_t h = PrefixHash(n.hashes.back(), e);
    n.hashes.push_back(h);
    // Log matching (§5.3): same index and term => same prefix.
    auto [it, inserted] = entry_prefix_hash_.emplace(std::make_pair(e.index(), e.term()), h);
    if (!inserted && it->second != h) {
      Violation(absl::StrCat("log matching: n", n.id, " holds entry ", e.index(), "/t", e.term(),
                             " after a different prefix"));
    }
  }
}

void Cluster::InstallSnapshot(Node& n, const raftpb::Snapshot& snap) {
  const raftpb::SnapshotMetadata& md = snap.metadata();
  absl::Status s = n.storage.ApplySnapshot(snap);
  RANGEDB_CHECK(s.ok()) << "raft handed node " << n.id << " an out-of-date snapshot: " << s;
  auto it = entry_prefix_hash_.find({md.index(), md.term()});
  if (it == entry_prefix_hash_.end()) {
    Violation(absl::StrCat("snapshot at ", md.index(), "/t", md.term(), " of an unknown entry"));
    n.hashes = {0};
  } else {
    n.hashes = {it->second};
  }
  n.hash_base = md.index();
  n.sm.Decode(snap.data(), md.index());
  n.conf_state = md.conf_state();
  for (size_t i = 0; i < n.sm.order.size(); ++i) {
    if (i >= global_order_.size()) {
      global_order_.push_back(n.sm.order[i]);
    } else if (global_order_[i] != n.sm.order[i]) {
      Violation(absl::StrCat("state machine safety: n", n.id, " snapshot has command ",
                             n.sm.order[i], " at position ", i, ", others ", global_order_[i]));
      break;
    }
  }
  Trace(absl::StrCat("n", n.id, " installed snapshot ", md.index(), "/t", md.term()));
}

uint64_t Cluster::PrefixHashAt(const Node& n, uint64_t index, bool* ok) const {
  *ok = index >= n.hash_base && index - n.hash_base < n.hashes.size();
  return *ok ? n.hashes[index - n.hash_base] : 0;
}

void Cluster::ApplyEntry(Node& n, const raftpb::Entry& e) {
  if (e.index() != n.sm.applied + 1) {
    Violation(absl::StrCat("n", n.id, " applies ", e.index(), " after ", n.sm.applied));
  }
  bool ok = false;
  const uint64_t h = PrefixHashAt(n, e.index(), &ok);
  if (!ok) {
    Violation(absl::StrCat("n", n.id, " applies entry ", e.index(), " it has not persisted"));
  } else {
    // State machine safety (§5.4.3): one entry per index, everywhere.
    auto [it, inserted] = applied_prefix_hash_.emplace(e.index(), h);
    if (!inserted && it->second != h) {
      Violation(absl::StrCat("state machine safety: n", n.id, " applies a different entry at ",
                             e.index(), " (term ", e.term(), ")"));
    }
    applied_term_.emplace(e.index(), e.term());
  }
  max_applied_ = std::max(max_applied_, e.index());
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    raftpb::ConfChange cc;
    RANGEDB_CHECK(cc.ParseFromString(e.data())) << "corrupt conf change at index " << e.index();
    absl::StatusOr<raftpb::ConfState> cs = n.raw->ApplyConfChange(cc);
    if (cs.ok()) n.conf_state = *cs;
    n.sm.applied = e.index();
    Trace(absl::StrCat(
        "n", n.id, " applied conf change at ", e.index(), ": ",
        cs.ok() ? n.raw->raft().tracker().config.DebugString() : cs.status().ToString()));
    return;
  }
  if (e.data().empty()) {
    n.sm.applied = e.index();
    return;
  }
  const size_t before = n.sm.order.size();
  n.sm.Apply(e.index(), e.data());
  if (n.sm.order.size() > before) {
    // Exactly once, same order: the distinct commands form one global sequence.
    const size_t pos = before;
    if (pos >= global_order_.size()) {
      global_order_.push_back(e.data());
    } else if (global_order_[pos] != e.data()) {
      Violation(absl::StrCat("state machine safety: n", n.id, " applies command ", e.data(),
                             " at position ", pos, ", others ", global_order_[pos]));
    }
  }
  auto p = proposer_.find(e.data());
  if (p != proposer_.end() && p->second == n.id) acked_.insert(e.data());
}

void Cluster::MaybeCompact(Node& n) {
  if (opts_.snapshot_every == 0) return;
  const uint64_t snap_index = n.storage.Stored()->metadata().index();
  const uint64_t applied = n.sm.applied;
  if (applied < snap_index + opts_.snapshot_every) return;
  absl::StatusOr<raftpb::Snapshot> s =
      n.storage.CreateSnapshot(applied, n.conf_state, n.sm.Encode());
  RANGEDB_CHECK(s.ok()) << "node " << n.id << " cannot create a snapshot at " << applied << ": "
                        << s.status();
  if (applied > opts_.compact_keep) {
    const uint64_t to = applied - opts_.compact_keep;
    if (to > snap_index) (void)n.storage.Compact(to);
  }
}

void Cluster::Send(raftpb::Message m) {
  if (nodes_.count(m.to()) == 0) return;
  if (rng_.Chance(net_.drop)) {
    if (m.type() == raftpb::MSG_SNAP) {
      // A real transport learns that its snapshot stream failed.
      in_flight_.push_back({now_, [&] {
                              raftpb::Message r;
                              r.set_type(raftpb::MSG_SNAP_STATUS);
                              r.set_to(m.from());
                              r.set_from(m.to());
                              r.set_reject(true);
                              return r;
                            }()});
    }
    return;
  }
  const int copies = rng_.Chance(net_.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    const uint64_t delay = net_.max_delay_ticks > 0
                               ? rng_.Uniform(static_cast<uint64_t>(net_.max_delay_ticks) + 1)
                               : 0;
    in_flight_.push_back({now_ + delay, m});
  }
}

bool Cluster::Deliver() {
  std::vector<raftpb::Message> due;
  std::vector<InFlight> later;
  for (InFlight& f : in_flight_) {
    if (f.deliver_tick <= now_) {
      due.push_back(std::move(f.msg));
    } else {
      later.push_back(std::move(f));
    }
  }
  in_flight_ = std::move(later);
  for (raftpb::Message& m : due) {
    auto it = nodes_.find(m.to());
    if (it == nodes_.end()) continue;
    Node& dst = *it->second;
    if (m.type() == raftpb::MSG_SNAP_STATUS) {
      // Transport feedback to the sender (not a network message).
      if (dst.raw) dst.raw->ReportSnapshot(m.from(), m.reject());
      continue;
    }
    const bool cut = cut_.count({m.from(), m.to()}) > 0;
    if (cut || !dst.raw) {
      auto src = nodes_.find(m.from());
      if (src != nodes_.end() && src->second->raw) {
        if (m.type() == raftpb::MSG_SNAP) {
          src->second->raw->ReportSnapshot(m.to(), /*failed=*/true);
        } else if (m.type() == raftpb::MSG_APP) {
          src->second->raw->ReportUnreachable(m.to());
        }
      }
      continue;
    }
    const bool is_snap = m.type() == raftpb::MSG_SNAP;
    const uint64_t from = m.from(), to = m.to();
    (void)dst.raw->Step(std::move(m));
    if (is_snap) {
      auto src = nodes_.find(from);
      if (src != nodes_.end() && src->second->raw) src->second->raw->ReportSnapshot(to, false);
    }
  }
  return !due.empty();
}

absl::Status Cluster::Propose(uint64_t id, std::string data) {
  proposer_.emplace(data, id);
  absl::Status s = raw(id).Propose(std::move(data));
  Settle();
  return s;
}

absl::Status Cluster::ProposeConfChange(uint64_t id, const raftpb::ConfChange& cc) {
  absl::Status s = raw(id).ProposeConfChange(cc);
  Settle();
  return s;
}

std::optional<uint64_t> Cluster::Leader() const {
  std::optional<uint64_t> best;
  uint64_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (!n->raw) continue;
    const Raft& r = n->raw->raft();
    if (r.state() == StateType::kLeader && r.term() >= best_term) {
      best = id;
      best_term = r.term();
    }
  }
  return best;
}

int Cluster::NumApplied(uint64_t index, std::string* data) const {
  int count = 0;
  for (const auto& [id, n] : nodes_) {
    if (!n->raw) continue;
    auto it = n->sm.by_index.find(index);
    if (it == n->sm.by_index.end()) continue;
    if (count > 0 && data != nullptr && *data != it->second) return -1;  // disagreement
    if (data != nullptr) *data = it->second;
    ++count;
  }
  return count;
}

std::optional<uint64_t> Cluster::One(const std::string& data, int expected, int max_ticks) {
  int ticks = 0;
  while (ticks < max_ticks) {
    std::optional<uint64_t> leader = Leader();
    if (leader && Propose(*leader, data).ok() && IsUp(*leader)) {
      const uint64_t index = raw(*leader).raft().log().LastIndex();
      for (int w = 0; w < 4 * opts_.election_ticks && ticks < max_ticks; ++w, ++ticks) {
        std::string got;
        const int n = NumApplied(index, &got);
        if (n >= expected && got == data) return index;
        Tick();
      }
    } else {
      Tick();
      ++ticks;
    }
  }
  return std::nullopt;
}

std::vector<ReadState> Cluster::TakeReadStates(uint64_t id) {
  return std::move(nodes_.at(id)->read_states);
}

void Cluster::Violation(std::string what) {
  Trace(absl::StrCat("VIOLATION ", what));
  violations_.push_back(std::move(what));
}

void Cluster::Trace(const std::string& line) {
  if (trace_) trace_(absl::StrCat("t=", now_, " ", line));
}

}  // namespace rangedb::raft::sim
