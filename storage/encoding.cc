#include "storage/encoding.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

// Ascending tags; see the layout table in encoding.h.
constexpr uint8_t kNullTag = 0x00;
constexpr uint8_t kIntNegTagEnd = 0x10;  // v < 0 with n payload bytes: tag = 0x10 - n
constexpr uint8_t kIntSmallTag = 0x10;   // 0 <= v <= kIntSmallMax: tag = 0x10 + v
constexpr int64_t kIntSmallMax = 63;
constexpr uint8_t kIntPosTagBase = 0x4F;  // v > kIntSmallMax, n payload bytes: 0x4F + n
constexpr uint8_t kFloatTag = 0x58;
constexpr uint8_t kTextTag = 0x59;
constexpr uint8_t kBytesTag = 0x5A;
constexpr uint8_t kUvarintSmallTag = 0x60;  // v <= kUvarintSmallMax: tag = 0x60 + v
constexpr uint64_t kUvarintSmallMax = 23;
constexpr uint8_t kUvarintTagBase = 0x77;  // v > kUvarintSmallMax, n bytes: 0x77 + n
constexpr uint8_t kDescendingBit = 0x80;   // set in every descending tag, clear in ascending

// Escaping inside TEXT and BYTES payloads.
constexpr uint8_t kEscape = 0x00;
constexpr uint8_t kEscapedZero = 0xFF;
constexpr uint8_t kTerminator = 0x01;

constexpr uint64_t kSignBit = uint64_t{1} << 63;

uint8_t Mask(Direction dir) { return dir == Direction::kDescending ? 0xFF : 0x00; }

const char* DirectionName(Direction dir) {
  return dir == Direction::kAscending ? "ascending" : "descending";
}

const char* TypeName(KeyType type) {
  switch (type) {
    case KeyType::kNull:
      return "NULL";
    case KeyType::kInt64:
      return "int64";
    case KeyType::kFloat64:
      return "float64";
    case KeyType::kText:
      return "text";
    case KeyType::kBytes:
      return "bytes";
    case KeyType::kUvarint:
      return "uvarint";
  }
  return "unknown";
}

std::string HexByte(uint8_t b) { return absl::StrCat("0x", absl::Hex(b, absl::kZeroPad2)); }

// The type of an ascending tag, or nullopt for a reserved one.
std::optional<KeyType> AscendingTagType(uint8_t tag) {
  if (tag == kNullTag) return KeyType::kNull;
  if (tag >= kIntNegTagEnd - 8 && tag <= kIntPosTagBase + 8) return KeyType::kInt64;
  if (tag == kFloatTag) return KeyType::kFloat64;
  if (tag == kTextTag) return KeyType::kText;
  if (tag == kBytesTag) return KeyType::kBytes;
  if (tag >= kUvarintSmallTag && tag <= kUvarintTagBase + 8) return KeyType::kUvarint;
  return std::nullopt;
}

// Minimal number of big-endian bytes that hold v (at least 1).
int BytesNeeded(uint64_t v) { return v == 0 ? 1 : (64 - std::countl_zero(v) + 7) / 8; }

void AppendBigEndian(std::string* dst, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) dst->push_back(static_cast<char>(v >> (8 * i)));
}

// Turns the ascending encoding in dst[from, end) into the descending one. Complementing
// every byte reverses the order of prefix-free byte strings, which all encodings are.
void FinishDirection(std::string* dst, size_t from, Direction dir) {
  if (dir == Direction::kAscending) return;
  for (size_t i = from; i < dst->size(); ++i) (*dst)[i] = static_cast<char>(~(*dst)[i]);
}

void AppendEscaped(std::string* dst, uint8_t tag, absl::string_view value, Direction dir) {
  const size_t start = dst->size();
  dst->push_back(static_cast<char>(tag));
  for (char c : value) {
    dst->push_back(c);
    if (c == static_cast<char>(kEscape)) dst->push_back(static_cast<char>(kEscapedZero));
  }
  dst->push_back(static_cast<char>(kEscape));
  dst->push_back(static_cast<char>(kTerminator));
  FinishDirection(dst, start, dir);
}

