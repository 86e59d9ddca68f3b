// RAFT_CHECK: crash on a broken invariant.
//
// raft/ treats a broken invariant (a commit index going backwards, an entry that
// conflicts with a committed one, an illegal role transition) as a bug that must stop
// the process before it corrupts replicated state. The check is always on, also in
// release builds: it guards data, and its cost is a predictable branch.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace rangedb::raft::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* expr,
                                     const char* msg) {
  std::fprintf(stderr, "%s:%d: RAFT_CHECK failed: %s %s\n", file, line, expr, msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace rangedb::raft::internal

// RAFT_CHECK(cond) or RAFT_CHECK(cond, "why"): aborts with file, line and message
// when cond is false.
#define RAFT_CHECK(cond, ...)                                                            \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      ::rangedb::raft::internal::CheckFailed(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
    }                                                                                    \
  } while (0)
