#include "storage/raft_log_storage.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"

namespace rangedb {

namespace {

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t DecodeBigEndian64(absl::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// The index of a log key, or false if the key is not a log key.
bool DecodeLogKeyIndex(absl::string_view key, uint64_t* index) {
  if (key.size() != keys::kRaftLogKeyBytes) return false;
  *index = DecodeBigEndian64(key.substr(8));
  return true;
}

// The table of the reflected CRC-32C polynomial, one entry per byte value.
constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

// An engine error, with the range whose log was being read.
absl::Status EngineError(uint64_t range_id, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("raft log of range ", range_id, ": ", s.message()));
}

}  // namespace

namespace raftlog {

std::string HardStateKey(uint64_t range_id) {
  return MVCCKeyPrefix(keys::RaftHardStateKey(range_id));
}
std::string TruncatedStateKey(uint64_t range_id) {
  return MVCCKeyPrefix(keys::RaftTruncatedStateKey(range_id));
}
std::string SnapshotMetaKey(uint64_t range_id) {
  return MVCCKeyPrefix(keys::RaftSnapshotMetaKey(range_id));
}

uint32_t Crc32c(absl::string_view data) {
  uint32_t c = ~0u;
  for (char ch : data) c = kCrc32cTable[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t RecordChecksum(uint64_t range_id, absl::string_view payload) {
  std::string prefix(1, static_cast<char>(kRecordVersion));
  AppendBigEndian64(&prefix, range_id);
  uint32_t c = ~0u;
  for (absl::string_view part : {absl::string_view(prefix), payload}) {
    for (char ch : part) c = kCrc32cTable[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  }
  return ~c;
}

std::string EncodeRecord(uint64_t range_id, absl::string_view payload) {
  const uint32_t crc = RecordChecksum(range_id, payload);
  std::string out;
  out.reserve(kRecordHeaderBytes + payload.size());
  out.push_back(static_cast<char>(kRecordVersion));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(crc >> shift));
  out.append(payload.data(), payload.size());
  return out;
}

absl::StatusOr<absl::string_view> DecodeRecord(uint64_t range_id, absl::string_view record) {
  if (record.size() < kRecordHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("record of ", record.size(), " bytes is shorter than its header"));
  }
  const uint8_t version = static_cast<uint8_t>(record[0]);
  if (version != kRecordVersion) {
    // Version 1 (before 2026-12) had no version byte and no range id in the checksum;
    // this build does not read it (docs/raft-log.md §2).
    return absl::DataLossError(absl::StrCat("record format version ", version,
                                            " is not supported (this build reads version ",
                                            kRecordVersion, ")"));
  }
  uint32_t stored = 0;
  for (size_t i = 1; i < kRecordHeaderBytes; ++i) {
    stored = (stored << 8) | static_cast<uint8_t>(record[i]);
  }
  const absl::string_view payload = record.substr(kRecordHeaderBytes);
  const uint32_t computed = RecordChecksum(range_id, payload);
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat("checksum mismatch (stored 0x", absl::Hex(stored),
                                            ", computed 0x", absl::Hex(computed), ") over ",
                                            payload.size(), " bytes"));
  }
  return payload;
}

}  // namespace raftlog

// --- RaftEntryCache ---

void RaftEntryCache::Append(const std::vector<raftpb::Entry>& entries) {
  for (const raftpb::Entry& e : entries) {
    if (!entries_.empty() && e.index() != last_index() + 1) Clear();  // keep the run contiguous
    Push(e);
  }
}

void RaftEntryCache::Push(const raftpb::Entry& e) {
  const size_t size = e.ByteSizeLong();
  if (size > bytes_max_ || bytes_max_ == 0) {
    Clear();  // the entries after it would not continue the run
    return;
  }
  while (bytes_ + size > bytes_max_) {
    bytes_ -= entries_.front().ByteSizeLong();
    entries_.pop_front();
  }
  entries_.push_back(e);
  bytes_ += size;
}

void RaftEntryCache::TruncateFrom(uint64_t index) {
  while (!entries_.empty() && entries_.back().index() >= index) {
    bytes_ -= entries_.back().ByteSizeLong();
    entries_.pop_back();
  }
}