// Reads the bytes of one encoded value, undoing the descending complement.
// Never reads past the end of its input.
class Reader {
 public:
  Reader(absl::string_view src, Direction dir) : src_(src), mask_(Mask(dir)) {}

  bool AtEnd() const { return pos_ >= src_.size(); }
  size_t offset() const { return pos_; }
  // REQUIRES: !AtEnd().
  uint8_t Next() { return static_cast<uint8_t>(src_[pos_++]) ^ mask_; }

  // Reads an n-byte big-endian integer of the named key type.
  absl::Status ReadBigEndian(int n, KeyType type, uint64_t* v) {
    const size_t remaining = src_.size() - pos_;
    if (remaining < static_cast<size_t>(n)) {
      return absl::InvalidArgumentError(absl::StrCat("truncated ", TypeName(type),
                                                     " key at offset ", pos_, ": needs ", n,
                                                     " payload bytes, ", remaining, " remain"));
    }
    *v = 0;
    for (int i = 0; i < n; ++i) *v = (*v << 8) | Next();
    return absl::OkStatus();
  }

 private:
  absl::string_view src_;
  uint8_t mask_;
  size_t pos_ = 0;
};

absl::Status NonCanonical(KeyType type, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("non-canonical ", TypeName(type), " key at offset 0: ", why));
}

// Checks that src starts with a tag of `type` in `dir` and returns the tag in its
// ascending form.
absl::StatusOr<uint8_t> ExpectTag(absl::string_view src, KeyType type, Direction dir) {
  if (src.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated ", TypeName(type), " key at offset 0: no tag"));
  }
  const uint8_t raw = static_cast<uint8_t>(src[0]);
  const std::string wanted =
      absl::StrCat(dir == Direction::kAscending ? "an " : "a ", DirectionName(dir), " ",
                   TypeName(type), " key was expected");
  absl::StatusOr<KeyTag> tag = PeekKeyTag(src);
  if (!tag.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid tag ", HexByte(raw), " at offset 0 where ", wanted));
  }
  if (tag->type != type || tag->direction != dir) {
    return absl::InvalidArgumentError(absl::StrCat("found ", DirectionName(tag->direction), " ",
                                                   TypeName(tag->type), " tag ", HexByte(raw),
                                                   " at offset 0 where ", wanted));
  }
  return static_cast<uint8_t>(raw ^ Mask(dir));
}

// Consumes one value: checks the tag, then runs decode(ascending_tag, reader) on the
// payload, and advances *src only if that succeeds.
template <typename T, typename DecodeFn>
absl::StatusOr<T> ConsumeTyped(absl::string_view* src, KeyType type, Direction dir,
                               DecodeFn decode) {
  absl::StatusOr<uint8_t> tag = ExpectTag(*src, type, dir);
  if (!tag.ok()) return tag.status();
  Reader reader(*src, dir);
  reader.Next();  // the tag
  absl::StatusOr<T> value = decode(*tag, reader);
  if (value.ok()) src->remove_prefix(reader.offset());
  return value;
}

absl::StatusOr<uint64_t> DecodeUvarint(uint8_t tag, Reader& reader) {
  if (tag <= kUvarintSmallTag + kUvarintSmallMax) return tag - kUvarintSmallTag;
  const int n = tag - kUvarintTagBase;
  uint64_t v = 0;
  if (absl::Status s = reader.ReadBigEndian(n, KeyType::kUvarint, &v); !s.ok()) return s;
  if (v <= kUvarintSmallMax || BytesNeeded(v) != n) {
    return NonCanonical(KeyType::kUvarint, absl::StrCat(v, " encoded in ", n, " payload bytes"));
  }
  return v;
}

