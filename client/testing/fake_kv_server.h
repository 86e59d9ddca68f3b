// FakeKvServer: an in-process KV gRPC service over a std::map, for testing the
// client, the `rangedb kv` commands and the workload without a cluster.
//
// It serves proto/kv.proto's Batch with a single node's semantics (no ranges, no
// replication), deduplicates writes by idempotency key like a real leaseholder
// (a duplicate gets the recorded response), and can inject faults that a client
// must survive: errors before or after applying, ambiguous errors, and hangs.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/kv.grpc.pb.h"

namespace rangedb::client {

class FakeKvServer {
 public:
  enum class Fault {
    kNone,
    // Return gRPC UNAVAILABLE without applying anything.
    kUnavailableBeforeApply,
    // Apply the batch (and record it for dedup), then return gRPC UNAVAILABLE: the
    // response is lost, as when a connection breaks after the server committed.
    kUnavailableAfterApply,
    // Apply the batch, then answer with an Error carrying the ambiguous detail.
    kAmbiguousAfterApply,
    // Never answer: hold the call until the caller's deadline passes.
    kHang,
    // Apply nothing; answer with a plain server error (RESOURCE_EXHAUSTED, as a
    // leaseholder out of latch capacity would).
    kErrorBeforeApply,
    // The same error marked as a leaseholder's evaluation of the write (it found no
    // record of the key: Error.write_evaluated).
    kEvaluatedErrorBeforeApply,
  };

  // Starts on 127.0.0.1 with a kernel-chosen port. max_page_rows caps every Scan
  // page (0: no cap beyond the request's max_keys).
  static absl::StatusOr<std::unique_ptr<FakeKvServer>> Start(int64_t max_page_rows = 0);
  ~FakeKvServer();  // shuts the server down, releasing hung calls

  // "127.0.0.1:PORT".
  std::string address() const;

  // The next `count` batches (-1: all from now on) get `fault`.
  void SetFault(Fault fault, int count = -1);
  // The next batches get these faults, one each in order (before SetFault's).
  void QueueFaults(std::vector<Fault> faults);

  // Direct access to the store, bypassing RPCs.
  void SetValue(const std::string& key, const std::string& value);
  std::map<std::string, std::string> Snapshot() const;

  int64_t batches_received() const;
  // Write batches actually applied (duplicates excluded).
  int64_t writes_applied() const;
  // The idempotency key of every write batch received, in arrival order.
  std::vector<kvpb::IdempotencyKey> write_keys() const;

 private:
  class Service;
  FakeKvServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace rangedb::client
