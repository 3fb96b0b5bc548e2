#include "state/effect_committer.h"

#include <set>
#include <utility>
#include <vector>

#include "state/kv_document.h"
#include "state/kv_store.h"
#include "state/outbox.h"
#include "state/topics.h"

namespace sluice::state {
namespace {

namespace pb = runtime::v1;
using nlohmann::json;

// Whether `effect` commits, given the first failed record (see effect_committer.h).
bool Commits(const StagedEffect& effect, const std::optional<std::string>& first_failed_record) {
  if (!first_failed_record) {
    return true;
  }
  return !effect.record.empty() && CompareSequenceNumbers(effect.record, *first_failed_record) < 0;
}

// The committed item of (table, key) when `conditions` hold for it; a failed condition is ABORTED.
Result<std::optional<json>> CheckCommitted(Transaction& txn, const std::string& table,
                                           const std::string& key, const KvConditions& conditions) {
  Result<std::optional<json>> item = KvStore::GetItem(txn, table, key);
  SLUICE_RETURN_IF_ERROR(item.status());
  Status check = CheckConditions(table, key, *item, conditions);
  if (!check.ok()) {
    return Status(Code::kAborted, check.message());
  }
  return item;
}

// Applies one kv effect to the committed tables.
Status ApplyKvEffect(Transaction& txn, const StagedEffect& effect) {
  switch (effect.kind) {
    case StagedEffect::Kind::kPut:
      SLUICE_RETURN_IF_ERROR(
          CheckCommitted(txn, effect.table, effect.key, effect.conditions).status());
      return KvStore::Put(txn, effect.table, effect.key, effect.value_json);
    case StagedEffect::Kind::kDelete:
      SLUICE_RETURN_IF_ERROR(
          CheckCommitted(txn, effect.table, effect.key, effect.conditions).status());
      return KvStore::Delete(txn, effect.table, effect.key).status();
    case StagedEffect::Kind::kUpdate: {
      Result<std::optional<json>> item =
          CheckCommitted(txn, effect.table, effect.key, effect.update.conditions());
      SLUICE_RETURN_IF_ERROR(item.status());
      Result<json> after = ApplyUpdate(*item, effect.update.actions());
      if (!after.ok()) {
        // The committed item changed under the invoke so that its update no longer applies.
        return Status(Code::kAborted, effect.table + "/" + effect.key +
                                          ": the update no longer applies to the committed "
                                          "item: " +
                                          after.status().message());
      }
      return KvStore::Put(txn, effect.table, effect.key, after->dump());
    }
    case StagedEffect::Kind::kPublish: break;
  }
  return Internal("not a key-value effect");
}

}  // namespace

int CompareSequenceNumbers(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) {
    return a.size() < b.size() ? -1 : 1;
  }
  const int order = a.compare(b);
  return (order > 0) - (order < 0);
}

std::optional<std::string> FirstFailedRecord(const std::set<std::string>& batch_records,
                                             const pb::InvokeResponse& response) {
  const google::protobuf::RepeatedPtrField<pb::BatchItemFailure>* failures = nullptr;
  if (response.has_kinesis()) {
    failures = &response.kinesis().batch_item_failures();
  } else if (response.has_kinesis_window()) {
    failures = &response.kinesis_window().batch_item_failures();
  } else {
    return std::nullopt;
  }
  if (failures->empty() || batch_records.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> first;
  for (const pb::BatchItemFailure& failure : *failures) {
    if (!batch_records.count(failure.item_identifier())) {
      // Unknown, empty or malformed: the whole batch failed, from its lowest record.
      first.reset();
      for (const std::string& record : batch_records) {
        if (!first || CompareSequenceNumbers(record, *first) < 0) {
          first = record;
        }
      }
      return first;
    }
    if (!first || CompareSequenceNumbers(failure.item_identifier(), *first) < 0) {
      first = failure.item_identifier();
    }
  }
  return first;
}

EffectCommitter::EffectCommitter(StateDb* db, Clock* clock, std::function<void()> on_enqueued)
    : db_(db), clock_(clock), on_enqueued_(std::move(on_enqueued)) {}

Result<CommitResult> EffectCommitter::Commit(const CommitRequest& request) {
  CommitResult result;
  std::vector<StagedEffect> effects;
  if (request.stage != nullptr) {
    for (StagedEffect& effect : request.stage->Seal()) {
      if (Commits(effect, request.first_failed_record)) {
        effects.push_back(std::move(effect));
      } else {
        ++result.effects_dropped;
      }
    }
  }
  if (effects.empty() && !request.checkpoint && request.host_publishes.empty()) {
    return result;  // nothing to write: no transaction, no fsync
  }
  const int64_t now = clock_->UnixMillis();
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    result.kv_writes = 0;
    result.notifications = 0;
    result.outbox_rows = 0;
    for (const StagedEffect& effect : effects) {
      if (effect.kind == StagedEffect::Kind::kPublish) {
        Result<int> rows = Outbox::Enqueue(txn, effect.topic, effect.message_id, effect.subject,
                                           effect.message, now);
        SLUICE_RETURN_IF_ERROR(rows.status());
        ++result.notifications;
        result.outbox_rows += *rows;
      } else {
        SLUICE_RETURN_IF_ERROR(ApplyKvEffect(txn, effect));
        ++result.kv_writes;
      }
    }
    for (const StagedEffect& publish : request.host_publishes) {
      Result<bool> exists = TopicCatalog::Exists(txn, publish.topic);
      SLUICE_RETURN_IF_ERROR(exists.status());
      if (!*exists) {
        return NotFound("topic " + publish.topic + " does not exist");
      }
      Result<int> rows = Outbox::Enqueue(txn, publish.topic, publish.message_id, publish.subject,
                                         publish.message, now);
      SLUICE_RETURN_IF_ERROR(rows.status());
      result.outbox_rows += *rows;
    }
    if (request.checkpoint) {
      SLUICE_RETURN_IF_ERROR(Checkpoints::Put(txn, *request.checkpoint));
    }
    return Status::Ok();
  }));
  if (result.outbox_rows > 0 && on_enqueued_) {
    on_enqueued_();
  }
  return result;
}

}  // namespace sluice::state
