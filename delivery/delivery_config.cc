#include "delivery/delivery_config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string_view>

#include "base/json_fields.h"
#include "base/text.h"
#include "delivery/directory_store.h"
#include "delivery/object_naming.h"

namespace sluice::delivery {
namespace {

using nlohmann::json;
using Fields = JsonFields;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kMsPerSecond = 1000;
constexpr size_t kMaxDeliveryStreamNameChars = 64;
constexpr size_t kMaxStreamNameChars = 128;
constexpr size_t kMaxFunctionNameChars = 64;
constexpr size_t kMaxVersionDigits = 10;
constexpr size_t kMinBucketChars = 3;
constexpr size_t kMaxBucketChars = 63;
constexpr size_t kMaxFileExtensionChars = 128;
constexpr size_t kMaxUrlChars = 1000;
constexpr size_t kMaxEndpointNameChars = 256;
constexpr size_t kMaxAccessKeyChars = 4096;
constexpr size_t kMaxCommonAttributes = 50;
constexpr size_t kMaxAttributeNameChars = 256;
constexpr size_t kMaxAttributeValueChars = 1024;
constexpr size_t kMaxSqlIdentifierChars = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr int64_t kMaxIntervalSeconds = 900;
constexpr int64_t kMaxStoreSizeMbs = 128;
constexpr int64_t kMaxHttpSizeMbs = 64;
constexpr int64_t kMaxStoreRetrySeconds = 86'400;
constexpr int64_t kMaxLoadRetrySeconds = 7'200;  // HTTP endpoint and PostgreSQL
constexpr int64_t kMaxNumberOfRetries = 300;
constexpr int64_t kMaxProcessorIntervalSeconds = 900;
// BufferSizeInMBs 0.2-3: compared in bytes, so that the bytes a fraction rounds to pass again.
const int64_t kMinProcessorBufferBytes = std::llround(0.2 * kMiB);
constexpr int64_t kMaxProcessorBufferBytes = 3 * kMiB;

constexpr char kLatest[] = "$LATEST";
constexpr char kDirectPut[] = "DirectPut";
constexpr char kStreamSource[] = "KinesisStreamAsSource";
constexpr char kExtendedS3[] = "ExtendedS3DestinationConfiguration";
constexpr char kS3[] = "S3DestinationConfiguration";
constexpr char kHttpEndpoint[] = "HttpEndpointDestinationConfiguration";
constexpr char kPostgres[] = "PostgreSQLDestinationConfiguration";
constexpr char kDestinationId[] = "destinationId-000000000001";
constexpr std::string_view kS3ArnPrefix = "arn:aws:s3:::";
constexpr std::string_view kFileScheme = "file://";
constexpr std::string_view kFunctionResource = "function:";
constexpr std::string_view kStreamResource = "stream/";

std::string Quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// Whether every character of `text` is an ASCII letter, a digit or one of `extra`.
bool AlnumOr(std::string_view text, std::string_view extra) {
  return std::all_of(text.begin(), text.end(), [extra](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsStreamName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxStreamNameChars && AlnumOr(name, "_.-");
}

// Lambda's rule for a bare function name (invoker/function_name.h has the host's own).
bool IsFunctionName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxFunctionNameChars && AlnumOr(name, "_-");
}

// "$LATEST" or a version number: 1-10 digits, no leading zero (Sluice has no aliases).
bool IsQualifier(std::string_view qualifier) {
  return qualifier == kLatest ||
         (IsDigits(qualifier) && qualifier.size() <= kMaxVersionDigits && qualifier[0] != '0');
}

// S3's bucket naming rule: 3-63 of [a-z0-9.-], beginning and ending with a letter or digit.
bool IsBucketName(std::string_view name) {
  const auto lower_or_digit = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  return name.size() >= kMinBucketChars && name.size() <= kMaxBucketChars &&
         std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '.' || c == '-'; }) &&
         lower_or_digit(name.front()) && lower_or_digit(name.back());
}

// True when `text` has a byte below 0x20, DEL, or (with `space_too`) a space: what must not reach
// an HTTP request line or header.
bool HasControlBytes(std::string_view text, bool space_too) {
  return std::any_of(text.begin(), text.end(), [space_too](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f || (space_too && byte == ' ');
  });
}

// http:// or https://, a host, and no spaces or control bytes.
bool IsHttpUrl(std::string_view url) {
  if (HasControlBytes(url, /*space_too=*/true)) {
    return false;
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme)) {
      return url.size() > scheme.size() && url[scheme.size()] != '/';
    }
  }
  return false;
}

// An S3 endpoint: an http(s) URL of a host and port only (requests go to ENDPOINT/BUCKET/KEY).
bool IsEndpointOnly(std::string_view url) {
  const size_t host = url.find("://") + 3;
  return IsHttpUrl(url) && url.find_first_of("/?#@", host) == std::string_view::npos;
}

// An unquoted SQL identifier: a letter or '_', then letters, digits, '_' or '$'.
bool IsSqlIdentifier(std::string_view name) {
  return !name.empty() && name.size() <= kMaxSqlIdentifierChars && AlnumOr(name, "_$") &&
         !(name[0] >= '0' && name[0] <= '9') && name[0] != '$';
}

// Identifiers joined by `separator`, none empty.
bool IsIdentifierList(std::string_view text, char separator) {
  while (true) {
    const size_t end = text.find(separator);
    if (!IsSqlIdentifier(text.substr(0, end))) {
      return false;
    }
    if (end == std::string_view::npos) {
      return true;
    }
    text.remove_prefix(end + 1);
  }
}

// The parts of "arn:aws:<service>:<region>:<account>:<resource>" (the resource may hold ':').
struct Arn {
  std::string service;
  std::string region;
  std::string account;
  std::string resource;
};

