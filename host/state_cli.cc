// kv, topics, subscribe, unsubscribe, status.
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "host/control_cli.h"
#include "host/control_client.h"
#include "sluice/aws_json.h"
#include "state/topics.h"

namespace sluice::host {
namespace {

namespace pb = control::v1;

constexpr char kKvUsage[] =
    "usage: sluice kv get TABLE KEY\n"
    "       sluice kv put TABLE KEY JSON\n"
    "       sluice kv delete TABLE KEY\n"
    "       sluice kv scan TABLE [--prefix P] [--limit N] [--start KEY]\n"
    "       sluice kv tables\n"
    "  Reads and writes the host's key-value tables directly (writes commit at once). Every\n"
    "  verb takes --data-dir DIR.\n";
constexpr char kTopicsUsage[] =
    "usage: sluice topics [list]\n"
    "       sluice topics create NAME\n"
    "       sluice topics delete NAME\n"
    "  Lists topics with their subscriptions, creates or deletes one. Every verb takes\n"
    "  --data-dir DIR.\n";
constexpr char kSubscribeUsage[] =
    "usage: sluice subscribe TOPIC ENDPOINT [--secret S]\n"
    "                        [--num-retries N --min-delay-ms MS --max-delay-ms MS] [--data-dir "
    "DIR]\n"
    "  Subscribes ENDPOINT (http(s)://..., file:///absolute/path or stdout) to TOPIC. S signs\n"
    "  each delivery (HMAC-SHA256). Retries default to 12, from 1000 ms to 300000 ms apart.\n";
constexpr char kUnsubscribeUsage[] =
    "usage: sluice unsubscribe TOPIC ENDPOINT [--data-dir DIR]\n"
    "       sluice unsubscribe SUBSCRIPTION_ID [--data-dir DIR]\n";
constexpr char kStatusUsage[] =
    "usage: sluice status [--data-dir DIR]\n"
    "  Shows the host: functions with instances, invocations, errors and latency; topics;\n"
    "  notifications; streams; event source mappings with each shard's position (checkpoint),\n"
    "  iterator age (ms from a batch's last record's arrival to its invoke) and counters.\n";

int KvGet(const ControlVerb& verb, const CliFlags& flags) {
  pb::KvGetRequest request;
  request.set_table(flags.positionals()[1]);
  request.set_key(flags.positionals()[2]);
  pb::KvGetResponse response;
  if (int code = CallHost(verb, flags, &pb::Control::Stub::KvGet, request, &response); code != 0) {
    return code;
  }
  std::cout << response.item().value_json() << std::endl;
  return 0;
}

int KvPut(const ControlVerb& verb, const CliFlags& flags) {
  pb::KvPutRequest request;
  request.set_table(flags.positionals()[1]);
  request.set_key(flags.positionals()[2]);
  request.set_value_json(flags.positionals()[3]);
  pb::KvPutResponse response;
  if (int code = CallHost(verb, flags, &pb::Control::Stub::KvPut, request, &response); code != 0) {
    return code;
  }
  std::cout << "put " << request.table() << "/" << request.key() << std::endl;
  return 0;
}

int KvDelete(const ControlVerb& verb, const CliFlags& flags) {
  pb::KvDeleteRequest request;
  request.set_table(flags.positionals()[1]);
  request.set_key(flags.positionals()[2]);
  pb::KvDeleteResponse response;
  if (int code = CallHost(verb, flags, &pb::Control::Stub::KvDelete, request, &response);
      code != 0) {
    return code;
  }
  std::cout << (response.existed() ? "deleted " : "no item ") << request.table() << "/"
            << request.key() << std::endl;
  return 0;
}

int KvScan(const ControlVerb& verb, const CliFlags& flags) {
  Result<int64_t> limit = flags.Integer("--limit", 100, 1, 1000);
  if (!limit.ok()) {
    return verb.Usage(limit.status().message());
  }
  pb::KvScanRequest request;
  request.set_table(flags.positionals()[1]);
  request.set_prefix(flags.Get("--prefix").value_or(""));
  request.set_limit(static_cast<uint32_t>(*limit));
  request.set_exclusive_start_key(flags.Get("--start").value_or(""));
  pb::KvScanResponse response;
  if (int code = CallHost(verb, flags, &pb::Control::Stub::KvScan, request, &response); code != 0) {
    return code;
  }
  for (const pb::KvItem& item : response.items()) {
    std::cout << item.key() << '\t' << item.value_json() << '\n';
  }
  if (response.more()) {
    std::cerr << "(more items: continue with --start '" << response.last_evaluated_key() << "')"
              << std::endl;
  }
  std::cout << std::flush;
  return 0;
}

int KvTables(const ControlVerb& verb, const CliFlags& flags) {
  pb::KvTablesResponse response;
  if (int code =
          CallHost(verb, flags, &pb::Control::Stub::KvTables, pb::KvTablesRequest(), &response);
      code != 0) {
    return code;
  }
  for (const pb::KvTablesResponse::Table& table : response.tables()) {
    std::cout << table.name() << '\t' << table.items() << (table.items() == 1 ? " item" : " items")
              << '\n';
  }
  std::cout << std::flush;
  return 0;
}

int TopicsList(const ControlVerb& verb, const CliFlags& flags) {
  pb::ListTopicsResponse response;
  if (int code =
          CallHost(verb, flags, &pb::Control::Stub::ListTopics, pb::ListTopicsRequest(), &response);
      code != 0) {
    return code;
  }
  for (const pb::Topic& topic : response.topics()) {
    std::cout << topic.name() << "  " << topic.arn() << "  (" << topic.subscriptions_size()
              << (topic.subscriptions_size() == 1 ? " subscription)" : " subscriptions)") << '\n';
    for (const pb::Subscription& s : topic.subscriptions()) {
      std::cout << "  " << s.id() << "  " << s.endpoint() << (s.has_secret() ? "  (signed)" : "")
                << "  retries " << s.policy().num_retries() << ", " << s.policy().min_delay_ms()
                << "-" << s.policy().max_delay_ms() << " ms\n";
    }
  }
  std::cout << std::flush;
  return 0;
}

}  // namespace

int KvMain(const std::vector<std::string>& args) {
  const std::string sub = args.empty() ? "" : args[0];
  struct Sub {
    size_t positionals;  // including the subcommand
    std::set<std::string> options;
    int (*run)(const ControlVerb&, const CliFlags&);
  };
  const std::map<std::string, Sub> subs = {
      {"get", {3, {}, KvGet}},
      {"put", {4, {}, KvPut}},
      {"delete", {3, {}, KvDelete}},
      {"scan", {2, {"--prefix", "--limit", "--start"}, KvScan}},
      {"tables", {1, {}, KvTables}}};
  auto it = subs.find(sub);
  const ControlVerb verb{it == subs.end() ? "kv" : "kv " + sub, kKvUsage};
  int exit_code = 0;
  if (it == subs.end()) {
    if (sub == "-h" || sub == "--help") {
      std::cout << kKvUsage;
      return 0;
    }
    return verb.Usage(sub.empty() ? "missing subcommand (get, put, delete, scan or tables)"
                                  : "unknown subcommand '" + sub + "'");
  }
  std::optional<CliFlags> flags = verb.Parse(args, it->second.options, {}, it->second.positionals,
                                             it->second.positionals, &exit_code);
  return flags ? it->second.run(verb, *flags) : exit_code;
}

int TopicsMain(const std::vector<std::string>& args) {
  const std::string sub = args.empty() || args[0].rfind("-", 0) == 0 ? "list" : args[0];
  const bool known = sub == "list" || sub == "create" || sub == "delete";
  const ControlVerb verb{known ? "topics " + sub : "topics", kTopicsUsage};
  int exit_code = 0;
  if (sub == "list") {
    const bool explicit_list = !args.empty() && args[0] == "list";
    std::optional<CliFlags> flags =
        verb.Parse(std::vector<std::string>(args.begin() + (explicit_list ? 1 : 0), args.end()), {},
                   {}, 0, 0, &exit_code);
    return flags ? TopicsList(verb, *flags) : exit_code;
  }
  if (!known) {
    return verb.Usage("unknown subcommand '" + sub + "' (list, create or delete)");
  }
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 2, 2, &exit_code);
  if (!flags) {
    return exit_code;
  }
  const std::string& name = flags->positionals()[1];
  if (Status valid = state::ValidateTopicName(name); !valid.ok()) {
    return verb.Fail(valid);
  }
  if (sub == "create") {
    pb::CreateTopicRequest request;
    request.set_name(name);
    pb::CreateTopicResponse response;
    if (int code = CallHost(verb, *flags, &pb::Control::Stub::CreateTopic, request, &response);
        code != 0) {
      return code;
    }
    std::cout << "created topic " << name << " (" << response.topic().arn() << ")" << std::endl;
    return 0;
  }
  pb::DeleteTopicRequest request;
  request.set_name(name);
  pb::DeleteTopicResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::DeleteTopic, request, &response);
      code != 0) {
    return code;
  }
  std::cout << "deleted topic " << name << std::endl;
  return 0;
}

int SubscribeMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"subscribe", kSubscribeUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags =
      verb.Parse(args, {"--secret", "--num-retries", "--min-delay-ms", "--max-delay-ms"}, {}, 2, 2,
                 &exit_code);
  if (!flags) {
    return exit_code;
  }
  const state::DeliveryPolicy defaults;
  Result<int64_t> retries = flags->Integer("--num-retries", defaults.num_retries, 0, 100);
  Result<int64_t> min_delay = flags->Integer("--min-delay-ms", defaults.min_delay_ms, 10, 3600000);
  Result<int64_t> max_delay = flags->Integer("--max-delay-ms", defaults.max_delay_ms, 10, 3600000);
  for (const Result<int64_t>* value : {&retries, &min_delay, &max_delay}) {
    if (!value->ok()) {
      return verb.Usage(value->status().message());
    }
  }
  state::DeliveryPolicy policy;
  policy.num_retries = static_cast<uint32_t>(*retries);
  policy.min_delay_ms = *min_delay;
  policy.max_delay_ms = *max_delay;
  for (const Status& valid :
       {state::ValidateTopicName(flags->positionals()[0]),
        state::ValidateEndpoint(flags->positionals()[1]), state::ValidateDeliveryPolicy(policy)}) {
    if (!valid.ok()) {
      return verb.Fail(valid);
    }
  }
  pb::SubscribeRequest request;
  request.set_topic(flags->positionals()[0]);
  request.set_endpoint(flags->positionals()[1]);
  request.set_secret(flags->Get("--secret").value_or(""));
  request.mutable_policy()->set_num_retries(policy.num_retries);
  request.mutable_policy()->set_min_delay_ms(policy.min_delay_ms);
  request.mutable_policy()->set_max_delay_ms(policy.max_delay_ms);
  pb::SubscribeResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Subscribe, request, &response);
      code != 0) {
    return code;
  }
  std::cout << "subscribed " << request.endpoint() << " to " << request.topic() << " (subscription "
            << response.subscription().id() << ")" << std::endl;
  return 0;
}

int UnsubscribeMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"unsubscribe", kUnsubscribeUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 1, 2, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::UnsubscribeRequest request;
  if (flags->positionals().size() == 1) {
    request.set_subscription_id(flags->positionals()[0]);
  } else {
    request.set_topic(flags->positionals()[0]);
    request.set_endpoint(flags->positionals()[1]);
  }
  pb::UnsubscribeResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Unsubscribe, request, &response);
      code != 0) {
    return code;
  }
  std::cout << "unsubscribed "
            << (request.subscription_id().empty() ? request.endpoint() + " from " + request.topic()
                                                  : "subscription " + request.subscription_id())
            << std::endl;
  return 0;
}

int StatusMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"status", kStatusUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 0, 0, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::GetStatusResponse s;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::GetStatus, pb::GetStatusRequest(), &s);
      code != 0) {
    return code;
  }
  // One section per kind of thing, in the same shape.
  std::printf("host       data %s, up since %s\n\n", s.data_dir().c_str(),
              aws_json::Iso8601FromMillis(s.started_unix_ms()).c_str());
  std::printf("FUNCTIONS  %-24s %-8s %-12s %9s %11s %6s %9s %9s %9s\n", "NAME", "VERSION", "CODE",
              "INSTANCES", "INVOCATIONS", "ERRORS", "THROTTLES", "P50 MS", "P99 MS");
  for (const pb::FunctionStatus& f : s.functions()) {
    std::printf("           %-24s %-8s %-12s %9llu %11llu %6llu %9llu %9.2f %9.2f\n",
                f.name().c_str(), f.version().c_str(), f.code_sha256().substr(0, 12).c_str(),
                static_cast<unsigned long long>(f.live_instances()),
                static_cast<unsigned long long>(f.invocations()),
                static_cast<unsigned long long>(f.errors()),
                static_cast<unsigned long long>(f.throttles()), f.p50_ms(), f.p99_ms());
  }
  std::printf("\nTOPICS     %-24s %s\n", "NAME", "SUBSCRIPTIONS");
  for (const pb::TopicStatus& t : s.topics()) {
    std::printf("           %-24s %u\n", t.name().c_str(), t.subscriptions());
  }
  std::printf("\nNOTIFICATIONS  pending %lld  delivered %lld  failed %lld\n",
              static_cast<long long>(s.notifications().pending()),
              static_cast<long long>(s.notifications().delivered()),
              static_cast<long long>(s.notifications().failed()));
  std::printf("\nSTREAMS    %-24s %-8s %s\n", "NAME", "STATUS", "SHARDS (OPEN/ALL)");
  for (const pb::StreamStatus& st : s.streams()) {
    std::printf("           %-24s %-8s %u/%u\n", st.name().c_str(), st.status().c_str(),
                st.open_shards(), st.total_shards());
  }
  std::printf("\nMAPPINGS   %-36s %-20s %-16s %s\n", "UUID", "FUNCTION", "STREAM", "STATE");
  for (const pb::MappingStatus& m : s.mappings()) {
    std::printf("           %-36s %-20s %-16s %s\n", m.uuid().c_str(), m.function_name().c_str(),
                m.stream_name().c_str(), m.state().c_str());
    std::printf("             %-20s %-19s %-38s %10s %9s %9s %8s %8s %8s\n", "SHARD", "PHASE",
                "POSITION", "AGE MS", "POLLED", "INVOKED", "FILTERED", "FAILED", "DROPPED");
    for (const pb::MappingShardStatus& shard : m.shards()) {
      std::printf("             %-20s %-19s %-38s %10lld %9llu %9llu %8llu %8llu %8llu\n",
                  shard.shard_id().c_str(), shard.phase().c_str(),
                  shard.position().empty() ? "-" : shard.position().c_str(),
                  static_cast<long long>(shard.iterator_age_ms()),
                  static_cast<unsigned long long>(shard.polled()),
                  static_cast<unsigned long long>(shard.invoked()),
                  static_cast<unsigned long long>(shard.filtered()),
                  static_cast<unsigned long long>(shard.failed()),
                  static_cast<unsigned long long>(shard.dropped()));
      if (shard.retries() + shard.bisections() + shard.throttles() + shard.sent_to_destination() >
          0) {
        std::printf(
            "             %-20s retries %llu  bisections %llu  throttles %llu  sent to "
            "destination %llu\n",
            "", static_cast<unsigned long long>(shard.retries()),
            static_cast<unsigned long long>(shard.bisections()),
            static_cast<unsigned long long>(shard.throttles()),
            static_cast<unsigned long long>(shard.sent_to_destination()));
      }
    }
  }
  std::printf("\nDELIVERY STREAMS %-18s %9s %9s %11s %9s %9s %8s %7s %9s %12s\n", "NAME", "IN",
              "BUFFERED", "TRANSFORMED", "DROPPED", "FAILED", "DELIVERED", "OBJECTS", "ERRORS",
              "FRESHNESS MS");
  for (const pb::DeliveryStatus& d : s.delivery_streams()) {
    std::printf(
        "                 %-18s %9lld %9lld %11lld %9lld %9lld %8lld %7lld %9lld %12s\n",
        d.name().c_str(), static_cast<long long>(d.records_in()),
        static_cast<long long>(d.records_buffered()),
        static_cast<long long>(d.records_transformed()),
        static_cast<long long>(d.records_dropped()), static_cast<long long>(d.records_failed()),
        static_cast<long long>(d.records_delivered()),
        static_cast<long long>(d.objects_delivered()), static_cast<long long>(d.delivery_errors()),
        d.freshness_ms() < 0 ? "-" : std::to_string(d.freshness_ms()).c_str());
    if (d.batches_failed() > 0 || !d.last_error().empty()) {
      std::printf("                 %-18s batches sent to errors %lld  last error: %s\n", "",
                  static_cast<long long>(d.batches_failed()),
                  d.last_error().empty() ? "-" : d.last_error().c_str());
    }
  }
  return 0;
}

}  // namespace sluice::host
