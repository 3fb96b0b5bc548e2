#include "poller/shard_progress.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <set>

#include "base/json_fields.h"
#include "base/text.h"
#include "stream/hash_key.h"

namespace sluice::poller {
namespace {

using nlohmann::json;

// The stream's sequence numbers: 38 decimal digits, so they compare as text.
constexpr size_t kSequenceDigits = 38;

bool IsSequenceNumber(const std::string& text) {
  return text.size() == kSequenceDigits &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The lane number a laneDone key names ("0", "7"; canonical decimal), or -1.
int LaneFromKey(const std::string& key) {
  int lane = -1;
  const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), lane);
  if (error != std::errc() || end != key.data() + key.size() || std::to_string(lane) != key) {
    return -1;
  }
  return lane;
}

// Parses one {"lanes": N, "laneDone": {...}} object at JSON path `where`; `known` lists the
// properties it may have. Adds its positions to `restored` (the highest per lane of one N).
Status ParseLanePositions(const json& object, const std::string& where,
                          const std::set<std::string>& known,
                          std::map<int, std::map<int, std::string>>* restored) {
  const JsonFields fields(object, where);
  SLUICE_RETURN_IF_ERROR(fields.Check(known));
  if (!fields.Has("lanes") || !fields.Has("laneDone")) {
    return InvalidArgument(where + ": must have \"lanes\" and \"laneDone\"");
  }
  int64_t lanes = 0;
  SLUICE_RETURN_IF_ERROR(fields.Integer("lanes", 1, INT_MAX, &lanes));
  Result<const json*> lane_done = fields.Object("laneDone");
  if (!lane_done.ok()) {
    return lane_done.status();
  }
  std::map<int, std::string>& positions = (*restored)[static_cast<int>(lanes)];
  for (const auto& [key, value] : (*lane_done)->items()) {
    const std::string at = fields.Where("laneDone") + "." + key;
    const int lane = LaneFromKey(key);
    if (lane < 0 || lane >= lanes) {
      return InvalidArgument(at + ": not a lane number from 0 to " + std::to_string(lanes - 1));
    }
    if (!value.is_string() || !IsSequenceNumber(value.get<std::string>())) {
      return InvalidArgument(at + ": must be a 38-digit sequence number, got " +
                             value.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    std::string& position = positions[lane];
    position = std::max(position, value.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

ShardProgress::ShardProgress(int lanes) : lanes_(lanes), unfinished_(lanes) {}

Status ShardProgress::Restore(const std::string& sequence_number, const json& detail) {
  if (!sequence_number.empty() && !IsSequenceNumber(sequence_number)) {
    return InvalidArgument("checkpoint sequence number: must be \"\" or 38 digits, got \"" +
                           sequence_number + "\"");
  }
  std::map<int, LaneDone> restored;
  if (!detail.is_null()) {
    SLUICE_RETURN_IF_ERROR(ParseLanePositions(detail, "checkpoint detail",
                                              {"lanes", "laneDone", "before"}, &restored));
    const JsonFields fields(detail, "checkpoint detail");
    Result<std::vector<const json*>> before = fields.Array("before");
    if (!before.ok()) {
      return before.status();
    }
    for (size_t i = 0; i < before->size(); ++i) {
      SLUICE_RETURN_IF_ERROR(ParseLanePositions(
          *(*before)[i], Indexed("checkpoint detail.before", i), {"lanes", "laneDone"}, &restored));
    }
  }
  checkpoint_ = sequence_number;
  records_.clear();
  first_index_ = 0;
  unfinished_.assign(lanes_, {});
  restored_ = std::move(restored);
  auto same_lanes = restored_.find(lanes_);
  lane_done_ = same_lanes == restored_.end() ? LaneDone() : same_lanes->second;
  return Status::Ok();
}

int ShardProgress::LaneOf(std::string_view partition_key) const {
  if (lanes_ == 1) {
    return 0;  // no MD5 per record when there is one lane
  }
  return static_cast<int>(stream::PartitionKeyHash(partition_key) %
                          static_cast<stream::Uint128>(lanes_));
}

bool ShardProgress::FinishedBeforeRestart(const std::string& sequence_number,
                                          std::string_view partition_key) const {
  if (restored_.empty()) {
    return false;
  }
  const stream::Uint128 hash = stream::PartitionKeyHash(partition_key);
  for (const auto& [lanes, done] : restored_) {
    auto position = done.find(static_cast<int>(hash % static_cast<stream::Uint128>(lanes)));
    if (position != done.end() && sequence_number <= position->second) {
      return true;
    }
  }
  return false;
}

void ShardProgress::Add(const std::string& sequence_number, int lane) {
  unfinished_[lane].push_back(first_index_ + records_.size());
  records_.push_back({sequence_number, lane, false});
}

void ShardProgress::Finish(int lane, const std::string& sequence_number) {
  std::deque<uint64_t>& pending = unfinished_[lane];
  while (!pending.empty() && At(pending.front()).sequence_number <= sequence_number) {
    At(pending.front()).finished = true;
    pending.pop_front();
  }
  MarkLaneDone(lane, sequence_number);
  Advance();
}

void ShardProgress::FinishOne(const std::string& sequence_number) {
  auto entry = std::lower_bound(
      records_.begin(), records_.end(), sequence_number,
      [](const Entry& e, const std::string& sequence) { return e.sequence_number < sequence; });
  if (entry == records_.end() || entry->sequence_number != sequence_number || entry->finished) {
    return;  // not Added, already finished, or already in the prefix
  }
  entry->finished = true;
  const uint64_t index = first_index_ + static_cast<uint64_t>(entry - records_.begin());
  std::deque<uint64_t>& pending = unfinished_[entry->lane];
  // Usually the record was just Added (a filtered one): the lane's newest.
  auto position = std::find(pending.rbegin(), pending.rend(), index);
  if (position != pending.rend()) {
    pending.erase(std::next(position).base());
  }
  if (pending.empty() || sequence_number < At(pending.front()).sequence_number) {
    MarkLaneDone(entry->lane, sequence_number);
  }
  Advance();
}

void ShardProgress::MarkLaneDone(int lane, const std::string& sequence_number) {
  std::string& done = lane_done_[lane];
  done = std::max(done, sequence_number);
}

void ShardProgress::Advance() {
  while (!records_.empty() && records_.front().finished) {
    checkpoint_ = std::move(records_.front().sequence_number);
    records_.pop_front();
    ++first_index_;
  }
}

json ShardProgress::LaneDoneJson(const LaneDone& done, const std::string& checkpoint) {
  json lane_done = json::object();
  for (const auto& [lane, sequence_number] : done) {
    if (sequence_number > checkpoint) {
      lane_done[std::to_string(lane)] = sequence_number;
    }
  }
  return lane_done;
}

json ShardProgress::DetailFor(const LaneDone& lane_done, const std::string& checkpoint) const {
  json detail = {{"lanes", lanes_}, {"laneDone", LaneDoneJson(lane_done, checkpoint)}};
  json before = json::array();
  for (const auto& [lanes, done] : restored_) {
    json restored_done = LaneDoneJson(done, checkpoint);
    if (lanes != lanes_ && !restored_done.empty()) {
      before.push_back({{"lanes", lanes}, {"laneDone", std::move(restored_done)}});
    }
  }
  if (!before.empty()) {
    detail["before"] = std::move(before);
  }
  return detail;
}

json ShardProgress::Detail() const {
  return DetailFor(lane_done_, checkpoint_);
}

std::pair<std::string, json> ShardProgress::Preview(int lane,
                                                    const std::string& sequence_number) const {
  std::string checkpoint = checkpoint_;
  for (const Entry& entry : records_) {
    const bool finished =
        entry.finished || (entry.lane == lane && entry.sequence_number <= sequence_number);
    if (!finished) {
      break;
    }
    checkpoint = entry.sequence_number;
  }
  LaneDone lane_done = lane_done_;
  std::string& done = lane_done[lane];
  done = std::max(done, sequence_number);
  json detail = DetailFor(lane_done, checkpoint);
  return {std::move(checkpoint), std::move(detail)};
}

}  // namespace sluice::poller
