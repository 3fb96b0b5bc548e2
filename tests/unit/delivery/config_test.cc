// DeliveryStreamConfig: defaults, every validation rule (each message names its JSON path), the
// LambdaArn and KinesisStreamARN forms, the per-destination accessors, the canonical request's
// round trip and the DescribeDeliveryStream shapes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "delivery/delivery_config.h"

namespace sluice::delivery {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

// The destinations' JSON pointers, and their keys.
constexpr char kS3[] = "/ExtendedS3DestinationConfiguration";
constexpr char kHttp[] = "/HttpEndpointDestinationConfiguration";
constexpr char kPg[] = "/PostgreSQLDestinationConfiguration";
constexpr const char* kS3Key = kS3 + 1;
constexpr const char* kHttpKey = kHttp + 1;
constexpr const char* kPgKey = kPg + 1;

// The smallest valid request: DirectPut into a directory.
json Minimal() {
  return {{"DeliveryStreamName", "tolls-lake"},
          {"ExtendedS3DestinationConfiguration", {{"BucketARN", "file:///tmp/lake"}}}};
}

json MinimalHttp() {
  return {{"DeliveryStreamName", "tolls-hook"},
          {"HttpEndpointDestinationConfiguration",
           {{"EndpointConfiguration", {{"Url", "https://example.com/in"}}},
            {"S3Configuration", {{"BucketARN", "file:///tmp/failed"}}}}}};
}

json MinimalPostgres() {
  return {{"DeliveryStreamName", "tolls-db"},
          {"PostgreSQLDestinationConfiguration",
           {{"ConnectionString", "host=/tmp dbname=tolls"},
            {"CopyCommand", {{"DataTableName", "tolls"}}},
            {"S3Configuration", {{"BucketARN", "file:///tmp/staging"}}}}}};
}

// `doc` with the value at JSON pointer `pointer` set to `value`.
json With(json doc, const std::string& pointer, const json& value) {
  doc[json::json_pointer(pointer)] = value;
  return doc;
}

// `doc` without the value at JSON pointer `pointer`.
json Without(json doc, const std::string& pointer) {
  const json::json_pointer where(pointer);
  doc[where.parent_pointer()].erase(where.back());
  return doc;
}

// A Lambda processor with `parameters` (name, value pairs).
json Processing(const std::vector<std::pair<std::string, std::string>>& parameters,
                bool enabled = true) {
  json list = json::array();
  for (const auto& [name, value] : parameters) {
    list.push_back({{"ParameterName", name}, {"ParameterValue", value}});
  }
  return {{"Enabled", enabled}, {"Processors", {{{"Type", "Lambda"}, {"Parameters", list}}}}};
}

DeliveryStreamConfig MustParse(const json& request) {
  Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(request);
  INFO(request.dump() << " -> " << config.status().ToString());
  REQUIRE(config.ok());
  return *config;
}

// The message of the INVALID_ARGUMENT parsing `request` must return.
std::string ParseError(const json& request) {
  Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(request);
  INFO(request.dump());
  REQUIRE(config.status().code() == Code::kInvalidArgument);
  return config.status().message();
}

// The ParameterValue error of a processor with `parameters` on the S3 destination.
std::string ProcessorError(const std::vector<std::pair<std::string, std::string>>& parameters) {
  return ParseError(
      With(Minimal(), std::string(kS3) + "/ProcessingConfiguration", Processing(parameters)));
}

TEST_CASE("a minimal request takes Firehose's defaults") {
  const DeliveryStreamConfig config = MustParse(Minimal());
  CHECK(config.name == "tolls-lake");
  CHECK(config.source == SourceKind::kDirectPut);
  CHECK(config.destination == DestinationKind::kObjectStore);
  const ObjectStoreConfig& store = config.object_store;
  CHECK(store.is_directory());
  CHECK(store.directory() == "/tmp/lake");
  CHECK(store.prefix.empty());
  CHECK(store.error_output_prefix.empty());
  CHECK(store.buffering.size_bytes == 5 << 20);
  CHECK(store.buffering.interval_ms == 300'000);
  CHECK(store.compression == Compression::kNone);
  CHECK(store.extension().empty());
  CHECK(store.retry_duration_ms == 86'400'000);
  CHECK_FALSE(config.processor.enabled);
  CHECK(config.processor.function_name.empty());
  CHECK(&config.store() == &config.object_store);
  CHECK(&config.buffering() == &config.object_store.buffering);
  CHECK(config.retry_duration_ms() == 86'400'000);
}

TEST_CASE("a full S3 destination") {
  json s3 = {{"BucketARN", "arn:aws:s3:::tolls.lake-1"},
             {"EndpointURL", "http://127.0.0.1:4568"},
             {"Prefix", "tolls/!{timestamp:yyyy/MM}/"},
             {"ErrorOutputPrefix", "errors/!{firehose:error-output-type}/"},
             {"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", 0}}},
             {"CompressionFormat", "GZIP"},
             {"RetryOptions", {{"DurationInSeconds", 0}}},
             {"RoleARN", "arn:aws:iam::123456789012:role/firehose"},
             {"CloudWatchLoggingOptions", {{"Enabled", false}}},
             {"EncryptionConfiguration", {{"NoEncryptionConfig", "NoEncryption"}}},
             {"S3BackupMode", "Disabled"}};
  const DeliveryStreamConfig config =
      MustParse({{"DeliveryStreamName", "a.b_c-1"}, {"ExtendedS3DestinationConfiguration", s3}});
  const ObjectStoreConfig& store = config.object_store;
  CHECK_FALSE(store.is_directory());
  CHECK(store.bucket() == "tolls.lake-1");
  CHECK(store.endpoint_url == "http://127.0.0.1:4568");
  CHECK(store.prefix == "tolls/!{timestamp:yyyy/MM}/");
  CHECK(store.buffering.size_bytes == 128 << 20);
  CHECK(store.buffering.interval_ms == 0);
  CHECK(store.compression == Compression::kGzip);
  CHECK(store.extension() == ".gz");
  CHECK(store.retry_duration_ms == 0);

