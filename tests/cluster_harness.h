// A cluster of real `rangedb` node processes on loopback, for integration and chaos
// tests (docs/testing.md): start, init, readiness, node ids, and faults — kill, stop,
// restart, terminate, clock offsets and network partitions.
//
// Layout: a fresh base directory under $TMPDIR (or /tmp) holds node<i>/ (node i's
// store) and node<i>.log (its stdout and stderr, appended across restarts). The
// directory is removed by the destructor unless RANGEDB_KEEP_TEST_DIRS=1. If the
// current GoogleTest test has failed, the destructor prints the log paths and the tail
// of each log first.
//
// Every node runs
//   rangedb start --store=DIR --listen-addr=127.0.0.1:PORT --http-addr=127.0.0.1:HPORT
//     --join=<every node's address> --testing-faults [--testing-clock-offset-ms=N]
//     [flags...]
// Ports are picked once per node and kept across restarts.
//
// Partitions go through the Testing.SetPartition RPC (proto/node.proto), which each
// node applies to its own traffic. Every rule is installed at both ends (the sender
// drops outbound, the receiver drops inbound), so a partition keeps holding while one
// end restarts (a restarted node comes up healed; ReapplyPartition() re-sends). Nodes
// that are down or stopped are skipped when a partition is sent.
//
// Lifetime: the destructor SIGKILLs every node still running; each node also dies
// with the thread that started it (PR_SET_PDEATHSIG, see tests/process.h), so use a
// harness from one thread, the one that created it.
//
// Thread safety: not thread-safe; one thread drives a harness.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/node.grpc.pb.h"
#include "tests/process.h"

namespace rangedb::harness {

// Options applied at every (re)start of one node.
struct NodeOptions {
  int64_t clock_offset_ms = 0;  // --testing-clock-offset-ms, if non-zero
  std::vector<std::string> extra_flags;
};

struct ClusterOptions {
  int num_nodes = 3;
  std::vector<std::string> split_keys;              // `rangedb init --split-at=...`
  std::vector<std::string> extra_flags;             // for every node, before its own extra_flags
  std::string binary;                               // empty: the rangedb built with the tests
  absl::Duration rpc_timeout = absl::Seconds(5);    // deadline of every RPC
  absl::Duration init_timeout = absl::Seconds(20);  // retrying `rangedb init`
};

class ClusterHarness {
 public:
  // Creates the base directory and picks every node's ports. Starts nothing.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterHarness>> Create(
      ClusterOptions options);

  ClusterHarness(const ClusterHarness&) = delete;
  ClusterHarness& operator=(const ClusterHarness&) = delete;
  // Kills every node still running, then removes the base directory (see top).
  ~ClusterHarness();

  // StartAll, Init, WaitAllReady and LoadNodeIds: a running, initialized cluster.
  [[nodiscard]] absl::Status StartCluster(absl::Duration ready_timeout = absl::Seconds(30));

  // Starts every node not running. REQUIRES: none is stopped.
  [[nodiscard]] absl::Status StartAll();
  // Runs `rangedb init --host=<node 0>` once, retrying while the node is not listening
  // yet, up to options.init_timeout.
  [[nodiscard]] absl::Status Init();
  // The command line of `rangedb init --host=<node i>` (with the split keys). Const:
  // tests may run it from several threads at once (RunCommand) to race inits.
  std::vector<std::string> InitArgs(int i) const;
  // Polls GET /health?ready=1 on node i until 200, or DeadlineExceeded.
  [[nodiscard]] absl::Status WaitReady(int i, absl::Duration timeout);
  [[nodiscard]] absl::Status WaitAllReady(absl::Duration timeout);
  // Asks every node for its node_id (NodeStatus) until all are non-zero, and caches
  // them for the partition helpers.
  [[nodiscard]] absl::Status LoadNodeIds(absl::Duration timeout = absl::Seconds(10));

  // Process faults. Each fails with the node and command in the message.
  [[nodiscard]] absl::Status Start(int i);    // REQUIRES: node i not running
  [[nodiscard]] absl::Status Kill(int i);     // SIGKILL + wait; OK if already down
  [[nodiscard]] absl::Status Stop(int i);     // SIGSTOP
  [[nodiscard]] absl::Status Cont(int i);     // SIGCONT
  [[nodiscard]] absl::Status Restart(int i);  // Kill if running, then Start
  // Deletes node i's store directory: a replaced disk. REQUIRES: node i not running.
  [[nodiscard]] absl::Status WipeStore(int i);
  // SIGTERM and wait up to `timeout`, then SIGKILL. Returns how the node ended.
  [[nodiscard]] absl::StatusOr<ExitInfo> Terminate(int i,
                                                   absl::Duration timeout = absl::Seconds(10));
  bool IsRunning(int i);
  bool IsStopped(int i) const { return nodes_[i].stopped; }

