// storage_bench: the cost of MVCC over the same key/value work on plain keys.
//
// Five on-disk engines (OpenEngine, default EngineOptions), each in its own
// directory under one temp directory in /tmp that is removed at exit:
//   multi     — num_keys user keys × 10 committed versions (MVCC encoding)
//   single    — the same user keys × 1 committed version (MVCC encoding)
//   raw       — the same user keys as plain keys, one value each
//   put_mvcc  — like single, written to by the MVCC put benchmark
//   put_raw   — like raw, written to by the raw put benchmarks
// Each MVCC key's newest payload equals its raw value. Every engine is flushed after
// loading (reads come from SST files) and read once (a warm block cache). The write
// benchmarks have engines of their own so that the reads never meet their writes,
// whatever order the benchmarks run in.
//
// Benchmarks (docs/benchmarks.md has the results and what they mean):
//   get/mvcc_10_versions    MVCCGet of a random key of multi, read above every version
//   get/raw                 Engine::Get of the same plain key in raw
//   get/mvcc_1_version      diagnostic: MVCCGet from single (data as large as raw's)
//   get/raw_via_iterator    diagnostic: the plain key read with a bounded iterator
//   scan100/mvcc_1_version  MVCCScan(max_keys=100) from a random key of single
//   scan100/raw             bounded iterator over raw: Seek + 100 rows copied out
//   scan100/mvcc_10_versions  diagnostic: MVCCScan of multi
//   put/mvcc                MVCCPut (non-transactional) of a new version of a random
//                           key, in a batch of one committed unsynced
//   put/raw                 a batch of one plain Put of a random key, unsynced
//   put/raw_after_iterator_read  diagnostic: put/raw preceded by an iterator read of
//                           the key through the batch, as an MVCC write does
// The last stdout line is "mvcc/raw ratio: get=X scan=Y put=Z": MVCC real time per
// op divided by raw real time per op (each the median over repetitions). Two
// context lines precede it: the 10-version scan ratio and the ratios by CPU time.
//
// Flags of our own (removed before Google Benchmark sees the rest):
//   --smoke      tiny dataset and min time (the ctest smoke test)
//   --keys=N     number of user keys (default 100000)
// Defaults put in front of the user's flags, so explicit flags override them:
//   --benchmark_min_time=0.25 --benchmark_repetitions=5
//   --benchmark_enable_random_interleaving=true
// Interleaved repetitions spread the load of other processes on this shared
// machine evenly over the MVCC and raw sides of each pair.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/engine.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

