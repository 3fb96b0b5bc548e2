#include "host/tolls_check.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "host/tolls_model.h"
#include "host/tolls_stack.h"
#include "host/tolls_truth.h"
#include "sluice/aws_json.h"
#include "sluice/base64.h"

namespace sluice::host {
namespace {

using nlohmann::json;

// The stack's windows (host/tolls_stack.h).
constexpr int64_t kLatenessMs = int64_t{kAllowedLatenessSeconds} * 1000;
constexpr int64_t kBillingWindowMs = int64_t{kBillingWindowSeconds} * 1000;
constexpr size_t kDifferencesShown = 3;  // per part of the report
constexpr int64_t kSettleMs = 2'000;     // how long a match must hold (RunTollsCheck)

// One notification as a subscriber received it first.
struct Envelope {
  json message;  // the parsed Message text
  int64_t timestamp_ms = 0;
};

struct Delivered {
  std::map<std::string, Envelope> by_message_id;
  size_t redeliveries = 0;
};

// The envelopes of a file subscriber; a missing file is no notification yet. A line that is
// not an envelope is a difference.
Delivered ReadEnvelopes(const std::string& path, std::vector<std::string>* differences) {
  Delivered delivered;
  std::ifstream in(path);
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (in.eof()) {
      break;  // no "\n" yet: a line the host is still appending
    }
    if (line.empty()) {
      continue;
    }
    const json envelope = json::parse(line, nullptr, /*allow_exceptions=*/false);
    int64_t timestamp = 0;
    json message;
    if (envelope.is_object() && envelope.value("MessageId", json()).is_string() &&
        envelope.value("Message", json()).is_string() &&
        envelope.value("Timestamp", json()).is_string() &&
        aws_json::MillisFromIso8601(envelope["Timestamp"].get<std::string>(), &timestamp)) {
      message = json::parse(envelope["Message"].get<std::string>(), nullptr, false);
    }
    if (!message.is_object()) {
      differences->push_back(path + ": line " + std::to_string(number) +
                             ": not a notification envelope with a JSON Message");
      continue;
    }
    const auto [it, fresh] = delivered.by_message_id.emplace(
        envelope["MessageId"].get<std::string>(), Envelope{message, timestamp});
    delivered.redeliveries += fresh ? 0 : 1;
  }
  return delivered;
}

std::string Text(const json& message, const char* key) {
  const json value = message.value(key, json());
  return value.is_string() ? value.get<std::string>() : "";
}

int64_t CentsOf(const json& message, const char* key) {
  const json value = message.value(key, json());
  return value.is_number() ? std::llround(value.get<double>() * 100) : -1;
}

// puts.tsv: per PutRecords call, its highest event time and when it was acknowledged.
std::vector<std::pair<int64_t, int64_t>> ReadPuts(const std::string& path) {
  std::vector<std::pair<int64_t, int64_t>> puts;
  std::ifstream in(path);
  for (int64_t event_ms = 0, acked_ms = 0; in >> event_ms >> acked_ms;) {
    puts.emplace_back(event_ms, acked_ms);
  }
  return puts;
}

// When the generator had put every record up to event time `knowable_ms`.
std::optional<int64_t> PutBy(const std::vector<std::pair<int64_t, int64_t>>& puts,
                             int64_t knowable_ms) {
  if (puts.empty()) {
    return std::nullopt;
  }
  for (const auto& [event_ms, acked_ms] : puts) {
    if (event_ms >= knowable_ms) {
      return acked_ms;
    }
  }
  return puts.back().second;
}

struct Section {
  std::string name;
  std::string detail;
  size_t differences_begin = 0;  // its range in Observation::differences
  size_t differences_end = 0;
  bool ok() const { return differences_begin == differences_end; }
};

// One look at everything the host produced, compared with the truth.
struct Observation {
  std::vector<Section> sections;
  std::vector<std::string> differences;
  std::vector<int64_t> notification_latency_ms;
  std::vector<int64_t> alert_latency_ms;

