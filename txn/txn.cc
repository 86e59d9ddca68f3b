#include "txn/txn.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "base/random.h"
#include "base/request_limits.h"
#include "txn/span_condense.h"

namespace rangedb::txn {
namespace {

// Marks a status as "run the transaction again" (IsRetryable).
constexpr char kRetryablePayloadUrl[] = "rangedb.dev/txn-retryable";
// Uncertainty restarts of one read before giving up (each moves the read up).
constexpr int kMaxUncertaintyRefreshes = 5;
// Refreshes one ConditionalPut may make to move its snapshot above a newer version
// (WRITE_TOO_OLD) before giving up with a retryable error.
constexpr int kMaxWriteTooOldRefreshes = 5;
// Refresh spans per batch.
constexpr int kRefreshBatchSpans = 100;

absl::Status Retryable(absl::string_view message) {
  absl::Status s = absl::AbortedError(absl::StrCat("restart transaction: ", message));
  s.SetPayload(kRetryablePayloadUrl, absl::Cord(""));
  return s;
}

const char* ReasonName(kvpb::TransactionRetryError::Reason reason) {
  switch (reason) {
    case kvpb::TransactionRetryError::SERIALIZATION:
      return "serialization failure";
    case kvpb::TransactionRetryError::UNCERTAINTY:
      return "read within uncertainty interval";
    case kvpb::TransactionRetryError::WRITE_TOO_OLD:
      return "write too old";
    case kvpb::TransactionRetryError::PUSHED:
      return "timestamp pushed";
    case kvpb::TransactionRetryError::DEADLOCK:
      return "deadlock";
    case kvpb::TransactionRetryError::GC_THRESHOLD:
      return "timestamp below the GC threshold";
    default:
      return "retry";
  }
}

// The status for a server's error in this transaction.
// Whether a batch lays intents (a transaction's writes; EndTxn resolves them).
bool LaysIntents(const kvpb::BatchRequest& batch) {
  for (const kvpb::RequestUnion& r : batch.requests()) {
    if (r.has_put() || r.has_conditional_put() || r.has_delete_() || r.has_delete_range() ||
        r.has_increment()) {
      return true;
    }
  }
  return false;
}

absl::Status StatusOfError(const kvpb::Error& error) {
  if (error.has_retry()) {
    return Retryable(absl::StrCat(ReasonName(error.retry().reason()), ": ", error.message()));
  }
  if (error.has_aborted()) return Retryable(absl::StrCat("aborted: ", error.message()));
  return kv::ErrorToStatus(error);
}

Timestamp Ts(const proto::Timestamp& p) { return Timestamp{p.wall_time_ns(), p.logical()}; }
void SetTs(Timestamp ts, proto::Timestamp* out) {
  out->set_wall_time_ns(ts.wall_ns);
  out->set_logical(ts.logical);
}

kvpb::Span MakeSpan(absl::string_view key, absl::string_view end) {
  kvpb::Span s;
  s.set_key(std::string(key));
  s.set_end_key(std::string(end));
  return s;
}

}  // namespace

bool IsRetryable(const absl::Status& status) {
  return status.GetPayload(kRetryablePayloadUrl).has_value();
}

Txn::Txn(Sender* sender, TxnOptions options)
    : sender_(sender),
      options_(std::move(options)),
      heartbeater_(options_.heartbeater != nullptr ? options_.heartbeater
                                                   : Heartbeater::Default()) {
  proto_.set_id(RandomBytes(16));
  proto_.set_priority(static_cast<int32_t>(options_.priority));
}

Txn::~Txn() {
  if (state_ == State::kOpen) Abandon();
  StopHeartbeat();
}

absl::Status Txn::CheckOpen() const {
  switch (state_) {
    case State::kOpen:
      return absl::OkStatus();
    case State::kCommitted:
      return absl::FailedPreconditionError("the transaction has committed");
    case State::kAborted:
      break;
  }
  return absl::FailedPreconditionError("the transaction has finished (rolled back or failed)");
}

absl::StatusOr<kvpb::BatchResponse> Txn::Send(kvpb::BatchRequest batch, bool keep_open,
                                              bool errors_in_response) {
  if (HeartbeatFoundAborted()) {
    Abandon();
    return Retryable("aborted: the heartbeat found the transaction record aborted");
  }
  if (started_at_ns_ < 0) started_at_ns_ = NowNanos();
  if (LaysIntents(batch)) {
    if (absl::Status s = KeepAliveBeforeIntents(); !s.ok()) {
      Abandon();
      return s;
    }
  }
  *batch.mutable_header()->mutable_txn() = proto_;
  absl::StatusOr<kvpb::BatchResponse> resp = sender_->Send(std::move(batch));
  if (!resp.ok()) {
    if (!keep_open) Abandon();
    return resp.status();
  }
  if (resp->has_txn()) {
    const kvpb::Transaction& t = resp->txn();
    if (!proto_.has_read_timestamp()) {  // the first request: the gateway chose these
      *proto_.mutable_read_timestamp() = t.read_timestamp();
      *proto_.mutable_uncertainty_limit() = t.uncertainty_limit();
      *proto_.mutable_start_timestamp() = t.start_timestamp();
    }
    if (Ts(t.write_timestamp()) > Ts(proto_.write_timestamp())) {
      *proto_.mutable_write_timestamp() = t.write_timestamp();
    }
  }
  PublishToHeartbeat();
  if (resp->has_error() && !errors_in_response) {
    absl::Status s = StatusOfError(resp->error());
    if (!keep_open) Abandon();
    return s;
  }
  return resp;
}

absl::StatusOr<kvpb::BatchResponse> Txn::SendRead(const kvpb::RequestUnion& read) {
  return SendReads({read}, nullptr);
}

absl::StatusOr<kvpb::BatchResponse> Txn::SendReads(const std::vector<kvpb::RequestUnion>& reads,
                                                   bool* over_budget) {
  // Bounded: each round refreshes above one uncertain value, or fails.
  for (int round = 0;; ++round) {
    kvpb::BatchRequest batch;
    for (const kvpb::RequestUnion& read : reads) *batch.add_requests() = read;
    absl::StatusOr<kvpb::BatchResponse> resp =
        Send(std::move(batch), /*keep_open=*/true, /*errors_in_response=*/true);
    if (!resp.ok()) {
      Abandon();
      return resp.status();
    }
    if (!resp->has_error()) return resp;
    const kvpb::Error& error = resp->error();
    if (over_budget != nullptr && reads.size() > 1 && error.over_response_budget()) {
      *over_budget = true;  // nothing was read: the whole batch was refused
      return kv::ErrorToStatus(error);
    }
    const bool uncertain =
        error.has_retry() && error.retry().reason() == kvpb::TransactionRetryError::UNCERTAINTY;
    // Each round moves above one uncertain value: a batch of n reads gets the rounds
    // n single reads would (each answer names one value, and the read timestamp only
    // rises, so this stays bounded).
    if (!uncertain || round >= kMaxUncertaintyRefreshes * static_cast<int>(reads.size())) {
      Abandon();
      return StatusOfError(error);
    }
    // A value written (maybe) before we started, above our read timestamp: read
    // above it, if nothing we already read changed in between.
    const Timestamp to =
        std::max(Ts(error.retry().existing_timestamp()).Next(), Ts(proto_.write_timestamp()));
    if (absl::Status s = Refresh(to); !s.ok()) {
      Abandon();
      return s;
    }
  }
}

absl::StatusOr<std::optional<std::string>> Txn::Get(absl::string_view key) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckBound("the key", key); !s.ok()) return s;
  if (auto it = buffer_.find(std::string(key)); it != buffer_.end()) return it->second;
  kvpb::RequestUnion r;
  r.mutable_get()->set_key(std::string(key));
  absl::StatusOr<kvpb::BatchResponse> resp = SendRead(r);
  if (!resp.ok()) return resp.status();
  NoteRead(key);
  const kvpb::GetResponse& got = resp->responses(0).get();
  if (!got.found()) return std::optional<std::string>();
  return std::optional<std::string>(got.value());
}

