// Parsing of sqllogictest scripts (tests/sqllogictest/slt_parser.h).
//
// Two passes: the text is cut into lines (comments dropped, blank lines kept as
// empty), the lines are grouped into blocks between blank lines, and each block is
// parsed as one record. Every error names file:line of the offending line.
#include "tests/sqllogictest/slt_parser.h"

#include <cctype>
#include <fstream>
#include <regex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rangedb::slt {
namespace {

constexpr absl::string_view kResultSeparator = "----";
constexpr absl::string_view kHashMarker = " values hashing to ";
constexpr size_t kMd5HexDigits = 32;

// One line of the script that is not a comment. `text` is empty for a blank line.
struct Line {
  int number = 0;
  absl::string_view text;
};

// Cuts `text` into lines: drops one trailing '\r', turns all-whitespace lines into
// empty ones and leaves out comment lines (first character '#'), as the reference
// runner's reader does.
std::vector<Line> SplitLines(absl::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size();
    absl::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) line = {};
    if (!line.empty() && line.front() == '#') continue;
    lines.push_back(Line{number, line});
  }
  return lines;
}

// Splits a command line into whitespace-separated tokens, dropping a trailing comment
// (the first token that starts with '#' and everything after it).
std::vector<absl::string_view> Tokenize(absl::string_view line) {
  std::vector<absl::string_view> tokens =
      absl::StrSplit(line, absl::ByAnyChar(" \t\v\f\r"), absl::SkipEmpty());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].front() == '#') {
      tokens.resize(i);
      break;
    }
  }
  return tokens;
}

// Parses one block (the non-blank lines of one record) of file `file`.
class BlockParser {
 public:
  BlockParser(absl::string_view file, const std::vector<Line>& block)
      : file_(file), block_(block) {}

  absl::StatusOr<Record> Parse() {
    Record record;
    record.first_line_number = block_.front().number;
    size_t i = 0;
    for (; i < block_.size(); ++i) {
      std::vector<absl::string_view> tokens = Tokenize(block_[i].text);
      if (tokens.empty() || (tokens[0] != "skipif" && tokens[0] != "onlyif")) break;
      if (tokens.size() != 2) {
        return Error(block_[i], absl::StrCat(tokens[0], " takes exactly one engine name"));
      }
      record.conditions.push_back(Condition{tokens[0] == "skipif", std::string(tokens[1])});
    }
    if (i == block_.size()) {
      return Error(block_.back(), "skipif/onlyif is not followed by a record in its block");
    }
    const Line& command = block_[i];
    record.line_number = command.number;
    std::vector<absl::string_view> tokens = Tokenize(command.text);
    if (tokens.empty()) {
      return Error(command, "line holds only a comment; comments start in the first column");
    }
    const size_t body_start = i + 1;
    if (tokens[0] == "statement") {
      absl::StatusOr<Statement> statement = ParseStatement(command, tokens, body_start);
      if (!statement.ok()) return statement.status();
      record.body = *std::move(statement);
    } else if (tokens[0] == "query") {
      absl::StatusOr<Query> query = ParseQuery(command, tokens, body_start);
      if (!query.ok()) return query.status();
      record.body = *std::move(query);
    } else if (tokens[0] == "hash-threshold") {
      int64_t threshold = 0;
      if (tokens.size() != 2 || !absl::SimpleAtoi(tokens[1], &threshold) || threshold < 0) {
        return Error(command, "hash-threshold takes one non-negative integer");
      }
      if (absl::Status s = ExpectNoMoreLines(body_start, "hash-threshold"); !s.ok()) return s;
      record.body = HashThreshold{threshold};
    } else if (tokens[0] == "halt") {
      if (tokens.size() != 1) return Error(command, "halt takes no arguments");
      if (absl::Status s = ExpectNoMoreLines(body_start, "halt"); !s.ok()) return s;
      record.body = Halt{};
    } else {
      return Error(command, absl::StrCat("unknown record type '", tokens[0], "'"));
    }
    return record;
  }

 private:
  absl::Status Error(const Line& line, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", line.number, ": ", message));
  }

  absl::Status ExpectNoMoreLines(size_t from, absl::string_view kind) const {
    if (from < block_.size()) {
      return Error(block_[from], absl::StrCat("unexpected line after ", kind,
                                              " (records are separated by blank lines)"));
    }
    return absl::OkStatus();
  }

  // The SQL of lines [from, to), joined with '\n'.
  std::string JoinSql(size_t from, size_t to) const {
    std::vector<absl::string_view> lines;
    for (size_t i = from; i < to; ++i) lines.push_back(block_[i].text);
    return absl::StrJoin(lines, "\n");
  }

