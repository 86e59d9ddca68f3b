// Golden-vector files for encoding tests (test-only).
//
// A file holds one vector per line: whitespace-separated input fields, then the
// expected encoding in hex as the last field. Blank lines and lines starting with
// '#' are comments. RunGoldenFile re-encodes every vector and expects the stored hex;
// with RANGEDB_REWRITE_GOLDEN=1 in the environment it rewrites the hex column from
// the current encoder instead (after an intended format change) and skips the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace rangedb {

struct GoldenVector {
  std::string line;                 // the whole line, for failure messages
  std::vector<std::string> inputs;  // every field but the hex
};

// encode: returns the encoding of a vector's inputs (ADD_FAILURE and return "" on
// bad input). check_decode: decodes the stored bytes and checks them against the
// inputs. Returns the number of vectors, or -1 after a rewrite.
inline int RunGoldenFile(
    const std::string& path, size_t input_fields,
    const std::function<std::string(const GoldenVector&)>& encode,
    const std::function<void(const GoldenVector&, const std::string&)>& check_decode) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  const bool rewrite = std::getenv("RANGEDB_REWRITE_GOLDEN") != nullptr;
  std::ostringstream rewritten;
  std::string line;
  int vectors = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      rewritten << line << "\n";
      continue;
    }
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < input_fields) {
      ADD_FAILURE() << "expected " << input_fields << " input fields in: " << line;
      continue;
    }
    GoldenVector v{line, {fields.begin(), fields.begin() + static_cast<long>(input_fields)}};
    const std::string hex = absl::BytesToHexString(encode(v));
    rewritten << absl::StrJoin(v.inputs, " ") << " " << hex << "\n";
    if (rewrite) continue;
    if (fields.size() != input_fields + 1) {
      ADD_FAILURE() << "expected the hex column after the inputs in: " << line;
      continue;
    }
    EXPECT_EQ(hex, fields.back()) << "the encoding changed for: " << line;
    check_decode(v, absl::HexStringToBytes(fields.back()));
    ++vectors;
  }
  if (rewrite) {
    std::ofstream(path) << rewritten.str();
    return -1;
  }
  return vectors;
}

}  // namespace rangedb
