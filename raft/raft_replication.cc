// Log replication (§5.3), commitment (§5.4.2), and snapshots (§7), both the leader's
// sending side and the follower's receiving side.
#include <algorithm>

#include "base/check.h"
#include "raft/raft.h"

namespace rangedb::raft {

// Sends a MsgApp (or a snapshot, when the entries are compacted) to `to` unless flow
// control pauses it. With send_if_empty=false nothing is sent when there are no new
// entries. Returns whether a message was sent.
bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  auto it = trk_.progress.find(to);
  if (it == trk_.progress.end()) return false;
  Progress& pr = it->second;
  if (pr.IsPaused()) return false;

  raftpb::Message m;
  m.set_to(to);
  absl::StatusOr<uint64_t> term = log_.Term(pr.next - 1);
  // The entries go straight into the message (no intermediate vector).
  const absl::Status ents =
      log_.AppendEntriesFrom(pr.next, config_.max_msg_bytes, m.mutable_entries());
  if (ents.ok() && m.entries().empty() && !send_if_empty) return false;

  if (!term.ok() || !ents.ok()) {
    m.clear_entries();
    // The entries the follower needs are compacted: send a snapshot, but only to a
    // follower that is responding (a snapshot is expensive).
    if (!pr.recent_active) return false;
    absl::StatusOr<raftpb::Snapshot> snap = log_.Snapshot();
    if (!snap.ok()) {
      if (!IsSnapshotTemporarilyUnavailable(snap.status())) ThrowStorageFailure(snap.status());
      return false;
    }
    RANGEDB_CHECK_NE(snap->metadata().index(), 0) << "need a non-empty snapshot for " << to;
    m.set_type(raftpb::MSG_SNAP);
    pr.BecomeSnapshot(snap->metadata().index());
    *m.mutable_snapshot() = *std::move(snap);
    Send(std::move(m));
    return true;
  }

  m.set_type(raftpb::MSG_APP);
  m.set_index(pr.next - 1);
  m.set_log_term(*term);
  m.set_commit(log_.committed());
  m.set_sent_tick(ticks_);
  if (!m.entries().empty()) {
    const uint64_t last = m.entries().rbegin()->index();
    uint64_t bytes = 0;
    for (const raftpb::Entry& e : m.entries()) bytes += PayloadBytes(e);
    switch (pr.state) {
      case ProgressState::kReplicate:
        pr.OptimisticUpdate(last);
        pr.inflights.Add(last, bytes);
        break;
      case ProgressState::kProbe:
        pr.msg_app_probe_sent = true;
        break;
      case ProgressState::kSnapshot:
        RANGEDB_FATAL() << "sending append to " << to << " in snapshot state";
    }
  }
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  // Commit only up to what the follower is known to have: it must not commit
  // entries it does not hold.
  const uint64_t commit = std::min(trk_.progress.at(to).match, log_.committed());
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_HEARTBEAT);
  m.set_commit(commit);
  m.set_context(ctx);
  m.set_sent_tick(ticks_);
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (auto& [id, pr] : trk_.progress) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::BcastHeartbeat() { BcastHeartbeatWithCtx(read_only_.LastPendingRequestCtx()); }

