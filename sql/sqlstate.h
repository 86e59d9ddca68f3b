// SQLSTATE codes on absl::Status: every error the SQL layer returns carries one, so
// the service can send it (proto/sql.proto, SqlError.sqlstate) and clients can act on
// it (40001: retry the transaction; 40003: the commit's outcome is unknown).
//
// The code travels as a payload under kSqlStatePayloadUrl; the status code is chosen
// to match (kAborted for 40001, kInvalidArgument for 42xxx, ...), so code that only
// looks at absl codes still does something sensible. docs/sql.md lists every code.
//
// Thread safety: stateless functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rangedb::sql {

inline constexpr char kSqlStatePayloadUrl[] = "rangedb.dev/sqlstate";

// The codes the SQL layer produces (PostgreSQL's meanings).
namespace sqlstate {
inline constexpr char kSyntaxError[] = "42601";
inline constexpr char kUndefinedTable[] = "42P01";
inline constexpr char kUndefinedColumn[] = "42703";
inline constexpr char kDuplicateTable[] = "42P07";
inline constexpr char kDuplicateColumn[] = "42701";
inline constexpr char kDuplicateObject[] = "42710";
inline constexpr char kUndefinedObject[] = "42704";
inline constexpr char kUniqueViolation[] = "23505";
inline constexpr char kNotNullViolation[] = "23502";
inline constexpr char kCheckViolation[] = "23514";
inline constexpr char kSerializationFailure[] = "40001";
inline constexpr char kAmbiguousCommit[] = "40003";
inline constexpr char kInFailedTransaction[] = "25P02";
inline constexpr char kActiveTransaction[] = "25001";
inline constexpr char kNoActiveTransaction[] = "25P01";
inline constexpr char kFeatureNotSupported[] = "0A000";
inline constexpr char kProgramLimitExceeded[] = "54000";
inline constexpr char kDataException[] = "22000";
inline constexpr char kCharacterNotInRepertoire[] = "22021";  // text that is not UTF-8
inline constexpr char kQueryCanceled[] = "57014";
inline constexpr char kAdminShutdown[] = "57P01";  // the node is draining
inline constexpr char kConnectionFailure[] = "08006";
inline constexpr char kInternalError[] = "XX000";
inline constexpr char kGenericError[] = "HY000";
}  // namespace sqlstate

// A status with the given SQLSTATE and message; its absl code follows from the class.
absl::Status SqlError(absl::string_view code, absl::string_view message);

// The SQLSTATE a status carries; for a status without one: "00000" for OK, else a
// code derived from the absl code (kInvalidArgument -> 22000, kUnavailable or
// kDeadlineExceeded -> 08006, kCancelled -> 57014, ... , otherwise XX000).
std::string SqlStateOf(const absl::Status& status);

// Where in the statement an error is: a 1-based byte offset into the statement's
// text, carried as a payload (SqlError.position on the wire); 0 when unknown.
inline constexpr char kPositionPayloadUrl[] = "rangedb.dev/sql-position";
absl::Status WithPosition(absl::Status status, int position);
int PositionOf(const absl::Status& status);

// "0A000: <feature> is not supported" as a status, naming the feature.
absl::Status NotSupported(absl::string_view feature);

}  // namespace rangedb::sql
