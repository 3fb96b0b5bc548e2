#include "stream/record_frame.h"

#include <cstring>

#include "stream/crc32c.h"

namespace sluice::stream {
namespace {

template <typename T>
void Put(char* p, T value) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "frames are little-endian");
  std::memcpy(p, &value, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

void AppendFrame(std::string* out, uint64_t ordinal, uint32_t generation, int64_t arrival_ms,
                 std::string_view partition_key, std::string_view data) {
  const size_t frame_size = kFrameHeaderSize + partition_key.size() + data.size();
  const size_t start = out->size();
  out->resize(start + frame_size);
  char* p = out->data() + start;
  Put<uint32_t>(p, static_cast<uint32_t>(frame_size));
  Put<uint64_t>(p + 8, ordinal);
  Put<uint32_t>(p + 16, generation);
  Put<int64_t>(p + 20, arrival_ms);
  Put<uint16_t>(p + 28, static_cast<uint16_t>(partition_key.size()));
  Put<uint32_t>(p + 30, static_cast<uint32_t>(data.size()));
  std::memcpy(p + kFrameHeaderSize, partition_key.data(), partition_key.size());
  std::memcpy(p + kFrameHeaderSize + partition_key.size(), data.data(), data.size());
  Put<uint32_t>(p + 4, Crc32c(p + 8, frame_size - 8));
}

FrameParse ParseFrame(std::string_view bytes, FrameView* frame) {
  if (bytes.size() < 4) {
    return FrameParse::kIncomplete;
  }
  const uint32_t frame_size = Get<uint32_t>(bytes.data());
  if (frame_size < kFrameHeaderSize || frame_size > kMaxFrameSize) {
    return FrameParse::kCorrupt;
  }
  if (bytes.size() < frame_size) {
    return FrameParse::kIncomplete;
  }
  const char* p = bytes.data();
  const uint16_t key_size = Get<uint16_t>(p + 28);
  const uint32_t data_size = Get<uint32_t>(p + 30);
  if (size_t{kFrameHeaderSize} + key_size + data_size != frame_size ||
      Get<uint32_t>(p + 4) != Crc32c(p + 8, frame_size - 8)) {
    return FrameParse::kCorrupt;
  }
  frame->bytes = bytes.substr(0, frame_size);
  frame->frame_size = frame_size;
  frame->ordinal = Get<uint64_t>(p + 8);
  frame->generation = Get<uint32_t>(p + 16);
  frame->arrival_ms = Get<int64_t>(p + 20);
  frame->partition_key = std::string_view(p + kFrameHeaderSize, key_size);
  frame->data = std::string_view(p + kFrameHeaderSize + key_size, data_size);
  return FrameParse::kOk;
}

}  // namespace sluice::stream
