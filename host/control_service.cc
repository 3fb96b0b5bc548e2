#include "host/control_service.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/json_fields.h"
#include "host/stack.h"
#include "host/stack_apply.h"
#include "invoker/instance.h"
#include "sluice/aws_json.h"
#include "state/effect_stage.h"
#include "state/kv_store.h"
#include "state/outbox.h"
#include "state/topics.h"

namespace sluice::host {
namespace {

namespace pb = control::v1;

constexpr uint32_t kDefaultLogLines = 50;
constexpr auto kFollowPoll = std::chrono::milliseconds(500);

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

const char* PhaseName(poller::ShardStatus::Phase phase) {
  switch (phase) {
    case poller::ShardStatus::Phase::kWaitingForParents: return "waiting-for-parents";
    case poller::ShardStatus::Phase::kRunning: return "running";
    case poller::ShardStatus::Phase::kFinished: return "finished";
    case poller::ShardStatus::Phase::kDisabled: return "disabled";
  }
  return "running";
}

void FillVersion(const DeployedFunction& row, pb::FunctionVersion* out) {
  out->set_version(row.version);
  out->set_code_sha256(row.code_sha256);
  out->set_description(row.description);
  out->set_last_modified_unix_ms(row.last_modified_unix_ms);
  out->set_timeout_ms(row.config.timeout.count());
  out->set_memory_mb(row.config.memory_mb);
}

void FillSubscription(const state::Subscription& s, pb::Subscription* out) {
  out->set_id(s.id);
  out->set_topic(s.topic);
  out->set_endpoint(s.endpoint);
  out->set_has_secret(!s.secret.empty());
  out->mutable_policy()->set_num_retries(s.policy.num_retries);
  out->mutable_policy()->set_min_delay_ms(s.policy.min_delay_ms);
  out->mutable_policy()->set_max_delay_ms(s.policy.max_delay_ms);
  out->set_created_unix_ms(s.created_unix_ms);
}

void FillTopic(const state::Topic& t, pb::Topic* out) {
  out->set_name(t.name);
  out->set_arn(t.arn);
  out->set_created_unix_ms(t.created_unix_ms);
  for (const state::Subscription& s : t.subscriptions) {
    FillSubscription(s, out->add_subscriptions());
  }
}

pb::ApplyResponse::Change ToProto(StackChange change) {
  switch (change) {
    case StackChange::kCreated: return pb::ApplyResponse::CREATED;
    case StackChange::kUpdated: return pb::ApplyResponse::UPDATED;
    case StackChange::kUnchanged: return pb::ApplyResponse::UNCHANGED;
    case StackChange::kRemoved: return pb::ApplyResponse::REMOVED;
  }
  return pb::ApplyResponse::CHANGE_UNSPECIFIED;
}

}  // namespace

grpc::Status ControlService::Deploy(Ctx*, const pb::DeployRequest* request,
                                    pb::DeployResponse* response) {
  const std::string& path = request->manifest_path();
  if (path.empty() || path[0] != '/') {
    return Invalid("manifest_path: must be an absolute path, got \"" + path + "\"");
  }
  Result<FunctionManifest> manifest = LoadManifest(path);
  if (!manifest.ok()) {
    return ToGrpc(manifest.status());
  }
  Result<DeployOutcome> outcome = DeployManifest(*manifest);
  if (!outcome.ok()) {
    return ToGrpc(outcome.status());
  }
  response->set_function_name(outcome->latest.name);
  response->set_code_sha256(outcome->latest.code_sha256);
  response->set_unchanged(outcome->unchanged);
  return grpc::Status::OK;
}

Result<DeployOutcome> ControlService::DeployManifest(const FunctionManifest& manifest) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  Result<DeployOutcome> outcome = deps_.functions->Deploy(manifest);
  if (outcome.ok()) {
    deps_.registry->Put(outcome->latest);
  }
  return outcome;
}

