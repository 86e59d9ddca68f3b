#include "node/gossip_store.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

// The ordering rule: higher version wins, ties go to the higher origin.
bool Newer(const nodepb::GossipInfo& a, const nodepb::GossipInfo& b) {
  return std::make_tuple(a.version(), a.origin_node_id()) >
         std::make_tuple(b.version(), b.origin_node_id());
}

// A key for an error message: quoted, escaped (peer keys are untrusted bytes) and cut
// to a readable length.
std::string QuotedKey(std::string_view key) {
  constexpr size_t kShownBytesMax = 128;
  std::string_view shown = key.substr(0, kShownBytesMax);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                      key.size() > kShownBytesMax ? "...\"" : "\"");
}

}  // namespace

GossipStore::GossipStore(uint64_t node_id, GossipStoreOptions options)
    : node_id_(node_id), options_(options) {}

absl::Status GossipStore::ValidateLocked(const nodepb::GossipInfo& info) const {
  if (info.key().empty()) return absl::InvalidArgumentError("gossip info with an empty key");
  if (info.key().size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("gossip key ", QuotedKey(info.key()), " of ", info.key().size(),
                     " bytes exceeds the limit of ", options_.max_key_bytes));
  }
  if (info.value().size() > options_.max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("gossip value for key ", QuotedKey(info.key()), " of ", info.value().size(),
                     " bytes exceeds the limit of ", options_.max_value_bytes));
  }
  // Versions keep headroom below the largest int64 so that a successor always
  // exists and + 1 never overflows (kVersionMax).
  if (info.version() < 0 || info.version() >= kVersionMax || info.expires_unix_ns() < 0 ||
      info.expires_unix_ns() >= kVersionMax) {
    return absl::InvalidArgumentError(absl::StrCat("gossip info for key ", QuotedKey(info.key()),
                                                   " with an invalid version ", info.version(),
                                                   " or expiry ", info.expires_unix_ns()));
  }
  return absl::OkStatus();
}

size_t GossipStore::PurgeExpiredLocked(int64_t now_ns) {
  return std::erase_if(infos_,
                       [now_ns](const auto& entry) { return !IsLive(entry.second, now_ns); });
}

absl::Status GossipStore::PutLocked(nodepb::GossipInfo info, int64_t now_ns) {
  auto it = infos_.find(info.key());
  if (it != infos_.end()) {
    it->second = std::move(info);
    return absl::OkStatus();
  }
  if (infos_.size() >= options_.max_infos) PurgeExpiredLocked(now_ns);
  if (infos_.size() >= options_.max_infos) {
    return absl::ResourceExhaustedError(absl::StrCat("gossip store full (", options_.max_infos,
                                                     " infos); rejected key ",
                                                     QuotedKey(info.key())));
  }
  std::string key = info.key();
  infos_.emplace(std::move(key), std::move(info));
  return absl::OkStatus();
}

absl::Status GossipStore::AddLocal(std::string_view key, std::string_view value, int64_t now_ns,
                                   int64_t ttl_ns) {
  if (ttl_ns < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative gossip ttl for key ", QuotedKey(key)));
  }
  absl::MutexLock write_lock(&write_mu_);
  {
    absl::MutexLock lock(&mu_);
    nodepb::GossipInfo info;
    info.set_key(std::string(key));
    info.set_value(std::string(value));
    info.set_origin_node_id(node_id_);
    // Saturating: a TTL that runs past the bound means "practically never".
    info.set_expires_unix_ns(ttl_ns == 0                          ? 0
                             : ttl_ns >= kVersionMax - 1 - now_ns ? kVersionMax - 1
                                                                  : now_ns + ttl_ns);
    int64_t version = now_ns;
    if (auto it = infos_.find(key); it != infos_.end()) {
      version = std::max(version, it->second.version() + 1);
    }
    info.set_version(version);
    if (absl::Status status = ValidateLocked(info); !status.ok()) return status;
    if (absl::Status status = PutLocked(std::move(info), now_ns); !status.ok()) return status;
    if (written_here_.size() < options_.max_infos) written_here_.emplace(key);
  }
  Notify({Change{std::string(key), std::string(value)}});
  return absl::OkStatus();
}

