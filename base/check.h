// Checks that fire: stop the process on a broken invariant, in every build type.
//
// A broken invariant (a commit index going backwards, a cache entry missing from its
// index, a clock built without a physical clock) is a bug. Going on risks corrupting
// replicated or persisted state, so the process stops, saying where and with what
// values, and its supervisor restarts it. The C `assert` is not used: it is compiled out
// under NDEBUG, which today's RelWithDebInfo build defines (docs/checks.md).
//
//   RANGEDB_CHECK(cond) << "why" << value;   // always on
//   RANGEDB_CHECK_EQ(a, b) << "why";          // also _NE, _LT, _LE, _GT, _GE: prints a and b
//   RANGEDB_DCHECK(cond) << ...;             // debug builds only: too expensive for release
//   RANGEDB_DCHECK_EQ(a, b) << ...;           // and the other comparisons
//   RANGEDB_FATAL() << "why" << value;       // an unconditional stop
//
// A failure prints one line to stderr and aborts (SIGABRT, so a core dump); the file
// is __FILE__ as the compiler saw it:
//   ranges/store.cc:301: check failed: lo <= hi (7 vs. 3) range 12
//   ranges/store.cc:301: check failed: lo <= hi range 12
//   ranges/store.cc:301: fatal: store: persisting raft state failed: IO error
//
// Why streaming (`<< "why" << value`) rather than a variadic StrCat-style call: the
// message is built only when the check fails, so a passing check costs its condition
// and a predictable branch; any type with an operator<< prints (absl::Status,
// Timestamp, ...), which Debian's absl::StrCat cannot do (no AbslStringify); and it is
// the CHECK of glog, Abseil and Chromium, which readers already know.
//
// Evaluation: the condition, and each operand of a comparison, is evaluated exactly
// once; the streamed message only on failure. A DCHECK under NDEBUG evaluates nothing,
// but its arguments still compile, so it cannot rot.
//
// Comparisons of two integers use std::cmp_equal and friends: `RANGEDB_CHECK_GT(
// v.size(), 0)` compares mathematically, without a signed/unsigned warning. Values
// print through operator<<; an enum without one prints its underlying value; another
// type without one does not compile (write RANGEDB_CHECK(a == b) << ... instead).
//
// Thread safety: any thread may fail a check; the line is written with one call.
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"

