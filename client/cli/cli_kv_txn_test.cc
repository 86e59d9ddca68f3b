// `rangedb kv txn`'s script parser: words, quoting, operations, errors with line
// numbers. Running scripts against a cluster is an integration test elsewhere.
#include "client/cli/cli_kv_txn.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

using Kind = TxnScriptOp::Kind;

std::vector<TxnScriptWord> Words(absl::string_view line) {
  absl::StatusOr<std::vector<TxnScriptWord>> words = TokenizeTxnScriptLine(line);
  EXPECT_TRUE(words.ok()) << line << ": " << words.status();
  return words.ok() ? *words : std::vector<TxnScriptWord>();
}

std::string TokenizeError(absl::string_view line) {
  absl::StatusOr<std::vector<TxnScriptWord>> words = TokenizeTxnScriptLine(line);
  EXPECT_FALSE(words.ok()) << line;
  return std::string(words.status().message());
}

TxnScriptOp ParseOne(absl::string_view line) {
  absl::StatusOr<std::optional<TxnScriptOp>> op = ParseTxnScriptLine(line, 1);
  EXPECT_TRUE(op.ok()) << line << ": " << op.status();
  EXPECT_TRUE(op.ok() && op->has_value()) << line;
  return op.ok() && op->has_value() ? **op : TxnScriptOp();
}

std::string ParseError(absl::string_view script) {
  absl::StatusOr<std::vector<TxnScriptOp>> ops = ParseTxnScript(script);
  EXPECT_FALSE(ops.ok()) << script;
  EXPECT_EQ(ops.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(ops.status().message());
}

TEST(TxnScriptTokenizeTest, SplitsOnSpacesAndTabs) {
  EXPECT_EQ(Words("put  k\tv "),
            (std::vector<TxnScriptWord>{{"put", false}, {"k", false}, {"v", false}}));
  EXPECT_TRUE(Words("").empty());
  EXPECT_TRUE(Words("   \t ").empty());
  EXPECT_EQ(Words("get k\r"), (std::vector<TxnScriptWord>{{"get", false}, {"k", false}}));
}

TEST(TxnScriptTokenizeTest, CommentsStartAWord) {
  EXPECT_TRUE(Words("# a comment").empty());
  EXPECT_TRUE(Words("   #indented").empty());
  EXPECT_EQ(Words("get k # why"), (std::vector<TxnScriptWord>{{"get", false}, {"k", false}}));
  // Inside a word or quotes, # is a plain byte.
  EXPECT_EQ(Words("get a#b \"#c\""),
            (std::vector<TxnScriptWord>{{"get", false}, {"a#b", false}, {"#c", true}}));
}

TEST(TxnScriptTokenizeTest, QuotedWordsTakeSpacesAndEscapes) {
  EXPECT_EQ(Words(R"(put "a key" "line\none\ttab \"q\" \\ \x41\101")"),
            (std::vector<TxnScriptWord>{
                {"put", false}, {"a key", true}, {"line\none\ttab \"q\" \\ AA", true}}));
  EXPECT_EQ(Words(R"(put "" "")"),
            (std::vector<TxnScriptWord>{{"put", false}, {"", true}, {"", true}}));
  EXPECT_EQ(Words(R"("\000")"), (std::vector<TxnScriptWord>{{std::string(1, '\0'), true}}));
  // A backslash outside quotes is a plain byte.
  EXPECT_EQ(Words(R"(a\nb)"), (std::vector<TxnScriptWord>{{R"(a\nb)", false}}));
}

TEST(TxnScriptTokenizeTest, QuotingErrorsNameTheColumn) {
  EXPECT_EQ(TokenizeError(R"(put "abc)"), "column 5: unterminated quoted word");
  EXPECT_EQ(TokenizeError(R"(put "abc\")"), "column 5: unterminated quoted word");
  EXPECT_EQ(TokenizeError(R"(put ab"c" v)"), "column 7: a quote may only start a word");
  EXPECT_EQ(TokenizeError(R"(put "a"b v)"),
            "column 8: a closing quote must be followed by a space");
  EXPECT_TRUE(absl::StartsWith(TokenizeError(R"(put "\q" v)"), "column 5: bad escape"));
}

TEST(TxnScriptParseTest, EveryOperation) {
  TxnScriptOp op = ParseOne("get k");
  EXPECT_EQ(op.kind, Kind::kGet);
  EXPECT_EQ(op.key, "k");
  op = ParseOne("put k \"v 1\"");
  EXPECT_EQ(op.kind, Kind::kPut);
  EXPECT_EQ(op.key, "k");
  EXPECT_EQ(op.value, "v 1");
  op = ParseOne("del k");
  EXPECT_EQ(op.kind, Kind::kDelete);
  EXPECT_EQ(op.key, "k");
  op = ParseOne("scan a z");
  EXPECT_EQ(op.kind, Kind::kScan);
  EXPECT_EQ(op.key, "a");
  EXPECT_EQ(op.end_key, "z");
  EXPECT_EQ(op.limit, 0);
  op = ParseOne("rscan a z 10");
  EXPECT_EQ(op.kind, Kind::kReverseScan);
  EXPECT_EQ(op.limit, 10);
  op = ParseOne("delrange a z");
  EXPECT_EQ(op.kind, Kind::kDeleteRange);
  EXPECT_EQ(op.end_key, "z");
  EXPECT_EQ(ParseOne("commit").kind, Kind::kCommit);
  EXPECT_EQ(ParseOne("ROLLBACK").kind, Kind::kRollback);  // names are case-insensitive
}

TEST(TxnScriptParseTest, ConditionalPutExpectation) {
  TxnScriptOp op = ParseOne("cput k v");
  EXPECT_EQ(op.kind, Kind::kConditionalPut);
  EXPECT_EQ(op.value, "v");
  EXPECT_EQ(op.expected, std::nullopt);  // absent
  EXPECT_EQ(ParseOne("cput k v -").expected, std::nullopt);
  EXPECT_EQ(ParseOne("cput k v \"-\"").expected, "-");
  EXPECT_EQ(ParseOne("cput k v old").expected, "old");
  EXPECT_EQ(ParseOne("cput k v \"\"").expected, "");  // present but empty
}

TEST(TxnScriptParseTest, BlankAndCommentLinesAreSkipped) {
  absl::StatusOr<std::optional<TxnScriptOp>> op = ParseTxnScriptLine("  # nothing", 3);
  ASSERT_TRUE(op.ok());
  EXPECT_FALSE(op->has_value());
}

TEST(TxnScriptParseTest, AScriptKeepsLineNumbers) {
  absl::StatusOr<std::vector<TxnScriptOp>> ops =
      ParseTxnScript("# header\n\nget a\n  put a 1 # set\ncommit\n");
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0].line, 3);
  EXPECT_EQ((*ops)[1].line, 4);
  EXPECT_EQ((*ops)[2].line, 5);
  EXPECT_EQ((*ops)[2].kind, Kind::kCommit);
  // No commit or rollback is allowed (the runner rolls back); so is an empty script.
  EXPECT_TRUE(ParseTxnScript("get a").ok());
  EXPECT_TRUE(ParseTxnScript("").ok());
}

