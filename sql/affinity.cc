#include "sql/affinity.h"

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace rangedb::sql {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr double kTwoTo63 = 9223372036854775808.0;  // 2^63, exact as a double

// SQLite's isspace (sqlite3Isspace): ' ', \t, \n, \v, \f, \r, whatever the locale.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// 10^e as SQLite 3.40's sqlite3Pow10 computes it: repeated squaring in long double.
// Rounding happens in the same steps, so the scaled results below round alike.
long double Pow10(int64_t e) {
  long double x = 10.0L;
  long double r = 1.0L;
  while (true) {
    if (e & 1) r *= x;
    e >>= 1;
    if (e == 0) break;
    x *= x;
  }
  return r;
}

// sign * s * 10^exponent, computed as SQLite 3.40's sqlite3AtoF computes it: powers
// of ten moved into the significand while exact, then one multiplication or division
// by a long double power of ten (in two steps past 1e307), rounded to double.
double ScaleLikeSqlite(int sign, int64_t s, int64_t exponent) {
  if (s == 0) return sign < 0 ? -0.0 : 0.0;
  const bool divide = exponent < 0;
  int64_t e = divide ? -exponent : exponent;
  while (e > 0) {
    if (!divide) {
      if (s >= kInt64Max / 10) break;
      s *= 10;
    } else {
      if (s % 10 != 0) break;
      s /= 10;
    }
    --e;
  }
  if (sign < 0) s = -s;
  if (e == 0) return static_cast<double>(s);
  if (e > 307) {
    if (e >= 342) {
      return divide ? 0.0 * static_cast<double>(s)
                    : std::numeric_limits<double>::infinity() * static_cast<double>(s);
    }
    const long double scale = Pow10(e - 308);
    if (divide) return static_cast<double>(s / scale) / 1.0e+308;
    return static_cast<double>(s * scale) * 1.0e+308;
  }
  const long double scale = Pow10(e);
  return static_cast<double>(divide ? s / scale : s * scale);
}

// A decimal text read as SQLite 3.40's sqlite3AtoF reads it.
struct ParsedReal {
  double value = 0.0;
  // 1: a well-formed integer literal (no '.' or exponent); 2 or 3: a well-formed
  // real literal; <= 0: not a number (numeric affinity leaves such text as TEXT).
  int kind = 0;
};

// Reimplements sqlite3AtoF (util.c, 3.40) for UTF-8, rounding included. SQLite keeps
// at most 19 significant digits (the rest only shift the exponent) and scales by a
// power of ten in long double, so its result is not always strtod's correctly
// rounded one (1 in ~400 random literals differ, mostly near the denormal range);
// ApplyAffinity must give what SQLite stores, so it takes SQLite's arithmetic too.
ParsedReal SqliteAtoF(absl::string_view text) {
  const char* z = text.data();
  const char* const end = z + text.size();
  int sign = 1;
  int64_t s = 0;        // significand
  int64_t d = 0;        // decimal shift of the significand
  int esign = 1;        // sign of the exponent
  int64_t e = 0;        // exponent, saturating at 10000
  bool e_valid = true;  // no exponent, or one with digits
  int64_t digits = 0;   // significant digits read
  int kind = 1;         // 1: integer, +1 for a '.', +1 for an exponent

  while (z < end && IsSpace(*z)) ++z;
  if (z >= end) return {};
  if (*z == '-') {
    sign = -1;
    ++z;
  } else if (*z == '+') {
    ++z;
  }
  constexpr int64_t kSignificandLimit = (kInt64Max - 9) / 10;
  while (z < end && IsDigit(*z)) {
    s = s * 10 + (*z - '0');
    ++z;
    ++digits;
    if (s >= kSignificandLimit) {
      while (z < end && IsDigit(*z)) {
        ++z;
        ++d;
      }
    }
  }
  if (z < end && *z == '.') {
    ++z;
    ++kind;
    while (z < end && IsDigit(*z)) {
      if (s < kSignificandLimit) {
        s = s * 10 + (*z - '0');
        --d;
        ++digits;
      }
      ++z;
    }
  }
  if (z < end && (*z == 'e' || *z == 'E')) {
    ++z;
    e_valid = false;
    ++kind;
    if (z < end && *z == '-') {
      esign = -1;
      ++z;
    } else if (z < end && *z == '+') {
      ++z;
    }
    while (z < end && IsDigit(*z)) {
      e = e < 10000 ? e * 10 + (*z - '0') : 10000;
      ++z;
      e_valid = true;
    }
  }
  while (z < end && IsSpace(*z)) ++z;

  const double result = ScaleLikeSqlite(sign, s, e * esign + d);
  ParsedReal parsed{result, 0};
  if (z == end && digits > 0 && e_valid) {
    parsed.kind = kind;
  } else if (kind >= 2 && (kind == 3 || e_valid) && digits > 0) {
    parsed.kind = -1;  // a number followed by other text
  }
  return parsed;
}

// sqlite3Atoi64 (util.c) for UTF-8, reduced to what affinity needs: the integer when
// the whole text (whitespace aside) is a decimal integer that fits int64, with
// -9223372036854775808 fitting and 9223372036854775808 not.
std::optional<int64_t> SqliteAtoi64(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  const size_t start = i;
  while (i < text.size() && text[i] == '0') ++i;
  uint64_t u = 0;
  size_t significant = 0;  // digits after the leading zeros; u holds the first 19
  for (; i < text.size() && IsDigit(text[i]); ++i, ++significant) {
    if (significant < 19) u = u * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  const size_t digits_end = i;
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (digits_end == start || i != text.size() || significant > 19) return std::nullopt;
  const uint64_t limit = negative ? uint64_t{1} << 63 : static_cast<uint64_t>(kInt64Max);
  if (u > limit) return std::nullopt;
  return negative ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
}

// sqlite3VdbeIntegerAffinity: a REAL that is a whole number strictly between -2^63
// and 2^63 becomes that INTEGER. SQLite refuses both ends (its double-to-int64
// conversion clamps to them, so they cannot be told from overflow).
Value IntegerIfExact(double r) {
  if (r > -kTwoTo63 && r < kTwoTo63 && std::trunc(r) == r) return static_cast<int64_t>(r);
  return r;
}

// sqlite3RealSameAsInt: whether r is exactly the integer i, for |i| < 2^51 only.
bool RealSameAsInt(double r, int64_t i) {
  constexpr int64_t kTwoTo51 = int64_t{1} << 51;
  return r == 0.0 || (r == static_cast<double>(i) && i >= -kTwoTo51 && i < kTwoTo51);
}

// applyNumericAffinity(pRec, bTryForInt=1) in vdbe.c: TEXT that is a number becomes
// INTEGER or REAL; other text is returned unchanged.
Value NumericOfText(std::string text) {
  const ParsedReal parsed = SqliteAtoF(text);
  if (parsed.kind <= 0) return text;
  if (parsed.kind == 1) {
    // alsoAnInt: small integers straight from the double, others re-parsed exactly.
    const double r = parsed.value;
    if (std::fabs(r) < 0x1p52) {
      const int64_t i = static_cast<int64_t>(r);
      if (RealSameAsInt(r, i)) return i;
    }
    if (std::optional<int64_t> i = SqliteAtoi64(text)) return *i;
  }
  return IntegerIfExact(parsed.value);
}

Value Numeric(Value value) {
  if (const double* r = std::get_if<double>(&value)) return IntegerIfExact(*r);
  if (std::string* text = std::get_if<std::string>(&value)) return NumericOfText(std::move(*text));
  return value;
}

}  // namespace

Affinity AffinityOfDeclaredType(absl::string_view declared_type) {
  if (declared_type.empty()) return Affinity::kBlob;
  const std::string type = absl::AsciiStrToUpper(declared_type);
  auto contains = [&type](absl::string_view part) { return absl::StrContains(type, part); };
  if (contains("INT")) return Affinity::kInteger;
  if (contains("CHAR") || contains("CLOB") || contains("TEXT")) return Affinity::kText;
  if (contains("BLOB")) return Affinity::kBlob;
  if (contains("REAL") || contains("FLOA") || contains("DOUB")) return Affinity::kReal;
  return Affinity::kNumeric;
}

std::string RealToText(double value) {
  char* text = sqlite3_mprintf("%!.15g", value);
  // sqlite3_mprintf returns NULL only when it cannot allocate ~30 bytes.
  RANGEDB_CHECK(text != nullptr) << "sqlite3_mprintf: out of memory";
  std::string out(text);
  sqlite3_free(text);
  return out;
}

Value ApplyAffinity(Affinity affinity, Value value) {
  if (const double* r = std::get_if<double>(&value); r != nullptr && std::isnan(*r)) {
    return Null{};
  }
  switch (affinity) {
    case Affinity::kBlob:
      return value;
    case Affinity::kText:
      if (const int64_t* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
      if (const double* r = std::get_if<double>(&value)) return RealToText(*r);
      return value;
    case Affinity::kNumeric:
    case Affinity::kInteger:
      return Numeric(std::move(value));
    case Affinity::kReal: {
      Value numeric = Numeric(std::move(value));
      if (const int64_t* i = std::get_if<int64_t>(&numeric)) return static_cast<double>(*i);
      return numeric;
    }
  }
  return value;
}

absl::StatusOr<Collation> CollationByName(absl::string_view name) {
  for (Collation c : {Collation::kBinary, Collation::kNocase, Collation::kRtrim}) {
    if (absl::EqualsIgnoreCase(name, CollationName(c))) return c;
  }
  return absl::InvalidArgumentError(absl::StrCat("no such collation sequence: ", name));
}

absl::string_view AffinityName(Affinity affinity) {
  switch (affinity) {
    case Affinity::kBlob:
      return "BLOB";
    case Affinity::kText:
      return "TEXT";
    case Affinity::kNumeric:
      return "NUMERIC";
    case Affinity::kInteger:
      return "INTEGER";
    case Affinity::kReal:
      return "REAL";
  }
  return "?";
}

absl::string_view CollationName(Collation collation) {
  switch (collation) {
    case Collation::kBinary:
      return "BINARY";
    case Collation::kNocase:
      return "NOCASE";
    case Collation::kRtrim:
      return "RTRIM";
  }
  return "?";
}

}  // namespace rangedb::sql
