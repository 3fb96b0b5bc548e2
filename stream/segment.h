// Segment: one file of a shard's log, holding the frames (record_frame.h) of a contiguous run of
// ordinals. The file is "<first ordinal, 20 digits>.log" and starts with a 16-byte header:
// "SLUICELG", u32 format version (1), u32 zero.
//
// Descriptors: the segment being written keeps its file open. A sealed segment gives its
// descriptor up (ReleaseDescriptor) and each read opens the file for itself, so a shard with a
// year of hourly segments does not hold thousands of descriptors.
//
// Thread-safety: ReadAt(), Sync() and ReleaseDescriptor() may run from any thread at any time.
// Everything else (the bookkeeping: size, ordinals, arrival times, the sparse index) is guarded
// by the owning ShardLog's mutex, and Write() is called by one writer at a time (the log's
// flusher).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.h"
#include "base/status.h"
#include "stream/record_frame.h"

namespace sluice::stream {

inline constexpr size_t kSegmentHeaderSize = 16;

class Segment {
 public:
  // A sparse index entry: the frame of `ordinal` starts at `offset`.
  struct IndexEntry {
    uint64_t ordinal = 0;
    uint64_t offset = 0;
    int64_t arrival_ms = 0;
  };

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Creates an empty segment file in `dir` (and fsyncs the file and the directory).
  static Result<std::unique_ptr<Segment>> Create(const std::string& dir, uint64_t first_ordinal);

  // Opens an existing segment and checks every frame. At the first frame that is torn, corrupt
  // or out of sequence, the file is cut (truncated and fsynced) after the last good frame, and
  // *cut says what was cut and why; *cut stays empty when the whole file was good.
  static Result<std::unique_ptr<Segment>> Recover(const std::string& path, uint64_t first_ordinal,
                                                  std::string* cut);

  // Opens a sealed segment (one that will not be written again) from its index file, without
  // reading its frames: NotFound when there is no index file, or when it is damaged or does not
  // match the segment file (the caller then recovers by scanning).
  static Result<std::unique_ptr<Segment>> OpenSealed(const std::string& path,
                                                     uint64_t first_ordinal);
  // fsyncs a sealed segment and writes its index file "<first ordinal>.idx" beside it, so that
  // the next start need not scan it: its committed size, ordinals, arrival times and sparse
  // index, with a CRC-32C. REQUIRES: no more writes to this segment; the caller holds the
  // owner's lock or otherwise keeps the bookkeeping still.
  Status WriteIndexFile() const;
  // Removes the segment file and its index file.
  Status Remove() const;

  static std::string FileName(uint64_t first_ordinal);
  static std::string IndexFileName(uint64_t first_ordinal);
  // The first ordinal named by a segment file name, or -1 if `name` is not one.
  static int64_t ParseFileName(std::string_view name);

  // Writes encoded frames at offset size() (the writer's view; they are not yet visible).
  // On failure the file is truncated back, so the segment stays whole; DataLoss if even that
  // failed and the segment must not be written again.
  Status Write(std::string_view frames);
  Status Sync() const;
  // Cuts bytes written but never committed (a batch whose fsync failed) off the file, so that no
  // later write, roll or recovery takes them for records. DataLoss if the truncate failed.
  Status DropUncommitted();
  // Makes frames already written visible: advances size and ordinals, indexes them.
  void Commit(std::string_view frames);

  enum class ScanStop {
    kEnd,      // every frame up to the end offset was visited
    kStopped,  // the visitor returned false
    kTorn,     // a frame runs past the end offset
    kCorrupt,  // bytes that cannot be a frame (bad size or checksum)
  };
  // Calls `visit` for each whole frame from `offset` (a frame boundary) up to `end_offset`,
  // reading in chunks, until it returns false. The frame's views live only during the call.
  Result<ScanStop> Scan(uint64_t offset, uint64_t end_offset,
                        const std::function<bool(const FrameView&)>& visit) const;

  // Closes the segment's own descriptor once reads under way are done; later reads open the file
  // for themselves. For sealed segments only: writes need the descriptor.
  void ReleaseDescriptor();

  // Reads up to `size` bytes at `offset` (fewer at end of file) into *out.
  Status ReadAt(uint64_t offset, size_t size, std::string* out) const;

  // The indexed entry at or before `ordinal` (header end for an empty segment).
  IndexEntry SeekOrdinal(uint64_t ordinal) const;
  // The last indexed entry whose arrival is before `arrival_ms` (or the first entry).
  IndexEntry SeekArrival(int64_t arrival_ms) const;

  const std::string& path() const { return path_; }
  uint64_t first_ordinal() const { return first_ordinal_; }
  uint64_t end_ordinal() const { return end_ordinal_; }  // one past the last record
  bool empty() const { return end_ordinal_ == first_ordinal_; }
  uint64_t size() const { return size_; }  // committed bytes, header included
  int64_t first_arrival_ms() const { return first_arrival_ms_; }
  int64_t last_arrival_ms() const { return last_arrival_ms_; }

 private:
  Segment(std::string path, int fd, uint64_t first_ordinal);
  // The segment's own descriptor, or after ReleaseDescriptor() one opened for this use only
  // (NotFound if the file was removed, or replaced by another at the same path).
  Result<std::shared_ptr<UniqueFd>> Descriptor() const;
  // The segment's own descriptor; FailedPrecondition once released (never a read-only one).
  Result<std::shared_ptr<UniqueFd>> WritableDescriptor() const;

  std::string path_;
  mutable std::mutex fd_mu_;
  std::shared_ptr<UniqueFd> fd_;  // guarded by fd_mu_; null once released
  dev_t device_ = 0;              // the file's identity, checked when it is opened again
  ino_t inode_ = 0;
  uint64_t first_ordinal_ = 0;
  uint64_t end_ordinal_ = 0;
  uint64_t size_ = kSegmentHeaderSize;
  uint64_t write_offset_ = kSegmentHeaderSize;  // the writer's end of file
  int64_t first_arrival_ms_ = 0;
  int64_t last_arrival_ms_ = 0;
  uint64_t last_indexed_offset_ = 0;
  std::vector<IndexEntry> index_;
};

}  // namespace sluice::stream