  s3["FileExtension"] = ".json.gz";
  CHECK(MustParse({{"DeliveryStreamName", "x"}, {"S3DestinationConfiguration", s3}})
            .object_store.extension() == ".json.gz");
}

TEST_CASE("S3DestinationConfiguration is the same object store") {
  const DeliveryStreamConfig config =
      MustParse({{"DeliveryStreamName", "old"},
                 {"S3DestinationConfiguration", {{"BucketARN", "file:///d"}}}});
  CHECK(config.destination == DestinationKind::kObjectStore);
  CHECK(config.object_store.directory() == "/d");
}

TEST_CASE("unknown properties are refused with their path") {
  CHECK(ParseError(With(Minimal(), "/Tags", json::array())).starts_with("Tags: unknown property"));
  CHECK(ParseError(
            With(Minimal(), std::string(kS3) + "/DynamicPartitioningConfiguration", json::object()))
            .starts_with("ExtendedS3DestinationConfiguration.DynamicPartitioningConfiguration: "
                         "unknown property"));
  // The nested S3Configuration has no processing of its own.
  CHECK(ParseError(
            With(MinimalHttp(), std::string(kHttp) + "/S3Configuration/S3BackupMode", "Disabled"))
            .starts_with(
                "HttpEndpointDestinationConfiguration.S3Configuration.S3BackupMode: unknown"));
  CHECK(ParseError(json::array()) == "the request: must be an object");
  CHECK(ParseError(With(Minimal(), std::string(kS3) + "/BufferingHints", 5)) ==
        "ExtendedS3DestinationConfiguration.BufferingHints: must be an object");
}

TEST_CASE("DeliveryStreamName is 1-64 of [a-zA-Z0-9_.-], not . or ..") {
  CHECK(ParseError(Without(Minimal(), "/DeliveryStreamName")) == "DeliveryStreamName: required");
  CHECK(ParseError(With(Minimal(), "/DeliveryStreamName", "")) ==
        "DeliveryStreamName: must be 1-64 characters of [a-zA-Z0-9_.-], not . or .., got \"\"");
  CHECK(ParseError(With(Minimal(), "/DeliveryStreamName", "..")).starts_with("DeliveryStreamName"));
  CHECK(ParseError(With(Minimal(), "/DeliveryStreamName", ".")).starts_with("DeliveryStreamName"));
  CHECK(MustParse(With(Minimal(), "/DeliveryStreamName", "...")).name == "...");
  CHECK(ParseError(With(Minimal(), "/DeliveryStreamName", "a/b"))
            .starts_with("DeliveryStreamName: must be 1-64"));
  CHECK(MustParse(With(Minimal(), "/DeliveryStreamName", std::string(64, 'n'))).name.size() == 64);
  CHECK(ParseError(With(Minimal(), "/DeliveryStreamName", std::string(65, 'n')))
            .starts_with("DeliveryStreamName: must be 1-64"));
}

TEST_CASE("the source: DeliveryStreamType and KinesisStreamSourceConfiguration agree") {
  const json stream_source = With(Minimal(), "/DeliveryStreamType", "KinesisStreamAsSource");
  const std::string arn = "/KinesisStreamSourceConfiguration/KinesisStreamARN";
  DeliveryStreamConfig config =
      MustParse(With(stream_source, arn, "arn:aws:kinesis:us-east-1:123456789012:stream/tolls"));
  CHECK(config.source == SourceKind::kStream);
  CHECK(config.source_stream == "tolls");
  config = MustParse(With(With(stream_source, arn, "tolls.v2"),
                          "/KinesisStreamSourceConfiguration/RoleARN", "ignored"));
  CHECK(config.source_stream == "tolls.v2");

  CHECK(ParseError(With(Minimal(), "/DeliveryStreamType", "Kinesis")) ==
        "DeliveryStreamType: must be DirectPut or KinesisStreamAsSource, got \"Kinesis\"");
  CHECK(ParseError(stream_source) ==
        "KinesisStreamSourceConfiguration: required with DeliveryStreamType "
        "KinesisStreamAsSource");
  CHECK(ParseError(With(Minimal(), arn, "tolls")) ==
        "KinesisStreamSourceConfiguration: allowed only with DeliveryStreamType "
        "KinesisStreamAsSource, got DeliveryStreamType DirectPut");
  for (const std::string& bad :
       Strings{"arn:aws:sns:us-east-1:123456789012:tolls",
               "arn:aws:kinesis:us-east-1:123456789012:tolls", "a b", ""}) {
    CHECK(ParseError(With(stream_source, arn, bad)) ==
          "KinesisStreamSourceConfiguration.KinesisStreamARN: must be "
          "arn:aws:kinesis:<region>:<account>:stream/<name> or a stream name, 1-128 characters "
          "of [a-zA-Z0-9_.-], got \"" +
              bad + "\"");
  }
  CHECK(ParseError(With(stream_source, "/KinesisStreamSourceConfiguration", json::object())) ==
        "KinesisStreamSourceConfiguration.KinesisStreamARN: required");
}

TEST_CASE("exactly one destination") {
  const std::string none = ParseError(Without(Minimal(), kS3));
  CHECK(none.starts_with("the request: must have exactly one destination of"));
  CHECK(none.ends_with("got none"));
  const json two = With(Minimal(), "/S3DestinationConfiguration", {{"BucketARN", "file:///d"}});
  CHECK(ParseError(two).ends_with(
      "got ExtendedS3DestinationConfiguration, S3DestinationConfiguration"));
}

