#include "ranges/raft_command_codec.h"

#include <cstdint>

#include "storage/raft_log_storage.h"

namespace rangedb::ranges {

namespace {
constexpr size_t kChecksumBytes = 4;
}  // namespace

std::string EncodeRaftCommand(const rangespb::RaftCommand& command) {
  std::string out = command.SerializeAsString();
  const uint32_t crc = raftlog::Crc32c(out);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(crc >> shift));
  return out;
}

RaftCommandDecoding DecodeRaftCommand(absl::string_view data, rangespb::RaftCommand* command) {
  if (data.size() < kChecksumBytes) return RaftCommandDecoding::kDamaged;
  const absl::string_view body = data.substr(0, data.size() - kChecksumBytes);
  uint32_t stored = 0;
  for (size_t i = body.size(); i < data.size(); ++i) {
    stored = (stored << 8) | static_cast<uint8_t>(data[i]);
  }
  if (raftlog::Crc32c(body) != stored) return RaftCommandDecoding::kDamaged;
  if (!command->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return RaftCommandDecoding::kUnparseable;
  }
  return RaftCommandDecoding::kOk;
}

}  // namespace rangedb::ranges
