// A RaftCommand as the data of a Raft entry: the serialized command followed by its
// CRC-32C, computed by the proposer. Every replica applies the proposer's bytes or
// none: a replica whose copy fails the checksum (damaged in transit or in its memory
// before it was logged) must stop, not apply something else and not skip the command
// while the others apply it. Only a command whose checksum holds and that still
// cannot be applied is the proposer's bug, and every replica refuses it alike
// (docs/replication.md, "Commands no replica can apply").
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "proto/ranges.pb.h"

namespace rangedb::ranges {

// serialized command ++ CRC-32C of it (4 bytes, big-endian).
std::string EncodeRaftCommand(const rangespb::RaftCommand& command);

enum class RaftCommandDecoding {
  kOk,           // *command holds the proposer's command
  kDamaged,      // too short or the checksum does not match: this copy is not the proposer's
  kUnparseable,  // the proposer's bytes (checksum holds) are not a RaftCommand
};
RaftCommandDecoding DecodeRaftCommand(absl::string_view data, rangespb::RaftCommand* command);

}  // namespace rangedb::ranges
