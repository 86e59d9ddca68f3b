// The gRPC services a node serves (proto/kv.proto, proto/node.proto): KV (client and
// gateway batches), Internal (Raft streams, gossip, pings, bootstrap, join), Admin
// (init, status, drain) and, only with --testing-faults, Testing (partitions).
#pragma once

#include <memory>
#include <vector>

#include "grpcpp/impl/codegen/service_type.h"

namespace rangedb {

class Node;

std::vector<std::unique_ptr<grpc::Service>> MakeNodeServices(Node* node);

}  // namespace rangedb
