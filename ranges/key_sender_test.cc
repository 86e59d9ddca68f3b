// KeySenderSlot / KeySenderBinding: once detached, the store never calls the sender
// again, and detaching waits for the calls in flight (ranges/key_sender.h).
#include "ranges/key_sender.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace rangedb::ranges {
namespace {

kvpb::BatchRequest AnyRequest() {
  kvpb::BatchRequest b;
  b.add_requests()->mutable_get()->set_key("k");
  return b;
}

// A sender whose calls block until released; counts calls and notes use after free
// (`alive` is cleared by the test when the target is "freed").
struct BlockingTarget {
  std::atomic<int> calls{0};
  std::atomic<bool> alive{true};
  std::atomic<bool> used_after_free{false};
  absl::Notification entered;
  absl::Notification release;
  KeySender Sender() {
    return [this](const kvpb::BatchRequest&, absl::Time) {
      calls.fetch_add(1);
      entered.Notify();
      release.WaitForNotification();
      if (!alive.load()) used_after_free.store(true);
      return kvpb::BatchResponse();
    };
  }
};

TEST(KeySenderSlotTest, RefusesBeforeBind) {
  KeySenderSlot slot;
  kvpb::BatchResponse r = slot.Send(AnyRequest(), absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(r.has_error());
  EXPECT_FALSE(slot.EnqueueResolution(kvpb::Transaction(), {kvpb::Span()}));
}

TEST(KeySenderSlotTest, RefusesAfterDetachAndNeverCallsTheSenderAgain) {
  auto slot = std::make_shared<KeySenderSlot>();
  int calls = 0;
  slot->Bind([&](const kvpb::BatchRequest&, absl::Time) {
    ++calls;
    return kvpb::BatchResponse();
  });
  EXPECT_FALSE(slot->Send(AnyRequest(), absl::Now() + absl::Seconds(1)).has_error());
  slot->Detach();
  kvpb::BatchResponse r = slot->Send(AnyRequest(), absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(r.has_error());
  EXPECT_NE(r.error().message().find("stopping"), std::string::npos) << r.error().message();
  EXPECT_FALSE(slot->EnqueueResolution(kvpb::Transaction(), {kvpb::Span()}));
  EXPECT_EQ(calls, 1);
  slot->Detach();  // idempotent
}

TEST(KeySenderSlotTest, DetachWaitsForACallInFlight) {
  auto slot = std::make_shared<KeySenderSlot>();
  BlockingTarget target;
  slot->Bind(target.Sender());
  std::thread caller([&] { (void)slot->Send(AnyRequest(), absl::Now() + absl::Seconds(5)); });
  target.entered.WaitForNotification();

  std::atomic<bool> detached{false};
  std::thread detacher([&] {
    slot->Detach();
    detached.store(true);
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(detached.load()) << "Detach returned while the sender was still running";
  target.release.Notify();
  detacher.join();
  caller.join();
  EXPECT_TRUE(detached.load());
}

// The bug of issue 11: the intent resolver's worker called a gateway that its owner
// had already freed. With the binding destroyed first, the worker's call finishes
// before the target goes, and no later call reaches it.
TEST(KeySenderBindingTest, DestroyingTheBindingJoinsTheResolverBeforeTheTargetGoes) {
  auto slot = std::make_shared<KeySenderSlot>();
  auto target = std::make_unique<BlockingTarget>();
  {
    KeySenderBinding binding(slot);
    slot->Bind(target->Sender());
    kvpb::Span span;
    span.set_key("a");
    ASSERT_TRUE(slot->EnqueueResolution(kvpb::Transaction(), {span, span, span}));
    target->entered.WaitForNotification();  // the worker is inside the sender
    std::thread release([&] {
      absl::SleepFor(absl::Milliseconds(20));
      target->release.Notify();
    });
    binding.Reset();  // must wait for the worker's call to return
    release.join();
  }
  target->alive.store(false);  // "freed": any later call is a use after free
  const int calls = target->calls.load();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(target->calls.load(), calls) << "the resolver called the sender after detaching";
  EXPECT_FALSE(target->used_after_free.load());
}

TEST(KeySenderBindingTest, MovedFromBindingDoesNotDetach) {
  auto slot = std::make_shared<KeySenderSlot>();
  slot->Bind([](const kvpb::BatchRequest&, absl::Time) { return kvpb::BatchResponse(); });
  KeySenderBinding outer;
  {
    KeySenderBinding inner(slot);
    outer = std::move(inner);
  }
  EXPECT_FALSE(slot->Send(AnyRequest(), absl::Now() + absl::Seconds(1)).has_error());
  outer.Reset();
  EXPECT_TRUE(slot->Send(AnyRequest(), absl::Now() + absl::Seconds(1)).has_error());
}

TEST(KeySenderSlotTest, BindAfterDetachNeverCalls) {
  KeySenderSlot slot;
  slot.Detach();  // the store stopped before the node bound its gateway
  int calls = 0;
  slot.Bind([&](const kvpb::BatchRequest&, absl::Time) {
    ++calls;
    return kvpb::BatchResponse();
  });
  EXPECT_TRUE(slot.Send(AnyRequest(), absl::Now() + absl::Seconds(1)).has_error());
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace rangedb::ranges
