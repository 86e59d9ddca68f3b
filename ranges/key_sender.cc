#include "ranges/key_sender.h"

#include "absl/status/status.h"
#include "base/check.h"
#include "ranges/evaluate.h"

namespace rangedb::ranges {

KeySenderSlot::~KeySenderSlot() { Detach(); }

void KeySenderSlot::Bind(KeySender sender, absl::Duration testing_resolution_delay,
                         TimeSource* time) {
  absl::MutexLock lock(&mu_);
  RANGEDB_CHECK(!sender_ && resolver_ == nullptr) << "a store's key sender is bound twice";
  if (detached_) return;  // the store stopped first: never call out again
  sender_ = std::move(sender);
  // The resolver sends through the slot, so Detach waits for its calls too. The
  // slot owns the resolver, so `this` outlives the worker.
  resolver_ = std::make_unique<IntentResolver>(
      [this](const kvpb::BatchRequest& request, absl::Time deadline) {
        return Send(request, deadline);
      },
      testing_resolution_delay, time);
}

kvpb::BatchResponse KeySenderSlot::Send(const kvpb::BatchRequest& request, absl::Time deadline) {
  KeySender sender;
  {
    absl::MutexLock lock(&mu_);
    if (detached_ || !sender_) {
      kvpb::BatchResponse resp;
      *resp.mutable_error() = ToError(absl::UnavailableError(
          detached_ ? "this store is stopping: it no longer reaches other ranges"
                    : "this store cannot reach other ranges yet"));
      return resp;
    }
    sender = sender_;
    ++in_flight_;
  }
  kvpb::BatchResponse resp = sender(request, deadline);
  absl::MutexLock lock(&mu_);
  --in_flight_;
  return resp;
}

bool KeySenderSlot::EnqueueResolution(const kvpb::Transaction& finished,
                                      std::vector<kvpb::Span> spans) {
  absl::MutexLock lock(&mu_);
  if (detached_ || resolver_ == nullptr) return false;
  return resolver_->Enqueue(finished, std::move(spans));
}

void KeySenderSlot::Detach() {
  std::unique_ptr<IntentResolver> resolver;
  {
    absl::MutexLock lock(&mu_);
    detached_ = true;
    resolver = std::move(resolver_);
  }
  // Joins the worker outside mu_: its Send in flight needs mu_ to finish.
  resolver.reset();
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&idle));
  sender_ = nullptr;  // drops what the sender captured, before its owner goes
}

}  // namespace rangedb::ranges