  absl::StatusOr<Statement> ParseStatement(const Line& command,
                                           const std::vector<absl::string_view>& tokens,
                                           size_t body_start) const {
    Statement statement;
    if (tokens.size() >= 2 && tokens[1] == "ok") {
      if (tokens.size() != 2) return Error(command, "'statement ok' takes no arguments");
    } else if (tokens.size() >= 2 && tokens[1] == "error") {
      statement.expect_error = true;
      // The pattern is the raw rest of the line: it may contain spaces and '#'.
      absl::string_view rest = command.text;
      rest = rest.substr(rest.find("error") + absl::string_view("error").size());
      statement.error_pattern = std::string(absl::StripAsciiWhitespace(rest));
      // A '#' where the pattern would start is a trailing comment, as on other lines.
      if (!statement.error_pattern.empty() && statement.error_pattern.front() == '#') {
        statement.error_pattern.clear();
      }
      if (!statement.error_pattern.empty()) {
        try {
          std::regex check(statement.error_pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          return Error(command, absl::StrCat("bad error pattern '", statement.error_pattern,
                                             "': ", e.what()));
        }
      }
    } else {
      return Error(command, "statement must be 'statement ok' or 'statement error [PATTERN]'");
    }
    for (size_t i = body_start; i < block_.size(); ++i) {
      if (block_[i].text == kResultSeparator) {
        return Error(block_[i], "'----' in a statement record (only queries have results)");
      }
    }
    if (body_start == block_.size()) return Error(command, "statement has no SQL");
    statement.sql = JoinSql(body_start, block_.size());
    return statement;
  }

  absl::StatusOr<Query> ParseQuery(const Line& command,
                                   const std::vector<absl::string_view>& tokens,
                                   size_t body_start) const {
    Query query;
    if (tokens.size() < 2) return Error(command, "query needs a type string (e.g. 'query II')");
    if (tokens.size() > 4) {
      return Error(command, absl::StrCat("query takes at most a type string, a sort mode and a "
                                         "label; unexpected '",
                                         tokens[4], "'"));
    }
    query.types = std::string(tokens[1]);
    if (query.types.size() > kMaxQueryColumns) {
      return Error(command, absl::StrCat("type string longer than ", kMaxQueryColumns));
    }
    for (char c : query.types) {
      if (c != 'I' && c != 'R' && c != 'T') {
        return Error(command, absl::StrCat("unknown type character '", std::string(1, c),
                                           "' in type string (expected I, R or T)"));
      }
    }
    if (tokens.size() >= 3) {
      if (tokens[2] == "nosort") {
        query.sort_mode = SortMode::kNoSort;
      } else if (tokens[2] == "rowsort") {
        query.sort_mode = SortMode::kRowSort;
      } else if (tokens[2] == "valuesort") {
        query.sort_mode = SortMode::kValueSort;
      } else {
        return Error(command, absl::StrCat("unknown sort mode '", tokens[2],
                                           "' (expected nosort, rowsort or valuesort)"));
      }
    }
    if (tokens.size() == 4) query.label = std::string(tokens[3]);

    size_t separator = body_start;
    while (separator < block_.size() && block_[separator].text != kResultSeparator) ++separator;
    if (separator == body_start) return Error(command, "query has no SQL");
    query.sql = JoinSql(body_start, separator);
    if (separator == block_.size()) return query;  // no "----": expects no rows
    query.has_result_separator = true;
    absl::Status s = ParseExpected(separator + 1, &query.expected);
    if (!s.ok()) return s;
    return query;
  }

  // Parses the result lines [from, end of block) into *expected.
  absl::Status ParseExpected(size_t from, ExpectedResult* expected) const {
    for (size_t i = from; i < block_.size(); ++i) {
      const Line& line = block_[i];
      if (line.text == kResultSeparator) return Error(line, "second '----' in a query record");
      size_t marker = line.text.find(kHashMarker);
      if (i == from && marker != absl::string_view::npos && marker > 0 &&
          std::isdigit(static_cast<unsigned char>(line.text[0]))) {
        absl::string_view count = line.text.substr(0, marker);
        absl::string_view hash = line.text.substr(marker + kHashMarker.size());
        if (!absl::SimpleAtoi(count, &expected->hash_value_count) ||
            expected->hash_value_count < 0) {
          return Error(line, "bad value count in 'N values hashing to H'");
        }
        if (hash.size() != kMd5HexDigits ||
            hash.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
          return Error(line, "hash in 'N values hashing to H' is not 32 lowercase hex digits");
        }
        if (i + 1 < block_.size()) {
          return Error(block_[i + 1], "'N values hashing to H' must be the only result line");
        }
        expected->is_hash = true;
        expected->hash = std::string(hash);
        return absl::OkStatus();
      }
      expected->values.emplace_back(line.text);
    }
    return absl::OkStatus();
  }

  absl::string_view file_;
  const std::vector<Line>& block_;
};

}  // namespace

absl::StatusOr<Script> ParseScript(absl::string_view text, absl::string_view file_name) {
  if (static_cast<int64_t>(text.size()) > kMaxScriptBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": script larger than ", kMaxScriptBytes, " bytes"));
  }
  Script script;
  script.file_name = std::string(file_name);
  std::vector<Line> lines = SplitLines(text);
  std::vector<Line> block;
  for (size_t i = 0; i <= lines.size(); ++i) {
    if (i < lines.size() && !lines[i].text.empty()) {
      block.push_back(lines[i]);
      continue;
    }
    if (block.empty()) continue;
    absl::StatusOr<Record> record = BlockParser(file_name, block).Parse();
    if (!record.ok()) return record.status();
    script.records.push_back(*std::move(record));
    block.clear();
  }
  return script;
}

absl::StatusOr<Script> ParseScriptFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open for reading"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::InternalError(absl::StrCat(path, ": cannot determine size"));
  if (size > kMaxScriptBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": script larger than ", kMaxScriptBytes, " bytes"));
  }
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) {
    return absl::InternalError(absl::StrCat(path, ": read failed"));
  }
  return ParseScript(text, path);
}

absl::string_view SortModeName(SortMode mode) {
  switch (mode) {
    case SortMode::kNoSort:
      return "nosort";
    case SortMode::kRowSort:
      return "rowsort";
    case SortMode::kValueSort:
      return "valuesort";
  }
  return "?";
}

}  // namespace rangedb::slt
