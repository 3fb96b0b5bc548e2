// EffectStage: the effects one invoke makes through the host services (key-value writes and
// notifications), held back until the invoke's outcome is known.
//
// The stage answers the function's HostServices calls (it is the invoker::InvokeServices passed
// to FunctionPool::Invoke). Reads see the committed tables (KvStore) overlaid with this stage's
// own writes, so an invoke reads what it wrote; no one else sees them. Writes are checked
// (permissions, arguments, conditions against that overlaid view) and recorded in call order,
// each tagged with the record the function said it was handling. Nothing reaches the database
// until EffectCommitter::Commit; a stage that is dropped (failed, timed-out or crashed invoke)
// leaves no trace.
//
// Permissions come from the function's manifest: reads need the table listed ("Read" or
// "ReadWrite"), writes need "ReadWrite", Publish needs the topic in "Topics". Anything else is
// PERMISSION_DENIED, naming the function, the table or topic, and the manifest property.
//
// Limits per invoke: 1,000 effects, 16 MiB of staged values and messages (RESOURCE_EXHAUSTED).
//
// Thread-safety: thread-safe. Once Seal()ed (by the committer, or when the invoke is abandoned)
// every further call is FAILED_PRECONDITION, so a call racing the end of its invoke cannot add
// an effect after the commit read them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "invoker/function_config.h"
#include "invoker/invoke_services.h"
#include "state/kv_document.h"
#include "state/state_db.h"

namespace sluice::state {

// One staged effect, in call order.
struct StagedEffect {
  enum class Kind { kPut, kDelete, kUpdate, kPublish };
  Kind kind = Kind::kPut;
  std::string record;  // the record's sequence number; "" when made outside any record
  std::string table;   // kv effects
  std::string key;
  std::string value_json;               // kPut: the new value
  runtime::v1::KvUpdateRequest update;  // kUpdate: actions and conditions
  google::protobuf::RepeatedPtrField<runtime::v1::KvCondition> conditions;  // kPut, kDelete
  std::string topic;                                                        // kPublish
  std::string subject;
  std::string message;
  std::string message_id;  // kPublish: a UUID fixed when staged
};

// The sequence numbers of a Kinesis (or window) batch's records; empty for other events.
std::set<std::string> BatchRecords(const runtime::v1::Invoke& invoke);

class EffectStage : public invoker::InvokeServices {
 public:
  // `function` supplies the name (for messages) and the permissions; the stage keeps a copy, so a
  // call still running after its invoke (and its function's pool) has gone is safe.
  // `batch_records`: the sequence numbers of the invoke's records (BatchRecords); an effect may
  // name only one of them as its record (INVALID_ARGUMENT otherwise), so that which effects
  // commit after a partial failure follows the batch. Empty for an invoke with no records.
  EffectStage(StateDb* db, const invoker::FunctionConfig& function,
              std::set<std::string> batch_records = {});

  Status KvGet(const std::string& record, const runtime::v1::KvGetRequest& request,
               runtime::v1::KvGetResponse* response) override;
  Status KvPut(const std::string& record, const runtime::v1::KvPutRequest& request,
               runtime::v1::KvPutResponse* response) override;
  Status KvDelete(const std::string& record, const runtime::v1::KvDeleteRequest& request,
                  runtime::v1::KvDeleteResponse* response) override;
  Status KvQuery(const std::string& record, const runtime::v1::KvQueryRequest& request,
                 runtime::v1::KvQueryResponse* response) override;
  Status KvUpdate(const std::string& record, const runtime::v1::KvUpdateRequest& request,
                  runtime::v1::KvUpdateResponse* response) override;
  Status Publish(const std::string& record, const runtime::v1::PublishRequest& request,
                 runtime::v1::PublishResponse* response) override;

  // Refuses further calls and returns the effects staged so far, in call order.
  std::vector<StagedEffect> Seal();

  const std::string& function_name() const;

 private:
  // PERMISSION_DENIED unless the manifest lets the function read (or write) `table`.
  Status CheckTableAccess(const std::string& table, bool write) const;
  // The checks below need mu_ held.
  Status CheckOpen() const;                // FAILED_PRECONDITION once sealed
  Status CheckRoom(uint64_t bytes) const;  // RESOURCE_EXHAUSTED past the limits
  // The item as this invoke sees it: the overlay, else the committed item (nullopt: none).
  Result<std::optional<nlohmann::json>> CurrentItem(const std::string& table,
                                                    const std::string& key);
  // Records an effect that keeps `bytes` in the stage.
  void Stage(StagedEffect effect, uint64_t bytes);

  // What one kind of kv write (put, delete, update) adds to the sequence StageKvWrite runs.
  struct KvWrite {
    StagedEffect::Kind kind;
    // Checks the kind's own arguments (after the record and the address, before the conditions);
    // returns the bytes the stage will keep beyond the request that are known before the current
    // item is read.
    std::function<Result<uint64_t>()> validate;
    // Fills in the effect's own fields, given the item as this invoke sees it (nullopt: none);
    // returns the item the write leaves (nullopt: deleted).
    std::function<Result<std::optional<std::string>>(const std::optional<nlohmann::json>& item,
                                                     StagedEffect* effect)>
        apply;
  };
  // The sequence every kv write runs: validates the record, the address, the kind's own arguments
  // and the conditions; checks write access; then, under mu_, that the stage is open and has room,
  // that the conditions hold against the current item; stages the effect and, in the overlay, the
  // item it leaves. The stage keeps the request and that item.
  template <typename Request>
  Status StageKvWrite(const std::string& record, const Request& request, const KvWrite& write);

  StateDb* db_;
  // ValidateRecord, and the record is one of the batch's.
  Status CheckRecord(const std::string& record) const;

  const invoker::FunctionConfig function_;
  const std::set<std::string> batch_records_;
  std::mutex mu_;
  bool sealed_ = false;
  std::vector<StagedEffect> effects_;
  uint64_t staged_bytes_ = 0;
  // The overlay: (table, key) -> the item as this invoke last wrote it (nullopt: deleted).
  std::map<std::pair<std::string, std::string>, std::optional<std::string>> overlay_;
};

}  // namespace sluice::state