std::optional<Arn> ParseArn(std::string_view text) {
  constexpr std::string_view kArnPrefix = "arn:aws:";
  if (!text.starts_with(kArnPrefix)) {
    return std::nullopt;
  }
  text.remove_prefix(kArnPrefix.size());
  Arn arn;
  for (std::string* part : {&arn.service, &arn.region, &arn.account}) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return std::nullopt;
    }
    *part = text.substr(0, colon);
    text.remove_prefix(colon + 1);
  }
  arn.resource = text;
  return arn;
}

Result<const json*> RequiredObject(const Fields& fields, const std::string& key) {
  Result<const json*> object = fields.Object(key);
  if (object.ok() && *object == nullptr) {
    return InvalidArgument(fields.Where(key) + ": required");
  }
  return object;
}

// A string property that must be one of `allowed`; `*out` keeps its value when absent.
Status OneOf(const Fields& fields, const std::string& key, const std::vector<std::string>& allowed,
             std::string* out) {
  SLUICE_RETURN_IF_ERROR(fields.String(key, false, out));
  if (std::find(allowed.begin(), allowed.end(), *out) != allowed.end()) {
    return Status::Ok();
  }
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i) {
    list.append(i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", ")).append(allowed[i]);
  }
  return InvalidArgument(fields.Where(key) + ": must be " + list + ", got " + Quoted(*out));
}

// An optional string property of at most `max_chars` characters.
Status BoundedString(const Fields& fields, const std::string& key, size_t max_chars,
                     std::string* out) {
  SLUICE_RETURN_IF_ERROR(fields.String(key, false, out));
  if (out->size() > max_chars) {
    return InvalidArgument(fields.Where(key) + ": must be at most " + std::to_string(max_chars) +
                           " characters, got " + std::to_string(out->size()));
  }
  return Status::Ok();
}

// An integer property in seconds, in [0, max_seconds], into milliseconds.
Status Seconds(const Fields& fields, const std::string& key, int64_t max_seconds, int64_t* out_ms) {
  int64_t seconds = *out_ms / kMsPerSecond;
  SLUICE_RETURN_IF_ERROR(fields.Integer(key, 0, max_seconds, &seconds));
  *out_ms = seconds * kMsPerSecond;
  return Status::Ok();
}

// BufferingHints: SizeInMBs 1-max_size_mbs and IntervalInSeconds 0-900, given together.
Status ParseBufferingHints(const Fields& parent, int64_t max_size_mbs, BufferingHints* hints) {
  Result<const json*> object = parent.Object("BufferingHints");
  SLUICE_RETURN_IF_ERROR(object.status());
  if (*object == nullptr) {
    return Status::Ok();
  }
  const Fields fields(**object, parent.Where("BufferingHints"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"SizeInMBs", "IntervalInSeconds"}));
  if (fields.Has("SizeInMBs") != fields.Has("IntervalInSeconds")) {
    return InvalidArgument(parent.Where("BufferingHints") +
                           ": SizeInMBs and IntervalInSeconds must be given together");
  }
  int64_t size_mbs = hints->size_bytes / kMiB;
  SLUICE_RETURN_IF_ERROR(fields.Integer("SizeInMBs", 1, max_size_mbs, &size_mbs));
  hints->size_bytes = size_mbs * kMiB;
  return Seconds(fields, "IntervalInSeconds", kMaxIntervalSeconds, &hints->interval_ms);
}

// RetryOptions: {DurationInSeconds: 0-max_seconds}.
Status ParseRetryOptions(const Fields& parent, int64_t max_seconds, int64_t* out_ms) {
  Result<const json*> object = parent.Object("RetryOptions");
  SLUICE_RETURN_IF_ERROR(object.status());
  if (*object == nullptr) {
    return Status::Ok();
  }
  const Fields fields(**object, parent.Where("RetryOptions"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"DurationInSeconds"}));
  return Seconds(fields, "DurationInSeconds", max_seconds, out_ms);
}

// The digits of a ParameterValue as an integer in [min, max].
std::optional<int64_t> IntegerText(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!IsDigits(text) ||
      std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc()) {
    return std::nullopt;
  }
  return value >= min && value <= max ? std::optional<int64_t>(value) : std::nullopt;
}

// A decimal number of MiB ("0.25", "3") as bytes, rounded to the nearest byte.
std::optional<int64_t> MebibytesText(std::string_view text) {
  const size_t dot = text.find('.');
  if (!IsDigits(text.substr(0, dot)) ||
      (dot != std::string_view::npos && !IsDigits(text.substr(dot + 1)))) {
    return std::nullopt;
  }
  double mbs = 0;
  // A value far out of range is refused here, before scaling it to bytes could overflow.
  if (std::from_chars(text.data(), text.data() + text.size(), mbs).ec != std::errc() ||
      mbs > static_cast<double>(kMaxProcessorBufferBytes)) {
    return std::nullopt;
  }
  return std::llround(mbs * kMiB);
}

// The shortest decimal MiB text that MebibytesText reads back as `bytes`.
std::string MebibytesOf(int64_t bytes) {
  const double mbs = static_cast<double>(bytes) / kMiB;
  char text[64];
  for (int decimals = 0;; ++decimals) {  // k / 2^20 is exact with 20 decimals
    std::snprintf(text, sizeof(text), "%.*f", decimals, mbs);
    if (MebibytesText(text) == bytes) {
      return text;
    }
  }
}