constexpr int kMultiVersions = 10;
constexpr size_t kValueBytes = 32;
constexpr int64_t kScanKeys = 100;
// Versions are written at wall_ns 10, 20, ..., 100; reads happen above all of
// them, and puts (on their own engines) above the reads.
constexpr int64_t kVersionSpacingNs = 10;
constexpr Timestamp kReadTimestamp{1'000, 0};
constexpr int64_t kFirstPutWallNs = 1'000'000;
// Writes per load batch: big enough to amortise the commit, small enough
// (about 1 MiB) that the batch's index stays cheap.
constexpr int64_t kLoadBatchWrites = 16'384;
// One past every user key ("key" + digits).
constexpr absl::string_view kSpanEnd = "\xff";

struct Config {
  int64_t num_keys = 100'000;
  const char* min_time_s = "0.25";
  int repetitions = 5;
  bool color = false;  // resolved from --benchmark_color and the terminal
};

// Deterministic payloads: printable bytes from a seeded generator.
std::string RandomPayload(std::mt19937_64& rng) {
  std::string out(kValueBytes, ' ');
  for (char& c : out) c = static_cast<char>('!' + rng() % 94);
  return out;
}

// The smallest key after `key`: the exclusive end of a one-key span.
std::string KeySuccessor(absl::string_view key) {
  return absl::StrCat(key, absl::string_view("\0", 1));
}

// The engines, the user keys and the payloads every benchmark shares.
class Dataset {
 public:
  Dataset() = default;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;
  ~Dataset() {
    multi_.reset();
    single_.reset();
    raw_.reset();
    put_mvcc_.reset();
    put_raw_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  [[nodiscard]] absl::Status Build(int64_t num_keys);

  Engine& multi() { return *multi_; }
  Engine& single() { return *single_; }
  Engine& raw() { return *raw_; }
  Engine& put_mvcc() { return *put_mvcc_; }
  Engine& put_raw() { return *put_raw_; }
  int64_t num_keys() const { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int64_t i) const { return keys_[i]; }
  // The payload the put benchmarks write (the same on both sides).
  const std::string& put_payload() const { return put_payload_; }
  // A timestamp above every version written so far; each MVCC put takes one.
  Timestamp NextPutTimestamp() { return {next_put_wall_ns_++, 0}; }

 private:
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Engine>> Open(absl::string_view name);
  [[nodiscard]] absl::Status LoadMVCC(Engine& engine, int versions);
  [[nodiscard]] absl::Status LoadRaw(Engine& engine);
  [[nodiscard]] absl::Status Verify(int64_t samples);
  [[nodiscard]] static absl::Status WarmBlockCache(Engine& engine);

  std::string dir_;
  std::unique_ptr<Engine> multi_, single_, raw_, put_mvcc_, put_raw_;
  std::vector<std::string> keys_;
  std::vector<std::string> newest_;  // per key: its newest payload and raw value
  std::string put_payload_;
  int64_t next_put_wall_ns_ = kFirstPutWallNs;
};

absl::StatusOr<std::unique_ptr<Engine>> Dataset::Open(absl::string_view name) {
  EngineOptions options;
  options.path = absl::StrCat(dir_, "/", name);
  return OpenEngine(options);
}

// Writes the MVCC encoding of `versions` committed versions per key directly: the
// exact bytes MVCCPut writes for a non-transactional put, without its per-key read,
// which would only slow the load down. Verify checks the result through MVCCGet.
absl::Status Dataset::LoadMVCC(Engine& engine, int versions) {
  std::mt19937_64 rng(versions);
  std::unique_ptr<WriteBatch> batch = engine.NewWriteBatch();
  std::string key, value;
  for (int64_t i = 0; i < num_keys(); ++i) {
    for (int v = versions; v >= 1; --v) {  // newest first, as they sort
      key.clear();
      AppendMVCCKey(&key, keys_[i], Timestamp{v * kVersionSpacingNs, 0});
      value.clear();
      AppendMVCCValue(&value, /*provisional=*/false, /*tombstone=*/false,
                      v == versions ? newest_[i] : RandomPayload(rng));
      batch->Put(ColumnFamily::kData, key, value);
    }
    if (static_cast<int64_t>(batch->Count()) >= kLoadBatchWrites) {
      if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
    }
  }
  if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
  return engine.Flush();
}

absl::Status Dataset::LoadRaw(Engine& engine) {
  std::unique_ptr<WriteBatch> batch = engine.NewWriteBatch();
  for (int64_t i = 0; i < num_keys(); ++i) {
    batch->Put(ColumnFamily::kData, keys_[i], newest_[i]);
    if (static_cast<int64_t>(batch->Count()) >= kLoadBatchWrites) {
      if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
    }
  }
  if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
  return engine.Flush();
}

// Spot-checks that every engine holds the same logical data.
absl::Status Dataset::Verify(int64_t samples) {
  std::mt19937_64 rng(7);
  for (int64_t n = 0; n < samples; ++n) {
    const int64_t i = static_cast<int64_t>(rng() % keys_.size());
    for (Engine* engine : {multi_.get(), single_.get(), put_mvcc_.get()}) {
      absl::StatusOr<MVCCGetResult> got = MVCCGet(*engine, keys_[i], kReadTimestamp);
      if (!got.ok()) return got.status();
      if (!got->found || got->value != newest_[i]) {
        return absl::InternalError(absl::StrCat("MVCC data of key ", keys_[i], " is wrong"));
      }
    }
    for (Engine* engine : {raw_.get(), put_raw_.get()}) {
      std::string value;
      absl::StatusOr<bool> found = engine->Get(ColumnFamily::kData, keys_[i], &value);
      if (!found.ok()) return found.status();
      if (!*found || value != newest_[i]) {
        return absl::InternalError(absl::StrCat("raw data of key ", keys_[i], " is wrong"));
      }
    }
  }
  return absl::OkStatus();
}

// Reads every entry once so that the benchmarks measure a warm block cache (each
// engine's data is far smaller than its 128 MiB cache) rather than the warm-up.
absl::Status Dataset::WarmBlockCache(Engine& engine) {
  std::unique_ptr<Iterator> it = engine.NewIterator({ColumnFamily::kData, "", ""});
  int64_t entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++entries;
  benchmark::DoNotOptimize(entries);
  return it->status();
}

absl::Status Dataset::Build(int64_t num_keys) {
  char dir_template[] = "/tmp/storage_bench.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    return absl::UnavailableError("cannot create a temp directory under /tmp");
  }
  dir_ = dir_template;
  std::mt19937_64 rng(1);
  keys_.reserve(num_keys);
  newest_.reserve(num_keys);
  for (int64_t i = 0; i < num_keys; ++i) {
    keys_.push_back(absl::StrFormat("key%012d", i));
    newest_.push_back(RandomPayload(rng));
  }
  put_payload_ = RandomPayload(rng);

  const absl::Time start = absl::Now();
  const std::pair<std::unique_ptr<Engine>*, const char*> engines[] = {
      {&multi_, "multi"},       {&single_, "single"},   {&raw_, "raw"},
      {&put_mvcc_, "put_mvcc"}, {&put_raw_, "put_raw"},
  };
  for (const auto& [engine, name] : engines) {
    absl::StatusOr<std::unique_ptr<Engine>> opened = Open(name);
    if (!opened.ok()) return opened.status();
    *engine = std::move(*opened);
  }
  if (absl::Status s = LoadMVCC(*multi_, kMultiVersions); !s.ok()) return s;
  for (Engine* engine : {single_.get(), put_mvcc_.get()}) {
    if (absl::Status s = LoadMVCC(*engine, 1); !s.ok()) return s;
  }
  for (Engine* engine : {raw_.get(), put_raw_.get()}) {
    if (absl::Status s = LoadRaw(*engine); !s.ok()) return s;
  }
  if (absl::Status s = Verify(/*samples=*/100); !s.ok()) return s;
  for (const auto& [engine, name] : engines) {
    if (absl::Status s = WarmBlockCache(**engine); !s.ok()) return s;
  }
  std::cerr << absl::StrFormat(
      "storage_bench: %d keys loaded (multi x%d versions, single x1, raw), flushed and read "
      "once in %.1f s under %s\n",
      num_keys, kMultiVersions, absl::ToDoubleSeconds(absl::Now() - start), dir_);
  return absl::OkStatus();
}

// Uniform key indexes from a fixed seed: every benchmark draws the same sequence.
class KeyPicker {
 public:
  explicit KeyPicker(int64_t bound) : dist_(0, bound - 1) {}
  int64_t Next() { return dist_(rng_); }

 private:
  std::mt19937_64 rng_{42};
  std::uniform_int_distribution<int64_t> dist_;
};

// --- Get ---

void BM_GetMVCC(benchmark::State& state, Dataset* d, Engine* engine) {
  KeyPicker picker(d->num_keys());
  for (auto _ : state) {
    absl::StatusOr<MVCCGetResult> got = MVCCGet(*engine, d->key(picker.Next()), kReadTimestamp);
    if (!got.ok() || !got->found) {
      state.SkipWithError("MVCCGet failed or found nothing");
      break;
    }
    benchmark::DoNotOptimize(got->value.data());
  }
}

void BM_GetRaw(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys());
  for (auto _ : state) {
    std::string value;  // a fresh string per op, as MVCCGetResult has
    absl::StatusOr<bool> found = d->raw().Get(ColumnFamily::kData, d->key(picker.Next()), &value);
    if (!found.ok() || !*found) {
      state.SkipWithError("Get failed or found nothing");
      break;
    }
    benchmark::DoNotOptimize(value.data());
  }
}

