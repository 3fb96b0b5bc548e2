#include "stream/segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/files.h"
#include "base/random.h"
#include "stream/crc32c.h"
#include "stream/record_frame.h"

namespace sluice::stream {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'L', 'G'};
constexpr uint32_t kFormatVersion = 1;
// One index entry per this many bytes of frames: a seek reads at most this much before the
// record it wants.
constexpr uint64_t kIndexIntervalBytes = 16 * 1024;
constexpr size_t kScanChunk = 256 * 1024;

std::string Header() {
  std::string header(kSegmentHeaderSize, '\0');
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  std::memcpy(header.data() + 8, &kFormatVersion, sizeof(kFormatVersion));
  return header;
}

Status WriteAll(int fd, std::string_view bytes, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return ErrnoStatus("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Segment::Segment(std::string path, int fd, uint64_t first_ordinal)
    : path_(std::move(path)),
      fd_(std::make_shared<UniqueFd>(fd)),
      first_ordinal_(first_ordinal),
      end_ordinal_(first_ordinal) {
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    device_ = st.st_dev;
    inode_ = st.st_ino;
  }
}

Segment::~Segment() = default;

Result<std::shared_ptr<UniqueFd>> Segment::Descriptor() const {
  {
    std::lock_guard lock(fd_mu_);
    if (fd_ != nullptr) {
      return fd_;
    }
  }
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(errno == ENOENT ? Code::kNotFound : Code::kInternal,
                  ErrnoStatus("open segment " + path_).message());
  }
  auto descriptor = std::make_shared<UniqueFd>(fd);
  // The same file, not another one now at this path (the stream was deleted and made again).
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != device_ || st.st_ino != inode_) {
    return NotFound("segment " + path_ + " was removed");
  }
  return descriptor;
}

Result<std::shared_ptr<UniqueFd>> Segment::WritableDescriptor() const {
  std::lock_guard lock(fd_mu_);
  if (fd_ == nullptr) {
    return FailedPrecondition("segment " + path_ + " is sealed and cannot be written");
  }
  return fd_;
}

void Segment::ReleaseDescriptor() {
  std::lock_guard lock(fd_mu_);
  fd_.reset();  // closes once the reads under way drop their references
}

std::string Segment::FileName(uint64_t first_ordinal) {
  char name[32];
  snprintf(name, sizeof(name), "%020llu.log", static_cast<unsigned long long>(first_ordinal));
  return name;
}

int64_t Segment::ParseFileName(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".log") {
    return -1;
  }
  // 20 digits can exceed even UINT64_MAX: stop as soon as the value passes INT64_MAX, before
  // it could wrap around to a small number.
  int64_t value = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') {
      return -1;
    }
    const int64_t digit = name[i] - '0';
    if (value > (INT64_MAX - digit) / 10) {
      return -1;
    }
    value = value * 10 + digit;
  }
  return value;
}

