// DeliveryStreamConfig: one delivery stream's settings, in Firehose's CreateDeliveryStream shape
// (wire-formats.md §5), validated once when the stream is created or loaded.
//
// The accepted request (JSON, Firehose's property names; unknown properties are refused):
//
//   {"DeliveryStreamName": "tolls-lake",                       // 1-64 of [a-zA-Z0-9_.-]
//    "DeliveryStreamType": "DirectPut" | "KinesisStreamAsSource", // default DirectPut
//    "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "arn:aws:kinesis:...:stream/tolls"
//                                         or a plain stream name, "RoleARN": ignored},
//    one destination of:
//    "ExtendedS3DestinationConfiguration" (or "S3DestinationConfiguration"): an object store
//       {"BucketARN": "arn:aws:s3:::bucket" | "file:///abs/dir",
//        "EndpointURL": "http://127.0.0.1:4568",   // Sluice: S3 API endpoint (default AWS's)
//        "Prefix", "ErrorOutputPrefix", "BufferingHints": {"SizeInMBs": 1-128 (5),
//        "IntervalInSeconds": 0-900 (300)}, "CompressionFormat": "UNCOMPRESSED" | "GZIP",
//        "FileExtension", "ProcessingConfiguration": {...},
//        "RetryOptions": {"DurationInSeconds": 0-86400 (86400)},   // Sluice: S3 retries 24 h
//        "RoleARN", "CloudWatchLoggingOptions", "EncryptionConfiguration", "S3BackupMode":
//        "Disabled" are accepted and ignored; EndpointURL only with an S3 BucketARN; a Prefix
//        with expressions needs an ErrorOutputPrefix (object_naming.h has the prefix rules);
//        BufferingHints' two properties come together; FileExtension "" or ".[0-9a-z!-_.*'()]+"}
//    "HttpEndpointDestinationConfiguration":
//       {"EndpointConfiguration": {"Url"*: http(s)://..., "Name", "AccessKey"},
//        "RequestConfiguration": {"ContentEncoding": "NONE" | "GZIP",
//                                 "CommonAttributes": [{"AttributeName", "AttributeValue"}]},
//        "BufferingHints": {"SizeInMBs": 1-64 (5), "IntervalInSeconds": 0-900 (300)},
//        "RetryOptions": {"DurationInSeconds": 0-7200 (300)},
//        "S3BackupMode": "FailedDataOnly" (default) | "AllData",
//        "S3Configuration"*: an object store as above (no processing), for failed data,
//        "ProcessingConfiguration": {...}, "RoleARN", "CloudWatchLoggingOptions": ignored}
//    "PostgreSQLDestinationConfiguration" (Sluice; shaped like Redshift's):
//       {"ConnectionString"*: a libpq conninfo or postgresql:// URI,
//        "CopyCommand"*: {"DataTableName"*: table or schema.table, "DataTableColumns": "a,b,c"
//                         (SQL identifiers, no blanks), "CopyOptions" (JSON 'auto' needs
//                         DataTableColumns)},
//        "RetryOptions": {"DurationInSeconds": 0-7200 (3600)},
//        "S3Configuration"*: the intermediate object store (its BufferingHints buffer the loads),
//        "ProcessingConfiguration": {...}, "RoleARN", "CloudWatchLoggingOptions": ignored}
//   }
//
//   "ProcessingConfiguration": {"Enabled": bool (false), "Processors": [{"Type": "Lambda",
//       "Parameters": [{"ParameterName": "LambdaArn" | "NumberOfRetries" | "BufferSizeInMBs" |
//                        "BufferIntervalInSeconds" | "RoleArn", "ParameterValue": "..."}]}]}
//   LambdaArn: a function name, "name:qualifier" or
//   arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]. NumberOfRetries 0-300 (3); BufferSizeInMBs
//   0.2-3 (1, may be fractional); BufferIntervalInSeconds 0-900 (60). At most one Lambda processor,
//   with a LambdaArn; Enabled true needs it, Enabled false keeps it configured but off.
//
// Errors are INVALID_ARGUMENT naming the JSON path, the value and the rule, e.g.
// "ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs: must be an integer from 1 to 128,
// got 0". Whether the function or source stream exists is checked by the DeliveryService, not here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::delivery {

enum class SourceKind { kDirectPut, kStream };
enum class DestinationKind { kObjectStore, kHttpEndpoint, kPostgres };
enum class Compression { kNone, kGzip };

struct BufferingHints {
  int64_t size_bytes = 5ll << 20;  // SizeInMBs, in MiB
  int64_t interval_ms = 300'000;   // IntervalInSeconds

  bool operator==(const BufferingHints&) const = default;
};

