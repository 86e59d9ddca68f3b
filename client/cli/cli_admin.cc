// `rangedb start`, `rangedb init`, `rangedb node status`: running a node and
// administering a cluster (docs/node.md).
#include <algorithm>
#include <csignal>
#include <iomanip>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "node/cli.h"
#include "node/cli_command.h"
#include "node/node.h"
#include "proto/node.grpc.pb.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace rangedb {
namespace {

// "128MiB", "1GiB", "500000" -> bytes.
bool ParseBytes(const std::string& text, size_t* out) {
  static const std::pair<const char*, size_t> kUnits[] = {{"KiB", size_t{1} << 10},
                                                          {"MiB", size_t{1} << 20},
                                                          {"GiB", size_t{1} << 30},
                                                          {"KB", 1000},
                                                          {"MB", 1000 * 1000},
                                                          {"GB", 1000 * 1000 * 1000},
                                                          {"B", 1}};
  for (const auto& [suffix, mult] : kUnits) {
    const std::string s(suffix);
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      uint64_t n;
      if (!absl::SimpleAtoi(text.substr(0, text.size() - s.size()), &n)) return false;
      *out = n * mult;
      return true;
    }
  }
  uint64_t n;
  if (!absl::SimpleAtoi(text, &n)) return false;
  *out = n;
  return true;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    out.emplace_back(part.data(), part.size());
  }
  return out;
}

struct StartFlags {
  std::string store;
  std::string listen_addr = "127.0.0.1:26257";
  std::string http_addr = "127.0.0.1:8080";
  std::string join;
  std::string max_offset = "500ms";
  std::string tick = "100ms";
  std::string cache = "128MiB";
  bool testing_faults = false;
  bool testing_unsafe_reads = false;
  bool testing_commit_without_refresh = false;
  bool testing_gc_unresolved_records = false;
  bool testing_deleterange_at_max = false;
  bool testing_cput_reads_latest = false;
  int64_t clock_offset_ms = 0;
  int64_t gc_interval_ms = 0;
  int64_t txn_record_gc_age_ms = 0;
  int64_t intent_resolution_delay_ms = 0;
  uint64_t testing_raft_log_truncate_threshold = 0;
};