TEST_CASE("BucketARN: an S3 bucket ARN or file:///absolute/dir") {
  const std::string where = std::string(kS3) + "/BucketARN";
  for (const std::string& good :
       Strings{"arn:aws:s3:::abc", "arn:aws:s3:::my.bucket-9", "file:///"}) {
    INFO(good);
    CHECK(MustParse(With(Minimal(), where, good)).object_store.bucket_arn == good);
  }
  for (const std::string& bad :
       Strings{"arn:aws:s3:::ab", "arn:aws:s3:::Upper", "arn:aws:s3:::-dash", "arn:aws:s3:::dot.",
               std::string("arn:aws:s3:::").append(64, 'b'), "file://relative/dir", "s3://bucket",
               ""}) {
    CHECK(ParseError(With(Minimal(), where, bad))
              .starts_with("ExtendedS3DestinationConfiguration.BucketARN: must be "
                           "arn:aws:s3:::<bucket>"));
  }
  CHECK(ParseError(Without(Minimal(), where)) ==
        "ExtendedS3DestinationConfiguration.BucketARN: required");
}

TEST_CASE("EndpointURL: http(s), only for an S3 bucket") {
  const json s3 = With(Minimal(), std::string(kS3) + "/BucketARN", "arn:aws:s3:::bucket");
  const std::string where = std::string(kS3) + "/EndpointURL";
  CHECK(MustParse(With(s3, where, "https://s3.example.com")).object_store.endpoint_url ==
        "https://s3.example.com");
  CHECK(ParseError(With(s3, where, "ftp://x")) ==
        "ExtendedS3DestinationConfiguration.EndpointURL: must be an http:// or https:// URL of a "
        "host "
        "(and port) only, got "
        "\"ftp://x\"");
  CHECK(ParseError(With(s3, where, "http://"))
            .starts_with("ExtendedS3DestinationConfiguration.EndpointURL: must be"));
  CHECK(ParseError(With(Minimal(), where, "http://127.0.0.1:1")) ==
        "ExtendedS3DestinationConfiguration.EndpointURL: allowed only with an arn:aws:s3::: "
        "BucketARN, got BucketARN \"file:///tmp/lake\"");
}

TEST_CASE("Prefix and ErrorOutputPrefix follow Firehose's expression rules") {
  const std::string prefix = std::string(kS3) + "/Prefix";
  const std::string error_prefix = std::string(kS3) + "/ErrorOutputPrefix";
  CHECK(ParseError(With(Minimal(), prefix, "!{timestamp:yyyy}/")) ==
        "ExtendedS3DestinationConfiguration.ErrorOutputPrefix: required when Prefix has "
        "expressions, e.g. \"errors/!{firehose:error-output-type}/\"");
  CHECK(ParseError(With(Minimal(), prefix, "!{nope:x}/"))
            .starts_with("ExtendedS3DestinationConfiguration.Prefix: unsupported expression"));
  CHECK(ParseError(With(Minimal(), prefix, "p/!{firehose:error-output-type}/")) ==
        "ExtendedS3DestinationConfiguration.Prefix: !{firehose:error-output-type} is allowed only "
        "in ErrorOutputPrefix");
  CHECK(ParseError(With(Minimal(), error_prefix, "e/!{timestamp:yyyy}/"))
            .starts_with("ExtendedS3DestinationConfiguration.ErrorOutputPrefix: an "
                         "ErrorOutputPrefix with expressions must contain"));
  const DeliveryStreamConfig config =
      MustParse(With(With(Minimal(), prefix, "p/!{timestamp:yyyy}/"), error_prefix,
                     "e/!{firehose:error-output-type}/"));
  CHECK(config.object_store.error_output_prefix == "e/!{firehose:error-output-type}/");
  // Without expressions an ErrorOutputPrefix is optional and may be plain.
  CHECK(MustParse(With(With(Minimal(), prefix, "p/"), error_prefix, "e/"))
            .object_store.error_output_prefix == "e/");
}

