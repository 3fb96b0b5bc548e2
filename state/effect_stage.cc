#include "state/effect_stage.h"

#include "base/random.h"
#include "base/text.h"
#include "state/kv_document.h"
#include "state/kv_store.h"
#include "state/topics.h"

namespace sluice::state {
namespace {

namespace pb = runtime::v1;
using nlohmann::json;

constexpr size_t kMaxEffects = 1000;
constexpr uint64_t kMaxStagedBytes = 16u << 20;
constexpr size_t kMaxSubjectChars = 100;
constexpr size_t kMaxMessageBytes = 256 << 10;

Status ValidateItemAddress(const std::string& table, const std::string& key) {
  SLUICE_RETURN_IF_ERROR(ValidateTableName(table));
  return ValidateKey(key);
}

// The record an effect belongs to: "" or a sequence number (decimal, no leading zero), which the
// committer compares with the first failed record's.
Status ValidateRecord(const std::string& record) {
  if (record.empty()) {
    return Status::Ok();
  }
  const bool digits = record.size() <= 128 && (record[0] != '0' || record.size() == 1) &&
                      record.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    return InvalidArgument(
        "sluice-record: must be the sequence number of the record being "
        "handled (decimal digits, no leading zero), got \"" +
        record.substr(0, 64) + "\"");
  }
  return Status::Ok();
}

Status ValidatePublish(const pb::PublishRequest& request) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(request.topic()));
  if (request.subject().size() > kMaxSubjectChars) {
    return InvalidArgument("subject: at most " + std::to_string(kMaxSubjectChars) +
                           " characters, got " + std::to_string(request.subject().size()));
  }
  for (char c : request.subject()) {
    if (c < 0x20 || c > 0x7e) {
      return InvalidArgument("subject: may hold only printable ASCII characters");
    }
  }
  if (request.message().empty() || request.message().size() > kMaxMessageBytes) {
    return InvalidArgument("message: must be 1-" + std::to_string(kMaxMessageBytes) +
                           " bytes, got " + std::to_string(request.message().size()));
  }
  if (!IsValidUtf8(request.message())) {
    return InvalidArgument("message: not valid UTF-8");
  }
  return Status::Ok();
}

}  // namespace

std::set<std::string> BatchRecords(const pb::Invoke& invoke) {
  const pb::KinesisBatch* batch = invoke.has_kinesis()          ? &invoke.kinesis()
                                  : invoke.has_kinesis_window() ? &invoke.kinesis_window().batch()
                                                                : nullptr;
  std::set<std::string> records;
  if (batch != nullptr) {
    for (const pb::KinesisRecord& record : batch->records()) {
      records.insert(record.sequence_number());
    }
  }
  return records;
}

EffectStage::EffectStage(StateDb* db, const invoker::FunctionConfig& function,
                         std::set<std::string> batch_records)
    : db_(db), function_(function), batch_records_(std::move(batch_records)) {}

Status EffectStage::CheckRecord(const std::string& record) const {
  SLUICE_RETURN_IF_ERROR(ValidateRecord(record));
  if (!record.empty() && !batch_records_.empty() && batch_records_.count(record) == 0) {
    return InvalidArgument("sluice-record: " + record.substr(0, 64) +
                           " is not the sequence number of a record of this invoke's batch");
  }
  return Status::Ok();
}

const std::string& EffectStage::function_name() const {
  return function_.name;
}

Status EffectStage::CheckTableAccess(const std::string& table, bool write) const {
  auto it = function_.tables.find(table);
  if (it == function_.tables.end()) {
    return PermissionDenied("function \"" + function_.name + "\" may not use table \"" + table +
                            "\": it is not in the manifest property \"Tables\"");
  }
  if (write && it->second != invoker::TableAccess::kReadWrite) {
    return PermissionDenied("function \"" + function_.name + "\" may not write table \"" + table +
                            "\": the manifest property \"Tables\" gives it \"Read\", not "
                            "\"ReadWrite\"");
  }
  return Status::Ok();
}

Status EffectStage::CheckOpen() const {
  if (sealed_) {
    return FailedPrecondition("the invoke of function \"" + function_.name +
                              "\" has ended; its effects can no longer change");
  }
  return Status::Ok();
}

Status EffectStage::CheckRoom(uint64_t bytes) const {
  if (effects_.size() >= kMaxEffects) {
    return ResourceExhausted("function \"" + function_.name + "\": at most " +
                             std::to_string(kMaxEffects) + " effects per invoke");
  }
  if (staged_bytes_ + bytes > kMaxStagedBytes) {
    return ResourceExhausted("function \"" + function_.name + "\": at most " +
                             std::to_string(kMaxStagedBytes) +
                             " bytes of values and messages per invoke");
  }
  return Status::Ok();
}