// LambdaArn: "name", "name:QUALIFIER" or arn:aws:lambda:<region>:<account>:function:name[:Q].
Status ParseLambdaArn(const std::string& text, const std::string& where,
                      ProcessorConfig* processor) {
  std::string name_and_qualifier = text;
  if (text.starts_with("arn:")) {
    std::optional<Arn> arn = ParseArn(text);
    if (!arn || arn->service != "lambda" || !arn->resource.starts_with(kFunctionResource)) {
      return InvalidArgument(where +
                             ": LambdaArn must be a function name, name:QUALIFIER or "
                             "arn:aws:lambda:<region>:<account>:function:<name>[:QUALIFIER], got " +
                             Quoted(text));
    }
    name_and_qualifier = arn->resource.substr(kFunctionResource.size());
  }
  const size_t colon = name_and_qualifier.find(':');
  std::string name = name_and_qualifier.substr(0, colon);
  std::string qualifier =
      colon == std::string::npos ? kLatest : name_and_qualifier.substr(colon + 1);
  if (!IsFunctionName(name)) {
    return InvalidArgument(
        where + ": LambdaArn's function name must be 1-64 characters of [A-Za-z0-9_-], got " +
        Quoted(text));
  }
  if (!IsQualifier(qualifier)) {
    return InvalidArgument(
        where +
        ": LambdaArn's qualifier must be $LATEST or a version number from 1 (no alias), got " +
        Quoted(text));
  }
  processor->function_name = std::move(name);
  processor->qualifier = std::move(qualifier);
  return Status::Ok();
}

// One Processors[i].Parameters[j] into `processor`.
Status ParseParameter(const Fields& fields, ProcessorConfig* processor) {
  SLUICE_RETURN_IF_ERROR(fields.Check({"ParameterName", "ParameterValue"}));
  std::string name;
  std::string value;
  SLUICE_RETURN_IF_ERROR(fields.String("ParameterName", true, &name));
  SLUICE_RETURN_IF_ERROR(fields.String("ParameterValue", true, &value));
  const std::string where = fields.Where("ParameterValue");
  if (name == "LambdaArn") {
    return ParseLambdaArn(value, where, processor);
  }
  if (name == "NumberOfRetries") {
    const std::optional<int64_t> retries = IntegerText(value, 0, kMaxNumberOfRetries);
    if (!retries) {
      return InvalidArgument(where + ": NumberOfRetries must be an integer from 0 to " +
                             std::to_string(kMaxNumberOfRetries) + ", got " + Quoted(value));
    }
    processor->number_of_retries = static_cast<int32_t>(*retries);
    return Status::Ok();
  }
  if (name == "BufferSizeInMBs") {
    const std::optional<int64_t> bytes = MebibytesText(value);
    if (!bytes || *bytes < kMinProcessorBufferBytes || *bytes > kMaxProcessorBufferBytes) {
      return InvalidArgument(where + ": BufferSizeInMBs must be a number from 0.2 to 3, got " +
                             Quoted(value));
    }
    processor->buffer_size_bytes = *bytes;
    return Status::Ok();
  }
  if (name == "BufferIntervalInSeconds") {
    const std::optional<int64_t> seconds = IntegerText(value, 0, kMaxProcessorIntervalSeconds);
    if (!seconds) {
      return InvalidArgument(where + ": BufferIntervalInSeconds must be an integer from 0 to " +
                             std::to_string(kMaxProcessorIntervalSeconds) + ", got " +
                             Quoted(value));
    }
    processor->buffer_interval_ms = *seconds * kMsPerSecond;
    return Status::Ok();
  }
  if (name == "RoleArn") {
    return Status::Ok();  // accepted and ignored
  }
  return InvalidArgument(fields.Where("ParameterName") +
                         ": must be LambdaArn, NumberOfRetries, BufferSizeInMBs, "
                         "BufferIntervalInSeconds or RoleArn, got " +
                         Quoted(name));
}

// One Processors[i]: {"Type": "Lambda", "Parameters": [...]} with a LambdaArn.
Status ParseProcessor(const Fields& fields, ProcessorConfig* processor) {
  SLUICE_RETURN_IF_ERROR(fields.Check({"Type", "Parameters"}));
  std::string type;
  SLUICE_RETURN_IF_ERROR(fields.String("Type", true, &type));
  if (type != "Lambda") {
    return InvalidArgument(fields.Where("Type") +
                           ": must be Lambda (the only processor Sluice runs), got " +
                           Quoted(type));
  }
  Result<std::vector<const json*>> parameters = fields.Array("Parameters");
  SLUICE_RETURN_IF_ERROR(parameters.status());
  std::set<std::string> seen;
  for (size_t i = 0; i < parameters->size(); ++i) {
    const Fields parameter(*(*parameters)[i], fields.Where(Indexed("Parameters", i)));
    SLUICE_RETURN_IF_ERROR(ParseParameter(parameter, processor));
    const std::string name = (*parameters)[i]->at("ParameterName").get<std::string>();
    if (!seen.insert(name).second) {
      return InvalidArgument(parameter.Where("ParameterName") + ": " + name + " is given twice");
    }
  }
  if (!seen.count("LambdaArn")) {
    return InvalidArgument(fields.Where("Parameters") + ": a Lambda processor needs LambdaArn");
  }
  return Status::Ok();
}

// ProcessingConfiguration: {"Enabled": bool (false), "Processors": at most one Lambda}.
Status ParseProcessing(const Fields& parent, ProcessorConfig* processor) {
  Result<const json*> object = parent.Object("ProcessingConfiguration");
  SLUICE_RETURN_IF_ERROR(object.status());
  if (*object == nullptr) {
    return Status::Ok();
  }
  const Fields fields(**object, parent.Where("ProcessingConfiguration"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"Enabled", "Processors"}));
  SLUICE_RETURN_IF_ERROR(fields.Bool("Enabled", &processor->enabled));
  Result<std::vector<const json*>> processors = fields.Array("Processors");
  SLUICE_RETURN_IF_ERROR(processors.status());
  if (processors->size() > 1) {
    return InvalidArgument(fields.Where("Processors") +
                           ": must hold at most one Lambda processor, got " +
                           std::to_string(processors->size()));
  }
  if (processors->empty()) {
    if (processor->enabled) {
      return InvalidArgument(fields.Where("Processors") +
                             ": Enabled true needs a Lambda processor, got none");
    }
    return Status::Ok();
  }
  return ParseProcessor(Fields(*processors->front(), fields.Where(Indexed("Processors", 0))),
                        processor);
}

