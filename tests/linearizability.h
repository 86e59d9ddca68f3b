// A linearizability checker for histories of single-key register operations, in the
// style of Wing & Gong's search with Lowe's memoization ("Testing for linearizability",
// Concurrency and Computation 2017), as implemented by Porcupine
// (github.com/anishathalye/porcupine).
//
// A history is a list of Operations that clients issued against a key-value store, each
// with the interval [call_ns, return_ns] in which it was outstanding (any monotonic clock
// shared by all clients). The history is linearizable if every operation can be given a
// point inside its interval such that executing the operations in the order of those
// points against a single register per key gives exactly the recorded results.
// Registers of different keys are independent (linearizability is compositional,
// Herlihy & Wing 1990, Theorem 1), so each key is checked on its own and a violation
// names its key.
//
// The register model: a key holds either nothing (absent) or a string.
//   Get                returns the current value (found + value, or not found)
//   Put(v)             sets v
//   Delete             makes the key absent
//   ConditionalPut(e,v) sets v iff the current value equals e ("expect absent" when e is
//                      nullopt); otherwise fails and reports the actual current value,
//                      which must match the register (unless it was not recorded).
//
// Outcomes: kOk means the result is known and is checked; kFailed means the operation
// provably had no effect (it is dropped); kAmbiguous means it may or may not have taken
// effect, at any point after its call. An ambiguous write is given an infinite return
// time (linearizing it after everything else is the "never happened" case); an
// ambiguous Get says nothing and is dropped. Before the search, an ambiguous write whose
// value nobody mentions is dropped, and one whose value only it writes is given the
// earliest return of the operations that observed it (see BoundAmbiguousWrites in the
// .cc): both keep the verdict exact and keep failing searches from exploring every
// subset of pending ambiguous writes. A ConditionalPut whose condition failed is
// NOT kFailed: it is kOk with cput_succeeded == false.
//
// The search is exponential in the worst case. It is bounded by CheckOptions, and a key
// whose search runs out of budget is reported as kUnknown, never as a violation.
//
// Thread safety: stateless functions; a call uses only its arguments, so concurrent calls
// are safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rangedb::linearizability {

// A register value: nullopt is "absent".
using Value = std::optional<std::string>;

enum class OpKind { kGet, kPut, kConditionalPut, kDelete };
enum class Outcome { kOk, kFailed, kAmbiguous };

// One client operation on one key. Fields not used by `kind` are ignored.
struct Operation {
  int64_t client_id = 0;  // only for messages
  std::string key;
  OpKind kind = OpKind::kGet;

  // Input.
  std::string write_value;  // kPut, kConditionalPut: the value written
  Value expected_value;     // kConditionalPut: required current value; nullopt = absent

  // Output, checked only when outcome == kOk.
  Value read_value;             // kGet: the value returned; nullopt = not found
  bool cput_succeeded = false;  // kConditionalPut: the condition held and v was written
  bool actual_known = false;    // kConditionalPut, condition failed: actual_value recorded
  Value actual_value;           // kConditionalPut, condition failed: current value reported

  int64_t call_ns = 0;
  int64_t return_ns = 0;  // REQUIRES: >= call_ns, unless outcome == kAmbiguous
  Outcome outcome = Outcome::kOk;
};

// Constructors for the common cases (outcome kOk; set .outcome to change it).
Operation GetOp(int64_t client_id, std::string key, Value read_value, int64_t call_ns,
                int64_t return_ns);
Operation PutOp(int64_t client_id, std::string key, std::string value, int64_t call_ns,
                int64_t return_ns);
Operation DeleteOp(int64_t client_id, std::string key, int64_t call_ns, int64_t return_ns);
// A ConditionalPut that succeeded.
Operation CPutOp(int64_t client_id, std::string key, Value expected, std::string value,
                 int64_t call_ns, int64_t return_ns);
// A ConditionalPut whose condition failed; `actual` is the reported current value, or
// nullopt if the client did not record it (then actual_known is false).
Operation CPutFailedOp(int64_t client_id, std::string key, Value expected, std::string value,
                       std::optional<Value> actual, int64_t call_ns, int64_t return_ns);

// "client 3 CPut(k, expect absent, v7) -> ok [100, 250]", for messages.
std::string DescribeOperation(const Operation& op);

enum class Verdict { kOk, kViolation, kUnknown };
const char* VerdictName(Verdict verdict);  // "ok" | "violation" | "unknown"

// Limits on one key's search. Exceeding either makes that key kUnknown.
struct CheckOptions {
  // One step is one visit of an entry of the history by the search.
  int64_t max_steps_per_key = 20'000'000;
  // Approximate memory of the memo of (linearized set, register value) pairs.
  int64_t max_cache_bytes_per_key = int64_t{512} << 20;
};

struct KeyResult {
  std::string key;
  Verdict verdict = Verdict::kOk;
  // kViolation: the shortest non-linearizable prefix of the key's history (the
  // operation whose return could not be reached, the best partial linearization before
  // it and the operations still pending). kUnknown: which budget ran out.
  std::string explanation;
  int64_t operations = 0;  // operations checked (after dropping failed ones)
  int64_t steps = 0;
};

struct CheckResult {
  // kViolation if any key has one, else kUnknown if any key ran out of budget, else kOk.
  Verdict verdict = Verdict::kOk;
  std::string key;              // the first key with that verdict (violation or unknown)
  std::string explanation;      // that key's explanation, prefixed with the key
  std::vector<KeyResult> keys;  // every key, in key order
};

// Checks one key's operations. REQUIRES: every op.key == key and the history is valid
// (see CheckHistory).
KeyResult CheckKey(const std::string& key, const std::vector<Operation>& ops,
                   const CheckOptions& options = {});

// Partitions `history` by key and checks each key. Returns InvalidArgument for a
// malformed record (return before call on a non-ambiguous operation); a violation is
// not an error but a CheckResult.
[[nodiscard]] absl::StatusOr<CheckResult> CheckHistory(const std::vector<Operation>& history,
                                                       const CheckOptions& options = {});

}  // namespace rangedb::linearizability
