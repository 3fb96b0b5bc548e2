#include "host/gen_cli.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "base/clock.h"
#include "delivery/firehose_api.h"
#include "host/aws_json_client.h"
#include "host/batch_putter.h"
#include "host/cli_flags.h"
#include "host/control_client.h"
#include "host/tolls_check.h"
#include "host/tolls_model.h"
#include "host/tolls_stack.h"
#include "host/tolls_truth.h"
#include "stream/kinesis_api.h"

namespace sluice::host {
namespace {

namespace pb = control::v1;

constexpr char kUsage[] =
    "usage: sluice gen reference\n"
    "       sluice gen tolls --truth DIR [--plan-only] [--seed 7] [--stations 20]\n"
    "                        [--customers 300] [--days 1] [--start 2026-11-02] [--speed 0]\n"
    "                        [--stream tolls] [--delivery-stream tolls-raw]\n"
    "                        [--reference CSV] [--endpoint URL]\n"
    "       sluice gen check --truth DIR --billing-alerts FILE --station-alerts FILE\n"
    "                        [--lake DIR] [--postgres CONNINFO --table T] [--timeout 90]\n"
    "                        [--data-dir DIR]\n"
    "       sluice gen stack --functions DIR --output DIR [--webhook URL [--webhook-secret S]]\n"
    "                        [--postgres CONNINFO]\n"
    "       sluice gen warehouse-sql\n"
    "\n"
    "  reference prints the station reference file (station_alert's reference.csv).\n"
    "  tolls writes the ground truth of a deterministic ABC Tolls run into DIR (thresholds.tsv,\n"
    "  notifications.jsonl, alerts.jsonl, spend.jsonl, summary.json), then puts the passages,\n"
    "  in event-time order, to the Kinesis stream and their raw lines to the delivery stream\n"
    "  (--delivery-stream \"\" skips them), writing puts.tsv. --speed paces the puts at that many\n"
    "  event seconds per wall second (0: as fast as possible). The truth needs the reference\n"
    "  file (default functions/station_alert/reference.csv in the current directory).\n"
    "  check polls the host until its notifications, alerts, spend table, lake and PostgreSQL\n"
    "  rows match the truth or --timeout seconds pass; prints a report; exit 0 on a match.\n"
    "  stack prints the ABC Tolls stack for `sluice apply`: the tolls stream, billing_threshold,\n"
    "  station_alert and json_transform from DIR/<name>/function.json, their mappings, the\n"
    "  billing-alerts and station-alerts topics (file subscribers in --output, and the webhook),\n"
    "  and the tolls-raw delivery stream into the lake --output/lake (and PostgreSQL).\n"
    "  warehouse-sql prints the SQL that makes the PostgreSQL table the stack loads.\n"
    "  --endpoint defaults to $SLUICE_ENDPOINT, else http://127.0.0.1:4566.\n";

constexpr char kDefaultReference[] = "functions/station_alert/reference.csv";
constexpr size_t kRecordsPerCall = 500;              // PutRecords' and PutRecordBatch's limit
constexpr int kUnreachableAttempts = 8;              // about 25 s of backoff for a restarting host
constexpr int64_t kProgressEveryMs = 3 * 3'600'000;  // a progress line per 3 simulated hours

int Usage(const std::string& verb, const std::string& problem) {
  return UsageError(verb, problem, kUsage);
}

Result<TollsOptions> OptionsFromFlags(const CliFlags& flags) {
  TollsOptions options;
  Result<int64_t> seed = flags.Integer("--seed", 7, 0, INT64_MAX);
  Result<int64_t> stations = flags.Integer("--stations", 20, 1, kReferenceStations);
  Result<int64_t> customers = flags.Integer("--customers", 300, 1, 9999);
  Result<int64_t> days = flags.Integer("--days", 1, 1, 366);
  Result<int64_t> start = ParseDate(flags.Get("--start").value_or("2026-11-02"));
  for (const Status& status :
       {seed.status(), stations.status(), customers.status(), days.status()}) {
    SLUICE_RETURN_IF_ERROR(status);
  }
  SLUICE_RETURN_IF_ERROR(start.status().WithContext("--start"));
  options.seed = static_cast<uint64_t>(*seed);
  options.stations = static_cast<int>(*stations);
  options.customers = static_cast<int>(*customers);
  options.days = static_cast<int>(*days);
  options.start_ms = *start;
  return options;
}

Result<StationReference> LoadReference(const CliFlags& flags) {
  std::optional<std::string> path = flags.Get("--reference");
  if (!path) {
    std::error_code ec;
    if (!std::filesystem::exists(kDefaultReference, ec)) {
      return InvalidArgument(std::string("--reference: no ") + kDefaultReference +
                             " in the current directory; give the station reference file");
    }
    path = kDefaultReference;
  }
  Result<std::string> csv = ReadCliInput(*path, "reference file");
  SLUICE_RETURN_IF_ERROR(csv.status().WithContext("--reference"));
  Result<StationReference> reference = ParseReference(*csv);
  SLUICE_RETURN_IF_ERROR(reference.status().WithContext(*path));
  return reference;
}

// Puts the plan's records and raw lines in event-time order, writing puts.tsv.
class TrafficPutter {
 public:
  TrafficPutter(const std::string& endpoint, const std::string& stream,
                const std::string& delivery_stream)
      : kinesis_client_(endpoint, stream::kKinesisTargetPrefix),
        firehose_client_(endpoint, delivery::kFirehoseTargetPrefix),
        stream_(stream),
        delivery_stream_(delivery_stream),
        kinesis_(kinesis_client_, KinesisPutRecords(), "gen tolls", stream),
        firehose_(firehose_client_, FirehosePutRecordBatch(), "gen tolls", delivery_stream) {
    kinesis_.set_unreachable_attempts(kUnreachableAttempts);
    firehose_.set_unreachable_attempts(kUnreachableAttempts);
  }