// BucketARN: arn:aws:s3:::<bucket> or file:///<absolute dir>.
Status ParseBucketArn(const Fields& fields, ObjectStoreConfig* store) {
  SLUICE_RETURN_IF_ERROR(fields.String("BucketARN", true, &store->bucket_arn));
  const std::string& arn = store->bucket_arn;
  const bool valid = (arn.starts_with(kS3ArnPrefix) &&
                      IsBucketName(std::string_view(arn).substr(kS3ArnPrefix.size()))) ||
                     (arn.starts_with(kFileScheme) && store->directory().starts_with('/'));
  if (!valid) {
    return InvalidArgument(fields.Where("BucketARN") +
                           ": must be arn:aws:s3:::<bucket> (3-63 characters of [a-z0-9.-], "
                           "beginning and ending with a letter or digit) or "
                           "file:///absolute/dir, got " +
                           Quoted(arn));
  }
  return Status::Ok();
}

// Prefix and ErrorOutputPrefix, each by ValidatePrefix, and their pairing.
Status ParsePrefixes(const Fields& fields, ObjectStoreConfig* store) {
  SLUICE_RETURN_IF_ERROR(fields.String("Prefix", false, &store->prefix));
  SLUICE_RETURN_IF_ERROR(ValidatePrefix(store->prefix, false).WithContext(fields.Where("Prefix")));
  SLUICE_RETURN_IF_ERROR(fields.String("ErrorOutputPrefix", false, &store->error_output_prefix));
  SLUICE_RETURN_IF_ERROR(ValidatePrefix(store->error_output_prefix, true)
                             .WithContext(fields.Where("ErrorOutputPrefix")));
  // Validated, a prefix has an expression exactly when it has "!{".
  if (store->prefix.find("!{") != std::string::npos && store->error_output_prefix.empty()) {
    return InvalidArgument(fields.Where("ErrorOutputPrefix") +
                           ": required when Prefix has expressions, e.g. "
                           "\"errors/!{firehose:error-output-type}/\"");
  }
  return Status::Ok();
}

// A directory refuses keys that could leave it or name no file (ValidateObjectKey): the prefixes
// must make keys it can hold. Checked on keys made at a fixed time (the expressions' fields have
// fixed widths, so any time gives the same verdict).
Status CheckDirectoryKeys(const Fields& fields, const ObjectStoreConfig& store) {
  constexpr int64_t kSampleMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  constexpr char kRandom[] = "abcdefghijk";
  const std::string name = ObjectKey("", "stream", 1, kSampleMs,
                                     "00000000-0000-0000-0000-000000000000", store.extension());
  if (Status key = ValidateObjectKey(EvaluatePrefix(store.prefix, kSampleMs, kRandom, "") + name);
      !key.ok()) {
    return InvalidArgument(fields.Where("Prefix") +
                           ": makes object keys a directory cannot hold: " + key.message());
  }
  for (const char* type : {kProcessingFailed, kHttpEndpointFailed, kS3Failed, kPostgresFailed}) {
    const std::string key =
        EvaluateErrorPrefix(store.prefix, store.error_output_prefix, kSampleMs, kRandom, type) +
        name;
    if (Status valid = ValidateObjectKey(key); !valid.ok()) {
      return InvalidArgument(
          fields.Where(store.error_output_prefix.empty() ? "Prefix" : "ErrorOutputPrefix") +
          ": makes error object keys a directory cannot hold: " + valid.message());
    }
  }
  return Status::Ok();
}

const std::set<std::string>& StoreProperties() {
  static const auto* const properties = new std::set<std::string>{"BucketARN",
                                                                  "EndpointURL",
                                                                  "Prefix",
                                                                  "ErrorOutputPrefix",
                                                                  "BufferingHints",
                                                                  "CompressionFormat",
                                                                  "FileExtension",
                                                                  "RetryOptions",
                                                                  "RoleARN",
                                                                  "CloudWatchLoggingOptions",
                                                                  "EncryptionConfiguration"};
  return *properties;
}

// An object store's properties (StoreProperties(), checked by the caller).
Status ParseObjectStore(const Fields& fields, ObjectStoreConfig* store) {
  SLUICE_RETURN_IF_ERROR(ParseBucketArn(fields, store));
  SLUICE_RETURN_IF_ERROR(fields.String("EndpointURL", false, &store->endpoint_url));
  while (store->endpoint_url.ends_with('/')) {
    store->endpoint_url.pop_back();
  }
  if (fields.Has("EndpointURL") && store->is_directory()) {
    return InvalidArgument(fields.Where("EndpointURL") +
                           ": allowed only with an arn:aws:s3::: BucketARN, got BucketARN " +
                           Quoted(store->bucket_arn));
  }
  if (fields.Has("EndpointURL") && !IsEndpointOnly(store->endpoint_url)) {
    return InvalidArgument(fields.Where("EndpointURL") +
                           ": must be an http:// or https:// URL of a host (and port) only, got " +
                           Quoted(store->endpoint_url));
  }
  SLUICE_RETURN_IF_ERROR(ParsePrefixes(fields, store));
  SLUICE_RETURN_IF_ERROR(ParseBufferingHints(fields, kMaxStoreSizeMbs, &store->buffering));
  std::string compression = store->compression == Compression::kGzip ? "GZIP" : "UNCOMPRESSED";
  SLUICE_RETURN_IF_ERROR(
      OneOf(fields, "CompressionFormat", {"UNCOMPRESSED", "GZIP"}, &compression));
  store->compression = compression == "GZIP" ? Compression::kGzip : Compression::kNone;
  SLUICE_RETURN_IF_ERROR(fields.String("FileExtension", false, &store->file_extension));
  const std::string& extension = store->file_extension;
  const bool valid_extension =
      extension.empty() ||
      (extension.size() >= 2 && extension.size() <= kMaxFileExtensionChars && extension[0] == '.' &&
       std::all_of(extension.begin() + 1, extension.end(), [](char c) {
         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                std::string_view("!-_.*'()").find(c) != std::string_view::npos;
       }));
  if (!valid_extension) {
    return InvalidArgument(fields.Where("FileExtension") + ": must be \"\" or '.' and up to " +
                           std::to_string(kMaxFileExtensionChars - 1) +
                           " of [0-9a-z!-_.*'()], got " + Quoted(extension));
  }
  if (store->is_directory()) {
    SLUICE_RETURN_IF_ERROR(CheckDirectoryKeys(fields, *store));
  }
  return ParseRetryOptions(fields, kMaxStoreRetrySeconds, &store->retry_duration_ms);
}