absl::StatusOr<std::vector<std::optional<std::string>>> Txn::GetMany(
    absl::Span<const std::string> keys) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  std::vector<std::optional<std::string>> values(keys.size());
  std::vector<std::string> unbuffered;
  std::vector<size_t> positions;  // of unbuffered in keys
  for (size_t i = 0; i < keys.size(); ++i) {
    if (absl::Status s = CheckBound("the key", keys[i]); !s.ok()) return s;
    if (auto it = buffer_.find(keys[i]); it != buffer_.end()) {
      values[i] = it->second;
      continue;
    }
    unbuffered.push_back(keys[i]);
    positions.push_back(i);
  }
  for (size_t first = 0; first < unbuffered.size(); first += kGetManyBatchKeys) {
    const size_t n = std::min(kGetManyBatchKeys, unbuffered.size() - first);
    std::vector<std::string> chunk(unbuffered.begin() + first, unbuffered.begin() + first + n);
    std::vector<std::optional<std::string>> got;
    if (absl::Status s = GetUnbuffered(chunk, &got); !s.ok()) return s;
    for (size_t j = 0; j < n; ++j) values[positions[first + j]] = std::move(got[j]);
  }
  return values;
}

absl::Status Txn::GetUnbuffered(const std::vector<std::string>& keys,
                                std::vector<std::optional<std::string>>* values) {
  std::vector<kvpb::RequestUnion> reads(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) reads[i].mutable_get()->set_key(keys[i]);
  bool over_budget = false;
  absl::StatusOr<kvpb::BatchResponse> resp = SendReads(reads, &over_budget);
  if (over_budget) {
    // Large values: halves, down to single Gets if need be (bounded: log2 of n).
    const size_t half = keys.size() / 2;
    std::vector<std::string> low(keys.begin(), keys.begin() + half);
    std::vector<std::string> high(keys.begin() + half, keys.end());
    std::vector<std::optional<std::string>> high_values;
    if (absl::Status s = GetUnbuffered(low, values); !s.ok()) return s;
    if (absl::Status s = GetUnbuffered(high, &high_values); !s.ok()) return s;
    for (auto& v : high_values) values->push_back(std::move(v));
    return absl::OkStatus();
  }
  if (!resp.ok()) return resp.status();
  if (resp->responses_size() != static_cast<int>(keys.size())) {
    Abandon();
    return absl::InternalError(absl::StrCat("a batch of ", keys.size(), " Gets got ",
                                            resp->responses_size(), " responses"));
  }
  values->clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    NoteRead(keys[i]);
    const kvpb::GetResponse& got = resp->responses(static_cast<int>(i)).get();
    values->push_back(got.found() ? std::optional<std::string>(got.value()) : std::nullopt);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<kv::KeyValue>> Txn::Scan(absl::string_view start, absl::string_view end,
                                                    int64_t limit) {
  return ScanImpl(start, end, limit, /*reverse=*/false);
}

absl::StatusOr<std::vector<kv::KeyValue>> Txn::ReverseScan(absl::string_view start,
                                                           absl::string_view end, int64_t limit) {
  return ScanImpl(start, end, limit, /*reverse=*/true);
}

absl::StatusOr<std::vector<kv::KeyValue>> Txn::ScanImpl(absl::string_view start,
                                                        absl::string_view end, int64_t limit,
                                                        bool reverse) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (start >= end) return absl::InvalidArgumentError("scan start must be before its end");
  if (absl::Status s = CheckBound("the scan's start key", start); !s.ok()) return s;
  if (absl::Status s = CheckBound("the scan's end key", end); !s.ok()) return s;
  // The scan must see our buffered writes: lay them down first.
  if (BufferOverlaps(start, end)) {
    if (absl::Status s = Flush(); !s.ok()) return s;
  }
  std::vector<kv::KeyValue> rows;
  std::string lo(start), hi(end);
  // Bounded: every page either ends the scan or moves lo / hi past its rows.
  for (;;) {
    kvpb::RequestUnion r;
    kvpb::ScanRequest* scan = r.mutable_scan();
    scan->set_start_key(lo);
    scan->set_end_key(hi);
    scan->set_reverse(reverse);
    const int64_t want = limit > 0 ? limit - static_cast<int64_t>(rows.size()) : kv::kScanPageRows;
    scan->set_max_keys(std::min<int64_t>(want, kv::kScanPageRows));
    absl::StatusOr<kvpb::BatchResponse> resp = SendRead(r);
    if (!resp.ok()) return resp.status();
    const kvpb::ScanResponse& page = resp->responses(0).scan();
    for (const kvpb::KeyValue& kv : page.rows()) rows.push_back({kv.key(), kv.value()});
    // A resume key at or past the span's end (a page that filled exactly at the
    // span's last key resumes at that key + '\0') leaves nothing to read.
    const bool span_done =
        !page.has_resume() || (reverse ? page.resume_key() <= lo : page.resume_key() >= hi);
    const bool done = span_done || (limit > 0 && static_cast<int64_t>(rows.size()) >= limit);
    // What was read: up to the resume key; when done, the whole span, or, cut short
    // by the limit, through the last row only (the keys past it were not seen, and
    // a read span over them would make every later write there a conflict).
    if (done) {
      if (!span_done && !rows.empty()) {
        if (reverse) {
          NoteRead(rows.back().key, hi);
        } else {
          NoteRead(lo, rows.back().key + std::string(1, '\0'));
        }
      } else {
        NoteRead(lo, hi);
      }
      return rows;
    }
    if (reverse) {
      NoteRead(page.resume_key(), hi);
      hi = page.resume_key();
    } else {
      NoteRead(lo, page.resume_key());
      lo = page.resume_key();
    }
  }
}

