#include "sql/statement_text.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace rangedb::sql {
namespace {

bool IsIdentChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         (static_cast<unsigned char>(c) & 0x80) != 0;
}

// One token from the front of *sql (after space and comments): a word, a quoted
// identifier (unquoted), or one punctuation character. Empty at the end or on an
// unterminated quote.
struct Token {
  std::string text;
  bool quoted = false;
};

Token NextToken(absl::string_view* sql) {
  *sql = SkipSpaceAndComments(*sql);
  Token token;
  if (sql->empty()) return token;
  const char c = sql->front();
  char close = 0;
  if (c == '"') close = '"';
  if (c == '`') close = '`';
  if (c == '[') close = ']';
  if (c == '\'') close = '\'';
  if (close != 0) {
    size_t i = 1;
    while (i < sql->size()) {
      if ((*sql)[i] == close) {
        if (close != ']' && i + 1 < sql->size() && (*sql)[i + 1] == close) {
          token.text.push_back(close);
          i += 2;
          continue;
        }
        sql->remove_prefix(i + 1);
        token.quoted = true;
        return token;
      }
      token.text.push_back((*sql)[i++]);
    }
    *sql = absl::string_view();
    return Token{};
  }
  if (IsIdentChar(c)) {
    size_t i = 0;
    while (i < sql->size() && IsIdentChar((*sql)[i])) ++i;
    token.text = std::string(sql->substr(0, i));
    sql->remove_prefix(i);
    return token;
  }
  token.text = std::string(1, c);
  sql->remove_prefix(1);
  return token;
}

bool IsWord(const Token& t, absl::string_view word) {
  return !t.quoted && absl::EqualsIgnoreCase(t.text, word);
}

}  // namespace

absl::string_view SkipSpaceAndComments(absl::string_view sql) {
  while (!sql.empty()) {
    if (absl::ascii_isspace(static_cast<unsigned char>(sql.front()))) {
      sql.remove_prefix(1);
    } else if (sql.substr(0, 2) == "--") {
      const size_t nl = sql.find('\n');
      sql = nl == absl::string_view::npos ? absl::string_view() : sql.substr(nl + 1);
    } else if (sql.substr(0, 2) == "/*") {
      const size_t end = sql.find("*/", 2);
      sql = end == absl::string_view::npos ? absl::string_view() : sql.substr(end + 2);
    } else {
      break;
    }
  }
  return sql;
}

std::string FirstKeyword(absl::string_view sql) {
  Token t = NextToken(&sql);
  if (t.quoted) return "";
  return absl::AsciiStrToUpper(t.text);
}

std::optional<InsertTarget> ParseInsertTarget(absl::string_view sql) {
  Token t = NextToken(&sql);
  if (IsWord(t, "WITH")) {
    // WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (select) [, …]: skip
    // to the first word outside parentheses after the last common table expression.
    int depth = 0;
    while (true) {
      t = NextToken(&sql);
      if (t.text.empty()) return std::nullopt;
      if (!t.quoted && t.text == "(") ++depth;
      if (!t.quoted && t.text == ")") --depth;
      if (depth == 0 && (IsWord(t, "INSERT") || IsWord(t, "REPLACE"))) break;
      if (depth == 0 && (IsWord(t, "SELECT") || IsWord(t, "UPDATE") || IsWord(t, "DELETE") ||
                         IsWord(t, "VALUES"))) {
        return std::nullopt;
      }
    }
  }
  if (IsWord(t, "INSERT")) {
    t = NextToken(&sql);
    if (IsWord(t, "OR")) {
      NextToken(&sql);  // the conflict mode
      t = NextToken(&sql);
    }
  } else if (IsWord(t, "REPLACE")) {
    t = NextToken(&sql);
  } else {
    return std::nullopt;
  }
  if (!IsWord(t, "INTO")) return std::nullopt;
  InsertTarget target;
  t = NextToken(&sql);
  if (t.text.empty()) return std::nullopt;
  target.table = t.text;
  t = NextToken(&sql);
  if (!t.quoted && t.text == ".") {  // schema.table
    t = NextToken(&sql);
    if (t.text.empty()) return std::nullopt;
    target.table = t.text;
    t = NextToken(&sql);
  }
  if (IsWord(t, "AS")) {
    NextToken(&sql);  // the alias
    t = NextToken(&sql);
  }
  if (IsWord(t, "DEFAULT")) {
    target.default_values = true;
    target.columns = std::vector<std::string>();
    return target;
  }
  if (t.quoted || t.text != "(") return target;  // VALUES / SELECT: every column
  std::vector<std::string> columns;
  while (true) {
    t = NextToken(&sql);
    if (t.text.empty() || (!t.quoted && (t.text == ")" || t.text == "(" || t.text == ","))) {
      return std::nullopt;
    }
    columns.push_back(t.text);
    t = NextToken(&sql);
    if (!t.quoted && t.text == ")") break;
    if (t.quoted || t.text != ",") return std::nullopt;
  }
  target.columns = std::move(columns);
  return target;
}

std::string AlterTableAction(absl::string_view sql) {
  if (!IsWord(NextToken(&sql), "ALTER") || !IsWord(NextToken(&sql), "TABLE")) return "";
  if (NextToken(&sql).text.empty()) return "";  // the table
  Token t = NextToken(&sql);
  if (!t.quoted && t.text == ".") {  // schema.table
    if (NextToken(&sql).text.empty()) return "";
    t = NextToken(&sql);
  }
  if (t.quoted) return "";
  return absl::AsciiStrToUpper(t.text);
}

}  // namespace rangedb::sql
