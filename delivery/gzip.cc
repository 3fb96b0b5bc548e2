#include "delivery/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <new>

namespace sluice::delivery {
namespace {

// 15: the largest window; +16: a gzip wrapper (header and CRC-32 trailer) instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
constexpr size_t kChunkBytes = 64 << 10;

// zlib's counts are 32-bit: hands `stream` the next piece of `data` once it has used the last.
void Feed(z_stream& stream, std::string_view data, size_t& fed) {
  if (stream.avail_in == 0 && fed < data.size()) {
    const size_t piece = std::min<size_t>(data.size() - fed, UINT_MAX);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
    stream.avail_in = static_cast<uInt>(piece);
    fed += piece;
  }
}

}  // namespace

std::string GzipCompress(std::string_view data) {
  z_stream stream{};
  // With valid parameters, only a failed allocation can make this fail.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, &deflateEnd);
  std::string out;
  std::array<unsigned char, kChunkBytes> buffer;
  size_t fed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    Feed(stream, data, fed);
    stream.next_out = buffer.data();
    stream.avail_out = buffer.size();
    rc = deflate(&stream, fed == data.size() ? Z_FINISH : Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
  }
  return out;
}

Result<std::string> GzipDecompress(std::string_view data) {
  if (data.empty()) {
    return InvalidArgument("not gzip data: empty");
  }
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindowBits) != Z_OK) {
    throw std::bad_alloc();
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, &inflateEnd);
  std::string out;
  std::array<unsigned char, kChunkBytes> buffer;
  size_t fed = 0;
  while (true) {
    Feed(stream, data, fed);
    stream.next_out = buffer.data();
    stream.avail_out = buffer.size();
    const int rc = inflate(&stream, Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
    const bool input_used = stream.avail_in == 0 && fed == data.size();
    if (rc == Z_STREAM_END) {
      if (input_used) {
        return out;
      }
      inflateReset(&stream);  // another member follows (as `cat a.gz b.gz` makes)
    } else if (rc == Z_BUF_ERROR && input_used) {
      return InvalidArgument("gzip data is truncated");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return InvalidArgument(std::string("not gzip data: ") +
                             (stream.msg != nullptr ? stream.msg : zError(rc)));
    }
  }
}

}  // namespace sluice::delivery