// The plain key read the way MVCCGet reads, with a bounded iterator and a Seek
// instead of a point Get: its excess over get/raw is the iterator's share of the
// MVCC gap, and get/mvcc's excess over it is MVCC's own.
void BM_GetRawViaIterator(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys());
  for (auto _ : state) {
    const std::string& key = d->key(picker.Next());
    std::unique_ptr<Iterator> it =
        d->raw().NewIterator({ColumnFamily::kData, key, KeySuccessor(key)});
    it->Seek(key);
    if (!it->Valid() || it->key() != key) {
      state.SkipWithError("iterator did not find the key");
      break;
    }
    std::string value(it->value());
    benchmark::DoNotOptimize(value.data());
  }
}

// --- Scan ---

void BM_ScanMVCC(benchmark::State& state, Dataset* d, Engine* engine) {
  KeyPicker picker(d->num_keys() - kScanKeys + 1);
  MVCCScanOptions options;
  options.max_keys = kScanKeys;
  for (auto _ : state) {
    absl::StatusOr<MVCCScanResult> scanned =
        MVCCScan(*engine, d->key(picker.Next()), kSpanEnd, kReadTimestamp, options);
    if (!scanned.ok() || static_cast<int64_t>(scanned->rows.size()) != kScanKeys) {
      state.SkipWithError("MVCCScan failed or returned too few rows");
      break;
    }
    benchmark::DoNotOptimize(scanned->rows.data());
  }
  state.SetItemsProcessed(state.iterations() * kScanKeys);
}

