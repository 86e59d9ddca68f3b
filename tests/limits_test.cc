// The limits of docs/limits.md on a 3-node cluster of real rangedb processes (issue
// 12): for each limit a value just under it round-trips through the client library
// (and, where the CLI can carry it, through `rangedb kv`), and a value just over it is
// refused with the documented error and leaves no trace. A scan far larger than one
// response completes through paging, and a DeleteRange far larger than one request's
// piece deletes everything inside one transaction.
//
// The cluster is shared by the suite (it is expensive); every test uses a key prefix
// of its own. The key space is split at "m" and "t" so that the scan (around "m") and
// the delete (around "t") cross ranges; no other test writes in either span.
#include "base/limits.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/random.h"
#include "client/kv_client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/kv.grpc.pb.h"
#include "tests/cluster_harness.h"
#include "txn/txn.h"

namespace rangedb {
namespace {

using client::KeyValue;
using client::KvClient;
using client::KvClientOptions;
using limits::kMaxBatchWriteBytes;
using limits::kMaxKeyBytes;
using limits::kMaxTxnWriteBytes;
using limits::kMaxValueBytes;
using limits::kResponseTargetBytes;

// A value of n bytes whose content depends on seed (so a mixed-up value is caught).
std::string Value(size_t n, int seed) {
  std::string v(n, 'a');
  for (size_t i = 0; i < n; i += 997) v[i] = static_cast<char>('a' + (seed + i / 997) % 26);
  return v;
}

void ExpectLimitError(const absl::Status& s, const std::string& limit_name) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "exceeds the limit of")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), limit_name)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "docs/limits.md")) << s;
}

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness::ClusterOptions options;
    options.split_keys = {"m", "t"};
    absl::StatusOr<std::unique_ptr<harness::ClusterHarness>> made =
        harness::ClusterHarness::Create(options);
    ASSERT_TRUE(made.ok()) << made.status();
    cluster_ = made->release();
    absl::Status started = cluster_->StartCluster();
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    KvClientOptions o;
    o.hosts = cluster_->addresses();
    o.timeout = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<KvClient>> made = KvClient::Create(o);
    ASSERT_TRUE(made.ok()) << made.status();
    kv_ = std::move(*made);
  }

  std::optional<std::string> Read(const std::string& key) {
    absl::StatusOr<std::optional<std::string>> v = kv_->Get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  }

  // `rangedb kv ARGS... --host=<every node>`; its exit code and output.
  harness::CommandResult Cli(std::vector<std::string> args, size_t max_output = 1 << 20) {
    std::vector<std::string> argv = {cluster_->binary(), "kv"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string hosts;
    for (const std::string& a : cluster_->addresses())
      absl::StrAppend(&hosts, hosts.empty() ? "" : ",", a);
    argv.push_back("--host=" + hosts);
    argv.push_back("--timeout=30s");
    absl::StatusOr<harness::CommandResult> r =
        harness::RunCommand(argv, absl::Seconds(60), max_output);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : harness::CommandResult{};
  }

  // A file holding value, for `kv put --value-file`.
  std::string WriteFile(const std::string& name, const std::string& value) {
    const std::string path = absl::StrCat(cluster_->base_dir(), "/", name);
    std::ofstream out(path, std::ios::binary);
    out << value;
    return path;
  }

  static harness::ClusterHarness* cluster_;
  std::unique_ptr<KvClient> kv_;
};

harness::ClusterHarness* LimitsTest::cluster_ = nullptr;

TEST_F(LimitsTest, AKeyAtTheLimitRoundTripsOneByteMoreIsRefusedAndLeavesNoTrace) {
  const std::string at = "key/" + std::string(kMaxKeyBytes - 4, 'k');
  const std::string over = at + "x";
  ASSERT_TRUE(kv_->Put(at, "v-at").ok());
  EXPECT_EQ(Read(at), "v-at");
  ExpectLimitError(kv_->Put(over, "v-over"), "kMaxKeyBytes");
  // A key one byte over can still be read (span bounds get 16 bytes of slack): absent.
  EXPECT_EQ(Read(over), std::nullopt);

  // The CLI: same limit, same message, exit code 1, nothing written.
  harness::CommandResult cli = Cli({"put", over + "y", "v"});
  EXPECT_EQ(cli.exit.code, 1) << cli.output;
  EXPECT_TRUE(absl::StrContains(cli.output, "kMaxKeyBytes")) << cli.output;
  EXPECT_EQ(Read(over + "y"), std::nullopt);
}