// An S3 bucket through its API, or a local directory laid out like one.
struct ObjectStoreConfig {
  std::string bucket_arn;    // "arn:aws:s3:::bucket" or "file:///abs/dir"
  std::string endpoint_url;  // S3 only; empty means https://s3.<region>.amazonaws.com
  std::string prefix;
  std::string error_output_prefix;
  BufferingHints buffering;
  Compression compression = Compression::kNone;
  std::string file_extension;  // FileExtension; empty: ".gz" for GZIP, none otherwise
  int64_t retry_duration_ms = 86'400'000;

  bool is_directory() const { return bucket_arn.rfind("file://", 0) == 0; }
  std::string directory() const { return bucket_arn.substr(7); }  // REQUIRES: is_directory()
  std::string bucket() const;  // REQUIRES: !is_directory(): what follows "arn:aws:s3:::"
  // The extension objects get: file_extension if set, else ".gz" with GZIP, else "".
  std::string extension() const;

  bool operator==(const ObjectStoreConfig&) const = default;
};

struct ProcessorConfig {
  bool enabled = false;
  std::string function_name;
  std::string qualifier = "$LATEST";
  int32_t number_of_retries = 3;
  int64_t buffer_size_bytes = 1 << 20;  // BufferSizeInMBs
  int64_t buffer_interval_ms = 60'000;  // BufferIntervalInSeconds

  bool operator==(const ProcessorConfig&) const = default;
};

struct HttpEndpointConfig {
  std::string url;
  std::string name;
  std::string access_key;
  bool gzip = false;  // RequestConfiguration.ContentEncoding
  std::vector<std::pair<std::string, std::string>> common_attributes;
  BufferingHints buffering;
  int64_t retry_duration_ms = 300'000;
  bool backup_all_data = false;  // S3BackupMode AllData
  ObjectStoreConfig backup;      // S3Configuration

  bool operator==(const HttpEndpointConfig&) const = default;
};

struct PostgresConfig {
  std::string connection_string;
  std::string table;
  std::string columns;  // DataTableColumns, as given ("" for all columns)
  std::string copy_options;
  int64_t retry_duration_ms = 3'600'000;
  ObjectStoreConfig intermediate;  // S3Configuration

  // Whether CopyOptions is Redshift's JSON 'auto' (case-insensitive, blanks around it ignored):
  // records are JSON objects whose properties fill DataTableColumns.
  bool json_auto() const;

  bool operator==(const PostgresConfig&) const = default;
};

struct DeliveryStreamConfig {
  std::string name;
  SourceKind source = SourceKind::kDirectPut;
  std::string source_stream;  // kStream: the Sluice stream's name (from the ARN)
  DestinationKind destination = DestinationKind::kObjectStore;
  ObjectStoreConfig object_store;  // kObjectStore
  HttpEndpointConfig http;         // kHttpEndpoint
  PostgresConfig postgres;         // kPostgres
  ProcessorConfig processor;

  // The hints that cut the destination's batches: the object store's, the endpoint's, or the
  // intermediate store's.
  const BufferingHints& buffering() const;
  // Where objects, processing-failed records and failed batches are written: the destination
  // itself, the endpoint's backup store, or the intermediate store.
  const ObjectStoreConfig& store() const;
  // The destination's RetryOptions.DurationInSeconds, in ms.
  int64_t retry_duration_ms() const;

  bool operator==(const DeliveryStreamConfig&) const = default;
};

// 1-64 characters of [a-zA-Z0-9_.-], and not "." or ".." (the name is a directory of the host's).
bool IsValidDeliveryStreamName(std::string_view name);

// Parses and validates a CreateDeliveryStream request.
Result<DeliveryStreamConfig> ParseDeliveryStreamConfig(const nlohmann::json& request);

// The canonical request for `config`: every default written out, ignored properties dropped.
// ParseDeliveryStreamConfig(ToCreateRequest(c)) gives c back; two configs are the same exactly
// when their canonical requests are equal. The host persists this form.
nlohmann::json ToCreateRequest(const DeliveryStreamConfig& config);

// DescribeDeliveryStream's "Source" (absent for DirectPut: null) and "Destinations" (one element,
// DestinationId "destinationId-000000000001", with the ...DestinationDescription of the
// destination's kind, in Firehose's description shapes; an object store also gets
// S3DestinationDescription, as Firehose gives both). Secrets stay out: the endpoint's AccessKey
// and the PostgreSQL ConnectionString (which may hold a password) are not described.
nlohmann::json DescribeSource(const DeliveryStreamConfig& config, const std::string& stream_arn);
nlohmann::json DescribeDestinations(const DeliveryStreamConfig& config);

}  // namespace sluice::delivery