// The object store in `parent`'s required property `key` (S3Configuration).
Status ParseNestedStore(const Fields& parent, const std::string& key, ObjectStoreConfig* store) {
  Result<const json*> object = RequiredObject(parent, key);
  SLUICE_RETURN_IF_ERROR(object.status());
  const Fields fields(**object, parent.Where(key));
  SLUICE_RETURN_IF_ERROR(fields.Check(StoreProperties()));
  return ParseObjectStore(fields, store);
}

Status ParseObjectStoreDestination(const Fields& fields, DeliveryStreamConfig* config) {
  std::set<std::string> known = StoreProperties();
  known.insert({"ProcessingConfiguration", "S3BackupMode"});
  SLUICE_RETURN_IF_ERROR(fields.Check(known));
  std::string backup_mode = "Disabled";
  SLUICE_RETURN_IF_ERROR(OneOf(fields, "S3BackupMode", {"Disabled"}, &backup_mode));
  SLUICE_RETURN_IF_ERROR(ParseObjectStore(fields, &config->object_store));
  return ParseProcessing(fields, &config->processor);
}

Status ParseEndpointConfiguration(const Fields& parent, HttpEndpointConfig* http) {
  Result<const json*> object = RequiredObject(parent, "EndpointConfiguration");
  SLUICE_RETURN_IF_ERROR(object.status());
  const Fields fields(**object, parent.Where("EndpointConfiguration"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"Url", "Name", "AccessKey"}));
  SLUICE_RETURN_IF_ERROR(fields.String("Url", true, &http->url));
  if (!IsHttpUrl(http->url) || http->url.size() > kMaxUrlChars) {
    return InvalidArgument(fields.Where("Url") +
                           ": must be an http:// or https:// URL of at most " +
                           std::to_string(kMaxUrlChars) + " characters, got " + Quoted(http->url));
  }
  SLUICE_RETURN_IF_ERROR(BoundedString(fields, "Name", kMaxEndpointNameChars, &http->name));
  SLUICE_RETURN_IF_ERROR(BoundedString(fields, "AccessKey", kMaxAccessKeyChars, &http->access_key));
  // The access key is sent as a header: a CR or LF in it would make headers of its own.
  if (HasControlBytes(http->access_key, /*space_too=*/false)) {
    return InvalidArgument(fields.Where("AccessKey") + ": must not hold control characters");
  }
  return Status::Ok();
}

Status ParseRequestConfiguration(const Fields& parent, HttpEndpointConfig* http) {
  Result<const json*> object = parent.Object("RequestConfiguration");
  SLUICE_RETURN_IF_ERROR(object.status());
  if (*object == nullptr) {
    return Status::Ok();
  }
  const Fields fields(**object, parent.Where("RequestConfiguration"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"ContentEncoding", "CommonAttributes"}));
  std::string encoding = http->gzip ? "GZIP" : "NONE";
  SLUICE_RETURN_IF_ERROR(OneOf(fields, "ContentEncoding", {"NONE", "GZIP"}, &encoding));
  http->gzip = encoding == "GZIP";
  Result<std::vector<const json*>> attributes = fields.Array("CommonAttributes");
  SLUICE_RETURN_IF_ERROR(attributes.status());
  if (attributes->size() > kMaxCommonAttributes) {
    return InvalidArgument(fields.Where("CommonAttributes") + ": must hold at most " +
                           std::to_string(kMaxCommonAttributes) + " attributes, got " +
                           std::to_string(attributes->size()));
  }
  for (size_t i = 0; i < attributes->size(); ++i) {
    const Fields attribute(*(*attributes)[i], fields.Where(Indexed("CommonAttributes", i)));
    SLUICE_RETURN_IF_ERROR(attribute.Check({"AttributeName", "AttributeValue"}));
    std::string name;
    std::string value;
    SLUICE_RETURN_IF_ERROR(attribute.String("AttributeName", true, &name));
    SLUICE_RETURN_IF_ERROR(attribute.String("AttributeValue", true, &value));
    if (name.empty() || name.size() > kMaxAttributeNameChars) {
      return InvalidArgument(attribute.Where("AttributeName") + ": must be 1-" +
                             std::to_string(kMaxAttributeNameChars) + " characters, got " +
                             Quoted(name));
    }
    if (value.size() > kMaxAttributeValueChars) {
      return InvalidArgument(attribute.Where("AttributeValue") + ": must be at most " +
                             std::to_string(kMaxAttributeValueChars) + " characters, got " +
                             std::to_string(value.size()));
    }
    for (const auto& [earlier, unused] : http->common_attributes) {
      if (earlier == name) {
        return InvalidArgument(attribute.Where("AttributeName") + ": " + Quoted(name) +
                               " is already an attribute");
      }
    }
    http->common_attributes.emplace_back(std::move(name), std::move(value));
  }
  return Status::Ok();
}