absl::StatusOr<int64_t> DecodeInt64(uint8_t tag, Reader& reader) {
  if (tag >= kIntSmallTag && tag <= kIntSmallTag + kIntSmallMax) return tag - kIntSmallTag;
  const bool negative = tag < kIntSmallTag;
  const int n = negative ? kIntNegTagEnd - tag : tag - kIntPosTagBase;
  uint64_t u = 0;
  if (absl::Status s = reader.ReadBigEndian(n, KeyType::kInt64, &u); !s.ok()) return s;
  if (negative) {
    const uint64_t v = n == 8 ? u : u | (~uint64_t{0} << (8 * n));  // sign-extend
    if ((v & kSignBit) == 0 || BytesNeeded(~v) != n) {
      return NonCanonical(KeyType::kInt64, absl::StrCat("negative tag ", HexByte(tag),
                                                        " with payload ", absl::Hex(u)));
    }
    return static_cast<int64_t>(v);
  }
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("int64 key at offset 0 overflows int64: ", u));
  }
  if (u <= static_cast<uint64_t>(kIntSmallMax) || BytesNeeded(u) != n) {
    return NonCanonical(KeyType::kInt64, absl::StrCat(u, " encoded in ", n, " payload bytes"));
  }
  return static_cast<int64_t>(u);
}

uint64_t FloatPayload(double value) {
  if (std::isnan(value)) return 0;
  if (value == 0) value = 0;  // -0 becomes +0: one key per SQL value
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  return (bits & kSignBit) != 0 ? ~bits : bits ^ kSignBit;
}

absl::StatusOr<double> DecodeFloat64(uint8_t /*tag*/, Reader& reader) {
  uint64_t u = 0;
  if (absl::Status s = reader.ReadBigEndian(8, KeyType::kFloat64, &u); !s.ok()) return s;
  if (u == 0) return std::numeric_limits<double>::quiet_NaN();
  const double value = std::bit_cast<double>((u & kSignBit) != 0 ? u ^ kSignBit : ~u);
  if (std::isnan(value) || (value == 0 && std::signbit(value))) {
    return NonCanonical(KeyType::kFloat64, absl::StrCat("payload ", absl::Hex(u, absl::kZeroPad16),
                                                        " is not how NaN or 0 are encoded"));
  }
  return value;
}

// Decodes an escaped, terminated TEXT or BYTES payload.
absl::StatusOr<std::string> DecodeEscaped(KeyType type, Reader& reader) {
  std::string out;
  while (!reader.AtEnd()) {
    const uint8_t b = reader.Next();
    if (b != kEscape) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    if (reader.AtEnd()) break;
    const size_t at = reader.offset() - 1;
    const uint8_t e = reader.Next();
    if (e == kTerminator) return out;
    if (e != kEscapedZero) {
      return absl::InvalidArgumentError(absl::StrCat("invalid escape 0x00 ", HexByte(e), " in ",
                                                     TypeName(type), " key at offset ", at));
    }
    out.push_back('\0');
  }
  return absl::InvalidArgumentError(absl::StrCat("truncated ", TypeName(type), " key at offset ",
                                                 reader.offset(), ": no terminator"));
}

template <size_t kIndex, typename T>
absl::StatusOr<KeyDatum> ToDatum(absl::StatusOr<T> value) {
  if (!value.ok()) return value.status();
  return KeyDatum(std::in_place_index<kIndex>, *std::move(value));
}

}  // namespace

std::string KeyDatumToString(const KeyDatum& datum) {
  switch (static_cast<KeyType>(datum.index())) {
    case KeyType::kNull:
      return "NULL";
    case KeyType::kInt64:
      return absl::StrCat(std::get<int64_t>(datum));
    case KeyType::kFloat64: {
      char buf[64];
      const auto result = std::to_chars(buf, buf + sizeof(buf), std::get<double>(datum));
      std::string s(buf, result.ptr);
      if (s.find_first_of(".eni") == std::string::npos) s += ".0";  // "2" would read as int
      return s;
    }
    case KeyType::kText:
      return absl::StrCat("\"", absl::CHexEscape(std::get<std::string>(datum)), "\"");
    case KeyType::kBytes:
      return absl::StrCat("b\"", absl::CHexEscape(std::get<BytesDatum>(datum).bytes), "\"");
    case KeyType::kUvarint:
      return absl::StrCat(std::get<uint64_t>(datum), "u");
  }
  return "?";
}