Result<std::unique_ptr<Segment>> Segment::Create(const std::string& dir, uint64_t first_ordinal) {
  const std::string path = dir + "/" + FileName(first_ordinal);
  // An index file of an earlier segment that started at the same ordinal describes another file.
  const std::string stale_index = dir + "/" + IndexFileName(first_ordinal);
  if (::unlink(stale_index.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("remove stale " + stale_index);
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoStatus("create segment " + path);
  }
  std::unique_ptr<Segment> segment(new Segment(path, fd, first_ordinal));
  SLUICE_RETURN_IF_ERROR(WriteAll(fd, Header(), 0, path));
  SLUICE_RETURN_IF_ERROR(segment->Sync());
  SLUICE_RETURN_IF_ERROR(SyncDirectory(dir));
  return segment;
}

Result<std::unique_ptr<Segment>> Segment::Recover(const std::string& path, uint64_t first_ordinal,
                                                  std::string* cut) {
  cut->clear();
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open segment " + path);
  }
  std::unique_ptr<Segment> segment(new Segment(path, fd, first_ordinal));
  std::string header;
  SLUICE_RETURN_IF_ERROR(segment->ReadAt(0, kSegmentHeaderSize, &header));
  if (header != Header()) {
    const off_t file_size = ::lseek(fd, 0, SEEK_END);
    if (file_size > static_cast<off_t>(kSegmentHeaderSize)) {
      // A damaged header in front of records: keep the file for inspection and start this
      // segment over empty (recovery then sets the later segments aside too).
      const std::string kept = path + ".bad-header-" + RandomHex(4);
      if (::rename(path.c_str(), kept.c_str()) != 0) {
        return ErrnoStatus("move " + path + " aside");
      }
      segment.reset();
      Result<std::unique_ptr<Segment>> fresh = Create(DirOf(path), first_ordinal);
      if (fresh.ok()) {
        *cut = "segment header is damaged; the file (" + std::to_string(file_size) +
               " bytes) was moved to " + kept + " and the segment started over empty";
      }
      return fresh;
    }
    // A header cut short by a crash right after creation: start the segment over.
    *cut = "segment header missing or torn (" + std::to_string(header.size()) +
           " bytes); the segment was reset to empty";
    if (::ftruncate(fd, 0) != 0) {
      return ErrnoStatus("truncate " + path);
    }
    SLUICE_RETURN_IF_ERROR(WriteAll(fd, Header(), 0, path));
    SLUICE_RETURN_IF_ERROR(segment->Sync());
    return segment;
  }

  // Scan every frame, committing the good ones as a writer would.
  const off_t file_size = ::lseek(fd, 0, SEEK_END);
  if (file_size < 0) {
    return ErrnoStatus("seek " + path);
  }
  std::string reason;
  Result<ScanStop> stop = segment->Scan(
      kSegmentHeaderSize, static_cast<uint64_t>(file_size), [&](const FrameView& frame) {
        if (frame.ordinal != segment->end_ordinal_) {
          reason = "a frame out of sequence (ordinal " + std::to_string(frame.ordinal) +
                   ", expected " + std::to_string(segment->end_ordinal_) + ")";
          return false;
        }
        segment->Commit(frame.bytes);
        return true;
      });
  if (!stop.ok()) {
    return stop.status();
  }
  const bool torn = *stop == ScanStop::kTorn;
  if (torn) {
    reason = "a torn frame at the end of the file";
  } else if (*stop == ScanStop::kCorrupt) {
    reason = "a corrupt frame (bad size or checksum)";
  }
  if (static_cast<uint64_t>(file_size) > segment->size_) {
    *cut = "cut " + std::to_string(static_cast<uint64_t>(file_size) - segment->size_) +
           " bytes at offset " + std::to_string(segment->size_) + " after ordinal " +
           (segment->empty() ? std::string("(none)") : std::to_string(segment->end_ordinal_ - 1)) +
           ": " + reason;
    if (!torn) {
      // Damage inside the file, not a write cut short: good frames may follow the bad one.
      // Keep every byte cut off beside the segment for inspection.
      std::string tail;
      SLUICE_RETURN_IF_ERROR(segment->ReadAt(
          segment->size_, static_cast<size_t>(static_cast<uint64_t>(file_size) - segment->size_),
          &tail));
      const std::string kept = path + ".cut-" + RandomHex(4);
      SLUICE_RETURN_IF_ERROR(WriteFileAtomically(kept, tail));
      *cut += "; the bytes cut are kept in " + kept;
    }
    if (::ftruncate(fd, static_cast<off_t>(segment->size_)) != 0) {
      return ErrnoStatus("truncate " + path);
    }
    SLUICE_RETURN_IF_ERROR(segment->Sync());
    SLUICE_RETURN_IF_ERROR(SyncDirectory(DirOf(path)));
  }
  return segment;
}

std::string Segment::IndexFileName(uint64_t first_ordinal) {
  std::string name = FileName(first_ordinal);
  name.replace(name.size() - 4, 4, ".idx");
  return name;
}

namespace {

constexpr char kIndexMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'I', 'X'};

template <typename T>
void PutValue(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Reads fixed-width values from an index file in order; fails once past the end.
class ValueReader {
 public:
  explicit ValueReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T* value) {
    if (bytes_.size() < sizeof(T)) {
      return false;
    }
    std::memcpy(value, bytes_.data(), sizeof(T));
    bytes_.remove_prefix(sizeof(T));
    return true;
  }
  size_t left() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

std::string IndexPathOf(const std::string& segment_path, uint64_t first_ordinal) {
  return DirOf(segment_path) + "/" + Segment::IndexFileName(first_ordinal);
}

}  // namespace

