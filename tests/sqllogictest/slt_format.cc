// Rendering, sorting and hashing of results (tests/sqllogictest/slt_format.h).
//
// The numeric conversions follow SQLite's: what sqlite3_column_int and
// sqlite3_column_double return for a value of each storage class (util.c
// sqlite3Atoi64 / sqlite3AtoF, vdbemem.c), since that is what the reference runner
// prints. Doubles are printed as SQLite's printf prints them (sqlite_float_format.h).
#include "tests/sqllogictest/slt_format.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "tests/sqllogictest/sqlite_float_format.h"

namespace rangedb::slt {
namespace {

// SQLite's sqlite3Isspace: the six ASCII white-space characters.
bool IsSqliteSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The integer SQLite reads from text (sqlite3_column_int64 of a TEXT or BLOB): leading
// white space, an optional sign, then as many decimal digits as there are; no digits
// is 0; a value out of the int64 range is clamped to it.
int64_t TextToInteger(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && IsSqliteSpace(text[i])) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  while (i < text.size() && text[i] == '0') ++i;
  uint64_t magnitude = 0;
  int digits = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i, ++digits) {
    if (digits < 20) magnitude = magnitude * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  constexpr uint64_t kTwoTo63 = uint64_t{1} << 63;
  if (digits > 19 || magnitude > kTwoTo63 || (magnitude == kTwoTo63 && !negative)) {
    return negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  if (negative) return static_cast<int64_t>(0 - magnitude);  // 2^63 wraps to INT64_MIN
  return static_cast<int64_t>(magnitude);
}

// The double SQLite reads from text (sqlite3_column_double of a TEXT or BLOB): the
// longest prefix of the form  [ws][+-]digits[.digits][(e|E)[+-]digits]  (digits on
// at least one side of the '.'), converted; 0.0 if there is no such prefix.
double TextToReal(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && IsSqliteSpace(text[i])) ++i;
  const size_t start = i;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t digits = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i) ++digits;
  if (i < text.size() && text[i] == '.') {
    size_t j = i + 1;
    for (; j < text.size() && IsDigit(text[j]); ++j) ++digits;
    if (digits > 0) i = j;
  }
  if (digits == 0) return 0.0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '-' || text[j] == '+')) ++j;
    if (j < text.size() && IsDigit(text[j])) {
      while (j < text.size() && IsDigit(text[j])) ++j;
      i = j;
    }
  }
  // The prefix has only the characters above, so strtod reads all of it (no hex, no
  // "inf"); it overflows to +-HUGE_VAL and underflows toward 0, as SQLite does.
  const std::string prefix(text.substr(start, i - start));
  return std::strtod(prefix.c_str(), nullptr);
}

// SQLite's REAL to INTEGER conversion: truncation toward zero, clamped to the int64
// range. SQLite never stores a NaN (it becomes NULL); one is read as 0 here.
int64_t RealToInteger(double r) {
  if (std::isnan(r)) return 0;
  if (r <= static_cast<double>(std::numeric_limits<int64_t>::min())) {
    return std::numeric_limits<int64_t>::min();
  }
  if (r >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(r);
}

// The text of a TEXT or BLOB value as the reference runner prints it in a 'T' column.
std::string RenderText(absl::string_view bytes) {
  bytes = bytes.substr(0, bytes.find('\0'));  // C strings end at the first NUL
  if (bytes.empty()) return "(empty)";
  std::string out(bytes);
  for (char& c : out) {
    if (c < ' ' || c > '~') c = '@';  // control characters, DEL and every byte >= 0x80
  }
  return out;
}

// The bytes of a TEXT or BLOB value. REQUIRES: the value is one of those.
absl::string_view TextOrBlobBytes(const sql::Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  const auto* blob = std::get_if<sql::Blob>(&value);
  RANGEDB_CHECK(blob != nullptr) << "value of storage class "
                                 << static_cast<int>(sql::ClassOf(value))
                                 << " is neither TEXT nor BLOB";
  return blob->bytes;
}

std::string RenderInteger(const sql::Value& value) {
  int64_t v = 0;
  switch (sql::ClassOf(value)) {
    case sql::StorageClass::kInteger:
      v = std::get<int64_t>(value);
      break;
    case sql::StorageClass::kReal:
      v = RealToInteger(std::get<double>(value));
      break;
    default:
      v = TextToInteger(TextOrBlobBytes(value));
      break;
  }
  // sqlite3_column_int keeps the low 32 bits (two's complement).
  const auto low_bits = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  return absl::StrCat(low_bits);
}

std::string RenderReal(const sql::Value& value) {
  double r = 0.0;
  switch (sql::ClassOf(value)) {
    case sql::StorageClass::kInteger:
      r = static_cast<double>(std::get<int64_t>(value));
      break;
    case sql::StorageClass::kReal:
      r = std::get<double>(value);
      break;
    default:
      r = TextToReal(TextOrBlobBytes(value));
      break;
  }
  return SqliteFixed3(r);
}

std::string RenderAsText(const sql::Value& value) {
  switch (sql::ClassOf(value)) {
    case sql::StorageClass::kInteger:
      return absl::StrCat(std::get<int64_t>(value));
    case sql::StorageClass::kReal:
      return SqliteReal(std::get<double>(value));
    default:
      return RenderText(TextOrBlobBytes(value));
  }
}

// An OpenSSL digest context, freed on scope exit.
struct Md5Context {
  Md5Context() : ctx(EVP_MD_CTX_new()) {
    RANGEDB_CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
    RANGEDB_CHECK(EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1) << "MD5 init failed";
  }
  ~Md5Context() { EVP_MD_CTX_free(ctx); }
  Md5Context(const Md5Context&) = delete;
  Md5Context& operator=(const Md5Context&) = delete;

  void Add(absl::string_view bytes) {
    RANGEDB_CHECK(EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1) << "MD5 update failed";
  }

  std::string FinishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    RANGEDB_CHECK(EVP_DigestFinal_ex(ctx, digest, &size) == 1) << "MD5 final failed";
    RANGEDB_CHECK_EQ(size, 16u);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 0xf]);
    }
    return hex;
  }

  EVP_MD_CTX* ctx;
};

}  // namespace