grpc::Status ControlService::Publish(Ctx*, const pb::PublishRequest* request,
                                     pb::PublishResponse* response) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  Result<PublishOutcome> outcome =
      deps_.functions->Publish(request->function_name(), request->description());
  if (!outcome.ok()) {
    return ToGrpc(outcome.status());
  }
  deps_.registry->Put(outcome->version);
  response->set_function_name(outcome->version.name);
  response->set_version(outcome->version.version);
  response->set_existing(outcome->existing);
  response->set_code_sha256(outcome->version.code_sha256);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListFunctions(Ctx*, const pb::ListFunctionsRequest*,
                                           pb::ListFunctionsResponse* response) {
  Result<std::vector<DeployedFunction>> rows = deps_.functions->List();
  if (!rows.ok()) {
    return ToGrpc(rows.status());
  }
  for (const DeployedFunction& row : *rows) {
    if (response->functions_size() == 0 ||
        response->functions(response->functions_size() - 1).name() != row.name) {
      response->add_functions()->set_name(row.name);
    }
    FillVersion(row, response->mutable_functions(response->functions_size() - 1)->add_versions());
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::DeleteFunction(Ctx*, const pb::DeleteFunctionRequest* request,
                                            pb::DeleteFunctionResponse* response) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  Result<int> deleted = deps_.functions->Delete(request->function_name());
  if (!deleted.ok()) {
    return ToGrpc(deleted.status());
  }
  deps_.registry->RemoveFunction(request->function_name());
  response->set_versions_deleted(*deleted);
  return grpc::Status::OK;
}

grpc::Status ControlService::Invoke(Ctx*, const pb::InvokeRequest* request,
                                    pb::InvokeResponse* response) {
  const std::string& name = request->function_name();
  const std::string version = request->qualifier().empty() ? kLatest : request->qualifier();
  std::optional<LiveFunction> live = deps_.registry->Find(name, version);
  if (!live) {
    if (version != kLatest && deps_.registry->Find(name, kLatest)) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "function " + name + " has no version " + version);
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "function " + name + " does not exist");
  }
  runtime::v1::Invoke invoke;
  std::string error;
  if (!aws_json::EventFromJson(request->event_json(), &invoke, &error)) {
    return Invalid(error);
  }
  // The records' sequence numbers decide which effects commit.
  const std::set<std::string> records = state::BatchRecords(invoke);
  auto stage = std::make_shared<state::EffectStage>(deps_.db, live->pool->config(), records);
  Result<invoker::InvokeResult> result = live->pool->Invoke(std::move(invoke), stage);
  if (!result.ok()) {
    return ToGrpc(result.status());
  }
  runtime::v1::InvokeResponse& answer = result->response;
  if (!result->is_function_error()) {
    state::CommitRequest request;
    request.stage = stage.get();
    request.first_failed_record = state::FirstFailedRecord(records, answer);
    Result<state::CommitResult> commit = deps_.committer->Commit(request);
    if (!commit.ok() && commit.status().code() != Code::kAborted) {
      return ToGrpc(commit.status().WithContext("committing the invoke's effects"));
    }
    if (!commit.ok()) {
      invoker::SetError(answer.mutable_error(), state::kConditionalCheckFailed,
                        commit.status().message());
    }
  }
  response->set_request_id(answer.request_id());
  response->set_response_json(aws_json::ResponseToJson(answer));
  response->set_function_error(answer.has_error());
  if (answer.has_error()) {
    response->set_error_type(answer.error().error_type());
    response->set_error_message(answer.error().error_message());
  }
  response->set_duration_ms(std::chrono::duration<double, std::milli>(result->duration).count());
  response->set_cold_start(result->cold_start);
  response->set_version(version);
  return grpc::Status::OK;
}

grpc::Status ControlService::Logs(Ctx* context, const pb::LogsRequest* request,
                                  grpc::ServerWriter<pb::LogsResponse>* writer) {
  const std::string& name = request->function_name();
  if (!deps_.registry->Find(name, kLatest)) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "function " + name + " does not exist");
  }
  uint64_t last_seq = 0;
  Result<std::vector<std::string>> tail = deps_.logs->Tail(
      name, request->lines() == 0 ? kDefaultLogLines : request->lines(), &last_seq);
  if (!tail.ok()) {
    return ToGrpc(tail.status());
  }
  pb::LogsResponse first;
  for (std::string& line : *tail) {
    first.add_lines(std::move(line));
  }
  if (!writer->Write(first) || !request->follow()) {
    return grpc::Status::OK;
  }
  while (!context->IsCancelled()) {
    std::vector<FunctionLogLine> lines =
        deps_.logs->Follow(name, last_seq, std::chrono::steady_clock::now() + kFollowPoll);
    if (lines.empty()) {
      continue;
    }
    last_seq = lines.back().seq;
    pb::LogsResponse next;
    for (FunctionLogLine& line : lines) {
      next.add_lines(std::move(line.text));
    }
    if (!writer->Write(next)) {
      break;  // the client went away
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::KvGet(Ctx*, const pb::KvGetRequest* request,
                                   pb::KvGetResponse* response) {
  Result<std::optional<state::KvEntry>> entry =
      state::KvStore(deps_.db).Get(request->table(), request->key());
  if (!entry.ok()) {
    return ToGrpc(entry.status());
  }
  if (!*entry) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no item with key \"" + request->key() + "\" in table " + request->table());
  }
  response->mutable_item()->set_key((*entry)->key);
  response->mutable_item()->set_value_json((*entry)->value_json);
  response->mutable_item()->set_version((*entry)->version);
  return grpc::Status::OK;
}

