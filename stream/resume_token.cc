#include "stream/resume_token.h"

#include <charconv>
#include <vector>

#include "sluice/base64.h"
#include "stream/stream_store.h"

namespace sluice::stream {
namespace {

constexpr std::string_view kIteratorVersion = "sluice-iterator-1";
constexpr std::string_view kListShardsVersion = "sluice-list-shards-1";
constexpr std::string_view kListStreamsVersion = "sluice-list-streams-1";

std::string_view VersionOf(ResumeToken::Kind kind) {
  switch (kind) {
    case ResumeToken::Kind::kShardIterator: return kIteratorVersion;
    case ResumeToken::Kind::kListShards: return kListShardsVersion;
    case ResumeToken::Kind::kListStreams: return kListStreamsVersion;
  }
  return kIteratorVersion;  // can't-happen: every kind is listed above
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string ResumeToken::Encode() const {
  std::string plain;
  plain.append(VersionOf(kind)).push_back('/');
  plain.append(std::to_string(stream_created_ms)).push_back('/');
  plain.append(std::to_string(shard_index)).push_back('/');
  plain.append(std::to_string(ordinal)).push_back('/');
  plain.append(std::to_string(issued_ms)).push_back('/');
  plain.append(stream_name);
  return Base64Encode(plain);
}

std::optional<ResumeToken> ResumeToken::Decode(std::string_view text) {
  std::string plain;
  if (text.size() > 512 || !Base64Decode(text, &plain)) {
    return std::nullopt;
  }
  std::vector<std::string_view> parts;
  std::string_view rest(plain);
  for (int i = 0; i < 5; ++i) {
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return std::nullopt;
    }
    parts.push_back(rest.substr(0, slash));
    rest.remove_prefix(slash + 1);
  }
  ResumeToken token;
  token.stream_name = std::string(rest);
  if (parts[0] == kIteratorVersion) {
    token.kind = Kind::kShardIterator;
  } else if (parts[0] == kListShardsVersion) {
    token.kind = Kind::kListShards;
  } else if (parts[0] == kListStreamsVersion) {
    token.kind = Kind::kListStreams;
  } else {
    return std::nullopt;
  }
  if (!ParseNumber(parts[1], &token.stream_created_ms) ||
      !ParseNumber(parts[2], &token.shard_index) || !ParseNumber(parts[3], &token.ordinal) ||
      !ParseNumber(parts[4], &token.issued_ms) || !IsValidStreamName(token.stream_name)) {
    return std::nullopt;
  }
  return token;
}

}  // namespace sluice::stream
