#include "tests/list_append_sets.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rangedb::list_append::sets {
namespace {

std::string Span(const MicroOp& op) {
  return absl::StrCat("[", absl::CHexEscape(op.key), ", ", absl::CHexEscape(op.end_key), ")");
}

const char* Verb(const MicroOp& op) {
  return op.kind == MicroOp::Kind::kScan ? "scan" : "delete-range";
}

const char* State(bool present) { return present ? "present" : "absent"; }

}  // namespace

std::string SetChecker::Name(int txn) const { return absl::StrCat("T", history_[txn].id); }

absl::Status SetChecker::Index(const absl::flat_hash_set<std::string>& list_keys) {
  const std::string& log = options_.deletion_log_key;
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    for (const MicroOp& op : history_[t].ops) {
      switch (op.kind) {
        case MicroOp::Kind::kInsert: {
          if (list_keys.contains(op.key)) {
            return absl::InvalidArgumentError(absl::StrCat("key ", absl::CHexEscape(op.key),
                                                           " is inserted by ", Name(t),
                                                           " and used as a list"));
          }
          KeyInfo& info = keys_[op.key];
          if (info.inserter != -1) {
            return absl::InvalidArgumentError(absl::StrCat("key ", absl::CHexEscape(op.key),
                                                           " inserted twice, by ",
                                                           Name(info.inserter), " and ", Name(t)));
          }
          info.inserter = t;
          break;
        }
        case MicroOp::Kind::kScan:
        case MicroOp::Kind::kDeleteRange: {
          if (op.key >= op.end_key) {
            return absl::InvalidArgumentError(
                absl::StrCat(Name(t), "'s ", Verb(op), " has an empty span ", Span(op)));
          }
          for (const std::string& k : list_keys) {
            if (k >= op.key && k < op.end_key) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "list key ", absl::CHexEscape(k), " lies in ", Name(t), "'s ", Verb(op), " span ",
                  Span(op), ": list and set keys must be disjoint"));
            }
          }
          break;
        }
        case MicroOp::Kind::kRead:
          if (!log.empty() && op.key == log && !log_appends_.contains(t)) {
            log_reads_.try_emplace(t, op.read_list);
          }
          break;
        case MicroOp::Kind::kAppend:
          if (!log.empty() && op.key == log) log_appends_.try_emplace(t, op.element);
          break;
      }
    }
  }
  // Deleters, once every inserted key is known (a deleted key nobody inserted is
  // garbage, reported by CheckTransactions).
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    for (const MicroOp& op : history_[t].ops) {
      if (op.kind != MicroOp::Kind::kDeleteRange) continue;
      for (const std::string& k : op.keys) {
        auto it = keys_.find(k);
        if (it == keys_.end()) continue;
        std::vector<int>& deleters = it->second.deleters;
        if (std::find(deleters.begin(), deleters.end(), t) == deleters.end()) {
          deleters.push_back(t);
        }
      }
    }
  }
  sorted_keys_.reserve(keys_.size());
  for (const auto& [k, info] : keys_) sorted_keys_.push_back(k);
  std::sort(sorted_keys_.begin(), sorted_keys_.end());
  return absl::OkStatus();
}

std::vector<const std::string*> SetChecker::KeysIn(const std::string& start,
                                                   const std::string& end) const {
  std::vector<const std::string*> out;
  for (auto it = std::lower_bound(sorted_keys_.begin(), sorted_keys_.end(), start);
       it != sorted_keys_.end() && *it < end; ++it) {
    out.push_back(&*it);
  }
  return out;
}

void SetChecker::CheckTransactions(std::vector<Finding>* findings) {
  for (int t = 0; t < static_cast<int>(history_.size()); ++t) {
    if (history_[t].outcome == Outcome::kOk) CheckTransaction(t, findings);
  }
}

// Walks one committed transaction's set ops in order, keeping what it knows of each
// key: an observation must agree with that; the first one of a key it has not
// written yet is external.
void SetChecker::CheckTransaction(int txn, std::vector<Finding>* findings) {
  struct Local {
    bool present = false;
  };
  absl::flat_hash_map<std::string, Local> local;
  for (const MicroOp& op : history_[txn].ops) {
    if (op.kind == MicroOp::Kind::kInsert) {
      local[op.key].present = true;
      continue;
    }
    if (op.kind != MicroOp::Kind::kScan && op.kind != MicroOp::Kind::kDeleteRange) continue;
    const bool by_delete = op.kind == MicroOp::Kind::kDeleteRange;
    const std::string what = absl::StrCat(Name(txn), "'s ", Verb(op), " ", Span(op));
    absl::flat_hash_set<std::string> listed;
    for (const std::string& k : op.keys) {
      if (!listed.insert(k).second) {
        findings->push_back({Anomaly::kDuplicateElements,
                             {txn},
                             k,
                             absl::StrCat(what, " lists ", absl::CHexEscape(k), " twice")});
      } else if (k < op.key || k >= op.end_key) {
        findings->push_back(
            {Anomaly::kGarbageRead,
             {txn},
             k,
             absl::StrCat(what, " lists ", absl::CHexEscape(k), ", which lies outside its span")});
      } else if (!keys_.contains(k)) {
        findings->push_back({Anomaly::kGarbageRead,
                             {txn},
                             k,
                             absl::StrCat(what, " lists ", absl::CHexEscape(k),
                                          ", which no transaction inserted")});
      }
    }
    for (const std::string* k : KeysIn(op.key, op.end_key)) {
      const bool present = listed.contains(*k);
      auto it = local.find(*k);
      if (it != local.end()) {
        if (it->second.present != present) {
          findings->push_back(
              {Anomaly::kInternal,
               {txn},
               *k,
               absl::StrCat(what, " found ", absl::CHexEscape(*k), " ", State(present),
                            ", but its earlier ops on the key imply it is ",
                            State(it->second.present))});
        }
      } else {
        const int inserter = keys_.at(*k).inserter;
        if (present && inserter == txn) {
          findings->push_back({Anomaly::kInternal,
                               {txn},
                               *k,
                               absl::StrCat(what, " found ", absl::CHexEscape(*k),
                                            " present before inserting it itself")});
        }
        observations_.push_back({txn, *k, present, by_delete});
        if (present && history_[inserter].outcome == Outcome::kAmbiguous) {
          observed_inserters_.insert(inserter);
        }
      }
      local[*k].present = present && !by_delete;
    }
  }
}

