// The output formats of `rangedb sql`, byte for byte: scripts rely on them
// (client/cli/sql_format.h, docs/cli.md "rangedb sql").
#include "client/cli/sql_format.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace rangedb {
namespace {

using client::SqlBlob;
using client::SqlColumn;
using client::SqlNull;
using client::SqlRow;
using client::SqlValue;

std::vector<SqlColumn> Columns(std::vector<std::string> names) {
  std::vector<SqlColumn> columns;
  for (std::string& name : names) columns.push_back({std::move(name), ""});
  return columns;
}

// One statement's output: columns, rows in one batch, then Done.
std::string Print(SqlFormat format, const std::vector<std::string>& names,
                  const std::vector<SqlRow>& rows, size_t table_buffer_rows = kTableBufferRows) {
  std::ostringstream out;
  SqlResultWriter writer(format, out, table_buffer_rows);
  writer.Columns(Columns(names));
  writer.Rows(rows);
  writer.Done("SELECT", 0);
  return out.str();
}

// A statement without rows.
std::string PrintTag(SqlFormat format, const std::string& tag, int64_t rows_affected) {
  std::ostringstream out;
  SqlResultWriter writer(format, out);
  writer.Done(tag, rows_affected);
  return out.str();
}

const SqlBlob kBlob{std::string("\x00\xff\x10", 3)};

TEST(FormatRealTest, ShortestTextThatReadsBackTheSameDouble) {
  EXPECT_EQ(FormatReal(0.1), "0.1");
  EXPECT_EQ(FormatReal(1.5), "1.5");
  EXPECT_EQ(FormatReal(1.0), "1.0");  // a REAL keeps a point
  EXPECT_EQ(FormatReal(123456.0), "123456.0");
  EXPECT_EQ(FormatReal(-0.0), "-0.0");
  EXPECT_EQ(FormatReal(1e16), "1e+16");
  EXPECT_EQ(FormatReal(1e-7), "1e-07");
  EXPECT_EQ(FormatReal(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatReal(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatReal(DBL_MAX), "1.7976931348623157e+308");
  EXPECT_EQ(FormatReal(5e-324), "5e-324");
  EXPECT_EQ(FormatReal(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(FormatReal(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(FormatReal(std::nan("")), "NaN");
}

TEST(FormatRealTest, RoundTripsRandomDoubles) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t bits = rng();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    if (!std::isfinite(value)) continue;
    const std::string text = FormatReal(value);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
  }
}

TEST(ValueTextTest, EveryStorageClass) {
  EXPECT_EQ(ValueText(SqlNull{}), "NULL");
  EXPECT_EQ(ValueText(int64_t{-42}), "-42");
  EXPECT_EQ(ValueText(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(ValueText(2.5), "2.5");
  EXPECT_EQ(ValueText(std::string("text")), "text");
  EXPECT_EQ(ValueText(kBlob), "\\x00ff10");
  EXPECT_EQ(ValueText(SqlBlob{}), "\\x");
}

TEST(DisplayWidthTest, CountsCharactersAndWideOnesTwice) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("h\xc3\xa9llo"), 5u);              // héllo
  EXPECT_EQ(DisplayWidth("\xe4\xb8\x96\xe7\x95\x8c"), 4u);  // 世界
  EXPECT_EQ(DisplayWidth("e\xcc\x81"), 1u);                 // e + combining acute
  EXPECT_EQ(DisplayWidth("\xf0\x9f\x98\x80"), 2u);          // an emoji
  EXPECT_EQ(DisplayWidth("\xff\xfe"), 2u);                  // invalid bytes count one each
}

// ---- table ----

TEST(TableFormatTest, AlignedColumnsHeaderAndFooter) {
  EXPECT_EQ(Print(SqlFormat::kTable, {"id", "name"},
                  {{int64_t{1}, std::string("alice")},
                   {int64_t{22}, std::string("bob")},
                   {int64_t{333}, SqlNull{}}}),
            " id  | name\n"
            "-----+-------\n"
            "   1 | alice\n"
            "  22 | bob\n"
            " 333 | NULL\n"
            "(3 rows)\n"
            "\n");
}

TEST(TableFormatTest, OneRowAndNoRows) {
  EXPECT_EQ(Print(SqlFormat::kTable, {"x"}, {{2.5}}),
            "  x\n"
            "-----\n"
            " 2.5\n"
            "(1 row)\n"
            "\n");
  EXPECT_EQ(Print(SqlFormat::kTable, {"count"}, {}),
            " count\n"
            "-------\n"
            "(0 rows)\n"
            "\n");
}

TEST(TableFormatTest, NumbersRightTextLeftEmptyStringsAndBlobs) {
  EXPECT_EQ(
      Print(SqlFormat::kTable, {"n", "t", "b"},
            {{int64_t{5}, std::string(""), kBlob}, {0.25, std::string("wide text"), SqlNull{}}}),
      "  n   |     t     |    b\n"
      "------+-----------+----------\n"
      "    5 |           | \\x00ff10\n"
      " 0.25 | wide text | NULL\n"
      "(2 rows)\n"
      "\n");
}

TEST(TableFormatTest, ControlCharactersAreEscapedToKeepOneLine) {
  EXPECT_EQ(Print(SqlFormat::kTable, {"v"}, {{std::string("a\tb\nc\r\x01")}}),
            "       v\n"
            "---------------\n"
            " a\\tb\\nc\\r\\x01\n"
            "(1 row)\n"
            "\n");
}

TEST(TableFormatTest, UnicodeIsAlignedByDisplayWidth) {
  EXPECT_EQ(Print(SqlFormat::kTable, {"word", "n"},
                  {{std::string("\xe4\xb8\x96\xe7\x95\x8c"), int64_t{1}},
                   {std::string("h\xc3\xa9llo"), int64_t{2}}}),
            " word  | n\n"
            "-------+---\n"
            " \xe4\xb8\x96\xe7\x95\x8c  | 1\n"
            " h\xc3\xa9llo | 2\n"
            "(2 rows)\n"
            "\n");
}

TEST(TableFormatTest, WideColumnsTakeTheWidestValue) {
  const std::string wide(120, 'w');
  const std::string out = Print(SqlFormat::kTable, {"a", "b"}, {{wide, int64_t{1}}});
  const std::vector<std::string> lines = absl::StrSplit(out, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2], " " + wide + " | 1");
  EXPECT_EQ(lines[1], std::string(122, '-') + "+---");
}

TEST(TableFormatTest, RowsPastTheBufferKeepTheFirstWidths) {
  EXPECT_EQ(Print(SqlFormat::kTable, {"n"}, {{int64_t{1}}, {int64_t{22}}, {int64_t{333}}},
                  /*table_buffer_rows=*/2),
            " n\n"
            "----\n"
            "  1\n"
            " 22\n"
            " 333\n"
            "(3 rows)\n"
            "\n");
}

TEST(TableFormatTest, StatementsWithoutRowsPrintTheirTag) {
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "CREATE TABLE", 0), "CREATE TABLE\n");
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "INSERT", 3), "INSERT 3\n");
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "UPDATE", 1), "UPDATE 1\n");
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "DELETE", 0), "DELETE 0\n");
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "BEGIN", 0), "BEGIN\n");
  EXPECT_EQ(PrintTag(SqlFormat::kTable, "", 0), "");
}