TEST_CASE("BufferingHints: per-destination ranges, given together") {
  const std::string hints = std::string(kS3) + "/BufferingHints";
  const json both = {{"SizeInMBs", 1}, {"IntervalInSeconds", 900}};
  const DeliveryStreamConfig config = MustParse(With(Minimal(), hints, both));
  CHECK(config.buffering().size_bytes == 1 << 20);
  CHECK(config.buffering().interval_ms == 900'000);
  CHECK(ParseError(With(Minimal(), hints + "/SizeInMBs", 0)) ==
        "ExtendedS3DestinationConfiguration.BufferingHints: SizeInMBs and IntervalInSeconds must "
        "be given together");
  CHECK(ParseError(With(With(Minimal(), hints, both), hints + "/SizeInMBs", 0)) ==
        "ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs: must be an integer from 1 "
        "to 128, got 0");
  CHECK(ParseError(With(With(Minimal(), hints, both), hints + "/SizeInMBs", 129))
            .ends_with("from 1 to 128, got 129"));
  CHECK(ParseError(With(With(Minimal(), hints, both), hints + "/IntervalInSeconds", 901)) ==
        "ExtendedS3DestinationConfiguration.BufferingHints.IntervalInSeconds: must be an integer "
        "from 0 to 900, got 901");
  const std::string http_hints = std::string(kHttp) + "/BufferingHints";
  CHECK(MustParse(With(MinimalHttp(), http_hints, {{"SizeInMBs", 64}, {"IntervalInSeconds", 0}}))
            .buffering()
            .size_bytes == 64 << 20);
  CHECK(
      ParseError(With(MinimalHttp(), http_hints, {{"SizeInMBs", 65}, {"IntervalInSeconds", 0}})) ==
      "HttpEndpointDestinationConfiguration.BufferingHints.SizeInMBs: must be an integer from 1 "
      "to 64, got 65");
}

TEST_CASE("CompressionFormat, FileExtension and S3BackupMode of an object store") {
  const std::string s3 = kS3;
  CHECK(ParseError(With(Minimal(), s3 + "/CompressionFormat", "ZIP")) ==
        "ExtendedS3DestinationConfiguration.CompressionFormat: must be UNCOMPRESSED or GZIP, got "
        "\"ZIP\"");
  for (const std::string& bad :
       Strings{"json", ".", ".JSON", ".a b", std::string(".").append(128, 'x')}) {
    CHECK(ParseError(With(Minimal(), s3 + "/FileExtension", bad))
              .starts_with("ExtendedS3DestinationConfiguration.FileExtension: must be"));
  }
  CHECK(
      MustParse(With(Minimal(), s3 + "/FileExtension", ".log_1!*'()-")).object_store.extension() ==
      ".log_1!*'()-");
  CHECK(ParseError(With(Minimal(), s3 + "/S3BackupMode", "Enabled")) ==
        "ExtendedS3DestinationConfiguration.S3BackupMode: must be Disabled, got \"Enabled\"");
}

TEST_CASE("RetryOptions.DurationInSeconds ranges per destination") {
  CHECK(ParseError(With(Minimal(), std::string(kS3) + "/RetryOptions/DurationInSeconds", 86401)) ==
        "ExtendedS3DestinationConfiguration.RetryOptions.DurationInSeconds: must be an integer "
        "from 0 to 86400, got 86401");
  CHECK(ParseError(
            With(MinimalHttp(), std::string(kHttp) + "/RetryOptions/DurationInSeconds", 7201)) ==
        "HttpEndpointDestinationConfiguration.RetryOptions.DurationInSeconds: must be an integer "
        "from 0 to 7200, got 7201");
  CHECK(ParseError(
            With(MinimalPostgres(), std::string(kPg) + "/RetryOptions/DurationInSeconds", -1)) ==
        "PostgreSQLDestinationConfiguration.RetryOptions.DurationInSeconds: must be an integer "
        "from 0 to 7200, got -1");
  CHECK(ParseError(With(Minimal(), std::string(kS3) + "/RetryOptions/Other", 1))
            .starts_with("ExtendedS3DestinationConfiguration.RetryOptions.Other: unknown"));
  CHECK(MustParse(With(MinimalHttp(), std::string(kHttp) + "/RetryOptions/DurationInSeconds", 7200))
            .retry_duration_ms() == 7'200'000);
}

TEST_CASE("a Lambda processor's parameters") {
  const std::string processing = std::string(kS3) + "/ProcessingConfiguration";
  DeliveryStreamConfig config = MustParse(
      With(Minimal(), processing,
           Processing({{"LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:upper:7"},
                       {"NumberOfRetries", "0"},
                       {"BufferSizeInMBs", "0.2"},
                       {"BufferIntervalInSeconds", "900"},
                       {"RoleArn", "arn:aws:iam::123456789012:role/r"}})));
  const ProcessorConfig& processor = config.processor;
  CHECK(processor.enabled);
  CHECK(processor.function_name == "upper");
  CHECK(processor.qualifier == "7");
  CHECK(processor.number_of_retries == 0);
  CHECK(processor.buffer_size_bytes == 209'715);  // 0.2 MiB, rounded
  CHECK(processor.buffer_interval_ms == 900'000);

  config = MustParse(With(Minimal(), processing, Processing({{"LambdaArn", "upper"}})));
  CHECK(config.processor.function_name == "upper");
  CHECK(config.processor.qualifier == "$LATEST");
  CHECK(config.processor.number_of_retries == 3);
  CHECK(config.processor.buffer_size_bytes == 1 << 20);
  CHECK(config.processor.buffer_interval_ms == 60'000);
  for (const auto& [arn, qualifier] : std::vector<std::pair<std::string, std::string>>{
           {"upper:$LATEST", "$LATEST"},
           {"upper:12", "12"},
           {"arn:aws:lambda:local:000000000000:function:upper", "$LATEST"}}) {
    INFO(arn);
    CHECK(MustParse(With(Minimal(), processing, Processing({{"LambdaArn", arn}})))
              .processor.qualifier == qualifier);
  }
  CHECK(MustParse(
            With(Minimal(), processing, Processing({{"LambdaArn", "f"}, {"BufferSizeInMBs", "3"}})))
            .processor.buffer_size_bytes == 3 << 20);
  CHECK(MustParse(With(Minimal(), processing,
                       Processing({{"LambdaArn", "f"}, {"BufferSizeInMBs", "2.5"}})))
            .processor.buffer_size_bytes == 5 << 19);
}

TEST_CASE("processor parameter values are checked, naming the parameter's path") {
  const std::string where =
      "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters[1]."
      "ParameterValue: ";
  for (const std::string& bad : Strings{"", "x", "-1", "301", "1.5", " 3"}) {
    CHECK(ProcessorError({{"LambdaArn", "f"}, {"NumberOfRetries", bad}}) ==
          where + "NumberOfRetries must be an integer from 0 to 300, got \"" + bad + "\"");
  }
  for (const std::string& bad : Strings{"0.1", "0.19", "3.01", "4", "1e0", ".5", "1.", "", "inf",
                                        "-1", "99999999999999999999999"}) {
    CHECK(ProcessorError({{"LambdaArn", "f"}, {"BufferSizeInMBs", bad}}) ==
          where + "BufferSizeInMBs must be a number from 0.2 to 3, got \"" + bad + "\"");
  }
  CHECK(ProcessorError({{"LambdaArn", "f"}, {"BufferIntervalInSeconds", "901"}}) ==
        where + "BufferIntervalInSeconds must be an integer from 0 to 900, got \"901\"");
  const std::string lambda_where =
      "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters[0]."
      "ParameterValue: LambdaArn";
  for (const std::string& bad :
       Strings{"", "a/b", std::string(65, 'f'), "arn:aws:lambda:r:1:function:"}) {
    CHECK(ProcessorError({{"LambdaArn", bad}}) ==
          lambda_where + "'s function name must be 1-64 characters of [A-Za-z0-9_-], got \"" + bad +
              "\"");
  }
  for (const std::string& bad : Strings{"f:prod", "f:01", "f:", "f:1:2"}) {
    CHECK(ProcessorError({{"LambdaArn", bad}}) ==
          lambda_where +
              "'s qualifier must be $LATEST or a version number from 1 (no alias), got \"" + bad +
              "\"");
  }
  for (const std::string& bad :
       Strings{"arn:aws:sqs:us-east-1:1:function:f", "arn:aws:lambda:r:1:f", "arn:aws:lambda"}) {
    CHECK(ProcessorError({{"LambdaArn", bad}}).starts_with(lambda_where + " must be"));
  }
}

TEST_CASE("processor structure: one Lambda with a LambdaArn, known names, no repeats") {
  const std::string processing = std::string(kS3) + "/ProcessingConfiguration";
  const std::string where = "ExtendedS3DestinationConfiguration.ProcessingConfiguration";
  CHECK(ProcessorError({{"NumberOfRetries", "1"}}) ==
        where + ".Processors[0].Parameters: a Lambda processor needs LambdaArn");
  CHECK(ProcessorError({{"LambdaArn", "f"}, {"Memory", "1"}}) ==
        where +
            ".Processors[0].Parameters[1].ParameterName: must be LambdaArn, NumberOfRetries, "
            "BufferSizeInMBs, BufferIntervalInSeconds or RoleArn, got \"Memory\"");
  CHECK(ProcessorError({{"LambdaArn", "f"}, {"LambdaArn", "g"}}) ==
        where + ".Processors[0].Parameters[1].ParameterName: LambdaArn is given twice");
  json two = Processing({{"LambdaArn", "f"}});
  two["Processors"].push_back(two["Processors"][0]);
  CHECK(ParseError(With(Minimal(), processing, two)) ==
        where + ".Processors: must hold at most one Lambda processor, got 2");
  json other = Processing({{"LambdaArn", "f"}});
  other["Processors"][0]["Type"] = "AppendDelimiterToRecord";
  CHECK(ParseError(With(Minimal(), processing, other)) ==
        where +
            ".Processors[0].Type: must be Lambda (the only processor Sluice runs), got "
            "\"AppendDelimiterToRecord\"");
  CHECK(ParseError(With(Minimal(), processing, {{"Enabled", true}})) ==
        where + ".Processors: Enabled true needs a Lambda processor, got none");
  CHECK(ParseError(With(Minimal(), processing, {{"Enabled", "yes"}})) ==
        where + ".Enabled: must be true or false, got \"yes\"");
}

TEST_CASE("Enabled false keeps the processor configured but off") {
  const DeliveryStreamConfig config =
      MustParse(With(Minimal(), std::string(kS3) + "/ProcessingConfiguration",
                     Processing({{"LambdaArn", "upper:2"}, {"NumberOfRetries", "5"}}, false)));
  CHECK_FALSE(config.processor.enabled);
  CHECK(config.processor.function_name == "upper");
  CHECK(config.processor.number_of_retries == 5);
  CHECK(MustParse(ToCreateRequest(config)) == config);
}

TEST_CASE("an HTTP endpoint destination") {
  json http = MinimalHttp();
  http[json::json_pointer(std::string(kHttp) + "/EndpointConfiguration")] = {
      {"Url", "http://127.0.0.1:8080/in"}, {"Name", "receiver"}, {"AccessKey", "secret"}};
  http[json::json_pointer(std::string(kHttp) + "/RequestConfiguration")] = {
      {"ContentEncoding", "GZIP"},
      {"CommonAttributes",
       {{{"AttributeName", "env"}, {"AttributeValue", "test"}},
        {{"AttributeName", "team"}, {"AttributeValue", ""}}}}};
  http[json::json_pointer(std::string(kHttp) + "/S3BackupMode")] = "AllData";
  const DeliveryStreamConfig config = MustParse(http);
  CHECK(config.destination == DestinationKind::kHttpEndpoint);
  CHECK(config.http.url == "http://127.0.0.1:8080/in");
  CHECK(config.http.name == "receiver");
  CHECK(config.http.access_key == "secret");
  CHECK(config.http.gzip);
  CHECK(config.http.common_attributes ==
        std::vector<std::pair<std::string, std::string>>{{"env", "test"}, {"team", ""}});
  CHECK(config.http.backup_all_data);
  CHECK(config.http.retry_duration_ms == 300'000);
  CHECK(&config.store() == &config.http.backup);
  CHECK(&config.buffering() == &config.http.buffering);
  CHECK(config.store().directory() == "/tmp/failed");
  CHECK_FALSE(MustParse(MinimalHttp()).http.backup_all_data);
}

TEST_CASE("HTTP endpoint rules") {
  const std::string h = kHttp;
  const std::string where = "HttpEndpointDestinationConfiguration";
  CHECK(ParseError(Without(MinimalHttp(), h + "/EndpointConfiguration")) ==
        where + ".EndpointConfiguration: required");
  CHECK(ParseError(Without(MinimalHttp(), h + "/EndpointConfiguration/Url")) ==
        where + ".EndpointConfiguration.Url: required");
  for (const std::string& bad : Strings{"ftp://x", "https://", "example.com", "https:///path",
                                        std::string("https://").append(993, 'h')}) {
    CHECK(ParseError(With(MinimalHttp(), h + "/EndpointConfiguration/Url", bad)) ==
          where +
              ".EndpointConfiguration.Url: must be an http:// or https:// URL of at most 1000 "
              "characters, got \"" +
              bad + "\"");
  }
  CHECK(ParseError(With(MinimalHttp(), h + "/EndpointConfiguration/Name", std::string(257, 'n'))) ==
        where + ".EndpointConfiguration.Name: must be at most 256 characters, got 257");
  CHECK(ParseError(
            With(MinimalHttp(), h + "/EndpointConfiguration/AccessKey", std::string(4097, 'k'))) ==
        where + ".EndpointConfiguration.AccessKey: must be at most 4096 characters, got 4097");
  CHECK(ParseError(With(MinimalHttp(), h + "/RequestConfiguration/ContentEncoding", "gzip")) ==
        where + ".RequestConfiguration.ContentEncoding: must be NONE or GZIP, got \"gzip\"");
  json attributes = json::array();
  for (int i = 0; i < 51; ++i) {
    attributes.push_back(
        {{"AttributeName", std::string("a").append(std::to_string(i))}, {"AttributeValue", "v"}});
  }
  CHECK(ParseError(With(MinimalHttp(), h + "/RequestConfiguration/CommonAttributes", attributes)) ==
        where + ".RequestConfiguration.CommonAttributes: must hold at most 50 attributes, got 51");
  CHECK(ParseError(With(MinimalHttp(), h + "/RequestConfiguration/CommonAttributes",
                        {{{"AttributeName", ""}, {"AttributeValue", "v"}}})) ==
        where +
            ".RequestConfiguration.CommonAttributes[0].AttributeName: must be 1-256 "
            "characters, got \"\"");
  CHECK(ParseError(With(MinimalHttp(), h + "/RequestConfiguration/CommonAttributes",
                        {{{"AttributeName", "a"}, {"AttributeValue", std::string(1025, 'v')}}})) ==
        where +
            ".RequestConfiguration.CommonAttributes[0].AttributeValue: must be at most 1024 "
            "characters, got 1025");
  CHECK(ParseError(With(MinimalHttp(), h + "/S3BackupMode", "Disabled")) ==
        where + ".S3BackupMode: must be FailedDataOnly or AllData, got \"Disabled\"");
  CHECK(ParseError(Without(MinimalHttp(), h + "/S3Configuration")) ==
        where + ".S3Configuration: required");
  CHECK(ParseError(With(MinimalHttp(), h + "/S3Configuration/BucketARN", "x")) ==
        where +
            ".S3Configuration.BucketARN: must be arn:aws:s3:::<bucket> (3-63 characters of "
            "[a-z0-9.-], beginning and ending with a letter or digit) or file:///absolute/dir, "
            "got \"x\"");
  CHECK(ParseError(
            With(MinimalHttp(), h + "/S3Configuration/ProcessingConfiguration", json::object()))
            .starts_with(where + ".S3Configuration.ProcessingConfiguration: unknown property"));
  CHECK(MustParse(
            With(MinimalHttp(), h + "/ProcessingConfiguration", Processing({{"LambdaArn", "f"}})))
            .processor.enabled);
}

TEST_CASE("a PostgreSQL destination") {
  json request = MinimalPostgres();
  request[json::json_pointer(std::string(kPg) + "/CopyCommand")] = {
      {"DataTableName", "public.tolls"},
      {"DataTableColumns", "plate,amount_cents,_at$"},
      {"CopyOptions", "  json 'AUTO' "}};
  const DeliveryStreamConfig config = MustParse(request);
  CHECK(config.destination == DestinationKind::kPostgres);
  CHECK(config.postgres.connection_string == "host=/tmp dbname=tolls");
  CHECK(config.postgres.table == "public.tolls");
  CHECK(config.postgres.columns == "plate,amount_cents,_at$");
  CHECK(config.postgres.json_auto());
  CHECK(config.postgres.retry_duration_ms == 3'600'000);
  CHECK(config.retry_duration_ms() == 3'600'000);
  CHECK(&config.store() == &config.postgres.intermediate);
  CHECK(&config.buffering() == &config.postgres.intermediate.buffering);
  CHECK_FALSE(MustParse(With(MinimalPostgres(), std::string(kPg) + "/CopyCommand/CopyOptions",
                             "CSV HEADER"))
                  .postgres.json_auto());
}

TEST_CASE("PostgreSQL rules") {
  const std::string p = kPg;
  const std::string where = "PostgreSQLDestinationConfiguration";
  CHECK(ParseError(Without(MinimalPostgres(), p + "/ConnectionString")) ==
        where + ".ConnectionString: required");
  CHECK(ParseError(With(MinimalPostgres(), p + "/ConnectionString", "")) ==
        where + ".ConnectionString: must be a libpq conninfo or postgresql:// URI, got \"\"");
  CHECK(ParseError(Without(MinimalPostgres(), p + "/CopyCommand")) ==
        where + ".CopyCommand: required");
  CHECK(ParseError(Without(MinimalPostgres(), p + "/CopyCommand/DataTableName")) ==
        where + ".CopyCommand.DataTableName: required");
  for (const std::string& bad :
       Strings{"", "1tolls", "a.b.c", "a b", "t;drop", ".t", "s.", "$t", std::string(64, 't')}) {
    CHECK(ParseError(With(MinimalPostgres(), p + "/CopyCommand/DataTableName", bad)) ==
          where +
              ".CopyCommand.DataTableName: must be a table name or schema.table, each a SQL "
              "identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 63), got \"" +
              bad + "\"");
  }
  for (const std::string& bad : Strings{"a,,b", "a, b", ",a", "a,", "a;b"}) {
    CHECK(ParseError(With(MinimalPostgres(), p + "/CopyCommand/DataTableColumns", bad)) ==
          where +
              ".CopyCommand.DataTableColumns: must be column names separated by commas, no "
              "blanks (\"id,name\"), each a SQL identifier, got \"" +
              bad + "\"");
  }
  CHECK(ParseError(With(MinimalPostgres(), p + "/CopyCommand/CopyOptions", "JSON 'auto'")) ==
        where +
            ".CopyCommand.DataTableColumns: required with CopyOptions JSON 'auto' (the columns "
            "to fill from each record's properties)");
  CHECK(ParseError(Without(MinimalPostgres(), p + "/S3Configuration")) ==
        where + ".S3Configuration: required");
}

// Parse(ToCreateRequest(c)) == c, and the canonical request is a fixed point.
void CheckRoundTrip(const json& request) {
  const DeliveryStreamConfig config = MustParse(request);
  const json canonical = ToCreateRequest(config);
  INFO(canonical.dump());
  const DeliveryStreamConfig again = MustParse(canonical);
  CHECK(again == config);
  CHECK(ToCreateRequest(again) == canonical);
}

TEST_CASE("the canonical request round-trips") {
  CheckRoundTrip(Minimal());
  CheckRoundTrip(MinimalHttp());
  CheckRoundTrip(MinimalPostgres());
  json full = Minimal();
  full["DeliveryStreamType"] = "KinesisStreamAsSource";
  full["KinesisStreamSourceConfiguration"] = {
      {"KinesisStreamARN", "arn:aws:kinesis:us-east-1:123456789012:stream/tolls"},
      {"RoleARN", "arn:aws:iam::123456789012:role/r"}};
  full[kS3Key] = {{"BucketARN", "arn:aws:s3:::lake"},
                  {"EndpointURL", "http://127.0.0.1:4568"},
                  {"Prefix", "t/!{timestamp:yyyy}/!{firehose:random-string}/"},
                  {"ErrorOutputPrefix", "e/!{firehose:error-output-type}/"},
                  {"BufferingHints", {{"SizeInMBs", 7}, {"IntervalInSeconds", 61}}},
                  {"CompressionFormat", "GZIP"},
                  {"FileExtension", ".ndjson.gz"},
                  {"RetryOptions", {{"DurationInSeconds", 10}}},
                  {"ProcessingConfiguration",
                   Processing({{"LambdaArn", "arn:aws:lambda:local:000000000000:function:up:3"},
                               {"NumberOfRetries", "9"},
                               {"BufferSizeInMBs", "0.3333"},
                               {"BufferIntervalInSeconds", "5"}})}};
  CheckRoundTrip(full);
  json http = MinimalHttp();
  http[kHttpKey]["RequestConfiguration"] = {
      {"ContentEncoding", "GZIP"},
      {"CommonAttributes", {{{"AttributeName", "k"}, {"AttributeValue", "v"}}}}};
  http[kHttpKey]["EndpointConfiguration"]["AccessKey"] = "key";
  http[kHttpKey]["S3BackupMode"] = "AllData";
  http[kHttpKey]["ProcessingConfiguration"] =
      Processing({{"LambdaArn", "f"}, {"BufferSizeInMBs", "2.5"}}, false);
  CheckRoundTrip(http);
  json postgres = MinimalPostgres();
  postgres[kPgKey]["CopyCommand"] = {
      {"DataTableName", "s.t"}, {"DataTableColumns", "a,b"}, {"CopyOptions", "JSON 'auto'"}};
  postgres[kPgKey]["RetryOptions"] = {{"DurationInSeconds", 0}};
  CheckRoundTrip(postgres);
}

TEST_CASE("the canonical request writes every default") {
  const json canonical = ToCreateRequest(MustParse(Minimal()));
  const json expected = {
      {"DeliveryStreamName", "tolls-lake"},
      {"DeliveryStreamType", "DirectPut"},
      {"ExtendedS3DestinationConfiguration",
       {{"BucketARN", "file:///tmp/lake"},
        {"Prefix", ""},
        {"ErrorOutputPrefix", ""},
        {"BufferingHints", {{"SizeInMBs", 5}, {"IntervalInSeconds", 300}}},
        {"CompressionFormat", "UNCOMPRESSED"},
        {"FileExtension", ""},
        {"RetryOptions", {{"DurationInSeconds", 86400}}},
        {"ProcessingConfiguration", {{"Enabled", false}, {"Processors", json::array()}}},
        {"S3BackupMode", "Disabled"}}}};
  CHECK(canonical == expected);
  // The shortest decimal that reads back as the same bytes.
  const json processing = ToCreateRequest(
      MustParse(With(Minimal(), std::string(kS3) + "/ProcessingConfiguration",
                     Processing({{"LambdaArn", "f:4"},
                                 {"BufferSizeInMBs", "0.2"}}))))[kS3Key]["ProcessingConfiguration"];
  CHECK(processing == Processing({{"LambdaArn", "f:4"},
                                  {"NumberOfRetries", "3"},
                                  {"BufferSizeInMBs", "0.2"},
                                  {"BufferIntervalInSeconds", "60"}}));
  // S3DestinationConfiguration comes back as the extended form.
  CHECK(ToCreateRequest(MustParse(
            {{"DeliveryStreamName", "tolls-lake"},
             {"S3DestinationConfiguration", {{"BucketARN", "file:///tmp/lake"}}}})) == canonical);
}

TEST_CASE("DescribeDeliveryStream's Source and Destinations") {
  CHECK(DescribeSource(MustParse(Minimal()), "ignored").is_null());
  json stream = With(With(Minimal(), "/DeliveryStreamType", "KinesisStreamAsSource"),
                     "/KinesisStreamSourceConfiguration/KinesisStreamARN", "tolls");
  CHECK(DescribeSource(MustParse(stream), "arn:aws:kinesis:local:000000000000:stream/tolls") ==
        json{{"KinesisStreamSourceDescription",
              {{"KinesisStreamARN", "arn:aws:kinesis:local:000000000000:stream/tolls"}}}});

  const json s3 = DescribeDestinations(MustParse(Minimal()));
  REQUIRE(s3.size() == 1);
  CHECK(s3[0]["DestinationId"] == "destinationId-000000000001");
  CHECK(s3[0]["ExtendedS3DestinationDescription"]["BucketARN"] == "file:///tmp/lake");
  CHECK(s3[0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]["Enabled"] == false);
  CHECK(s3[0]["ExtendedS3DestinationDescription"]["EncryptionConfiguration"] ==
        json{{"NoEncryptionConfig", "NoEncryption"}});
  CHECK(s3[0]["S3DestinationDescription"]["BufferingHints"]["SizeInMBs"] == 5);
  CHECK_FALSE(s3[0]["S3DestinationDescription"].contains("ProcessingConfiguration"));

  json http_request = MinimalHttp();
  http_request[kHttpKey]["EndpointConfiguration"]["AccessKey"] = "secret";
  const json http = DescribeDestinations(MustParse(http_request));
  REQUIRE(http.size() == 1);
  const json& description = http[0]["HttpEndpointDestinationDescription"];
  CHECK(description["EndpointConfiguration"] ==
        json{{"Url", "https://example.com/in"}, {"Name", ""}});
  CHECK(description["S3DestinationDescription"]["BucketARN"] == "file:///tmp/failed");
  CHECK_FALSE(description.contains("S3Configuration"));
  CHECK(description["S3BackupMode"] == "FailedDataOnly");

  const json postgres = DescribeDestinations(MustParse(MinimalPostgres()));
  REQUIRE(postgres.size() == 1);
  const json& pg = postgres[0]["PostgreSQLDestinationDescription"];
  CHECK_FALSE(pg.contains("ConnectionString"));
  CHECK(pg["CopyCommand"]["DataTableName"] == "tolls");
  CHECK(pg["RetryOptions"]["DurationInSeconds"] == 3600);
  CHECK(pg["S3DestinationDescription"]["BucketARN"] == "file:///tmp/staging");
}

}  // namespace
// An AccessKey goes verbatim into the X-Amz-Firehose-Access-Key header; CR or LF in it would
// inject headers (or a second request) into every POST to the endpoint.
TEST_CASE("an AccessKey with CR or LF is refused") {
  for (const char* key : {"secret\r\nX-Injected: evil", "secret\nX: y", "secret\r"}) {
    const std::string message = ParseError(
        With(MinimalHttp(), std::string(kHttp) + "/EndpointConfiguration/AccessKey", key));
    CHECK(message.find("AccessKey") != std::string::npos);
  }
}

// A directory store refuses keys with "..", "." or empty segments (DirectoryStore::Put), so a
// prefix that makes them must be refused when the stream is created: accepted, every batch fails
// and its error object (same prefix) can never be written, wedging the stream forever.
TEST_CASE("a directory store's Prefix and ErrorOutputPrefix must make valid object keys") {
  for (const char* prefix :
       {"../escape/", "/abs/", "a//b/", "./x/", "a/../b/", "!{timestamp:'..'}/"}) {
    json request = With(Minimal(), std::string(kS3) + "/Prefix", prefix);
    request[json::json_pointer(std::string(kS3) + "/ErrorOutputPrefix")] =
        "errors/!{firehose:error-output-type}/";
    CHECK(ParseError(request).find("Prefix") != std::string::npos);
    CHECK(ParseError(With(Minimal(), std::string(kS3) + "/ErrorOutputPrefix",
                          std::string(prefix) + "!{firehose:error-output-type}/"))
              .find("ErrorOutputPrefix") != std::string::npos);
  }
}

// An S3 endpoint is a host and port: requests go to ENDPOINT/BUCKET/KEY, signed as such.
TEST_CASE("an S3 EndpointURL loses a trailing slash and may not hold a path") {
  json request = With(Minimal(), std::string(kS3) + "/BucketARN", "arn:aws:s3:::lake");
  request[json::json_pointer(std::string(kS3) + "/EndpointURL")] = "http://127.0.0.1:4568/";
  Result<DeliveryStreamConfig> parsed = ParseDeliveryStreamConfig(request);
  REQUIRE(parsed.ok());
  CHECK(parsed->object_store.endpoint_url == "http://127.0.0.1:4568");
  for (const char* url : {"http://h/path", "http://h:1?x=1", "http://u@h", "http://h x"}) {
    request[json::json_pointer(std::string(kS3) + "/EndpointURL")] = url;
    CHECK(ParseError(request).find("EndpointURL") != std::string::npos);
  }
}

TEST_CASE("CommonAttributes may not name an attribute twice") {
  json request = MinimalHttp();
  request[json::json_pointer(std::string(kHttp) + "/RequestConfiguration")] = {
      {"CommonAttributes",
       {{{"AttributeName", "a"}, {"AttributeValue", "1"}},
        {{"AttributeName", "a"}, {"AttributeValue", "2"}}}}};
  CHECK(ParseError(request).find("CommonAttributes[1].AttributeName") != std::string::npos);
}

}  // namespace sluice::delivery