  void Add(std::string name, std::string detail, size_t differences_before) {
    sections.push_back(
        {std::move(name), std::move(detail), differences_before, differences.size()});
  }
};

// Loaded once: the truth and what only the generator knows (transaction ids, puts).
struct Expected {
  TruthFiles files;
  std::set<std::string> transaction_ids;
  std::multiset<std::string> malformed_lines;  // each with its "\n", as put
  std::vector<std::pair<int64_t, int64_t>> puts;
};

void CheckNotifications(const CheckOptions& options, const Expected& expected, Observation* seen) {
  const size_t before = seen->differences.size();
  const Delivered delivered = ReadEnvelopes(options.billing_alerts, &seen->differences);
  std::map<std::pair<std::string, std::string>, std::vector<const Envelope*>> by_key;
  std::map<const Envelope*, std::string> ids;
  for (const auto& [id, envelope] : delivered.by_message_id) {
    by_key[{Text(envelope.message, "customer_id"), Text(envelope.message, "month")}].push_back(
        &envelope);
    ids[&envelope] = id;
  }
  size_t matched = 0;
  for (const ExpectedNotification& want : expected.files.truth.notifications) {
    const std::string what = "notification " + want.customer_id + " " + want.month;
    const auto found = by_key.find({want.customer_id, want.month});
    if (found == by_key.end()) {
      seen->differences.push_back(what + ": missing (crossed at " + EventTime(want.crossed_at_ms) +
                                  ")");
      continue;
    }
    const std::vector<const Envelope*> got = found->second;
    by_key.erase(found);
    if (got.size() > 1) {
      seen->differences.push_back(what + ": sent " + std::to_string(got.size()) +
                                  " times under different MessageIds (" + ids[got[0]] + ", " +
                                  ids[got[1]] + ")");
      continue;
    }
    const json& message = got[0]->message;
    // The spend is the total when the window that crossed the limit closed: at least the limit
    // and at most the month's total.
    const int64_t spend = CentsOf(message, "spend");
    if (CentsOf(message, "monthly_limit") != want.limit_cents || spend < want.limit_cents ||
        spend > want.spend_cents) {
      seen->differences.push_back(what + ": got " + message.dump() + ", expected monthly_limit " +
                                  Decimal2(want.limit_cents) + " and spend from that to " +
                                  Decimal2(want.spend_cents));
      continue;
    }
    ++matched;
    const int64_t window_end =
        want.crossed_at_ms - want.crossed_at_ms % kBillingWindowMs + kBillingWindowMs;
    if (std::optional<int64_t> put = PutBy(expected.puts, window_end + kLatenessMs)) {
      seen->notification_latency_ms.push_back(got[0]->timestamp_ms - *put);
    }
  }
  for (const auto& [key, envelopes] : by_key) {
    seen->differences.push_back("notification " + key.first + " " + key.second +
                                ": unexpected: " + envelopes[0]->message.dump());
  }
  seen->Add("notifications",
            std::to_string(matched) + " of " +
                std::to_string(expected.files.truth.notifications.size()) + " expected, " +
                std::to_string(delivered.by_message_id.size()) + " produced (" +
                std::to_string(delivered.redeliveries) + " redeliveries ignored)",
            before);
}

void CheckAlerts(const CheckOptions& options, const Expected& expected, Observation* seen) {
  const size_t before = seen->differences.size();
  const Delivered delivered = ReadEnvelopes(options.station_alerts, &seen->differences);
  std::map<std::pair<std::string, std::string>, std::vector<const Envelope*>> by_key;
  for (const auto& [id, envelope] : delivered.by_message_id) {
    by_key[{Text(envelope.message, "station_id"), Text(envelope.message, "slot_start")}].push_back(
        &envelope);
  }
  size_t matched = 0;
  for (const ExpectedAlert& want : expected.files.truth.alerts) {
    const std::string slot_start = EventTime(want.slot_start_ms);
    const std::string what = "alert " + want.station_id + " " + slot_start;
    const auto found = by_key.find({want.station_id, slot_start});
    if (found == by_key.end()) {
      seen->differences.push_back(what + ": missing (vehicles " + std::to_string(want.vehicles) +
                                  " < " + std::to_string(want.min_vehicles) + ")");
      continue;
    }
    const std::vector<const Envelope*> got = found->second;
    by_key.erase(found);
    const json& message = got[0]->message;
    if (got.size() > 1) {
      seen->differences.push_back(what + ": sent " + std::to_string(got.size()) +
                                  " times under different MessageIds");
    } else if (message.value("vehicles", json()) != want.vehicles ||
               message.value("min_vehicles", json()) != want.min_vehicles ||
               Text(message, "slot_end") != EventTime(SlotEnd(want.slot_start_ms))) {
      seen->differences.push_back(what + ": got " + message.dump() + ", expected vehicles " +
                                  std::to_string(want.vehicles) + ", min_vehicles " +
                                  std::to_string(want.min_vehicles));
    } else {
      ++matched;
      if (std::optional<int64_t> put =
              PutBy(expected.puts, SlotEnd(want.slot_start_ms) + kLatenessMs)) {
        seen->alert_latency_ms.push_back(got[0]->timestamp_ms - *put);
      }
    }
  }
  for (const auto& [key, envelopes] : by_key) {
    seen->differences.push_back("alert " + key.first + " " + key.second +
                                ": unexpected: " + envelopes[0]->message.dump());
  }
  seen->Add("alerts",
            std::to_string(matched) + " of " + std::to_string(expected.files.truth.alerts.size()) +
                " expected, " + std::to_string(delivered.by_message_id.size()) + " produced (" +
                std::to_string(delivered.redeliveries) + " redeliveries ignored)",
            before);
}

void CheckSpend(const CheckOptions& options, const Expected& expected, Observation* seen) {
  const size_t before = seen->differences.size();
  const auto& want = expected.files.truth.spend_cents;
  Result<std::map<std::pair<std::string, std::string>, int64_t>> table = options.read_spend();
  if (!table.ok()) {
    seen->differences.push_back("spend: " + table.status().message());
    seen->Add("spend", "cannot read the table", before);
    return;
  }
  size_t matching = 0;
  for (const auto& [key, cents] : want) {
    const auto got = table->find(key);
    const std::string what = "spend " + key.first + "#" + key.second;
    if (got == table->end()) {
      seen->differences.push_back(what + ": missing, expected " + std::to_string(cents) + " cents");
    } else if (got->second != cents) {
      seen->differences.push_back(what + ": " + std::to_string(got->second) + " cents, expected " +
                                  std::to_string(cents));
    } else {
      ++matching;
    }
  }
  for (const auto& [key, cents] : *table) {
    if (want.count(key) == 0) {
      seen->differences.push_back("spend " + key.first + "#" + key.second + ": unexpected row (" +
                                  std::to_string(cents) + " cents)");
    }
  }
  seen->Add("spend",
            std::to_string(matching) + " of " + std::to_string(want.size()) + " rows match (" +
                std::to_string(table->size()) + " in the table)",
            before);
}

bool IsErrorPrefix(const std::string& component) {
  return component == "processing-failed" ||
         (component.size() > 7 && component.compare(component.size() - 7, 7, "-failed") == 0);
}

void CheckLake(const std::string& lake, const Expected& expected, Observation* seen) {
  const size_t before = seen->differences.size();
  std::map<std::string, size_t> ids;
  size_t records = 0;
  size_t failed = 0;
  std::multiset<std::string> failed_raw;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(lake, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) {
      continue;
    }
    const std::filesystem::path relative = it->path().lexically_relative(lake);
    bool hidden = false;
    bool error_object = false;
    bool processing_failed = false;
    for (const std::filesystem::path& part : relative) {
      const std::string component = part.string();
      hidden = hidden || component.front() == '.';
      error_object = error_object || IsErrorPrefix(component);
      processing_failed = processing_failed || component == "processing-failed";
    }
    if (hidden || (error_object && !processing_failed)) {
      continue;
    }
    std::ifstream in(it->path());
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) {
        continue;
      }
      if (processing_failed) {
        ++failed;
        // Only json_transform's verdict on a malformed line belongs here (not a crash, nor a
        // good or test-lane line it refused).
        const json error = json::parse(line, nullptr, /*allow_exceptions=*/false);
        std::string raw;
        if (!error.is_object() || error.value("errorCode", json()) != "Lambda.ProcessingFailed" ||
            !error.value("rawData", json()).is_string() ||
            !Base64Decode(error["rawData"].get<std::string>(), &raw)) {
          raw = line;  // compared below, so it shows as a record that is not a malformed line
        }
        failed_raw.insert(std::move(raw));
        continue;
      }
      ++records;
      const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!record.is_object() || !record.value("transaction_id", json()).is_string()) {
        if (seen->differences.size() - before < kDifferencesShown) {
          seen->differences.push_back(
              "lake " + relative.string() +
              ": not a JSON record with a transaction_id: " + line.substr(0, 120));
        }
        continue;
      }
      ++ids[record["transaction_id"].get<std::string>()];
    }
  }
  if (ec) {
    seen->differences.push_back("lake " + lake + ": " + ec.message());
  }
  size_t missing = 0;
  for (const std::string& id : expected.transaction_ids) {
    missing += ids.count(id) == 0 ? 1 : 0;
  }
  size_t duplicated = 0;
  size_t unexpected = 0;
  for (const auto& [id, count] : ids) {
    duplicated += count > 1 ? count - 1 : 0;
    unexpected += expected.transaction_ids.count(id) == 0 ? 1 : 0;
  }
  const size_t want_records = expected.files.summary.value("lake_records", size_t{0});
  const size_t want_failed = expected.files.summary.value("malformed", size_t{0});
  if (records != want_records || missing + duplicated + unexpected > 0) {
    seen->differences.push_back("lake: " + std::to_string(records) + " records, expected " +
                                std::to_string(want_records) + " (" + std::to_string(missing) +
                                " transaction ids missing, " + std::to_string(duplicated) +
                                " duplicated, " + std::to_string(unexpected) + " unexpected)");
  }
  if (failed != want_failed) {
    seen->differences.push_back("lake: " + std::to_string(failed) +
                                " processing-failed records, expected " +
                                std::to_string(want_failed) + " (the malformed lines)");
  } else if (failed_raw != expected.malformed_lines) {
    std::vector<std::string> stray;
    std::set_difference(failed_raw.begin(), failed_raw.end(), expected.malformed_lines.begin(),
                        expected.malformed_lines.end(), std::back_inserter(stray));
    seen->differences.push_back(
        "lake: " + std::to_string(stray.size()) +
        " processing-failed records are not Lambda.ProcessingFailed of a "
        "malformed line, e.g. " +
        json(stray.front().substr(0, 120)).dump(-1, ' ', false, json::error_handler_t::replace));
  }
  seen->Add("lake",
            std::to_string(records) + " of " + std::to_string(want_records) + " records" +
                (missing + duplicated + unexpected == 0 ? ", transaction ids match" : "") + "; " +
                std::to_string(failed) + " of " + std::to_string(want_failed) +
                " processing-failed",
            before);
}

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};

