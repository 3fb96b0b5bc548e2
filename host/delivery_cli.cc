#include "host/delivery_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include "base/json_fields.h"
#include "delivery/delivery_config.h"
#include "delivery/firehose_api.h"
#include "host/aws_json_client.h"
#include "host/batch_putter.h"
#include "host/cli_flags.h"
#include "sluice/aws_json.h"

namespace sluice::host {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordBytes = 1'024'000;  // Firehose's limit on one record's data
constexpr int64_t kDefaultBufferMiB = 5;       // BufferingHints' defaults
constexpr int64_t kDefaultBufferSeconds = 300;

constexpr char kUsage[] =
    "usage: sluice delivery create NAME DESTINATION [OPTIONS]\n"
    "       sluice delivery create --file REQUEST.json   (a CreateDeliveryStream request)\n"
    "       sluice delivery list\n"
    "       sluice delivery describe NAME\n"
    "       sluice delivery delete NAME\n"
    "       sluice delivery put NAME [--file F]\n"
    "\n"
    "  DESTINATION, one of:\n"
    "    --directory DIR                      objects in a local directory\n"
    "    --s3-bucket B [--s3-endpoint URL]    objects in an S3 bucket (default AWS's endpoint)\n"
    "    --http-url URL --backup-directory DIR\n"
    "                                         POST batches to an HTTP endpoint; failed ones are\n"
    "                                         kept in DIR\n"
    "    --postgres CONNINFO --table T [--columns a,b] [--copy-options OPTS]\n"
    "        --intermediate-directory DIR     COPY into a PostgreSQL table, staging in DIR\n"
    "  OPTIONS:\n"
    "    --prefix P --error-prefix P          object key prefixes (of the destination's store)\n"
    "    --buffer-size MB --buffer-interval S buffering hints (default 5 MB, 300 s)\n"
    "    --gzip                               compress objects (HTTP: request bodies)\n"
    "    --transform FUNCTION [--transform-retries N]\n"
    "                                         run a deployed function on the records first\n"
    "    --source-stream STREAM               read a Sluice stream instead of taking puts\n"
    "    --retry-duration S                   how long a failing delivery is retried\n"
    "  put sends each non-empty line of F (default stdin) as one record, with its newline, in\n"
    "  PutRecordBatch calls of at most 500 records.\n"
    "  Every verb takes --endpoint URL (default $SLUICE_ENDPOINT, else http://127.0.0.1:4566).\n";

// The options that choose the destination, and every option of create.
const std::set<std::string> kDestinationOptions = {"--directory", "--s3-bucket", "--http-url",
                                                   "--postgres"};
const std::set<std::string> kCreateOptions = {
    "--endpoint",         "--file",          "--directory",
    "--s3-bucket",        "--s3-endpoint",   "--http-url",
    "--backup-directory", "--postgres",      "--table",
    "--columns",          "--copy-options",  "--intermediate-directory",
    "--prefix",           "--error-prefix",  "--buffer-size",
    "--buffer-interval",  "--transform",     "--transform-retries",
    "--source-stream",    "--retry-duration"};

int Usage(const std::string& verb, const std::string& problem) {
  return UsageError(verb, problem, kUsage);
}

// "file:///abs/dir" for a directory given on the command line.
std::string DirectoryArn(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
  return "file://" + (ec ? dir : absolute.lexically_normal().string());
}

// Sets request[member] to the option's integer value, if it is given.
Status SetInteger(const CliFlags& flags, const std::string& option, json* request,
                  const char* member) {
  if (!flags.Has(option)) {
    return Status::Ok();
  }
  // Only the syntax here: the ranges depend on the destination, and the configuration checks
  // them.
  Result<int64_t> value = flags.Integer(option, 0, 0, INT32_MAX);
  SLUICE_RETURN_IF_ERROR(value.status());
  (*request)[member] = *value;
  return Status::Ok();
}

// The CreateDeliveryStream request the options describe (validated later, as any request is).
Result<json> RequestFromFlags(const CliFlags& flags) {
  size_t destinations = 0;
  for (const std::string& option : kDestinationOptions) {
    destinations += flags.Has(option) ? 1 : 0;
  }
  if (destinations != 1) {
    return InvalidArgument(
        "give exactly one destination: --directory, --s3-bucket, --http-url or --postgres");
  }
  const auto only_with = [&](const std::string& option, const std::string& owner) {
    return flags.Has(option) && !flags.Has(owner)
               ? InvalidArgument(option + " is only for " + owner)
               : Status::Ok();
  };
  SLUICE_RETURN_IF_ERROR(only_with("--s3-endpoint", "--s3-bucket"));
  SLUICE_RETURN_IF_ERROR(only_with("--backup-directory", "--http-url"));
  for (const char* option :
       {"--table", "--columns", "--copy-options", "--intermediate-directory"}) {
    SLUICE_RETURN_IF_ERROR(only_with(option, "--postgres"));
  }
  SLUICE_RETURN_IF_ERROR(only_with("--transform-retries", "--transform"));

  json request = {{"DeliveryStreamName", flags.positionals()[1]}};
  if (std::optional<std::string> stream = flags.Get("--source-stream")) {
    request["DeliveryStreamType"] = "KinesisStreamAsSource";
    request["KinesisStreamSourceConfiguration"] = {{"KinesisStreamARN", *stream}};
  }
  // The object store every destination has: the destination itself, the HTTP endpoint's backup
  // or PostgreSQL's intermediate store. Prefixes go to it.
  json store = json::object();
  if (std::optional<std::string> dir = flags.Get("--directory")) {
    store["BucketARN"] = DirectoryArn(*dir);
  } else if (std::optional<std::string> bucket = flags.Get("--s3-bucket")) {
    store["BucketARN"] = "arn:aws:s3:::" + *bucket;
    if (std::optional<std::string> endpoint = flags.Get("--s3-endpoint")) {
      store["EndpointURL"] = *endpoint;
    }
  } else if (flags.Has("--http-url")) {
    if (!flags.Has("--backup-directory")) {
      return InvalidArgument("--http-url needs --backup-directory (where failed batches go)");
    }
    store["BucketARN"] = DirectoryArn(*flags.Get("--backup-directory"));
  } else {
    if (!flags.Has("--table") || !flags.Has("--intermediate-directory")) {
      return InvalidArgument("--postgres needs --table and --intermediate-directory");
    }
    store["BucketARN"] = DirectoryArn(*flags.Get("--intermediate-directory"));
  }
  if (std::optional<std::string> prefix = flags.Get("--prefix")) {
    store["Prefix"] = *prefix;
  }
  if (std::optional<std::string> prefix = flags.Get("--error-prefix")) {
    store["ErrorOutputPrefix"] = *prefix;
  }

  json destination = json::object();
  // Firehose takes both hints or neither: the one not given keeps Firehose's default.
  json hints = json::object();
  if (flags.Has("--buffer-size") || flags.Has("--buffer-interval")) {
    hints = {{"SizeInMBs", kDefaultBufferMiB}, {"IntervalInSeconds", kDefaultBufferSeconds}};
  }
  SLUICE_RETURN_IF_ERROR(SetInteger(flags, "--buffer-size", &hints, "SizeInMBs"));
  SLUICE_RETURN_IF_ERROR(SetInteger(flags, "--buffer-interval", &hints, "IntervalInSeconds"));
  json retry = json::object();
  SLUICE_RETURN_IF_ERROR(SetInteger(flags, "--retry-duration", &retry, "DurationInSeconds"));
  if (!retry.empty()) {
    destination["RetryOptions"] = retry;
  }
  if (std::optional<std::string> function = flags.Get("--transform")) {
    json parameters =
        json::array({{{"ParameterName", "LambdaArn"}, {"ParameterValue", *function}}});
    if (flags.Has("--transform-retries")) {
      Result<int64_t> retries = flags.Integer("--transform-retries", 0, 0, INT32_MAX);
      SLUICE_RETURN_IF_ERROR(retries.status());
      parameters.push_back(
          {{"ParameterName", "NumberOfRetries"}, {"ParameterValue", std::to_string(*retries)}});
    }
    destination["ProcessingConfiguration"] = {
        {"Enabled", true}, {"Processors", {{{"Type", "Lambda"}, {"Parameters", parameters}}}}};
  }

  if (flags.Has("--http-url")) {
    destination["EndpointConfiguration"] = {{"Url", *flags.Get("--http-url")}};
    if (flags.Has("--gzip")) {
      destination["RequestConfiguration"] = {{"ContentEncoding", "GZIP"}};
    }
    if (!hints.empty()) {
      destination["BufferingHints"] = hints;
    }
    destination["S3Configuration"] = store;
    request["HttpEndpointDestinationConfiguration"] = destination;
    return request;
  }
  // The object store destination and PostgreSQL's intermediate store buffer and compress.
  if (flags.Has("--gzip")) {
    store["CompressionFormat"] = "GZIP";
  }
  if (!hints.empty()) {
    store["BufferingHints"] = hints;
  }
  if (std::optional<std::string> conninfo = flags.Get("--postgres")) {
    destination["ConnectionString"] = *conninfo;
    json copy = {{"DataTableName", *flags.Get("--table")}};
    if (std::optional<std::string> columns = flags.Get("--columns")) {
      copy["DataTableColumns"] = *columns;
    }
    if (std::optional<std::string> options = flags.Get("--copy-options")) {
      copy["CopyOptions"] = *options;
    }
    destination["CopyCommand"] = copy;
    destination["S3Configuration"] = store;
    request["PostgreSQLDestinationConfiguration"] = destination;
    return request;
  }
  destination.update(store);
  request["ExtendedS3DestinationConfiguration"] = destination;
  return request;
}

// The request in --file, parsed. Errors name the file.
Result<json> RequestFromFile(const std::string& path) {
  Result<std::string> text = ReadCliInput(path, "request file");
  SLUICE_RETURN_IF_ERROR(text.status());
  return ParseJsonDocument(*text, path);
}

int Create(AwsJsonClient& client, const CliFlags& flags) {
  const std::string verb = "delivery create";
  const std::optional<std::string> file = flags.Get("--file");
  if (file) {
    for (const std::string& option : kCreateOptions) {
      if (option != "--file" && option != "--endpoint" && flags.Has(option)) {
        return Usage(verb, "--file takes the whole request; " + option + " cannot go with it");
      }
    }
    if (flags.Has("--gzip") || flags.positionals().size() != 1) {
      return Usage(verb, "--file takes the whole request; give no NAME or other options");
    }
  } else if (flags.positionals().size() != 2) {
    return Usage(verb, flags.positionals().size() < 2 ? "missing delivery stream name"
                                                      : "too many arguments");
  }
  Result<json> request = file ? RequestFromFile(*file) : RequestFromFlags(flags);
  if (!request.ok()) {
    return Usage(verb, request.status().message());
  }
  Result<delivery::DeliveryStreamConfig> config = delivery::ParseDeliveryStreamConfig(*request);
  if (!config.ok()) {
    return Usage(verb, file ? *file + ": " + config.status().message() : config.status().message());
  }
  Result<json> reply = client.Call("CreateDeliveryStream", delivery::ToCreateRequest(*config));
  if (!reply.ok()) {
    return ReportFailure(verb, reply.status());
  }
  std::cout << "created delivery stream " << config->name << " ("
            << reply->value("DeliveryStreamARN", "") << ")" << std::endl;
  return 0;
}

int List(AwsJsonClient& client) {
  json request = {{"Limit", 10000}};
  while (true) {
    Result<json> reply = client.Call("ListDeliveryStreams", request);
    if (!reply.ok()) {
      return ReportFailure("delivery list", reply.status());
    }
    const json& names = (*reply)["DeliveryStreamNames"];
    for (const json& name : names) {
      std::cout << name.get<std::string>() << "\n";
    }
    if (!reply->value("HasMoreDeliveryStreams", false) || names.empty()) {
      break;
    }
    request["ExclusiveStartDeliveryStreamName"] = names.back();
  }
  std::cout << std::flush;
  return 0;
}

int Describe(AwsJsonClient& client, const std::string& name) {
  Result<json> reply = client.Call("DescribeDeliveryStream", {{"DeliveryStreamName", name}});
  if (!reply.ok()) {
    return ReportFailure("delivery describe", reply.status());
  }
  const json& d = (*reply)["DeliveryStreamDescription"];
  const auto time = [](const json& seconds) {
    return aws_json::Iso8601FromMillis(static_cast<int64_t>(seconds.get<double>() * 1000));
  };
  std::cout << "delivery stream  " << d.value("DeliveryStreamName", "") << "\n"
            << "arn              " << d.value("DeliveryStreamARN", "") << "\n"
            << "status           " << d.value("DeliveryStreamStatus", "") << "\n"
            << "type             " << d.value("DeliveryStreamType", "") << "\n"
            << "version          " << d.value("VersionId", "") << "\n"
            << "created          " << time(d["CreateTimestamp"]) << "\n"
            << "updated          " << time(d["LastUpdateTimestamp"]) << "\n";
  if (d.contains("Source")) {
    std::cout << "source           " << d["Source"].dump(2) << "\n";
  }
  for (const json& destination : d["Destinations"]) {
    std::cout << "destination      " << destination.dump(2) << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int Delete(AwsJsonClient& client, const std::string& name) {
  Result<json> reply = client.Call("DeleteDeliveryStream", {{"DeliveryStreamName", name}});
  if (!reply.ok()) {
    return ReportFailure("delivery delete", reply.status());
  }
  std::cout << "deleted delivery stream " << name << std::endl;
  return 0;
}

int Put(AwsJsonClient& client, const CliFlags& flags) {
  const std::string verb = "delivery put";
  const std::string& name = flags.positionals()[1];
  int fd = STDIN_FILENO;
  if (std::optional<std::string> path = flags.Get("--file")) {
    fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Usage(verb, *path + ": cannot open the records file: " + std::strerror(errno));
    }
  }
  BatchPutter putter(client, FirehosePutRecordBatch(), verb, name);
  size_t bad_lines = 0;
  const Status status = ForEachInputLine(
      fd,
      [&](size_t line_number, std::string line) {
        line.push_back('\n');  // Firehose adds no delimiter: keep objects newline-delimited
        if (line.size() > kMaxRecordBytes) {
          std::cerr << "sluice " << verb << ": line " << line_number << ": the record is "
                    << line.size() << " bytes; Firehose records hold at most " << kMaxRecordBytes
                    << "; not sent" << std::endl;
          ++bad_lines;
          return Status::Ok();
        }
        return putter.Add(line_number, "", std::move(line));
      },
      [&] { return putter.Flush(); });
  if (fd != STDIN_FILENO) {
    ::close(fd);
  }
  if (!status.ok()) {
    return ReportFailure(verb, status);
  }
  const size_t not_stored = putter.failed() + bad_lines;
  std::cerr << "sluice " << verb << ": stored " << putter.stored() << " records in " << name;
  if (not_stored > 0) {
    std::cerr << "; " << not_stored << " not stored (see above)";
  }
  std::cerr << std::endl;
  return not_stored > 0 ? 1 : 0;
}

}  // namespace

int DeliveryMain(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  const std::string action = args.empty() ? "" : args[0];
  std::set<std::string> with_value = {"--endpoint"};
  std::set<std::string> switches;
  size_t positionals = 2;  // the action and the name
  if (action == "create") {
    with_value = kCreateOptions;
    switches = {"--gzip"};
  } else if (action == "put") {
    with_value.insert("--file");
  } else if (action == "list") {
    positionals = 1;
  } else if (action != "describe" && action != "delete") {
    return Usage("delivery", action.empty() ? "missing verb (create, list, describe, delete, put)"
                                            : "unknown verb '" + action + "'");
  }
  const std::string verb = "delivery " + action;
  Result<CliFlags> flags = CliFlags::Parse(args, with_value, switches);
  if (!flags.ok()) {
    return Usage(verb, flags.status().message());
  }
  AwsJsonClient client(flags->Get("--endpoint").value_or(DefaultEndpoint()),
                       delivery::kFirehoseTargetPrefix);
  if (action == "create") {
    return Create(client, *flags);  // checks its own positionals (none with --file)
  }
  if (flags->positionals().size() != positionals) {
    return Usage(verb, flags->positionals().size() < positionals ? "missing delivery stream name"
                                                                 : "too many arguments");
  }
  if (action == "list") {
    return List(client);
  }
  if (action == "describe") {
    return Describe(client, flags->positionals()[1]);
  }
  if (action == "delete") {
    return Delete(client, flags->positionals()[1]);
  }
  return Put(client, *flags);
}

}  // namespace sluice::host
