#include "base/request_limits.h"

#include <string>

#include "base/limits.h"
#include "gtest/gtest.h"

namespace rangedb::limits {
namespace {

kvpb::BatchRequest PutBatch(const std::string& key, const std::string& value) {
  kvpb::BatchRequest batch;
  kvpb::PutRequest* put = batch.add_requests()->mutable_put();
  put->set_key(key);
  put->set_value(value);
  return batch;
}

TEST(RequestLimitsTest, KeyAtTheLimitPassesOneByteMoreIsRefusedNamingTheLimit) {
  EXPECT_TRUE(CheckBatchLimits(PutBatch(std::string(kMaxKeyBytes, 'k'), "v")).ok());
  absl::Status s = CheckBatchLimits(PutBatch(std::string(kMaxKeyBytes + 1, 'k'), "v"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "request 0: key of 8193 bytes exceeds the limit of 8192 bytes "
            "(kMaxKeyBytes; docs/limits.md)");
}

TEST(RequestLimitsTest, ValueAtTheLimitPassesOneByteMoreIsRefused) {
  EXPECT_TRUE(CheckBatchLimits(PutBatch("k", std::string(kMaxValueBytes, 'v'))).ok());
  absl::Status s = CheckBatchLimits(PutBatch("k", std::string(kMaxValueBytes + 1, 'v')));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("value of 2097153 bytes exceeds the limit of 2097152"),
            std::string::npos)
      << s;
}

TEST(RequestLimitsTest, ConditionalPutsExpectedValueIsAValue) {
  kvpb::BatchRequest batch;
  kvpb::ConditionalPutRequest* cput = batch.add_requests()->mutable_conditional_put();
  cput->set_key("k");
  cput->set_value("v");
  cput->set_has_expected(true);
  cput->set_expected(std::string(kMaxValueBytes + 1, 'e'));
  absl::Status s = CheckBatchLimits(batch);
  EXPECT_NE(s.message().find("expected value of"), std::string::npos) << s;
}

TEST(RequestLimitsTest, SpanBoundsGetTheSlackWrittenKeysDoNot) {
  kvpb::BatchRequest scan;
  kvpb::ScanRequest* s = scan.add_requests()->mutable_scan();
  s->set_start_key(std::string(kMaxKeyBytes, 'a') + std::string(1, '\0'));  // a resume key
  s->set_end_key(std::string(kMaxKeyBytes + kKeySlackBytes, 'z'));
  EXPECT_TRUE(CheckBatchLimits(scan).ok());
  s->set_end_key(std::string(kMaxKeyBytes + kKeySlackBytes + 1, 'z'));
  EXPECT_EQ(CheckBatchLimits(scan).code(), absl::StatusCode::kInvalidArgument);

  kvpb::BatchRequest del;
  del.add_requests()->mutable_delete_()->set_key(std::string(kMaxKeyBytes + 1, 'd'));
  EXPECT_EQ(CheckBatchLimits(del).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestLimitsTest, TheBatchsWritesTogetherAreBounded) {
  kvpb::BatchRequest batch;
  size_t bytes = 0;
  for (int i = 0; bytes + 10 + kMaxValueBytes <= kMaxBatchWriteBytes; ++i) {
    kvpb::PutRequest* put = batch.add_requests()->mutable_put();
    put->set_key("key" + std::to_string(i));
    put->set_value(std::string(kMaxValueBytes, 'v'));
    bytes += WriteBytesOf(batch.requests(i));
  }
  EXPECT_TRUE(CheckBatchLimits(batch).ok());
  kvpb::PutRequest* put = batch.add_requests()->mutable_put();
  put->set_key("one more");
  put->set_value(std::string(kMaxBatchWriteBytes - bytes, 'v'));  // over by its key's 8 bytes
  absl::Status s = CheckBatchLimits(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("the batch's writes of " + std::to_string(kMaxBatchWriteBytes + 8)),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("kMaxBatchWriteBytes"), std::string::npos);
}

TEST(RequestLimitsTest, TheWholeRequestIsBoundedEvenWithoutWrites) {
  // Reads write nothing, but a commit's lock spans (or many read keys) still count.
  kvpb::BatchRequest batch;
  kvpb::EndTxnRequest* end = batch.add_requests()->mutable_end_txn();
  end->set_key("anchor");
  for (size_t bytes = 0; bytes <= kMaxRequestBytes; bytes += 2 * kMaxKeyBytes) {
    kvpb::Span* span = end->add_lock_spans();
    span->set_key(std::string(kMaxKeyBytes, 'a'));
    span->set_end_key(std::string(kMaxKeyBytes, 'b'));
  }
  absl::Status s = CheckBatchLimits(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("kMaxRequestBytes"), std::string::npos) << s;
}

TEST(RequestLimitsTest, TheTransactionsAnchorKeyIsAWrittenKey) {
  kvpb::BatchRequest batch = PutBatch("k", "v");
  batch.mutable_header()->mutable_txn()->set_anchor_key(std::string(kMaxKeyBytes, 'a'));
  EXPECT_TRUE(CheckBatchLimits(batch).ok());
  batch.mutable_header()->mutable_txn()->set_anchor_key(std::string(kMaxKeyBytes + 1, 'a'));
  absl::Status s = CheckBatchLimits(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("anchor key"), std::string::npos) << s;
}

TEST(RequestLimitsTest, EveryKeyOfEveryRequestKindIsChecked) {
  const std::string big(kMaxKeyBytes + kKeySlackBytes + 1, 'x');
  std::vector<kvpb::RequestUnion> requests(12);
  requests[0].mutable_get()->set_key(big);
  requests[1].mutable_put()->set_key(big);
  requests[2].mutable_conditional_put()->set_key(big);
  requests[3].mutable_delete_()->set_key(big);
  requests[4].mutable_scan()->set_start_key(big);
  requests[5].mutable_increment()->set_key(big);
  requests[6].mutable_delete_range()->set_end_key(big);
  requests[7].mutable_end_txn()->set_key(big);
  requests[8].mutable_heartbeat_txn()->set_key(big);
  requests[9].mutable_push_txn()->set_key(big);
  requests[10].mutable_query_txn()->set_key(big);
  requests[11].mutable_resolve_intent()->set_end_key(big);
  for (const kvpb::RequestUnion& r : requests) {
    kvpb::BatchRequest batch;
    *batch.add_requests() = r;
    EXPECT_EQ(CheckBatchLimits(batch).code(), absl::StatusCode::kInvalidArgument)
        << r.ShortDebugString().substr(0, 40);
  }
}

}  // namespace
}  // namespace rangedb::limits
