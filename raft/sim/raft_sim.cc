// raft_sim: deterministic simulation of one Raft group under a hostile environment.
//
// For every seed, a 3..7-node group runs `--steps` random steps drawn from the seed:
// ticks, client proposals, message drop / duplication / delay (reordering),
// symmetric and asymmetric partitions, crashes and restarts (losing everything not
// persisted), membership changes (add learner, promote, remove, demote, joint
// changes with automatic or explicit leave), snapshots with log compaction, and
// leadership transfers. The cluster's checkers (raft/sim/cluster.h) verify after
// every input: election safety, log matching, leader completeness, state machine
// safety, and exactly-once, same-order apply of commands. When the steps are done,
// faults stop; within a bounded number of ticks a leader must be elected and a new
// proposal must commit on every member (liveness), and every acknowledged proposal
// must be applied on every member.
//
// Half of the seeds (chosen by the seed) run with leaders that send their appends
// before they persist them and persist later, even a tick later (ClusterOptions::
// early_send = kLeaderAppends), as ranges/ does.
//
// Usage: raft_sim [--seeds=N] [--start-seed=S] [--steps=K] [--nodes=N]
//                 [--inject=commit-old-term|send-all-early] [--trace]
// Exit status 0 and a last line "seeds=N violations=0" when every seed passes; on a
// violation, a non-zero exit with the seed and a replay command.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "raft/sim/cluster.h"

namespace rangedb::raft::sim {
namespace {

struct Flags {
  uint64_t seeds = 1000;
  uint64_t start_seed = 1;
  int steps = 300;
  int nodes = 0;  // 0: random 3..7 per seed
  bool inject_commit_old_term = false;
  // Every node sends every message before it persists (votes, acknowledgements):
  // breaks the durability contract.
  bool inject_send_all_early = false;
  bool trace = false;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name, std::string* out) {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (a.rfind(prefix, 0) != 0) return false;
      *out = a.substr(prefix.size());
      return true;
    };
    std::string v;
    if (value("seeds", &v)) {
      f->seeds = std::strtoull(v.c_str(), nullptr, 10);
    } else if (value("start-seed", &v)) {
      f->start_seed = std::strtoull(v.c_str(), nullptr, 10);
    } else if (value("steps", &v)) {
      f->steps = std::atoi(v.c_str());
    } else if (value("nodes", &v)) {
      f->nodes = std::atoi(v.c_str());
      if (f->nodes < 1 || f->nodes > 9) {
        std::fprintf(stderr, "--nodes must be in [1, 9]\n");
        return false;
      }
    } else if (value("inject", &v)) {
      if (v == "commit-old-term") {
        f->inject_commit_old_term = true;
      } else if (v == "send-all-early") {
        f->inject_send_all_early = true;
      } else {
        std::fprintf(stderr, "unknown --inject=%s (known: commit-old-term, send-all-early)\n",
                     v.c_str());
        return false;
      }
    } else if (a == "--trace") {
      f->trace = true;
    } else {
      std::fprintf(stderr,
                   "usage: raft_sim [--seeds=N] [--start-seed=S] [--steps=K] [--nodes=N] "
                   "[--inject=commit-old-term|send-all-early] [--trace]\n");
      return false;
    }
  }
  return true;
}

raftpb::ConfChangeSingle Single(raftpb::ConfChangeType t, uint64_t id) {
  raftpb::ConfChangeSingle s;
  s.set_type(t);
  s.set_node_id(id);
  return s;
}

class SeedRun {
 public:
  SeedRun(const Flags& flags, uint64_t seed) : flags_(flags), seed_(seed), rng_(seed) {}

