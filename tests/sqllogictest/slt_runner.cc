// The sqllogictest runner (tests/sqllogictest/slt_runner.h).
#include "tests/sqllogictest/slt_runner.h"

#include <algorithm>
#include <optional>
#include <regex>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "tests/sqllogictest/slt_format.h"

namespace rangedb::slt {
namespace {

// SQL longer than this is cut in failure reports.
constexpr size_t kMaxReportedSqlBytes = 4000;

// Plays one script; one instance per RunScript call.
class ScriptRunner {
 public:
  ScriptRunner(const Script& script, SltConnection* connection, const RunOptions& options)
      : script_(script),
        connection_(connection),
        options_(options),
        hash_threshold_(options.hash_threshold_override >= 0 ? options.hash_threshold_override
                                                             : kDefaultHashThreshold) {}

  RunResult Run() {
    for (const Record& record : script_.records) {
      const bool is_test = std::holds_alternative<Statement>(record.body) ||
                           std::holds_alternative<Query>(record.body);
      if (IsSkipped(record)) {
        if (is_test) ++result_.skipped;
        continue;
      }
      if (const auto* threshold = std::get_if<HashThreshold>(&record.body)) {
        if (options_.hash_threshold_override < 0) hash_threshold_ = threshold->threshold;
        continue;
      }
      if (std::holds_alternative<Halt>(record.body)) {
        result_.halted = true;
        result_.halt_line = record.line_number;
        break;
      }
      std::optional<Failure> failure;
      if (const auto* statement = std::get_if<Statement>(&record.body)) {
        failure = RunStatement(record, *statement);
      } else {
        failure = RunQuery(record, std::get<Query>(record.body));
      }
      if (!failure.has_value()) {
        ++result_.passed;
        continue;
      }
      ++result_.failed;
      if (result_.failures.size() < options_.max_failures_reported) {
        result_.failures.push_back(*std::move(failure));
      }
      if (options_.stop_on_first_failure) {
        result_.stopped_at_failure = true;
        break;
      }
    }
    return std::move(result_);
  }

 private:
  // A label's hash and the line of the query that first produced it.
  struct LabelEntry {
    std::string hash;
    int line = 0;
  };

  bool IsSkipped(const Record& record) const {
    for (const Condition& condition : record.conditions) {
      const bool match = absl::EqualsIgnoreCase(condition.engine, options_.engine_name);
      if (condition.skip == match) return true;  // skipif E matches, or onlyif E does not
    }
    return false;
  }

  Failure NewFailure(const Record& record, const std::string& sql, std::string message) const {
    Failure failure;
    failure.file = script_.file_name;
    failure.line = record.line_number;
    failure.sql = sql.size() <= kMaxReportedSqlBytes
                      ? sql
                      : absl::StrCat(sql.substr(0, kMaxReportedSqlBytes), " ...");
    failure.message = std::move(message);
    return failure;
  }

  std::optional<Failure> RunStatement(const Record& record, const Statement& statement) {
    absl::StatusOr<SltResult> result = connection_->Execute(statement.sql);
    const absl::Status error = result.ok() ? result->execution_error : result.status();
    if (!statement.expect_error) {
      if (error.ok()) return std::nullopt;
      return NewFailure(record, statement.sql, absl::StrCat("statement failed: ", error.message()));
    }
    if (error.ok()) {
      return NewFailure(record, statement.sql, "expected an error but the statement succeeded");
    }
    if (statement.error_pattern.empty()) return std::nullopt;
    const std::string message(error.message());
    bool found = false;
    try {  // the pattern compiled at parse time; matching can still give up
      found = std::regex_search(message, std::regex(statement.error_pattern));
    } catch (const std::regex_error& e) {
      return NewFailure(record, statement.sql,
                        absl::StrCat("error pattern '", statement.error_pattern,
                                     "' could not be matched: ", e.what()));
    }
    if (found) return std::nullopt;
    return NewFailure(
        record, statement.sql,
        absl::StrCat("error does not match '", statement.error_pattern, "': ", message));
  }

  // The first max_lines_per_failure of `lines`, and a note of how many more there are.
  std::vector<std::string> FirstLines(const std::vector<std::string>& lines) const {
    const size_t shown = std::min(lines.size(), options_.max_lines_per_failure);
    std::vector<std::string> out(lines.begin(), lines.begin() + shown);
    if (shown < lines.size()) out.push_back(absl::StrCat("... (", lines.size() - shown, " more)"));
    return out;
  }

  // Why `actual` differs from the expected value list.
  static std::string DescribeDifference(const std::vector<std::string>& expected,
                                        const std::vector<std::string>& actual, size_t columns) {
    size_t i = 0;
    while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
    std::string where =
        absl::StrCat("value ", i + 1, " (row ", i / columns + 1, ", column ", i % columns + 1, ")");
    if (expected.size() != actual.size()) {
      return absl::StrCat("query returned ", actual.size(), " values, expected ", expected.size(),
                          "; first difference at ", where);
    }
    return absl::StrCat("query returned the wrong result; first difference at ", where,
                        ": expected [", expected[i], "] got [", actual[i], "]");
  }