Result<std::optional<json>> EffectStage::CurrentItem(const std::string& table,
                                                     const std::string& key) {
  auto staged = overlay_.find({table, key});
  if (staged == overlay_.end()) {
    std::optional<json> item;
    SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
      Result<std::optional<json>> committed = KvStore::GetItem(txn, table, key);
      SLUICE_RETURN_IF_ERROR(committed.status());
      item = std::move(*committed);
      return Status::Ok();
    }));
    return item;
  }
  if (!staged->second) {
    return std::optional<json>();
  }
  Result<json> item = ParseValue(*staged->second);
  SLUICE_RETURN_IF_ERROR(item.status());
  return std::optional<json>(std::move(*item));
}

void EffectStage::Stage(StagedEffect effect, uint64_t bytes) {
  staged_bytes_ += bytes;
  effects_.push_back(std::move(effect));
}

template <typename Request>
Status EffectStage::StageKvWrite(const std::string& record, const Request& request,
                                 const KvWrite& write) {
  SLUICE_RETURN_IF_ERROR(CheckRecord(record));
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(request.table(), request.key()));
  Result<uint64_t> known_bytes = write.validate();
  SLUICE_RETURN_IF_ERROR(known_bytes.status());
  SLUICE_RETURN_IF_ERROR(ValidateConditions(request.conditions()));
  SLUICE_RETURN_IF_ERROR(CheckTableAccess(request.table(), /*write=*/true));
  const uint64_t request_bytes = request.ByteSizeLong();
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(CheckOpen());
  SLUICE_RETURN_IF_ERROR(CheckRoom(request_bytes + *known_bytes));
  Result<std::optional<json>> item = CurrentItem(request.table(), request.key());
  SLUICE_RETURN_IF_ERROR(item.status());
  SLUICE_RETURN_IF_ERROR(
      CheckConditions(request.table(), request.key(), *item, request.conditions()));
  StagedEffect effect;
  effect.kind = write.kind;
  effect.record = record;
  effect.table = request.table();
  effect.key = request.key();
  Result<std::optional<std::string>> after = write.apply(*item, &effect);
  SLUICE_RETURN_IF_ERROR(after.status());
  const uint64_t bytes = request_bytes + (*after ? (*after)->size() : 0);
  SLUICE_RETURN_IF_ERROR(CheckRoom(bytes));
  overlay_[{effect.table, effect.key}] = std::move(*after);
  Stage(std::move(effect), bytes);
  return Status::Ok();
}

Status EffectStage::KvGet(const std::string& /*record*/, const pb::KvGetRequest& request,
                          pb::KvGetResponse* response) {
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(request.table(), request.key()));
  SLUICE_RETURN_IF_ERROR(CheckTableAccess(request.table(), /*write=*/false));
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(CheckOpen());
  Result<std::optional<json>> item = CurrentItem(request.table(), request.key());
  SLUICE_RETURN_IF_ERROR(item.status());
  response->set_found(item->has_value());
  if (*item) {
    response->set_value_json((*item)->dump());
  }
  return Status::Ok();
}

Status EffectStage::KvPut(const std::string& record, const pb::KvPutRequest& request,
                          pb::KvPutResponse* /*response*/) {
  // The stage keeps the value twice (the request's in the effect, the compact one in the overlay).
  std::string compact;
  return StageKvWrite(record, request,
                      {StagedEffect::Kind::kPut,
                       [&]() -> Result<uint64_t> {
                         Result<json> value = ParseValue(request.value_json());
                         SLUICE_RETURN_IF_ERROR(value.status());
                         compact = value->dump();
                         return compact.size();
                       },
                       [&](const std::optional<json>& /*item*/,
                           StagedEffect* effect) -> Result<std::optional<std::string>> {
                         effect->value_json = compact;
                         effect->conditions = request.conditions();
                         return std::optional<std::string>(std::move(compact));
                       }});
}

Status EffectStage::KvDelete(const std::string& record, const pb::KvDeleteRequest& request,
                             pb::KvDeleteResponse* response) {
  bool existed = false;
  SLUICE_RETURN_IF_ERROR(
      StageKvWrite(record, request,
                   {StagedEffect::Kind::kDelete, []() -> Result<uint64_t> { return 0; },
                    [&](const std::optional<json>& item,
                        StagedEffect* effect) -> Result<std::optional<std::string>> {
                      existed = item.has_value();
                      effect->conditions = request.conditions();
                      return std::optional<std::string>();
                    }}));
  response->set_existed(existed);
  return Status::Ok();
}

