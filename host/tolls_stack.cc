#include "host/tolls_stack.h"

namespace sluice::host {

using nlohmann::json;

namespace {

json Subscriptions(const TollsStackOptions& options, const std::string& name,
                   const std::string& webhook_path) {
  json subscriptions = json::array();
  subscriptions.push_back({{"Endpoint", "file://" + options.output_dir + "/" + name + ".jsonl"}});
  if (!options.webhook_url.empty()) {
    json webhook = {{"Endpoint", options.webhook_url + webhook_path}};
    if (!options.webhook_secret.empty()) {
      webhook["Secret"] = options.webhook_secret;
    }
    subscriptions.push_back(webhook);
  }
  return {{"TopicName", name}, {"Subscriptions", subscriptions}};
}

json WindowedMapping(const std::string& function, int32_t window_seconds) {
  return {{"FunctionName", function},
          {"EventSourceArn", kTollsStream},
          {"StartingPosition", "TRIM_HORIZON"},
          {"BatchSize", 1000},
          {"MaximumBatchingWindowInSeconds", 1},
          {"TumblingWindowInSeconds", window_seconds},
          {"TumblingWindowTimeField", "event_time"},
          {"TumblingWindowAllowedLatenessInSeconds", kAllowedLatenessSeconds},
          {"FunctionResponseTypes", json::array({"ReportBatchItemFailures"})}};
}

json DeliveryStream(const TollsStackOptions& options) {
  const json transform = {
      {"Enabled", true},
      {"Processors",
       json::array({{{"Type", "Lambda"},
                     {"Parameters", json::array({{{"ParameterName", "LambdaArn"},
                                                  {"ParameterValue", "json_transform"}}})}}})}};
  json lake = {{"BucketARN", "file://" + options.output_dir + "/lake"},
               {"Prefix", "tolls/"},
               {"ErrorOutputPrefix", "errors/!{firehose:error-output-type}/"},
               {"BufferingHints", {{"SizeInMBs", 4}, {"IntervalInSeconds", 2}}}};
  json stream = {{"DeliveryStreamName", kTollsDeliveryStream}};
  if (options.postgres.empty()) {
    lake["ProcessingConfiguration"] = transform;
    stream["ExtendedS3DestinationConfiguration"] = lake;
  } else {
    stream["PostgreSQLDestinationConfiguration"] = {
        {"ConnectionString", options.postgres},
        {"CopyCommand",
         {{"DataTableName", kWarehouseTable},
          {"CopyOptions", "JSON 'auto'"},
          {"DataTableColumns",
           "transaction_id,customer_id,tag,station_id,lane,amount,event_time"}}},
        {"S3Configuration", lake},
        {"ProcessingConfiguration", transform}};
  }
  return stream;
}

}  // namespace

json TollsStack(const TollsStackOptions& options) {
  json functions = json::array();
  for (const char* name : {"billing_threshold", "station_alert", "json_transform"}) {
    functions.push_back({{"Manifest", options.functions_dir + "/" + name + "/function.json"}});
  }
  return {{"Streams", json::array({{{"StreamName", kTollsStream}, {"ShardCount", 2}}})},
          {"Topics", json::array({Subscriptions(options, "billing-alerts", "/billing"),
                                  Subscriptions(options, "station-alerts", "/stations")})},
          {"Functions", functions},
          {"EventSourceMappings",
           json::array({WindowedMapping("billing_threshold", kBillingWindowSeconds),
                        WindowedMapping("station_alert", kStationWindowSeconds)})},
          {"DeliveryStreams", json::array({DeliveryStream(options)})}};
}

std::string WarehouseTableSql() {
  return std::string("CREATE TABLE IF NOT EXISTS ") + kWarehouseTable +
         " (transaction_id text PRIMARY KEY, customer_id text NOT NULL, tag text NOT NULL,"
         " station_id text NOT NULL, lane integer NOT NULL, amount numeric(10,2) NOT NULL,"
         " event_time timestamptz NOT NULL)";
}

}  // namespace sluice::host