TEST(TableFormatTest, AFailedStatementKeepsItsRowsWithoutFooter) {
  std::ostringstream out;
  SqlResultWriter writer(SqlFormat::kTable, out);
  writer.Columns(Columns({"a"}));
  writer.Rows({{int64_t{1}}});
  writer.Failed();
  writer.Done("CREATE TABLE", 0);  // the next statement
  EXPECT_EQ(out.str(), " a\n---\n 1\nCREATE TABLE\n");
}

// ---- csv ----

TEST(CsvFormatTest, Rfc4180QuotingNullsAndEmptyStrings) {
  EXPECT_EQ(Print(SqlFormat::kCsv, {"id", "name", "note"},
                  {{int64_t{1}, std::string("alice"), SqlNull{}},
                   {int64_t{2}, std::string(""), std::string("a,b")},
                   {int64_t{3}, std::string("say \"hi\""), std::string("two\nlines")},
                   {int64_t{4}, std::string("cr\r"), std::string("tab\tis plain")}}),
            "id,name,note\n"
            "1,alice,\n"
            "2,\"\",\"a,b\"\n"
            "3,\"say \"\"hi\"\"\",\"two\nlines\"\n"
            "4,\"cr\r\",tab\tis plain\n");
}

TEST(CsvFormatTest, NumbersBlobsUnicodeAndQuotedHeader) {
  EXPECT_EQ(Print(SqlFormat::kCsv, {"r", "b", "u", "a,b"},
                  {{0.1, kBlob, std::string("h\xc3\xa9llo \xe4\xb8\x96"), 1.0}}),
            "r,b,u,\"a,b\"\n"
            "0.1,\\x00ff10,h\xc3\xa9llo \xe4\xb8\x96,1.0\n");
}

TEST(CsvFormatTest, NothingForStatementsWithoutRows) {
  EXPECT_EQ(PrintTag(SqlFormat::kCsv, "INSERT", 3), "");
}

TEST(CsvFormatTest, EachStatementHasItsHeader) {
  std::ostringstream out;
  SqlResultWriter writer(SqlFormat::kCsv, out);
  writer.Columns(Columns({"a"}));
  writer.Rows({{int64_t{1}}});
  writer.Done("SELECT", 0);
  writer.Done("INSERT", 1);
  writer.Columns(Columns({"b"}));
  writer.Rows({{int64_t{2}}});
  writer.Done("SELECT", 0);
  EXPECT_EQ(out.str(), "a\n1\nb\n2\n");
}

// ---- tsv ----