Status ParseHttpEndpointDestination(const Fields& fields, DeliveryStreamConfig* config) {
  SLUICE_RETURN_IF_ERROR(
      fields.Check({"EndpointConfiguration", "RequestConfiguration", "BufferingHints",
                    "RetryOptions", "S3BackupMode", "S3Configuration", "ProcessingConfiguration",
                    "RoleARN", "CloudWatchLoggingOptions"}));
  HttpEndpointConfig& http = config->http;
  SLUICE_RETURN_IF_ERROR(ParseEndpointConfiguration(fields, &http));
  SLUICE_RETURN_IF_ERROR(ParseRequestConfiguration(fields, &http));
  SLUICE_RETURN_IF_ERROR(ParseBufferingHints(fields, kMaxHttpSizeMbs, &http.buffering));
  SLUICE_RETURN_IF_ERROR(ParseRetryOptions(fields, kMaxLoadRetrySeconds, &http.retry_duration_ms));
  std::string backup_mode = http.backup_all_data ? "AllData" : "FailedDataOnly";
  SLUICE_RETURN_IF_ERROR(
      OneOf(fields, "S3BackupMode", {"FailedDataOnly", "AllData"}, &backup_mode));
  http.backup_all_data = backup_mode == "AllData";
  SLUICE_RETURN_IF_ERROR(ParseNestedStore(fields, "S3Configuration", &http.backup));
  return ParseProcessing(fields, &config->processor);
}

Status ParseCopyCommand(const Fields& parent, PostgresConfig* postgres) {
  Result<const json*> object = RequiredObject(parent, "CopyCommand");
  SLUICE_RETURN_IF_ERROR(object.status());
  const Fields fields(**object, parent.Where("CopyCommand"));
  SLUICE_RETURN_IF_ERROR(fields.Check({"DataTableName", "DataTableColumns", "CopyOptions"}));
  SLUICE_RETURN_IF_ERROR(fields.String("DataTableName", true, &postgres->table));
  const size_t dot = postgres->table.find('.');
  if (!IsIdentifierList(postgres->table, '.') ||
      (dot != std::string::npos && postgres->table.find('.', dot + 1) != std::string::npos)) {
    return InvalidArgument(fields.Where("DataTableName") +
                           ": must be a table name or schema.table, each a SQL identifier "
                           "([A-Za-z_][A-Za-z0-9_$]*, at most 63), got " +
                           Quoted(postgres->table));
  }
  SLUICE_RETURN_IF_ERROR(fields.String("DataTableColumns", false, &postgres->columns));
  if (!postgres->columns.empty() && !IsIdentifierList(postgres->columns, ',')) {
    return InvalidArgument(fields.Where("DataTableColumns") +
                           ": must be column names separated by commas, no blanks (\"id,name\"), "
                           "each a SQL identifier, got " +
                           Quoted(postgres->columns));
  }
  SLUICE_RETURN_IF_ERROR(fields.String("CopyOptions", false, &postgres->copy_options));
  if (postgres->json_auto() && postgres->columns.empty()) {
    return InvalidArgument(fields.Where("DataTableColumns") +
                           ": required with CopyOptions JSON 'auto' (the columns to fill from "
                           "each record's properties)");
  }
  return Status::Ok();
}

Status ParsePostgresDestination(const Fields& fields, DeliveryStreamConfig* config) {
  SLUICE_RETURN_IF_ERROR(
      fields.Check({"ConnectionString", "CopyCommand", "RetryOptions", "S3Configuration",
                    "ProcessingConfiguration", "RoleARN", "CloudWatchLoggingOptions"}));
  PostgresConfig& postgres = config->postgres;
  SLUICE_RETURN_IF_ERROR(fields.String("ConnectionString", true, &postgres.connection_string));
  if (postgres.connection_string.empty()) {
    return InvalidArgument(fields.Where("ConnectionString") +
                           ": must be a libpq conninfo or postgresql:// URI, got \"\"");
  }
  SLUICE_RETURN_IF_ERROR(ParseCopyCommand(fields, &postgres));
  SLUICE_RETURN_IF_ERROR(
      ParseRetryOptions(fields, kMaxLoadRetrySeconds, &postgres.retry_duration_ms));
  SLUICE_RETURN_IF_ERROR(ParseNestedStore(fields, "S3Configuration", &postgres.intermediate));
  return ParseProcessing(fields, &config->processor);
}

// The one destination property and its parser.
Status ParseDestination(const Fields& fields, DeliveryStreamConfig* config) {
  struct Kind {
    const char* key;
    DestinationKind kind;
    Status (*parse)(const Fields&, DeliveryStreamConfig*);
  };
  static constexpr Kind kKinds[] = {
      {kExtendedS3, DestinationKind::kObjectStore, ParseObjectStoreDestination},
      {kS3, DestinationKind::kObjectStore, ParseObjectStoreDestination},
      {kHttpEndpoint, DestinationKind::kHttpEndpoint, ParseHttpEndpointDestination},
      {kPostgres, DestinationKind::kPostgres, ParsePostgresDestination},
  };
  std::vector<const Kind*> given;
  for (const Kind& kind : kKinds) {
    if (fields.Has(kind.key)) {
      given.push_back(&kind);
    }
  }
  if (given.size() != 1) {
    std::string got = given.empty() ? "none" : "";
    for (const Kind* kind : given) {
      got.append(got.empty() ? "" : ", ").append(kind->key);
    }
    return InvalidArgument(
        "the request: must have exactly one destination of ExtendedS3DestinationConfiguration, "
        "S3DestinationConfiguration, HttpEndpointDestinationConfiguration or "
        "PostgreSQLDestinationConfiguration, got " +
        got);
  }
  const Kind& kind = *given.front();
  Result<const json*> object = fields.Object(kind.key);
  SLUICE_RETURN_IF_ERROR(object.status());
  config->destination = kind.kind;
  return kind.parse(Fields(**object, kind.key), config);
}

