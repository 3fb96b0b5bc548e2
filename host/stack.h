// Stack: a whole pipeline declared in one JSON file, for `sluice apply stack.json`, which makes
// the host match it. Running apply twice changes nothing the second time.
//
//   {
//     "Streams": [{"StreamName": "tolls", "ShardCount": 2, "RetentionPeriodHours": 24}],
//     "Functions": [{"Manifest": "functions/billing_threshold/function.json"}],
//     "Topics": [{"TopicName": "billing-alerts",
//                 "Subscriptions": [{"Endpoint": "http://127.0.0.1:9000/hook",
//                                    "Secret": "s3cret",
//                                    "DeliveryPolicy": {"NumRetries": 12, "MinDelayMs": 1000,
//                                                       "MaxDelayMs": 300000}}]}],
//     "EventSourceMappings": [{"FunctionName": "billing_threshold", "EventSourceArn": "tolls",
//                              "BatchSize": 500, "StartingPosition": "TRIM_HORIZON"}],
//     "DeliveryStreams": [{"DeliveryStreamName": "tolls-lake",
//                          "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///lake"}}]
//   }
//
// Every section is optional. Streams: ShardCount 1-500 (default 1), RetentionPeriodHours
// 24-8760 (default: 24 for a new stream, unchanged for an existing one). Functions: Manifest, a
// path relative to the stack file (or absolute). Topics: Subscriptions default to none; Secret
// defaults to none (unsigned); DeliveryPolicy's defaults are state::DeliveryPolicy's. Unknown
// properties are refused (they are usually typos), and so are two resources with the same name.
// EventSourceMappings: each as a mapping file (poller/mapping_config.h); one mapping per
// function and stream.
// DeliveryStreams: each a CreateDeliveryStream request (delivery/delivery_config.h); errors name
// the path inside it, e.g. "DeliveryStreams[0].ExtendedS3DestinationConfiguration.Prefix: ...".
//
// What apply does with each resource: a stream that does not exist is created; one that exists
// keeps its shards (a different ShardCount is an error: apply never reshards or deletes a
// stream's data) and gets the stack's retention, if the stack gives one. A function is deployed
// from its manifest (unchanged code and configuration change nothing). A topic is created if
// missing, and its subscriptions are made to be exactly the stack's: missing ones are added,
// changed ones updated, others removed. A mapping (found by its function and stream) is created
// when missing, else updated to the stack's settings (StartingPosition applies only when it is
// created). A delivery stream is created when missing, else given the stack's configuration
// (its source cannot change). Resources the stack does not mention are left alone.
// ApplyStack (host/stack_apply.h) does this.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "delivery/delivery_config.h"
#include "poller/mapping_config.h"
#include "state/topics.h"

namespace sluice::host {

struct StackStream {
  std::string name;
  uint32_t shard_count = 1;
  // RetentionPeriodHours; nullopt when the stack leaves it out: a new stream gets 24, an
  // existing one keeps its own (apply never shortens retention, and so drops data, unasked).
  std::optional<int32_t> retention_hours;
};

struct StackFunction {
  std::string manifest_path;  // absolute
};

struct StackSubscription {
  std::string endpoint;
  std::string secret;
  state::DeliveryPolicy policy;
};

struct StackTopic {
  std::string name;
  std::vector<StackSubscription> subscriptions;
};

struct Stack {
  std::vector<StackStream> streams;
  std::vector<StackFunction> functions;
  std::vector<StackTopic> topics;
  std::vector<poller::MappingConfig> mappings;
  std::vector<delivery::DeliveryStreamConfig> delivery_streams;
};

// Parses and validates stack text; relative manifest paths resolve against `base_dir`. Errors
// are INVALID_ARGUMENT "<display_name>: <JSON path>: <problem>", e.g.
// "stack.json: Topics[0].Subscriptions[1].Endpoint: must be http://, https://, file:///... or
// stdout".
Result<Stack> ParseStack(const std::string& text, const std::string& base_dir,
                         const std::string& display_name);

}  // namespace sluice::host
