// Randomized model test: random sequences of MVCC operations (plain and
// transactional writes, reads, scans, commits, aborts, pushes, GC) run against the
// real MVCC layer and against a simple in-memory model of the same rules; every
// result must agree, and the incrementally maintained MVCCStats must equal a full
// recompute after every operation. A failure prints the seed and the operation.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/mvcc.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

// ---------------------------------------------------------------------------
// The model: committed versions per key, plus at most one intent per key.

struct ModelVersion {
  Timestamp ts;
  std::optional<std::string> value;  // nullopt = tombstone
};

struct ModelIntent {
  std::string txn_id;
  Timestamp ts;
  std::optional<std::string> value;
};

struct ModelRead {
  bool conflict = false;
  std::optional<std::string> value;
};

class Model {
 public:
  ModelRead Read(const std::string& key, Timestamp ts, const std::string* txn_id) const {
    ModelRead out;
    auto intent = intents_.find(key);
    if (intent != intents_.end()) {
      if (txn_id != nullptr && intent->second.txn_id == *txn_id) {
        out.value = intent->second.value;
        return out;
      }
      if (intent->second.ts <= ts) {
        out.conflict = true;
        return out;
      }
    }
    auto versions = committed_.find(key);
    if (versions == committed_.end()) return out;
    for (auto it = versions->second.rbegin(); it != versions->second.rend(); ++it) {
      if (it->ts <= ts) {
        out.value = it->value;
        break;
      }
    }
    return out;
  }

  // Returns nullopt on conflict, else the timestamp the write lands at.
  std::optional<Timestamp> Write(const std::string& key, Timestamp ts,
                                 std::optional<std::string> value, const std::string* txn_id) {
    auto intent = intents_.find(key);
    if (intent != intents_.end()) {
      if (txn_id == nullptr || intent->second.txn_id != *txn_id) return std::nullopt;
      intent->second.ts = std::max(intent->second.ts, ts);
      intent->second.value = std::move(value);
      return intent->second.ts;
    }
    std::vector<ModelVersion>& versions = committed_[key];
    if (!versions.empty() && versions.back().ts >= ts) ts = versions.back().ts.Next();
    if (txn_id != nullptr) {
      intents_[key] = {*txn_id, ts, std::move(value)};
    } else {
      versions.push_back({ts, std::move(value)});
    }
    return ts;
  }