Result<int64_t> PostgresRowCount(const std::string& conninfo, const std::string& table) {
  std::unique_ptr<PGconn, PgConnCloser> conn(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable(std::string("cannot connect: ") + PQerrorMessage(conn.get()));
  }
  const std::string query = "SELECT count(*) FROM " + table;
  std::unique_ptr<PGresult, PgResultClearer> result(PQexec(conn.get(), query.c_str()));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Internal(query + ": " + PQresultErrorMessage(result.get()));
  }
  return std::stoll(PQgetvalue(result.get(), 0, 0));
}

void CheckPostgres(const CheckOptions& options, const Expected& expected, Observation* seen) {
  const size_t before = seen->differences.size();
  const int64_t want = expected.files.summary.value("lake_records", int64_t{0});
  Result<int64_t> rows = PostgresRowCount(*options.postgres, options.table);
  if (!rows.ok()) {
    seen->differences.push_back("postgres: " + rows.status().message());
    seen->Add("postgres", "cannot count the rows of " + options.table, before);
    return;
  }
  if (*rows != want) {
    seen->differences.push_back("postgres: " + std::to_string(*rows) + " rows in " + options.table +
                                ", expected " + std::to_string(want));
  }
  seen->Add("postgres",
            std::to_string(*rows) + " of " + std::to_string(want) + " rows in " + options.table,
            before);
}

