// A serializability checker for list-append transaction histories, after Elle
// (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
// Observations", VLDB 2020). Section numbers below refer to that paper.
//
// The model. Keys are strings; each key's value is a list of int64 elements, initially
// empty. A transaction is a list of micro-ops: append(key, element), or read(key), which
// returns the whole list. Every element is appended at most once per key in the whole
// history (the workload guarantees it), so a read tells exactly which appends it saw and
// in what order: list-append histories are "recoverable and traceable" (section 4).
//
// Outcomes. kOk: committed, reads known. kFailed: definitely did not commit; its appends
// must never be visible. kAmbiguous: may or may not have committed; its reads are
// ignored and its return time is taken as infinite. An ambiguous transaction one of
// whose elements some committed read observed did commit, and is treated as committed
// (as a writer); one nobody observed is dropped.
//
// What is checked.
//   Reads, one at a time: kDuplicateElements (a list holds an element twice),
//   kGarbageRead (an element nobody appended), kG1a (an element of a failed
//   transaction), kInternal (a read that disagrees with the transaction's own earlier
//   reads and appends of the key, or holds an element it only appends later), kG1b (a
//   list ending at a non-final append of another transaction).
//   Version order, per key (section 4.2): the longest read of the key (the first of
//   equals; a repeated element counts at its first place); every other read
//   must be a prefix of it, else kIncompatibleOrder. If exactly one committed element
//   of the key appears in no read at all, it is known to follow the longest read and
//   ends the order (several such elements have no known order and are left out).
//   Dependencies (Adya's, section 3), between committed transactions, from the first
//   read of each key that precedes the reader's own appends to it (an "external" read):
//     ww: on a key, consecutive elements of the version order written by W1 then W2;
//     wr: W appended the last element of T's read;
//     rw: T's read ends just before an element appended by W (a later version);
//     rt: with CheckOptions::realtime, T1 returned before T2 was called (T2 may be an
//         observed ambiguous transaction; an ambiguous one never returns). Only a
//         transitive reduction is built: each transaction is linked from the completed
//         transactions that have no completed real-time successor yet when it is called,
//         which is at most the number of transactions outstanding at that moment.
//   Cycles (section 4.4), one per strongly connected component and class:
//     kG0       only ww edges;
//     kG1c      ww and wr edges, at least one wr;
//     kGSingle  exactly one rw edge, the rest ww/wr;
//     kG2       two or more rw edges.
//   With realtime, a component holding no cycle of a class without rt edges is searched
//   again with rt edges allowed; such a report has realtime set and says "(realtime)":
//   it violates strict serializability, not necessarily serializability.
//
// Sets of keys: inserts, scans and range deletes (predicates). Finding 1 of issue 13
// (a transactional DeleteRange that missed keys, letting phantoms in) needs reads and
// writes of *spans*, which lists cannot express. They are modelled on a family of
// keys that are each inserted at most once:
//   insert(k)                   writes k (a fresh key, never written before);
//   scan(start, end) -> K       reads every key of [start, end): those in K are
//                               present, every other known key of the span absent;
//   delete-range(start, end) -> D
//                               reads the span like a scan (D present, the rest
//                               absent) and writes a deletion of every key in D.
// So each key has at most three versions: initial (absent), inserted (by its one
// inserter I), deleted (by its deleter D); a present observation reads I's version,
// which makes it as traceable as a list read. A scan is a predicate read (Adya): it
// reads every key of the span — absent ones too — so it depends on later inserts
// into the span (rw, the phantom edge) exactly like a read of one key depends on the
// next version. The edges, between committed transactions, from the first
// observation of a key that precedes the observer's own write of it:
//   present:  I -wr-> R  (I -ww-> R when R deletes it), and R -rw-> D;
//   absent, read before the insert:  R -rw-> I;
//   absent, read after the delete:   D -wr-> R.
// An absent observation of a key that was inserted and deleted could be either of
// the last two. CheckOptions::deletion_log_key settles it: every transaction that
// deletes appends one element to that list key, and every transaction that observes
// keys of the family reads it first; then R read after D iff R's read of the log
// holds D's element. Without the log, such an observation adds no edge (sound, less
// complete). Within a committed transaction, each observation must agree with its
// earlier observations and writes of the key (kInternal): e.g. a delete-range that
// leaves a key its own earlier scan saw present. Also reported: kG1a (a present key
// whose inserter failed), kG1b (present, but its inserter deleted it later), a key
// deleted by two committed transactions (kIncompatibleOrder), and keys nobody
// inserted or outside the span (kGarbageRead), or listed twice (kDuplicateElements).
// Keys of lists and keys of sets must be disjoint: no list key may be inserted or lie
// in a scanned or deleted span.
//
// Compare-and-set registers are lists too: a successful CAS(k, expected, expected +
// [e]) is read(k) = expected followed by append(k, e); a failed one is read(k) = the
// actual value it reported. So a failed CAS that shows a value from after the
// transaction's snapshot is a read like any other (finding 2 of issue 13).
//
// Cost: linear in the size of the history and its edges, plus the cycle search in
// non-trivial components, which is a breadth-first search per candidate edge and is
// bounded by CheckOptions::max_search_steps.
//
// Thread safety: stateless; a call uses only its arguments, so concurrent calls are safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rangedb::list_append {