TEST(TsvFormatTest, EscapesTabsNewlinesAndBackslashesAndNullIsBackslashN) {
  EXPECT_EQ(Print(SqlFormat::kTsv, {"id", "text", "n"},
                  {{int64_t{1}, std::string("plain"), SqlNull{}},
                   {int64_t{2}, std::string(""), int64_t{0}},
                   {int64_t{3}, std::string("a\tb\nc\rd\\e"), 2.5},
                   {int64_t{4}, std::string("\\N"), kBlob}}),
            "id\ttext\tn\n"
            "1\tplain\t\\N\n"
            "2\t\t0\n"
            "3\ta\\tb\\nc\\rd\\\\e\t2.5\n"
            "4\t\\\\N\t\\\\x00ff10\n");
}

TEST(TsvFormatTest, UnicodeAndQuotesPassThrough) {
  EXPECT_EQ(Print(SqlFormat::kTsv, {"col\tname"}, {{std::string("\"q\" \xe4\xb8\x96,")}}),
            "col\\tname\n"
            "\"q\" \xe4\xb8\x96,\n");
}

TEST(TsvFormatTest, NothingForStatementsWithoutRows) {
  EXPECT_EQ(PrintTag(SqlFormat::kTsv, "CREATE TABLE", 0), "");
}

// ---- json ----

TEST(JsonFormatTest, OneObjectPerRowKeyedByColumnName) {
  const std::string out =
      Print(SqlFormat::kJson, {"id", "name", "score", "data", "missing"},
            {{int64_t{1}, std::string("alice"), 1.5, kBlob, SqlNull{}},
             {int64_t{-9007199254740993}, std::string(""), 1.0, SqlBlob{}, SqlNull{}}});
  EXPECT_EQ(
      out,
      "{\"id\":1,\"name\":\"alice\",\"score\":1.5,\"data\":\"\\\\x00ff10\",\"missing\":null}\n"
      "{\"id\":-9007199254740993,\"name\":\"\",\"score\":1.0,\"data\":\"\\\\x\","
      "\"missing\":null}\n");
  // Each line parses back.
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    const nlohmann::json row = nlohmann::json::parse(line);
    EXPECT_TRUE(row.is_object());
    EXPECT_TRUE(row["missing"].is_null());
  }
  const nlohmann::json first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(first["data"], "\\x00ff10");
  EXPECT_EQ(first["score"], 1.5);
}

TEST(JsonFormatTest, EscapesAndUnicode) {
  const std::string out = Print(SqlFormat::kJson, {"t"},
                                {{std::string("q\"uo\\te\nline\ttab\x01")},
                                 {std::string("h\xc3\xa9llo \xe4\xb8\x96")},
                                 {std::string("bad \xff byte")}});
  const std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{\"t\":\"q\\\"uo\\\\te\\nline\\ttab\\u0001\"}");
  EXPECT_EQ(lines[1], "{\"t\":\"h\xc3\xa9llo \xe4\xb8\x96\"}");  // UTF-8 as is
  EXPECT_EQ(lines[2], "{\"t\":\"bad \xef\xbf\xbd byte\"}");      // U+FFFD
  EXPECT_EQ(nlohmann::json::parse(lines[0])["t"], "q\"uo\\te\nline\ttab\x01");
}

TEST(JsonFormatTest, RealsAreNumbersAndInfinitiesStrings) {
  EXPECT_EQ(Print(SqlFormat::kJson, {"a", "b", "c", "d"},
                  {{0.1, 1e16, std::numeric_limits<double>::infinity(), std::nan("")}}),
            "{\"a\":0.1,\"b\":1e+16,\"c\":\"Infinity\",\"d\":\"NaN\"}\n");
  const nlohmann::json row = nlohmann::json::parse("{\"a\":0.1,\"b\":1e+16}");
  EXPECT_EQ(row["a"].get<double>(), 0.1);
  EXPECT_EQ(row["b"].get<double>(), 1e16);
}

TEST(JsonFormatTest, RepeatedColumnNamesGetSuffixes) {
  EXPECT_EQ(Print(SqlFormat::kJson, {"a", "a", "a_2", "a"},
                  {{int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}}),
            "{\"a\":1,\"a_2\":2,\"a_2_2\":3,\"a_3\":4}\n");
}

TEST(JsonFormatTest, NothingForStatementsWithoutRows) {
  EXPECT_EQ(PrintTag(SqlFormat::kJson, "INSERT", 3), "");
  EXPECT_EQ(Print(SqlFormat::kJson, {"a"}, {}), "");
}

TEST(ParseSqlFormatTest, Names) {
  EXPECT_EQ(ParseSqlFormat("table"), SqlFormat::kTable);
  EXPECT_EQ(ParseSqlFormat("csv"), SqlFormat::kCsv);
  EXPECT_EQ(ParseSqlFormat("tsv"), SqlFormat::kTsv);
  EXPECT_EQ(ParseSqlFormat("json"), SqlFormat::kJson);
  EXPECT_EQ(ParseSqlFormat("xml"), std::nullopt);
}

}  // namespace
}  // namespace rangedb