void SetChecker::Relate(const std::vector<bool>& committed, std::vector<Edge>* edges,
                        std::vector<Finding>* findings) const {
  for (const Observation& o : observations_) {
    const KeyInfo& info = keys_.at(o.key);
    if (!o.present) {
      RelateAbsent(o, info, committed, edges);
      continue;
    }
    const int inserter = info.inserter;
    if (history_[inserter].outcome == Outcome::kFailed) {
      findings->push_back({Anomaly::kG1a,
                           {inserter, o.txn},
                           o.key,
                           absl::StrCat(Name(o.txn), " found ", absl::CHexEscape(o.key),
                                        " present, inserted by failed ", Name(inserter))});
      continue;
    }
    if (!committed[inserter]) continue;
    edges->push_back({inserter, o.txn, o.by_delete ? Edge::Type::kWW : Edge::Type::kWR, o.key});
    for (int d : info.deleters) {
      if (d == o.txn || !committed[d]) continue;
      if (d == inserter) {
        findings->push_back({Anomaly::kG1b,
                             {inserter, o.txn},
                             o.key,
                             absl::StrCat(Name(o.txn), " found ", absl::CHexEscape(o.key),
                                          " present, an intermediate state of ", Name(inserter),
                                          ", which inserted and then deleted it")});
        continue;
      }
      if (!o.by_delete) edges->push_back({o.txn, d, Edge::Type::kRW, o.key});
    }
  }
  // A version deleted twice: each deleter overwrote what the other had removed.
  for (const std::string& k : sorted_keys_) {
    const KeyInfo& info = keys_.at(k);
    std::vector<int> deleters;
    for (int d : info.deleters) {
      if (committed[d]) deleters.push_back(d);
    }
    if (deleters.size() < 2) continue;
    findings->push_back({Anomaly::kIncompatibleOrder,
                         {deleters[0], deleters[1]},
                         k,
                         absl::StrCat(Name(deleters[0]), " and ", Name(deleters[1]),
                                      " both deleted ", absl::CHexEscape(k), " (inserted by ",
                                      Name(info.inserter), "), each after the other")});
  }
}

// An absent observation by o.txn read either the initial version (before the insert)
// or the deleted one (after a deleter); see list_append.h for how the log decides.
void SetChecker::RelateAbsent(const Observation& o, const KeyInfo& info,
                              const std::vector<bool>& committed, std::vector<Edge>* edges) const {
  const int inserter = info.inserter;
  if (!committed[inserter] || inserter == o.txn) return;
  std::vector<int> deleters;      // committed, other than the observer
  bool unobserved_maybe = false;  // an ambiguous deleter that may have committed unseen
  for (int d : info.deleters) {
    if (d == o.txn) continue;
    if (committed[d]) {
      deleters.push_back(d);
    } else if (history_[d].outcome == Outcome::kAmbiguous) {
      unobserved_maybe = true;
    }
  }
  const auto log = log_reads_.find(o.txn);
  const bool has_log = !options_.deletion_log_key.empty() && log != log_reads_.end();
  if (deleters.empty()) {
    // Nobody deleted it, or only someone whose log append nobody saw (so the
    // observer, whose log read did not hold it either, came before it).
    if (!unobserved_maybe || has_log) edges->push_back({o.txn, inserter, Edge::Type::kRW, o.key});
    return;
  }
  if (!has_log) return;
  std::vector<int> before;  // deleters whose log element the observer saw
  for (int d : deleters) {
    const auto appended = log_appends_.find(d);
    if (appended == log_appends_.end()) return;  // its place is unknown: no inference
    const std::vector<int64_t>& seen = log->second;
    if (std::find(seen.begin(), seen.end(), appended->second) != seen.end()) before.push_back(d);
  }
  if (before.empty()) {
    edges->push_back({o.txn, inserter, Edge::Type::kRW, o.key});
    return;
  }
  for (int d : before) edges->push_back({d, o.txn, Edge::Type::kWR, o.key});
}

}  // namespace rangedb::list_append::sets