void RaftEntryCache::DropThrough(uint64_t index) {
  while (!entries_.empty() && entries_.front().index() <= index) {
    bytes_ -= entries_.front().ByteSizeLong();
    entries_.pop_front();
  }
}

void RaftEntryCache::Clear() {
  entries_.clear();
  bytes_ = 0;
}

const raftpb::Entry* RaftEntryCache::Get(uint64_t index) const {
  if (entries_.empty() || index < first_index() || index > last_index()) return nullptr;
  return &entries_[index - first_index()];
}

uint64_t RaftEntryCache::first_index() const {
  RANGEDB_CHECK(!entries_.empty());
  return entries_.front().index();
}

uint64_t RaftEntryCache::last_index() const {
  RANGEDB_CHECK(!entries_.empty());
  return entries_.back().index();
}

// --- RaftLogWrite: staging ---

RaftLogWrite::RaftLogWrite(const RaftLogStorage* storage, WriteBatch* batch)
    : storage_(storage),
      batch_(batch),
      base_generation_(storage->generation_),
      state_(storage->state_) {
  RANGEDB_CHECK(batch != nullptr);
}

void RaftLogWrite::Append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t first = state_.truncated_index + 1;
  const uint64_t last_new = entries.front().index() + entries.size() - 1;
  if (last_new < first) return;  // everything is already compacted
  const size_t skip = first > entries.front().index() ? first - entries.front().index() : 0;
  const uint64_t start = entries[skip].index();
  RANGEDB_CHECK_LE(start, state_.last_index + 1)
      << "raft log of range " << storage_->range_id_ << ": an append would leave a gap";

  if (last_new < state_.last_index) DeleteEntries(last_new + 1, state_.last_index);
  std::string payload;
  for (size_t k = skip; k < entries.size(); ++k) {
    const raftpb::Entry& e = entries[k];
    RANGEDB_CHECK_EQ(e.index(), start + (k - skip))
        << "raft log of range " << storage_->range_id_ << ": appended entries are not contiguous";
    RANGEDB_CHECK(e.SerializeToString(&payload))
        << "raft log of range " << storage_->range_id_ << ": cannot serialize entry " << e.index();
    batch_->Put(ColumnFamily::kRaftLog, keys::RaftLogKey(storage_->range_id_, e.index()),
                raftlog::EncodeRecord(storage_->range_id_, payload));
  }

  // appended_ is the staged tail of the log: cut it where these entries start.
  if (!appended_.empty()) {
    if (start <= appended_.front().index()) {
      appended_.clear();
    } else {
      appended_.resize(start - appended_.front().index());
    }
  }
  appended_.insert(appended_.end(), entries.begin() + static_cast<ptrdiff_t>(skip), entries.end());
  cache_invalid_from_ = std::min(cache_invalid_from_, start);
  state_.last_index = last_new;
}

void RaftLogWrite::SetHardState(const raftpb::HardState& hs) {
  state_.hard_state = hs;
  batch_->Put(ColumnFamily::kData, raftlog::HardStateKey(storage_->range_id_),
              raftlog::EncodeRecord(storage_->range_id_, hs.SerializeAsString()));
}

void RaftLogWrite::SetInitialConfState(const raftpb::ConfState& cs) {
  *state_.snapshot.mutable_conf_state() = cs;
  PutSnapshotMeta();
}

absl::Status RaftLogWrite::Compact(uint64_t compact_index) {
  if (compact_index <= state_.truncated_index) return raft::CompactedError(compact_index);
  RANGEDB_CHECK_LE(compact_index, state_.last_index)
      << "raft log of range " << storage_->range_id_ << ": compaction beyond the last index";
  absl::StatusOr<uint64_t> term = Term(compact_index);
  if (!term.ok()) return term.status();
  DeleteEntries(state_.truncated_index + 1, compact_index);
  state_.truncated_index = compact_index;
  state_.truncated_term = *term;
  PutTruncatedState();
  return absl::OkStatus();
}