absl::Status Txn::Put(absl::string_view key, absl::string_view value) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckWrite(key, value.size()); !s.ok()) return s;
  return Buffer(key, std::string(value));
}

absl::Status Txn::Delete(absl::string_view key) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckWrite(key, 0); !s.ok()) return s;
  return Buffer(key, std::nullopt);
}

absl::Status Txn::CheckBound(absl::string_view what, absl::string_view key) const {
  return limits::CheckLimit(what, key.size(), limits::kMaxKeyBytes + limits::kKeySlackBytes,
                            "kMaxKeyBytes plus 16 bytes for span bounds");
}

absl::Status Txn::CheckWrite(absl::string_view key, size_t value_bytes) const {
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (absl::Status s =
          limits::CheckLimit("the key", key.size(), limits::kMaxKeyBytes, "kMaxKeyBytes");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          limits::CheckLimit("the value", value_bytes, limits::kMaxValueBytes, "kMaxValueBytes");
      !s.ok()) {
    return s;
  }
  return limits::CheckLimit("the transaction's writes", write_bytes_ + key.size() + value_bytes,
                            options_.max_write_bytes,
                            "kMaxTxnWriteBytes: split the work into smaller transactions");
}

absl::Status Txn::Buffer(absl::string_view key, std::optional<std::string> value) {
  const size_t bytes = key.size() + (value.has_value() ? value->size() : 0);
  // The buffer goes out as one batch (with the commit's EndTxn): flush it first if
  // this write would take it past what one batch may carry.
  auto it = buffer_.find(std::string(key));
  const bool replaces = it != buffer_.end();
  if ((!replaces && buffer_.size() + 1 > MaxBufferedWrites()) ||
      buffer_bytes_ + bytes > limits::kMaxBatchWriteBytes) {
    if (absl::Status s = Flush(); !s.ok()) return s;
    it = buffer_.end();
  }
  if (it != buffer_.end()) {
    buffer_bytes_ -= key.size() + (it->second.has_value() ? it->second->size() : 0);
    it->second = std::move(value);
  } else {
    buffer_.emplace(std::string(key), std::move(value));
  }
  buffer_bytes_ += bytes;
  write_bytes_ += bytes;
  NoteWrite(key);
  return absl::OkStatus();
}