  // Refuses to start when a stream is missing: every put would fail.
  Status CheckStreams() {
    Result<nlohmann::json> stream =
        kinesis_client_.Call("DescribeStreamSummary", {{"StreamName", stream_}});
    SLUICE_RETURN_IF_ERROR(stream.status().WithContext("stream " + stream_));
    if (!delivery_stream_.empty()) {
      Result<nlohmann::json> delivery = firehose_client_.Call(
          "DescribeDeliveryStream", {{"DeliveryStreamName", delivery_stream_}});
      SLUICE_RETURN_IF_ERROR(delivery.status().WithContext("delivery stream " + delivery_stream_));
    }
    return Status::Ok();
  }

  Status Put(const TollsPlan& plan, int64_t speed, const std::string& puts_path) {
    puts_.open(puts_path, std::ios::trunc);
    if (!puts_) {
      return InvalidArgument(puts_path + ": cannot write");
    }
    const int64_t wall_start = Clock::Real().UnixMillis();
    const int64_t event_start = plan.raw.empty() ? 0 : plan.raw.front().event_ms;
    int64_t progress_reported = event_start / kProgressEveryMs;
    size_t record = 0;
    size_t raw = 0;
    while (record < plan.records.size() || raw < plan.raw.size()) {
      const bool take_record =
          record < plan.records.size() &&
          (raw == plan.raw.size() || plan.records[record].event_ms <= plan.raw[raw].event_ms);
      const int64_t event_ms = take_record ? plan.records[record].event_ms : plan.raw[raw].event_ms;
      if (speed > 0) {
        const int64_t due = wall_start + (event_ms - event_start) / speed;
        if (Clock::Real().UnixMillis() < due) {
          SLUICE_RETURN_IF_ERROR(Flush());
          std::this_thread::sleep_for(std::chrono::milliseconds(due - Clock::Real().UnixMillis()));
        }
      }
      if (event_ms / kProgressEveryMs != progress_reported) {
        progress_reported = event_ms / kProgressEveryMs;
        std::cerr << "sluice gen tolls: " << EventTime(progress_reported * kProgressEveryMs) << "  "
                  << kinesis_.stored() + kinesis_in_batch_ << " records" << std::endl;
      }
      if (take_record) {
        const Passage& passage = plan.records[record++];
        batch_highest_event_ms_ = passage.event_ms;
        SLUICE_RETURN_IF_ERROR(kinesis_.Add(passage.transaction, StationId(passage.station),
                                            StreamRecordJson(passage)));
        // Add sends a full batch itself: note when it was acknowledged.
        if (++kinesis_in_batch_ == kRecordsPerCall) {
          NotePut();
        }
      } else if (!delivery_stream_.empty()) {
        SLUICE_RETURN_IF_ERROR(firehose_.Add(raw, "", plan.raw[raw].text));
        ++raw;
      } else {
        ++raw;
      }
    }
    return Flush();
  }

