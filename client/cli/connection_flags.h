// The flags with which every client command reaches a cluster — `--host` (a list of
// node addresses, by default kDefaultNodeAddress) and `--timeout` — declared once,
// here, for `rangedb kv`, `init`, `node status`, `workload`, ... Flags that will join
// them (TLS certificates) go here too, so every client command gets them at once.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/default_address.h"
#include "client/kv_client.h"
#include "grpcpp/security/credentials.h"

namespace rangedb {

// The flags as typed. A command that waits longer by nature (init) sets another
// timeout before AddConnectionFlags, which shows it as the default.
struct ConnectionFlags {
  std::string hosts = kDefaultNodeAddress;  // --host: comma separated
  std::string timeout = "10s";              // --timeout: an absl duration
};

// The flags parsed.
struct Connection {
  std::vector<std::string> hosts;  // at least one, each host:port
  absl::Duration timeout;          // positive

  // The client library's options for these hosts and this timeout.
  client::KvClientOptions ClientOptions() const;
  // Credentials of a channel to one of the hosts (insecure until TLS).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
};

// Adds --host and --timeout to command, bound to flags (which must outlive it).
void AddConnectionFlags(CLI::App* command, ConnectionFlags* flags);

// Parses the flags: InvalidArgument, naming the flag, for an empty host list, a host
// that is not host:port with a port in 1..65535, or a timeout that is not a positive
// duration.
[[nodiscard]] absl::StatusOr<Connection> ParseConnectionFlags(const ConnectionFlags& flags);

}  // namespace rangedb