enum class Outcome { kOk, kFailed, kAmbiguous };

struct MicroOp {
  enum class Kind { kAppend, kRead, kInsert, kScan, kDeleteRange };
  Kind kind = Kind::kRead;
  std::string key;                 // kScan, kDeleteRange: the span's start
  int64_t element = 0;             // kAppend: the element appended
  std::vector<int64_t> read_list;  // kRead: the list observed; used only when kOk
  std::string end_key;             // kScan, kDeleteRange: the span's end (exclusive)
  // kScan: the keys present; kDeleteRange: the keys deleted. Used only when kOk.
  std::vector<std::string> keys;
};

MicroOp AppendOp(std::string key, int64_t element);
MicroOp ReadOp(std::string key, std::vector<int64_t> read_list);
MicroOp InsertOp(std::string key);
MicroOp ScanOp(std::string start, std::string end, std::vector<std::string> present);
MicroOp DeleteRangeOp(std::string start, std::string end, std::vector<std::string> deleted);

struct Transaction {
  int64_t id = 0;       // unique in the history; reports name transactions "T<id>"
  int64_t process = 0;  // the client that ran it; only for messages
  std::vector<MicroOp> ops;
  int64_t call_ns = 0;
  int64_t return_ns = 0;  // REQUIRES: >= call_ns unless kAmbiguous (then ignored)
  Outcome outcome = Outcome::kOk;
};

enum class Anomaly {
  kG0,                 // write cycle
  kG1a,                // aborted read
  kG1b,                // intermediate read
  kG1c,                // circular information flow
  kGSingle,            // read skew: a cycle with exactly one anti-dependency
  kG2,                 // a cycle with two or more anti-dependencies
  kIncompatibleOrder,  // two reads of a key, neither a prefix of the other
  kDuplicateElements,  // a read lists an element twice
  kInternal,           // a read contradicts its own transaction's earlier ops
  kGarbageRead,        // a read lists an element no transaction appended
};

// "G0", "G1a", "G1b", "G1c", "G-single", "G2", "incompatible-order",
// "duplicate-elements", "internal", "garbage-read".
const char* AnomalyName(Anomaly anomaly);

struct AnomalyReport {
  Anomaly kind = Anomaly::kG0;
  // The transactions involved. Cycles: in cycle order, starting at the smallest id.
  // G1a, G1b: {writer, reader}. kIncompatibleOrder: {reader of the longest list,
  // reader of the other}. The rest: {reader}.
  std::vector<int64_t> txn_ids;
  std::string key;        // the key, for the per-read anomalies; empty for cycles
  bool realtime = false;  // the cycle needs real-time edges
  // Cycles name each edge: "T3 -ww(x)-> T5 -rw(y)-> T3", "T1 -rt-> T2".
  std::string explanation;
};

struct CheckOptions {
  // Add real-time edges: checks strict serializability rather than serializability.
  bool realtime = true;
  // Reports kept per kind; CheckResult::found_by_kind counts all of them.
  int max_reports_per_kind = 5;
  // Edges the G-single and G2 searches may examine in all (each of the two, with and
  // without rt edges, gets an equal share). When a share runs out, search_incomplete
  // is set; every cyclic component is still reported, but perhaps not under every
  // class of cycle it holds.
  int64_t max_search_steps = 50'000'000;
  // The list key every deleting transaction appends to and every observing one reads
  // first (see "Sets of keys" above); empty: no log.
  std::string deletion_log_key;
};

struct CheckResult {
  bool valid = true;  // no anomaly of any kind was found
  // At most max_reports_per_kind per kind, ordered by kind, then by discovery.
  std::vector<AnomalyReport> anomalies;
  // Every anomaly found, kept or not: per read for the read anomalies, per component and
  // class for cycles. Only kinds found appear.
  std::map<Anomaly, int64_t> found_by_kind;
  int64_t transactions = 0;         // in the history
  int64_t committed = 0;            // graph nodes: kOk + ambiguous_committed
  int64_t ambiguous_committed = 0;  // ambiguous, but an element was observed
  int64_t ambiguous_dropped = 0;    // ambiguous, nothing observed
  int64_t failed = 0;
  int64_t edges = 0;  // dependency and real-time edges, deduplicated
  bool search_incomplete = false;
};

// Checks `history`. Returns InvalidArgument for a malformed history (a duplicate
// transaction id, return before call, an element appended twice to one key, a key
// inserted twice, an empty span, a list key that is inserted or lies in a span);
// anomalies are not errors but a CheckResult.
[[nodiscard]] absl::StatusOr<CheckResult> Check(const std::vector<Transaction>& history,
                                                const CheckOptions& options = {});

// One line: "invalid: 4 transactions (3 committed, 1 failed, 0 ambiguous committed, 0
// ambiguous dropped), 5 edges; G1a x1, G-single x1".
std::string Summarize(const CheckResult& result);

}  // namespace rangedb::list_append
