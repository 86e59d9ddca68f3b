// The output formats of `rangedb sql` (client/cli/sql_format.h).
#include "client/cli/sql_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rangedb {
namespace {

using client::SqlBlob;
using client::SqlNull;
using client::SqlRow;
using client::SqlValue;

bool IsNullValue(const SqlValue& value) { return std::holds_alternative<SqlNull>(value); }
bool IsNumber(const SqlValue& value) {
  return std::holds_alternative<int64_t>(value) || std::holds_alternative<double>(value);
}

// Decodes the UTF-8 sequence at text[*i], advancing *i past it; an invalid byte is
// returned as itself (and counts as one character).
uint32_t NextCodePoint(absl::string_view text, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(*i);
  int length = 0;
  uint32_t code = 0;
  if (lead < 0x80) {
    ++*i;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code = lead & 0x07;
  }
  if (length == 0 || *i + length > text.size()) {
    ++*i;
    return lead;
  }
  for (int k = 1; k < length; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) {
      ++*i;
      return lead;
    }
    code = (code << 6) | (byte(*i + k) & 0x3F);
  }
  *i += length;
  return code;
}

// Terminal columns of one code point: 0 for combining marks and zero-width
// characters, 2 for East Asian wide and fullwidth ones and emoji, else 1. (The ranges
// of Unicode's EastAsianWidth W/F and the common combining blocks; enough to keep a
// table aligned, not a full wcwidth.)
int CodePointWidth(uint32_t c) {
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) ||
      (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F)) {
    return 0;
  }
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
      (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
      (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

// table: control characters escaped so that a cell stays on one line.
std::string EscapeControl(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string CsvField(absl::string_view text, bool is_null) {
  if (is_null) return "";
  if (!text.empty() && text.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string TsvField(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A JSON string literal; invalid UTF-8 becomes U+FFFD.
std::string JsonString(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', /*ensure_ascii=*/false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string JsonValue(const SqlValue& value) {
  if (IsNullValue(value)) return "null";
  if (const double* real = std::get_if<double>(&value); real != nullptr && !std::isfinite(*real)) {
    return JsonString(FormatReal(*real));
  }
  if (IsNumber(value)) return ValueText(value);
  return JsonString(ValueText(value));
}

// Column names made unique for JSON keys: a repeated name gets "_2", "_3", ...
std::vector<std::string> UniqueNames(const std::vector<client::SqlColumn>& columns) {
  std::set<std::string> taken;
  std::vector<std::string> names;
  for (const client::SqlColumn& column : columns) {
    std::string name = column.name;
    // Terminates: each step tries a new suffix, and only finitely many are taken.
    for (int n = 2; taken.count(name) > 0; ++n) name = absl::StrCat(column.name, "_", n);
    taken.insert(name);
    names.push_back(std::move(name));
  }
  return names;
}

// `text` padded to `width` columns.
std::string Pad(const std::string& text, size_t width, bool right) {
  const size_t used = DisplayWidth(text);
  if (used >= width) return text;
  const std::string padding(width - used, ' ');
  return right ? padding + text : text + padding;
}

std::string Centre(const std::string& text, size_t width) {
  const size_t used = DisplayWidth(text);
  if (used >= width) return text;
  const size_t left = (width - used) / 2;
  return std::string(left, ' ') + text + std::string(width - used - left, ' ');
}

std::string TableCell(const SqlValue& value) { return EscapeControl(ValueText(value)); }

// One table line of cells: " a | b | c", trailing spaces trimmed.
std::string TableLine(const std::vector<std::string>& cells) {
  std::string line = absl::StrCat(" ", absl::StrJoin(cells, " | "));
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

}  // namespace

std::optional<SqlFormat> ParseSqlFormat(absl::string_view name) {
  if (name == "table") return SqlFormat::kTable;
  if (name == "csv") return SqlFormat::kCsv;
  if (name == "tsv") return SqlFormat::kTsv;
  if (name == "json") return SqlFormat::kJson;
  return std::nullopt;
}

std::string FormatReal(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string ValueText(const SqlValue& value) {
  switch (value.index()) {
    case 0:
      return "NULL";
    case 1:
      return absl::StrCat(std::get<int64_t>(value));
    case 2:
      return FormatReal(std::get<double>(value));
    case 3:
      return std::get<std::string>(value);
    case 4: {
      const std::string& bytes = std::get<SqlBlob>(value).bytes;
      std::string text = "\\x";
      text.reserve(2 + 2 * bytes.size());
      for (char c : bytes) absl::StrAppendFormat(&text, "%02x", static_cast<unsigned char>(c));
      return text;
    }
  }
  return "";
}

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size();) width += CodePointWidth(NextCodePoint(text, &i));
  return width;
}

SqlResultWriter::SqlResultWriter(SqlFormat format, std::ostream& out, size_t table_buffer_rows)
    : format_(format), out_(out), table_buffer_rows_(std::max<size_t>(1, table_buffer_rows)) {}

void SqlResultWriter::Columns(const std::vector<client::SqlColumn>& columns) {
  has_columns_ = true;
  row_count_ = 0;
  buffered_.clear();
  widths_.clear();
  right_aligned_.clear();
  header_printed_ = false;
  names_.clear();
  for (const client::SqlColumn& column : columns) names_.push_back(column.name);
  switch (format_) {
    case SqlFormat::kTable:
      break;  // printed with the first rows, once the widths are known
    case SqlFormat::kCsv: {
      std::vector<std::string> fields;
      for (const std::string& name : names_) fields.push_back(CsvField(name, false));
      out_ << absl::StrJoin(fields, ",") << "\n";
      break;
    }
    case SqlFormat::kTsv: {
      std::vector<std::string> fields;
      for (const std::string& name : names_) fields.push_back(TsvField(name));
      out_ << absl::StrJoin(fields, "\t") << "\n";
      break;
    }
    case SqlFormat::kJson:
      names_ = UniqueNames(columns);
      break;
  }
}

void SqlResultWriter::Rows(const std::vector<SqlRow>& rows) {
  for (const SqlRow& row : rows) {
    ++row_count_;
    if (format_ != SqlFormat::kTable) {
      PrintRow(row);
      continue;
    }
    if (header_printed_) {
      PrintRow(row);
      continue;
    }
    buffered_.push_back(row);
    if (buffered_.size() >= table_buffer_rows_) FlushTable();
  }
}

void SqlResultWriter::PrintRow(const SqlRow& row) {
  std::vector<std::string> fields;
  fields.reserve(row.size());
  switch (format_) {
    case SqlFormat::kTable:
      for (size_t i = 0; i < row.size(); ++i) {
        const bool right = i < right_aligned_.size() && right_aligned_[i];
        fields.push_back(Pad(TableCell(row[i]), i < widths_.size() ? widths_[i] : 0, right));
      }
      out_ << TableLine(fields) << "\n";
      return;
    case SqlFormat::kCsv:
      for (const SqlValue& value : row) {
        fields.push_back(CsvField(IsNullValue(value) ? "" : ValueText(value), IsNullValue(value)));
      }
      out_ << absl::StrJoin(fields, ",") << "\n";
      return;
    case SqlFormat::kTsv:
      for (const SqlValue& value : row) {
        fields.push_back(IsNullValue(value) ? "\\N" : TsvField(ValueText(value)));
      }
      out_ << absl::StrJoin(fields, "\t") << "\n";
      return;
    case SqlFormat::kJson: {
      std::string line = "{";
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string& name = i < names_.size() ? names_[i] : std::to_string(i + 1);
        absl::StrAppend(&line, i == 0 ? "" : ",", JsonString(name), ":", JsonValue(row[i]));
      }
      out_ << line << "}\n";
      return;
    }
  }
}

void SqlResultWriter::FlushTable() {
  if (!header_printed_) {
    // Widths and alignment from the header and the rows held so far.
    widths_.assign(names_.size(), 0);
    right_aligned_.assign(names_.size(), false);
    std::vector<bool> has_value(names_.size(), false);
    std::vector<bool> all_numbers(names_.size(), true);
    for (size_t i = 0; i < names_.size(); ++i) widths_[i] = DisplayWidth(EscapeControl(names_[i]));
    for (const SqlRow& row : buffered_) {
      for (size_t i = 0; i < row.size() && i < names_.size(); ++i) {
        widths_[i] = std::max(widths_[i], DisplayWidth(TableCell(row[i])));
        if (IsNullValue(row[i])) continue;
        has_value[i] = true;
        if (!IsNumber(row[i])) all_numbers[i] = false;
      }
    }
    for (size_t i = 0; i < names_.size(); ++i) right_aligned_[i] = has_value[i] && all_numbers[i];
    std::vector<std::string> header, rule;
    for (size_t i = 0; i < names_.size(); ++i) {
      header.push_back(Centre(EscapeControl(names_[i]), widths_[i]));
      rule.push_back(std::string(widths_[i] + 2, '-'));
    }
    out_ << TableLine(header) << "\n" << absl::StrJoin(rule, "+") << "\n";
    header_printed_ = true;
  }
  for (const SqlRow& row : buffered_) PrintRow(row);
  buffered_.clear();
}

void SqlResultWriter::Done(const std::string& command_tag, int64_t rows_affected) {
  if (format_ == SqlFormat::kTable) {
    if (has_columns_) {
      FlushTable();
      out_ << "(" << row_count_ << (row_count_ == 1 ? " row)" : " rows)") << "\n\n";
    } else if (!command_tag.empty()) {
      const bool counts =
          command_tag == "INSERT" || command_tag == "UPDATE" || command_tag == "DELETE";
      out_ << command_tag;
      if (counts) out_ << " " << rows_affected;
      out_ << "\n";
    }
  }
  has_columns_ = false;
  row_count_ = 0;
}

void SqlResultWriter::Failed() {
  if (format_ == SqlFormat::kTable && has_columns_ && (row_count_ > 0 || header_printed_)) {
    FlushTable();
  }
  has_columns_ = false;
  row_count_ = 0;
  buffered_.clear();
}

}  // namespace rangedb
