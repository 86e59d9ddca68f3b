// The proposer's checksum on Raft commands (ranges/raft_command_codec.h).
#include "ranges/raft_command_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "storage/raft_log_storage.h"

namespace rangedb::ranges {
namespace {

rangespb::RaftCommand SomeCommand() {
  rangespb::RaftCommand cmd;
  cmd.set_command_id("cmd-1");
  cmd.set_proposer_lease_sequence(7);
  cmd.set_write_batch("the write batch");
  return cmd;
}

TEST(RaftCommandCodecTest, RoundTrips) {
  const std::string data = EncodeRaftCommand(SomeCommand());
  rangespb::RaftCommand got;
  ASSERT_EQ(DecodeRaftCommand(data, &got), RaftCommandDecoding::kOk);
  EXPECT_EQ(got.command_id(), "cmd-1");
  EXPECT_EQ(got.proposer_lease_sequence(), 7u);
  EXPECT_EQ(got.write_batch(), "the write batch");
}

TEST(RaftCommandCodecTest, AnyFlippedByteIsDamage) {
  const std::string data = EncodeRaftCommand(SomeCommand());
  for (size_t i = 0; i < data.size(); ++i) {
    std::string flipped = data;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    rangespb::RaftCommand got;
    EXPECT_EQ(DecodeRaftCommand(flipped, &got), RaftCommandDecoding::kDamaged) << "byte " << i;
  }
}

TEST(RaftCommandCodecTest, TooShortIsDamage) {
  rangespb::RaftCommand got;
  EXPECT_EQ(DecodeRaftCommand("", &got), RaftCommandDecoding::kDamaged);
  EXPECT_EQ(DecodeRaftCommand("abc", &got), RaftCommandDecoding::kDamaged);
}

// The proposer's own bytes that are no RaftCommand (its bug, not damage): every
// replica refuses them alike.
TEST(RaftCommandCodecTest, GarbageWithAValidChecksumIsUnparseable) {
  std::string data = "\xff\xff\xff";  // an invalid tag
  const uint32_t crc = raftlog::Crc32c(data);
  for (int shift = 24; shift >= 0; shift -= 8) data.push_back(static_cast<char>(crc >> shift));
  rangespb::RaftCommand got;
  EXPECT_EQ(DecodeRaftCommand(data, &got), RaftCommandDecoding::kUnparseable);
}

}  // namespace
}  // namespace rangedb::ranges