  // Returns the violations found (empty = pass).
  std::vector<std::string> Run() {
    const int n = flags_.nodes > 0 ? flags_.nodes : 3 + static_cast<int>(rng_.Uniform(5));
    ClusterOptions o;
    o.election_ticks = 10;
    o.heartbeat_ticks = 1 + static_cast<int>(rng_.Uniform(3));
    o.pre_vote = rng_.Chance(0.8);
    o.check_quorum = true;
    o.max_inflight_msgs = 1 + static_cast<int>(rng_.Uniform(32));
    // Tiny messages carry one entry each, which opens the windows between an old
    // entry and the new leader's first entry reaching a follower.
    o.max_msg_bytes = rng_.Chance(0.4) ? 1 : (1 << 20);
    o.snapshot_every = rng_.Chance(0.3) ? 0 : 3 + rng_.Uniform(20);
    o.compact_keep = rng_.Uniform(5);
    o.unsafe_commit_old_term = flags_.inject_commit_old_term;
    // From its own generator, so the other choices of a seed are the same either way.
    if (flags_.inject_send_all_early) {
      o.early_send = ClusterOptions::EarlySend::kAll;
    } else if (SplitMix64(seed_ ^ 0x5e4db3f0).Chance(0.5)) {
      o.early_send = ClusterOptions::EarlySend::kLeaderAppends;
    }
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(static_cast<uint64_t>(i));
    next_id_ = static_cast<uint64_t>(n) + 1;
    max_nodes_ = static_cast<uint64_t>(n) + 3;
    c_ = std::make_unique<Cluster>(ids, o, rng_.Next());
    if (flags_.trace) {
      c_->set_trace([](const std::string& l) { std::printf("%s\n", l.c_str()); });
      Trace(absl::StrCat("seed=", seed_, " nodes=", n, " heartbeat=", o.heartbeat_ticks,
                         " pre_vote=", o.pre_vote, " inflight=", o.max_inflight_msgs,
                         " msg_bytes=", o.max_msg_bytes, " snapshot_every=", o.snapshot_every,
                         " keep=", o.compact_keep, " early_send=", static_cast<int>(o.early_send)));
    }
    RandomNetwork();
    // A third of the seeds run the "Figure 8" profile: leaders crash soon after
    // taking proposals, on a slow network, which produces the competing uncommitted
    // suffixes of Figure 8 in the Raft paper.
    figure8_ = rng_.Chance(0.35);
    if (figure8_) {
      Trace("profile figure8");
      c_->SetNetwork({.drop = 0.05, .duplicate = 0.02, .max_delay_ticks = 3});
    }
    for (int step = 0; step < flags_.steps && c_->violations().empty(); ++step) {
      if (figure8_) {
        Figure8Step();
      } else {
        Step();
      }
    }
    if (c_->violations().empty()) CheckLiveness();
    return c_->violations();
  }

 private:
  void Trace(const std::string& l) {
    if (flags_.trace)
      std::printf("t=%llu %s\n", static_cast<unsigned long long>(c_->now()), l.c_str());
  }

  uint64_t RandomNode() {
    std::vector<uint64_t> ids = c_->Ids();
    return ids[rng_.Uniform(ids.size())];
  }

  void Step() {
    const uint64_t r = rng_.Uniform(100);
    if (r < 25) {
      c_->RunTicks(1 + static_cast<int>(rng_.Uniform(3)));
    } else if (r < 50) {
      Propose();
    } else if (r < 55) {
      const uint64_t id = RandomNode();
      if (c_->IsUp(id)) c_->Crash(id);
    } else if (r < 60) {
      // Leaders crash often: the interesting histories (Figure 8) need it.
      if (std::optional<uint64_t> l = c_->Leader()) c_->Crash(*l);
    } else if (r < 70) {
      const uint64_t id = RandomNode();
      if (!c_->IsUp(id)) c_->Restart(id);
    } else if (r < 74) {
      std::vector<uint64_t> a, b;
      for (uint64_t id : c_->Ids()) (rng_.Chance(0.5) ? a : b).push_back(id);
      Trace(absl::StrCat("partition ", a.size(), "/", b.size()));
      c_->Partition({a, b});
    } else if (r < 77) {
      const uint64_t from = RandomNode(), to = RandomNode();
      Trace(absl::StrCat("cut n", from, "->n", to));
      c_->Cut(from, to);
    } else if (r < 82) {
      Trace("heal");
      c_->Heal();
    } else if (r < 86) {
      RandomNetwork();
    } else if (r < 91) {
      ChangeMembership();
    } else if (r < 94) {
      std::optional<uint64_t> l = c_->Leader();
      if (l) {
        const uint64_t to = RandomNode();
        Trace(absl::StrCat("transfer n", *l, "->n", to));
        c_->raw(*l).TransferLeader(to);
      }
    } else {
      c_->RunTicks(5 + static_cast<int>(rng_.Uniform(20)));
    }
  }

  void Figure8Step() {
    const uint64_t r = rng_.Uniform(100);
    if (r < 40) {
      if (std::optional<uint64_t> l = c_->Leader()) {
        const std::string cmd = absl::StrCat("c", next_cmd_++);
        absl::Status s = c_->Propose(*l, cmd);
        Trace(absl::StrCat("propose ", cmd, " at n", *l, s.ok() ? "" : " (dropped)"));
      }
    } else if (r < 75) {
      c_->RunTicks(rng_.Chance(0.1) ? 5 + static_cast<int>(rng_.Uniform(20))
                                    : 1 + static_cast<int>(rng_.Uniform(2)));
    } else if (r < 90) {
      if (std::optional<uint64_t> l = c_->Leader()) c_->Crash(*l);
    } else {
      // Keep a majority up, restarting a random crashed node.
      std::vector<uint64_t> down;
      for (uint64_t id : c_->Ids()) {
        if (!c_->IsUp(id)) down.push_back(id);
      }
      if (!down.empty()) c_->Restart(down[rng_.Uniform(down.size())]);
    }
    const size_t n = c_->Ids().size();
    while (c_->UpIds().size() < n / 2 + 1) {
      std::vector<uint64_t> down;
      for (uint64_t id : c_->Ids()) {
        if (!c_->IsUp(id)) down.push_back(id);
      }
      c_->Restart(down[rng_.Uniform(down.size())]);
    }
  }

