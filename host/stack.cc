#include "host/stack.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json_fields.h"
#include "base/text.h"
#include "state/topics.h"
#include "stream/stream_store.h"

namespace sluice::host {
namespace {

using nlohmann::json;
using Fields = JsonFields;

Status ParseStreams(const Fields& root, Stack* stack) {
  Result<std::vector<const json*>> streams = root.Array("Streams");
  SLUICE_RETURN_IF_ERROR(streams.ok() ? Status::Ok() : streams.status());
  std::set<std::string> names;
  for (size_t i = 0; i < streams->size(); ++i) {
    const Fields fields(*(*streams)[i], Indexed("Streams", i));
    SLUICE_RETURN_IF_ERROR(fields.Check({"StreamName", "ShardCount", "RetentionPeriodHours"}));
    StackStream stream;
    SLUICE_RETURN_IF_ERROR(fields.String("StreamName", true, &stream.name));
    if (!stream::IsValidStreamName(stream.name)) {
      return InvalidArgument(fields.Where("StreamName") +
                             ": must be 1-128 characters of [a-zA-Z0-9_.-], got \"" + stream.name +
                             "\"");
    }
    if (!names.insert(stream.name).second) {
      return InvalidArgument(fields.Where("StreamName") + ": stream \"" + stream.name +
                             "\" is declared twice");
    }
    int64_t shards = stream.shard_count, retention = 0;
    SLUICE_RETURN_IF_ERROR(fields.Integer("ShardCount", 1, 500, &shards));
    SLUICE_RETURN_IF_ERROR(fields.Integer("RetentionPeriodHours", 24, 8760, &retention));
    stream.shard_count = static_cast<uint32_t>(shards);
    if (retention != 0) {
      stream.retention_hours = static_cast<int32_t>(retention);
    }
    stack->streams.push_back(std::move(stream));
  }
  return Status::Ok();
}

Status ParseFunctions(const Fields& root, const std::string& base_dir, Stack* stack) {
  Result<std::vector<const json*>> functions = root.Array("Functions");
  SLUICE_RETURN_IF_ERROR(functions.ok() ? Status::Ok() : functions.status());
  for (size_t i = 0; i < functions->size(); ++i) {
    const Fields fields(*(*functions)[i], Indexed("Functions", i));
    SLUICE_RETURN_IF_ERROR(fields.Check({"Manifest"}));
    std::string manifest;
    SLUICE_RETURN_IF_ERROR(fields.String("Manifest", true, &manifest));
    if (manifest.empty()) {
      return InvalidArgument(fields.Where("Manifest") + ": must be a path to a function.json");
    }
    const std::filesystem::path path(manifest);
    stack->functions.push_back({(path.is_absolute() ? path : std::filesystem::path(base_dir) / path)
                                    .lexically_normal()
                                    .string()});
  }
  return Status::Ok();
}

Status ParseSubscription(const Fields& fields, StackSubscription* subscription) {
  SLUICE_RETURN_IF_ERROR(fields.Check({"Endpoint", "Secret", "DeliveryPolicy"}));
  SLUICE_RETURN_IF_ERROR(fields.String("Endpoint", true, &subscription->endpoint));
  Status endpoint = state::ValidateEndpoint(subscription->endpoint);
  if (!endpoint.ok()) {
    return endpoint.WithContext(fields.Where("Endpoint"));
  }
  SLUICE_RETURN_IF_ERROR(fields.String("Secret", false, &subscription->secret));
  return Status::Ok();
}

Status ParseTopics(const Fields& root, Stack* stack) {
  Result<std::vector<const json*>> topics = root.Array("Topics");
  SLUICE_RETURN_IF_ERROR(topics.ok() ? Status::Ok() : topics.status());
  std::set<std::string> names;
  for (size_t i = 0; i < topics->size(); ++i) {
    const json& object = *(*topics)[i];
    const Fields fields(object, Indexed("Topics", i));
    SLUICE_RETURN_IF_ERROR(fields.Check({"TopicName", "Subscriptions"}));
    StackTopic topic;
    SLUICE_RETURN_IF_ERROR(fields.String("TopicName", true, &topic.name));
    Status name = state::ValidateTopicName(topic.name);
    if (!name.ok()) {
      return name.WithContext(fields.Where("TopicName"));
    }
    if (!names.insert(topic.name).second) {
      return InvalidArgument(fields.Where("TopicName") + ": topic \"" + topic.name +
                             "\" is declared twice");
    }
    Result<std::vector<const json*>> subscriptions = fields.Array("Subscriptions");
    SLUICE_RETURN_IF_ERROR(subscriptions.ok() ? Status::Ok() : subscriptions.status());
    std::set<std::string> endpoints;
    for (size_t k = 0; k < subscriptions->size(); ++k) {
      const json& sub_object = *(*subscriptions)[k];
      const Fields sub_fields(sub_object, fields.Where(Indexed("Subscriptions", k)));
      StackSubscription subscription;
      SLUICE_RETURN_IF_ERROR(ParseSubscription(sub_fields, &subscription));
      auto policy = sub_object.find("DeliveryPolicy");
      if (policy != sub_object.end()) {
        const Fields policy_fields(*policy, sub_fields.Where("DeliveryPolicy"));
        SLUICE_RETURN_IF_ERROR(policy_fields.Check({"NumRetries", "MinDelayMs", "MaxDelayMs"}));
        int64_t retries = subscription.policy.num_retries;
        SLUICE_RETURN_IF_ERROR(policy_fields.Integer("NumRetries", 0, 100, &retries));
        subscription.policy.num_retries = static_cast<uint32_t>(retries);
        SLUICE_RETURN_IF_ERROR(
            policy_fields.Integer("MinDelayMs", 10, 3'600'000, &subscription.policy.min_delay_ms));
        SLUICE_RETURN_IF_ERROR(
            policy_fields.Integer("MaxDelayMs", 10, 3'600'000, &subscription.policy.max_delay_ms));
        Status valid = state::ValidateDeliveryPolicy(subscription.policy);
        if (!valid.ok()) {
          return valid.WithContext(sub_fields.Where("DeliveryPolicy"));
        }
      }
      if (!endpoints.insert(subscription.endpoint).second) {
        return InvalidArgument(sub_fields.Where("Endpoint") + ": \"" + subscription.endpoint +
                               "\" is subscribed twice");
      }
      topic.subscriptions.push_back(std::move(subscription));
    }
    stack->topics.push_back(std::move(topic));
  }
  return Status::Ok();
}

Status ParseMappings(const Fields& root, Stack* stack) {
  Result<std::vector<const json*>> mappings = root.Array("EventSourceMappings");
  SLUICE_RETURN_IF_ERROR(mappings.status());
  std::map<std::pair<std::string, std::string>, size_t> seen;
  for (size_t i = 0; i < mappings->size(); ++i) {
    const std::string where = Indexed("EventSourceMappings", i);
    Result<poller::MappingConfig> mapping = poller::ParseMapping(*(*mappings)[i], where);
    SLUICE_RETURN_IF_ERROR(mapping.status());
    const std::string function = mapping->function_name + ":" + mapping->qualifier;
    auto [it, inserted] = seen.emplace(std::make_pair(function, mapping->stream_name), i);
    if (!inserted) {
      return InvalidArgument(where + ": function " + mapping->function_name +
                             " is attached to stream " + mapping->stream_name + " twice (also by " +
                             Indexed("EventSourceMappings", it->second) + ")");
    }
    stack->mappings.push_back(std::move(*mapping));
  }
  return Status::Ok();
}

Status ParseDeliveryStreams(const Fields& root, Stack* stack) {
  Result<std::vector<const json*>> requests = root.Array("DeliveryStreams");
  SLUICE_RETURN_IF_ERROR(requests.status());
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < requests->size(); ++i) {
    const std::string where = Indexed("DeliveryStreams", i);
    Result<delivery::DeliveryStreamConfig> config =
        delivery::ParseDeliveryStreamConfig(*(*requests)[i]);
    if (!config.ok()) {
      // The parser's messages start with the path inside the request, or with "the request"
      // for the request as a whole.
      const std::string& message = config.status().message();
      constexpr std::string_view kWhole = "the request";
      return InvalidArgument(message.rfind(kWhole, 0) == 0 ? where + message.substr(kWhole.size())
                                                           : where + "." + message);
    }
    auto [it, inserted] = names.emplace(config->name, i);
    if (!inserted) {
      return InvalidArgument(where + ".DeliveryStreamName: delivery stream \"" + config->name +
                             "\" is declared twice (also by " +
                             Indexed("DeliveryStreams", it->second) + ")");
    }
    stack->delivery_streams.push_back(std::move(*config));
  }
  return Status::Ok();
}

}  // namespace

Result<Stack> ParseStack(const std::string& text, const std::string& base_dir,
                         const std::string& display_name) {
  Result<json> parsed = ParseJsonDocument(text, display_name);
  SLUICE_RETURN_IF_ERROR(parsed.status());
  const json& doc = *parsed;
  const Fields root(doc, "", "the stack");
  Stack stack;
  Status status =
      root.Check({"Streams", "Functions", "Topics", "EventSourceMappings", "DeliveryStreams"});
  if (status.ok())
    status = ParseStreams(root, &stack);
  if (status.ok())
    status = ParseFunctions(root, base_dir, &stack);
  if (status.ok())
    status = ParseTopics(root, &stack);
  if (status.ok())
    status = ParseMappings(root, &stack);
  if (status.ok())
    status = ParseDeliveryStreams(root, &stack);
  if (!status.ok()) {
    return status.WithContext(display_name);
  }
  return stack;
}

}  // namespace sluice::host