size_t Txn::MaxBufferedWrites() const {
  // One request of the commit batch is the EndTxn.
  return std::min(options_.max_buffered_writes, limits::kMaxBatchRequests - 1);
}

absl::Status Txn::ConditionalPut(absl::string_view key, absl::string_view value,
                                 const std::optional<std::string>& expected) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (absl::Status s = CheckWrite(key, value.size()); !s.ok()) return s;
  if (expected.has_value()) {
    if (absl::Status s = limits::CheckLimit("the expected value", expected->size(),
                                            limits::kMaxValueBytes, "kMaxValueBytes");
        !s.ok()) {
      return s;
    }
  }
  write_bytes_ += key.size() + value.size();
  NoteWrite(key);
  if (absl::Status s = Flush(); !s.ok()) return s;
  kvpb::BatchRequest batch;
  kvpb::ConditionalPutRequest* c = batch.add_requests()->mutable_conditional_put();
  c->set_key(std::string(key));
  c->set_value(std::string(value));
  if (expected.has_value()) {
    c->set_has_expected(true);
    c->set_expected(*expected);
  }
  proto_.set_sequence(proto_.sequence() + 1);
  intents_laid_ = true;  // an attempt whose outcome is unknown may have laid it
  // Bounded: each round moves the snapshot above one newer version, or fails.
  for (int round = 0;; ++round) {
    absl::StatusOr<kvpb::BatchResponse> resp =
        Send(batch, /*keep_open=*/true, /*errors_in_response=*/true);
    if (!resp.ok()) {
      Abandon();
      return resp.status();
    }
    if (!resp->has_error()) {
      NoteRead(key);
      intents_laid_ = true;
      StartHeartbeat();
      return absl::OkStatus();
    }
    const kvpb::Error& error = resp->error();
    absl::Status failed = StatusOfError(error);
    if (kv::IsConditionFailed(failed)) {
      NoteRead(key);  // what it showed is what the snapshot holds: a read
      return failed;  // still usable
    }
    const bool too_old =
        error.has_retry() && error.retry().reason() == kvpb::TransactionRetryError::WRITE_TOO_OLD;
    if (!too_old || round >= kMaxWriteTooOldRefreshes) {
      Abandon();
      return failed;
    }
    // A value committed after our snapshot: read above it, if nothing we already
    // read changed in between, and evaluate the condition again there.
    const Timestamp to =
        std::max(Ts(error.retry().existing_timestamp()).Next(), Ts(proto_.write_timestamp()));
    if (absl::Status s = Refresh(to); !s.ok()) {
      Abandon();
      return s;
    }
  }
}