grpc::Status ControlService::KvPut(Ctx*, const pb::KvPutRequest* request, pb::KvPutResponse*) {
  return ToGrpc(
      state::KvStore(deps_.db).Put(request->table(), request->key(), request->value_json()));
}

grpc::Status ControlService::KvDelete(Ctx*, const pb::KvDeleteRequest* request,
                                      pb::KvDeleteResponse* response) {
  Result<bool> existed = state::KvStore(deps_.db).Delete(request->table(), request->key());
  if (!existed.ok()) {
    return ToGrpc(existed.status());
  }
  response->set_existed(*existed);
  return grpc::Status::OK;
}

grpc::Status ControlService::KvScan(Ctx*, const pb::KvScanRequest* request,
                                    pb::KvScanResponse* response) {
  Result<state::KvPage> page = state::KvStore(deps_.db).Query(
      request->table(), request->prefix(), request->limit(), request->exclusive_start_key());
  if (!page.ok()) {
    return ToGrpc(page.status());
  }
  for (const state::KvEntry& entry : page->items) {
    pb::KvItem* item = response->add_items();
    item->set_key(entry.key);
    item->set_value_json(entry.value_json);
    item->set_version(entry.version);
  }
  response->set_more(!page->last_evaluated_key.empty());
  response->set_last_evaluated_key(page->last_evaluated_key);
  return grpc::Status::OK;
}