Status EffectStage::KvQuery(const std::string& /*record*/, const pb::KvQueryRequest& request,
                            pb::KvQueryResponse* response) {
  Result<uint32_t> limit = ValidateQuery(request.table(), request.key_prefix(), request.limit(),
                                         request.exclusive_start_key());
  SLUICE_RETURN_IF_ERROR(limit.status());
  SLUICE_RETURN_IF_ERROR(CheckTableAccess(request.table(), /*write=*/false));
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(CheckOpen());
  // This stage's items of the query, in key order: they replace committed items of the same key.
  // The keys that start with the prefix are the first of those at or after it.
  const std::string& start = request.exclusive_start_key();
  auto staged = start >= request.key_prefix()
                    ? overlay_.upper_bound({request.table(), start})
                    : overlay_.lower_bound({request.table(), request.key_prefix()});
  const auto in_query = [&](const auto& it) {
    return it != overlay_.end() && it->first.first == request.table() &&
           it->first.second.starts_with(request.key_prefix());
  };
  std::vector<KvEntry> merged;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    std::vector<KvEntry> committed;
    size_t next_committed = 0;
    std::string cursor = request.exclusive_start_key();
    bool more_committed = true;
    size_t bytes = 0;
    // One item more than the limit (or than the page's bytes allow) tells whether more follow.
    while (merged.size() <= *limit && bytes <= kMaxQueryPageBytes) {
      if (next_committed == committed.size() && more_committed) {
        Result<KvPage> page =
            KvStore::Query(txn, request.table(), request.key_prefix(), *limit, cursor);
        SLUICE_RETURN_IF_ERROR(page.status());
        committed = std::move(page->items);
        next_committed = 0;
        more_committed = !page->last_evaluated_key.empty();
        cursor = page->last_evaluated_key;
      }
      const bool have_committed = next_committed < committed.size();
      const bool have_staged = in_query(staged);
      if (!have_committed && !have_staged) {
        break;
      }
      if (have_staged &&
          (!have_committed || staged->first.second <= committed[next_committed].key)) {
        if (have_committed && staged->first.second == committed[next_committed].key) {
          ++next_committed;  // replaced (or deleted) by this stage
        }
        if (staged->second) {
          merged.push_back({staged->first.second, *staged->second, 0});
        } else {
          ++staged;
          continue;
        }
        ++staged;
      } else {
        merged.push_back(std::move(committed[next_committed++]));
      }
      bytes += merged.back().key.size() + merged.back().value_json.size();
    }
    return Status::Ok();
  }));
  // Trim to the limit and to the page's bytes (keeping at least one item).
  size_t keep = 0;
  size_t kept_bytes = 0;
  while (keep < merged.size() && keep < *limit) {
    const size_t entry_bytes = merged[keep].key.size() + merged[keep].value_json.size();
    if (keep > 0 && kept_bytes + entry_bytes > kMaxQueryPageBytes) {
      break;
    }
    kept_bytes += entry_bytes;
    ++keep;
  }
  if (keep < merged.size()) {
    merged.resize(keep);
    response->set_last_evaluated_key(merged.back().key);
  }
  for (KvEntry& entry : merged) {
    pb::KvItem* item = response->add_items();
    item->set_key(std::move(entry.key));
    item->set_value_json(std::move(entry.value_json));
  }
  return Status::Ok();
}

Status EffectStage::KvUpdate(const std::string& record, const pb::KvUpdateRequest& request,
                             pb::KvUpdateResponse* response) {
  std::string compact;
  SLUICE_RETURN_IF_ERROR(
      StageKvWrite(record, request,
                   {StagedEffect::Kind::kUpdate,
                    [&]() -> Result<uint64_t> {
                      SLUICE_RETURN_IF_ERROR(ValidateUpdateActions(request.actions()));
                      return 0;
                    },
                    [&](const std::optional<json>& item,
                        StagedEffect* effect) -> Result<std::optional<std::string>> {
                      Result<json> after = ApplyUpdate(item, request.actions());
                      SLUICE_RETURN_IF_ERROR(after.status());
                      compact = after->dump();
                      effect->update = request;
                      return std::optional<std::string>(compact);
                    }}));
  response->set_value_json(std::move(compact));
  return Status::Ok();
}

Status EffectStage::Publish(const std::string& record, const pb::PublishRequest& request,
                            pb::PublishResponse* response) {
  SLUICE_RETURN_IF_ERROR(CheckRecord(record));
  SLUICE_RETURN_IF_ERROR(ValidatePublish(request));
  if (function_.topics.count(request.topic()) == 0) {
    return PermissionDenied("function \"" + function_.name + "\" may not publish to topic \"" +
                            request.topic() + "\": it is not in the manifest property \"Topics\"");
  }
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(CheckOpen());
  const uint64_t bytes = request.subject().size() + request.message().size();
  SLUICE_RETURN_IF_ERROR(CheckRoom(bytes));
  bool exists = false;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<bool> found = TopicCatalog::Exists(txn, request.topic());
    SLUICE_RETURN_IF_ERROR(found.status());
    exists = *found;
    return Status::Ok();
  }));
  if (!exists) {
    return NotFound("topic \"" + request.topic() + "\" does not exist");
  }
  StagedEffect effect;
  effect.kind = StagedEffect::Kind::kPublish;
  effect.record = record;
  effect.topic = request.topic();
  effect.subject = request.subject();
  effect.message = request.message();
  effect.message_id = RandomUuid();
  response->set_message_id(effect.message_id);
  Stage(std::move(effect), bytes);
  return Status::Ok();
}

std::vector<StagedEffect> EffectStage::Seal() {
  std::lock_guard<std::mutex> lock(mu_);
  sealed_ = true;
  overlay_.clear();
  std::vector<StagedEffect> effects;
  effects.swap(effects_);
  return effects;
}

}  // namespace sluice::state
