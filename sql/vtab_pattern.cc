#include "sql/vtab_pattern.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "sql/key_codec.h"
#include "sql/vtab_internal.h"
#include "sqlite3.h"

namespace rangedb::sql {
namespace {

// The key of a TEXT or BLOB value without its terminator: the prefix of the key of
// every value of that class that starts with the same bytes. REQUIRES: no NUL in the
// bytes (the key encoding escapes NUL, storage/encoding.h; nothing else changes).
std::string OpenKey(const Value& value) {
  std::string key;
  AppendValueKey(&key, value, Collation::kBinary, Direction::kAscending);
  constexpr absl::string_view kTerminator("\x00\x01", 2);
  RANGEDB_CHECK(absl::EndsWith(key, kTerminator)) << "not a TEXT or BLOB key";
  key.resize(key.size() - kTerminator.size());
  return key;
}

}  // namespace

std::string LiteralPrefix(absl::string_view pattern, PatternOp op) {
  const absl::string_view wildcards = op == PatternOp::kLike ? "%_" : "*?[";
  size_t n = 0;
  while (n < pattern.size()) {
    const unsigned char c = static_cast<unsigned char>(pattern[n]);
    if (c == 0 || c >= 0x80 || absl::StrContains(wildcards, static_cast<char>(c))) break;
    ++n;
  }
  return std::string(pattern.substr(0, n));
}

bool PatternsMatchBlobs() {
  static const bool match = sqlite3_compileoption_used("LIKE_DOESNT_MATCH_BLOBS") == 0;
  return match;
}

std::vector<KeySpan> PatternSpans(absl::string_view key_prefix, absl::string_view literal,
                                  PatternOp op, bool match_blobs) {
  RANGEDB_CHECK(!literal.empty());
  RANGEDB_CHECK(literal.find('\0') == absl::string_view::npos);
  const bool like = op == PatternOp::kLike;
  // TEXT keys hold the collated text: NOCASE folds A-Z to a-z (key_codec.h).
  const std::string text = like ? CollatedText(literal, Collation::kNocase) : std::string(literal);
  const std::string text_start = absl::StrCat(key_prefix, OpenKey(Value(text)));
  std::vector<KeySpan> spans = {KeySpan{text_start, vtab_internal::PrefixEnd(text_start)}};
  if (!match_blobs) return spans;
  // BLOB keys hold the bytes as they are, whatever the collation.
  const std::string low = like ? absl::AsciiStrToUpper(literal) : std::string(literal);
  const std::string high = like ? absl::AsciiStrToLower(literal) : std::string(literal);
  spans.push_back(
      KeySpan{absl::StrCat(key_prefix, OpenKey(Value(Blob{low}))),
              vtab_internal::PrefixEnd(absl::StrCat(key_prefix, OpenKey(Value(Blob{high}))))});
  return spans;
}

}  // namespace rangedb::sql
