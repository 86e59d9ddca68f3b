#include "storage/value_encoding.h"

#include <bit>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

constexpr int kTypeBits = 3;
constexpr uint64_t kTypeMask = (uint64_t{1} << kTypeBits) - 1;
constexpr int kMaxVarintBytes = 10;  // ceil(64 / 7)

void AppendVarint(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

void AppendValue(std::string* dst, const SqlValue& value) {
  switch (static_cast<SqlType>(value.index())) {
    case SqlType::kNull:
      return;
    case SqlType::kInteger:
      return AppendVarint(dst, ZigZag(std::get<int64_t>(value)));
    case SqlType::kReal: {
      const uint64_t bits = std::bit_cast<uint64_t>(std::get<double>(value));
      for (int shift = 56; shift >= 0; shift -= 8) dst->push_back(static_cast<char>(bits >> shift));
      return;
    }
    case SqlType::kText:
    case SqlType::kBlob: {
      const std::string& bytes =
          value.index() == 3 ? std::get<std::string>(value) : std::get<BytesDatum>(value).bytes;
      AppendVarint(dst, bytes.size());
      dst->append(bytes);
      return;
    }
  }
}

// A cursor over an encoded row. Never reads past the end; errors name the offset.
class RowReader {
 public:
  explicit RowReader(absl::string_view row) : row_(row) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return row_.size() - pos_; }

  absl::StatusOr<uint64_t> Varint(absl::string_view what) {
    const size_t start = pos_;
    uint64_t v = 0;
    for (int i = 0; i < kMaxVarintBytes; ++i) {
      if (pos_ >= row_.size()) {
        return absl::InvalidArgumentError(absl::StrCat("truncated ", what, " at offset ", start));
      }
      const uint8_t b = static_cast<uint8_t>(row_[pos_++]);
      if (i == kMaxVarintBytes - 1 && b > 1) break;  // more than 64 bits
      v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) != 0) continue;
      if (b == 0 && i > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("non-minimal ", what, " varint at offset ", start));
      }
      return v;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, " varint at offset ", start, " overflows 64 bits"));
  }

  // Takes the next n bytes. REQUIRES: n <= remaining().
  absl::string_view Take(size_t n) {
    absl::string_view bytes = row_.substr(pos_, n);
    pos_ += n;
    return bytes;
  }

 private:
  absl::string_view row_;
  size_t pos_ = 0;
};

// Reads the payload of one value of type code `type`.
absl::StatusOr<SqlValue> ReadValue(uint64_t type, RowReader& reader) {
  switch (type) {
    case static_cast<uint64_t>(SqlType::kNull):
      return SqlValue(NullDatum{});
    case static_cast<uint64_t>(SqlType::kInteger): {
      absl::StatusOr<uint64_t> u = reader.Varint("INTEGER");
      if (!u.ok()) return u.status();
      return SqlValue(std::in_place_type<int64_t>, UnZigZag(*u));
    }
    case static_cast<uint64_t>(SqlType::kReal): {
      if (reader.remaining() < 8) {
        return absl::InvalidArgumentError(absl::StrCat("truncated REAL at offset ", reader.offset(),
                                                       ": needs 8 bytes, ", reader.remaining(),
                                                       " remain"));
      }
      uint64_t bits = 0;
      for (char c : reader.Take(8)) bits = (bits << 8) | static_cast<uint8_t>(c);
      return SqlValue(std::in_place_type<double>, std::bit_cast<double>(bits));
    }
    case static_cast<uint64_t>(SqlType::kText):
    case static_cast<uint64_t>(SqlType::kBlob): {
      const char* name = type == static_cast<uint64_t>(SqlType::kText) ? "TEXT" : "BLOB";
      absl::StatusOr<uint64_t> length = reader.Varint(absl::StrCat(name, " length"));
      if (!length.ok()) return length.status();
      if (*length > reader.remaining()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " length ", *length, " at offset ",
                                                       reader.offset(), " exceeds the ",
                                                       reader.remaining(), " remaining bytes"));
      }
      std::string bytes(reader.Take(*length));
      if (type == static_cast<uint64_t>(SqlType::kText)) return SqlValue(std::move(bytes));
      return SqlValue(BytesDatum{std::move(bytes)});
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown value type ", type, " at offset ", reader.offset()));
}

// Reads one entry whose column id follows `previous_id`.
absl::StatusOr<ColumnValue> ReadEntry(uint32_t previous_id, RowReader& reader) {
  const size_t start = reader.offset();
  absl::StatusOr<uint64_t> header = reader.Varint("column header");
  if (!header.ok()) return header.status();
  const uint64_t delta = *header >> kTypeBits;
  if (delta == 0) {
    return absl::InvalidArgumentError(absl::StrCat("column id delta 0 at offset ", start,
                                                   " after column ", previous_id,
                                                   ": ids must strictly increase"));
  }
  if (delta > std::numeric_limits<uint32_t>::max() - previous_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("column id after ", previous_id, " at offset ", start, " exceeds 2^32-1"));
  }
  const uint32_t column_id = previous_id + static_cast<uint32_t>(delta);
  absl::StatusOr<SqlValue> value = ReadValue(*header & kTypeMask, reader);
  if (!value.ok()) {
    return absl::Status(value.status().code(),
                        absl::StrCat("column ", column_id, ": ", value.status().message()));
  }
  return ColumnValue{column_id, *std::move(value)};
}

}  // namespace

absl::StatusOr<std::string> EncodeRow(absl::Span<const ColumnValue> columns) {
  std::string row;
  row.push_back(static_cast<char>(kRowFormatVersion));
  AppendVarint(&row, columns.size());
  uint32_t previous_id = 0;
  for (const ColumnValue& column : columns) {
    if (column.column_id <= previous_id) {
      return absl::InvalidArgumentError(
          column.column_id == 0
              ? std::string("column id 0 is reserved")
              : absl::StrCat("column ids must strictly increase: ", column.column_id, " after ",
                             previous_id));
    }
    const uint64_t delta = column.column_id - previous_id;
    AppendVarint(&row, (delta << kTypeBits) | column.value.index());
    AppendValue(&row, column.value);
    previous_id = column.column_id;
  }
  return row;
}

absl::StatusOr<std::vector<ColumnValue>> DecodeRow(absl::string_view row) {
  if (row.empty()) return absl::InvalidArgumentError("empty row: no version byte");
  const uint8_t version = static_cast<uint8_t>(row[0]);
  if (version != kRowFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported row format version ", version,
                                                   " (this build reads version ", kRowFormatVersion,
                                                   ")"));
  }
  RowReader reader(row);
  reader.Take(1);
  absl::StatusOr<uint64_t> count = reader.Varint("column count");
  if (!count.ok()) return count.status();
  // Every entry takes at least one byte: this bounds the allocation below.
  if (*count > reader.remaining()) {
    return absl::InvalidArgumentError(absl::StrCat("row claims ", *count, " columns but only ",
                                                   reader.remaining(), " bytes remain"));
  }
  std::vector<ColumnValue> columns;
  columns.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    absl::StatusOr<ColumnValue> column =
        ReadEntry(columns.empty() ? 0 : columns.back().column_id, reader);
    if (!column.ok()) return column.status();
    columns.push_back(*std::move(column));
  }
  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("trailing garbage at offset ", reader.offset(), ": ", reader.remaining(),
                     " bytes after the last of ", *count, " columns"));
  }
  return columns;
}

}  // namespace rangedb
