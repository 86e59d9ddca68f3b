#include "storage/mvcc_key.h"

#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

constexpr char kEscape = '\x00';
constexpr char kEscapedZero = '\xff';
constexpr char kTerminator = '\x01';

void AppendBigEndian64(std::string* out, uint64_t v) {
  char buf[8];
  absl::big_endian::Store64(buf, v);
  out->append(buf, 8);
}

void AppendBigEndian32(std::string* out, uint32_t v) {
  char buf[4];
  absl::big_endian::Store32(buf, v);
  out->append(buf, 4);
}

void AppendEscaped(std::string* out, absl::string_view key) {
  size_t start = 0;
  while (true) {
    const void* zero = std::memchr(key.data() + start, 0, key.size() - start);
    if (zero == nullptr) break;
    size_t at = static_cast<const char*>(zero) - key.data();
    out->append(key.data() + start, at - start);
    out->push_back(kEscape);
    out->push_back(kEscapedZero);
    start = at + 1;
  }
  out->append(key.data() + start, key.size() - start);
}

}  // namespace

void AppendMVCCKey(std::string* out, absl::string_view user_key, Timestamp ts) {
  out->reserve(out->size() + user_key.size() + kMVCCTerminatorBytes + kMVCCTimestampBytes);
  AppendEscaped(out, user_key);
  out->push_back(kEscape);
  out->push_back(kTerminator);
  if (ts.IsEmpty()) return;
  AppendBigEndian64(out, ~static_cast<uint64_t>(ts.wall_ns));
  AppendBigEndian32(out, ~static_cast<uint32_t>(ts.logical));
}

std::string EncodeMVCCKey(absl::string_view user_key, Timestamp ts) {
  std::string out;
  AppendMVCCKey(&out, user_key, ts);
  return out;
}

std::string MVCCKeyEnd(absl::string_view user_key) {
  std::string out = MVCCKeyPrefix(user_key);
  out.back() = '\x02';  // the terminator 0x00 0x01 becomes 0x00 0x02
  return out;
}

absl::string_view MVCCEncodedPrefix(absl::string_view encoded) {
  size_t pos = 0;
  while (true) {
    const void* zero = std::memchr(encoded.data() + pos, 0, encoded.size() - pos);
    if (zero == nullptr) return {};
    size_t at = static_cast<const char*>(zero) - encoded.data();
    if (at + 1 >= encoded.size()) return {};
    char next = encoded[at + 1];
    if (next == kTerminator) return encoded.substr(0, at + 2);
    if (next != kEscapedZero) return {};
    pos = at + 2;
  }
}

bool DecodeMVCCTimestampSuffix(absl::string_view suffix, Timestamp* ts) {
  if (suffix.empty()) {
    *ts = Timestamp{};
    return true;
  }
  if (suffix.size() != kMVCCTimestampBytes) return false;
  uint64_t wall = ~absl::big_endian::Load64(suffix.data());
  uint32_t logical = ~absl::big_endian::Load32(suffix.data() + 8);
  if (static_cast<int64_t>(wall) < 0 || static_cast<int32_t>(logical) < 0) return false;
  if (wall == 0 && logical == 0) return false;  // the empty timestamp has no suffix
  *ts = Timestamp{static_cast<int64_t>(wall), static_cast<int32_t>(logical)};
  return true;
}

absl::Status DecodeMVCCKey(absl::string_view encoded, std::string* user_key, Timestamp* ts) {
  absl::string_view prefix = MVCCEncodedPrefix(encoded);
  if (prefix.empty()) {
    return absl::DataLossError(absl::StrCat("malformed MVCC key (bad escape or no terminator): ",
                                            absl::CHexEscape(encoded)));
  }
  if (!DecodeMVCCTimestampSuffix(encoded.substr(prefix.size()), ts)) {
    return absl::DataLossError(
        absl::StrCat("malformed MVCC key timestamp suffix: ", absl::CHexEscape(encoded)));
  }
  UserKeyOfMVCCPrefix(prefix, user_key);
  return absl::OkStatus();
}

void UserKeyOfMVCCPrefix(absl::string_view prefix, std::string* user_key) {
  absl::string_view escaped = prefix.substr(0, prefix.size() - kMVCCTerminatorBytes);
  user_key->clear();
  while (true) {
    const void* zero = std::memchr(escaped.data(), 0, escaped.size());
    if (zero == nullptr) break;
    const size_t at = static_cast<const char*>(zero) - escaped.data();
    user_key->append(escaped.data(), at + 1);  // keeps the 0x00, drops the 0xFF after it
    escaped.remove_prefix(at + 2);
  }
  user_key->append(escaped.data(), escaped.size());
}

}  // namespace rangedb