#define RANGEDB_CHECK(cond)           \
  while (ABSL_PREDICT_FALSE(!(cond))) \
  ::rangedb::check_internal::FailureMessage(__FILE__, __LINE__, "check failed: " #cond).stream()

#define RANGEDB_CHECK_EQ(a, b) RANGEDB_INTERNAL_CHECK_OP(Eq, ==, a, b)
#define RANGEDB_CHECK_NE(a, b) RANGEDB_INTERNAL_CHECK_OP(Ne, !=, a, b)
#define RANGEDB_CHECK_LT(a, b) RANGEDB_INTERNAL_CHECK_OP(Lt, <, a, b)
#define RANGEDB_CHECK_LE(a, b) RANGEDB_INTERNAL_CHECK_OP(Le, <=, a, b)
#define RANGEDB_CHECK_GT(a, b) RANGEDB_INTERNAL_CHECK_OP(Gt, >, a, b)
#define RANGEDB_CHECK_GE(a, b) RANGEDB_INTERNAL_CHECK_OP(Ge, >=, a, b)

#define RANGEDB_FATAL() \
  ::rangedb::check_internal::FailureMessage(__FILE__, __LINE__, "fatal:").stream()

// DCHECK: for checks too expensive for release builds (a walk over a whole structure,
// a recomputation). On unless NDEBUG is defined; off, `while (false)` keeps the
// arguments compiling but never evaluates them. A cheap check is a CHECK.
#ifdef NDEBUG
#define RANGEDB_INTERNAL_DCHECK(check) \
  while (false) check
#else
#define RANGEDB_INTERNAL_DCHECK(check) check
#endif
#define RANGEDB_DCHECK(cond) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK(cond))
#define RANGEDB_DCHECK_EQ(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_EQ(a, b))
#define RANGEDB_DCHECK_NE(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_NE(a, b))
#define RANGEDB_DCHECK_LT(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_LT(a, b))
#define RANGEDB_DCHECK_LE(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_LE(a, b))
#define RANGEDB_DCHECK_GT(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_GT(a, b))
#define RANGEDB_DCHECK_GE(a, b) RANGEDB_INTERNAL_DCHECK(RANGEDB_CHECK_GE(a, b))

// Evaluates a and b once (bound to references), and on failure streams the message
// after "a op b (value of a vs. value of b)".
#define RANGEDB_INTERNAL_CHECK_OP(name, op, a, b)                                                \
  while (::std::optional<::std::string> rangedb_internal_check_failure =                         \
             ::rangedb::check_internal::Check##name((a), (b), #a " " #op " " #b))                \
  ::rangedb::check_internal::FailureMessage(__FILE__, __LINE__, *rangedb_internal_check_failure) \
      .stream()

namespace rangedb::check_internal {

// Collects the message of a failed check; its destructor prints
// "file:line: <what> <message>" to stderr and aborts.
class FailureMessage {
 public:
  FailureMessage(const char* file, int line, std::string_view what);
  FailureMessage(const FailureMessage&) = delete;
  FailureMessage& operator=(const FailureMessage&) = delete;
  [[noreturn]] ~FailureMessage();

  std::ostream& stream() { return message_; }

 private:
  const char* const file_;
  const int line_;
  const std::string what_;
  std::ostringstream message_;
};

// Integers that std::cmp_equal and friends accept (not bool, not the character types).
template <typename T>
concept StandardInteger = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                          !std::same_as<T, wchar_t> && !std::same_as<T, char8_t> &&
                          !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;

template <typename T>
concept Streamable = requires(std::ostream& os, const T& v) {
  os << v;
};

template <typename T>
void StreamValue(std::ostream& os, const T& v) {
  if constexpr (std::same_as<T, std::nullptr_t>) {
    os << "nullptr";
  } else if constexpr (std::same_as<T, signed char> || std::same_as<T, unsigned char>) {
    os << static_cast<int>(v);  // int8_t and uint8_t are numbers, not characters
  } else if constexpr (Streamable<T>) {
    os << v;
  } else if constexpr (std::is_enum_v<T>) {
    os << static_cast<std::underlying_type_t<T>>(v);
  } else {
    static_assert(sizeof(T) == 0,
                  "RANGEDB_CHECK_xx prints its operands: give the type an operator<<, or "
                  "write RANGEDB_CHECK(a == b) << ...");
  }
}

// "check failed: expr (a vs. b)": built only on failure, out of the inline path.
template <typename A, typename B>
ABSL_ATTRIBUTE_NOINLINE std::string FormatComparison(const A& a, const B& b, const char* expr) {
  std::ostringstream os;
  os << "check failed: " << expr << " (";
  StreamValue(os, a);
  os << " vs. ";
  StreamValue(os, b);
  os << ")";
  return os.str();
}

#define RANGEDB_INTERNAL_DEFINE_CHECK_OP(name, op, integer_compare)                  \
  template <typename A, typename B>                                                  \
  std::optional<std::string> Check##name(const A& a, const B& b, const char* expr) { \
    bool holds;                                                                      \
    if constexpr (StandardInteger<A> && StandardInteger<B>) {                        \
      holds = integer_compare(a, b);                                                 \
    } else {                                                                         \
      holds = static_cast<bool>(a op b);                                             \
    }                                                                                \
    if (ABSL_PREDICT_TRUE(holds)) return std::nullopt;                               \
    return FormatComparison(a, b, expr);                                             \
  }
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Eq, ==, std::cmp_equal)
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Ne, !=, std::cmp_not_equal)
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Lt, <, std::cmp_less)
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Le, <=, std::cmp_less_equal)
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Gt, >, std::cmp_greater)
RANGEDB_INTERNAL_DEFINE_CHECK_OP(Ge, >=, std::cmp_greater_equal)
#undef RANGEDB_INTERNAL_DEFINE_CHECK_OP

}  // namespace rangedb::check_internal
