#include "host/stack_apply.h"

#include <map>

#include "base/text.h"
#include "state/topics.h"

namespace sluice::host {
namespace {

constexpr size_t kHashPrefix = 12;

std::string Plural(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

uint32_t OpenShards(const stream::StreamMetadata& meta) {
  uint32_t open = 0;
  for (const stream::ShardMetadata& shard : meta.shards) {
    open += shard.closed ? 0 : 1;
  }
  return open;
}

// Creates the stream, or checks its shards and sets its retention.
Status ApplyStream(stream::StreamStore& streams, const StackStream& want,
                   std::vector<StackAction>* actions) {
  Result<stream::StreamMetadata> meta = streams.Describe(want.name);
  bool created = !meta.ok() && meta.status().code() == Code::kNotFound;
  if (created) {
    const Status create = streams.CreateStream(want.name, want.shard_count);
    if (create.code() == Code::kAlreadyExists) {
      created = false;  // made meanwhile (through the Kinesis API): check it as an existing one
    } else {
      SLUICE_RETURN_IF_ERROR(create);
    }
    meta = streams.Describe(want.name);
  }
  SLUICE_RETURN_IF_ERROR(meta.ok() ? Status::Ok() : meta.status());
  const uint32_t open = OpenShards(*meta);
  if (open != want.shard_count) {
    return FailedPrecondition("stream " + want.name + " has " + Plural(open, "open shard") +
                              ", the stack says ShardCount " + std::to_string(want.shard_count) +
                              "; apply never reshards a stream (set ShardCount to " +
                              std::to_string(open) + ", or reshard it with the Kinesis API)");
  }
  const int32_t old_retention = meta->retention_hours;
  const int32_t retention = want.retention_hours.value_or(old_retention);
  if (old_retention != retention) {
    SLUICE_RETURN_IF_ERROR(streams.SetRetention(want.name, retention));
  }
  if (created) {
    actions->push_back(
        {StackChange::kCreated,
         "created stream " + want.name + " (" + Plural(want.shard_count, "shard") +
             (old_retention == retention ? ""
                                         : ", retention " + std::to_string(retention) + " hours") +
             ")"});
  } else if (old_retention != retention) {
    actions->push_back({StackChange::kUpdated, "updated stream " + want.name + ": retention " +
                                                   std::to_string(old_retention) + " -> " +
                                                   std::to_string(retention) + " hours"});
  } else {
    actions->push_back({StackChange::kUnchanged, "unchanged stream " + want.name});
  }
  return Status::Ok();
}

// What differs between an existing subscription and the stack's: "secret, delivery policy".
std::string SubscriptionChanges(const state::Subscription& have, const StackSubscription& want) {
  std::string changes;
  if (have.secret != want.secret) {
    changes = "secret";
  }
  if (have.policy != want.policy) {
    changes += (changes.empty() ? "" : ", ") + std::string("delivery policy");
  }
  return changes;
}

// Creates the topic if missing and makes its subscriptions exactly the stack's.
Status ApplyTopic(state::TopicCatalog& catalog, const StackTopic& want,
                  std::vector<StackAction>* actions) {
  Result<state::Topic> topic = catalog.Get(want.name);
  std::map<std::string, state::Subscription> existing;  // by endpoint
  if (topic.ok()) {
    for (state::Subscription& s : topic->subscriptions) {
      existing.emplace(s.endpoint, std::move(s));
    }
    actions->push_back({StackChange::kUnchanged, "unchanged topic " + want.name});
  } else if (topic.status().code() == Code::kNotFound) {
    SLUICE_RETURN_IF_ERROR(catalog.CreateTopic(want.name));
    actions->push_back({StackChange::kCreated, "created topic " + want.name});
  } else {
    return topic.status();
  }
  for (const StackSubscription& sub : want.subscriptions) {
    auto have = existing.find(sub.endpoint);
    const std::string changes =
        have == existing.end() ? "" : SubscriptionChanges(have->second, sub);
    if (have != existing.end() && changes.empty()) {
      actions->push_back(
          {StackChange::kUnchanged, "unchanged subscription " + sub.endpoint + " on " + want.name});
    } else {
      Result<state::Subscription> made =
          catalog.Subscribe(want.name, sub.endpoint, sub.secret, sub.policy);
      SLUICE_RETURN_IF_ERROR(made.ok() ? Status::Ok() : made.status());
      actions->push_back(
          have == existing.end()
              ? StackAction{StackChange::kCreated,
                            "subscribed " + sub.endpoint + " to " + want.name}
              : StackAction{StackChange::kUpdated, "updated subscription " + sub.endpoint + " on " +
                                                       want.name + " (" + changes + ")"});
    }
    if (have != existing.end()) {
      existing.erase(have);
    }
  }
  for (const auto& [endpoint, subscription] : existing) {
    SLUICE_RETURN_IF_ERROR(catalog.Unsubscribe(subscription.id));
    actions->push_back({StackChange::kRemoved, "unsubscribed " + endpoint + " from " + want.name});
  }
  return Status::Ok();
}

Status DeployFunction(const StackTargets& targets, const FunctionManifest& manifest,
                      std::vector<StackAction>* actions) {
  Result<DeployOutcome> outcome = targets.deploy(manifest);
  SLUICE_RETURN_IF_ERROR(outcome.ok() ? Status::Ok() : outcome.status());
  const std::string& name = outcome->latest.name;
  if (outcome->unchanged) {
    actions->push_back({StackChange::kUnchanged, "unchanged function " + name});
  } else {
    actions->push_back({outcome->created ? StackChange::kCreated : StackChange::kUpdated,
                        "deployed function " + name + " ($LATEST code " +
                            outcome->latest.code_sha256.substr(0, kHashPrefix) + ")"});
  }
  return Status::Ok();
}

// The properties an update may carry: everything but what identifies the mapping and where it
// started.
nlohmann::json UpdatableProperties(const poller::MappingConfig& config) {
  nlohmann::json properties = poller::MappingToJson(config, "");
  for (const char* fixed :
       {"FunctionName", "EventSourceArn", "StartingPosition", "StartingPositionTimestamp"}) {
    properties.erase(fixed);
  }
  return properties;
}

Status ApplyMapping(poller::PollerService& pollers, const poller::MappingConfig& want,
                    std::vector<StackAction>* actions) {
  const std::string name = want.qualified_function_name() + " <- " + want.stream_name;
  Result<std::vector<poller::StoredMapping>> existing = pollers.List();
  SLUICE_RETURN_IF_ERROR(existing.status());
  for (const poller::StoredMapping& have : *existing) {
    if (have.config.function_name != want.function_name ||
        have.config.qualifier != want.qualifier || have.config.stream_name != want.stream_name) {
      continue;
    }
    const nlohmann::json before = UpdatableProperties(have.config);
    const nlohmann::json after = UpdatableProperties(want);
    std::string changed;
    for (const auto& [key, value] : after.items()) {
      if (!before.contains(key) || before[key] != value) {
        changed += (changed.empty() ? "" : ", ") + key;
      }
    }
    if (changed.empty()) {
      actions->push_back({StackChange::kUnchanged, "unchanged mapping " + name});
      return Status::Ok();
    }
    Result<poller::StoredMapping> updated = pollers.Update(have.uuid, after);
    SLUICE_RETURN_IF_ERROR(updated.status());
    actions->push_back({StackChange::kUpdated, "updated mapping " + name + ": " + changed});
    return Status::Ok();
  }
  Result<poller::StoredMapping> created = pollers.Create(want);
  SLUICE_RETURN_IF_ERROR(created.status());
  actions->push_back(
      {StackChange::kCreated, "created mapping " + name + " (" + created->uuid + ")"});
  return Status::Ok();
}

// "ExtendedS3DestinationConfiguration.Prefix, ...": the members (and their members) whose values
// differ between two canonical CreateDeliveryStream requests.
std::string ChangedMembers(const nlohmann::json& before, const nlohmann::json& after) {
  std::string changed;
  const auto add = [&](const std::string& path) {
    changed += (changed.empty() ? "" : ", ") + path;
  };
  for (const auto& [key, value] : after.items()) {
    const auto old = before.find(key);
    if (old != before.end() && old->is_object() && value.is_object()) {
      for (const auto& [member, inner] : value.items()) {
        if (!old->contains(member) || (*old)[member] != inner) {
          add(key + "." + member);
        }
      }
      for (const auto& [member, inner] : old->items()) {
        if (!value.contains(member)) {
          add(key + "." + member);
        }
      }
    } else if (old == before.end() || *old != value) {
      add(key);
    }
  }
  for (const auto& [key, value] : before.items()) {
    if (!after.contains(key)) {
      add(key);
    }
  }
  return changed;
}

// Creates the delivery stream, or gives it the stack's configuration.
Status ApplyDeliveryStream(delivery::DeliveryService& service,
                           const delivery::DeliveryStreamConfig& want,
                           std::vector<StackAction>* actions) {
  const std::string name = "delivery stream " + want.name;
  Result<delivery::DeliveryStreamInfo> have = service.Describe(want.name);
  if (!have.ok() && have.status().code() == Code::kNotFound) {
    const Status create = service.Create(want);
    if (create.ok()) {
      actions->push_back({StackChange::kCreated, "created " + name});
      return Status::Ok();
    }
    if (create.code() != Code::kAlreadyExists) {
      return create;
    }
    have = service.Describe(want.name);  // made meanwhile (through the Firehose API)
  }
  SLUICE_RETURN_IF_ERROR(have.status());
  const std::string changed =
      ChangedMembers(delivery::ToCreateRequest(have->config), delivery::ToCreateRequest(want));
  bool updated = false;
  SLUICE_RETURN_IF_ERROR(service.Update(want, &updated));
  if (!updated) {
    actions->push_back({StackChange::kUnchanged, "unchanged " + name});
  } else {
    actions->push_back({StackChange::kUpdated, "updated " + name + ": " + changed});
  }
  return Status::Ok();
}

// Every manifest, validated; errors name the stack's JSON path.
Result<std::vector<FunctionManifest>> LoadManifests(const Stack& stack) {
  std::vector<FunctionManifest> manifests;
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < stack.functions.size(); ++i) {
    const std::string where = Indexed("Functions", i) + ".Manifest";
    Result<FunctionManifest> manifest = LoadManifest(stack.functions[i].manifest_path);
    if (!manifest.ok()) {
      return manifest.status().WithContext(where);
    }
    auto [it, inserted] = names.emplace(manifest->config.name, i);
    if (!inserted) {
      return InvalidArgument(where + ": function " + manifest->config.name +
                             " is declared twice (also by " + Indexed("Functions", it->second) +
                             ")");
    }
    manifests.push_back(std::move(*manifest));
  }
  return manifests;
}

Status ApplyAll(const Stack& stack, const std::vector<FunctionManifest>& manifests,
                const StackTargets& targets, std::vector<StackAction>* actions) {
  for (size_t i = 0; i < stack.streams.size(); ++i) {
    Status status = ApplyStream(*targets.streams, stack.streams[i], actions);
    SLUICE_RETURN_IF_ERROR(status.WithContext(Indexed("Streams", i)));
  }
  state::TopicCatalog catalog(targets.db);
  for (size_t i = 0; i < stack.topics.size(); ++i) {
    Status status = ApplyTopic(catalog, stack.topics[i], actions);
    SLUICE_RETURN_IF_ERROR(status.WithContext(Indexed("Topics", i)));
  }
  for (size_t i = 0; i < manifests.size(); ++i) {
    Status status = DeployFunction(targets, manifests[i], actions);
    SLUICE_RETURN_IF_ERROR(status.WithContext(Indexed("Functions", i)));
  }
  for (size_t i = 0; i < stack.mappings.size(); ++i) {
    Status status = ApplyMapping(*targets.pollers, stack.mappings[i], actions);
    SLUICE_RETURN_IF_ERROR(status.WithContext(Indexed("EventSourceMappings", i)));
  }
  for (size_t i = 0; i < stack.delivery_streams.size(); ++i) {
    Status status =
        ApplyDeliveryStream(*targets.delivery_streams, stack.delivery_streams[i], actions);
    SLUICE_RETURN_IF_ERROR(status.WithContext(Indexed("DeliveryStreams", i)));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<StackAction>> ApplyStack(const Stack& stack, const StackTargets& targets,
                                            const std::string& display_name) {
  Result<std::vector<FunctionManifest>> manifests = LoadManifests(stack);
  if (!manifests.ok()) {
    return manifests.status().WithContext(display_name);
  }
  std::vector<StackAction> actions;
  Status status = ApplyAll(stack, *manifests, targets, &actions);
  if (status.ok()) {
    return actions;
  }
  status = status.WithContext(display_name);
  if (actions.empty()) {
    return status;
  }
  return Status(status.code(), status.message() + " (stopped after applying " +
                                   Plural(static_cast<int64_t>(actions.size()), "resource") +
                                   "; they stay applied)");
}

}  // namespace sluice::host
