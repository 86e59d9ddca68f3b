// ScanInPages: every row of a key span read through a transaction a page at a time,
// so that memory stays bounded by one page (kv::kScanPageRows rows) however large the
// span. The loop that the catalog, the SQL layer's sweeps and their tests all need.
//
// Thread safety: as Txn (one thread at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "txn/txn.h"

namespace rangedb::txn {

// Calls visit with each row that has a value in [start, end) at txn's snapshot, in
// key order. An error from visit, or from a read, stops the scan and is returned.
[[nodiscard]] inline absl::Status ScanInPages(
    Txn& txn, absl::string_view start, absl::string_view end,
    const std::function<absl::Status(kv::KeyValue&)>& visit) {
  std::string from(start);
  while (true) {  // bounded: each page moves from past its last row
    absl::StatusOr<std::vector<kv::KeyValue>> page = txn.Scan(from, end, kv::kScanPageRows);
    if (!page.ok()) return page.status();
    for (kv::KeyValue& row : *page) {
      if (absl::Status s = visit(row); !s.ok()) return s;
    }
    if (static_cast<int64_t>(page->size()) < kv::kScanPageRows) return absl::OkStatus();
    from = page->back().key + std::string(1, '\0');
  }
}

// The number of rows with a value in [start, end) at txn's snapshot.
[[nodiscard]] inline absl::StatusOr<int64_t> CountInPages(Txn& txn, absl::string_view start,
                                                          absl::string_view end) {
  int64_t n = 0;
  absl::Status s = ScanInPages(txn, start, end, [&n](kv::KeyValue&) {
    ++n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

}  // namespace rangedb::txn
