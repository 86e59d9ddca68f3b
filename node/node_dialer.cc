#include "node/node_dialer.h"

#include "base/limits.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace rangedb {

void NodeDialer::SetAddress(uint64_t node_id, const std::string& address) {
  absl::MutexLock lock(&mu_);
  addresses_[node_id] = address;
}

std::string NodeDialer::AddressOf(uint64_t node_id) const {
  absl::MutexLock lock(&mu_);
  auto it = addresses_.find(node_id);
  return it == addresses_.end() ? "" : it->second;
}

std::map<uint64_t, std::string> NodeDialer::Addresses() const {
  absl::MutexLock lock(&mu_);
  return addresses_;
}

std::shared_ptr<grpc::Channel> NodeDialer::Channel(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& ch = channels_[address];
  if (ch == nullptr) {
    grpc::ChannelArguments args;
    // Reconnect quickly after a peer restarts; gRPC's own backoff is jittered.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    // KV batches between a gateway and a leaseholder, both ways (base/limits.h).
    args.SetMaxReceiveMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
    args.SetMaxSendMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
    ch = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return ch;
}

}  // namespace rangedb
