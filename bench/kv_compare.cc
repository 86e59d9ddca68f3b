// kv_compare: the put-only kv workload (bench/workload_kv.h) against etcd or
// rangedb, so the two are measured by the same loop. bench/compare_etcd.sh runs it.
//
//   kv_compare --target=etcd|rangedb --endpoints=HOST:PORT[,...] --concurrency=C
//              --duration=SECONDS --value-size=BYTES [--keys=N] [--timeout=10s]
//
// Progress goes to stderr; stdout gets one line,
// "ops/s=X p50_ms=X p95_ms=X p99_ms=X errors=N". Exit 1 if nothing succeeded.
#include <CLI/CLI.hpp>
#include <iostream>
#include <random>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/etcd_target.h"
#include "bench/workload_kv.h"
#include "client/kv_client.h"

namespace rangedb {

using client::KvClient;
using client::KvClientOptions;
namespace {

struct CompareArgs {
  std::string target;
  std::string endpoints;
  int concurrency = 1;
  int duration_seconds = 10;
  int64_t value_size_bytes = 256;
  int64_t keys = 100000;
  std::string timeout = "10s";
};

// One target per worker, of the chosen kind.
absl::StatusOr<KvTargetFactory> MakeFactory(const CompareArgs& args) {
  std::vector<std::string> endpoints = absl::StrSplit(args.endpoints, ',', absl::SkipWhitespace());
  absl::Duration timeout;
  if (!absl::ParseDuration(args.timeout, &timeout)) {
    return absl::InvalidArgumentError("--timeout is not a duration (e.g. 10s)");
  }
  if (args.target == "etcd") {
    EtcdTargetOptions options{endpoints, timeout};
    if (absl::Status s = NewEtcdTarget(options).status(); !s.ok()) return s;
    return KvTargetFactory([options] { return NewEtcdTarget(options); });
  }
  KvClientOptions options{endpoints, timeout};
  if (absl::Status s = KvClient::Create(options).status(); !s.ok()) return s;
  return KvTargetFactory([options]() -> absl::StatusOr<std::unique_ptr<KvTarget>> {
    absl::StatusOr<std::unique_ptr<KvClient>> client = KvClient::Create(options);
    if (!client.ok()) return client.status();
    return NewRangedbTarget(std::move(*client));
  });
}

int Main(int argc, char** argv) {
  CLI::App app{"Put-only kv workload against etcd or rangedb", "kv_compare"};
  CompareArgs args;
  app.add_option("--target", args.target, "etcd or rangedb")
      ->required()
      ->check(CLI::IsMember({"etcd", "rangedb"}));
  app.add_option("--endpoints", args.endpoints, "host:port list, comma separated")->required();
  app.add_option("--concurrency", args.concurrency, "Clients")->capture_default_str();
  app.add_option("--duration", args.duration_seconds, "Seconds")->capture_default_str();
  app.add_option("--value-size", args.value_size_bytes, "Bytes per value")->capture_default_str();
  app.add_option("--keys", args.keys, "Distinct keys")->capture_default_str();
  app.add_option("--timeout", args.timeout, "Budget of one put")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<KvTargetFactory> factory = MakeFactory(args);
  if (!factory.ok()) {
    std::cerr << "kv_compare: " << factory.status().message() << "\n";
    return 2;
  }
  KvWorkloadOptions options;
  options.concurrency = args.concurrency;
  options.duration = absl::Seconds(args.duration_seconds);
  options.read_percent = 0;
  options.value_size_bytes = args.value_size_bytes;
  options.key_count = args.keys;
  options.seed = std::random_device{}();
  absl::StatusOr<KvWorkloadResult> result = RunKvWorkload(options, *factory, std::cerr);
  if (!result.ok()) {
    std::cerr << "kv_compare: " << result.status().message() << "\n";
    return 2;
  }
  std::cout << FormatKvSummary(*result) << std::endl;
  return result->ops > 0 ? 0 : 1;
}

}  // namespace
}  // namespace rangedb

int main(int argc, char** argv) { return rangedb::Main(argc, argv); }