void CheckPipeline(const CheckOptions& options, Observation* seen) {
  const size_t before = seen->differences.size();
  Result<PipelineCounts> counts = options.read_pipeline();
  if (!counts.ok()) {
    seen->differences.push_back("processed: " + counts.status().message());
    seen->Add("processed", "cannot read the host's status", before);
    return;
  }
  std::string processed;
  for (const PipelineCounts::Mapping& mapping : counts->mappings) {
    processed += (processed.empty() ? "" : ", ") + mapping.function + " " +
                 std::to_string(mapping.invoked) + " invoked (" + std::to_string(mapping.dropped) +
                 " dropped)";
    if (mapping.dropped > 0) {
      seen->differences.push_back("processed: " + mapping.function + "'s mapping dropped " +
                                  std::to_string(mapping.dropped) +
                                  " records (late for their window): their tolls are not counted");
    }
  }
  seen->Add("processed", processed.empty() ? "no mappings" : processed, before);
  for (const PipelineCounts::Delivery& delivery : counts->deliveries) {
    seen->Add("delivered",
              delivery.name + ": " + std::to_string(delivery.records_in) + " in, " +
                  std::to_string(delivery.delivered) + " delivered (" +
                  std::to_string(delivery.bytes_delivered / 1024) + " KiB in " +
                  std::to_string(delivery.objects) + " objects), " +
                  std::to_string(delivery.dropped) + " dropped, " +
                  std::to_string(delivery.failed) + " failed",
              seen->differences.size());
  }
}