absl::Status RaftLogWrite::CreateSnapshot(uint64_t i, const raftpb::ConfState& cs) {
  const uint64_t have = state_.snapshot.index();
  if (i <= have) return raft::SnapshotOutOfDateError(have, i);
  RANGEDB_CHECK_LE(i, state_.last_index)
      << "raft log of range " << storage_->range_id_ << ": snapshot index beyond the last index";
  absl::StatusOr<uint64_t> term = Term(i);
  if (!term.ok()) return term.status();
  state_.snapshot.set_index(i);
  state_.snapshot.set_term(*term);
  *state_.snapshot.mutable_conf_state() = cs;
  PutSnapshotMeta();
  return absl::OkStatus();
}

absl::Status RaftLogWrite::ApplySnapshot(const raftpb::Snapshot& snapshot) {
  const uint64_t have = state_.snapshot.index();
  const uint64_t offered = snapshot.metadata().index();
  if (have >= offered) return raft::SnapshotOutOfDateError(have, offered);
  DeleteEntries(state_.truncated_index + 1, state_.last_index);
  state_.truncated_index = offered;
  state_.truncated_term = snapshot.metadata().term();
  state_.last_index = offered;
  state_.snapshot = snapshot.metadata();
  appended_.clear();
  cache_invalid_from_ = 0;
  PutTruncatedState();
  PutSnapshotMeta();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RaftLogWrite::Term(uint64_t i) const {
  if (i < state_.truncated_index) return raft::CompactedError(i);
  if (i > state_.last_index) return raft::UnavailableError(i);
  if (i == state_.truncated_index) return state_.truncated_term;
  if (!appended_.empty() && i >= appended_.front().index()) {
    return appended_[i - appended_.front().index()].term();
  }
  // Below what this write appended, the staged log equals the committed one.
  return storage_->Term(i);
}

void RaftLogWrite::DeleteEntries(uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to && i != 0; ++i) {
    batch_->Delete(ColumnFamily::kRaftLog, keys::RaftLogKey(storage_->range_id_, i));
  }
}

void RaftLogWrite::PutTruncatedState() {
  std::string payload;
  AppendBigEndian64(&payload, state_.truncated_index);
  AppendBigEndian64(&payload, state_.truncated_term);
  batch_->Put(ColumnFamily::kData, raftlog::TruncatedStateKey(storage_->range_id_),
              raftlog::EncodeRecord(storage_->range_id_, payload));
}

void RaftLogWrite::PutSnapshotMeta() {
  batch_->Put(ColumnFamily::kData, raftlog::SnapshotMetaKey(storage_->range_id_),
              raftlog::EncodeRecord(storage_->range_id_, state_.snapshot.SerializeAsString()));
}

// --- RaftLogStorage ---

RaftLogStorage::RaftLogStorage(Engine* engine, uint64_t range_id, const RaftLogOptions& options)
    : engine_(engine), range_id_(range_id), cache_(options.cache_bytes_max) {}

absl::StatusOr<std::unique_ptr<RaftLogStorage>> RaftLogStorage::Open(
    Engine* engine, uint64_t range_id, const RaftLogOptions& options) {
  RANGEDB_CHECK(engine != nullptr) << "range " << range_id;
  std::unique_ptr<RaftLogStorage> storage(new RaftLogStorage(engine, range_id, options));
  if (absl::Status s = storage->Load(); !s.ok()) return s;
  return storage;
}

namespace {

// Reads and verifies the record at key; returns false if there is none.
absl::StatusOr<bool> ReadStateRecord(Engine* engine, uint64_t range_id, const std::string& key,
                                     absl::string_view what, std::string* value,
                                     absl::string_view* payload) {
  absl::StatusOr<bool> found = engine->Get(ColumnFamily::kData, key, value);
  if (!found.ok()) return EngineError(range_id, found.status());
  if (!*found) return false;
  absl::StatusOr<absl::string_view> p = raftlog::DecodeRecord(range_id, *value);
  if (!p.ok()) {
    return absl::DataLossError(
        absl::StrCat("raft log of range ", range_id, ": ", what, ": ", p.status().message()));
  }
  *payload = *p;
  return true;
}

absl::Status StateDataLoss(uint64_t range_id, absl::string_view what, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("raft log of range ", range_id, ": ", what, ": ", why));
}

}  // namespace