TEST(TxnScriptParseTest, ErrorsNameTheLine) {
  EXPECT_EQ(ParseError("get a\ngett b\n"),
            "line 2: unknown operation gett (want get, put, del, cput, scan, rscan, delrange, "
            "commit or rollback)");
  EXPECT_EQ(ParseError("\n\nput a\n"), "line 3: want \"put KEY VALUE\", got 1 argument");
  EXPECT_EQ(ParseError("get a b\n"), "line 1: want \"get KEY\", got 2 arguments");
  EXPECT_EQ(ParseError("commit now\n"), "line 1: want \"commit\", got 1 argument");
  EXPECT_EQ(ParseError("cput k v e x\n"),
            "line 1: want \"cput KEY VALUE [EXPECTED|-]\", got 4 arguments");
  EXPECT_EQ(ParseError("get a\nput \"b\n"), "line 2: column 5: unterminated quoted word");
  EXPECT_EQ(ParseError("\"get\" a\n"),
            "line 1: unknown operation get (want get, put, del, cput, scan, rscan, delrange, "
            "commit or rollback)");
}

TEST(TxnScriptParseTest, ScanLimitMustBeANonNegativeInteger) {
  for (const char* bad : {"-1", "ten", "1.5", "+3", "\"5\""}) {
    EXPECT_TRUE(absl::StrContains(ParseError(absl::StrCat("scan a z ", bad)),
                                  "line 1: LIMIT must be a non-negative integer"))
        << bad;
  }
}

TEST(TxnScriptParseTest, NothingMayFollowCommitOrRollback) {
  EXPECT_EQ(ParseError("put a 1\ncommit\n# fine\n\nget a\n"),
            "line 5: nothing may follow the commit on line 2");
  EXPECT_EQ(ParseError("rollback\ncommit\n"), "line 2: nothing may follow the rollback on line 1");
}

TEST(TxnScriptFormatTest, KeysAreBareWhenTheyReadBack) {
  EXPECT_EQ(FormatTxnScriptWord("acct/a"), "acct/a");
  EXPECT_EQ(FormatTxnScriptWord("a b"), "\"a b\"");
  EXPECT_EQ(FormatTxnScriptWord(""), "\"\"");
  EXPECT_EQ(FormatTxnScriptWord("-"), "\"-\"");
  EXPECT_EQ(FormatTxnScriptWord("#x"), "\"#x\"");
  EXPECT_EQ(FormatTxnScriptWord("q\""), "\"q\\\"\"");
  EXPECT_EQ(FormatTxnScriptWord(std::string("\x01\xff", 2)), "\"\\001\\377\"");
  // Whatever it prints tokenizes back to the same bytes.
  for (const std::string& word :
       {std::string("plain"), std::string("a b"), std::string("\t\n\"\\'"), std::string(),
        std::string("-"), std::string("#"), std::string("\0\x7f\x80", 3)}) {
    std::vector<TxnScriptWord> words = Words(FormatTxnScriptWord(word));
    ASSERT_EQ(words.size(), 1u) << word;
    EXPECT_EQ(words[0].text, word);
  }
}

}  // namespace
}  // namespace rangedb