absl::StatusOr<int64_t> Txn::DeleteRange(absl::string_view start, absl::string_view end,
                                         std::vector<std::string>* deleted_keys) {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (start >= end) return absl::InvalidArgumentError("DeleteRange start must be before its end");
  // The start may become the anchor, a written key; the end only bounds the span.
  if (absl::Status s = limits::CheckLimit("the DeleteRange's start key", start.size(),
                                          limits::kMaxKeyBytes, "kMaxKeyBytes");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBound("the DeleteRange's end key", end); !s.ok()) return s;
  if (absl::Status s =
          limits::CheckLimit("the transaction's writes", write_bytes_ + start.size() + end.size(),
                             options_.max_write_bytes, "kMaxTxnWriteBytes");
      !s.ok()) {
    return s;
  }
  write_bytes_ += start.size() + end.size();
  NoteWrite(start, end);
  if (absl::Status s = Flush(); !s.ok()) return s;
  std::set<std::string> deleted;
  // One request deletes a bounded piece of the span (docs/limits.md) and says where
  // the rest starts. Bounded: every piece deletes at least one key or ends the span
  // (the resume key must move forward, checked below).
  for (std::string from(start);;) {
    absl::StatusOr<std::string> resume = DeleteRangePiece(from, end, &deleted);
    if (!resume.ok()) return resume.status();
    // A piece that filled exactly at the span's last key resumes at that key + '\0',
    // which may be the end itself: nothing is left.
    if (resume->empty() || *resume >= end) break;
    if (*resume <= from) {
      Abandon();
      return absl::InternalError(absl::StrCat("DeleteRange made no progress: resume key \"",
                                              absl::CEscape(*resume), "\" is not after \"",
                                              absl::CEscape(from), "\""));
    }
    from = *std::move(resume);
  }
  if (deleted_keys != nullptr) deleted_keys->assign(deleted.begin(), deleted.end());
  return static_cast<int64_t>(deleted.size());
}

absl::StatusOr<std::string> Txn::DeleteRangePiece(absl::string_view start, absl::string_view end,
                                                  std::set<std::string>* deleted) {
  kvpb::BatchRequest batch;
  kvpb::DeleteRangeRequest* d = batch.add_requests()->mutable_delete_range();
  d->set_start_key(std::string(start));
  d->set_end_key(std::string(end));
  d->set_resumable(true);  // we follow the resume key (DeleteRange above)
  proto_.set_sequence(proto_.sequence() + 1);
  intents_laid_ = true;  // even a failed attempt may have laid some
  // Bounded: each round moves the snapshot above one newer or uncertain version, or
  // fails.
  for (int round = 0;; ++round) {
    absl::StatusOr<kvpb::BatchResponse> resp =
        Send(batch, /*keep_open=*/true, /*errors_in_response=*/true);
    if (!resp.ok()) {
      Abandon();
      return resp.status();
    }
    if (!resp->has_error()) {
      // It deleted what [start, resume) held at the read timestamp: the commit must
      // find that unchanged since then (refresh), or it would delete too little. The
      // rest of the span is read by the pieces that delete it.
      const kvpb::DeleteRangeResponse& piece = resp->responses(0).delete_range();
      NoteRead(start,
               piece.resume_key().empty() || piece.resume_key() >= end ? end : piece.resume_key());
      StartHeartbeat();
      deleted->insert(piece.deleted_keys().begin(), piece.deleted_keys().end());
      return piece.resume_key();
    }
    const kvpb::Error& error = resp->error();
    const bool newer = error.has_retry() &&
                       (error.retry().reason() == kvpb::TransactionRetryError::WRITE_TOO_OLD ||
                        error.retry().reason() == kvpb::TransactionRetryError::UNCERTAINTY);
    if (!newer || round >= kMaxWriteTooOldRefreshes) {
      Abandon();
      return StatusOfError(error);
    }
    // A version in the span newer than our snapshot (or inside our uncertainty
    // interval): read above it, if nothing we already read changed in between, and
    // delete what the span holds there.
    const Timestamp to =
        std::max(Ts(error.retry().existing_timestamp()).Next(), Ts(proto_.write_timestamp()));
    if (absl::Status s = Refresh(to); !s.ok()) {
      Abandon();
      return s;
    }
  }
}