// DeliveryStreamType and KinesisStreamSourceConfiguration.
Status ParseSource(const Fields& fields, DeliveryStreamConfig* config) {
  std::string type = kDirectPut;
  SLUICE_RETURN_IF_ERROR(OneOf(fields, "DeliveryStreamType", {kDirectPut, kStreamSource}, &type));
  config->source = type == kStreamSource ? SourceKind::kStream : SourceKind::kDirectPut;
  Result<const json*> object = fields.Object("KinesisStreamSourceConfiguration");
  SLUICE_RETURN_IF_ERROR(object.status());
  const std::string where = fields.Where("KinesisStreamSourceConfiguration");
  if (config->source == SourceKind::kDirectPut) {
    if (*object != nullptr) {
      return InvalidArgument(where +
                             ": allowed only with DeliveryStreamType KinesisStreamAsSource, got "
                             "DeliveryStreamType DirectPut");
    }
    return Status::Ok();
  }
  if (*object == nullptr) {
    return InvalidArgument(where + ": required with DeliveryStreamType KinesisStreamAsSource");
  }
  const Fields source(**object, where);
  SLUICE_RETURN_IF_ERROR(source.Check({"KinesisStreamARN", "RoleARN"}));
  std::string text;
  SLUICE_RETURN_IF_ERROR(source.String("KinesisStreamARN", true, &text));
  std::string name = text;
  if (text.starts_with("arn:")) {
    const std::optional<Arn> arn = ParseArn(text);
    const bool stream_arn =
        arn && arn->service == "kinesis" && arn->resource.starts_with(kStreamResource);
    name = stream_arn ? arn->resource.substr(kStreamResource.size()) : "";
  }
  if (!IsStreamName(name)) {
    return InvalidArgument(source.Where("KinesisStreamARN") +
                           ": must be arn:aws:kinesis:<region>:<account>:stream/<name> or a stream "
                           "name, 1-128 characters of [a-zA-Z0-9_.-], got " +
                           Quoted(text));
  }
  config->source_stream = std::move(name);
  return Status::Ok();
}

json HintsJson(const BufferingHints& hints) {
  return {{"SizeInMBs", hints.size_bytes / kMiB},
          {"IntervalInSeconds", hints.interval_ms / kMsPerSecond}};
}

json RetryJson(int64_t retry_duration_ms) {
  return {{"DurationInSeconds", retry_duration_ms / kMsPerSecond}};
}

json StoreJson(const ObjectStoreConfig& store) {
  json object = {
      {"BucketARN", store.bucket_arn},
      {"Prefix", store.prefix},
      {"ErrorOutputPrefix", store.error_output_prefix},
      {"BufferingHints", HintsJson(store.buffering)},
      {"CompressionFormat", store.compression == Compression::kGzip ? "GZIP" : "UNCOMPRESSED"},
      {"FileExtension", store.file_extension},
      {"RetryOptions", RetryJson(store.retry_duration_ms)},
  };
  if (!store.endpoint_url.empty()) {
    object["EndpointURL"] = store.endpoint_url;
  }
  return object;
}

json ProcessingJson(const ProcessorConfig& processor) {
  json processors = json::array();
  if (!processor.function_name.empty()) {
    const std::string lambda_arn = processor.qualifier == kLatest
                                       ? processor.function_name
                                       : processor.function_name + ":" + processor.qualifier;
    const auto parameter = [](const char* name, const std::string& value) {
      return json{{"ParameterName", name}, {"ParameterValue", value}};
    };
    processors.push_back(
        {{"Type", "Lambda"},
         {"Parameters",
          {parameter("LambdaArn", lambda_arn),
           parameter("NumberOfRetries", std::to_string(processor.number_of_retries)),
           parameter("BufferSizeInMBs", MebibytesOf(processor.buffer_size_bytes)),
           parameter("BufferIntervalInSeconds",
                     std::to_string(processor.buffer_interval_ms / kMsPerSecond))}}});
  }
  return {{"Enabled", processor.enabled}, {"Processors", processors}};
}

const char* DestinationKey(DestinationKind kind) {
  switch (kind) {
    case DestinationKind::kObjectStore: return kExtendedS3;
    case DestinationKind::kHttpEndpoint: return kHttpEndpoint;
    case DestinationKind::kPostgres: return kPostgres;
  }
  return kExtendedS3;
}

// The canonical ...DestinationConfiguration of the config's destination.
json DestinationJson(const DeliveryStreamConfig& config) {
  switch (config.destination) {
    case DestinationKind::kObjectStore: {
      json object = StoreJson(config.object_store);
      object["ProcessingConfiguration"] = ProcessingJson(config.processor);
      object["S3BackupMode"] = "Disabled";
      return object;
    }
    case DestinationKind::kHttpEndpoint: {
      const HttpEndpointConfig& http = config.http;
      json attributes = json::array();
      for (const auto& [name, value] : http.common_attributes) {
        attributes.push_back({{"AttributeName", name}, {"AttributeValue", value}});
      }
      return {
          {"EndpointConfiguration",
           {{"Url", http.url}, {"Name", http.name}, {"AccessKey", http.access_key}}},
          {"RequestConfiguration",
           {{"ContentEncoding", http.gzip ? "GZIP" : "NONE"}, {"CommonAttributes", attributes}}},
          {"BufferingHints", HintsJson(http.buffering)},
          {"RetryOptions", RetryJson(http.retry_duration_ms)},
          {"S3BackupMode", http.backup_all_data ? "AllData" : "FailedDataOnly"},
          {"S3Configuration", StoreJson(http.backup)},
          {"ProcessingConfiguration", ProcessingJson(config.processor)},
      };
    }
    case DestinationKind::kPostgres: {
      const PostgresConfig& postgres = config.postgres;
      return {
          {"ConnectionString", postgres.connection_string},
          {"CopyCommand",
           {{"DataTableName", postgres.table},
            {"DataTableColumns", postgres.columns},
            {"CopyOptions", postgres.copy_options}}},
          {"RetryOptions", RetryJson(postgres.retry_duration_ms)},
          {"S3Configuration", StoreJson(postgres.intermediate)},
          {"ProcessingConfiguration", ProcessingJson(config.processor)},
      };
    }
  }
  return json::object();
}

