#include "sql/fuzz/fuzz_input.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace rangedb::sql::fuzz {
namespace {

// The first 8 bytes of payload (zero-padded) as raw bits.
uint64_t RawBits(absl::string_view payload) {
  uint64_t bits = 0;
  std::memcpy(&bits, payload.data(), std::min(payload.size(), sizeof(bits)));
  return bits;
}

Value ParameterValue(char tag, absl::string_view payload) {
  switch (tag) {
    case 'i': {
      int64_t i = 0;
      if (absl::SimpleAtoi(payload, &i)) return i;
      return static_cast<int64_t>(RawBits(payload));
    }
    case 'r': {
      double d = 0;
      if (absl::SimpleAtod(payload, &d)) return d;
      const uint64_t bits = RawBits(payload);
      std::memcpy(&d, &bits, sizeof(d));
      return d;
    }
    case 't':
      return std::string(payload);
    case 'b':
      return Blob{std::string(payload)};
    default:
      return Null{};
  }
}

}  // namespace

FuzzInput ParseFuzzInput(absl::string_view bytes) {
  FuzzInput input;
  std::vector<absl::string_view> chunks = absl::StrSplit(bytes, '\0');
  input.sql = std::string(chunks[0]);
  for (size_t i = 1; i < chunks.size(); ++i) {
    absl::string_view chunk = chunks[i];
    if (chunk.empty()) continue;
    const char tag = chunk[0];
    chunk.remove_prefix(1);
    Parameter p;
    if (!chunk.empty() && std::strchr(":@$?", chunk[0]) != nullptr) {
      const size_t eq = chunk.find('=');
      if (eq != absl::string_view::npos) {
        p.name = std::string(chunk.substr(0, eq));
        chunk.remove_prefix(eq + 1);
      }
    }
    p.value = ParameterValue(tag, chunk);
    input.parameters.push_back(std::move(p));
  }
  return input;
}

}  // namespace rangedb::sql::fuzz
