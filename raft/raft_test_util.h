// Helpers for unit tests that drive Raft objects directly, etcd-raft style: a node
// is a Raft over a MemoryStorage, and a tiny network passes messages between nodes
// until none are left (entries stay unstable in memory, which raft serves itself, and
// leaders count them as durable: Config::testing_ack_own_entries_on_append).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/raft.h"
#include "raft/rand.h"

namespace rangedb::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Raft> raft;
};

// For a Raft driven directly: nothing is ever persisted (entries stay unstable, the
// node's memory is its disk), so the leader counts its own entries on append.
inline Config TestConfig(uint64_t id, MemoryStorage* s, int election = 10, int heartbeat = 1) {
  Config c;
  c.id = id;
  c.election_ticks = election;
  c.heartbeat_ticks = heartbeat;
  c.storage = s;
  c.check_quorum = false;
  c.pre_vote = false;
  c.max_inflight_msgs = 256;
  c.testing_ack_own_entries_on_append = true;
  return c;
}

// For a RawNode, whose owner persists each Ready and reports it with Advance().
inline Config RawNodeTestConfig(uint64_t id, MemoryStorage* s, int election = 10,
                                int heartbeat = 1) {
  Config c = TestConfig(id, s, election, heartbeat);
  c.testing_ack_own_entries_on_append = false;
  return c;
}

inline raftpb::ConfState Voters(std::initializer_list<uint64_t> ids) {
  raftpb::ConfState cs;
  for (uint64_t id : ids) cs.add_voters(id);
  return cs;
}

// A Raft with the given voters; `modify` may adjust the config first.
template <typename F>
TestNode NewNode(uint64_t id, std::initializer_list<uint64_t> voters, F modify) {
  TestNode n;
  n.storage = std::make_unique<MemoryStorage>();
  n.storage->SetInitialConfState(Voters(voters));
  Config c = TestConfig(id, n.storage.get());
  modify(c);
  n.raft = Raft::Create(c).value();
  return n;
}
inline TestNode NewNode(uint64_t id, std::initializer_list<uint64_t> voters) {
  return NewNode(id, voters, [](Config&) {});
}

inline raftpb::Message Msg(uint64_t from, uint64_t to, raftpb::MessageType t, uint64_t term = 0) {
  raftpb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_type(t);
  m.set_term(term);
  return m;
}

inline raftpb::Entry Ent(uint64_t index, uint64_t term, std::string data = "") {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

// A network of Raft nodes: Send() delivers messages (and their consequences) until
// none are left; links can be cut and message types ignored.
class Network {
 public:
  explicit Network(std::vector<TestNode> nodes) {
    for (TestNode& n : nodes) {
      const uint64_t id = n.raft->id();
      nodes_[id] = std::move(n);
    }
  }
  Raft& raft(uint64_t id) { return *nodes_.at(id).raft; }
  MemoryStorage& storage(uint64_t id) { return *nodes_.at(id).storage; }

  void Send(raftpb::Message m) {
    std::vector<raftpb::Message> queue{std::move(m)};
    for (size_t i = 0; i < queue.size() && i < 100000; ++i) {
      raftpb::Message msg = queue[i];
      if (cut_.count({msg.from(), msg.to()}) || ignored_.count(msg.type())) continue;
      auto it = nodes_.find(msg.to());
      if (it == nodes_.end() || !it->second.raft) continue;
      (void)it->second.raft->Step(msg);
      for (raftpb::Message& out : it->second.raft->TakeMessages()) queue.push_back(out);
    }
  }
  void Hup(uint64_t id) { Send(Msg(id, id, raftpb::MSG_HUP)); }
  void Propose(uint64_t id, std::string data) {
    raftpb::Message m = Msg(id, id, raftpb::MSG_PROP);
    m.add_entries()->set_data(std::move(data));
    Send(std::move(m));
  }
  void Cut(uint64_t a, uint64_t b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Isolate(uint64_t id) {
    for (auto& [other, n] : nodes_) {
      if (other != id) Cut(id, other);
    }
  }
  void Recover() {
    cut_.clear();
    ignored_.clear();
  }
  void Ignore(raftpb::MessageType t) { ignored_.insert(t); }

 private:
  std::map<uint64_t, TestNode> nodes_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::set<int> ignored_;
};

}  // namespace rangedb::raft::testing
