// `rangedb init` and `rangedb node status`: administering a cluster from outside, over
// the Admin gRPC service of a node (docs/node.md). `rangedb start`, which runs a
// node, is in cli_start.cc.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/command.h"
#include "client/cli/connection_flags.h"
#include "grpcpp/grpcpp.h"
#include "proto/node.grpc.pb.h"

namespace rangedb {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    out.emplace_back(part.data(), part.size());
  }
  return out;
}

// The init's budget: the node pings its peers (5 s) and claims them (2 s each) first.
constexpr char kInitTimeout[] = "30s";

int RunInit(const ConnectionFlags& flags, const std::string& split_at, std::ostream& out,
            std::ostream& err) {
  absl::StatusOr<Connection> connection = ParseConnectionFlags(flags);
  if (!connection.ok()) {
    err << "rangedb init: " << connection.status().message() << "\n";
    return kExitUsage;
  }
  if (connection->hosts.size() != 1) {
    err << "rangedb init: give one --host: the node that creates the cluster (its --join "
           "list names the others)\n";
    return kExitUsage;
  }
  const std::string& host = connection->hosts.front();
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(host, connection->ChannelCredentials());
  auto stub = nodepb::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + connection->timeout));
  nodepb::InitRequest req;
  for (const std::string& k : SplitList(split_at)) req.add_split_keys(k);
  nodepb::InitResponse resp;
  grpc::Status st = stub->Init(&ctx, req, &resp);
  if (!st.ok()) {
    // gRPC says UNAVAILABLE both when the host cannot be reached and when the node
    // itself answers with that code; only a channel that never connected means the
    // host is unreachable. A node that answered and refused (too few --join peers, a
    // concurrent init, ...) gets its own reason printed, not "cannot reach".
    const bool connected = channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
    const bool transport = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (transport && !connected) {
      err << "rangedb init: cannot reach " << host << " (unavailable): " << st.error_message()
          << "\n";
    } else if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      err << "rangedb init: " << host << " did not finish the init within "
          << absl::FormatDuration(connection->timeout) << " (" << st.error_message()
          << "); it may still complete: run `rangedb init` again to see its outcome\n";
    } else {
      err << "rangedb init: " << st.error_message() << "\n";
    }
    return kExitFailure;
  }
  out << "cluster " << resp.cluster_id()
      << (resp.already_initialized() ? " was already initialized: " : " initialized: ")
      << resp.nodes_size() << " nodes, " << resp.ranges_size() << " ranges\n";
  for (const std::string& pending : resp.pending()) {
    out << "  not confirmed yet: " << pending << "\n";
  }
  if (resp.pending_size() > 0) {
    out << "  (such a node gets its identity when it asks its --join peers, or run "
           "`rangedb init` again)\n";
  }
  return kExitOk;
}

std::string PrettyKey(const std::string& key) {
  if (key.empty()) return "/Min";
  if (key == "\xff\xff") return "/Max";
  return absl::CHexEscape(key);
}

std::string Uptime(int64_t seconds) {
  if (seconds <= 0) return "-";
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrCat(seconds / 60, "m", seconds % 60, "s");
  return absl::StrCat(seconds / 3600, "h", (seconds % 3600) / 60, "m");
}

// 1536 -> "1.5KiB": an estimate, so one decimal is all it is worth.
std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, "B");
  double v = static_cast<double>(bytes) / 1024;
  for (const char* unit : {"KiB", "MiB", "GiB"}) {
    if (v < 1024) return absl::StrFormat("%.1f%s", v, unit);
    v /= 1024;
  }
  return absl::StrFormat("%.1fTiB", v);
}