void Txn::AppendBufferedWrites(kvpb::BatchRequest* batch) const {
  for (const auto& [key, value] : buffer_) {
    kvpb::RequestUnion* r = batch->add_requests();
    if (value.has_value()) {
      r->mutable_put()->set_key(key);
      r->mutable_put()->set_value(*value);
    } else {
      r->mutable_delete_()->set_key(key);
    }
  }
}

void Txn::AddLockSpans(kvpb::EndTxnRequest* end) const {
  for (const std::string& k : written_keys_) *end->add_lock_spans() = MakeSpan(k, "");
  for (const kvpb::Span& s : written_spans_) *end->add_lock_spans() = s;
}

bool Txn::BufferOverlaps(absl::string_view start, absl::string_view end) const {
  auto it = buffer_.lower_bound(std::string(start));
  return it != buffer_.end() && it->first < end;
}

absl::Status Txn::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  kvpb::BatchRequest batch;
  AppendBufferedWrites(&batch);
  proto_.set_sequence(proto_.sequence() + 1);
  intents_laid_ = true;  // even a failed attempt may have laid some
  absl::StatusOr<kvpb::BatchResponse> resp = Send(std::move(batch));
  if (!resp.ok()) return resp.status();
  buffer_.clear();
  buffer_bytes_ = 0;
  StartHeartbeat();
  return absl::OkStatus();
}

void Txn::NoteWrite(absl::string_view key, absl::string_view end) {
  if (proto_.anchor_key().empty()) proto_.set_anchor_key(std::string(key));
  if (end.empty()) {
    if (written_keys_.insert(std::string(key)).second) written_keys_bytes_ += key.size();
    if (written_keys_.size() <= options_.max_tracked_spans &&
        written_keys_bytes_ <= options_.max_tracked_span_bytes) {
      return;
    }
    for (const std::string& k : written_keys_) written_spans_.push_back(MakeSpan(k, ""));
    written_spans_bytes_ += written_keys_bytes_;
    written_keys_.clear();
    written_keys_bytes_ = 0;
  } else {
    written_spans_.push_back(MakeSpan(key, end));
    written_spans_bytes_ += SpanBytes(written_spans_.back());
  }
  // Past the budget, lock spans condense into one: the commit resolves its intents
  // span by span, so a few wide spans cost far less than hundreds of narrow ones,
  // and resolving over keys it did not write costs only a scan. (Read spans, whose
  // width makes false conflicts, condense by neighbours instead: NoteRead.)
  if (written_spans_.size() > options_.max_tracked_spans ||
      written_spans_bytes_ > options_.max_tracked_span_bytes) {
    CondenseSpans(&written_spans_, &written_spans_bytes_, /*max_spans=*/1, /*max_bytes=*/0);
  }
}

void Txn::NoteRead(absl::string_view key, absl::string_view end) {
  read_spans_.push_back(MakeSpan(key, end));
  read_spans_bytes_ += SpanBytes(read_spans_.back());
  CondenseSpans(&read_spans_, &read_spans_bytes_, options_.max_tracked_spans,
                options_.max_tracked_span_bytes);
}

absl::Status Txn::Refresh(Timestamp to) {
  if (to <= Ts(proto_.read_timestamp())) return absl::OkStatus();
  kvpb::Transaction saved = proto_;
  SetTs(to, proto_.mutable_write_timestamp());
  for (size_t i = 0; i < read_spans_.size(); i += kRefreshBatchSpans) {
    kvpb::BatchRequest batch;
    for (size_t j = i; j < std::min(read_spans_.size(), i + kRefreshBatchSpans); ++j) {
      kvpb::RefreshRequest* r = batch.add_requests()->mutable_refresh();
      r->set_key(read_spans_[j].key());
      r->set_end_key(read_spans_[j].end_key());
    }
    absl::StatusOr<kvpb::BatchResponse> resp = Send(std::move(batch), /*keep_open=*/true);
    if (!resp.ok()) {
      proto_ = saved;
      return resp.status();
    }
  }
  SetTs(to, proto_.mutable_read_timestamp());
  SetTs(std::max(to, Ts(proto_.write_timestamp())), proto_.mutable_write_timestamp());
  ++refreshes_;
  return absl::OkStatus();
}

