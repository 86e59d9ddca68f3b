#include "tests/storage_crash_workload.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "storage/mvcc.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::crash_test {
namespace {

constexpr char kDataPrefix[] = "k/";
constexpr char kDataEnd[] = "k0";  // '0' follows '/': the end of every "k/..." key
constexpr char kRaftLogPrefix[] = "raft/";
constexpr char kRaftLogEnd[] = "raft0";
constexpr int64_t kWallBaseNs = 1'700'000'000'000'000'000;
// A writer that is never killed stops here rather than fill the disk.
constexpr int64_t kMaxBatchesPerWriter = 100'000;
// Rows per page when the checker scans the whole store; bounds its memory.
constexpr int64_t kScanPageRows = 1'000;
// Problems named in one error message; the rest are counted.
constexpr size_t kMaxProblemsReported = 5;

std::string Padded(int64_t seq) { return absl::StrCat(absl::Dec(seq, absl::kZeroPad12)); }

// The problem with acknowledged batch `seq`, or nullopt if it is intact.
absl::StatusOr<std::optional<std::string>> CheckAckedBatch(Engine& engine, int64_t seq,
                                                           int64_t last_seq) {
  absl::StatusOr<MVCCGetResult> data = MVCCGet(engine, DataKey(seq), Timestamp::Max());
  if (!data.ok()) return data.status();
  if (!data->found) return absl::StrCat(DataKey(seq), " not found");
  if (data->value != ValueFor(seq) || data->timestamp != TimestampFor(seq)) {
    return absl::StrCat(DataKey(seq), " has the wrong value or timestamp ",
                        data->timestamp.ToString());
  }
  std::string raft_value;
  absl::StatusOr<bool> raft = engine.Get(ColumnFamily::kRaftLog, RaftLogKey(seq), &raft_value);
  if (!raft.ok()) return raft.status();
  if (!*raft) return absl::StrCat(RaftLogKey(seq), " not found in the raft log family");
  if (raft_value != ValueFor(seq)) return absl::StrCat(RaftLogKey(seq), " has the wrong value");
  if (last_seq < seq) return absl::StrCat("latest counter ", last_seq, " is below it");
  // The hot key's version written by this batch, read at the batch's timestamp.
  absl::StatusOr<MVCCGetResult> counter = MVCCGet(engine, kCounterKey, TimestampFor(seq));
  if (!counter.ok()) return counter.status();
  if (!counter->found || counter->value != absl::StrCat(seq)) {
    return absl::StrCat("counter at its timestamp reads '", counter->value, "'");
  }
  return std::nullopt;
}

// Checks that the data keys are exactly DataKey(1..last_seq) with their values.
absl::Status CheckDataPrefix(Engine& engine, int64_t last_seq) {
  int64_t expected = 1;
  std::string start = kDataPrefix;
  for (;;) {
    MVCCScanOptions options;
    options.max_keys = kScanPageRows;
    absl::StatusOr<MVCCScanResult> page =
        MVCCScan(engine, start, kDataEnd, Timestamp::Max(), options);
    if (!page.ok()) return page.status();
    for (const MVCCKeyValue& row : page->rows) {
      if (row.key != DataKey(expected) || row.value != ValueFor(expected)) {
        return absl::FailedPreconditionError(absl::StrCat("data keys are not batches 1..", last_seq,
                                                          ": expected ", DataKey(expected),
                                                          ", found ", row.key));
      }
      ++expected;
    }
    if (!page->resume_span.has_value()) break;
    start = page->resume_span->start;
  }
  if (expected != last_seq + 1) {
    return absl::FailedPreconditionError(absl::StrCat("data keys are not batches 1..", last_seq,
                                                      ": they end at seq ", expected - 1));
  }
  return absl::OkStatus();
}

// Checks that the raft log family holds exactly RaftLogKey(1..last_seq).
absl::Status CheckRaftLogPrefix(Engine& engine, int64_t last_seq) {
  IterOptions options;
  options.cf = ColumnFamily::kRaftLog;
  options.lower_bound = kRaftLogPrefix;
  options.upper_bound = kRaftLogEnd;
  std::unique_ptr<Iterator> it = engine.NewIterator(options);
  int64_t expected = 1;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    if (it->key() != RaftLogKey(expected)) {
      return absl::FailedPreconditionError(
          absl::StrCat("raft log keys are not batches 1..", last_seq, ": expected ",
                       RaftLogKey(expected), ", found ", it->key()));
    }
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  if (expected != last_seq + 1) {
    return absl::FailedPreconditionError(absl::StrCat("raft log keys are not batches 1..", last_seq,
                                                      ": they end at seq ", expected - 1));
  }
  return absl::OkStatus();
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(absl::StrCat("write to ack fd ", fd));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

struct WriterFlags {
  std::string store;
  int ack_fd = -1;
  int64_t ack_before_commit_gap_ms = -1;  // < 0: acknowledge after the synced commit
};

absl::StatusOr<WriterFlags> ParseWriterFlags(int argc, char** argv) {
  WriterFlags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--writer") continue;
    if (absl::ConsumePrefix(&arg, "--store=")) {
      flags.store = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--ack_fd=")) {
      if (!absl::SimpleAtoi(arg, &flags.ack_fd)) return absl::InvalidArgumentError(argv[i]);
    } else if (absl::ConsumePrefix(&arg, "--ack_before_commit_gap_ms=")) {
      if (!absl::SimpleAtoi(arg, &flags.ack_before_commit_gap_ms)) {
        return absl::InvalidArgumentError(argv[i]);
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown writer flag ", arg));
    }
  }
  if (flags.store.empty() || flags.ack_fd < 0) {
    return absl::InvalidArgumentError("--store and --ack_fd are required");
  }
  return flags;
}

absl::Status RunWriter(const WriterFlags& flags) {
  EngineOptions options;
  options.path = flags.store;
  absl::StatusOr<std::unique_ptr<Engine>> engine = OpenEngine(options);
  if (!engine.ok()) return engine.status();
  absl::StatusOr<int64_t> last = ReadLastSeq(**engine);
  if (!last.ok()) return last.status();
  const int64_t first = *last + 1;
  if (absl::Status s = WriteAll(flags.ack_fd, absl::StrCat("ready ", first, "\n")); !s.ok()) {
    return s;
  }
  const bool planted_bug = flags.ack_before_commit_gap_ms >= 0;
  std::unique_ptr<WriteBatch> batch = (*engine)->NewWriteBatch();
  for (int64_t seq = first; seq < first + kMaxBatchesPerWriter; ++seq) {
    const bool acked = IsAcknowledged(seq);
    const std::string ack = absl::StrCat("ack ", seq, "\n");
    if (acked && planted_bug) {
      // The planted bug: the ack goes out before the batch is even written.
      if (absl::Status s = WriteAll(flags.ack_fd, ack); !s.ok()) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(flags.ack_before_commit_gap_ms));
    }
    if (absl::Status s = AddBatchWrites(*batch, seq); !s.ok()) return s;
    if (absl::Status s = batch->Commit(/*sync=*/acked); !s.ok()) return s;
    if (acked && !planted_bug) {
      if (absl::Status s = WriteAll(flags.ack_fd, ack); !s.ok()) return s;
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("wrote ", kMaxBatchesPerWriter, " batches without being killed"));
}

}  // namespace

std::string DataKey(int64_t seq) { return absl::StrCat(kDataPrefix, Padded(seq)); }
std::string RaftLogKey(int64_t seq) { return absl::StrCat(kRaftLogPrefix, Padded(seq)); }

std::string ValueFor(int64_t seq) {
  // Sizes vary so batches straddle the write-ahead log's 32 KiB blocks now and then.
  const size_t filler_bytes = static_cast<size_t>((seq * 7919) % 2048);
  return absl::StrCat("v", seq, "/", std::string(filler_bytes, static_cast<char>('a' + seq % 26)));
}

Timestamp TimestampFor(int64_t seq) { return Timestamp{kWallBaseNs + seq * 1000, 0}; }

bool IsAcknowledged(int64_t seq) { return seq % 4 != 0; }

absl::Status AddBatchWrites(WriteBatch& batch, int64_t seq) {
  absl::StatusOr<MVCCWriteResult> data =
      MVCCPut(batch, DataKey(seq), TimestampFor(seq), ValueFor(seq));
  if (!data.ok()) return data.status();
  absl::StatusOr<MVCCWriteResult> counter =
      MVCCPut(batch, kCounterKey, TimestampFor(seq), absl::StrCat(seq));
  if (!counter.ok()) return counter.status();
  if (data->write_too_old || counter->write_too_old) {
    return absl::InternalError(absl::StrCat("batch ", seq, " was pushed (WriteTooOld)"));
  }
  batch.Put(ColumnFamily::kRaftLog, RaftLogKey(seq), ValueFor(seq));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadLastSeq(Engine& engine) {
  absl::StatusOr<MVCCGetResult> counter = MVCCGet(engine, kCounterKey, Timestamp::Max());
  if (!counter.ok()) return counter.status();
  if (!counter->found) return 0;
  int64_t last = 0;
  if (!absl::SimpleAtoi(counter->value, &last) || last <= 0) {
    return absl::DataLossError(absl::StrCat("counter holds '", counter->value, "'"));
  }
  return last;
}

absl::StatusOr<int64_t> VerifyStore(Engine& engine, const std::vector<int64_t>& acked_seqs) {
  absl::StatusOr<int64_t> last = ReadLastSeq(engine);
  if (!last.ok()) return last.status();
  std::vector<int64_t> seqs = acked_seqs;
  std::sort(seqs.begin(), seqs.end());
  std::vector<std::string> problems;
  size_t lost = 0;
  for (int64_t seq : seqs) {
    absl::StatusOr<std::optional<std::string>> problem = CheckAckedBatch(engine, seq, *last);
    if (!problem.ok()) return problem.status();
    if (!problem->has_value()) continue;
    ++lost;
    if (problems.size() < kMaxProblemsReported) {
      problems.push_back(absl::StrCat("acknowledged seq ", seq, " lost: ", **problem));
    }
  }
  if (lost > 0) {
    return absl::DataLossError(absl::StrCat(lost, " of ", seqs.size(),
                                            " acknowledged batches lost (latest counter ", *last,
                                            "); ", absl::StrJoin(problems, "; ")));
  }
  if (absl::Status s = CheckDataPrefix(engine, *last); !s.ok()) return s;
  if (absl::Status s = CheckRaftLogPrefix(engine, *last); !s.ok()) return s;
  return *last;
}

int WriterMain(int argc, char** argv) {
  // A parent that went away surfaces as EPIPE from write, not as a silent death.
  if (::signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
    std::cerr << "storage_crash_test --writer: signal(SIGPIPE): " << std::strerror(errno) << "\n";
    return 2;
  }
  absl::StatusOr<WriterFlags> flags = ParseWriterFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "storage_crash_test --writer: " << flags.status() << "\n";
    return 2;
  }
  absl::Status s = RunWriter(*flags);
  std::cerr << "storage_crash_test --writer (store " << flags->store << "): " << s << "\n";
  return 1;
}

}  // namespace rangedb::crash_test