  std::optional<Failure> RunQuery(const Record& record, const Query& query) {
    absl::StatusOr<SltResult> result = connection_->Execute(query.sql);
    if (!result.ok()) {
      return NewFailure(record, query.sql,
                        absl::StrCat("query failed: ", result.status().message()));
    }
    // A result->execution_error is ignored: the query is judged on the rows it returned
    // before the error, as the reference runner does (slt_connection.h).
    absl::StatusOr<std::vector<std::string>> values = RenderResult(*result, query.types);
    if (!values.ok()) {
      return NewFailure(record, query.sql, std::string(values.status().message()));
    }
    SortValues(query.sort_mode, query.types.size(), &*values);
    const std::string hash = HashValues(*values);
    const ExpectedResult& expected = query.expected;
    const bool match = expected.is_hash
                           ? static_cast<int64_t>(values->size()) == expected.hash_value_count &&
                                 hash == expected.hash
                           : *values == expected.values;
    if (!match) return WrongResult(record, query, *values, hash, result->execution_error);
    return CheckLabel(record, query, *values, hash);
  }

  // The failure of a query whose rendered, sorted `values` (hashing to `hash`) are not
  // the expected ones.
  Failure WrongResult(const Record& record, const Query& query,
                      const std::vector<std::string>& values, const std::string& hash,
                      const absl::Status& execution_error) const {
    const ExpectedResult& expected = query.expected;
    const std::string expected_hash_line =
        absl::StrCat(expected.hash_value_count, " values hashing to ", expected.hash);
    Failure failure = NewFailure(
        record, query.sql,
        expected.is_hash ? absl::StrCat("query returned ", values.size(), " values hashing to ",
                                        hash, ", expected ", expected_hash_line)
                         : DescribeDifference(expected.values, values, query.types.size()));
    if (!execution_error.ok()) {
      absl::StrAppend(&failure.message, " (it stopped with an error: ", execution_error.message(),
                      ")");
    }
    failure.expected = expected.is_hash ? std::vector<std::string>{expected_hash_line}
                                        : FirstLines(expected.values);
    failure.actual = FirstLines(values);
    // As a script would hold it: past the threshold, the hash line (then the values).
    const bool shown_hashed =
        expected.is_hash ||
        (hash_threshold_ > 0 && static_cast<int64_t>(values.size()) > hash_threshold_);
    if (shown_hashed) {
      failure.actual.insert(failure.actual.begin(),
                            absl::StrCat(values.size(), " values hashing to ", hash));
    }
    return failure;
  }

  // A passing labelled query registers its hash; a later one with the same label must
  // hash the same.
  std::optional<Failure> CheckLabel(const Record& record, const Query& query,
                                    const std::vector<std::string>& values,
                                    const std::string& hash) {
    if (query.label.empty()) return std::nullopt;
    auto [it, inserted] = labels_.try_emplace(query.label, LabelEntry{hash, record.line_number});
    if (inserted || it->second.hash == hash) return std::nullopt;
    Failure failure = NewFailure(
        record, query.sql,
        absl::StrCat("label '", query.label, "': result differs from that of the query at line ",
                     it->second.line, " with the same label"));
    failure.expected = {absl::StrCat("hash ", it->second.hash, " (line ", it->second.line, ")")};
    failure.actual = {absl::StrCat(values.size(), " values hashing to ", hash)};
    return failure;
  }

  const Script& script_;
  SltConnection* const connection_;
  const RunOptions& options_;
  int64_t hash_threshold_;
  absl::flat_hash_map<std::string, LabelEntry> labels_;
  RunResult result_;
};

void AppendIndented(absl::string_view title, const std::vector<std::string>& lines,
                    std::string* out) {
  absl::StrAppend(out, "\n  ", title, ":");
  if (lines.empty()) absl::StrAppend(out, " (nothing)");
  for (const std::string& line : lines) absl::StrAppend(out, "\n    ", line);
}

}  // namespace

std::string Failure::ToString() const {
  std::string out = absl::StrCat(file, ":", line, ": ", message);
  std::vector<std::string> sql_lines = absl::StrSplit(sql, '\n');
  AppendIndented("sql", sql_lines, &out);
  if (!expected.empty() || !actual.empty()) {
    AppendIndented("expected", expected, &out);
    AppendIndented("actual", actual, &out);
  }
  return out;
}

RunResult RunScript(const Script& script, SltConnection* connection, const RunOptions& options) {
  RANGEDB_CHECK(connection != nullptr);
  return ScriptRunner(script, connection, options).Run();
}

}  // namespace rangedb::slt