int RunNodeStatus(const ConnectionFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection = ParseConnectionFlags(flags);
  if (!connection.ok()) {
    err << "rangedb node status: " << connection.status().message() << "\n";
    return kExitUsage;
  }
  std::string last_error;
  for (const std::string& host : connection->hosts) {
    auto stub = nodepb::Admin::NewStub(grpc::CreateChannel(host, connection->ChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + connection->timeout));
    nodepb::NodeStatusRequest req;
    nodepb::NodeStatusResponse resp;
    grpc::Status st = stub->NodeStatus(&ctx, req, &resp);
    if (!st.ok()) {
      last_error = absl::StrCat(host, ": ", st.error_message());
      continue;
    }
    if (resp.cluster_id().empty()) {
      err << "rangedb node status: " << host
          << " has not joined a cluster yet (run `rangedb init --host=" << host << "`)\n";
      return kExitFailure;
    }
    out << "cluster " << resp.cluster_id() << " (as seen by node " << resp.node_id() << ")\n\n";
    out << std::left << std::setw(6) << "node" << std::setw(24) << "address" << std::setw(9)
        << "state" << std::setw(9) << "uptime"
        << "clock offset\n";
    std::vector<std::string> notes;
    for (const nodepb::NodeLiveness& n : resp.nodes()) {
      const std::string offset =
          n.node().node_id() == resp.node_id()
              ? "-"
              : (n.clock_offset_ns() == 0 && n.clock_offset_error_ns() == 0
                     ? "?"
                     : absl::StrCat(n.clock_offset_ns() >= 0 ? "+" : "",
                                    absl::FormatDuration(absl::Nanoseconds(n.clock_offset_ns()))));
      out << std::setw(6) << n.node().node_id() << std::setw(24) << n.node().address()
          << std::setw(9) << (n.stopped_reason().empty() ? n.state() : "STOPPED") << std::setw(9)
          << Uptime(n.uptime_seconds()) << offset << "\n";
      if (!n.stopped_reason().empty()) {
        notes.push_back(
            absl::StrCat("node ", n.node().node_id(), " stopped serving: ", n.stopped_reason()));
      }
    }
    for (const std::string& note : notes) out << note << "\n";
    out << "\n"
        << std::setw(7) << "range" << std::setw(28) << "span" << std::setw(26) << "replicas"
        << std::setw(8) << "leader" << std::setw(13) << "leaseholder" << std::setw(10) << "applied"
        << "size\n";
    for (const nodepb::RangeStatus& r : resp.ranges()) {
      const kvpb::RangeDescriptor& d = r.range_descriptor();
      std::string replicas;
      std::string leader = "-";
      for (const kvpb::ReplicaDescriptor& rd : d.replicas()) {
        const bool dead =
            std::find(r.dead_replica_node_ids().begin(), r.dead_replica_node_ids().end(),
                      rd.node_id()) != r.dead_replica_node_ids().end();
        absl::StrAppend(&replicas, replicas.empty() ? "" : ",", "n", rd.node_id(),
                        dead ? "(dead)" : "");
        if (rd.replica_id() == r.leader_replica_id()) leader = absl::StrCat("n", rd.node_id());
      }
      const std::string span =
          absl::StrCat("[", PrettyKey(d.start_key()), ", ", PrettyKey(d.end_key()), ")");
      out << std::setw(7) << d.range_id() << std::setw(28) << span << std::setw(26) << replicas
          << std::setw(8) << leader << std::setw(13)
          << (r.leaseholder_node_id() ? absl::StrCat("n", r.leaseholder_node_id()) : "-")
          << std::setw(10) << r.applied_index()
          << (r.has_approximate_size_bytes() ? HumanBytes(r.approximate_size_bytes()) : "-")
          << "\n";
    }
    for (const nodepb::CorruptReplica& c : resp.corrupt_replicas()) {
      out << "\nrange " << c.range_id() << " on n" << c.node_id()
          << ": replica out of service, its storage is corrupt: " << c.error() << "\n";
    }
    return kExitOk;
  }
  err << "rangedb node status: no host answered (" << last_error << ")\n";
  return kExitFailure;
}

CliRunner AddInitCommand(CLI::App& app, std::ostream& out, std::ostream& err) {
  auto flags = std::make_shared<ConnectionFlags>();
  flags->timeout = kInitTimeout;
  auto split_at = std::make_shared<std::string>();
  CLI::App* init = AddCommand(
      &app, "init", "Create a new cluster from a node and the nodes it knows",
      "rangedb init --host=localhost:26257 --split-at=m,t",
      "The node at --host collects the candidates (itself, its --join list, and nodes that "
      "asked it to join), needs a majority of itself and its --join list to answer, and "
      "bootstraps them. Run it once per cluster; running it again against a member "
      "completes the cluster and changes nothing else (docs/node.md, \"Cluster life "
      "cycle\").");
  AddConnectionFlags(init, flags.get());
  init->add_option("--split-at", *split_at,
                   "Comma-separated extra range boundaries in the user key space");
  return [=, &out, &err]() -> std::optional<int> {
    if (!init->parsed()) return std::nullopt;
    return RunInit(*flags, *split_at, out, err);
  };
}

CliRunner AddNodeCommands(CLI::App& app, std::ostream& out, std::ostream& err) {
  CLI::App* node = AddCommand(&app, "node", "Inspect the nodes of a cluster",
                              "rangedb node status --host=localhost:26257");
  node->require_subcommand(1);
  auto flags = std::make_shared<ConnectionFlags>();
  CLI::App* status = AddCommand(
      node, "status", "Print every node (liveness, uptime, clock offset) and every range",
      "rangedb node status --host=localhost:26257,localhost:26258",
      "Asks the first --host that answers; that node gathers every live node's view of its "
      "own replicas.");
  AddConnectionFlags(status, flags.get());
  return [=, &out, &err]() -> std::optional<int> {
    if (!status->parsed()) return std::nullopt;
    return RunNodeStatus(*flags, out, err);
  };
}

RANGEDB_CLI_GROUP("init", AddInitCommand);
RANGEDB_CLI_GROUP("node", AddNodeCommands);

}  // namespace

}  // namespace rangedb