  size_t stored() const { return kinesis_.stored(); }
  size_t raw_stored() const { return firehose_.stored(); }
  size_t failed() const { return kinesis_.failed() + firehose_.failed(); }

 private:
  Status Flush() {
    if (kinesis_in_batch_ > 0) {
      SLUICE_RETURN_IF_ERROR(kinesis_.Flush().WithContext("stream " + stream_));
      NotePut();
    }
    return firehose_.Flush().WithContext("delivery stream " + delivery_stream_);
  }

  void NotePut() {
    puts_ << batch_highest_event_ms_ << '\t' << Clock::Real().UnixMillis() << '\n' << std::flush;
    kinesis_in_batch_ = 0;
  }

  AwsJsonClient kinesis_client_;
  AwsJsonClient firehose_client_;
  const std::string stream_;
  const std::string delivery_stream_;
  BatchPutter kinesis_;
  BatchPutter firehose_;
  std::ofstream puts_;
  size_t kinesis_in_batch_ = 0;
  int64_t batch_highest_event_ms_ = 0;
};

int Reference(const CliFlags& flags) {
  if (flags.positionals().size() != 1) {
    return Usage("gen reference", "too many arguments");
  }
  std::cout << ReferenceCsv() << std::flush;
  return 0;
}

int Tolls(const CliFlags& flags) {
  const std::string verb = "gen tolls";
  if (flags.positionals().size() != 1) {
    return Usage(verb, "too many arguments");
  }
  const std::optional<std::string> truth_dir = flags.Get("--truth");
  if (!truth_dir) {
    return Usage(verb, "--truth DIR is required");
  }
  Result<TollsOptions> options = OptionsFromFlags(flags);
  if (!options.ok()) {
    return Usage(verb, options.status().message());
  }
  Result<int64_t> speed = flags.Integer("--speed", 0, 0, 1'000'000);
  if (!speed.ok()) {
    return Usage(verb, speed.status().message());
  }
  Result<StationReference> reference = LoadReference(flags);
  if (!reference.ok()) {
    return Usage(verb, reference.status().message());
  }
  const TollsPlan plan = GenerateTolls(*options);
  const TollsTruth truth = ComputeTruth(plan.records, plan.limits_cents, *reference,
                                        options->start_ms, plan.days_end_ms);
  if (Status written = WriteTruthFiles(*truth_dir, *options, plan, truth); !written.ok()) {
    return ReportFailure(verb, written);
  }
  std::cerr << "sluice gen tolls: truth in " << *truth_dir << ": " << plan.records.size()
            << " records, " << plan.raw.size() << " raw lines, " << plan.limits_cents.size()
            << " thresholds, " << truth.notifications.size() << " notifications, "
            << truth.alerts.size() << " alerts expected" << std::endl;
  if (flags.Has("--plan-only")) {
    return 0;
  }
  TrafficPutter putter(flags.Get("--endpoint").value_or(DefaultEndpoint()),
                       flags.Get("--stream").value_or("tolls"),
                       flags.Get("--delivery-stream").value_or("tolls-raw"));
  if (Status ready = putter.CheckStreams(); !ready.ok()) {
    return ReportFailure(verb, ready);
  }
  const Status put = putter.Put(plan, *speed, *truth_dir + "/" + kPutsFile);
  if (!put.ok()) {
    if (put.code() == Code::kUnknown) {
      std::cerr << "sluice gen tolls: ambiguous failure, stopping rather than guess: "
                << put.message() << " (" << putter.stored() << " records were stored before)"
                << std::endl;
      return 1;
    }
    return ReportFailure(verb, put);
  }
  std::cerr << "sluice gen tolls: put " << putter.stored() << " records and " << putter.raw_stored()
            << " raw lines";
  if (putter.failed() > 0) {
    std::cerr << "; " << putter.failed() << " refused (see above)" << std::endl;
    return 1;
  }
  std::cerr << std::endl;
  return 0;
}

// The whole `spend` table through the control API, page by page.
SpendReader SpendFromHost(const CliFlags& flags) {
  return [flags]() -> Result<std::map<std::pair<std::string, std::string>, int64_t>> {
    Result<std::unique_ptr<ControlClient>> client = ControlClient::Connect(flags);
    SLUICE_RETURN_IF_ERROR(client.status());
    std::map<std::pair<std::string, std::string>, int64_t> table;
    pb::KvScanRequest request;
    request.set_table("spend");
    request.set_limit(1000);
    for (bool more = true; more;) {
      pb::KvScanResponse response;
      grpc::ClientContext context;
      SLUICE_RETURN_IF_ERROR(
          (*client)->Check((*client)->stub().KvScan(&context, request, &response)));
      for (const pb::KvItem& item : response.items()) {
        const size_t hash = item.key().find('#');
        const nlohmann::json value = nlohmann::json::parse(item.value_json(), nullptr, false);
        if (hash == std::string::npos || !value.is_object() ||
            !value.value("cents", nlohmann::json()).is_number_integer()) {
          return InvalidArgument("spend item " + item.key() +
                                 " is not {\"cents\": N}: " + item.value_json());
        }
        table[{item.key().substr(0, hash), item.key().substr(hash + 1)}] =
            value["cents"].get<int64_t>();
      }
      more = response.more();
      request.set_exclusive_start_key(response.last_evaluated_key());
    }
    return table;
  };
}

// What `sluice status` shows of the mappings and delivery streams, through the control API.
PipelineReader PipelineFromHost(const CliFlags& flags) {
  return [flags]() -> Result<PipelineCounts> {
    Result<std::unique_ptr<ControlClient>> client = ControlClient::Connect(flags);
    SLUICE_RETURN_IF_ERROR(client.status());
    pb::GetStatusResponse status;
    grpc::ClientContext context;
    SLUICE_RETURN_IF_ERROR(
        (*client)->Check((*client)->stub().GetStatus(&context, pb::GetStatusRequest(), &status)));
    PipelineCounts counts;
    for (const pb::MappingStatus& mapping : status.mappings()) {
      PipelineCounts::Mapping& out = counts.mappings.emplace_back();
      out.function = mapping.function_name();
      for (const pb::MappingShardStatus& shard : mapping.shards()) {
        out.invoked += shard.invoked();
        out.dropped += shard.dropped();
      }
    }
    for (const pb::DeliveryStatus& delivery : status.delivery_streams()) {
      counts.deliveries.push_back({delivery.name(), delivery.records_in(),
                                   delivery.records_delivered(), delivery.objects_delivered(),
                                   delivery.records_dropped(), delivery.records_failed(),
                                   delivery.bytes_delivered()});
    }
    return counts;
  };
}

int Check(const CliFlags& flags) {
  const std::string verb = "gen check";
  if (flags.positionals().size() != 1) {
    return Usage(verb, "too many arguments");
  }
  CheckOptions options;
  for (const auto& [flag, field] : {std::pair{"--truth", &options.truth_dir},
                                    std::pair{"--billing-alerts", &options.billing_alerts},
                                    std::pair{"--station-alerts", &options.station_alerts}}) {
    std::optional<std::string> value = flags.Get(flag);
    if (!value) {
      return Usage(verb, std::string(flag) + " is required");
    }
    *field = *value;
  }
  if (flags.Has("--postgres") != flags.Has("--table")) {
    return Usage(verb, "--postgres and --table go together");
  }
  Result<int64_t> timeout = flags.Integer("--timeout", 90, 0, 86'400);
  if (!timeout.ok()) {
    return Usage(verb, timeout.status().message());
  }
  options.lake_dir = flags.Get("--lake");
  options.postgres = flags.Get("--postgres");
  options.table = flags.Get("--table").value_or("");
  options.timeout_ms = *timeout * 1000;
  options.read_spend = SpendFromHost(flags);
  options.read_pipeline = PipelineFromHost(flags);
  Result<int> matched = RunTollsCheck(options, std::cout);
  if (!matched.ok()) {
    return ReportFailure(verb, matched.status());
  }
  std::cout << std::flush;
  return *matched;
}

int Stack(const CliFlags& flags) {
  const std::string verb = "gen stack";
  if (flags.positionals().size() != 1) {
    return Usage(verb, "too many arguments");
  }
  TollsStackOptions options;
  for (const auto& [flag, field] : {std::pair{"--functions", &options.functions_dir},
                                    std::pair{"--output", &options.output_dir}}) {
    const std::optional<std::string> value = flags.Get(flag);
    if (!value || value->empty()) {
      return Usage(verb, std::string(flag) + " DIR is required");
    }
    std::error_code error;
    *field = std::filesystem::absolute(*value, error).lexically_normal().string();
    if (error) {
      return Usage(verb, std::string(flag) + " " + *value + ": " + error.message());
    }
    while (field->size() > 1 && field->back() == '/') {
      field->pop_back();
    }
  }
  if (flags.Has("--webhook-secret") && !flags.Has("--webhook")) {
    return Usage(verb, "--webhook-secret needs --webhook");
  }
  options.webhook_url = flags.Get("--webhook").value_or("");
  options.webhook_secret = flags.Get("--webhook-secret").value_or("");
  options.postgres = flags.Get("--postgres").value_or("");
  std::cout << TollsStack(options).dump(2) << std::endl;
  return 0;
}

int WarehouseSql(const CliFlags& flags) {
  if (flags.positionals().size() != 1) {
    return Usage("gen warehouse-sql", "too many arguments");
  }
  std::cout << WarehouseTableSql() << ";" << std::endl;
  return 0;
}

}  // namespace

int GenMain(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  const std::string sub = args.empty() ? "" : args[0];
  std::set<std::string> with_value;
  std::set<std::string> switches;
  int (*run)(const CliFlags&) = nullptr;
  if (sub == "reference") {
    run = Reference;
  } else if (sub == "tolls") {
    with_value = {"--truth", "--seed",   "--stations",        "--customers", "--days",    "--start",
                  "--speed", "--stream", "--delivery-stream", "--reference", "--endpoint"};
    switches = {"--plan-only"};
    run = Tolls;
  } else if (sub == "check") {
    with_value = {"--truth",    "--billing-alerts", "--station-alerts", "--lake",
                  "--postgres", "--table",          "--timeout",        "--data-dir"};
    run = Check;
  } else if (sub == "stack") {
    with_value = {"--functions", "--output", "--webhook", "--webhook-secret", "--postgres"};
    run = Stack;
  } else if (sub == "warehouse-sql") {
    run = WarehouseSql;
  } else {
    return Usage("gen", sub.empty()
                            ? "missing subcommand (reference, tolls, check, stack or warehouse-sql)"
                            : "unknown subcommand '" + sub + "'");
  }
  Result<CliFlags> flags = CliFlags::Parse(args, with_value, switches);
  if (!flags.ok()) {
    return Usage("gen " + sub, flags.status().message());
  }
  return run(*flags);
}

}  // namespace sluice::host
