// ThreadSanitizer builds only (scripts/test.sh tsan): teaches TSan what Abseil's
// synchronization primitives do.
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread, so TSan
// cannot see that absl::Mutex::Unlock in one thread happens before absl::Mutex::Lock
// in another (the handoff is done with atomics inside the uninstrumented library),
// and would report every field guarded by an absl::Mutex as a race. This file
// interposes the library's exported entry points (an executable's definitions take
// precedence over a shared library's), calls the real ones through dlsym(RTLD_NEXT),
// and adds the happens-before edges with TSan's annotation interface:
//   - release on the mutex before every unlock (and before a wait that unlocks),
//   - acquire on the mutex after every lock (and after a wait that relocks);
//   - release / acquire on a Notification for Notify / the waits.
// The annotations can only add edges that the real primitives provide, so they hide
// no real race of our code; they remove the false ones.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan annotations: %s not found in Abseil\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// The mangled names of the real functions, for dlsym.
#define ABSL_NS "N4absl7debian3"
using MutexFn = void (*)(absl::Mutex*);
using MutexBoolFn = bool (*)(absl::Mutex*);
using MutexCondFn = void (*)(absl::Mutex*, const absl::Condition&);
using MutexCondTimeoutFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using MutexCondDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using CondVarWaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using CondVarTimeoutFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using CondVarDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);
using NotifyFn = void (*)(absl::Notification*);
using WaitFn = void (*)(const absl::Notification*);
using WaitTimeoutFn = bool (*)(const absl::Notification*, absl::Duration);
using WaitDeadlineFn = bool (*)(const absl::Notification*, absl::Time);

}  // namespace

namespace absl {
inline namespace debian3 {

void Mutex::Lock() {
  static const MutexFn real = Real<MutexFn>("_Z" ABSL_NS "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static const MutexFn real = Real<MutexFn>("_Z" ABSL_NS "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static const MutexBoolFn real = Real<MutexBoolFn>("_Z" ABSL_NS "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const MutexBoolFn real = Real<MutexBoolFn>("_Z" ABSL_NS "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static const MutexFn real = Real<MutexFn>("_Z" ABSL_NS "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static const MutexFn real = Real<MutexFn>("_Z" ABSL_NS "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const MutexCondFn real =
      Real<MutexCondFn>("_Z" ABSL_NS "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const MutexCondTimeoutFn real = Real<MutexCondTimeoutFn>(
      "_Z" ABSL_NS "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const MutexCondDeadlineFn real = Real<MutexCondDeadlineFn>(
      "_Z" ABSL_NS "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const MutexCondFn real = Real<MutexCondFn>("_Z" ABSL_NS "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const MutexCondTimeoutFn real = Real<MutexCondTimeoutFn>(
      "_Z" ABSL_NS "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const MutexCondDeadlineFn real = Real<MutexCondDeadlineFn>(
      "_Z" ABSL_NS "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const CondVarWaitFn real = Real<CondVarWaitFn>("_Z" ABSL_NS "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const CondVarTimeoutFn real =
      Real<CondVarTimeoutFn>("_Z" ABSL_NS "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const CondVarDeadlineFn real =
      Real<CondVarDeadlineFn>("_Z" ABSL_NS "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

// HasBeenNotified() is inline: an (instrumented) acquire load of the flag that
// follows the Mutex in Notification. Releasing on the flag's address too gives that
// load its edge.
void* NotifiedFlag(const Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n)) + sizeof(Mutex);
}

void Notification::Notify() {
  static const NotifyFn real = Real<NotifyFn>("_Z" ABSL_NS "12Notification6NotifyEv");
  __tsan_release(this);
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  static const WaitFn real = Real<WaitFn>("_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const WaitTimeoutFn real = Real<WaitTimeoutFn>(
      "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const WaitDeadlineFn real = Real<WaitDeadlineFn>(
      "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

}  // namespace debian3
}  // namespace absl
