// The address a node listens on unless told otherwise, and so where every client
// command looks for one unless told otherwise: `rangedb start --listen-addr`
// (NodeOptions::listen_addr) and the `--host` of every client command
// (client/cli/connection_flags.h). Written once, here, so the two cannot drift apart.
#pragma once

namespace rangedb {

inline constexpr char kDefaultNodeAddress[] = "127.0.0.1:26257";

}  // namespace rangedb