TEST_F(LimitsTest, AValueAtTheLimitRoundTripsThroughTheClientAndTheCli) {
  const std::string at = Value(kMaxValueBytes, 1);
  ASSERT_TRUE(kv_->Put("value/client", at).ok());
  EXPECT_EQ(Read("value/client"), at);

  harness::CommandResult put = Cli({"put", "value/cli", "--value-file", WriteFile("at", at)});
  ASSERT_EQ(put.exit.code, 0) << put.output;
  harness::CommandResult get = Cli({"get", "value/cli"}, kMaxValueBytes + 1024);
  ASSERT_EQ(get.exit.code, 0) << get.output.substr(0, 200);
  EXPECT_TRUE(get.output == at + "\n") << "the CLI printed " << get.output.size() << " bytes";
  // Also in a transaction, next to other writes.
  txn::Txn t(kv_.get());
  ASSERT_TRUE(t.Put("value/txn", at).ok());
  ASSERT_TRUE(t.Put("value/txn-small", "s").ok());
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(Read("value/txn"), at);
}

TEST_F(LimitsTest, AValueOneByteOverIsRefusedEverywhereAndLeavesNoTrace) {
  const std::string over = Value(kMaxValueBytes + 1, 2);
  ExpectLimitError(kv_->Put("over/client", over), "kMaxValueBytes");
  ExpectLimitError(kv_->ConditionalPut("over/cput", over, std::nullopt), "kMaxValueBytes");
  EXPECT_EQ(Read("over/client"), std::nullopt);
  EXPECT_EQ(Read("over/cput"), std::nullopt);

  // A transaction refuses the write before sending anything and stays usable.
  txn::Txn t(kv_.get());
  ASSERT_TRUE(t.Put("over/txn-before", "b").ok());
  ExpectLimitError(t.Put("over/txn", over), "kMaxValueBytes");
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(Read("over/txn-before"), "b");
  EXPECT_EQ(Read("over/txn"), std::nullopt);

  // Through the CLI: the same error, exit code 1, nothing written.
  harness::CommandResult cli = Cli({"put", "over/cli", "--value-file", WriteFile("over", over)});
  EXPECT_EQ(cli.exit.code, 1) << cli.output;
  EXPECT_TRUE(absl::StrContains(cli.output, "kMaxValueBytes")) << cli.output;
  EXPECT_EQ(Read("over/cli"), std::nullopt);
}

