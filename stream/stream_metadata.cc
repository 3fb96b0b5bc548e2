#include "stream/stream_metadata.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace sluice::stream {
namespace {

constexpr int kFormat = 1;

nlohmann::json OptionalIndex(const std::optional<uint32_t>& index) {
  return index ? nlohmann::json(*index) : nlohmann::json(nullptr);
}

}  // namespace

std::string StreamMetadata::ToJson() const {
  nlohmann::json shard_list = nlohmann::json::array();
  for (const ShardMetadata& shard : shards) {
    shard_list.push_back({{"index", shard.index},
                          {"starting_hash_key", ToDecimal(shard.range.start)},
                          {"ending_hash_key", ToDecimal(shard.range.end)},
                          {"parent", OptionalIndex(shard.parent)},
                          {"adjacent_parent", OptionalIndex(shard.adjacent_parent)},
                          {"closed", shard.closed}});
  }
  const nlohmann::json json = {{"format", kFormat},        {"name", name},
                               {"created_ms", created_ms}, {"retention_hours", retention_hours},
                               {"generation", generation}, {"next_shard_index", next_shard_index},
                               {"shards", shard_list}};
  return json.dump(2) + "\n";
}

Result<StreamMetadata> StreamMetadata::FromJson(const std::string& text) {
  // The parse edge: json exceptions stop here.
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    if (json.at("format").get<int>() != kFormat) {
      return InvalidArgument("format: unsupported version " + json.at("format").dump());
    }
    StreamMetadata meta;
    meta.name = json.at("name").get<std::string>();
    meta.created_ms = json.at("created_ms").get<int64_t>();
    meta.retention_hours = json.at("retention_hours").get<int32_t>();
    meta.generation = json.at("generation").get<uint32_t>();
    meta.next_shard_index = json.at("next_shard_index").get<uint32_t>();
    for (const nlohmann::json& item : json.at("shards")) {
      ShardMetadata shard;
      shard.index = item.at("index").get<uint32_t>();
      const auto start = ParseDecimal(item.at("starting_hash_key").get<std::string>());
      const auto end = ParseDecimal(item.at("ending_hash_key").get<std::string>());
      if (!start || !end || *start > *end) {
        return InvalidArgument("shards[" + std::to_string(meta.shards.size()) +
                               "]: bad hash key range");
      }
      shard.range = {*start, *end};
      if (!item.at("parent").is_null()) {
        shard.parent = item.at("parent").get<uint32_t>();
      }
      if (!item.at("adjacent_parent").is_null()) {
        shard.adjacent_parent = item.at("adjacent_parent").get<uint32_t>();
      }
      shard.closed = item.at("closed").get<bool>();
      if (shard.index != meta.shards.size()) {
        return InvalidArgument("shards[" + std::to_string(meta.shards.size()) +
                               "]: index out of order");
      }
      meta.shards.push_back(shard);
    }
    if (meta.next_shard_index != meta.shards.size()) {
      return InvalidArgument("next_shard_index: does not match the shard list");
    }
    if (meta.retention_hours < 24 || meta.retention_hours > 8760) {
      return InvalidArgument("retention_hours: must be 24-8760");
    }
    // The open shards must tile the hash key space exactly, or routing has no answer.
    std::vector<HashKeyRange> open;
    for (const ShardMetadata& shard : meta.shards) {
      if (!shard.closed) {
        open.push_back(shard.range);
      }
    }
    std::sort(open.begin(), open.end(),
              [](const HashKeyRange& a, const HashKeyRange& b) { return a.start < b.start; });
    bool tiled = !open.empty() && open.front().start == 0 && open.back().end == kMaxUint128;
    for (size_t i = 1; tiled && i < open.size(); ++i) {
      tiled = open[i - 1].end != kMaxUint128 && open[i - 1].end + 1 == open[i].start;
    }
    if (!tiled) {
      return InvalidArgument("shards: the open shards do not cover the hash key space exactly");
    }
    return meta;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("stream metadata: ") + e.what());
  }
}

std::string ShardIdString(uint32_t index) {
  char id[32];
  snprintf(id, sizeof(id), "shardId-%012u", index);
  return id;
}

std::optional<uint32_t> ParseShardId(std::string_view text) {
  constexpr std::string_view kPrefix = "shardId-";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());
  if (text.empty() || text.size() > 12) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > INT32_MAX) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

}  // namespace sluice::stream
