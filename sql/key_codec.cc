#include "sql/key_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rangedb::sql {
namespace {

constexpr double kTwoTo63 = 9223372036854775808.0;  // 2^63, exact as a double
constexpr size_t kFloatKeySize = 9;                 // tag + 8 payload bytes

// Whether the key of a number whose nearest double is d carries a tie-break: d is a
// whole number with |d| <= 2^63, the range where an INTEGER can round to d.
bool HasTieBreak(double d) {
  return std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kTwoTo63;
}

void AppendIntegerKey(std::string* dst, int64_t i, Direction dir) {
  AppendFloat64Key(dst, static_cast<double>(i), dir);  // round to nearest: monotone
  AppendInt64Key(dst, i, dir);  // (double)i is always whole and within +-2^63
}

void AppendRealKey(std::string* dst, double r, Direction dir) {
  AppendFloat64Key(dst, r, dir);
  if (!HasTieBreak(r)) return;
  if (r == kTwoTo63) {
    // Above every INT64, as 2^63 is above every integer that rounds to it.
    AppendUvarintKey(dst, 0, dir);
  } else {
    AppendInt64Key(dst, static_cast<int64_t>(r), dir);  // -0.0 becomes 0
  }
}

std::string Describe(double d) { return KeyDatumToString(KeyDatum(d)); }

absl::Status NumberError(double d, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("number key ", Describe(d), " at offset 0: ", why));
}

// Decodes a number key (FLOAT64 and its tie-break, if D needs one) from *src.
absl::StatusOr<Value> ConsumeNumberKey(absl::string_view* src, Direction dir) {
  absl::string_view rest = *src;
  absl::StatusOr<double> d = ConsumeFloat64Key(&rest, dir);
  if (!d.ok()) return d.status();
  if (std::isnan(*d)) {
    return absl::InvalidArgumentError(
        "number key at offset 0: NaN, which no value key holds (SQLite stores NaN as NULL)");
  }
  if (!HasTieBreak(*d)) {
    *src = rest;
    return Value(*d);
  }
  absl::StatusOr<KeyTag> tag = PeekKeyTag(rest);
  if (!tag.ok() || tag->direction != dir ||
      (tag->type != KeyType::kInt64 && tag->type != KeyType::kUvarint)) {
    return NumberError(
        *d, absl::StrCat(
                "a whole number needs an int64 tie-break at offset ", kFloatKeySize, ", found ",
                rest.empty() ? "the end of the input"
                             : absl::StrCat("tag 0x", absl::Hex(rest[0] & 0xFF, absl::kZeroPad2))));
  }
  Value value;
  if (tag->type == KeyType::kUvarint) {
    absl::StatusOr<uint64_t> u = ConsumeUvarintKey(&rest, dir);
    if (!u.ok() || *u != 0 || *d != kTwoTo63) {
      return NumberError(*d, absl::StrCat("a uvarint tie-break at offset ", kFloatKeySize,
                                          " must be 0 and follow 2^63"));
    }
    value = *d;
  } else {
    absl::StatusOr<int64_t> i = ConsumeInt64Key(&rest, dir);
    if (!i.ok()) {
      return NumberError(
          *d, absl::StrCat("bad tie-break at offset ", kFloatKeySize, ": ", i.status().message()));
    }
    if (static_cast<double>(*i) != *d) {
      return NumberError(*d, absl::StrCat("tie-break ", *i, " at offset ", kFloatKeySize,
                                          " does not round to it"));
    }
    value = *i;
  }
  *src = rest;
  return value;
}

}  // namespace

std::string CollatedText(absl::string_view text, Collation collation) {
  switch (collation) {
    case Collation::kBinary:
      return std::string(text);
    case Collation::kRtrim: {
      const size_t end = text.find_last_not_of(' ');
      return std::string(text.substr(0, end == absl::string_view::npos ? 0 : end + 1));
    }
    case Collation::kNocase: {
      std::string out(text);
      const size_t nul = std::min(out.find('\0'), out.size());
      for (size_t i = 0; i < nul; ++i) {
        if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
      }
      std::fill(out.begin() + nul, out.end(), '\0');  // see the header: NUL ends a compare
      return out;
    }
  }
  return std::string(text);
}

void AppendValueKey(std::string* dst, const Value& value, Collation collation, Direction dir) {
  switch (ClassOf(value)) {
    case StorageClass::kNull:
      return AppendNullKey(dst, dir);
    case StorageClass::kInteger:
      return AppendIntegerKey(dst, std::get<int64_t>(value), dir);
    case StorageClass::kReal: {
      const double r = std::get<double>(value);
      if (std::isnan(r)) return AppendNullKey(dst, dir);
      return AppendRealKey(dst, r, dir);
    }
    case StorageClass::kText:
      return AppendTextKey(dst, CollatedText(std::get<std::string>(value), collation), dir);
    case StorageClass::kBlob:
      return AppendBytesKey(dst, std::get<Blob>(value).bytes, dir);
  }
}

absl::StatusOr<Value> ConsumeValueKey(absl::string_view* src, Direction dir) {
  absl::StatusOr<KeyTag> tag = PeekKeyTag(*src);
  if (!tag.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("value key at offset 0: ", tag.status().message()));
  }
  if (tag->direction != dir) {
    return absl::InvalidArgumentError(
        absl::StrCat("value key at offset 0: tag 0x", absl::Hex((*src)[0] & 0xFF, absl::kZeroPad2),
                     " is ", tag->direction == Direction::kAscending ? "ascending" : "descending",
                     ", the column is not"));
  }
  absl::string_view rest = *src;
  Value value;
  switch (tag->type) {
    case KeyType::kNull:
      if (absl::Status s = ConsumeNullKey(&rest, dir); !s.ok()) return s;
      value = Null{};
      break;
    case KeyType::kFloat64: {
      absl::StatusOr<Value> number = ConsumeNumberKey(&rest, dir);
      if (!number.ok()) return number.status();
      value = *std::move(number);
      break;
    }
    case KeyType::kText: {
      absl::StatusOr<std::string> text = ConsumeTextKey(&rest, dir);
      if (!text.ok()) return text.status();
      value = *std::move(text);
      break;
    }
    case KeyType::kBytes: {
      absl::StatusOr<std::string> bytes = ConsumeBytesKey(&rest, dir);
      if (!bytes.ok()) return bytes.status();
      value = Blob{*std::move(bytes)};
      break;
    }
    case KeyType::kInt64:
    case KeyType::kUvarint:
      // A tie-break only ever follows a FLOAT64; alone it is no value.
      return absl::InvalidArgumentError(absl::StrCat(
          "value key at offset 0: tag 0x", absl::Hex((*src)[0] & 0xFF, absl::kZeroPad2),
          " starts no value (a number starts with a float64 tag)"));
  }
  *src = rest;
  return value;
}

}  // namespace rangedb::sql