Status Segment::WriteIndexFile() const {
  SLUICE_RETURN_IF_ERROR(Sync());  // the index must never promise bytes the disk lacks
  std::string out(kIndexMagic, sizeof(kIndexMagic));
  PutValue<uint32_t>(&out, kFormatVersion);
  PutValue<uint64_t>(&out, size_);
  PutValue<uint64_t>(&out, first_ordinal_);
  PutValue<uint64_t>(&out, end_ordinal_);
  PutValue<int64_t>(&out, first_arrival_ms_);
  PutValue<int64_t>(&out, last_arrival_ms_);
  PutValue<uint64_t>(&out, last_indexed_offset_);
  PutValue<uint64_t>(&out, index_.size());
  for (const IndexEntry& entry : index_) {
    PutValue<uint64_t>(&out, entry.ordinal);
    PutValue<uint64_t>(&out, entry.offset);
    PutValue<int64_t>(&out, entry.arrival_ms);
  }
  PutValue<uint32_t>(&out, Crc32c(out.data(), out.size()));
  return WriteFileAtomically(IndexPathOf(path_, first_ordinal_), out);
}

Result<std::unique_ptr<Segment>> Segment::OpenSealed(const std::string& path,
                                                     uint64_t first_ordinal) {
  Result<std::string> bytes = ReadFile(IndexPathOf(path, first_ordinal));
  if (!bytes.ok()) {
    return NotFound("no index file");
  }
  if (bytes->size() < sizeof(kIndexMagic) + 4 ||
      std::memcmp(bytes->data(), kIndexMagic, sizeof(kIndexMagic)) != 0) {
    return NotFound("index file damaged");
  }
  uint32_t crc = 0;
  std::memcpy(&crc, bytes->data() + bytes->size() - 4, 4);
  if (crc != Crc32c(bytes->data(), bytes->size() - 4)) {
    return NotFound("index file damaged");
  }
  ValueReader in(std::string_view(*bytes).substr(sizeof(kIndexMagic), bytes->size() - 12));
  uint32_t version = 0;
  uint64_t size = 0;
  uint64_t first = 0;
  uint64_t end = 0;
  int64_t first_arrival = 0;
  int64_t last_arrival = 0;
  uint64_t last_indexed = 0;
  uint64_t count = 0;
  if (!in.Get(&version) || version != kFormatVersion || !in.Get(&size) || !in.Get(&first) ||
      first != first_ordinal || !in.Get(&end) || end < first || !in.Get(&first_arrival) ||
      !in.Get(&last_arrival) || !in.Get(&last_indexed) || !in.Get(&count) ||
      count != in.left() / 24 || in.left() % 24 != 0) {
    return NotFound("index file does not match");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open segment " + path);
  }
  std::unique_ptr<Segment> segment(new Segment(path, fd, first_ordinal));
  const off_t file_size = ::lseek(fd, 0, SEEK_END);
  if (file_size < 0 || static_cast<uint64_t>(file_size) != size) {
    return NotFound("index file does not match the segment's size");
  }
  segment->index_.resize(count);
  for (IndexEntry& entry : segment->index_) {
    in.Get(&entry.ordinal);
    in.Get(&entry.offset);
    in.Get(&entry.arrival_ms);
  }
  segment->size_ = size;
  segment->write_offset_ = size;
  segment->end_ordinal_ = end;
  segment->first_arrival_ms_ = first_arrival;
  segment->last_arrival_ms_ = last_arrival;
  segment->last_indexed_offset_ = last_indexed;
  segment->ReleaseDescriptor();  // sealed: reads open the file when they need it
  return segment;
}

