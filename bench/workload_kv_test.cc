#include "bench/workload_kv.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/cli/testing/cli_runner.h"
#include "client/testing/fake_kv_server.h"

namespace rangedb {

using client::FakeKvServer;
namespace {

std::unique_ptr<FakeKvServer> StartServer() {
  absl::StatusOr<std::unique_ptr<FakeKvServer>> server = FakeKvServer::Start();
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(*server);
}

TEST(WorkloadKvTest, RunPrintsTheSummaryLine) {
  auto server = StartServer();
  CliResult r = RunRangedb({"workload", "run", "kv", "--host=" + server->address(),
                            "--concurrency=2", "--duration=1", "--read-percent=50",
                            "--value-size=32", "--keys=100", "--seed=7"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const std::regex summary(
      R"(ops/s=([0-9]+\.[0-9]) p50_ms=[0-9]+\.[0-9]{3} p95_ms=[0-9]+\.[0-9]{3} )"
      R"(p99_ms=[0-9]+\.[0-9]{3} errors=0\n)");
  std::smatch match;
  ASSERT_TRUE(std::regex_match(r.out, match, summary)) << r.out;
  EXPECT_GT(std::stod(match[1]), 0);
  // Puts went to kv/NNNNNNNN keys with 32-byte values.
  std::map<std::string, std::string> data = server->Snapshot();
  ASSERT_FALSE(data.empty());
  EXPECT_TRUE(std::regex_match(data.begin()->first, std::regex("kv/[0-9]{8}")));
  EXPECT_EQ(data.begin()->second.size(), 32u);
}

TEST(WorkloadKvTest, InitThenCheckFindsEveryKey) {
  auto server = StartServer();
  const std::string host = "--host=" + server->address();
  CliResult init = RunRangedb({"workload", "init", "kv", host, "--keys=50", "--concurrency=3"});
  ASSERT_EQ(init.exit_code, kExitOk) << init.err;
  EXPECT_EQ(init.out, "init kv: keys=50 written=50 errors=0\n");
  EXPECT_EQ(server->Snapshot().size(), 50u);
  CliResult check = RunRangedb({"workload", "check", "kv", host, "--keys=60"});
  EXPECT_EQ(check.exit_code, kExitFailure);
  EXPECT_EQ(check.out, "check kv: keys=60 found=50 missing=10 errors=0\n");
  EXPECT_EQ(RunRangedb({"workload", "check", "kv", host, "--keys=50"}).exit_code, kExitOk);
}

TEST(WorkloadKvTest, UnknownWorkloadIsAUsageError) {
  for (const char* verb : {"init", "run", "check"}) {
    CliResult r = RunRangedb({"workload", verb, "tpcc"});
    EXPECT_EQ(r.exit_code, kExitUsage) << verb;
    EXPECT_NE(r.err.find("unknown workload \"tpcc\" (known: kv, bank, sql-kv, sql-scan)"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(RunRangedb({"workload", "run"}).exit_code, kExitUsage);
  EXPECT_EQ(RunRangedb({"workload", "run", "kv", "--read-percent=101"}).exit_code, kExitUsage);
}

// A target that fails every other operation, to check the error count.
class FlakyTarget final : public KvTarget {
 public:
  absl::Status Put(absl::string_view, absl::string_view) override { return Next(); }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view) override {
    if (absl::Status s = Next(); !s.ok()) return s;
    return std::optional<std::string>();
  }

 private:
  absl::Status Next() {
    absl::SleepFor(absl::Microseconds(200));
    return ++calls_ % 2 == 0 ? absl::UnavailableError("flaky") : absl::OkStatus();
  }
  int64_t calls_ = 0;
};

TEST(WorkloadKvTest, LoopIsGenericOverTargetsAndCountsErrors) {
  KvWorkloadOptions options;
  options.concurrency = 2;
  options.duration = absl::Milliseconds(300);
  options.progress_interval = absl::Milliseconds(100);
  std::ostringstream progress;
  absl::StatusOr<KvWorkloadResult> result = RunKvWorkload(
      options,
      [] { return absl::StatusOr<std::unique_ptr<KvTarget>>(std::make_unique<FlakyTarget>()); },
      progress);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->ops, 0);
  EXPECT_NEAR(result->errors, result->ops, 2);
  // Every operation sleeps 200 us: the median lies near 0.2 ms (buckets are ±4%).
  EXPECT_GT(result->p50_ms, 0.19);
  EXPECT_LT(result->p50_ms, 5.0);
  EXPECT_LE(result->p50_ms, result->p99_ms);
  EXPECT_NE(progress.str().find("run kv: elapsed="), std::string::npos);
}

TEST(WorkloadKvTest, KeysArePadded) {
  EXPECT_EQ(KvWorkloadKey(42), "kv/00000042");
  EXPECT_EQ(KvWorkloadKey(123456789), "kv/123456789");
}

}  // namespace
}  // namespace rangedb