struct RawRow {
  std::string key;
  std::string value;
};

// The raw equivalent of MVCCScan: a bounded iterator per scan, and every row
// copied into a growing vector.
void BM_ScanRaw(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys() - kScanKeys + 1);
  for (auto _ : state) {
    const std::string& start = d->key(picker.Next());
    std::unique_ptr<Iterator> it =
        d->raw().NewIterator({ColumnFamily::kData, start, std::string(kSpanEnd)});
    std::vector<RawRow> rows;
    for (it->Seek(start); it->Valid(); it->Next()) {
      rows.push_back({std::string(it->key()), std::string(it->value())});
      if (static_cast<int64_t>(rows.size()) == kScanKeys) break;
    }
    if (!it->status().ok() || static_cast<int64_t>(rows.size()) != kScanKeys) {
      state.SkipWithError("iterator failed or returned too few rows");
      break;
    }
    benchmark::DoNotOptimize(rows.data());
  }
  state.SetItemsProcessed(state.iterations() * kScanKeys);
}

// --- Put ---

void BM_PutMVCC(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys());
  std::unique_ptr<WriteBatch> batch = d->put_mvcc().NewWriteBatch();
  for (auto _ : state) {
    absl::StatusOr<MVCCWriteResult> put =
        MVCCPut(*batch, d->key(picker.Next()), d->NextPutTimestamp(), d->put_payload());
    if (!put.ok() || put->write_too_old) {
      state.SkipWithError("MVCCPut failed or was pushed");
      break;
    }
    if (!batch->Commit(/*sync=*/false).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
}

void BM_PutRaw(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys());
  std::unique_ptr<WriteBatch> batch = d->put_raw().NewWriteBatch();
  for (auto _ : state) {
    batch->Put(ColumnFamily::kData, d->key(picker.Next()), d->put_payload());
    if (!batch->Commit(/*sync=*/false).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
}

// A plain write that first reads its key through the batch with an iterator, as
// every MVCC write does (LoadKeyState) to find the key's newest version: the floor
// for any write that must detect WriteTooOld this way.
void BM_PutRawAfterIteratorRead(benchmark::State& state, Dataset* d) {
  KeyPicker picker(d->num_keys());
  std::unique_ptr<WriteBatch> batch = d->put_raw().NewWriteBatch();
  for (auto _ : state) {
    const std::string& key = d->key(picker.Next());
    {
      std::unique_ptr<Iterator> it =
          batch->NewIterator({ColumnFamily::kData, key, KeySuccessor(key)});
      it->Seek(key);
      if (!it->Valid()) {
        state.SkipWithError("iterator did not find the key");
        break;
      }
      benchmark::DoNotOptimize(it->value().data());
    }
    batch->Put(ColumnFamily::kData, key, d->put_payload());
    if (!batch->Commit(/*sync=*/false).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
}

// The pairs whose ratios the last line reports.
struct RatioPair {
  const char* label;
  const char* mvcc;
  const char* raw;
};
constexpr RatioPair kRatioPairs[] = {
    {"get", "get/mvcc_10_versions", "get/raw"},
    {"scan", "scan100/mvcc_1_version", "scan100/raw"},
    {"put", "put/mvcc", "put/raw"},
};

void RegisterAll(Dataset* d) {
  benchmark::RegisterBenchmark("get/mvcc_10_versions", BM_GetMVCC, d, &d->multi());
  benchmark::RegisterBenchmark("get/raw", BM_GetRaw, d);
  benchmark::RegisterBenchmark("get/mvcc_1_version", BM_GetMVCC, d, &d->single());
  benchmark::RegisterBenchmark("get/raw_via_iterator", BM_GetRawViaIterator, d);
  benchmark::RegisterBenchmark("scan100/mvcc_1_version", BM_ScanMVCC, d, &d->single());
  benchmark::RegisterBenchmark("scan100/raw", BM_ScanRaw, d);
  benchmark::RegisterBenchmark("scan100/mvcc_10_versions", BM_ScanMVCC, d, &d->multi());
  benchmark::RegisterBenchmark("put/mvcc", BM_PutMVCC, d);
  benchmark::RegisterBenchmark("put/raw", BM_PutRaw, d);
  benchmark::RegisterBenchmark("put/raw_after_iterator_read", BM_PutRawAfterIteratorRead, d);
}

// Collects the real and CPU time per op of every repetition; the ratio line uses,
// per benchmark, the median real time over its repetitions, which shrugs off a
// burst of load from other processes better than the mean. The table is printed
// at the end in registration order (interleaved repetitions finish in random
// order); a benchmark with several repetitions shows only its median and
// coefficient of variation (cv) rows, one with a single repetition its run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(OutputOptions options) : ConsoleReporter(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      std::vector<Run>& shown = shown_[run.family_index];
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median" || run.aggregate_name == "cv") shown.push_back(run);
        continue;
      }
      if (run.repetitions <= 1 || run.error_occurred) shown.push_back(run);
      if (!run.error_occurred && run.iterations > 0) {
        const double iterations = static_cast<double>(run.iterations);
        PerOp& t = per_op_[run.benchmark_name()];
        t.real_s.push_back(run.real_accumulated_time / iterations);
        t.cpu_s.push_back(run.cpu_accumulated_time / iterations);
      }
    }
  }

  void Finalize() override {
    for (const auto& [family, runs] : shown_) ConsoleReporter::ReportRuns(runs);
    ConsoleReporter::Finalize();
  }

  // MVCC time per op / raw time per op as "X.XX", or "n/a" when either side did
  // not run.
  std::string Ratio(const char* mvcc, const char* raw, bool cpu = false) const {
    const double m = Median(mvcc, cpu), r = Median(raw, cpu);
    if (m <= 0 || r <= 0) return "n/a";
    return absl::StrFormat("%.2f", m / r);
  }

 private:
  struct PerOp {
    std::vector<double> real_s, cpu_s;  // one entry per repetition
  };

  double Median(const std::string& name, bool cpu) const {
    auto found = per_op_.find(name);
    if (found == per_op_.end()) return 0;
    std::vector<double> times = cpu ? found->second.cpu_s : found->second.real_s;
    if (times.empty()) return 0;
    std::sort(times.begin(), times.end());
    const size_t n = times.size();
    return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  }

  std::map<int64_t, std::vector<Run>> shown_;  // by family index: registration order
  std::map<std::string, PerOp> per_op_;
};

