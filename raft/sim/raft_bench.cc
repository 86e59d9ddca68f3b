// raft_bench: throughput of the Raft library alone. A 3-node group in memory: no I/O,
// messages handed over in-process, MemoryStorage as "disk". The leader proposes
// batches of entries; the run reports how many entries per second become committed
// and applied on every node. Last line: "entries/s=X".
//
// Usage: raft_bench [--entries=N] [--batch=B] [--payload=BYTES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/rawnode.h"

namespace {

using rangedb::raft::Config;
using rangedb::raft::MemoryStorage;
using rangedb::raft::RawNode;
using rangedb::raft::Ready;
namespace raftpb = rangedb::raftpb;

struct Node {
  MemoryStorage storage;
  std::unique_ptr<RawNode> raw;
  uint64_t applied = 0;
  uint64_t applied_entries = 0;
};

long Flag(int argc, char** argv, const char* name, long def) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) return std::atol(argv[i] + prefix.size());
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const long total = Flag(argc, argv, "entries", 2'000'000);
  const long batch = Flag(argc, argv, "batch", 256);
  const long payload = Flag(argc, argv, "payload", 16);

  std::vector<std::unique_ptr<Node>> nodes;
  raftpb::ConfState cs;
  for (uint64_t id = 1; id <= 3; ++id) cs.add_voters(id);
  for (uint64_t id = 1; id <= 3; ++id) {
    auto n = std::make_unique<Node>();
    n->storage.SetInitialConfState(cs);
    Config c;
    c.id = id;
    c.storage = &n->storage;
    c.max_inflight_msgs = 256;
    c.max_msg_bytes = 1 << 20;
    n->raw = RawNode::Create(c).value();
    nodes.push_back(std::move(n));
  }
  std::deque<raftpb::Message> net;
  // Handles every Ready (persist, send, apply, advance) and delivers messages until
  // the group is quiet.
  auto settle = [&] {
    bool busy = true;
    while (busy) {
      busy = false;
      for (auto& n : nodes) {
        while (n->raw->HasReady()) {
          busy = true;
          Ready rd = n->raw->GetReady();
          // The "disk" takes the entries over, as a real owner's write batch would.
          n->storage.Append(std::move(rd.entries));
          if (rd.hard_state) n->storage.SetHardState(*rd.hard_state);
          for (raftpb::Message& m : rd.messages) net.push_back(std::move(m));
          for (const raftpb::Entry& e : rd.committed_entries) {
            if (!e.data().empty()) ++n->applied_entries;
            n->applied = e.index();
          }
          n->raw->Advance();
          // Keep memory bounded: compact what is applied.
          if (n->applied > 10000 && n->applied - 10000 > *n->storage.FirstIndex()) {
            (void)n->storage.Compact(n->applied - 5000);
          }
        }
      }
      while (!net.empty()) {
        busy = true;
        raftpb::Message m = std::move(net.front());
        net.pop_front();
        (void)nodes[m.to() - 1]->raw->Step(std::move(m));
      }
    }
  };
  (void)nodes[0]->raw->Campaign();
  settle();

  const std::string data(static_cast<size_t>(payload), 'x');
  raftpb::Message prop;
  prop.set_from(1);
  prop.set_type(raftpb::MSG_PROP);
  for (long i = 0; i < batch; ++i) prop.add_entries()->set_data(data);

  const auto start = std::chrono::steady_clock::now();
  long proposed = 0;
  while (proposed < total) {
    if (!nodes[0]->raw->raft().Step(prop).ok()) {
      std::fprintf(stderr, "proposal dropped\n");
      return 1;
    }
    proposed += batch;
    settle();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t min_applied = UINT64_MAX;
  for (auto& n : nodes) min_applied = std::min(min_applied, n->applied_entries);
  std::printf("nodes=3 batch=%ld payload=%ldB entries=%ld applied_on_all=%llu seconds=%.3f\n",
              batch, payload, proposed, static_cast<unsigned long long>(min_applied), secs);
  std::printf("entries/s=%.0f\n", static_cast<double>(min_applied) / secs);
  return min_applied == static_cast<uint64_t>(proposed) ? 0 : 1;
}
