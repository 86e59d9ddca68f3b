// --host and --timeout of every client command (client/cli/connection_flags.h).
#include "client/cli/connection_flags.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/security/credentials.h"

namespace rangedb {

client::KvClientOptions Connection::ClientOptions() const {
  client::KvClientOptions options;
  options.hosts = hosts;
  options.timeout = timeout;
  return options;
}

std::shared_ptr<grpc::ChannelCredentials> Connection::ChannelCredentials() const {
  return grpc::InsecureChannelCredentials();
}

void AddConnectionFlags(CLI::App* command, ConnectionFlags* flags) {
  command
      ->add_option("--host", flags->hosts,
                   "Node addresses, host:port, comma separated; any live one serves")
      ->capture_default_str();
  command
      ->add_option("--timeout", flags->timeout,
                   "How long to wait for the cluster: the budget of each request, retries "
                   "included (e.g. 10s, 500ms)")
      ->capture_default_str();
}

absl::StatusOr<Connection> ParseConnectionFlags(const ConnectionFlags& flags) {
  Connection connection;
  connection.hosts = absl::StrSplit(flags.hosts, ',', absl::SkipWhitespace());
  if (connection.hosts.empty()) return absl::InvalidArgumentError("--host: no address given");
  for (const std::string& host : connection.hosts) {
    if (absl::Status valid = client::ValidateHostAddress(host); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--host: ", valid.message()));
    }
  }
  if (!absl::ParseDuration(flags.timeout, &connection.timeout) ||
      connection.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout \"", flags.timeout, "\" is not a positive duration (e.g. 10s)"));
  }
  return connection;
}

}  // namespace rangedb