GossipMergeResult GossipStore::Merge(const std::vector<nodepb::GossipInfo>& infos, int64_t now_ns) {
  GossipMergeResult result;
  std::vector<Change> changes;
  absl::MutexLock write_lock(&write_mu_);
  {
    absl::MutexLock lock(&mu_);
    std::set<std::string_view> changed;  // views into `infos`, which outlives the set
    for (const nodepb::GossipInfo& info : infos) {
      absl::Status status = ValidateLocked(info);
      if (status.ok() && info.version() >= kMergedVersionMax) {
        // Accepted, such a version of one of this node's own keys would leave no
        // successor to refute it with: the node could never update that key again.
        status = absl::InvalidArgumentError(
            absl::StrCat("gossip info for key ", QuotedKey(info.key()), " with version ",
                         info.version(), ", beyond what peers may send (", kMergedVersionMax, ")"));
      }
      if (status.ok() && !IsLive(info, now_ns)) continue;
      if (status.ok()) {
        auto it = infos_.find(info.key());
        if (it != infos_.end() && IsLive(it->second, now_ns) && !Newer(info, it->second)) {
          continue;
        }
        if (it != infos_.end() && IsLive(it->second, now_ns) && info.origin_node_id() == node_id_ &&
            it->second.origin_node_id() == node_id_ && written_here_.contains(info.key())) {
          // This node's own record from before a restart, newer only by the clock it
          // had then: the value written in this life wins (see Restarts).
          it->second.set_version(info.version() + 1);
          continue;
        }
        status = PutLocked(info, now_ns);
      }
      if (!status.ok()) {
        if (result.status.ok()) result.status = std::move(status);
        ++result.rejected;
        continue;
      }
      changes.push_back(Change{info.key(), info.value()});
      if (changed.insert(info.key()).second) result.changed_keys.push_back(info.key());
    }
  }
  if (result.rejected > 1) {
    result.status = absl::Status(
        result.status.code(), absl::StrCat(result.status.message(), " (and ", result.rejected - 1,
                                           " more rejected infos)"));
  }
  Notify(changes);
  return result;
}

void GossipStore::Notify(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::vector<Subscription> subscriptions;
  {
    absl::MutexLock lock(&mu_);
    subscriptions = subscriptions_;
  }
  for (const Change& change : changes) {
    for (const Subscription& subscription : subscriptions) {
      if (change.key.starts_with(subscription.prefix)) (*subscription.fn)(change.key, change.value);
    }
  }
}

absl::Status GossipStore::RegisterCallback(std::string_view prefix, Callback fn, int64_t now_ns) {
  absl::MutexLock write_lock(&write_mu_);
  auto shared_fn = std::make_shared<const Callback>(std::move(fn));
  std::vector<nodepb::GossipInfo> existing;
  {
    absl::MutexLock lock(&mu_);
    if (subscriptions_.size() >= options_.max_callbacks) {
      return absl::ResourceExhaustedError(
          absl::StrCat("gossip store already has ", options_.max_callbacks,
                       " callbacks; rejected prefix ", QuotedKey(prefix)));
    }
    subscriptions_.push_back(Subscription{std::string(prefix), shared_fn});
  }
  // Holding write_mu_ keeps writers out, so no change slips between this replay and
  // the first notification.
  for (const nodepb::GossipInfo& info : GetPrefix(prefix, now_ns)) {
    (*shared_fn)(info.key(), info.value());
  }
  return absl::OkStatus();
}

std::vector<nodepb::GossipInfo> GossipStore::Infos(int64_t now_ns) const {
  return GetPrefix("", now_ns);
}

std::optional<nodepb::GossipInfo> GossipStore::Get(std::string_view key, int64_t now_ns) const {
  absl::MutexLock lock(&mu_);
  auto it = infos_.find(key);
  if (it == infos_.end() || !IsLive(it->second, now_ns)) return std::nullopt;
  return it->second;
}

std::vector<nodepb::GossipInfo> GossipStore::GetPrefix(std::string_view prefix,
                                                       int64_t now_ns) const {
  absl::MutexLock lock(&mu_);
  std::vector<nodepb::GossipInfo> out;
  for (auto it = infos_.lower_bound(prefix);
       it != infos_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (IsLive(it->second, now_ns)) out.push_back(it->second);
  }
  return out;
}

size_t GossipStore::PurgeExpired(int64_t now_ns) {
  absl::MutexLock write_lock(&write_mu_);
  absl::MutexLock lock(&mu_);
  return PurgeExpiredLocked(now_ns);
}

size_t GossipStore::size() const {
  absl::MutexLock lock(&mu_);
  return infos_.size();
}

}  // namespace rangedb