absl::Status RaftLogStorage::Load() {
  std::string value;
  absl::string_view payload;
  absl::StatusOr<bool> found =
      ReadStateRecord(engine_, range_id_, raftlog::TruncatedStateKey(range_id_), "truncated state",
                      &value, &payload);
  if (!found.ok()) return found.status();
  if (*found) {
    if (payload.size() != 16) {
      return StateDataLoss(range_id_, "truncated state",
                           absl::StrCat(payload.size(), " bytes, not 16"));
    }
    state_.truncated_index = DecodeBigEndian64(payload);
    state_.truncated_term = DecodeBigEndian64(payload.substr(8));
  }
  found = ReadStateRecord(engine_, range_id_, raftlog::HardStateKey(range_id_), "hard state",
                          &value, &payload);
  if (!found.ok()) return found.status();
  if (*found &&
      !state_.hard_state.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return StateDataLoss(range_id_, "hard state", "does not parse");
  }
  found = ReadStateRecord(engine_, range_id_, raftlog::SnapshotMetaKey(range_id_),
                          "snapshot metadata", &value, &payload);
  if (!found.ok()) return found.status();
  if (*found && !state_.snapshot.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return StateDataLoss(range_id_, "snapshot metadata", "does not parse");
  }

  // The bounds: the last key of the range's log prefix, and the first one after the
  // truncated index, which must be right after it.
  IterOptions options;
  options.cf = ColumnFamily::kRaftLog;
  options.lower_bound = keys::RaftLogKey(range_id_, state_.truncated_index + 1);
  if (range_id_ != UINT64_MAX) options.upper_bound = keys::RaftLogKey(range_id_ + 1, 0);
  std::unique_ptr<Iterator> it = engine_->NewIterator(options);
  it->SeekToLast();
  state_.last_index = state_.truncated_index;
  if (it->Valid()) {
    if (!DecodeLogKeyIndex(it->key(), &state_.last_index)) {
      return StateDataLoss(range_id_, "log bounds", "malformed last key");
    }
    it->SeekToFirst();
    uint64_t first = 0;
    if (!it->Valid() || !DecodeLogKeyIndex(it->key(), &first) ||
        first != state_.truncated_index + 1) {
      return StateDataLoss(range_id_, "log bounds",
                           absl::StrCat("the first entry is ", first,
                                        " but the truncated index is ", state_.truncated_index));
    }
  }
  if (!it->status().ok()) return EngineError(range_id_, it->status());
  return absl::OkStatus();
}

