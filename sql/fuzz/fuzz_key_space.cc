#include "sql/fuzz/fuzz_key_space.h"

#include <cstdio>
#include <cstdlib>

#include "txn/clock.h"

namespace rangedb::sql::fuzz {
namespace {

SystemClock* Clock() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

class DiscardingSink final : public RowSink {
 public:
  absl::Status Columns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status Row(std::vector<Value>) override { return absl::OkStatus(); }
};

}  // namespace

FuzzKeySpace::FuzzKeySpace() : cluster_(1, ranges::FastStoreConfig()) {
  clock_ = std::make_unique<HybridLogicalClock>(Clock(), ranges::kTestMaxOffsetNanos);
  ranges::GatewayOptions o;
  o.node_id = kNodeId;
  o.clock = clock_.get();
  o.time = cluster_.time();
  o.send_to_node = [this](uint64_t node, const kvpb::BatchRequest& req, absl::Time deadline) {
    ranges::NodeSendResult r;
    std::shared_ptr<ranges::Store> store = cluster_.StoreRef(node);
    if (store == nullptr) {
      r.rpc_status = absl::UnavailableError("node stopped");
      return r;
    }
    r.response = store->Send(req, deadline);
    return r;
  };
  o.first_range = [this]() -> std::optional<kvpb::RangeDescriptor> {
    return cluster_.initial_ranges()[0];
  };
  gateway_ = std::make_unique<ranges::Gateway>(std::move(o));
  ranges::Gateway* gw = gateway_.get();
  binding_ = cluster_.StoreOf(kNodeId)->BindKeySender(
      [gw](const kvpb::BatchRequest& req, absl::Time deadline) { return gw->Send(req, deadline); });
  sender_ = std::make_unique<ranges::LocalSender>(gw);
  // A first statement elects the ranges' leaders and takes their leases; past the
  // clock's max offset, transactions are not pushed by the new leases' low water.
  absl::StatusOr<std::unique_ptr<Session>> warm_up = Session::Open(SessionOptions());
  if (!warm_up.ok()) {
    std::fprintf(stderr, "fuzz: cannot open a session: %s\n",
                 std::string(warm_up.status().message()).c_str());
    std::abort();
  }
  absl::string_view create = "CREATE TABLE IF NOT EXISTS fuzz_warm_up (k INTEGER PRIMARY KEY)";
  DiscardingSink sink;
  if (auto created = (*warm_up)->ExecuteNext(&create, {}, &sink); !created.ok()) {
    std::fprintf(stderr, "fuzz: the warm-up statement failed: %s\n",
                 std::string(created.status().message()).c_str());
  }
  TimeSource::Real()->SleepFor(absl::Nanoseconds(ranges::kTestMaxOffsetNanos));
}

FuzzKeySpace::~FuzzKeySpace() = default;

sql::SessionOptions FuzzKeySpace::SessionOptions() {
  sql::SessionOptions options;
  options.sender = sender_.get();
  options.node_id = kNodeId;
  return options;
}

}  // namespace rangedb::sql::fuzz
