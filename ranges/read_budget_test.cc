// The response budget of a read batch (ranges/evaluate.h ReadBudget, FitReadsToBudget;
// docs/limits.md): a scan pages by bytes, the requests of a batch share the budget in
// order, and a batch of Gets that would pass it fails naming the limit.
#include <string>
#include <vector>

#include "base/limits.h"
#include "gtest/gtest.h"
#include "ranges/evaluate.h"
#include "storage/mvcc.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::ranges {
namespace {

using limits::kResponseTargetBytes;

constexpr size_t kValue = size_t{1} << 20;  // four of them make a response

class ReadBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenInMemoryEngine();
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    for (char c = 'a'; c <= 'j'; ++c) {
      ASSERT_TRUE(MVCCPut(*b, std::string(1, c), Timestamp{10, 0}, std::string(kValue, c)).ok());
    }
    ASSERT_TRUE(b->Commit(false).ok());
    ctx_.read_timestamp = Timestamp{20, 0};
  }

  static kvpb::RequestUnion Scan(const std::string& start, const std::string& end,
                                 bool reverse = false) {
    kvpb::RequestUnion r;
    r.mutable_scan()->set_start_key(start);
    r.mutable_scan()->set_end_key(end);
    r.mutable_scan()->set_reverse(reverse);
    return r;
  }
  static kvpb::RequestUnion Get(const std::string& key) {
    kvpb::RequestUnion r;
    r.mutable_get()->set_key(key);
    return r;
  }

  std::unique_ptr<Engine> engine_;
  EvalContext ctx_;
};

TEST_F(ReadBudgetTest, AScanPageStopsAtTheRowThatSpendsTheBudgetAndSaysWhereToGoOn) {
  ReadBudget budget;
  kvpb::ResponseUnion out;
  ASSERT_TRUE(EvaluateRead(*engine_, Scan("a", "z"), ctx_, &budget, &out).ok());
  ASSERT_EQ(out.scan().rows_size(), 4);  // 4 x (1 MiB + 1) reaches 4 MiB
  EXPECT_TRUE(out.scan().has_resume());
  EXPECT_EQ(out.scan().resume_key(), std::string("d") + '\0');
  EXPECT_LE(budget.remaining, 0);
  // A scan's own smaller target is honoured.
  ReadBudget fresh;
  kvpb::RequestUnion small = Scan("a", "z");
  small.mutable_scan()->set_target_bytes(1);
  kvpb::ResponseUnion one;
  ASSERT_TRUE(EvaluateRead(*engine_, small, ctx_, &fresh, &one).ok());
  EXPECT_EQ(one.scan().rows_size(), 1);  // always at least one row
}

TEST_F(ReadBudgetTest, RequestsOfABatchShareTheBudgetInOrder) {
  ReadBudget budget;
  kvpb::ResponseUnion first, second, reverse;
  ASSERT_TRUE(EvaluateRead(*engine_, Scan("a", "c"), ctx_, &budget, &first).ok());
  EXPECT_EQ(first.scan().rows_size(), 2);
  EXPECT_FALSE(first.scan().has_resume());
  ASSERT_TRUE(EvaluateRead(*engine_, Scan("c", "z"), ctx_, &budget, &second).ok());
  EXPECT_EQ(second.scan().rows_size(), 2);  // what was left of 4 MiB
  EXPECT_EQ(second.scan().resume_key(), std::string("d") + '\0');
  // Spent: a later scan returns nothing and resumes where it would have started.
  ASSERT_TRUE(
      EvaluateRead(*engine_, Scan("e", "z", /*reverse=*/true), ctx_, &budget, &reverse).ok());
  EXPECT_EQ(reverse.scan().rows_size(), 0);
  EXPECT_TRUE(reverse.scan().has_resume());
  EXPECT_EQ(reverse.scan().resume_key(), "z");  // reverse: the exclusive end
  // ... and a later Get fails, naming the limit.
  kvpb::ResponseUnion get;
  absl::Status s = EvaluateRead(*engine_, Get("f"), ctx_, &budget, &get);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("kResponseTargetBytes"), std::string::npos) << s;
}

TEST_F(ReadBudgetTest, PartsReadApartAreTrimmedToOneBudgetInRequestOrder) {
  // What a gateway gets back from parallel parts, each within its own budget.
  kvpb::BatchRequest request;
  *request.add_requests() = Scan("a", "d");
  *request.add_requests() = Scan("d", "z", /*reverse=*/true);
  *request.add_requests() = Scan("x", "z");
  std::vector<kvpb::ResponseUnion> responses(3);
  for (int i = 0; i < 3; ++i) {
    ReadBudget own;
    ASSERT_TRUE(EvaluateRead(*engine_, request.requests(i), ctx_, &own, &responses[i]).ok());
  }
  ASSERT_EQ(responses[0].scan().rows_size(), 3);
  ASSERT_EQ(responses[1].scan().rows_size(), 4);  // j, i, h, g
  int failed = -1;
  ASSERT_TRUE(FitReadsToBudget(request, &responses, &failed).ok());
  // 3 rows, then the reverse scan keeps one (j) and resumes below it: [d, j\0) is left.
  EXPECT_EQ(responses[0].scan().rows_size(), 3);
  ASSERT_EQ(responses[1].scan().rows_size(), 1);
  EXPECT_EQ(responses[1].scan().rows(0).key(), "j");
  EXPECT_TRUE(responses[1].scan().has_resume());
  EXPECT_EQ(responses[1].scan().resume_key(), std::string("i") + '\0');
  // The third had nothing to return (no keys in [x, z)) and stays as it was.
  EXPECT_EQ(responses[2].scan().rows_size(), 0);
  EXPECT_FALSE(responses[2].scan().has_resume());
  size_t bytes = 0;
  for (const kvpb::ResponseUnion& r : responses) {
    for (const kvpb::KeyValue& row : r.scan().rows())
      bytes += row.key().size() + row.value().size();
  }
  EXPECT_LE(bytes, limits::kMaxResponseRowBytes);
}

TEST_F(ReadBudgetTest, GetsReadApartThatPassTheBudgetTogetherFailTheBatch) {
  kvpb::BatchRequest request;
  std::vector<kvpb::ResponseUnion> responses;
  for (const char* k : {"a", "b", "c", "d", "e"}) {
    *request.add_requests() = Get(k);
    ReadBudget own;
    ASSERT_TRUE(EvaluateRead(*engine_, request.requests(request.requests_size() - 1), ctx_, &own,
                             &responses.emplace_back())
                    .ok());
  }
  int failed = -1;
  absl::Status s = FitReadsToBudget(request, &responses, &failed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(failed, 4);  // four values of 1 MiB reach the target; the fifth does not fit
  // Four fit.
  request.mutable_requests()->RemoveLast();
  responses.pop_back();
  EXPECT_TRUE(FitReadsToBudget(request, &responses, &failed).ok());
}

}  // namespace
}  // namespace rangedb::ranges