Status Segment::Remove() const {
  if (::unlink(path_.c_str()) != 0) {
    return ErrnoStatus("remove segment " + path_);
  }
  const std::string index = IndexPathOf(path_, first_ordinal_);
  if (::unlink(index.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("remove " + index);
  }
  return Status::Ok();
}

Result<Segment::ScanStop> Segment::Scan(uint64_t offset, uint64_t end_offset,
                                        const std::function<bool(const FrameView&)>& visit) const {
  std::string chunk;
  size_t want = kScanChunk;
  while (offset < end_offset) {
    SLUICE_RETURN_IF_ERROR(ReadAt(offset, std::min<uint64_t>(want, end_offset - offset), &chunk));
    std::string_view rest(chunk);
    size_t consumed = 0;
    while (!rest.empty()) {
      FrameView frame;
      const FrameParse parse = ParseFrame(rest, &frame);
      if (parse == FrameParse::kIncomplete) {
        break;
      }
      if (parse == FrameParse::kCorrupt) {
        return ScanStop::kCorrupt;
      }
      if (!visit(frame)) {
        return ScanStop::kStopped;
      }
      consumed += frame.frame_size;
      rest.remove_prefix(frame.frame_size);
    }
    if (consumed == 0) {
      // The frame at `offset` is bigger than the chunk: read it whole, unless the range ends
      // before it does.
      uint32_t frame_size = 0;
      if (chunk.size() >= 4) {
        std::memcpy(&frame_size, chunk.data(), 4);
      }
      if (frame_size <= want || offset + frame_size > end_offset) {
        return ScanStop::kTorn;
      }
      want = frame_size;
      continue;
    }
    offset += consumed;
    want = kScanChunk;
  }
  return ScanStop::kEnd;
}

Status Segment::DropUncommitted() {
  if (write_offset_ == size_) {
    return Status::Ok();
  }
  Result<std::shared_ptr<UniqueFd>> fd = WritableDescriptor();
  if (!fd.ok() || ::ftruncate((*fd)->get(), static_cast<off_t>(size_)) != 0) {
    return Status(Code::kDataLoss,
                  ErrnoStatus("truncate " + path_).message() + " to drop an uncommitted write");
  }
  write_offset_ = size_;
  return Status::Ok();
}

Status Segment::Write(std::string_view frames) {
  Result<std::shared_ptr<UniqueFd>> fd = WritableDescriptor();
  if (!fd.ok()) {
    return fd.status();
  }
  Status status = WriteAll((*fd)->get(), frames, write_offset_, path_);
  if (!status.ok()) {
    // Leave no partial frame behind: a later write would land after it.
    if (::ftruncate((*fd)->get(), static_cast<off_t>(write_offset_)) != 0) {
      return Status(Code::kDataLoss,
                    status.message() + ", and the segment could not be truncated back");
    }
    return status;
  }
  write_offset_ += frames.size();
  return Status::Ok();
}

Status Segment::Sync() const {
  Result<std::shared_ptr<UniqueFd>> fd = Descriptor();
  if (!fd.ok()) {
    return fd.status();
  }
  if (::fdatasync((*fd)->get()) != 0) {
    return ErrnoStatus("fdatasync " + path_);
  }
  return Status::Ok();
}

void Segment::Commit(std::string_view frames) {
  uint64_t offset = size_;
  while (!frames.empty()) {
    uint32_t frame_size = 0;
    uint64_t ordinal = 0;
    int64_t arrival_ms = 0;
    std::memcpy(&frame_size, frames.data(), 4);
    std::memcpy(&ordinal, frames.data() + 8, 8);
    std::memcpy(&arrival_ms, frames.data() + 20, 8);
    if (index_.empty() || offset - last_indexed_offset_ >= kIndexIntervalBytes) {
      index_.push_back({ordinal, offset, arrival_ms});
      last_indexed_offset_ = offset;
    }
    if (end_ordinal_ == first_ordinal_) {
      first_arrival_ms_ = arrival_ms;
    }
    last_arrival_ms_ = arrival_ms;
    end_ordinal_ = ordinal + 1;
    offset += frame_size;
    frames.remove_prefix(frame_size);
  }
  size_ = offset;
  write_offset_ = std::max(write_offset_, size_);
}

Status Segment::ReadAt(uint64_t offset, size_t size, std::string* out) const {
  Result<std::shared_ptr<UniqueFd>> fd = Descriptor();
  if (!fd.ok()) {
    return fd.status();
  }
  out->resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread((*fd)->get(), out->data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return ErrnoStatus("read " + path_);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  out->resize(done);
  return Status::Ok();
}

Segment::IndexEntry Segment::SeekOrdinal(uint64_t ordinal) const {
  auto it = std::upper_bound(index_.begin(), index_.end(), ordinal,
                             [](uint64_t o, const IndexEntry& e) { return o < e.ordinal; });
  if (it == index_.begin()) {
    return {first_ordinal_, kSegmentHeaderSize, first_arrival_ms_};
  }
  return *(it - 1);
}

Segment::IndexEntry Segment::SeekArrival(int64_t arrival_ms) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), arrival_ms,
                             [](const IndexEntry& e, int64_t ms) { return e.arrival_ms < ms; });
  if (it == index_.begin()) {
    return {first_ordinal_, kSegmentHeaderSize, first_arrival_ms_};
  }
  return *(it - 1);
}

}  // namespace sluice::stream
