// GossipStore: the replicated map of infos behind gossip. Each node keeps one; a
// gossip round sends Infos() to a peer and Merge()s what the peer sends back, so
// every store converges to the newest info per key (docs/node.md).
//
// An info (nodepb::GossipInfo) is a key, a value, the version its origin assigned, the
// origin node id and an optional expiry. Ordering rule, per key: the info with the
// higher (version, origin_node_id) wins. A version is max(now_ns of the write, the
// version it replaces + 1); the node passes its HLC's wall time as now_ns, so its
// versions never go back within a process life (also when the wall clock steps back)
// and order causally across nodes (first-range, written by successive leaseholders).
// Merge is commutative, associative and idempotent over the live infos, which is what
// makes any gossip order converge.
//
// Restarts (refutation): a restarted node's clock may be behind the versions it issued
// in its previous life, still held by its peers. When Merge brings back an info of
// this node's own origin that is newer than the value this node wrote in this life
// (AddLocal), the stored value wins: it is re-versioned just above the old one and
// goes out with the next gossip, instead of being overwritten by the old record.
// So a node's current address or liveness wins after one exchange each way, however
// far its clock stepped back.
//
// Expiry: an info with expires_unix_ns != 0 is dead from that time on. Dead infos are
// never returned, never accepted from a peer, and are purged lazily (PurgeExpired, or
// when the store is full).
//
// Bounds: at most max_infos infos, keys of at most max_key_bytes, values of at most
// max_value_bytes, at most max_callbacks callbacks. Peer input is untrusted: an info
// that breaks a bound is rejected with an error and the rest of the batch still
// applies; nothing a peer sends can crash the node.
//
// Callbacks: RegisterCallback(prefix, fn) calls fn(key, value) for every key with that
// prefix whose info changes (local adds and merges), once per change, in the order of
// the changes, outside the store mutex. Writers are serialized, so callbacks for
// successive writes never interleave and a callback sees the store as of its write.
//
// Thread safety: safe for concurrent use. Lock order: write_mu_ < mu_. Callbacks run
// under write_mu_ only: they may call the read methods (Get, GetPrefix, Infos) but
// REQUIRES: a callback does not call AddLocal, Merge, PurgeExpired or RegisterCallback
// (self-deadlock) and returns quickly (it delays gossip).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/node.pb.h"

namespace rangedb {

struct GossipStoreOptions {
  size_t max_infos = 10'000;
  size_t max_key_bytes = 1024;
  size_t max_value_bytes = 64 * 1024;
  size_t max_callbacks = 256;
};

// What one Merge did.
struct GossipMergeResult {
  // Keys whose info was added or replaced, in input order, each once.
  std::vector<std::string> changed_keys;
  // Infos rejected for breaking a bound or being malformed (not counting infos that
  // were merely older or expired).
  size_t rejected = 0;
  // OK, or the reason for the first rejection (with the key and the bound).
  absl::Status status;
};

class GossipStore {
 public:
  using Callback = std::function<void(std::string_view key, std::string_view value)>;

  // The largest valid version (exclusive) and expiry. Versions are HLC nanoseconds
  // (about 1.8e18 in 2027; this bound is in the year 2116), so real ones never come
  // near it, and successors (version + 1, refutation) never overflow.
  static constexpr int64_t kVersionMax = std::numeric_limits<int64_t>::max() / 2;
  // Infos merged from peers must leave this much room below kVersionMax, so that
  // this node can always write past one of its own keys (refutation, then one
  // version per later write) without reaching the bound. Still far above any real
  // HLC (this bound is in the year 2079).
  static constexpr int64_t kMergedVersionMax = kVersionMax - (int64_t{1} << 60);

  // node_id: this node, the origin of its AddLocal infos.
  explicit GossipStore(uint64_t node_id, GossipStoreOptions options = {});
  GossipStore(const GossipStore&) = delete;
  GossipStore& operator=(const GossipStore&) = delete;

  // Sets key to value as an info originating here, with version
  // max(now_ns, previous version of key + 1), and marks the key as written in this
  // life (see Restarts above). ttl_ns = 0: never expires; otherwise it
  // expires at now_ns + ttl_ns (capped at kVersionMax - 1). Errors: InvalidArgument for an empty or
  // oversized key or value or a negative ttl; ResourceExhausted when the store is full of other
  // keys.
  [[nodiscard]] absl::Status AddLocal(std::string_view key, std::string_view value, int64_t now_ns,
                                      int64_t ttl_ns = 0);

  // Merges infos received from a peer (see the ordering rule above). Expired and
  // older infos are skipped silently; invalid ones are rejected and counted; this
  // node's own older-life infos are refuted (see Restarts above).
  [[nodiscard]] GossipMergeResult Merge(const std::vector<nodepb::GossipInfo>& infos,
                                        int64_t now_ns);

  // Every live info, sorted by key: what to send to a peer.
  std::vector<nodepb::GossipInfo> Infos(int64_t now_ns) const;
  // The live info for key, if any.
  std::optional<nodepb::GossipInfo> Get(std::string_view key, int64_t now_ns) const;
  // Every live info whose key starts with prefix, sorted by key.
  std::vector<nodepb::GossipInfo> GetPrefix(std::string_view prefix, int64_t now_ns) const;

  // Subscribes fn to changes of keys starting with prefix ("" for all). fn is first
  // called for every live matching info already present, so the subscriber misses
  // nothing. Errors: ResourceExhausted beyond max_callbacks.
  [[nodiscard]] absl::Status RegisterCallback(std::string_view prefix, Callback fn, int64_t now_ns);

  // Drops expired infos; returns how many.
  size_t PurgeExpired(int64_t now_ns);

  // Infos held, including expired ones not yet purged.
  size_t size() const;
  uint64_t node_id() const { return node_id_; }

 private:
  struct Subscription {
    std::string prefix;
    std::shared_ptr<const Callback> fn;
  };
  struct Change {
    std::string key;
    std::string value;
  };

  // Inserts or replaces key's info, making room by purging expired infos if the store
  // is full. ResourceExhausted if it is still full.
  absl::Status PutLocked(nodepb::GossipInfo info, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK if a peer's info respects the bounds.
  absl::Status ValidateLocked(const nodepb::GossipInfo& info) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  size_t PurgeExpiredLocked(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the matching callbacks for each change, in order, without mu_.
  void Notify(const std::vector<Change>& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);

  static bool IsLive(const nodepb::GossipInfo& info, int64_t now_ns) {
    return info.expires_unix_ns() == 0 || info.expires_unix_ns() > now_ns;
  }

  const uint64_t node_id_;
  const GossipStoreOptions options_;
  // Serializes writers and the callbacks they run (see the class comment).
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, nodepb::GossipInfo, std::less<>> infos_ ABSL_GUARDED_BY(mu_);
  std::vector<Subscription> subscriptions_ ABSL_GUARDED_BY(mu_);
  // Keys AddLocal wrote in this process life (at most max_infos).
  std::set<std::string, std::less<>> written_here_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