// Removes our own flags from argv and puts our defaults in front of the user's
// flags (Google Benchmark lets the last occurrence of a flag win).
std::vector<char*> ParseFlags(int argc, char** argv, Config* config, bool* ok) {
  static std::vector<std::string> defaults;
  std::vector<char*> user;
  *ok = true;
  config->color = ::isatty(STDOUT_FILENO) != 0;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    absl::string_view color = arg;
    if (absl::ConsumePrefix(&color, "--benchmark_color=") && color != "auto") {
      // The reporter is built here, so it needs the flag's effect up front;
      // Google Benchmark still parses and validates the flag itself.
      config->color = color == "true" || color == "yes" || color == "1" || color == "force";
    }
    if (arg == "--smoke") {
      config->num_keys = 2'000;
      config->min_time_s = "0.01";
      config->repetitions = 2;
    } else if (absl::ConsumePrefix(&arg, "--keys=")) {
      if (!absl::SimpleAtoi(arg, &config->num_keys) || config->num_keys < 2 * kScanKeys) {
        std::cerr << "storage_bench: --keys needs an integer >= " << 2 * kScanKeys << "\n";
        *ok = false;
      }
    } else {
      user.push_back(argv[i]);
    }
  }
  defaults = {
      absl::StrCat("--benchmark_min_time=", config->min_time_s),
      absl::StrCat("--benchmark_repetitions=", config->repetitions),
      "--benchmark_enable_random_interleaving=true",
  };
  std::vector<char*> args = {argv[0]};
  for (std::string& flag : defaults) args.push_back(flag.data());
  args.insert(args.end(), user.begin(), user.end());
  args.push_back(nullptr);
  return args;
}

