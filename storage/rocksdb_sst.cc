#include "storage/rocksdb_sst.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/sst_file_writer.h"
#include "storage/rocksdb_internal.h"

namespace rangedb::rocks_internal {
namespace {

class RocksSstFileWriter final : public SstFileWriter {
 public:
  RocksSstFileWriter(const rocksdb::Options& options, rocksdb::ColumnFamilyHandle* family,
                     rocksdb::Env* env, std::string path)
      : writer_(rocksdb::EnvOptions(options), options, family), env_(env), path_(std::move(path)) {}
  ~RocksSstFileWriter() override {
    if (!finished_) (void)env_->DeleteFile(path_);
  }

  absl::Status Open() { return FromRocks(writer_.Open(path_), "open sst file"); }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    return FromRocks(writer_.Put(ToSlice(key), ToSlice(value)), "sst put");
  }
  absl::Status DeleteRange(absl::string_view begin, absl::string_view end) override {
    return FromRocks(writer_.DeleteRange(ToSlice(begin), ToSlice(end)), "sst delete range");
  }
  absl::Status Finish() override {
    absl::Status s = FromRocks(writer_.Finish(), absl::StrCat("finish sst file ", path_));
    finished_ = s.ok();
    return s;
  }
  uint64_t FileBytes() const override {
    return const_cast<rocksdb::SstFileWriter&>(writer_).FileSize();
  }
  const std::string& path() const override { return path_; }

 private:
  rocksdb::SstFileWriter writer_;
  rocksdb::Env* const env_;
  const std::string path_;
  bool finished_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SstFileWriter>> SstStaging::NewWriter(
    const rocksdb::Options& options, rocksdb::ColumnFamilyHandle* family) {
  if (absl::Status s = FromRocks(env_->CreateDirIfMissing(dir_), "create staging directory");
      !s.ok()) {
    return s;
  }
  const std::string path = absl::StrCat(dir_, "/", next_file_.fetch_add(1), ".sst");
  auto writer = std::make_unique<RocksSstFileWriter>(options, family, env_, path);
  if (absl::Status s = writer->Open(); !s.ok()) return s;
  return std::unique_ptr<SstFileWriter>(std::move(writer));
}

absl::Status SstStaging::Ingest(rocksdb::ColumnFamilyHandle* family,
                                const std::vector<std::string>& paths) {
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;
  // The files overlap what the engine holds (they replace a range): they get a
  // sequence number above every existing write; a memtable they overlap is flushed.
  options.allow_global_seqno = true;
  options.allow_blocking_flush = true;
  return FromRocks(db_->IngestExternalFile(family, paths, options), "ingest sst files");
}

void SstStaging::Remove(const std::string& path) { (void)env_->DeleteFile(path); }

absl::Status SstStaging::Clear() {
  std::vector<std::string> children;
  rocksdb::Status s = env_->GetChildren(dir_, &children);
  if (s.IsNotFound() || s.IsPathNotFound()) return absl::OkStatus();
  if (!s.ok()) return FromRocks(s, "list staging directory");
  for (const std::string& name : children) {
    if (name == "." || name == "..") continue;
    if (rocksdb::Status d = env_->DeleteFile(absl::StrCat(dir_, "/", name)); !d.ok()) {
      return FromRocks(d, "clear staging directory");
    }
  }
  return absl::OkStatus();
}

}  // namespace rangedb::rocks_internal