  // Per-node start options, used at the next (re)start.
  NodeOptions& node_options(int i) { return nodes_[i].options; }
  void SetClockOffset(int i, int64_t offset_ms) { nodes_[i].options.clock_offset_ms = offset_ms; }

  // RPCs, each with options.rpc_timeout as deadline.
  [[nodiscard]] absl::StatusOr<nodepb::NodeStatusResponse> NodeStatus(int i);
  // Node i's cached id. REQUIRES: LoadNodeIds succeeded.
  uint64_t node_id(int i) const { return nodes_[i].node_id; }
  // Testing.SetClockOffset: node i's clock becomes the system clock + offset_ms now,
  // without a restart (the next restart uses node_options(i).clock_offset_ms again).
  [[nodiscard]] absl::Status SetClockOffsetNow(int i, int64_t offset_ms);
  // Testing.RefuseBootstraps: node i refuses the next `count` Bootstrap RPCs.
  [[nodiscard]] absl::Status RefuseBootstraps(int i, int count);

  // Partitions. PartitionSymmetric and Ring replace the current partition;
  // PartitionOneWay adds one direction to it.
  // Nodes in different groups cannot talk; a node in no group is cut off from all.
  [[nodiscard]] absl::Status PartitionSymmetric(const std::vector<std::vector<int>>& groups);
  // Messages from `from` to `to` are dropped (the other direction still flows).
  [[nodiscard]] absl::Status PartitionOneWay(int from, int to);
  // Node i talks only to nodes i-1 and i+1 (mod n).
  [[nodiscard]] absl::Status Ring();
  [[nodiscard]] absl::Status Heal();
  // Re-sends the current partition to every running node (e.g. after a restart).
  [[nodiscard]] absl::Status ReapplyPartition();

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const std::string& base_dir() const { return base_dir_; }
  const std::string& binary() const { return options_.binary; }  // the rangedb in use
  std::string address(int i) const;                              // "127.0.0.1:PORT" (gRPC)
  std::string http_address(int i) const;                         // "127.0.0.1:HPORT"
  std::vector<std::string> addresses() const;
  std::string store_dir(int i) const;
  std::string log_path(int i) const;
  // Writes every log path and the last `tail_lines` lines of each log.
  void DumpLogs(std::ostream& out, int tail_lines = 40) const;

 private:
  struct Node {
    int port = 0;
    int http_port = 0;
    NodeOptions options;
    std::unique_ptr<Process> process;  // null when never started or reaped
    bool stopped = false;
    uint64_t node_id = 0;  // 0 until LoadNodeIds
    std::shared_ptr<grpc::Channel> channel;
    std::set<int> drop_inbound_from;  // node indexes, the current partition
    std::set<int> drop_outbound_to;
  };

  ClusterHarness(ClusterOptions options, std::string base_dir);
  std::vector<std::string> StartArgs(int i) const;
  grpc::Channel& ChannelTo(int i);
  [[nodiscard]] absl::Status SendPartition(int i);
  void ClearPartition();
  [[nodiscard]] absl::Status CheckIndex(int i, const char* what) const;

  ClusterOptions options_;
  std::string base_dir_;
  std::vector<Node> nodes_;
};

// ---- Utilities, exposed for tests of the harness itself ----

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and read back).
// Ports in `exclude` are skipped, so one harness never picks a port twice.
[[nodiscard]] absl::StatusOr<int> PickFreePort(const std::set<int>& exclude = {});

struct HttpResponse {
  int status_code = 0;
  std::string body;
};
// A blocking HTTP/1.0 GET of http://<host_port><path>, the whole exchange bounded by
// `timeout`. host_port is "IPv4:port". Unavailable if it cannot connect,
// DeadlineExceeded on timeout, Internal on a malformed response; bodies above 1 MiB are
// an error.
[[nodiscard]] absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port,
                                                   const std::string& path, absl::Duration timeout);

}  // namespace rangedb::harness