int Main(int argc, char** argv) {
  Config config;
  bool ok = false;
  std::vector<char*> args = ParseFlags(argc, argv, &config, &ok);
  if (!ok) return 2;
  int bench_argc = static_cast<int>(args.size()) - 1;
  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 2;

  Dataset dataset;
  if (absl::Status s = dataset.Build(config.num_keys); !s.ok()) {
    std::cerr << "storage_bench: setup failed: " << s << "\n";
    return 1;
  }
  RegisterAll(&dataset);
  RatioReporter reporter(config.color ? benchmark::ConsoleReporter::OO_ColorTabular
                                      : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // Context first; the line the task asks for last.
  std::cout << "mvcc/raw ratio of scan with 10 versions per key (not a target): "
            << reporter.Ratio("scan100/mvcc_10_versions", "scan100/raw") << "\n";
  std::cout << "mvcc/raw ratio by CPU time:";
  for (const RatioPair& p : kRatioPairs) {
    std::cout << " " << p.label << "=" << reporter.Ratio(p.mvcc, p.raw, /*cpu=*/true);
  }
  std::cout << "\nmvcc/raw ratio:";
  for (const RatioPair& p : kRatioPairs) {
    std::cout << " " << p.label << "=" << reporter.Ratio(p.mvcc, p.raw);
  }
  std::cout << std::endl;
  return 0;
}

}  // namespace
}  // namespace rangedb

int main(int argc, char** argv) { return rangedb::Main(argc, argv); }
