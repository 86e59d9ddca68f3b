// session_fuzz: a libFuzzer target for the SQL session (issue 16, "Fuzz"). Each input
// is SQL text and bound parameter values (sql/fuzz/fuzz_input.h); it runs statement by
// statement on a fresh Session over a one-node key space in this process (real Raft,
// real MVCC, in-memory engine). A crash, a hang (a statement outlives its deadline and
// its interrupt), an error without a SQLSTATE, or an internal error (XX000) on any
// input is a finding. State carries over between inputs (tables stay), as on a server
// that many clients talk to.
//
// Run: build/bin/session_fuzz -dict=sql/fuzz/sql.dict CORPUS_DIR sql/fuzz/seeds
// (tests/CMakeLists.txt runs it briefly in CI, longer under the `slow` label; see
// docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "sql/fuzz/fuzz_input.h"
#include "sql/fuzz/fuzz_key_space.h"
#include "sql/session.h"
#include "sql/sqlstate.h"
#include "sql/statement_deadline.h"

namespace rangedb::sql::fuzz {
namespace {

// Bounds per input, so that every input ends quickly and memory stays flat.
constexpr int kMaxStatements = 32;
constexpr int64_t kMaxRows = 2000;
constexpr absl::Duration kStatementDeadline = absl::Seconds(1);

// Drops rows after kMaxRows with an error, as a client that stops reading would.
class BoundedSink final : public RowSink {
 public:
  absl::Status Columns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status Row(std::vector<Value>) override {
    if (++rows_ > kMaxRows) return SqlError("54000", "fuzz: too many rows");
    return absl::OkStatus();
  }

 private:
  int64_t rows_ = 0;
};

// Aborts (a finding) unless status is a proper SQL error.
void CheckError(const absl::Status& status, absl::string_view statement) {
  const std::string state = SqlStateOf(status);
  const bool well_formed = state.size() == 5 && state != "00000";
  if (well_formed && state != sqlstate::kInternalError) return;
  std::fprintf(stderr, "finding: statement %.*s\nfailed with SQLSTATE '%s': %s\n",
               static_cast<int>(statement.size()), statement.data(), state.c_str(),
               std::string(status.message()).c_str());
  std::abort();
}

void RunInput(const FuzzInput& input) {
  static FuzzKeySpace* const key_space = new FuzzKeySpace();  // lives for the process
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(key_space->SessionOptions());
  if (!session.ok()) {
    std::fprintf(stderr, "fuzz: cannot open a session: %s\n",
                 std::string(session.status().message()).c_str());
    std::abort();
  }
  TimeSource* const time = TimeSource::Real();
  StatementDeadline deadline(time, session->get());
  absl::string_view sql = input.sql;
  for (int i = 0; i < kMaxStatements && !sql.empty(); ++i) {
    const absl::string_view before = sql;
    BoundedSink sink;
    deadline.Arm(time->Now() + kStatementDeadline);
    absl::StatusOr<std::optional<StatementResult>> result =
        (*session)->ExecuteNext(&sql, input.parameters, &sink);
    deadline.Disarm();
    if (result.ok() && !result->has_value()) break;
    if (!result.ok()) CheckError(result.status(), before.substr(0, before.size() - sql.size()));
    if (sql.size() >= before.size()) break;  // nothing consumed: the rest cannot run
  }
  (*session)->Close();
}

}  // namespace
}  // namespace rangedb::sql::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rangedb::sql::fuzz;    // NOLINT(build/namespaces): one entry point
  if (size > kMaxInputBytes) return -1;  // not added to the corpus
  RunInput(ParseFuzzInput(absl::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