grpc::Status ControlService::KvTables(Ctx*, const pb::KvTablesRequest*,
                                      pb::KvTablesResponse* response) {
  Result<std::vector<state::KvTableSummary>> tables = state::KvStore(deps_.db).ListTables();
  if (!tables.ok()) {
    return ToGrpc(tables.status());
  }
  for (const state::KvTableSummary& t : *tables) {
    pb::KvTablesResponse::Table* table = response->add_tables();
    table->set_name(t.table);
    table->set_items(t.items);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::ListTopics(Ctx*, const pb::ListTopicsRequest*,
                                        pb::ListTopicsResponse* response) {
  Result<std::vector<state::Topic>> topics = state::TopicCatalog(deps_.db).List();
  if (!topics.ok()) {
    return ToGrpc(topics.status());
  }
  for (const state::Topic& topic : *topics) {
    FillTopic(topic, response->add_topics());
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::CreateTopic(Ctx*, const pb::CreateTopicRequest* request,
                                         pb::CreateTopicResponse* response) {
  state::TopicCatalog topics(deps_.db);
  if (Status created = topics.CreateTopic(request->name()); !created.ok()) {
    return ToGrpc(created);
  }
  Result<state::Topic> topic = topics.Get(request->name());
  if (!topic.ok()) {
    return ToGrpc(topic.status());
  }
  FillTopic(*topic, response->mutable_topic());
  return grpc::Status::OK;
}

grpc::Status ControlService::DeleteTopic(Ctx*, const pb::DeleteTopicRequest* request,
                                         pb::DeleteTopicResponse*) {
  return ToGrpc(state::TopicCatalog(deps_.db).DeleteTopic(request->name()));
}

grpc::Status ControlService::Subscribe(Ctx*, const pb::SubscribeRequest* request,
                                       pb::SubscribeResponse* response) {
  state::DeliveryPolicy policy;
  if (request->has_policy()) {
    policy.num_retries = request->policy().num_retries();
    policy.min_delay_ms = request->policy().min_delay_ms();
    policy.max_delay_ms = request->policy().max_delay_ms();
  }
  Result<state::Subscription> subscription = state::TopicCatalog(deps_.db).Subscribe(
      request->topic(), request->endpoint(), request->secret(), policy);
  if (!subscription.ok()) {
    return ToGrpc(subscription.status());
  }
  FillSubscription(*subscription, response->mutable_subscription());
  return grpc::Status::OK;
}

grpc::Status ControlService::Unsubscribe(Ctx*, const pb::UnsubscribeRequest* request,
                                         pb::UnsubscribeResponse*) {
  state::TopicCatalog topics(deps_.db);
  if (!request->subscription_id().empty()) {
    return ToGrpc(topics.Unsubscribe(request->subscription_id()));
  }
  return ToGrpc(topics.Unsubscribe(request->topic(), request->endpoint()));
}

grpc::Status ControlService::Apply(Ctx*, const pb::ApplyRequest* request,
                                   pb::ApplyResponse* response) {
  const std::string& base_dir = request->base_dir();
  if (base_dir.empty() || base_dir[0] != '/') {
    return Invalid("base_dir: must be an absolute path, got \"" + base_dir + "\"");
  }
  Result<Stack> stack = ParseStack(request->stack_json(), base_dir, request->display_name());
  if (!stack.ok()) {
    return ToGrpc(stack.status());
  }
  const StackTargets targets{
      deps_.streams, deps_.db,
      [this](const FunctionManifest& manifest) { return DeployManifest(manifest); }, deps_.pollers,
      deps_.delivery_streams};
  std::lock_guard<std::mutex> lock(apply_mu_);
  Result<std::vector<StackAction>> actions = ApplyStack(*stack, targets, request->display_name());
  if (!actions.ok()) {
    return ToGrpc(actions.status());
  }
  for (const StackAction& action : *actions) {
    pb::ApplyResponse::Action* out = response->add_actions();
    out->set_change(ToProto(action.change));
    out->set_line(action.line);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::CreateMapping(Ctx*, const pb::CreateMappingRequest* request,
                                           pb::CreateMappingResponse* response) {
  Result<nlohmann::json> doc = ParseJsonDocument(request->mapping_json(), "mapping");
  if (!doc.ok()) {
    return ToGrpc(doc.status());
  }
  Result<poller::MappingConfig> config = poller::ParseMapping(*doc, "");
  if (!config.ok()) {
    return ToGrpc(config.status());
  }
  Result<poller::StoredMapping> created = deps_.pollers->Create(*config);
  if (!created.ok()) {
    return ToGrpc(created.status());
  }
  response->set_mapping_json(deps_.pollers->Describe(*created).dump());
  return grpc::Status::OK;
}

grpc::Status ControlService::UpdateMapping(Ctx*, const pb::UpdateMappingRequest* request,
                                           pb::UpdateMappingResponse* response) {
  Result<nlohmann::json> update = ParseJsonDocument(request->update_json(), "update");
  if (!update.ok()) {
    return ToGrpc(update.status());
  }
  Result<poller::StoredMapping> updated = deps_.pollers->Update(request->uuid(), *update);
  if (!updated.ok()) {
    return ToGrpc(updated.status());
  }
  response->set_mapping_json(deps_.pollers->Describe(*updated).dump());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetMapping(Ctx*, const pb::GetMappingRequest* request,
                                        pb::GetMappingResponse* response) {
  Result<poller::StoredMapping> mapping = deps_.pollers->Get(request->uuid());
  if (!mapping.ok()) {
    return ToGrpc(mapping.status());
  }
  response->set_mapping_json(deps_.pollers->Describe(*mapping).dump());
  return grpc::Status::OK;
}

grpc::Status ControlService::ListMappings(Ctx*, const pb::ListMappingsRequest* request,
                                          pb::ListMappingsResponse* response) {
  Result<std::vector<poller::StoredMapping>> mappings = deps_.pollers->List();
  if (!mappings.ok()) {
    return ToGrpc(mappings.status());
  }
  for (const poller::StoredMapping& mapping : *mappings) {
    if ((!request->function_name().empty() &&
         mapping.config.function_name != request->function_name()) ||
        (!request->stream_name().empty() && mapping.config.stream_name != request->stream_name())) {
      continue;
    }
    response->add_mappings_json(deps_.pollers->Describe(mapping).dump());
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::DeleteMapping(Ctx*, const pb::DeleteMappingRequest* request,
                                           pb::DeleteMappingResponse* response) {
  Result<poller::StoredMapping> mapping = deps_.pollers->Get(request->uuid());
  if (!mapping.ok()) {
    return ToGrpc(mapping.status());
  }
  nlohmann::json view = deps_.pollers->Describe(*mapping);
  if (Status deleted = deps_.pollers->Delete(request->uuid()); !deleted.ok()) {
    return ToGrpc(deleted);
  }
  view["State"] = "Deleting";
  response->set_mapping_json(view.dump());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetStatus(Ctx*, const pb::GetStatusRequest*,
                                       pb::GetStatusResponse* response) {
  response->set_data_dir(deps_.data_dir);
  response->set_started_unix_ms(deps_.started_unix_ms);
  for (const LiveFunction& live : deps_.registry->List()) {
    const invoker::MetricsSnapshot metrics = live.pool->metrics();
    pb::FunctionStatus* f = response->add_functions();
    f->set_name(live.row.name);
    f->set_version(live.row.version);
    f->set_code_sha256(live.row.code_sha256);
    f->set_live_instances(live.pool->live_instances());
    f->set_invocations(metrics.invocations);
    f->set_errors(metrics.errors);
    f->set_throttles(metrics.throttles);
    f->set_p50_ms(metrics.duration_p50_ms);
    f->set_p99_ms(metrics.duration_p99_ms);
  }
  Result<std::vector<state::Topic>> topics = state::TopicCatalog(deps_.db).List();
  if (!topics.ok()) {
    return ToGrpc(topics.status());
  }
  for (const state::Topic& topic : *topics) {
    pb::TopicStatus* t = response->add_topics();
    t->set_name(topic.name);
    t->set_subscriptions(static_cast<uint32_t>(topic.subscriptions.size()));
  }
  Result<state::OutboxCounts> counts = state::Outbox(deps_.db).Counts();
  if (!counts.ok()) {
    return ToGrpc(counts.status());
  }
  response->mutable_notifications()->set_pending(counts->pending);
  response->mutable_notifications()->set_delivered(counts->delivered);
  response->mutable_notifications()->set_failed(counts->failed);
  for (const std::string& name : deps_.streams->ListStreams()) {
    Result<stream::StreamMetadata> meta = deps_.streams->Describe(name);
    if (!meta.ok()) {
      continue;  // deleted since it was listed
    }
    pb::StreamStatus* s = response->add_streams();
    s->set_name(name);
    s->set_status("ACTIVE");
    s->set_total_shards(static_cast<uint32_t>(meta->shards.size()));
    uint32_t open = 0;
    for (const stream::ShardMetadata& shard : meta->shards) {
      open += shard.closed ? 0 : 1;
    }
    s->set_open_shards(open);
  }
  Result<std::vector<poller::MappingStatus>> mappings = deps_.pollers->Statuses();
  if (!mappings.ok()) {
    return ToGrpc(mappings.status());
  }
  for (const poller::MappingStatus& mapping : *mappings) {
    const poller::MappingConfig& config = mapping.mapping.config;
    pb::MappingStatus* m = response->add_mappings();
    m->set_uuid(mapping.mapping.uuid);
    m->set_function_name(config.qualified_function_name());
    m->set_stream_name(config.stream_name);
    m->set_state(config.enabled ? "Enabled" : "Disabled");
    for (const poller::ShardStatus& shard : mapping.shards) {
      pb::MappingShardStatus* out = m->add_shards();
      out->set_shard_id(shard.shard_id);
      out->set_phase(PhaseName(shard.phase));
      out->set_position(shard.position);
      out->set_iterator_age_ms(shard.iterator_age_ms);
      out->set_last_invoke_unix_ms(shard.last_invoke_unix_ms);
      out->set_polled(shard.polled);
      out->set_invoked(shard.invoked);
      out->set_filtered(shard.filtered);
      out->set_failed(shard.failed);
      out->set_dropped(shard.dropped);
      out->set_sent_to_destination(shard.sent_to_destination);
      out->set_retries(shard.retries);
      out->set_bisections(shard.bisections);
      out->set_throttles(shard.throttles);
    }
  }
  for (const delivery::DeliveryStats& stats : deps_.delivery_streams->Stats()) {
    pb::DeliveryStatus* d = response->add_delivery_streams();
    d->set_name(stats.name);
    d->set_records_in(stats.records_in);
    d->set_bytes_in(stats.bytes_in);
    d->set_records_transformed(stats.records_transformed);
    d->set_records_dropped(stats.records_dropped);
    d->set_records_failed(stats.records_failed);
    d->set_records_delivered(stats.records_delivered);
    d->set_bytes_delivered(stats.bytes_delivered);
    d->set_objects_delivered(stats.objects_delivered);
    d->set_delivery_errors(stats.delivery_errors);
    d->set_batches_failed(stats.batches_failed);
    d->set_records_buffered(stats.records_buffered);
    d->set_freshness_ms(stats.freshness_ms);
    d->set_last_error(stats.last_error);
  }
  return grpc::Status::OK;
}

}  // namespace sluice::host