Observation Observe(const CheckOptions& options, const Expected& expected) {
  Observation seen;
  CheckNotifications(options, expected, &seen);
  CheckAlerts(options, expected, &seen);
  CheckSpend(options, expected, &seen);
  if (options.lake_dir) {
    CheckLake(*options.lake_dir, expected, &seen);
  }
  if (options.postgres) {
    CheckPostgres(options, expected, &seen);
  }
  if (options.read_pipeline) {
    CheckPipeline(options, &seen);
  }
  return seen;
}

std::string Seconds(int64_t ms) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(1);
  text << static_cast<double>(ms) / 1000 << " s";
  return text.str();
}

std::string P50AndMax(std::vector<int64_t> values) {
  if (values.empty()) {
    return "n/a";
  }
  std::sort(values.begin(), values.end());
  return "p50 " + Seconds(values[(values.size() - 1) / 2]) + ", max " + Seconds(values.back());
}

void Report(const Expected& expected, const Observation& seen, std::optional<int64_t> caught_up_ms,
            std::ostream& out) {
  const json& summary = expected.files.summary;
  const TollsOptions& run = expected.files.options;
  out << "sluice gen check: seed " << run.seed << ", " << run.stations << " stations, "
      << run.customers << " customers, " << run.days << (run.days == 1 ? " day" : " days")
      << " from " << summary.value("start", "") << "\n";
  const auto row = [&](const std::string& name, const std::string& detail, const char* verdict) {
    std::string padded = "  " + name;
    padded.resize(std::max<size_t>(padded.size() + 1, 17), ' ');
    out << padded << detail << (verdict[0] ? "  " : "") << verdict << "\n";
  };
  row("records put",
      std::to_string(summary.value("records", 0)) + " to the stream, " +
          std::to_string(summary.value("raw_lines", 0)) + " raw lines (" +
          std::to_string(summary.value("test_lane", 0)) + " test lane, " +
          std::to_string(summary.value("malformed", 0)) + " malformed)",
      "");
  for (const Section& section : seen.sections) {
    row(section.name, section.detail, section.ok() ? "ok" : "DIFFERENT");
  }
  row("latency",
      "notifications " + P50AndMax(seen.notification_latency_ms) + "; alerts " +
          P50AndMax(seen.alert_latency_ms),
      "");
  if (caught_up_ms) {
    row("caught up", Seconds(*caught_up_ms) + " after the check started", "");
    out << "MATCH\n";
    return;
  }
  out << "DIFFERENT: " << seen.differences.size() << " differences; the first of each part:\n";
  for (const Section& section : seen.sections) {
    for (size_t i = section.differences_begin;
         i < section.differences_end && i < section.differences_begin + kDifferencesShown; ++i) {
      out << "  " << seen.differences[i] << "\n";
    }
  }
}

}  // namespace

Result<int> RunTollsCheck(const CheckOptions& options, std::ostream& out) {
  const int64_t started_ms = Clock::Real().UnixMillis();
  Expected expected;
  Result<TruthFiles> files = ReadTruthFiles(options.truth_dir);
  SLUICE_RETURN_IF_ERROR(files.status());
  expected.files = std::move(*files);
  if (options.lake_dir) {
    const TollsPlan plan = GenerateTolls(expected.files.options);
    for (const Passage& record : plan.records) {
      expected.transaction_ids.insert(TransactionId(record.transaction));
    }
    for (const RawLine& line : plan.raw) {
      if (line.malformed) {
        expected.malformed_lines.insert(line.text);
      }
    }
  }
  expected.puts = ReadPuts(options.truth_dir + "/" + kPutsFile);
  // The parts are read one after the other, not at one instant: a notification published just
  // after its file was read, with the spend it came with read later, would pass one look. A
  // match is only reported once it has held for kSettleMs of further looks.
  bool matching = false;
  int64_t matched_at_ms = 0;  // when the current run of matching looks began
  while (true) {
    Observation seen = Observe(options, expected);
    const int64_t now_ms = Clock::Real().UnixMillis();
    if (seen.differences.empty()) {
      if (!matching) {
        matching = true;
        matched_at_ms = now_ms;
      }
      if (now_ms - matched_at_ms >= kSettleMs) {
        Report(expected, seen, matched_at_ms - started_ms, out);
        return 0;
      }
    } else {
      matching = false;
      if (now_ms - started_ms >= options.timeout_ms) {
        Report(expected, seen, std::nullopt, out);
        return 1;
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace sluice::host