  void RandomNetwork() {
    NetworkOptions net;
    if (rng_.Chance(0.6)) {
      net.drop = static_cast<double>(rng_.Uniform(20)) / 100;
      net.duplicate = static_cast<double>(rng_.Uniform(10)) / 100;
      net.max_delay_ticks = static_cast<int>(rng_.Uniform(6));
    }
    Trace(absl::StrCat("network drop=", net.drop, " dup=", net.duplicate,
                       " delay<=", net.max_delay_ticks));
    c_->SetNetwork(net);
  }

  void Propose() {
    std::vector<uint64_t> up = c_->UpIds();
    if (up.empty()) return;
    uint64_t id = up[rng_.Uniform(up.size())];
    if (std::optional<uint64_t> l = c_->Leader(); l && rng_.Chance(0.7)) id = *l;
    const std::string cmd = absl::StrCat("c", next_cmd_++);
    absl::Status s = c_->Propose(id, cmd);
    Trace(absl::StrCat("propose ", cmd, " at n", id, s.ok() ? "" : " (dropped)"));
  }

  void ChangeMembership() {
    std::optional<uint64_t> l = c_->Leader();
    if (!l) return;
    const raftpb::ConfState cs = c_->conf_state(*l);
    raftpb::ConfChange cc;
    const uint64_t r = rng_.Uniform(100);
    std::string what;
    if (cs.voters_outgoing_size() > 0) {
      // Joint: leave it (needed when entered with an explicit transition).
      what = "leave-joint";
    } else if (r < 30 && next_id_ <= max_nodes_) {
      const uint64_t id = next_id_++;
      c_->AddNode(id);
      *cc.add_changes() = Single(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, id);
      what = absl::StrCat("add-learner n", id);
    } else if (r < 55 && cs.learners_size() > 0) {
      const uint64_t id = cs.learners(static_cast<int>(rng_.Uniform(cs.learners_size())));
      *cc.add_changes() = Single(raftpb::CONF_CHANGE_ADD_NODE, id);
      what = absl::StrCat("promote n", id);
    } else if (r < 70 && cs.voters_size() > 2) {
      const uint64_t id = cs.voters(static_cast<int>(rng_.Uniform(cs.voters_size())));
      const bool demote = rng_.Chance(0.3);
      *cc.add_changes() = Single(
          demote ? raftpb::CONF_CHANGE_ADD_LEARNER_NODE : raftpb::CONF_CHANGE_REMOVE_NODE, id);
      what = absl::StrCat(demote ? "demote n" : "remove n", id);
    } else if (cs.voters_size() > 2 && cs.learners_size() > 0) {
      // Swap a voter for a learner through joint consensus.
      const uint64_t in = cs.learners(static_cast<int>(rng_.Uniform(cs.learners_size())));
      const uint64_t out = cs.voters(static_cast<int>(rng_.Uniform(cs.voters_size())));
      *cc.add_changes() = Single(raftpb::CONF_CHANGE_ADD_NODE, in);
      *cc.add_changes() = Single(raftpb::CONF_CHANGE_REMOVE_NODE, out);
      const bool explicit_leave = rng_.Chance(0.5);
      if (explicit_leave) cc.set_transition(raftpb::CONF_CHANGE_TRANSITION_JOINT_EXPLICIT);
      what = absl::StrCat("joint +n", in, " -n", out, explicit_leave ? " explicit" : " auto");
    } else {
      return;
    }
    absl::Status s = c_->ProposeConfChange(*l, cc);
    Trace(absl::StrCat("conf-change ", what, " at n", *l, s.ok() ? "" : " (dropped)"));
  }

