// NodeDialer: gRPC channels to other nodes, one per address, made on first use and
// shared by every caller (the gateway's KV batches, gossip, pings, bootstrap).
// Addresses of node ids are learned from gossip (SetAddress).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"

namespace rangedb {

class NodeDialer {
 public:
  void SetAddress(uint64_t node_id, const std::string& address);
  // The known address of node_id, or "" when unknown.
  std::string AddressOf(uint64_t node_id) const;
  std::map<uint64_t, std::string> Addresses() const;
  // The shared channel to address (created lazily; never null).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address);

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, std::string> addresses_ ABSL_GUARDED_BY(mu_);
  // Bounded by the number of distinct peer addresses (cluster size).
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
