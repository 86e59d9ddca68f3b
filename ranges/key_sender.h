// How a store reaches ranges other than its own (pushes, intent resolution, GC's
// resolution, reading cluster settings): through a KeySender, in a node the node's
// gateway. docs/design/shutdown.md.
//
// The store and the gateway use each other (the gateway sends to stores, stores send
// through the gateway), so neither can simply own the other. The rule that keeps the
// cycle safe: every call from a store into the sender goes through a KeySenderSlot,
// which counts calls in flight, and Detach() waits for them — and for the intent
// resolver's worker — before it returns. After Detach() the store never calls the
// sender again, so whatever the sender uses (the gateway, its clock, a test fixture)
// may be freed.
//
// Detach() runs from Store::Stop() and from the destructor of the KeySenderBinding
// that Store::BindKeySender returned, whichever comes first. An owner therefore
// either stops the store before freeing the gateway, or keeps the binding beside the
// gateway, destroyed before it — both orders are safe; only dropping the binding
// while the sender's target still has to be freed later is not, which is why
// BindKeySender's result is [[nodiscard]].
//
// Thread safety: safe for concurrent use.
#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "ranges/intent_resolver.h"

namespace rangedb::ranges {

class KeySenderSlot {
 public:
  KeySenderSlot() = default;
  ~KeySenderSlot();  // detaches
  KeySenderSlot(const KeySenderSlot&) = delete;
  KeySenderSlot& operator=(const KeySenderSlot&) = delete;

  // Installs sender and starts an intent resolver that sends through this slot
  // (testing_resolution_delay: IntentResolver's testing_start_delay; time: its time
  // source, the store's).
  // REQUIRES: called at most once; time outlives the slot.
  void Bind(KeySender sender, absl::Duration testing_resolution_delay = absl::ZeroDuration(),
            TimeSource* time = TimeSource::Real());

  // Sends through the bound sender. Unavailable (in the response) before Bind and
  // after Detach.
  kvpb::BatchResponse Send(const kvpb::BatchRequest& request, absl::Time deadline);

  // Queues the resolution of finished's intents. False if unbound, detached or the
  // resolver's queue is full (resolution is an optimisation: intent_resolver.h).
  bool EnqueueResolution(const kvpb::Transaction& finished, std::vector<kvpb::Span> spans);

  // Refuses new calls, joins the resolver's worker, and waits until no Send is in
  // flight. Idempotent. REQUIRES: not called from inside the sender.
  void Detach();

 private:
  absl::Mutex mu_;
  KeySender sender_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<IntentResolver> resolver_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
};

// Detaches its slot when destroyed (or when Reset). Move-only.
class [[nodiscard]] KeySenderBinding {
 public:
  KeySenderBinding() = default;
  explicit KeySenderBinding(std::shared_ptr<KeySenderSlot> slot) : slot_(std::move(slot)) {}
  ~KeySenderBinding() { Reset(); }
  KeySenderBinding(KeySenderBinding&&) = default;
  KeySenderBinding& operator=(KeySenderBinding&& other) {
    Reset();
    slot_ = std::move(other.slot_);
    return *this;
  }
  // Detaches now (blocks as KeySenderSlot::Detach does).
  void Reset() {
    if (slot_ != nullptr) slot_->Detach();
    slot_.reset();
  }

 private:
  std::shared_ptr<KeySenderSlot> slot_;
};

}  // namespace rangedb::ranges