  void Commit(const std::string& txn_id, Timestamp commit_ts) {
    for (auto it = intents_.begin(); it != intents_.end();) {
      if (it->second.txn_id == txn_id) {
        committed_[it->first].push_back({commit_ts, it->second.value});
        it = intents_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Abort(const std::string& txn_id) {
    std::erase_if(intents_, [&](const auto& kv) { return kv.second.txn_id == txn_id; });
  }

  void Push(const std::string& txn_id, Timestamp to) {
    for (auto& [key, intent] : intents_) {
      if (intent.txn_id == txn_id && intent.ts < to) intent.ts = to;
    }
  }

 private:
  std::map<std::string, std::vector<ModelVersion>> committed_;  // ascending timestamps
  std::map<std::string, ModelIntent> intents_;
};

// ---------------------------------------------------------------------------
// The driver.

struct ActiveTxn {
  TxnContext ctx;
};

class ModelTest {
 public:
  explicit ModelTest(uint64_t seed) : seed_(seed), rng_(seed) {
    engine_ = std::move(OpenInMemoryEngine().value());
  }

  void Run(int steps) {
    for (step_ = 0; step_ < steps && !::testing::Test::HasFailure(); ++step_) {
      now_ += 1 + static_cast<int64_t>(rng_() % 3);
      switch (rng_() % 10) {
        case 0:
        case 1:
          PlainWrite();
          break;
        case 2:
        case 3:
          TxnWrite();
          break;
        case 4:
        case 5:
          Get();
          break;
        case 6:
          Scan();
          break;
        case 7:
          FinishTxn();
          break;
        case 8:
          PushTxn();
          break;
        case 9:
          GarbageCollect();
          break;
      }
      CheckStats();
    }
  }

 private:
  std::string Where() const { return absl::StrCat("seed=", seed_, " step=", step_); }
  std::string RandomKey() { return absl::StrCat("k", rng_() % 8); }
  Timestamp RandomReadTs() {
    return {gc_threshold_ + 1 + static_cast<int64_t>(rng_() % (now_ - gc_threshold_ + 5)), 0};
  }
  std::optional<std::string> RandomValue() {
    if (rng_() % 5 == 0) return std::nullopt;
    return absl::StrCat("v", step_);
  }
  ActiveTxn* RandomTxn() {
    if (txns_.empty() || (txns_.size() < 3 && rng_() % 4 == 0)) {
      ActiveTxn t;
      t.ctx.meta.id = absl::StrCat("txn", next_txn_++);
      t.ctx.meta.anchor_key = "anchor";
      t.ctx.meta.write_timestamp = {now_, 0};
      t.ctx.read_timestamp = {now_, 0};
      txns_.push_back(t);
    }
    return &txns_[rng_() % txns_.size()];
  }

  absl::StatusOr<MVCCWriteResult> Write(const std::string& key, Timestamp ts,
                                        const std::optional<std::string>& value,
                                        const TxnContext* txn) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    MVCCWriteOptions options{txn, &stats_};
    MVCCStats before = stats_;
    absl::StatusOr<MVCCWriteResult> r = value.has_value() ? MVCCPut(*b, key, ts, *value, options)
                                                          : MVCCDelete(*b, key, ts, options);
    if (r.ok()) {
      EXPECT_TRUE(b->Commit(false).ok());
    } else {
      stats_ = before;  // the batch is dropped
    }
    return r;
  }

  void ExpectWrite(const std::string& key, Timestamp ts, const std::optional<std::string>& value,
                   ActiveTxn* txn) {
    const std::string* id = txn != nullptr ? &txn->ctx.meta.id : nullptr;
    absl::StatusOr<MVCCWriteResult> got = Write(key, ts, value, txn ? &txn->ctx : nullptr);
    std::optional<Timestamp> want = model_.Write(key, ts, value, id);
    ASSERT_EQ(got.ok(), want.has_value()) << Where() << " write " << key << ": " << got.status();
    if (!got.ok()) {
      EXPECT_TRUE(IsLockConflict(got.status())) << Where() << got.status();
      return;
    }
    EXPECT_EQ(got->timestamp, *want) << Where() << " write " << key;
    // A coordinator moves its write timestamp up to where its intents landed.
    if (txn != nullptr && got->timestamp > txn->ctx.meta.write_timestamp) {
      txn->ctx.meta.write_timestamp = got->timestamp;
    }
  }

  void PlainWrite() {
    ExpectWrite(RandomKey(), {now_ - int64_t(rng_() % 6), 0}, RandomValue(), nullptr);
  }

  void TxnWrite() {
    ActiveTxn* txn = RandomTxn();
    txn->ctx.meta.sequence++;
    ExpectWrite(RandomKey(), txn->ctx.meta.write_timestamp, RandomValue(), txn);
  }

  void Get() {
    std::string key = RandomKey();
    Timestamp ts = RandomReadTs();
    ActiveTxn* txn = (!txns_.empty() && rng_() % 2 == 0) ? &txns_[rng_() % txns_.size()] : nullptr;
    absl::StatusOr<MVCCGetResult> got = MVCCGet(*engine_, key, ts, {txn ? &txn->ctx : nullptr, {}});
    ModelRead want = model_.Read(key, ts, txn ? &txn->ctx.meta.id : nullptr);
    ASSERT_EQ(!got.ok(), want.conflict) << Where() << " get " << key << ": " << got.status();
    if (!got.ok()) {
      EXPECT_TRUE(IsLockConflict(got.status())) << Where() << got.status();
      return;
    }
    EXPECT_EQ(got->found, want.value.has_value())
        << Where() << " get " << key << "@" << ts.ToString();
    if (got->found && want.value.has_value()) {
      EXPECT_EQ(got->value, *want.value) << Where();
    }
  }

  void Scan() {
    Timestamp ts = RandomReadTs();
    MVCCScanOptions options;
    options.reverse = rng_() % 2 == 0;
    absl::StatusOr<MVCCScanResult> got = MVCCScan(*engine_, "k", "l", ts, options);
    std::vector<std::string> want_rows, want_conflicts;
    for (int i = 0; i < 8; ++i) {
      std::string key = absl::StrCat("k", i);
      ModelRead r = model_.Read(key, ts, nullptr);
      if (r.conflict) want_conflicts.push_back(key);
      if (r.value.has_value()) want_rows.push_back(key + "=" + *r.value);
    }
    if (!want_conflicts.empty()) {
      ASSERT_FALSE(got.ok()) << Where() << " scan expected conflicts";
      std::vector<std::string> got_conflicts;
      for (const LockConflict& c : LockConflictsOf(got.status())) got_conflicts.push_back(c.key);
      if (options.reverse) std::reverse(got_conflicts.begin(), got_conflicts.end());
      EXPECT_EQ(got_conflicts, want_conflicts) << Where();
      return;
    }
    ASSERT_TRUE(got.ok()) << Where() << got.status();
    std::vector<std::string> got_rows;
    for (const MVCCKeyValue& kv : got->rows) got_rows.push_back(kv.key + "=" + kv.value);
    if (options.reverse) std::reverse(got_rows.begin(), got_rows.end());
    EXPECT_EQ(got_rows, want_rows) << Where() << " scan@" << ts.ToString();
  }

  void Resolve(const TxnContext& txn, TxnStatus status, Timestamp ts) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    IntentResolution res{txn.meta, status, {}};
    res.txn.write_timestamp = ts;
    absl::StatusOr<MVCCResolveRangeResult> r =
        MVCCResolveIntentRange(*b, "k", "l", res, 0, 0, &stats_);
    ASSERT_TRUE(r.ok()) << Where() << r.status();
    ASSERT_TRUE(b->Commit(false).ok());
  }

  void FinishTxn() {
    if (txns_.empty()) return;
    size_t i = rng_() % txns_.size();
    TxnContext txn = txns_[i].ctx;
    txns_.erase(txns_.begin() + static_cast<long>(i));
    if (rng_() % 3 == 0) {
      Resolve(txn, TxnStatus::kAborted, txn.meta.write_timestamp);
      model_.Abort(txn.meta.id);
    } else {
      // Commit at the write timestamp, or above it (as after a push or refresh).
      Timestamp commit_ts = txn.meta.write_timestamp;
      if (rng_() % 2 == 0) commit_ts = std::max(commit_ts, Timestamp{now_, 0});
      Resolve(txn, TxnStatus::kCommitted, commit_ts);
      model_.Commit(txn.meta.id, commit_ts);
    }
  }

  void PushTxn() {
    if (txns_.empty()) return;
    ActiveTxn& txn = txns_[rng_() % txns_.size()];
    Timestamp to{now_ + 2, 0};
    Resolve(txn.ctx, TxnStatus::kPending, to);
    model_.Push(txn.ctx.meta.id, to);
    if (txn.ctx.meta.write_timestamp < to) txn.ctx.meta.write_timestamp = to;
  }

  void GarbageCollect() {
    // The range layer refuses writes at or below the GC threshold, so the test keeps
    // every write it may still make (plain writes reach back 5, and active
    // transactions write at their write timestamps) above it.
    int64_t threshold = now_ - 6 - static_cast<int64_t>(rng_() % 20);
    for (const ActiveTxn& t : txns_) {
      threshold = std::min(threshold, t.ctx.meta.write_timestamp.wall_ns - 1);
    }
    if (threshold <= gc_threshold_) return;
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    absl::StatusOr<MVCCGCResult> r = MVCCGarbageCollect(*b, "k", "l", {threshold, 0}, 0, &stats_);
    ASSERT_TRUE(r.ok()) << Where() << r.status();
    ASSERT_TRUE(b->Commit(false).ok());
    gc_threshold_ = threshold;  // reads below it are no longer meaningful
  }

  void CheckStats() {
    absl::StatusOr<MVCCStats> computed = ComputeStats(*engine_, "", "\xff\xff");
    ASSERT_TRUE(computed.ok()) << computed.status();
    ASSERT_EQ(computed->ToString(), stats_.ToString()) << Where();
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  std::unique_ptr<Engine> engine_;
  Model model_;
  MVCCStats stats_;
  std::vector<ActiveTxn> txns_;
  int next_txn_ = 0;
  int64_t now_ = 100;
  int64_t gc_threshold_ = 0;
  int step_ = 0;
};

TEST(MVCCModelTest, RandomOperationSequencesMatchTheModel) {
  for (uint64_t seed = 1; seed <= 30 && !::testing::Test::HasFailure(); ++seed) {
    ModelTest(seed).Run(1500);
  }
}

}  // namespace
}  // namespace rangedb