  // Faults stop: every node restarts, the network heals. A leader must appear and a
  // new command must commit on every member within a bound, and every acknowledged
  // command must be applied everywhere.
  void CheckLiveness() {
    Trace("faults stop");
    c_->SetNetwork({});
    c_->Heal();
    for (uint64_t id : c_->Ids()) c_->Restart(id);
    const int kMaxTicks = 3000;
    const int start = static_cast<int>(c_->now());
    bool ok = c_->RunUntil(
        [&] {
          std::optional<uint64_t> l = c_->Leader();
          return l && c_->conf_state(*l).voters_outgoing_size() == 0;
        },
        kMaxTicks);
    if (!ok) {
      // An explicit joint config stays until someone leaves it: do so.
      if (std::optional<uint64_t> l = c_->Leader()) {
        (void)c_->ProposeConfChange(*l, raftpb::ConfChange());
        ok = c_->RunUntil(
            [&] {
              std::optional<uint64_t> l2 = c_->Leader();
              return l2 && c_->conf_state(*l2).voters_outgoing_size() == 0;
            },
            kMaxTicks);
      }
    }
    std::vector<uint64_t> members;
    auto current_members = [&] {
      members.clear();
      std::optional<uint64_t> l = c_->Leader();
      if (!l) return false;
      const raftpb::ConfState& cs = c_->conf_state(*l);
      members.assign(cs.voters().begin(), cs.voters().end());
      members.insert(members.end(), cs.learners().begin(), cs.learners().end());
      return true;
    };
    if (ok) ok = c_->One("final", 1, kMaxTicks).has_value();
    if (ok) {
      // Every member of the (then) current configuration applies it.
      ok = c_->RunUntil(
          [&] {
            if (!current_members()) return false;
            for (uint64_t id : members) {
              if (!c_->IsUp(id) || !c_->state_machine(id).seen.count("final")) return false;
            }
            return true;
          },
          kMaxTicks);
    }
    if (!ok) {
      for (uint64_t id : c_->Ids()) {
        if (!c_->IsUp(id)) continue;
        const Status st = c_->raw(id).GetStatus();
        std::string prs;
        for (const auto& [pid, pr] : st.progress) {
          absl::StrAppend(&prs, " [n", pid, " ", pr.DebugString(), "]");
        }
        Trace(absl::StrCat("n", id, " ", StateTypeName(st.soft_state.raft_state),
                           " term=", st.hard_state.term(), " lead=", st.soft_state.lead,
                           " commit=", st.hard_state.commit(), " applied=", st.applied,
                           " last=", c_->raw(id).raft().log().LastIndex(),
                           " config=", st.config.DebugString(), prs));
      }
      extra_.push_back(absl::StrCat("liveness: no commit within ", kMaxTicks,
                                    " ticks after faults stopped (at tick ", start, ")"));
      return;
    }
    for (uint64_t id : members) {
      for (const std::string& cmd : c_->acked()) {
        if (!c_->state_machine(id).seen.count(cmd)) {
          extra_.push_back(absl::StrCat("acknowledged command ", cmd, " missing on n", id));
          return;
        }
      }
    }
    Trace(absl::StrCat("ok: ", c_->acked().size(), " acknowledged commands, last index ",
                       c_->max_applied_index()));
  }

 public:
  std::vector<std::string> extra_;

 private:
  const Flags& flags_;
  uint64_t seed_;
  SplitMix64 rng_;
  std::unique_ptr<Cluster> c_;
  uint64_t next_id_ = 0;
  uint64_t max_nodes_ = 0;
  uint64_t next_cmd_ = 0;
  bool figure8_ = false;
};

std::string ReplayCommand(const Flags& f, uint64_t seed) {
  std::string cmd =
      absl::StrCat("build/bin/raft_sim --seeds=1 --start-seed=", seed, " --steps=", f.steps);
  if (f.nodes > 0) absl::StrAppend(&cmd, " --nodes=", f.nodes);
  if (f.inject_commit_old_term) absl::StrAppend(&cmd, " --inject=commit-old-term");
  if (f.inject_send_all_early) absl::StrAppend(&cmd, " --inject=send-all-early");
  absl::StrAppend(&cmd, " --trace");
  return cmd;
}

}  // namespace
}  // namespace rangedb::raft::sim

int main(int argc, char** argv) {
  using namespace rangedb::raft::sim;
  Flags f;
  if (!ParseFlags(argc, argv, &f)) return 2;
  uint64_t failed = 0;
  for (uint64_t seed = f.start_seed; seed < f.start_seed + f.seeds; ++seed) {
    SeedRun run(f, seed);
    std::vector<std::string> v = run.Run();
    v.insert(v.end(), run.extra_.begin(), run.extra_.end());
    if (v.empty()) continue;
    ++failed;
    std::printf("seed=%llu violation: %s\n", static_cast<unsigned long long>(seed), v[0].c_str());
    std::printf("replay: %s\n", ReplayCommand(f, seed).c_str());
    std::fflush(stdout);
    if (failed >= 5) {
      ++seed;
      std::printf("stopping after %llu failing seeds\n", static_cast<unsigned long long>(failed));
      std::printf("seeds=%llu violations=%llu\n",
                  static_cast<unsigned long long>(seed - f.start_seed),
                  static_cast<unsigned long long>(failed));
      return 1;
    }
  }
  std::printf("seeds=%llu violations=%llu\n", static_cast<unsigned long long>(f.seeds),
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}