absl::StatusOr<raft::InitialState> RaftLogStorage::GetInitialState() const {
  return raft::InitialState{state_.hard_state, state_.snapshot.conf_state()};
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLogStorage::Entries(uint64_t lo, uint64_t hi,
                                                                   uint64_t max_bytes) const {
  if (lo <= state_.truncated_index) return raft::CompactedError(lo);
  if (hi > state_.last_index + 1) return raft::UnavailableError(hi - 1);
  RANGEDB_CHECK_LE(lo, hi) << "range " << range_id_;
  std::vector<raftpb::Entry> out;
  uint64_t size_bytes = 0;
  uint64_t i = lo;
  while (i < hi) {
    if (const raftpb::Entry* e = cache_.Get(i)) {
      size_bytes += e->ByteSizeLong();
      if (!out.empty() && size_bytes > max_bytes) break;
      out.push_back(*e);
      ++i;
      continue;
    }
    // Not cached: read from the engine up to where the cache starts (or to hi).
    uint64_t segment_hi = hi;
    if (!cache_.empty() && cache_.first_index() > i)
      segment_hi = std::min(hi, cache_.first_index());
    absl::StatusOr<bool> complete = ReadEntries(i, segment_hi, max_bytes, &size_bytes, &out);
    if (!complete.ok()) return complete.status();
    if (!*complete) break;
    i = segment_hi;
  }
  return out;
}

absl::StatusOr<uint64_t> RaftLogStorage::Term(uint64_t i) const {
  if (i < state_.truncated_index) return raft::CompactedError(i);
  if (i > state_.last_index) return raft::UnavailableError(i);
  if (i == state_.truncated_index) return state_.truncated_term;
  if (const raftpb::Entry* e = cache_.Get(i)) return e->term();
  absl::StatusOr<raftpb::Entry> e = ReadEntry(i);
  if (!e.ok()) return e.status();
  return e->term();
}

absl::StatusOr<uint64_t> RaftLogStorage::FirstIndex() const { return state_.truncated_index + 1; }

absl::StatusOr<uint64_t> RaftLogStorage::LastIndex() const { return state_.last_index; }

absl::StatusOr<raftpb::Snapshot> RaftLogStorage::Snapshot() const {
  raftpb::Snapshot snapshot;
  *snapshot.mutable_metadata() = state_.snapshot;
  return snapshot;
}

RaftLogWrite RaftLogStorage::NewWrite(WriteBatch* batch) const { return RaftLogWrite(this, batch); }

void RaftLogStorage::OnCommitted(RaftLogWrite&& write) {
  RANGEDB_CHECK(write.storage_ == this)
      << "raft log of range " << range_id_ << ": a write staged on another storage";
  RANGEDB_CHECK_EQ(write.base_generation_, generation_)
      << "raft log of range " << range_id_ << ": a write staged before another write was committed";
  ++generation_;
  if (write.cache_invalid_from_ != UINT64_MAX) cache_.TruncateFrom(write.cache_invalid_from_);
  cache_.Append(write.appended_);
  cache_.DropThrough(write.state_.truncated_index);
  state_ = std::move(write.state_);
  write.storage_ = nullptr;
}

absl::StatusOr<bool> RaftLogStorage::ReadEntries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                                                 uint64_t* size_bytes,
                                                 std::vector<raftpb::Entry>* out) const {
  IterOptions options;
  options.cf = ColumnFamily::kRaftLog;
  options.lower_bound = keys::RaftLogKey(range_id_, lo);
  options.upper_bound = keys::RaftLogKey(range_id_, hi);
  std::unique_ptr<Iterator> it = engine_->NewIterator(options);
  uint64_t want = lo;
  for (it->SeekToFirst(); it->Valid() && want < hi; it->Next(), ++want) {
    uint64_t index = 0;
    if (!DecodeLogKeyIndex(it->key(), &index) || index != want) break;  // reported below
    raftpb::Entry e;
    if (absl::Status s = ParseEntry(want, it->value(), &e); !s.ok()) return s;
    *size_bytes += e.ByteSizeLong();
    if (!out->empty() && *size_bytes > max_bytes) return false;
    out->push_back(std::move(e));
  }
  if (!it->status().ok()) return EngineError(range_id_, it->status());
  if (want < hi) return absl::DataLossError(absl::StrCat(Describe(want), " is missing"));
  return true;
}

absl::StatusOr<raftpb::Entry> RaftLogStorage::ReadEntry(uint64_t index) const {
  std::string value;
  absl::StatusOr<bool> found =
      engine_->Get(ColumnFamily::kRaftLog, keys::RaftLogKey(range_id_, index), &value);
  if (!found.ok()) return EngineError(range_id_, found.status());
  if (!*found) return absl::DataLossError(absl::StrCat(Describe(index), " is missing"));
  raftpb::Entry e;
  if (absl::Status s = ParseEntry(index, value, &e); !s.ok()) return s;
  return e;
}

absl::Status RaftLogStorage::ParseEntry(uint64_t index, absl::string_view value,
                                        raftpb::Entry* e) const {
  absl::StatusOr<absl::string_view> payload = raftlog::DecodeRecord(range_id_, value);
  if (!payload.ok()) {
    return absl::DataLossError(absl::StrCat(Describe(index), ": ", payload.status().message()));
  }
  if (!e->ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return absl::DataLossError(absl::StrCat(Describe(index), ": does not parse"));
  }
  if (e->index() != index) {
    return absl::DataLossError(absl::StrCat(Describe(index), ": holds index ", e->index()));
  }
  return absl::OkStatus();
}

std::string RaftLogStorage::Describe(uint64_t index) const {
  return absl::StrCat("raft log of range ", range_id_, ": entry ", index);
}

}  // namespace rangedb
