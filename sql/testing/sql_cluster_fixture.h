// A fixture for tests of the SQL layer's background work (drops, index builds) over a
// real key space: three stores in one process (ranges::TxnClusterTest), sessions and
// bare transactions through any node's gateway, and counts of the keys in a span.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ranges/local_sender.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "sql/session.h"
#include "sql/testing/sql_runner.h"
#include "txn/scan_pages.h"
#include "txn/txn.h"

namespace rangedb::sql::testing {

class SqlClusterTest : public ranges::TxnClusterTest {
 protected:
  // A sender through node's gateway, kept for the test's lifetime.
  txn::Sender* Sender(uint64_t node = 1) {
    senders_.push_back(std::make_unique<ranges::LocalSender>(gateways_[node].get()));
    return senders_.back().get();
  }
  std::unique_ptr<Session> NewSession(uint64_t node = 1) {
    SessionOptions options;
    options.sender = Sender(node);
    options.node_id = node;
    options.sleep_for = [](std::chrono::milliseconds) {};
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Open(std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Keys with a value in [start, end), counted in pages.
  int64_t KeysIn(const std::string& start, const std::string& end) {
    int64_t n = 0;
    absl::Status s = txn::RunTransaction(Sender(), [&](txn::Txn& txn) -> absl::Status {
      absl::StatusOr<int64_t> counted = txn::CountInPages(txn, start, end);
      if (!counted.ok()) return counted.status();
      n = *counted;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }
  uint64_t TableId(Session& s, const std::string& name) {
    absl::StatusOr<std::vector<std::string>> id =
        Query(s, absl::StrCat("SELECT table_id FROM rangedb_tables WHERE name = '", name, "'"));
    EXPECT_TRUE(id.ok() && id->size() == 1);
    return id.ok() && id->size() == 1 ? std::stoull(id->front()) : 0;
  }
  // Inserts rows first..first+n-1 into t (id, v = 'value <id>'), 500 a statement.
  void Fill(Session& s, int n, int first = 0) {
    for (int i = 0; i < n; i += 500) {
      auto r = Query(
          s, absl::StrCat("INSERT INTO t SELECT v + ", first + i, ", 'value ' || (v + ", first + i,
                          ") FROM (WITH RECURSIVE r(v) AS (SELECT 0 UNION ALL SELECT "
                          "v + 1 FROM r WHERE v < ",
                          std::min(500, n - i) - 1, ") SELECT v FROM r)"));
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  std::vector<std::unique_ptr<ranges::LocalSender>> senders_;
};

}  // namespace rangedb::sql::testing
