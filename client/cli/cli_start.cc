// `rangedb start`: parses the node's flags and runs the server process (node/serve.h).
//
// The one file of the command line that includes node/ (docs/architecture.md,
// "Layers"; scripts/check_layers.sh enforces it): the server process itself lives in
// node/, and every other command reaches a node over gRPC like any client.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/command.h"
#include "node/node.h"
#include "node/serve.h"

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

// bytes as ParseBytes reads it, in the largest binary unit that divides it.
std::string FormatBytes(size_t bytes) {
  for (const auto& [suffix, mult] : {std::pair<const char*, size_t>{"GiB", size_t{1} << 30},
                                     {"MiB", size_t{1} << 20},
                                     {"KiB", size_t{1} << 10}}) {
    if (bytes > 0 && bytes % mult == 0) return absl::StrCat(bytes / mult, suffix);
  }
  return absl::StrCat(bytes);
}

// The flags as typed; those CLI11 cannot parse into NodeOptions directly are strings.
// Defaults come from NodeOptions, so they are written once, in node/node.h.
struct StartFlags {
  NodeOptions options;
  std::string join;
  std::string max_offset;  // these three are set from options by AddStartCommand
  std::string tick;
  std::string cache;
  std::string sql_sweep_interval;
  int64_t clock_offset_ms = 0;
  int64_t gc_interval_ms = 0;
  int64_t txn_record_gc_age_ms = 0;
  int64_t intent_resolution_delay_ms = 0;
};

int RunStart(const StartFlags& f, std::ostream& out, std::ostream& err) {
  NodeOptions o = f.options;
  for (absl::string_view peer : absl::StrSplit(f.join, ',', absl::SkipWhitespace())) {
    o.join.emplace_back(peer);
  }
  o.testing_clock_offset = absl::Milliseconds(f.clock_offset_ms);
  o.testing_gc_interval = absl::Milliseconds(std::max<int64_t>(0, f.gc_interval_ms));
  o.testing_txn_record_gc_age = absl::Milliseconds(std::max<int64_t>(0, f.txn_record_gc_age_ms));
  o.testing_intent_resolution_delay =
      absl::Milliseconds(std::max<int64_t>(0, f.intent_resolution_delay_ms));
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
  if (!absl::ParseDuration(f.sql_sweep_interval, &o.sql_sweep_interval) ||
      o.sql_sweep_interval < absl::Seconds(1)) {
    err << "rangedb start: --sql-sweep-interval: \"" << f.sql_sweep_interval
        << "\" must be a duration of at least 1s\n";
    return kExitUsage;
  }
  if (!ParseBytes(f.cache, &o.cache_bytes)) {
    err << "rangedb start: --cache-size: \"" << f.cache << "\" is not a size like 128MiB\n";
    return kExitUsage;
  }
  if (absl::Status served = ServeNode(o, out); !served.ok()) {
    err << "rangedb start: " << served.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

CliRunner AddStartCommand(CLI::App& app, std::ostream& out, std::ostream& err) {
  auto flags = std::make_shared<StartFlags>();
  NodeOptions& o = flags->options;
  flags->max_offset = absl::FormatDuration(o.max_offset);
  flags->tick = absl::FormatDuration(o.raft_tick_interval);
  flags->cache = FormatBytes(o.cache_bytes);
  flags->sql_sweep_interval = absl::FormatDuration(o.sql_sweep_interval);
  CLI::App* start = AddCommand(
      &app, "start", "Start a node: the server process, until SIGTERM or SIGINT",
      "rangedb start --store=/var/lib/rangedb --listen-addr=localhost:26257 \\\n"
      "    --http-addr=localhost:8080 --join=localhost:26258,localhost:26259",
      "A new store waits until `rangedb init` creates the cluster or a --join peer already "
      "belongs to one; a store that was part of a cluster rejoins it. SIGTERM drains the "
      "node (moves its leases away, finishes requests) and exits (docs/node.md).");
  start->add_option("--store", o.store, "Data directory, or \"mem\" for in-memory")->required();
  start->add_option("--listen-addr", o.listen_addr, "gRPC address (host:port)")
      ->capture_default_str();
  start->add_option("--http-addr", o.http_addr, "HTTP address for /health, /metrics, /status")
      ->capture_default_str();
  start->add_option("--join", flags->join,
                    "Comma-separated addresses of other nodes (the initial cluster members)");
  start
      ->add_option("--max-offset", flags->max_offset,
                   "Maximum clock offset between nodes (e.g. 500ms)")
      ->capture_default_str();
  start
      ->add_option("--raft-tick-interval", flags->tick,
                   "Raft tick; elections after 10-20 ticks without a leader")
      ->capture_default_str();
  start->add_option("--cache-size", flags->cache, "Block cache size (e.g. 128MiB)")
      ->capture_default_str();
  start
      ->add_option("--sql-sweep-interval", flags->sql_sweep_interval,
                   "How often the node finishes index builds whose session died and clears "
                   "the keys of dropped tables and indexes")
      ->capture_default_str();
  start->add_flag("--testing-faults", o.testing_faults,
                  "TESTING ONLY: serve the fault-injection service");
  start->add_option("--testing-clock-offset-ms", flags->clock_offset_ms,
                    "TESTING ONLY: offset this node's clock");
  start->add_flag("--testing-unsafe-reads", o.testing_unsafe_reads,
                  "TESTING ONLY: a planted bug (reads without a lease) for checker tests");
  start->add_flag("--testing-commit-without-refresh", o.testing_commit_without_refresh,
                  "TESTING ONLY: a planted bug (commit a pushed transaction without "
                  "refreshing its reads) for checker tests");
  start->add_flag("--testing-gc-unresolved-records", o.testing_gc_unresolved_records,
                  "TESTING ONLY: a planted bug (GC removes committed transaction records whose "
                  "intents are not all resolved) for checker tests");
  start->add_option("--testing-gc-interval-ms", flags->gc_interval_ms,
                    "TESTING ONLY: run the GC queue this often (0: every 10 minutes)");
  start->add_option("--testing-txn-record-gc-age-ms", flags->txn_record_gc_age_ms,
                    "TESTING ONLY: collect finished transaction records this old (0: 1 hour)");
  start->add_option("--testing-intent-resolution-delay-ms", flags->intent_resolution_delay_ms,
                    "TESTING ONLY: hold asynchronous intent resolution this long");
  start->add_flag("--testing-deleterange-at-max", o.testing_deleterange_at_max,
                  "TESTING ONLY: a planted bug (DeleteRange finds keys at the latest version "
                  "and leaves its span out of the timestamp cache) for checker tests");
  start->add_flag("--testing-cput-reads-latest", o.testing_cput_reads_latest,
                  "TESTING ONLY: a planted bug (a transactional ConditionalPut reads the "
                  "latest version; a failed one is not a read) for checker tests");
  start->add_option("--testing-raft-log-truncate-threshold", o.testing_raft_log_truncate_threshold,
                    "TESTING ONLY: truncate Raft logs past this many entries (snapshot tests)");
  return [=, &out, &err]() -> std::optional<int> {
    if (!start->parsed()) return std::nullopt;
    return RunStart(*flags, out, err);
  };
}

RANGEDB_CLI_GROUP("start", AddStartCommand);

}  // namespace
}  // namespace rangedb