void AppendNullKey(std::string* dst, Direction dir) {
  dst->push_back(static_cast<char>(kNullTag ^ Mask(dir)));
}

void AppendUvarintKey(std::string* dst, uint64_t value, Direction dir) {
  const size_t start = dst->size();
  if (value <= kUvarintSmallMax) {
    dst->push_back(static_cast<char>(kUvarintSmallTag + value));
  } else {
    const int n = BytesNeeded(value);
    dst->push_back(static_cast<char>(kUvarintTagBase + n));
    AppendBigEndian(dst, value, n);
  }
  FinishDirection(dst, start, dir);
}

void AppendInt64Key(std::string* dst, int64_t value, Direction dir) {
  const size_t start = dst->size();
  const uint64_t u = static_cast<uint64_t>(value);
  if (value < 0) {
    // Same-length negatives compare like their low bytes; longer means more negative.
    const int n = BytesNeeded(~u);
    dst->push_back(static_cast<char>(kIntNegTagEnd - n));
    AppendBigEndian(dst, u, n);
  } else if (value <= kIntSmallMax) {
    dst->push_back(static_cast<char>(kIntSmallTag + value));
  } else {
    const int n = BytesNeeded(u);
    dst->push_back(static_cast<char>(kIntPosTagBase + n));
    AppendBigEndian(dst, u, n);
  }
  FinishDirection(dst, start, dir);
}

void AppendFloat64Key(std::string* dst, double value, Direction dir) {
  const size_t start = dst->size();
  dst->push_back(static_cast<char>(kFloatTag));
  AppendBigEndian(dst, FloatPayload(value), 8);
  FinishDirection(dst, start, dir);
}

void AppendTextKey(std::string* dst, absl::string_view value, Direction dir) {
  AppendEscaped(dst, kTextTag, value, dir);
}

void AppendBytesKey(std::string* dst, absl::string_view value, Direction dir) {
  AppendEscaped(dst, kBytesTag, value, dir);
}

void AppendKeyDatum(std::string* dst, const KeyDatum& datum, Direction dir) {
  switch (static_cast<KeyType>(datum.index())) {
    case KeyType::kNull:
      return AppendNullKey(dst, dir);
    case KeyType::kInt64:
      return AppendInt64Key(dst, std::get<int64_t>(datum), dir);
    case KeyType::kFloat64:
      return AppendFloat64Key(dst, std::get<double>(datum), dir);
    case KeyType::kText:
      return AppendTextKey(dst, std::get<std::string>(datum), dir);
    case KeyType::kBytes:
      return AppendBytesKey(dst, std::get<BytesDatum>(datum).bytes, dir);
    case KeyType::kUvarint:
      return AppendUvarintKey(dst, std::get<uint64_t>(datum), dir);
  }
}

absl::Status ConsumeNullKey(absl::string_view* src, Direction dir) {
  return ConsumeTyped<NullDatum>(
             src, KeyType::kNull, dir,
             [](uint8_t, Reader&) -> absl::StatusOr<NullDatum> { return NullDatum{}; })
      .status();
}

absl::StatusOr<uint64_t> ConsumeUvarintKey(absl::string_view* src, Direction dir) {
  return ConsumeTyped<uint64_t>(src, KeyType::kUvarint, dir, DecodeUvarint);
}

absl::StatusOr<int64_t> ConsumeInt64Key(absl::string_view* src, Direction dir) {
  return ConsumeTyped<int64_t>(src, KeyType::kInt64, dir, DecodeInt64);
}

absl::StatusOr<double> ConsumeFloat64Key(absl::string_view* src, Direction dir) {
  return ConsumeTyped<double>(src, KeyType::kFloat64, dir, DecodeFloat64);
}

