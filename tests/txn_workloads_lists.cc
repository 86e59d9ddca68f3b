// The list-append workload (with its family of set keys) and the compare-and-set
// register workload of tests/txn_workloads.h.
#include <map>
#include <optional>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/kv_history.h"
#include "tests/txn_workloads.h"
#include "txn/txn.h"

namespace rangedb::chaos {
namespace {

// Family keys a client remembers (for "delete one"): the most recent ones.
constexpr size_t kKnownFamilyKeys = 64;

list_append::Outcome OutcomeOf(const absl::Status& s) {
  if (s.ok()) return list_append::Outcome::kOk;
  return client::IsAmbiguous(s) ? list_append::Outcome::kAmbiguous : list_append::Outcome::kFailed;
}

void Remember(const std::string& key, std::vector<std::string>* known) {
  if (known->size() >= kKnownFamilyKeys) known->erase(known->begin());
  known->push_back(key);
}

}  // namespace

// ---- List-append ----

// One transaction attempt of a list-append client.
struct ListAppendWorkload::Attempt {
  txn::Txn& txn;
  std::mt19937_64& rng;
  list_append::Transaction& record;
  std::vector<std::string>& known;          // the client's recently seen family keys
  std::optional<std::vector<int64_t>> log;  // the deletion log, once read
  bool appended_log = false;
};

ListAppendWorkload::ListAppendWorkload(TxnWorkloadOptions options, std::vector<std::string> keys,
                                       KeyFamily family)
    : options_(std::move(options)), keys_(std::move(keys)), family_(std::move(family)) {}

ListAppendWorkload::~ListAppendWorkload() { Stop(); }

absl::Status ListAppendWorkload::Start() {
  for (const std::vector<std::string>& hosts : options_.client_hosts) {
    absl::StatusOr<std::unique_ptr<client::KvClient>> c = NewWorkloadClient(options_, hosts);
    if (!c.ok()) return c.status();
    clients_.push_back(std::move(*c));
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    threads_.emplace_back([this, i] { Loop(static_cast<int>(i), clients_[i].get()); });
  }
  return absl::OkStatus();
}

void ListAppendWorkload::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::vector<list_append::Transaction> ListAppendWorkload::History() const {
  absl::MutexLock lock(&mu_);
  return history_;
}

list_append::CheckOptions ListAppendWorkload::CheckOptions() const {
  list_append::CheckOptions o;
  if (!family_.prefix.empty()) o.deletion_log_key = family_.LogKey();
  return o;
}

int64_t ListAppendWorkload::committed() const { return committed_since(0); }

int64_t ListAppendWorkload::committed_since(int64_t from_ns) const {
  absl::MutexLock lock(&mu_);
  return std::count_if(history_.begin(), history_.end(), [&](const list_append::Transaction& t) {
    return t.outcome == list_append::Outcome::kOk && t.return_ns >= from_ns;
  });
}

void ListAppendWorkload::Loop(int thread, client::KvClient* client) {
  std::mt19937_64 rng(options_.seed * 104729 + thread);
  std::vector<std::string> known;
  while (!stop_) {
    list_append::Transaction record;
    record.id = next_txn_id_++;
    record.process = thread;
    record.call_ns = MonotonicNowNs();
    txn::Txn t(client, WorkloadTxnOptions());
    Attempt a{t, rng, record, known};
    absl::Status s;
    if (!family_.prefix.empty() && static_cast<int>(rng() % 100) < family_.percent) {
      s = FamilyTxn(a);
    } else {
      const int n = 1 + static_cast<int>(rng() % 5);
      for (int i = 0; i < n && s.ok(); ++i) s = ListOp(a);
    }
    if (s.ok()) s = t.Commit();
    if (!s.ok()) (void)t.Rollback();
    record.return_ns = MonotonicNowNs();
    record.outcome = OutcomeOf(s);
    absl::MutexLock lock(&mu_);
    history_.push_back(std::move(record));
  }
}

// read(k), then (unless reads_only) half the time append(k, e).
absl::Status ListAppendWorkload::ListOp(Attempt& a, bool reads_only) {
  const std::string& key = keys_[a.rng() % keys_.size()];
  absl::StatusOr<std::optional<std::string>> got = a.txn.Get(key);
  if (!got.ok()) return got.status();
  const std::string current = got->value_or("");
  a.record.ops.push_back(list_append::ReadOp(key, ParseList(current)));
  if (reads_only || a.rng() % 2 == 0) return absl::OkStatus();
  const int64_t element = next_element_++;
  a.record.ops.push_back(list_append::AppendOp(key, element));
  return a.txn.Put(key,
                   current.empty() ? absl::StrCat(element) : absl::StrCat(current, ",", element));
}

// A family transaction has one of these shapes, with list ops in the middle (time
// for others to act). Those that append to the deletion log, and the scanners,
// read the log first (list_append.h: it places their absent observations); the
// others leave it alone, so that the log's timestamp cache does not push them.
//   inserter        list reads, insert 1-2 fresh keys (written at the commit, at
//                   the timestamp the transaction got from its first op: it writes
//                   nothing others read, so nothing pushes it);
//   deleter         read the log, delete a span (logged), list reads;
//   rescan-deleter  delete a span (unlogged), list reads, scan it again: nothing
//                   may be back, in particular no older transaction's insert;
//   scan-deleter    read the log, scan a span, list ops, delete it (logged): it
//                   must delete what it saw;
//   delete-one      delete one known key (unlogged), list ops;
//   scanner         read the log, scan a span, list ops.
// Deleters write nothing hot besides the log, so they are rarely pushed and
// usually commit; scans are kept rare, since each records its span in the
// timestamp cache, which pushes later inserts above it and so would hide a
// DeleteRange that forgets to (the planted bug of the chaos test).
absl::Status ListAppendWorkload::FamilyTxn(Attempt& a) {
  const std::string& p = family_.prefix;
  const std::pair<std::string, std::string> spans[] = {
      {p + "/", p + "0"}, {p + "/a/", p + "/a0"}, {p + "/b/", p + "/b0"}};
  const auto& [start, end] = spans[a.rng() % 3];
  auto list_ops = [&](int most, bool reads_only = false) -> absl::Status {
    const int n = 1 + static_cast<int>(a.rng() % most);
    for (int i = 0; i < n; ++i) {
      if (absl::Status s = ListOp(a, reads_only); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  auto read_log = [&]() -> absl::Status {
    absl::StatusOr<std::optional<std::string>> got = a.txn.Get(family_.LogKey());
    if (!got.ok()) return got.status();
    a.log = ParseList(got->value_or(""));
    a.record.ops.push_back(list_append::ReadOp(family_.LogKey(), *a.log));
    return absl::OkStatus();
  };
  const int shape = static_cast<int>(a.rng() % 100);
  absl::Status s;
  if (shape < 35) {  // inserter
    s = list_ops(2, /*reads_only=*/true);
    for (int i = 0, n = 1 + static_cast<int>(a.rng() % 2); i < n && s.ok(); ++i) s = Insert(a);
  } else if (shape < 45) {  // deleter
    s = read_log();
    if (s.ok()) s = DeleteSpan(a, start, end);
    if (s.ok()) s = list_ops(2, /*reads_only=*/true);
  } else if (shape < 75) {  // rescan-deleter
    s = DeleteSpan(a, start, end);
    if (s.ok()) s = list_ops(3, /*reads_only=*/true);
    if (s.ok()) s = ScanSpan(a, start, end);
  } else if (shape < 85) {  // scan-deleter
    s = read_log();
    if (s.ok()) s = ScanSpan(a, start, end);
    if (s.ok()) s = list_ops(2);
    if (s.ok()) s = DeleteSpan(a, start, end);
  } else if (shape < 93 && !a.known.empty()) {  // delete-one
    const std::string key = a.known[a.rng() % a.known.size()];
    s = DeleteSpan(a, key, key + '\0');
    if (s.ok()) s = list_ops(1);
  } else {  // scanner
    s = read_log();
    if (s.ok()) s = ScanSpan(a, start, end);
    if (s.ok()) s = list_ops(2);
  }
  return s;
}

absl::Status ListAppendWorkload::Insert(Attempt& a) {
  const int64_t element = next_element_++;
  const std::string key =
      absl::StrFormat("%s/%s/%012d", family_.prefix, element % 2 ? "a" : "b", element);
  a.record.ops.push_back(list_append::InsertOp(key));  // first: a failed one must stay unseen
  Remember(key, &a.known);
  return a.txn.Put(key, "1");
}

absl::Status ListAppendWorkload::ScanSpan(Attempt& a, const std::string& start,
                                          const std::string& end) {
  absl::StatusOr<std::vector<client::KeyValue>> rows = a.txn.Scan(start, end, 0);
  if (!rows.ok()) return rows.status();
  std::vector<std::string> present;
  for (const client::KeyValue& kv : *rows) present.push_back(kv.key);
  if (!present.empty()) Remember(present[a.rng() % present.size()], &a.known);
  a.record.ops.push_back(list_append::ScanOp(start, end, std::move(present)));
  return absl::OkStatus();
}

// Deletes a span; if the transaction read the deletion log, appends to it (once).
absl::Status ListAppendWorkload::DeleteSpan(Attempt& a, const std::string& start,
                                            const std::string& end) {
  std::vector<std::string> deleted;
  absl::StatusOr<int64_t> n = a.txn.DeleteRange(start, end, &deleted);
  if (!n.ok()) return n.status();
  a.record.ops.push_back(list_append::DeleteRangeOp(start, end, std::move(deleted)));
  if (a.log.has_value() && !a.appended_log) {
    const int64_t element = next_element_++;
    a.record.ops.push_back(list_append::AppendOp(family_.LogKey(), element));
    a.log->push_back(element);
    a.appended_log = true;
    if (absl::Status s = a.txn.Put(family_.LogKey(), FormatList(*a.log)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// ---- Compare-and-set registers ----

CasRegisterWorkload::CasRegisterWorkload(TxnWorkloadOptions options, std::vector<std::string> keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

CasRegisterWorkload::~CasRegisterWorkload() { Stop(); }

absl::Status CasRegisterWorkload::Start() {
  for (const std::vector<std::string>& hosts : options_.client_hosts) {
    absl::StatusOr<std::unique_ptr<client::KvClient>> c = NewWorkloadClient(options_, hosts);
    if (!c.ok()) return c.status();
    clients_.push_back(std::move(*c));
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    threads_.emplace_back([this, i] { Loop(static_cast<int>(i), clients_[i].get()); });
  }
  return absl::OkStatus();
}

void CasRegisterWorkload::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::vector<list_append::Transaction> CasRegisterWorkload::History() const {
  absl::MutexLock lock(&mu_);
  return history_;
}

int64_t CasRegisterWorkload::committed() const {
  absl::MutexLock lock(&mu_);
  return std::count_if(history_.begin(), history_.end(), [](const list_append::Transaction& t) {
    return t.outcome == list_append::Outcome::kOk;
  });
}

void CasRegisterWorkload::Loop(int thread, client::KvClient* client) {
  std::mt19937_64 rng(options_.seed * 15485863 + thread);
  absl::flat_hash_map<std::string, std::vector<int64_t>> guess;  // last sight of each key
  while (!stop_) {
    list_append::Transaction record;
    record.id = next_txn_id_++;
    record.process = thread;
    record.call_ns = MonotonicNowNs();
    txn::Txn t(client, WorkloadTxnOptions());
    std::map<std::string, std::vector<int64_t>> seen;  // what this transaction knows
    const int n = 1 + static_cast<int>(rng() % 4);
    absl::Status s;
    for (int i = 0; i < n && s.ok(); ++i) {
      const std::string& key = keys_[rng() % keys_.size()];
      if (rng() % 3 == 0) {
        absl::StatusOr<std::optional<std::string>> got = t.Get(key);
        if (!got.ok()) {
          s = got.status();
          break;
        }
        seen[key] = ParseList(got->value_or(""));
        record.ops.push_back(list_append::ReadOp(key, seen[key]));
        continue;
      }
      auto known = seen.find(key);
      const std::vector<int64_t> expected = known != seen.end() ? known->second : guess[key];
      std::vector<int64_t> desired = expected;
      const int64_t element = next_element_++;
      desired.push_back(element);
      absl::Status cas = t.ConditionalPut(
          key, FormatList(desired),
          expected.empty() ? std::nullopt : std::optional<std::string>(FormatList(expected)));
      if (cas.ok()) {
        record.ops.push_back(list_append::ReadOp(key, expected));
        record.ops.push_back(list_append::AppendOp(key, element));
        seen[key] = std::move(desired);
      } else if (client::IsConditionFailed(cas)) {
        ++failed_cas_;
        const std::optional<std::string> actual =
            client::ConditionFailedActual(cas).value_or(std::nullopt);
        seen[key] = ParseList(actual.value_or(""));
        guess[key] = seen[key];
        record.ops.push_back(list_append::ReadOp(key, seen[key]));
      } else {
        s = cas;
      }
    }
    if (s.ok()) s = t.Commit();
    if (!s.ok()) (void)t.Rollback();
    if (s.ok()) {
      for (const auto& [k, v] : seen) guess[k] = v;
    }
    record.return_ns = MonotonicNowNs();
    record.outcome = OutcomeOf(s);
    absl::MutexLock lock(&mu_);
    history_.push_back(std::move(record));
  }
}

}  // namespace rangedb::chaos