int RunStart(const StartFlags& f, std::ostream& out, std::ostream& err) {
  NodeOptions o;
  o.store = f.store;
  o.listen_addr = f.listen_addr;
  o.http_addr = f.http_addr;
  o.join = SplitList(f.join);
  o.testing_faults = f.testing_faults;
  o.testing_unsafe_reads = f.testing_unsafe_reads;
  o.testing_commit_without_refresh = f.testing_commit_without_refresh;
  o.testing_deleterange_at_max = f.testing_deleterange_at_max;
  o.testing_cput_reads_latest = f.testing_cput_reads_latest;
  o.testing_clock_offset = absl::Milliseconds(f.clock_offset_ms);
  o.testing_gc_unresolved_records = f.testing_gc_unresolved_records;
  o.testing_gc_interval = absl::Milliseconds(std::max<int64_t>(0, f.gc_interval_ms));
  o.testing_txn_record_gc_age = absl::Milliseconds(std::max<int64_t>(0, f.txn_record_gc_age_ms));
  o.testing_intent_resolution_delay =
      absl::Milliseconds(std::max<int64_t>(0, f.intent_resolution_delay_ms));
  o.testing_raft_log_truncate_threshold = f.testing_raft_log_truncate_threshold;
  if (!absl::ParseDuration(f.max_offset, &o.max_offset) || o.max_offset < absl::ZeroDuration()) {
    err << "rangedb start: --max-offset: \"" << f.max_offset << "\" is not a duration like 500ms\n";
    return kExitUsage;
  }
  if (!absl::ParseDuration(f.tick, &o.raft_tick_interval) ||
      o.raft_tick_interval < absl::Milliseconds(10)) {
    err << "rangedb start: --raft-tick-interval: \"" << f.tick
        << "\" must be a duration of at least 10ms\n";
    return kExitUsage;
  }
  if (!ParseBytes(f.cache, &o.cache_bytes)) {
    err << "rangedb start: --cache-size: \"" << f.cache << "\" is not a size like 128MiB\n";
    return kExitUsage;
  }
  // Block the stop signals in every thread; this one waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rangedb"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");

  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
  if (!node.ok()) {
    err << "rangedb start: " << node.status().message() << "\n";
    return kExitFailure;
  }
  out << "rangedb node started\n"
      << "  address: " << o.listen_addr << "  (rangedb kv --host=" << o.listen_addr << ")\n"
      << "  http:    http://" << o.http_addr << "/health\n"
      << "  store:   " << o.store << "\n";
  out.flush();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("node: received {}; draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*node)->Drain(absl::Seconds(10));
  (*node)->Stop();
  return kExitOk;
}

int RunInit(const std::string& host, const std::string& split_at, std::ostream& out,
            std::ostream& err) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(host, grpc::InsecureChannelCredentials());
  auto stub = nodepb::Admin::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
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
      err << "rangedb init: " << host << " did not finish the init within 30s ("
          << st.error_message()
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

int RunNodeStatus(const std::string& hosts, std::ostream& out, std::ostream& err) {
  std::string last_error = "no host given";
  for (const std::string& host : SplitList(hosts)) {
    auto stub =
        nodepb::Admin::NewStub(grpc::CreateChannel(host, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
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
        << std::setw(8) << "leader" << std::setw(13) << "leaseholder"
        << "applied\n";
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
          << r.applied_index() << "\n";
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

}  // namespace

CliRunner AddServerCommands(CLI::App& app, std::ostream& out, std::ostream& err) {
  auto start_flags = std::make_shared<StartFlags>();
  CLI::App* start = app.add_subcommand(
      "start",
      "Start a node. A new store waits until `rangedb init` creates the cluster or a --join "
      "peer already belongs to one; a store that was part of a cluster rejoins it. SIGTERM "
      "drains the node (moves its leases away, finishes requests) and exits.");
  start->add_option("--store", start_flags->store, "Data directory, or \"mem\" for in-memory")
      ->required();
  start->add_option("--listen-addr", start_flags->listen_addr, "gRPC address (host:port)")
      ->capture_default_str();
  start
      ->add_option("--http-addr", start_flags->http_addr,
                   "HTTP address for /health, /metrics, /status")
      ->capture_default_str();
  start->add_option("--join", start_flags->join,
                    "Comma-separated addresses of other nodes (the initial cluster members)");
  start
      ->add_option("--max-offset", start_flags->max_offset,
                   "Maximum clock offset between nodes (e.g. 500ms)")
      ->capture_default_str();
  start
      ->add_option("--raft-tick-interval", start_flags->tick,
                   "Raft tick; elections after 10-20 ticks without a leader")
      ->capture_default_str();
  start->add_option("--cache-size", start_flags->cache, "Block cache size (e.g. 128MiB)")
      ->capture_default_str();
  start->add_flag("--testing-faults", start_flags->testing_faults,
                  "TESTING ONLY: serve the fault-injection service");
  start->add_option("--testing-clock-offset-ms", start_flags->clock_offset_ms,
                    "TESTING ONLY: offset this node's clock");
  start->add_flag("--testing-unsafe-reads", start_flags->testing_unsafe_reads,
                  "TESTING ONLY: a planted bug (reads without a lease) for checker tests");
  start->add_flag("--testing-commit-without-refresh", start_flags->testing_commit_without_refresh,
                  "TESTING ONLY: a planted bug (commit a pushed transaction without "
                  "refreshing its reads) for checker tests");
  start->add_flag("--testing-gc-unresolved-records", start_flags->testing_gc_unresolved_records,
                  "TESTING ONLY: a planted bug (GC removes committed transaction records whose "
                  "intents are not all resolved) for checker tests");
  start->add_option("--testing-gc-interval-ms", start_flags->gc_interval_ms,
                    "TESTING ONLY: run the GC queue this often (0: every 10 minutes)");
  start->add_option("--testing-txn-record-gc-age-ms", start_flags->txn_record_gc_age_ms,
                    "TESTING ONLY: collect finished transaction records this old (0: 1 hour)");
  start->add_option("--testing-intent-resolution-delay-ms", start_flags->intent_resolution_delay_ms,
                    "TESTING ONLY: hold asynchronous intent resolution this long");
  start->add_flag("--testing-deleterange-at-max", start_flags->testing_deleterange_at_max,
                  "TESTING ONLY: a planted bug (DeleteRange finds keys at the latest version "
                  "and leaves its span out of the timestamp cache) for checker tests");
  start->add_flag("--testing-cput-reads-latest", start_flags->testing_cput_reads_latest,
                  "TESTING ONLY: a planted bug (a transactional ConditionalPut reads the "
                  "latest version; a failed one is not a read) for checker tests");
  start->add_option("--testing-raft-log-truncate-threshold",
                    start_flags->testing_raft_log_truncate_threshold,
                    "TESTING ONLY: truncate Raft logs past this many entries (snapshot tests)");

  auto host = std::make_shared<std::string>("127.0.0.1:26257");
  auto split_at = std::make_shared<std::string>();
  CLI::App* init = app.add_subcommand(
      "init",
      "Create a new cluster from the node at --host and the nodes it knows (its --join list "
      "and nodes that asked it to join). Run it once per cluster.");
  init->add_option("--host", *host, "A node of the new cluster")->capture_default_str();
  init->add_option("--split-at", *split_at,
                   "Comma-separated extra range boundaries in the user key space");

  CLI::App* node = app.add_subcommand("node", "Inspect the nodes of a cluster");
  node->require_subcommand(1);
  auto status_hosts = std::make_shared<std::string>("127.0.0.1:26257");
  CLI::App* status =
      node->add_subcommand("status", "Print every node (liveness, uptime) and every range");
  status->add_option("--host", *status_hosts, "Nodes to ask, comma-separated (first that answers)")
      ->capture_default_str();

  return [=, &out, &err]() -> std::optional<int> {
    if (start->parsed()) return RunStart(*start_flags, out, err);
    if (init->parsed()) return RunInit(*host, *split_at, out, err);
    if (status->parsed()) return RunNodeStatus(*status_hosts, out, err);
    return std::nullopt;
  };
}

}  // namespace rangedb
