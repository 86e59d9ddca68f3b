// What a request through client::SqlConnection answered, collected for a test to
// check: column names, rows, the statements that ended and the first error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/sql_client.h"

namespace rangedb::testing_util {

class SqlCollect final : public client::SqlResultHandler {
 public:
  void OnColumns(int, const std::vector<client::SqlColumn>& columns) override {
    for (const client::SqlColumn& c : columns) names.push_back(c.name);
  }
  void OnRows(int, std::vector<client::SqlRow> batch) override {
    for (client::SqlRow& r : batch) rows.push_back(std::move(r));
  }
  void OnDone(int index, const std::string& tag, int64_t) override { done.push_back({index, tag}); }
  void OnError(int index, const client::SqlError& e) override {
    error = e;
    error_index = index;
  }
  std::vector<std::string> names;
  std::vector<client::SqlRow> rows;
  std::vector<std::pair<int, std::string>> done;  // (statement index, command tag)
  std::optional<client::SqlError> error;
  int error_index = -1;
};

// A value as text: an integer's digits, a text as it is, anything else "NULL".
inline std::string SqlText(const client::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  return "NULL";
}

}  // namespace rangedb::testing_util