absl::Status Txn::Commit() {
  if (absl::Status s = CheckOpen(); !s.ok()) return s;
  if (proto_.anchor_key().empty()) {  // read-only: its reads are already consistent
    state_ = State::kCommitted;
    return absl::OkStatus();
  }
  // The heartbeat goes on until the outcome is known: a commit can wait (behind
  // other transactions' intents, or refreshing) for longer than the expiry, and a
  // transaction not heard of for that long would be aborted by the first pusher.
  // A late heartbeat cannot bring a removed record back (the tombstone marker).
  // Bounded: at most max_refreshes refreshes, each followed by one more attempt.
  for (int attempt = 0;; ++attempt) {
    if (Ts(proto_.write_timestamp()) > Ts(proto_.read_timestamp())) {
      if (attempt > options_.max_refreshes) {
        Abandon();
        return Retryable("serialization failure: pushed too many times while committing");
      }
      if (absl::Status s = Refresh(Ts(proto_.write_timestamp())); !s.ok()) {
        Abandon();
        return s;
      }
    }
    kvpb::BatchRequest batch;
    AppendBufferedWrites(&batch);
    kvpb::EndTxnRequest* end = batch.add_requests()->mutable_end_txn();
    end->set_key(proto_.anchor_key());
    end->set_commit(true);
    AddLockSpans(end);
    if (!buffer_.empty()) proto_.set_sequence(proto_.sequence() + 1);
    intents_laid_ = true;  // other ranges get their intents before the commit point
    absl::StatusOr<kvpb::BatchResponse> resp =
        Send(std::move(batch), /*keep_open=*/true, /*errors_in_response=*/true);
    if (!resp.ok()) {
      // Ambiguous or not, roll back: a rollback cannot undo a commit that happened
      // (EndTxn refuses to abort a COMMITTED record, and a one-phase commit left no
      // intent), and if the commit did not happen it removes our intents now instead
      // of making everyone wait for them to expire. The caller still hears
      // "ambiguous": only the server knows which it was.
      Abandon();
      return resp.status();
    }
    if (!resp->has_error()) {
      const kvpb::EndTxnResponse& ended = resp->responses(resp->responses_size() - 1).end_txn();
      *proto_.mutable_write_timestamp() = ended.commit_timestamp();
      one_phase_ = ended.one_phase();
      state_ = State::kCommitted;
      buffer_.clear();
      buffer_bytes_ = 0;
      StopHeartbeat();
      return absl::OkStatus();
    }
    const kvpb::Error& error = resp->error();
    if (error.has_retry() && error.retry().reason() == kvpb::TransactionRetryError::PUSHED) {
      continue;  // write timestamp adopted by Send: refresh and try again
    }
    Abandon();
    return StatusOfError(error);
  }
}

absl::Status Txn::Rollback() {
  if (state_ != State::kOpen) return absl::OkStatus();
  Abandon();
  return absl::OkStatus();
}

void Txn::Abandon() {
  if (state_ != State::kOpen) return;
  state_ = State::kAborted;
  StopHeartbeat();
  if (!intents_laid_) return;
  // Remove our intents now rather than leave them to expire (best effort: readers
  // clean up after an abandoned transaction anyway).
  kvpb::BatchRequest batch;
  kvpb::EndTxnRequest* end = batch.add_requests()->mutable_end_txn();
  end->set_key(proto_.anchor_key());
  end->set_commit(false);
  AddLockSpans(end);
  *batch.mutable_header()->mutable_txn() = proto_;
  (void)sender_->Send(std::move(batch));
}

