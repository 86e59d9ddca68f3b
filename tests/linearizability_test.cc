// Tests of the linearizability checker (tests/linearizability.h): hand-written histories
// for each rule of the register model, then random histories from a simulated register
// with real linearization points, which must pass, and the same histories with one read
// corrupted, which must not.
#include "tests/linearizability.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rangedb::linearizability {
namespace {

using ::testing::HasSubstr;

CheckResult MustCheck(const std::vector<Operation>& history, const CheckOptions& options = {}) {
  absl::StatusOr<CheckResult> result = CheckHistory(history, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CheckResult{};
}

Operation Ambiguous(Operation op) {
  op.outcome = Outcome::kAmbiguous;
  return op;
}

Operation Failed(Operation op) {
  op.outcome = Outcome::kFailed;
  return op;
}

TEST(LinearizabilityTest, EmptyHistoryIsLinearizable) {
  EXPECT_EQ(MustCheck({}).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, SequentialHistoryIsLinearizable) {
  const CheckResult r = MustCheck({
      GetOp(1, "k", std::nullopt, 0, 10),
      PutOp(1, "k", "a", 20, 30),
      GetOp(2, "k", "a", 40, 50),
      CPutOp(2, "k", "a", "b", 60, 70),
      CPutFailedOp(1, "k", "a", "c", Value("b"), 80, 90),
      DeleteOp(1, "k", 100, 110),
      GetOp(2, "k", std::nullopt, 120, 130),
      CPutOp(2, "k", std::nullopt, "d", 140, 150),
      GetOp(1, "k", "d", 160, 170),
  });
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, ConcurrentOverlappingOpsLinearizeInSomeOrder) {
  // Put(b) must be ordered before Put(a) for the last read, although it was called
  // later; the read inside both intervals sees b, so it sits between them.
  const CheckResult r = MustCheck({
      PutOp(1, "k", "a", 0, 100),
      PutOp(2, "k", "b", 10, 90),
      GetOp(3, "k", "b", 20, 30),
      GetOp(3, "k", "a", 150, 160),
  });
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, TouchingIntervalsCountAsConcurrent) {
  const CheckResult r = MustCheck({
      PutOp(1, "k", "a", 0, 10),
      GetOp(2, "k", std::nullopt, 10, 20),
  });
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, StaleReadAfterCompletedPutIsViolation) {
  const CheckResult r = MustCheck({
      PutOp(1, "k", "1", 0, 10),
      PutOp(1, "k", "2", 20, 30),
      GetOp(2, "k", "1", 40, 50),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "k");
  EXPECT_THAT(r.explanation, HasSubstr("Get(k) -> \"1\""));
  EXPECT_THAT(r.explanation, HasSubstr("leaving the register \"2\""));
}

TEST(LinearizabilityTest, ReadersSeeingConcurrentPutsInOppositeOrdersIsViolation) {
  // Both puts overlap every read, but client 3 sees 1 then 2 and client 4 sees 2
  // then 1: no single order of the puts explains both.
  const CheckResult r = MustCheck({
      PutOp(1, "k", "1", 0, 100),
      PutOp(2, "k", "2", 0, 100),
      GetOp(3, "k", "1", 10, 20),
      GetOp(3, "k", "2", 30, 40),
      GetOp(4, "k", "2", 10, 20),
      GetOp(4, "k", "1", 30, 40),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, ReadOfValueNeverWrittenIsViolation) {
  const CheckResult r = MustCheck({PutOp(1, "k", "a", 0, 10), GetOp(2, "k", "zzz", 20, 30)});
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, AmbiguousPutObservedLaterIsOk) {
  // The put may take effect long after the client gave up on it.
  const CheckResult r = MustCheck({
      Ambiguous(PutOp(1, "k", "a", 0, 10)),
      GetOp(2, "k", std::nullopt, 100, 110),
      GetOp(2, "k", "a", 1000, 1010),
  });
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, AmbiguousPutNeverObservedIsOk) {
  const CheckResult r = MustCheck({
      PutOp(1, "k", "a", 0, 10),
      Ambiguous(PutOp(1, "k", "b", 20, 30)),
      GetOp(2, "k", "a", 40, 50),
      GetOp(2, "k", "a", 60, 70),
  });
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, AmbiguousPutObservedThenUnobservedIsViolation) {
  // Once seen, the ambiguous put has happened; it cannot be undone without a write.
  const CheckResult r = MustCheck({
      PutOp(1, "k", "a", 0, 10),
      Ambiguous(PutOp(1, "k", "b", 20, 30)),
      GetOp(2, "k", "b", 40, 50),
      GetOp(2, "k", "a", 60, 70),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnobservedAmbiguousPutStillExplainsAFailedCPutWithUnknownActual) {
  // Only the ambiguous put of x explains why CPut(expect y) failed; it must not be
  // dropped just because nobody read x.
  const Operation put = PutOp(1, "k", "y", 0, 10);
  const Operation cput = CPutFailedOp(2, "k", Value("y"), "z", std::nullopt, 40, 50);
  EXPECT_EQ(MustCheck({put, Ambiguous(PutOp(1, "k", "x", 20, 30)), cput}).verdict, Verdict::kOk);
  EXPECT_EQ(MustCheck({put, cput}).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, ObservedAmbiguousPutTakesEffectBeforeItsFirstObserver) {
  // x is read at [40, 50], so the put happened before 50; the later read of absent
  // cannot be explained.
  const CheckResult r = MustCheck({
      Ambiguous(PutOp(1, "k", "x", 0, 10)),
      GetOp(2, "k", "x", 40, 50),
      GetOp(3, "k", std::nullopt, 60, 70),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, AmbiguousGetIsDropped) {
  Operation get = Ambiguous(GetOp(2, "k", "garbage", 20, 30));
  const CheckResult r = MustCheck({PutOp(1, "k", "a", 0, 10), get});
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, FailedPutHasNoEffect) {
  const CheckResult ok =
      MustCheck({Failed(PutOp(1, "k", "a", 0, 10)), GetOp(2, "k", std::nullopt, 20, 30)});
  EXPECT_EQ(ok.verdict, Verdict::kOk) << ok.explanation;
  const CheckResult bad =
      MustCheck({Failed(PutOp(1, "k", "a", 0, 10)), GetOp(2, "k", "a", 20, 30)});
  EXPECT_EQ(bad.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, ConditionalPutSucceedsOnlyIfExpectedMatches) {
  EXPECT_EQ(MustCheck({CPutOp(1, "k", std::nullopt, "a", 0, 10)}).verdict, Verdict::kOk);
  EXPECT_EQ(MustCheck({CPutOp(1, "k", Value("x"), "a", 0, 10)}).verdict, Verdict::kViolation);
  EXPECT_EQ(
      MustCheck({PutOp(1, "k", "x", 0, 10), CPutOp(1, "k", std::nullopt, "a", 20, 30)}).verdict,
      Verdict::kViolation);
}

TEST(LinearizabilityTest, FailedConditionalPutMustReportTheActualValue) {
  const Operation put = PutOp(1, "k", "x", 0, 10);
  EXPECT_EQ(MustCheck({put, CPutFailedOp(2, "k", Value("y"), "a", Value("x"), 20, 30)}).verdict,
            Verdict::kOk);
  EXPECT_EQ(MustCheck({put, CPutFailedOp(2, "k", Value("y"), "a", std::nullopt, 20, 30)}).verdict,
            Verdict::kOk);
  // Wrong actual value.
  const CheckResult wrong =
      MustCheck({put, CPutFailedOp(2, "k", Value("y"), "a", Value("z"), 20, 30)});
  EXPECT_EQ(wrong.verdict, Verdict::kViolation);
  EXPECT_THAT(wrong.explanation, HasSubstr("condition failed, actual \"z\""));
  // Reported absent while the register held x.
  EXPECT_EQ(
      MustCheck({put, CPutFailedOp(2, "k", Value("y"), "a", Value(std::nullopt), 20, 30)}).verdict,
      Verdict::kViolation);
  // The condition held, so the cput cannot have failed.
  EXPECT_EQ(MustCheck({put, CPutFailedOp(2, "k", Value("x"), "a", Value("x"), 20, 30)}).verdict,
            Verdict::kViolation);
}

TEST(LinearizabilityTest, AmbiguousConditionalPutMayOrMayNotApply) {
  const Operation put = PutOp(1, "k", "x", 0, 10);
  const Operation cput = Ambiguous(CPutOp(2, "k", Value("x"), "y", 20, 30));
  EXPECT_EQ(MustCheck({put, cput, GetOp(3, "k", "y", 40, 50)}).verdict, Verdict::kOk);
  EXPECT_EQ(MustCheck({put, cput, GetOp(3, "k", "x", 40, 50)}).verdict, Verdict::kOk);
  // Its condition never holds, so it cannot have written.
  const Operation never = Ambiguous(CPutOp(2, "k", Value("q"), "y", 20, 30));
  EXPECT_EQ(MustCheck({put, never, GetOp(3, "k", "y", 40, 50)}).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, DeleteMakesTheKeyAbsent) {
  EXPECT_EQ(MustCheck({PutOp(1, "k", "a", 0, 10), DeleteOp(1, "k", 20, 30),
                       GetOp(2, "k", std::nullopt, 40, 50)})
                .verdict,
            Verdict::kOk);
  EXPECT_EQ(
      MustCheck({PutOp(1, "k", "a", 0, 10), DeleteOp(1, "k", 20, 30), GetOp(2, "k", "a", 40, 50)})
          .verdict,
      Verdict::kViolation);
}

TEST(LinearizabilityTest, KeysAreCheckedIndependentlyAndTheViolatingKeyIsNamed) {
  // Reading "a" on key x after "b" was written to key y is fine: different registers.
  const CheckResult r = MustCheck({
      PutOp(1, "x", "a", 0, 10),
      PutOp(1, "y", "b", 20, 30),
      GetOp(2, "x", "a", 40, 50),
      PutOp(1, "z", "1", 0, 10),
      PutOp(1, "z", "2", 20, 30),
      GetOp(2, "z", "1", 40, 50),
      GetOp(2, "y", "b", 60, 70),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "z");
  EXPECT_THAT(r.explanation, HasSubstr("key z: "));
  ASSERT_EQ(r.keys.size(), 3u);
  EXPECT_EQ(r.keys[0].verdict, Verdict::kOk);
  EXPECT_EQ(r.keys[1].verdict, Verdict::kOk);
  EXPECT_EQ(r.keys[2].verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, ReturnBeforeCallIsInvalidArgument) {
  absl::StatusOr<CheckResult> r = CheckHistory({PutOp(1, "k", "a", 10, 5)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LinearizabilityTest, ExhaustedBudgetIsUnknownNotViolation) {
  std::vector<Operation> history;
  for (int i = 0; i < 20; ++i) history.push_back(PutOp(i, "k", absl::StrCat(i), 0, 100));
  history.push_back(GetOp(99, "k", "never", 200, 300));
  CheckOptions tiny;
  tiny.max_steps_per_key = 50;
  const CheckResult r = MustCheck(history, tiny);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_THAT(r.explanation, HasSubstr("budget exceeded"));
}

// ---- Random histories from a simulated linearizable register ----

struct SimOp {
  Operation op;
  int64_t linearize_ns;  // where it took effect (if it did)
  bool took_effect;      // writes: whether the simulated register applied it
};

// Generates `num_ops` operations on `key` from `num_clients` clients, each issuing one
// operation at a time with random gaps and durations. Each operation takes effect at a
// random point of its interval (ambiguous ones possibly after it, or never; failed
// ones never), and results come from applying them in that order to one register.
// A failed cput reports its actual value, as ConditionFailedError does
// (proto/kv.proto), except in `unknown_actual_percent` of cases.
std::vector<Operation> GenerateHistory(uint64_t seed, const std::string& key, int num_ops,
                                       int num_clients, int unknown_actual_percent = 0) {
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<SimOp> sim;
  std::vector<int64_t> clock_ns(num_clients, 0);
  std::vector<std::string> written;
  for (int i = 0; i < num_ops; ++i) {
    const int client = static_cast<int>(uniform(0, num_clients - 1));
    SimOp s;
    Operation& op = s.op;
    op.client_id = client;
    op.key = key;
    op.call_ns = clock_ns[client] + uniform(0, 30);
    op.return_ns = op.call_ns + uniform(1, 100);
    clock_ns[client] = op.return_ns;
    const int64_t dice = uniform(0, 99);
    op.kind = dice < 45   ? OpKind::kGet
              : dice < 70 ? OpKind::kPut
              : dice < 95 ? OpKind::kConditionalPut
                          : OpKind::kDelete;
    op.write_value = absl::StrCat("v", i);
    s.took_effect = true;
    s.linearize_ns = uniform(op.call_ns, op.return_ns);
    const int64_t fate = uniform(0, 99);
    if (fate < 5) {
      op.outcome = Outcome::kAmbiguous;
      s.took_effect = uniform(0, 1) == 0;
      s.linearize_ns = op.call_ns + uniform(0, 300);  // maybe long after the return
    } else if (fate < 10 && op.kind != OpKind::kGet) {
      op.outcome = Outcome::kFailed;
      s.took_effect = false;
    }
    if (op.kind == OpKind::kConditionalPut) {
      const int64_t pick = uniform(0, 3);
      // 0, 1: the current value (filled in below); 2: absent; 3: an older value.
      if (pick == 2) op.expected_value = std::nullopt;
      if (pick == 3 && !written.empty()) {
        op.expected_value = written[uniform(0, static_cast<int64_t>(written.size()) - 1)];
      }
      op.cput_succeeded = pick <= 1;  // marker for "expect the current value"
    }
    written.push_back(op.write_value);
    sim.push_back(std::move(s));
  }
  std::stable_sort(sim.begin(), sim.end(),
                   [](const SimOp& a, const SimOp& b) { return a.linearize_ns < b.linearize_ns; });
  Value reg;
  std::vector<Operation> history;
  for (SimOp& s : sim) {
    Operation& op = s.op;
    switch (op.kind) {
      case OpKind::kGet:
        op.read_value = reg;
        break;
      case OpKind::kPut:
        if (s.took_effect) reg = op.write_value;
        break;
      case OpKind::kDelete:
        if (s.took_effect) reg = std::nullopt;
        break;
      case OpKind::kConditionalPut:
        if (op.cput_succeeded) op.expected_value = reg;
        op.cput_succeeded = op.expected_value == reg;
        if (!op.cput_succeeded) {
          op.actual_known = uniform(0, 99) >= unknown_actual_percent;
          op.actual_value = reg;
        }
        if (s.took_effect && op.cput_succeeded) reg = op.write_value;
        break;
    }
    history.push_back(std::move(op));
  }
  std::shuffle(history.begin(), history.end(), rng);  // the checker must not rely on order
  return history;
}

bool IsDefiniteWrite(const Operation& op) {
  if (op.outcome != Outcome::kOk) return false;
  return op.kind == OpKind::kPut || (op.kind == OpKind::kConditionalPut && op.cput_succeeded);
}

bool IsDefiniteOverwrite(const Operation& op) {
  return IsDefiniteWrite(op) || (op.outcome == Outcome::kOk && op.kind == OpKind::kDelete);
}

// Makes one read return a value that was certainly overwritten before it started: a
// definite write W1 of v, then a definite overwrite W2 called after W1 returned, and
// the read called after W2 returned. Values are unique, so nothing else writes v.
// Returns false if the history has no such triple.
bool MakeOneReadStale(std::vector<Operation>& history, std::mt19937_64& rng) {
  std::vector<int> gets;
  for (int i = 0; i < static_cast<int>(history.size()); ++i) {
    if (history[i].kind == OpKind::kGet && history[i].outcome == Outcome::kOk) gets.push_back(i);
  }
  std::shuffle(gets.begin(), gets.end(), rng);
  for (int g : gets) {
    Operation& get = history[g];
    for (const Operation& w2 : history) {
      if (!IsDefiniteOverwrite(w2) || w2.return_ns >= get.call_ns) continue;
      for (const Operation& w1 : history) {
        if (!IsDefiniteWrite(w1) || w1.return_ns >= w2.call_ns) continue;
        if (get.read_value == Value(w1.write_value)) continue;
        get.read_value = w1.write_value;
        return true;
      }
    }
  }
  return false;
}

constexpr int kRandomSeeds = 20;
constexpr int kRandomOps = 600;
constexpr int kRandomClients = 6;

TEST(LinearizabilityRandomTest, SimulatedRegisterHistoriesAreLinearizable) {
  for (uint64_t seed = 1; seed <= kRandomSeeds; ++seed) {
    const CheckResult r = MustCheck(GenerateHistory(seed, "k", kRandomOps, kRandomClients));
    EXPECT_EQ(r.verdict, Verdict::kOk) << "seed " << seed << ": " << r.explanation;
  }
}

// A failed cput without its actual value can be explained by an ambiguous write nobody
// read, so those writes stay in the search; it gets slower, but must stay exact.
TEST(LinearizabilityRandomTest, FailedCPutsWithUnknownActualValues) {
  for (uint64_t seed = 1; seed <= kRandomSeeds; ++seed) {
    std::vector<Operation> history = GenerateHistory(seed, "k", 200, 4, 20);
    const CheckResult ok = MustCheck(history);
    EXPECT_EQ(ok.verdict, Verdict::kOk) << "seed " << seed << ": " << ok.explanation;
    std::mt19937_64 rng(seed);
    ASSERT_TRUE(MakeOneReadStale(history, rng)) << "seed " << seed;
    const CheckResult bad = MustCheck(history);
    EXPECT_EQ(bad.verdict, Verdict::kViolation) << "seed " << seed << ": " << bad.explanation;
  }
}

TEST(LinearizabilityRandomTest, ReadOfANeverWrittenValueIsCaught) {
  for (uint64_t seed = 1; seed <= kRandomSeeds; ++seed) {
    std::vector<Operation> history = GenerateHistory(seed, "k", kRandomOps, kRandomClients);
    std::mt19937_64 rng(seed);
    std::vector<int> gets;
    for (int i = 0; i < static_cast<int>(history.size()); ++i) {
      if (history[i].kind == OpKind::kGet && history[i].outcome == Outcome::kOk) {
        gets.push_back(i);
      }
    }
    ASSERT_FALSE(gets.empty());
    history[gets[rng() % gets.size()]].read_value = "never-written";
    const CheckResult r = MustCheck(history);
    EXPECT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
    EXPECT_THAT(r.explanation, HasSubstr("never-written")) << "seed " << seed;
  }
}

TEST(LinearizabilityRandomTest, StaleReadIsCaught) {
  for (uint64_t seed = 1; seed <= kRandomSeeds; ++seed) {
    std::vector<Operation> history = GenerateHistory(seed, "k", kRandomOps, kRandomClients);
    std::mt19937_64 rng(seed);
    ASSERT_TRUE(MakeOneReadStale(history, rng)) << "seed " << seed;
    const CheckResult r = MustCheck(history);
    EXPECT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
  }
}

TEST(LinearizabilityRandomTest, ManyKeysAreCheckedSeparately) {
  std::vector<Operation> history;
  for (int k = 0; k < 5; ++k) {
    std::vector<Operation> ops = GenerateHistory(100 + k, absl::StrCat("key", k), 300, 4);
    history.insert(history.end(), ops.begin(), ops.end());
  }
  EXPECT_EQ(MustCheck(history).verdict, Verdict::kOk);
  std::mt19937_64 rng(7);
  std::vector<Operation> key3;
  std::vector<Operation> rest;
  for (Operation& op : history) (op.key == "key3" ? key3 : rest).push_back(op);
  ASSERT_TRUE(MakeOneReadStale(key3, rng));
  rest.insert(rest.end(), key3.begin(), key3.end());
  const CheckResult r = MustCheck(rest);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "key3");
}

TEST(LinearizabilityRandomTest, TwoThousandOpsOfOneKeyCheckInSeconds) {
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::vector<Operation> history = GenerateHistory(seed, "k", 2000, 10);
    const CheckResult r = MustCheck(history);
    EXPECT_EQ(r.verdict, Verdict::kOk) << "seed " << seed << ": " << r.explanation;
    std::mt19937_64 rng(seed);
    ASSERT_TRUE(MakeOneReadStale(history, rng));
    EXPECT_EQ(MustCheck(history).verdict, Verdict::kViolation) << "seed " << seed;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

}  // namespace
}  // namespace rangedb::linearizability
