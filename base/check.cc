#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace rangedb::check_internal {

FailureMessage::FailureMessage(const char* file, int line, std::string_view what)
    : file_(file), line_(line), what_(what) {}

// Runs only on a failed check. One fprintf, so lines of threads failing at once do not
// interleave; flushed before abort, which does not flush stdio.
FailureMessage::~FailureMessage() {
  const std::string message = message_.str();
  std::fprintf(stderr, "%s:%d: %s%s%s\n", file_, line_, what_.c_str(), message.empty() ? "" : " ",
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace rangedb::check_internal