std::string RenderValue(const sql::Value& value, char type) {
  if (sql::IsNull(value)) return "NULL";
  switch (type) {
    case 'I':
      return RenderInteger(value);
    case 'R':
      return RenderReal(value);
    case 'T':
      return RenderAsText(value);
  }
  RANGEDB_FATAL() << "unknown sqllogictest type character '" << type << "'";
}

absl::StatusOr<std::vector<std::string>> RenderResult(const SltResult& result,
                                                      absl::string_view types) {
  if (result.column_count != types.size()) {
    return absl::FailedPreconditionError(absl::StrCat("wrong number of result columns: expected ",
                                                      types.size(), " (type string '", types,
                                                      "') but got ", result.column_count));
  }
  std::vector<std::string> values;
  values.reserve(result.rows.size() * types.size());
  for (size_t r = 0; r < result.rows.size(); ++r) {
    const std::vector<sql::Value>& row = result.rows[r];
    if (row.size() != types.size()) {
      return absl::FailedPreconditionError(absl::StrCat("row ", r + 1, " has ", row.size(),
                                                        " values but the result has ", types.size(),
                                                        " columns"));
    }
    for (size_t c = 0; c < row.size(); ++c) values.push_back(RenderValue(row[c], types[c]));
  }
  return values;
}

void SortValues(SortMode mode, size_t column_count, std::vector<std::string>* values) {
  RANGEDB_CHECK_GT(column_count, 0);
  RANGEDB_CHECK_EQ(values->size() % column_count, 0);
  switch (mode) {
    case SortMode::kNoSort:
      return;
    case SortMode::kValueSort:
      std::sort(values->begin(), values->end());
      return;
    case SortMode::kRowSort:
      break;
  }
  // Sort row indexes, then rebuild: rows are compared column by column.
  const size_t row_count = values->size() / column_count;
  std::vector<size_t> order(row_count);
  for (size_t i = 0; i < row_count; ++i) order[i] = i;
  const std::vector<std::string>& v = *values;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    for (size_t c = 0; c < column_count; ++c) {
      const int cmp = v[a * column_count + c].compare(v[b * column_count + c]);
      if (cmp != 0) return cmp < 0;
    }
    return false;
  });
  std::vector<std::string> sorted;
  sorted.reserve(values->size());
  for (size_t row : order) {
    for (size_t c = 0; c < column_count; ++c) {
      sorted.push_back(std::move((*values)[row * column_count + c]));
    }
  }
  *values = std::move(sorted);
}

std::string Md5Hex(absl::string_view bytes) {
  Md5Context md5;
  md5.Add(bytes);
  return md5.FinishHex();
}

std::string HashValues(const std::vector<std::string>& values) {
  Md5Context md5;
  for (const std::string& value : values) {
    md5.Add(value);
    md5.Add("\n");
  }
  return md5.FinishHex();
}

std::string HashLine(const std::vector<std::string>& values) {
  return absl::StrCat(values.size(), " values hashing to ", HashValues(values));
}

}  // namespace rangedb::slt
