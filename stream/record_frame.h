// RecordFrame: how one record is laid out in a segment file. All integers little-endian,
// fixed width:
//
//   u32 frame_size   bytes of the whole frame, this field included
//   u32 crc32c       CRC-32C of every byte after this field
//   u64 ordinal      the record's dense position in its shard
//   u32 generation   see sequence_number.h
//   i64 arrival_ms   approximate arrival time, Unix milliseconds
//   u16 key_size     partition key bytes (UTF-8)
//   u32 data_size    data bytes
//   key bytes, then data bytes
//
// A torn write leaves a frame whose size runs past the end of the file or whose checksum fails;
// recovery cuts the log at the last frame that is whole.
// Stateless free functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::stream {

inline constexpr size_t kFrameHeaderSize = 34;
// Larger than any valid frame (1 MiB data + 1 KiB key + header) with room to spare; a size field
// above it is corruption, not a record.
inline constexpr uint32_t kMaxFrameSize = 16u << 20;

// A record as stored: what readers get back. The views point into the buffer that was parsed.
struct FrameView {
  std::string_view bytes;  // the whole frame
  uint32_t frame_size = 0;
  uint64_t ordinal = 0;
  uint32_t generation = 0;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  std::string_view data;
};

// Appends one encoded frame to *out.
void AppendFrame(std::string* out, uint64_t ordinal, uint32_t generation, int64_t arrival_ms,
                 std::string_view partition_key, std::string_view data);

enum class FrameParse {
  kOk,          // *frame is filled; frame->frame_size bytes were consumed
  kIncomplete,  // fewer bytes than the frame needs: read more (or, at end of file, a torn tail)
  kCorrupt,     // the bytes cannot be a frame: bad size or checksum
};

// Parses the frame at the start of `bytes`.
FrameParse ParseFrame(std::string_view bytes, FrameView* frame);

}  // namespace sluice::stream
