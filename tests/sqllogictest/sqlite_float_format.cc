// SQLite 3.47's printf of doubles, for "%.3f" and "%!.15g"
// (tests/sqllogictest/sqlite_float_format.h).
//
// A value is decoded into significant decimal digits and the position of the decimal
// point, rounded on those digits (half up, to a number of digits capped by the
// format), and laid out as fixed or exponent notation. The rules are those of SQLite's
// printf.c and sqlite3FpDecode as of 3.47; the code is written from their description.
#include "tests/sqllogictest/sqlite_float_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/check.h"

namespace rangedb::slt {
namespace {

// Significant digits kept from the binary value before rounding (more than any format
// here rounds on), truncated from a longer rendering so that they are exact: the C
// library prints a double's exact decimal expansion, rounded at its last digit, which
// could only disturb the kept digits through a run of 20 nines.
constexpr int kDecodedDigits = 20;
constexpr int kRenderedDigits = 40;

// A positive finite value as 0.DIGITS x 10^point, DIGITS starting with a non-zero digit.
struct Decimal {
  std::string digits;
  int point = 0;
};

// REQUIRES: r > 0 and finite.
Decimal Decode(double r) {
  char buffer[64];
  const int size = std::snprintf(buffer, sizeof(buffer), "%.*e", kRenderedDigits - 1, r);
  RANGEDB_CHECK(size > 0 && size < static_cast<int>(sizeof(buffer)));
  // buffer is "D.DDD...De[+-]XX" with kRenderedDigits digits.
  Decimal d;
  d.digits.push_back(buffer[0]);
  int i = 2;
  for (; buffer[i] != 'e'; ++i) {
    if (static_cast<int>(d.digits.size()) < kDecodedDigits) d.digits.push_back(buffer[i]);
  }
  d.point = std::atoi(&buffer[i + 1]) + 1;
  RANGEDB_CHECK(d.digits[0] != '0');
  return d;
}

// Rounds d to `round_digits` significant digits, half up (looking at the next digit
// only), if that is fewer than it has; and to at most max_digits in any case. A
// round_digits of 0 means "to the digit just before the first", which can round up to
// a new leading 1. Trailing zeros are dropped afterwards. Negative round_digits (the
// value is below the precision) leaves d as it is.
void Round(int round_digits, int max_digits, Decimal* d) {
  std::string& z = d->digits;
  if (round_digits == 0 && z[0] >= '5') {
    z.insert(z.begin(), '0');
    ++d->point;
    round_digits = 1;
  }
  const int n = static_cast<int>(z.size());
  if (round_digits > 0 && (round_digits < n || n > max_digits)) {
    round_digits = std::min(round_digits, max_digits);
    const bool up = z[round_digits] >= '5';
    z.resize(round_digits);
    for (int j = round_digits - 1; up; --j) {
      if (j < 0) {  // carried out of the first digit: 999.. became 1000..
        z.insert(z.begin(), '1');
        ++d->point;
        break;
      }
      if (++z[j] <= '9') break;
      z[j] = '0';
    }
  }
  while (z.size() > 1 && z.back() == '0') z.pop_back();
}

// The fixed-notation layout of printf: digits before the point (at least "0"), the
// point if there are decimals or `keep_point`, then `decimals` digits. With
// `trim_zeros`, trailing zeros after the point go, and a bare point becomes ".0" if
// keep_point, else goes.
std::string LayOutFixed(const Decimal& d, int decimals, bool keep_point, bool trim_zeros) {
  std::string out;
  size_t j = 0;
  auto next_digit = [&]() { return j < d.digits.size() ? d.digits[j++] : '0'; };
  int e2 = d.point - 1;
  if (e2 < 0) {
    out.push_back('0');
  } else {
    for (; e2 >= 0; --e2) out.push_back(next_digit());
  }
  const bool point = decimals > 0 || keep_point;
  if (point) out.push_back('.');
  for (++e2; e2 < 0 && decimals > 0; --decimals, ++e2) out.push_back('0');
  for (; decimals > 0; --decimals) out.push_back(next_digit());
  if (trim_zeros && point) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') {
      if (keep_point) {
        out.push_back('0');
      } else {
        out.pop_back();
      }
    }
  }
  return out;
}

// "Inf", "-Inf" or "NaN" for a non-finite value; empty otherwise.
std::string NonFinite(double r) {
  if (std::isnan(r)) return "NaN";
  if (std::isinf(r)) return r < 0 ? "-Inf" : "Inf";
  return "";
}

}  // namespace

std::string SqliteFixed3(double r) {
  constexpr int kDecimals = 3;
  constexpr int kMaxSignificantDigits = 16;
  if (std::string special = NonFinite(r); !special.empty()) return special;
  if (r == 0.0) return "0.000";  // -0.0 too: SQLite tests r < 0 for the sign
  Decimal d = Decode(std::fabs(r));
  Round(d.point + kDecimals, kMaxSignificantDigits, &d);
  std::string out = r < 0 ? "-" : "";
  out += LayOutFixed(d, kDecimals, /*keep_point=*/false, /*trim_zeros=*/false);
  return out;
}

std::string SqliteReal(double r) {
  constexpr int kPrecision = 15;
  constexpr int kMaxSignificantDigits = 26;  // the '!' flag's limit
  if (std::string special = NonFinite(r); !special.empty()) return special;
  if (r == 0.0) return "0.0";
  Decimal d = Decode(std::fabs(r));
  Round(kPrecision, kMaxSignificantDigits, &d);
  std::string out = r < 0 ? "-" : "";
  const int exponent = d.point - 1;
  const int precision = kPrecision - 1;  // "%g" counts the digit before the point
  if (exponent < -4 || exponent > precision) {
    // Exponent notation: one digit, the point, the rest, "e", sign, 2 or 3 digits.
    Decimal mantissa = d;
    mantissa.point = 1;
    out += LayOutFixed(mantissa, precision, /*keep_point=*/true, /*trim_zeros=*/true);
    const int magnitude = std::abs(exponent);
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    if (magnitude >= 100) out.push_back(static_cast<char>('0' + magnitude / 100));
    out.push_back(static_cast<char>('0' + magnitude / 10 % 10));
    out.push_back(static_cast<char>('0' + magnitude % 10));
  } else {
    out += LayOutFixed(d, precision - exponent, /*keep_point=*/true, /*trim_zeros=*/true);
  }
  return out;
}

}  // namespace rangedb::slt