absl::StatusOr<std::string> ConsumeTextKey(absl::string_view* src, Direction dir) {
  return ConsumeTyped<std::string>(src, KeyType::kText, dir, [](uint8_t, Reader& reader) {
    return DecodeEscaped(KeyType::kText, reader);
  });
}

absl::StatusOr<std::string> ConsumeBytesKey(absl::string_view* src, Direction dir) {
  return ConsumeTyped<std::string>(src, KeyType::kBytes, dir, [](uint8_t, Reader& reader) {
    return DecodeEscaped(KeyType::kBytes, reader);
  });
}

absl::StatusOr<KeyTag> PeekKeyTag(absl::string_view src) {
  if (src.empty()) return absl::InvalidArgumentError("empty input: no key tag");
  const uint8_t raw = static_cast<uint8_t>(src[0]);
  const Direction dir =
      (raw & kDescendingBit) != 0 ? Direction::kDescending : Direction::kAscending;
  const std::optional<KeyType> type = AscendingTagType(raw ^ Mask(dir));
  if (!type.has_value())
    return absl::InvalidArgumentError(absl::StrCat("invalid tag ", HexByte(raw)));
  return KeyTag{*type, dir};
}

absl::StatusOr<KeyDatum> ConsumeKeyDatum(absl::string_view* src, Direction dir) {
  if (src->empty()) return absl::InvalidArgumentError("truncated key at offset 0: no tag");
  absl::StatusOr<KeyTag> tag = PeekKeyTag(*src);
  if (!tag.ok())
    return absl::InvalidArgumentError(absl::StrCat(tag.status().message(), " at offset 0"));
  if (tag->direction != dir) {
    return absl::InvalidArgumentError(
        absl::StrCat("found ", DirectionName(tag->direction), " ", TypeName(tag->type), " tag ",
                     HexByte(static_cast<uint8_t>((*src)[0])), " at offset 0 where a ",
                     DirectionName(dir), " key was expected"));
  }
  switch (tag->type) {
    case KeyType::kNull: {
      if (absl::Status s = ConsumeNullKey(src, dir); !s.ok()) return s;
      return KeyDatum(NullDatum{});
    }
    case KeyType::kInt64:
      return ToDatum<1>(ConsumeInt64Key(src, dir));
    case KeyType::kFloat64:
      return ToDatum<2>(ConsumeFloat64Key(src, dir));
    case KeyType::kText:
      return ToDatum<3>(ConsumeTextKey(src, dir));
    case KeyType::kBytes:
      return ToDatum<4>(ConsumeBytesKey(src, dir));
    case KeyType::kUvarint:
      return ToDatum<5>(ConsumeUvarintKey(src, dir));
  }
  return absl::InternalError("unreachable key type");
}

absl::StatusOr<std::vector<KeyDatum>> ConsumeKeyDatums(absl::string_view* src,
                                                       absl::Span<const Direction> directions) {
  absl::string_view rest = *src;
  std::vector<KeyDatum> datums;
  datums.reserve(directions.size());
  for (size_t i = 0; i < directions.size(); ++i) {
    const size_t offset = src->size() - rest.size();
    absl::StatusOr<KeyDatum> datum = ConsumeKeyDatum(&rest, directions[i]);
    if (!datum.ok()) {
      return absl::Status(
          datum.status().code(),
          absl::StrCat("key column ", i, " at offset ", offset, ": ", datum.status().message()));
    }
    datums.push_back(*std::move(datum));
  }
  *src = rest;
  return datums;
}

absl::StatusOr<std::vector<KeyDatum>> DecodeKey(absl::string_view key,
                                                absl::Span<const Direction> directions) {
  absl::string_view rest = key;
  absl::StatusOr<std::vector<KeyDatum>> datums = ConsumeKeyDatums(&rest, directions);
  if (datums.ok() && !rest.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("trailing garbage at offset ",
                                                   key.size() - rest.size(), ": ", rest.size(),
                                                   " bytes after the last key column"));
  }
  return datums;
}

}  // namespace rangedb