// An object store's canonical JSON in a description: with Firehose's (fixed) encryption.
json StoreDescription(json store) {
  store["EncryptionConfiguration"] = {{"NoEncryptionConfig", "NoEncryption"}};
  return store;
}

}  // namespace

std::string ObjectStoreConfig::bucket() const {
  return bucket_arn.substr(kS3ArnPrefix.size());
}

std::string ObjectStoreConfig::extension() const {
  if (!file_extension.empty()) {
    return file_extension;
  }
  return compression == Compression::kGzip ? ".gz" : "";
}

bool PostgresConfig::json_auto() const {
  const size_t first = copy_options.find_first_not_of(" \t\n");
  const size_t last = copy_options.find_last_not_of(" \t\n");
  if (first == std::string::npos) {
    return false;
  }
  std::string options = copy_options.substr(first, last - first + 1);
  std::transform(options.begin(), options.end(), options.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return options == "json 'auto'";
}

const BufferingHints& DeliveryStreamConfig::buffering() const {
  switch (destination) {
    case DestinationKind::kObjectStore: return object_store.buffering;
    case DestinationKind::kHttpEndpoint: return http.buffering;
    case DestinationKind::kPostgres: return postgres.intermediate.buffering;
  }
  return object_store.buffering;
}

const ObjectStoreConfig& DeliveryStreamConfig::store() const {
  switch (destination) {
    case DestinationKind::kObjectStore: return object_store;
    case DestinationKind::kHttpEndpoint: return http.backup;
    case DestinationKind::kPostgres: return postgres.intermediate;
  }
  return object_store;
}

int64_t DeliveryStreamConfig::retry_duration_ms() const {
  switch (destination) {
    case DestinationKind::kObjectStore: return object_store.retry_duration_ms;
    case DestinationKind::kHttpEndpoint: return http.retry_duration_ms;
    case DestinationKind::kPostgres: return postgres.retry_duration_ms;
  }
  return object_store.retry_duration_ms;
}

bool IsValidDeliveryStreamName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxDeliveryStreamNameChars && AlnumOr(name, "_.-") &&
         name != "." && name != "..";
}

Result<DeliveryStreamConfig> ParseDeliveryStreamConfig(const json& request) {
  const Fields fields(request, "", "the request");
  SLUICE_RETURN_IF_ERROR(
      fields.Check({"DeliveryStreamName", "DeliveryStreamType", "KinesisStreamSourceConfiguration",
                    kExtendedS3, kS3, kHttpEndpoint, kPostgres}));
  DeliveryStreamConfig config;
  SLUICE_RETURN_IF_ERROR(fields.String("DeliveryStreamName", true, &config.name));
  if (!IsValidDeliveryStreamName(config.name)) {
    return InvalidArgument(
        "DeliveryStreamName: must be 1-64 characters of [a-zA-Z0-9_.-], not . or .., got " +
        Quoted(config.name));
  }
  SLUICE_RETURN_IF_ERROR(ParseSource(fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseDestination(fields, &config));
  return config;
}

json ToCreateRequest(const DeliveryStreamConfig& config) {
  json request = {
      {"DeliveryStreamName", config.name},
      {"DeliveryStreamType", config.source == SourceKind::kStream ? kStreamSource : kDirectPut},
      {DestinationKey(config.destination), DestinationJson(config)},
  };
  if (config.source == SourceKind::kStream) {
    request["KinesisStreamSourceConfiguration"] = {{"KinesisStreamARN", config.source_stream}};
  }
  return request;
}

json DescribeSource(const DeliveryStreamConfig& config, const std::string& stream_arn) {
  if (config.source == SourceKind::kDirectPut) {
    return nullptr;
  }
  return {{"KinesisStreamSourceDescription", {{"KinesisStreamARN", stream_arn}}}};
}

json DescribeDestinations(const DeliveryStreamConfig& config) {
  json destination = {{"DestinationId", kDestinationId}};
  json description = DestinationJson(config);
  switch (config.destination) {
    case DestinationKind::kObjectStore:
      destination["S3DestinationDescription"] = StoreDescription(StoreJson(config.object_store));
      destination["ExtendedS3DestinationDescription"] = StoreDescription(std::move(description));
      break;
    case DestinationKind::kHttpEndpoint:
      description["EndpointConfiguration"].erase("AccessKey");  // a secret
      description["S3DestinationDescription"] = StoreDescription(description["S3Configuration"]);
      description.erase("S3Configuration");
      destination["HttpEndpointDestinationDescription"] = std::move(description);
      break;
    case DestinationKind::kPostgres:
      description.erase("ConnectionString");  // may hold a password
      description["S3DestinationDescription"] = StoreDescription(description["S3Configuration"]);
      description.erase("S3Configuration");
      destination["PostgreSQLDestinationDescription"] = std::move(description);
      break;
  }
  return json::array({destination});
}

}  // namespace sluice::delivery