TEST_F(LimitsTest, TheIssuesKvTxnScriptCommitsAtTheLimitAndWritesNothingOverIt) {
  // Issue 12's reproduction: `printf 'put big "<value>"\ncommit\n' | rangedb kv txn`.
  auto run_script = [&](const std::string& name, const std::string& script) {
    const std::string path = WriteFile(name, script);
    std::string hosts;
    for (const std::string& a : cluster_->addresses()) {
      absl::StrAppend(&hosts, hosts.empty() ? "" : ",", a);
    }
    absl::StatusOr<harness::CommandResult> r = harness::RunCommand(
        {"/bin/sh", "-c",
         absl::StrCat(cluster_->binary(), " kv txn --timeout=30s --host=", hosts, " < ", path)},
        absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : harness::CommandResult{};
  };
  const std::string at = Value(kMaxValueBytes, 4);
  harness::CommandResult ok =
      run_script("script-at",
                 absl::StrCat("put cli-script/small s\nput cli-script/big \"", at, "\"\ncommit\n"));
  EXPECT_EQ(ok.exit.code, 0) << ok.output;
  EXPECT_EQ(Read("cli-script/big"), at);

  harness::CommandResult over =
      run_script("script-over", absl::StrCat("put cli-script/small2 s\nput cli-script/big2 \"",
                                             Value(kMaxValueBytes + 1, 5), "\"\ncommit\n"));
  EXPECT_EQ(over.exit.code, 1) << over.output;
  EXPECT_TRUE(absl::StrContains(over.output, "kMaxValueBytes")) << over.output;
  EXPECT_TRUE(absl::StrContains(over.output, "rolled back")) << over.output;
  EXPECT_EQ(Read("cli-script/small2"), std::nullopt);
  EXPECT_EQ(Read("cli-script/big2"), std::nullopt);
}

TEST_F(LimitsTest, ATransactionRefusesOversizedKeysAndBoundsAndStaysUsable) {
  const std::string bound_over(kMaxKeyBytes + limits::kKeySlackBytes + 1, 'z');
  txn::Txn t(kv_.get());
  ASSERT_TRUE(t.Put("bounds/kept", "k").ok());
  ExpectLimitError(t.Get(bound_over).status(), "kMaxKeyBytes");
  ExpectLimitError(t.Scan("bounds/", bound_over, 0).status(), "kMaxKeyBytes");
  // A DeleteRange's start may become the transaction's anchor: a written key.
  ExpectLimitError(t.DeleteRange(std::string(kMaxKeyBytes + 1, 'c'), "d").status(), "kMaxKeyBytes");
  ExpectLimitError(t.Delete(std::string(kMaxKeyBytes + 1, 'd')), "kMaxKeyBytes");
  absl::Status committed = t.Commit();
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(Read("bounds/kept"), "k");
}

TEST_F(LimitsTest, AServerRefusesWhatAClientSendsPastItsOwnCheck) {
  // A client that skips the check (a raw gRPC call) meets the same limit at the node.
  kvpb::BatchRequest batch;
  kvpb::PutRequest* put = batch.add_requests()->mutable_put();
  put->set_key("raw/over");
  put->set_value(Value(kMaxValueBytes + 1, 3));
  batch.mutable_header()->mutable_idempotency_key()->set_client_id("limits-test-raw");
  batch.mutable_header()->mutable_idempotency_key()->set_sequence(1);
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
  std::unique_ptr<kvpb::KV::Stub> stub = kvpb::KV::NewStub(
      grpc::CreateCustomChannel(cluster_->address(0), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  kvpb::BatchResponse resp;
  grpc::Status rpc = stub->Batch(&context, batch, &resp);
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  ASSERT_TRUE(resp.has_error());
  EXPECT_EQ(resp.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StrContains(resp.error().message(), "kMaxValueBytes"))
      << resp.error().message();
  EXPECT_EQ(Read("raw/over"), std::nullopt);
}

TEST_F(LimitsTest, ABatchOverItsWriteBytesIsRefusedWhole) {
  kvpb::BatchRequest batch;
  size_t bytes = 0;
  for (int i = 0; bytes <= kMaxBatchWriteBytes; ++i) {
    kvpb::PutRequest* put = batch.add_requests()->mutable_put();
    put->set_key(absl::StrCat("batch/", i));
    put->set_value(Value(kMaxValueBytes, i));
    bytes += put->key().size() + put->value().size();
  }
  ExpectLimitError(kv_->Batch(batch).status(), "kMaxBatchWriteBytes");
  for (int i = 0; i < batch.requests_size(); ++i) {
    EXPECT_EQ(Read(absl::StrCat("batch/", i)), std::nullopt) << i;
  }
}

TEST_F(LimitsTest, ARequestJustUnderItsLimitIsServedOneSpanMoreIsRefused) {
  // Only a commit's lock spans make a request this large (reads and writes hit their
  // own limits first): a rollback listing spans up to just under kMaxRequestBytes is
  // served, the same with one span more is refused, by the client and by the node.
  kvpb::BatchRequest over;
  kvpb::Transaction* txn = over.mutable_header()->mutable_txn();
  txn->set_id(RandomBytes(16));
  txn->set_anchor_key("reqsize/anchor");
  kvpb::EndTxnRequest* end = over.add_requests()->mutable_end_txn();
  end->set_key("reqsize/anchor");
  end->set_commit(false);
  for (int i = 0; over.ByteSizeLong() <= limits::kMaxRequestBytes; ++i) {
    kvpb::Span* span = end->add_lock_spans();
    span->set_key(absl::StrFormat("reqsize/%05d/", i) + std::string(8000, 'k'));
    span->set_end_key(span->key() + "~");
  }
  kvpb::BatchRequest under = over;
  under.mutable_requests(0)->mutable_end_txn()->mutable_lock_spans()->RemoveLast();
  ASSERT_LE(under.ByteSizeLong(), limits::kMaxRequestBytes);
  ASSERT_GT(under.ByteSizeLong(), limits::kMaxRequestBytes - 20'000);  // just under

  ExpectLimitError(kv_->Batch(over).status(), "kMaxRequestBytes");
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
  std::unique_ptr<kvpb::KV::Stub> stub = kvpb::KV::NewStub(
      grpc::CreateCustomChannel(cluster_->address(1), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  kvpb::BatchResponse refused;
  grpc::Status rpc = stub->Batch(&context, over, &refused);
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  ASSERT_TRUE(refused.has_error());
  EXPECT_TRUE(absl::StrContains(refused.error().message(), "kMaxRequestBytes"))
      << refused.error().message();

  absl::StatusOr<kvpb::BatchResponse> served = kv_->Batch(under);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->responses(0).end_txn().status(), kvpb::ABORTED);
}

TEST_F(LimitsTest, ATransactionWritesManyLargeValuesAndManyKeysInBatchesThatFit) {
  // More than one batch can carry, in values and in count: the coordinator flushes.
  txn::Txn t(kv_.get());
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(t.Put(absl::StrCat("bulk/big", i), Value(kMaxValueBytes, i)).ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(t.Put(absl::StrFormat("bulk/small%04d", i), "s").ok());
  absl::Status committed = t.Commit();
  ASSERT_TRUE(committed.ok()) << committed;
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(Read(absl::StrCat("bulk/big", i)), Value(kMaxValueBytes, i));
  absl::StatusOr<std::vector<KeyValue>> small = kv_->Scan("bulk/small", "bulk/smalm", 0);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->size(), 300u);
}

TEST_F(LimitsTest, ATransactionsWritesUpToItsLimitCommitOneByteMoreIsRefused) {
  txn::Txn t(kv_.get());
  size_t written = 0;
  int i = 0;
  for (;; ++i) {
    const std::string key = absl::StrFormat("wsize/%03d", i);
    const size_t value = std::min(kMaxValueBytes, kMaxTxnWriteBytes - written - key.size());
    ASSERT_TRUE(t.Put(key, Value(value, i)).ok()) << i;
    written += key.size() + value;
    if (written == kMaxTxnWriteBytes) break;
  }
  // Exactly at the limit: one more byte (an empty value under a 1-byte key is 1 byte).
  ExpectLimitError(t.Put("x", ""), "kMaxTxnWriteBytes");
  absl::Status committed = t.Commit();
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(Read(absl::StrFormat("wsize/%03d", i)).has_value(), true);
  EXPECT_EQ(Read("x"), std::nullopt);
}

TEST_F(LimitsTest, AScanFarLargerThanOneResponseCompletesThroughPaging) {
  // 24 MiB of rows on both sides of the split at "m": six responses' worth.
  const size_t kValue = size_t{1} << 20;
  const int kRows = 24;
  for (int i = 0; i < kRows; ++i) {
    const std::string key = absl::StrFormat("%s/scan/%02d", i < kRows / 2 ? "l" : "n", i);
    ASSERT_TRUE(kv_->Put(key, Value(kValue, i)).ok()) << i;
  }
  // One raw page stops by bytes, long before its row limit, and says where to go on.
  kvpb::BatchRequest page;
  kvpb::ScanRequest* scan = page.add_requests()->mutable_scan();
  scan->set_start_key("l/scan/");
  scan->set_end_key("n/scan0");
  scan->set_max_keys(1000);
  absl::StatusOr<kvpb::BatchResponse> first = kv_->Batch(page);
  ASSERT_TRUE(first.ok()) << first.status();
  const kvpb::ScanResponse& rows = first->responses(0).scan();
  EXPECT_TRUE(rows.has_resume());
  EXPECT_EQ(static_cast<size_t>(rows.rows_size()), kResponseTargetBytes / kValue);
  // The whole span, through the client's paging, and through the CLI's.
  absl::StatusOr<std::vector<KeyValue>> all = kv_->Scan("l/scan/", "n/scan0", 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(kRows));
  for (int i = 0; i < kRows; ++i) EXPECT_EQ((*all)[i].value, Value(kValue, i)) << i;
  harness::CommandResult cli = Cli({"scan", "l/scan/", "n/scan0"}, (kRows + 1) * (kValue + 64));
  ASSERT_EQ(cli.exit.code, 0) << cli.output.substr(0, 200);
  EXPECT_EQ(std::count(cli.output.begin(), cli.output.end(), '\n'), kRows);
}

TEST_F(LimitsTest, ADeleteRangeLargerThanOneRequestDeletesEverythingInOneTransaction) {
  // More keys in one range than one DeleteRange piece deletes (10,000), and more in
  // the next range: three pieces, the first stopped by its key limit, the second by
  // its range's end.
  const int kKeys = 10'300;
  const int kInFirstRange = 10'200;
  for (int i = 0; i < kKeys;) {
    txn::Txn load(kv_.get());
    for (const int stop = std::min(kKeys, i + 2000); i < stop; ++i) {
      ASSERT_TRUE(
          load.Put(absl::StrFormat("%s/del/%05d", i < kInFirstRange ? "s" : "u", i), "v").ok());
    }
    absl::Status loaded = load.Commit();
    ASSERT_TRUE(loaded.ok()) << loaded;
  }
  txn::Txn t(kv_.get());
  std::vector<std::string> deleted;
  absl::StatusOr<int64_t> n = t.DeleteRange("s/del/", "u/del0", &deleted);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, kKeys);
  EXPECT_EQ(deleted.size(), static_cast<size_t>(kKeys));
  ASSERT_TRUE(t.Commit().ok());
  absl::StatusOr<std::vector<KeyValue>> left = kv_->Scan("s/del/", "u/del0", 0);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty()) << left->size() << " keys survived, first " << left->front().key;
}

}  // namespace
}  // namespace rangedb