void Raft::BcastHeartbeatWithCtx(const std::string& ctx) {
  for (auto& [id, pr] : trk_.progress) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

bool Raft::MaybeCommit() { return log_.MaybeCommit(trk_.Committed(), term_); }

uint64_t Raft::OwnDurableIndex() const {
  return config_.testing_ack_own_entries_on_append ? log_.LastIndex() : log_.PersistedLastIndex();
}

void Raft::OnEntriesPersisted() {
  if (state_ != StateType::kLeader) return;
  auto it = trk_.progress.find(id_);
  if (it == trk_.progress.end() || !it->second.MaybeUpdate(OwnDurableIndex())) return;
  if (MaybeCommit()) {
    ReleasePendingReadIndexMessages();
    BcastAppend();
  }
}

// Leader: appends es (assigning term and index) to its own log. Returns false, and
// appends nothing, if the uncommitted-size limit drops them.
bool Raft::AppendEntries(std::vector<raftpb::Entry>& es) {
  uint64_t bytes = 0;
  for (const raftpb::Entry& e : es) bytes += PayloadBytes(e);
  const uint64_t limit = config_.max_uncommitted_entries_bytes;
  // Always accept when nothing is uncommitted, so a single large entry can proceed.
  if (limit > 0 && uncommitted_bytes_ > 0 && bytes > 0 && uncommitted_bytes_ + bytes > limit) {
    return false;
  }
  uncommitted_bytes_ += bytes;
  uint64_t li = log_.LastIndex();
  for (raftpb::Entry& e : es) {
    e.set_term(term_);
    e.set_index(++li);
  }
  li = log_.Append(std::move(es));
  // The new entries are not durable yet: the leader's own copy counts once the owner
  // persisted it (OnEntriesPersisted), so a leader may send them before its fsync
  // without a single follower's acknowledgement committing them.
  trk_.progress.at(id_).MaybeUpdate(OwnDurableIndex());
  MaybeCommit();
  return true;
}

void Raft::HandleAppendEntries(raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_APP_RESP);
  resp.set_sent_tick(m.sent_tick());
  if (m.index() < log_.committed()) {
    // Everything up to our commit index is known to match: acknowledge it.
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<raftpb::Entry> ents;
  ents.reserve(static_cast<size_t>(m.entries_size()));
  for (raftpb::Entry& e : *m.mutable_entries()) ents.push_back(std::move(e));
  if (std::optional<uint64_t> last =
          log_.MaybeAppend(m.index(), m.log_term(), m.commit(), std::move(ents))) {
    resp.set_index(*last);
    Send(std::move(resp));
    return;
  }
  // Reject with a hint (fast backtracking): the largest index <= m.index() whose term
  // is <= m.log_term(). The leader then skips every entry of a conflicting term at once
  // instead of probing one index per round trip.
  uint64_t hint = std::min(m.index(), log_.LastIndex());
  hint = log_.FindConflictByTerm(hint, m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(log_.TermOrZero(hint));
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const raftpb::Message& m) {
  log_.CommitTo(m.commit());
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_HEARTBEAT_RESP);
  resp.set_context(m.context());
  resp.set_sent_tick(m.sent_tick());
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MSG_APP_RESP);
  if (Restore(m.snapshot())) {
    resp.set_index(log_.LastIndex());
  } else {
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

// Installs snapshot s if it is newer than our commit index and we are in its
// configuration. Returns whether the log was replaced.
bool Raft::Restore(const raftpb::Snapshot& s) {
  const raftpb::SnapshotMetadata& md = s.metadata();
  if (md.index() <= log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Defense in depth: only followers install snapshots. Step down into a new term.
    BecomeFollower(term_ + 1, kNone);
    return false;
  }
  const raftpb::ConfState& cs = md.conf_state();
  bool found = false;
  for (uint64_t id : cs.voters()) found |= id == id_;
  for (uint64_t id : cs.learners()) found |= id == id_;
  for (uint64_t id : cs.voters_outgoing()) found |= id == id_;
  if (!found) return false;  // not in the snapshot's config: ignore it
  if (log_.MatchTerm(md.index(), md.term())) {
    // We already have the entry; just fast-forward the commit index.
    log_.CommitTo(md.index());
    return false;
  }
  log_.Restore(s);
  ProgressTracker empty(trk_.max_inflight(), trk_.max_inflight_bytes());
  absl::StatusOr<ConfigAndProgress> cp = RestoreConfig(empty, log_.LastIndex(), cs);
  RANGEDB_CHECK(cp.ok()) << "snapshot at " << md.index()
                         << " carries an invalid configuration: " << cp.status();
  trk_ = std::move(empty);
  const raftpb::ConfState got = SwitchToConfig(*std::move(cp));
  RANGEDB_CHECK(ConfStatesEquivalent(got, cs))
      << "restored config differs from the snapshot's: " << got.ShortDebugString() << " vs. "
      << cs.ShortDebugString();
  Progress& self = trk_.progress.at(id_);
  self.MaybeUpdate(self.next - 1);
  return true;
}

// Leader: a follower answered a MsgApp (or a snapshot).
void Raft::HandleAppendResponse(const raftpb::Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.last_contact_tick = std::max(pr.last_contact_tick, m.sent_tick());
  if (m.reject()) {
    // Use the follower's hint: if it names a term, skip to where our log has an entry
    // of at most that term.
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term());
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from());
    }
    return;
  }
  const bool old_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index())) return;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index());
      break;
  }
  const uint64_t from = m.from();
  if (MaybeCommit()) {
    ReleasePendingReadIndexMessages();
    BcastAppend();
  } else if (old_paused) {
    // The follower was paused and is now unblocked: send what it missed.
    SendAppend(from);
  }
  // Fill the window while there is something to send (bounded by the window and the
  // log's end).
  while (MaybeSendAppend(from, false)) {
  }
  if (from == lead_transferee_ && trk_.progress.at(from).match == log_.LastIndex()) {
    // The transferee caught up: tell it to campaign now.
    SendTimeoutNow(from);
  }
}

}  // namespace rangedb::raft