absl::Status Txn::KeepAliveBeforeIntents() {
  if (proto_.anchor_key().empty()) return absl::OkStatus();
  StartHeartbeat();
  if (NowNanos() - started_at_ns_ < absl::ToInt64Nanoseconds(options_.heartbeat_interval)) {
    return absl::OkStatus();
  }
  const bool alive = hb_id_ != 0 && heartbeater_->seen(hb_id_).record_alive;
  // Intents at this transaction's (old) timestamps would look abandoned to a pusher
  // while no record says otherwise: create the record first, and lay none unless it
  // is there.
  if (!alive && proto_.has_read_timestamp()) {
    if (absl::Status s = HeartbeatNow(); !s.ok()) return s;
  }
  if (HeartbeatFoundAborted()) {
    return Retryable("aborted: the heartbeat found the transaction record aborted");
  }
  return absl::OkStatus();
}

absl::Status Txn::HeartbeatNow() {
  kvpb::BatchRequest batch;
  batch.add_requests()->mutable_heartbeat_txn()->set_key(proto_.anchor_key());
  *batch.mutable_header()->mutable_txn() = proto_;
  absl::StatusOr<kvpb::BatchResponse> resp = sender_->Send(std::move(batch));
  // Without the record, the intents would sit at an old timestamp that a pusher
  // takes for the last sign of life: the transaction stops. It is retryable: a new
  // attempt is young and needs no record before its first intents.
  if (!resp.ok()) {
    return Retryable(
        absl::StrCat("the transaction record could not be created: ", resp.status().ToString()));
  }
  if (resp->has_error()) {
    absl::Status s = StatusOfError(resp->error());
    if (IsRetryable(s)) return s;  // e.g. too old to create its record: aborted
    return Retryable(absl::StrCat("the transaction record could not be created: ", s.ToString()));
  }
  if (resp->responses_size() != 1) {
    return Retryable("the transaction record could not be created: malformed heartbeat response");
  }
  const kvpb::TransactionStatus status = resp->responses(0).heartbeat_txn().record().status();
  // The next beat an interval from now; anything but PENDING (ABORTED, or finished)
  // means this attempt cannot commit.
  heartbeater_->NoteBeat(hb_id_, status);
  if (status == kvpb::PENDING) return absl::OkStatus();
  return Retryable("aborted: the heartbeat found the transaction record aborted");
}

kvpb::Transaction Txn::HeartbeatView() const {
  kvpb::Transaction copy;
  copy.set_id(proto_.id());
  copy.set_anchor_key(proto_.anchor_key());
  copy.set_epoch(proto_.epoch());
  copy.set_priority(proto_.priority());
  if (proto_.has_read_timestamp()) *copy.mutable_read_timestamp() = proto_.read_timestamp();
  if (proto_.has_write_timestamp()) *copy.mutable_write_timestamp() = proto_.write_timestamp();
  if (proto_.has_uncertainty_limit()) {
    *copy.mutable_uncertainty_limit() = proto_.uncertainty_limit();
  }
  if (proto_.has_start_timestamp()) *copy.mutable_start_timestamp() = proto_.start_timestamp();
  return copy;
}

void Txn::PublishToHeartbeat() {
  if (hb_id_ != 0) heartbeater_->Publish(hb_id_, HeartbeatView());
}

bool Txn::HeartbeatFoundAborted() {
  return hb_id_ != 0 ? heartbeater_->seen(hb_id_).aborted : hb_final_.aborted;
}

void Txn::StartHeartbeat() {
  if (hb_id_ != 0 || hb_stopped_ || proto_.anchor_key().empty()) return;
  // The first beat (which creates the record) when the transaction is one interval
  // old: a short transaction never needs a record before its commit.
  hb_id_ = heartbeater_->Start(
      sender_, options_.heartbeat_interval,
      started_at_ns_ + absl::ToInt64Nanoseconds(options_.heartbeat_interval), HeartbeatView());
}

void Txn::StopHeartbeat() {
  hb_stopped_ = true;
  if (hb_id_ == 0) return;
  hb_final_ = heartbeater_->Stop(hb_id_);
  hb_id_ = 0;
}

absl::Status RunTransaction(Sender* sender, const std::function<absl::Status(Txn&)>& fn,
                            const TxnOptions& options, int* attempts) {
  Backoff backoff(options.retry_backoff);
  absl::Status last;
  for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
    if (attempts != nullptr) *attempts = attempt;
    Txn txn(sender, options);
    last = fn(txn);
    if (last.ok()) last = txn.Commit();
    if (!last.ok()) (void)txn.Rollback();
    if (last.ok() || !IsRetryable(last) || attempt == std::max(1, options.max_attempts)) {
      return last;
    }
    const std::chrono::milliseconds delay = backoff.Next();
    if (options.sleep_for) {
      options.sleep_for(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }
  return last;
}

}  // namespace rangedb::txn
