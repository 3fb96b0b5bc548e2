#include "sluice/aws_json.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "sluice/base64.h"

namespace sluice::aws_json {
namespace {

using nlohmann::json;
namespace pb = sluice::runtime::v1;

// Reads a required string field. On failure sets *error to "<where>.<key>: ..." and returns false.
bool GetString(const json& obj, const char* key, const std::string& where, std::string* out,
               std::string* error, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) {
      *error = where + "." + key + ": missing";
      return false;
    }
    out->clear();
    return true;
  }
  if (!it->is_string()) {
    *error = where + "." + key + ": must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool GetBase64(const json& obj, const char* key, const std::string& where, std::string* out,
               std::string* error) {
  std::string text;
  if (!GetString(obj, key, where, &text, error)) {
    return false;
  }
  if (!Base64Decode(text, out)) {
    *error = where + "." + key + ": not valid base64";
    return false;
  }
  return true;
}

// A Unix time given in seconds (Kinesis events: a number with a millisecond fraction) as ms.
bool GetSecondsAsMillis(const json& obj, const char* key, const std::string& where, int64_t* ms,
                        std::string* error) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) {
    *error = where + "." + key + ": must be a number (Unix seconds)";
    return false;
  }
  *ms = static_cast<int64_t>(std::llround(it->get<double>() * 1000.0));
  return true;
}

bool GetMillis(const json& obj, const char* key, const std::string& where, int64_t* ms,
               std::string* error) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) {
    *error = where + "." + key + ": must be a number (Unix milliseconds)";
    return false;
  }
  *ms = it->is_number_integer() ? it->get<int64_t>() : std::llround(it->get<double>());
  return true;
}

// An optional boolean field: false when absent or null.
bool GetOptionalBool(const json& obj, const char* key, const std::string& where, bool* out,
                     std::string* error) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    *out = false;
    return true;
  }
  if (!it->is_boolean()) {
    *error = where + "." + key + ": must be true or false";
    return false;
  }
  *out = it->get<bool>();
  return true;
}

// Parses text that must hold a JSON object no deeper than kMaxJsonDepth; discarded otherwise.
json ParseObject(std::string_view text) {
  if (!JsonDepthWithin(text, kMaxJsonDepth)) {
    return json(json::value_t::discarded);
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return doc.is_object() ? doc : json(json::value_t::discarded);
}

// Serialises without throwing: bytes that are not UTF-8 become U+FFFD.
std::string Dump(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Kinesis's approximateArrivalTimestamp: seconds, with the millisecond fraction.
json SecondsFromMillis(int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

bool KinesisBatchFromJson(const json& doc, pb::KinesisBatch* batch, std::string* error) {
  const json& records = doc["Records"];
  if (!records.is_array()) {
    *error = "Records: must be an array";
    return false;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = "Records[" + std::to_string(i) + "]";
    const json& rec = records[i];
    if (!rec.is_object()) {
      *error = where + ": must be an object";
      return false;
    }
    std::string source;
    if (!GetString(rec, "eventSource", where, &source, error)) {
      return false;
    }
    if (source != "aws:kinesis") {
      *error = where + ".eventSource: expected \"aws:kinesis\", got \"" + source + "\"";
      return false;
    }
    auto kin = rec.find("kinesis");
    if (kin == rec.end() || !kin->is_object()) {
      *error = where + ".kinesis: missing or not an object";
      return false;
    }
    const std::string kwhere = where + ".kinesis";
    pb::KinesisRecord* out = batch->add_records();
    int64_t arrival_ms = 0;
    if (!GetBase64(*kin, "data", kwhere, out->mutable_data(), error) ||
        !GetString(*kin, "partitionKey", kwhere, out->mutable_partition_key(), error) ||
        !GetString(*kin, "sequenceNumber", kwhere, out->mutable_sequence_number(), error) ||
        !GetSecondsAsMillis(*kin, "approximateArrivalTimestamp", kwhere, &arrival_ms, error)) {
      return false;
    }
    out->set_approximate_arrival_timestamp_ms(arrival_ms);

    std::string arn, event_id, region, identity;
    if (!GetString(rec, "eventSourceARN", where, &arn, error) ||
        !GetString(rec, "eventID", where, &event_id, error) ||
        !GetString(rec, "awsRegion", where, &region, error, /*required=*/false) ||
        !GetString(rec, "invokeIdentityArn", where, &identity, error, /*required=*/false)) {
      return false;
    }
    const size_t colon = event_id.find(':');
    if (colon == std::string::npos) {
      *error = where + ".eventID: expected \"<shardId>:<sequenceNumber>\"";
      return false;
    }
    const std::string shard_id = event_id.substr(0, colon);
    if (i == 0) {
      batch->set_event_source_arn(arn);
      batch->set_shard_id(shard_id);
      batch->set_aws_region(region);
      batch->set_invoke_identity_arn(identity);
    } else if (arn != batch->event_source_arn() || shard_id != batch->shard_id()) {
      *error = where +
               ": a batch holds records of one shard, but this record's eventSourceARN "
               "or shard differs from Records[0]'s";
      return false;
    }
  }
  return true;
}

bool WindowBatchFromJson(const json& doc, pb::KinesisWindowBatch* window_batch,
                         std::string* error) {
  if (!KinesisBatchFromJson(doc, window_batch->mutable_batch(), error)) {
    return false;
  }
  const json& window = doc["window"];
  std::string start, end;
  if (!window.is_object() || !GetString(window, "start", "window", &start, error) ||
      !GetString(window, "end", "window", &end, error)) {
    if (error->empty()) {
      *error = "window: must be an object with \"start\" and \"end\"";
    }
    return false;
  }
  int64_t start_ms = 0, end_ms = 0;
  if (!MillisFromIso8601(start, &start_ms) || !MillisFromIso8601(end, &end_ms)) {
    *error = "window: start and end must be ISO-8601 UTC times like 2020-12-09T07:04:00Z";
    return false;
  }
  window_batch->set_window_start_ms(start_ms);
  window_batch->set_window_end_ms(end_ms);
  auto state = doc.find("state");
  if (state == doc.end() || state->is_null()) {
    window_batch->set_state_json("{}");
  } else if (state->is_object()) {
    window_batch->set_state_json(Dump(*state));
  } else {
    *error = "state: must be an object";
    return false;
  }
  // Top-level shardId/eventSourceARN fill an empty batch (a final invoke may carry no records).
  pb::KinesisBatch* batch = window_batch->mutable_batch();
  std::string shard_id, arn;
  if (!GetString(doc, "shardId", "event", &shard_id, error, false) ||
      !GetString(doc, "eventSourceARN", "event", &arn, error, false)) {
    return false;
  }
  if (batch->shard_id().empty()) {
    batch->set_shard_id(shard_id);
  }
  if (batch->event_source_arn().empty()) {
    batch->set_event_source_arn(arn);
  }
  bool is_final = false, terminated_early = false;
  if (!GetOptionalBool(doc, "isFinalInvokeForWindow", "event", &is_final, error) ||
      !GetOptionalBool(doc, "isWindowTerminatedEarly", "event", &terminated_early, error)) {
    return false;
  }
  window_batch->set_is_final_invoke_for_window(is_final);
  window_batch->set_is_window_terminated_early(terminated_early);
  return true;
}

bool FirehoseBatchFromJson(const json& doc, pb::FirehoseTransformBatch* batch, std::string* error) {
  if (!GetString(doc, "invocationId", "event", batch->mutable_invocation_id(), error) ||
      !GetString(doc, "deliveryStreamArn", "event", batch->mutable_delivery_stream_arn(), error) ||
      !GetString(doc, "sourceKinesisStreamArn", "event", batch->mutable_source_kinesis_stream_arn(),
                 error, false) ||
      !GetString(doc, "region", "event", batch->mutable_region(), error, false)) {
    return false;
  }
  const json& records = doc["records"];
  if (!records.is_array()) {
    *error = "records: must be an array";
    return false;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = "records[" + std::to_string(i) + "]";
    const json& rec = records[i];
    if (!rec.is_object()) {
      *error = where + ": must be an object";
      return false;
    }
    pb::FirehoseRecord* out = batch->add_records();
    int64_t arrival_ms = 0;
    if (!GetString(rec, "recordId", where, out->mutable_record_id(), error) ||
        !GetMillis(rec, "approximateArrivalTimestamp", where, &arrival_ms, error) ||
        !GetBase64(rec, "data", where, out->mutable_data(), error)) {
      return false;
    }
    out->set_approximate_arrival_timestamp_ms(arrival_ms);
    auto meta = rec.find("kinesisRecordMetadata");
    if (meta != rec.end() && meta->is_object()) {
      const std::string mwhere = where + ".kinesisRecordMetadata";
      pb::KinesisRecordMetadata* m = out->mutable_kinesis_record_metadata();
      int64_t meta_ms = 0;
      if (!GetString(*meta, "shardId", mwhere, m->mutable_shard_id(), error) ||
          !GetString(*meta, "partitionKey", mwhere, m->mutable_partition_key(), error) ||
          !GetString(*meta, "sequenceNumber", mwhere, m->mutable_sequence_number(), error) ||
          !GetMillis(*meta, "approximateArrivalTimestamp", mwhere, &meta_ms, error)) {
        return false;
      }
      m->set_approximate_arrival_timestamp_ms(meta_ms);
      auto sub = meta->find("subsequenceNumber");
      if (sub != meta->end() && !sub->is_null()) {
        if (!sub->is_number_integer()) {
          *error = mwhere + ".subsequenceNumber: must be an integer";
          return false;
        }
        m->set_subsequence_number(sub->get<int64_t>());
      }
    }
  }
  return true;
}

json KinesisRecordsToJson(const pb::KinesisBatch& batch) {
  json records = json::array();
  for (const pb::KinesisRecord& r : batch.records()) {
    json kinesis = json::object();
    kinesis["kinesisSchemaVersion"] = "1.0";
    kinesis["partitionKey"] = r.partition_key();
    kinesis["sequenceNumber"] = r.sequence_number();
    kinesis["data"] = Base64Encode(r.data());
    kinesis["approximateArrivalTimestamp"] =
        SecondsFromMillis(r.approximate_arrival_timestamp_ms());
    json rec = json::object();
    rec["kinesis"] = std::move(kinesis);
    rec["eventSource"] = "aws:kinesis";
    rec["eventVersion"] = "1.0";
    rec["eventID"] = batch.shard_id() + ":" + r.sequence_number();
    rec["eventName"] = "aws:kinesis:record";
    rec["invokeIdentityArn"] = batch.invoke_identity_arn();
    rec["awsRegion"] = batch.aws_region();
    rec["eventSourceARN"] = batch.event_source_arn();
    records.push_back(std::move(rec));
  }
  return records;
}

json ItemFailuresToJson(const google::protobuf::RepeatedPtrField<pb::BatchItemFailure>& failures) {
  json out = json::array();
  for (const pb::BatchItemFailure& f : failures) {
    out.push_back({{"itemIdentifier", f.item_identifier()}});
  }
  return out;
}

bool ItemFailuresFromJson(const json& doc,
                          google::protobuf::RepeatedPtrField<pb::BatchItemFailure>* failures,
                          std::string* error) {
  auto it = doc.find("batchItemFailures");
  if (it == doc.end() || it->is_null()) {
    return true;
  }
  if (!it->is_array()) {
    *error = "batchItemFailures: must be an array";
    return false;
  }
  for (const json& item : *it) {
    // Lambda fails the whole batch for a null, empty or unknown identifier; we keep such an item
    // with an empty or non-matching identifier so the caller (which knows the batch) decides.
    pb::BatchItemFailure* f = failures->Add();
    if (!item.is_object()) {
      continue;
    }
    auto id = item.find("itemIdentifier");
    if (id == item.end() || id->is_null()) {
      continue;
    }
    f->set_item_identifier(id->is_string() ? id->get<std::string>() : Dump(*id));
  }
  return true;
}

}  // namespace

bool EventFromJson(std::string_view text, pb::Invoke* invoke, std::string* error) {
  error->clear();
  if (!JsonDepthWithin(text, kMaxJsonDepth)) {
    *error = "the event nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    *error = "the event is not valid JSON";
    return false;
  }
  if (!doc.is_object()) {
    *error = "the event must be a JSON object";
    return false;
  }
  if (doc.contains("Records")) {
    if (doc.contains("window")) {
      return WindowBatchFromJson(doc, invoke->mutable_kinesis_window(), error);
    }
    return KinesisBatchFromJson(doc, invoke->mutable_kinesis(), error);
  }
  if (doc.contains("records")) {
    return FirehoseBatchFromJson(doc, invoke->mutable_firehose(), error);
  }
  *error =
      "unrecognised event: expected a Kinesis event (\"Records\") or a Firehose transform "
      "event (\"records\")";
  return false;
}

std::string EventToJson(const pb::Invoke& invoke) {
  json doc = json::object();
  switch (invoke.event_case()) {
    case pb::Invoke::kKinesis: doc["Records"] = KinesisRecordsToJson(invoke.kinesis()); break;
    case pb::Invoke::kKinesisWindow: {
      const pb::KinesisWindowBatch& w = invoke.kinesis_window();
      doc["Records"] = KinesisRecordsToJson(w.batch());
      doc["window"] = {{"start", Iso8601FromMillis(w.window_start_ms())},
                       {"end", Iso8601FromMillis(w.window_end_ms())}};
      json state = ParseObject(w.state_json());
      doc["state"] = state.is_discarded() ? json::object() : state;
      doc["shardId"] = w.batch().shard_id();
      doc["eventSourceARN"] = w.batch().event_source_arn();
      doc["isFinalInvokeForWindow"] = w.is_final_invoke_for_window();
      doc["isWindowTerminatedEarly"] = w.is_window_terminated_early();
      break;
    }
    case pb::Invoke::kFirehose: {
      const pb::FirehoseTransformBatch& b = invoke.firehose();
      doc["invocationId"] = b.invocation_id();
      doc["deliveryStreamArn"] = b.delivery_stream_arn();
      if (!b.source_kinesis_stream_arn().empty()) {
        doc["sourceKinesisStreamArn"] = b.source_kinesis_stream_arn();
      }
      doc["region"] = b.region();
      json records = json::array();
      for (const pb::FirehoseRecord& r : b.records()) {
        json rec = {{"recordId", r.record_id()},
                    {"approximateArrivalTimestamp", r.approximate_arrival_timestamp_ms()},
                    {"data", Base64Encode(r.data())}};
        if (r.has_kinesis_record_metadata()) {
          const pb::KinesisRecordMetadata& m = r.kinesis_record_metadata();
          rec["kinesisRecordMetadata"] = {
              {"shardId", m.shard_id()},
              {"partitionKey", m.partition_key()},
              {"approximateArrivalTimestamp", m.approximate_arrival_timestamp_ms()},
              {"sequenceNumber", m.sequence_number()},
              {"subsequenceNumber", m.subsequence_number()}};
        }
        records.push_back(std::move(rec));
      }
      doc["records"] = std::move(records);
      break;
    }
    case pb::Invoke::EVENT_NOT_SET: break;
  }
  return Dump(doc);
}

std::string ResponseToJson(const pb::InvokeResponse& response) {
  json doc = json::object();
  switch (response.outcome_case()) {
    case pb::InvokeResponse::kKinesis:
      doc["batchItemFailures"] = ItemFailuresToJson(response.kinesis().batch_item_failures());
      break;
    case pb::InvokeResponse::kKinesisWindow: {
      json state = ParseObject(response.kinesis_window().state_json());
      doc["state"] = state.is_discarded() ? json::object() : state;
      doc["batchItemFailures"] =
          ItemFailuresToJson(response.kinesis_window().batch_item_failures());
      break;
    }
    case pb::InvokeResponse::kFirehose: {
      json records = json::array();
      for (const pb::FirehoseRecordResult& r : response.firehose().records()) {
        const char* result = r.result() == pb::FirehoseRecordResult::OK        ? "Ok"
                             : r.result() == pb::FirehoseRecordResult::DROPPED ? "Dropped"
                                                                               : "ProcessingFailed";
        json rec = {
            {"recordId", r.record_id()}, {"result", result}, {"data", Base64Encode(r.data())}};
        if (!r.partition_keys().empty()) {
          json keys = json::object();
          for (const auto& [k, v] : r.partition_keys()) {
            keys[k] = v;
          }
          rec["metadata"] = {{"partitionKeys", keys}};
        }
        if (!r.error_message().empty()) {
          rec["errorMessage"] = r.error_message();
        }
        records.push_back(std::move(rec));
      }
      doc["records"] = std::move(records);
      break;
    }
    case pb::InvokeResponse::kError: {
      const pb::FunctionError& e = response.error();
      doc["errorType"] = e.error_type();
      doc["errorMessage"] = e.error_message();
      if (e.stack_trace_size() > 0) {
        json trace = json::array();
        for (const std::string& frame : e.stack_trace()) {
          trace.push_back(frame);
        }
        doc["stackTrace"] = std::move(trace);
      }
      break;
    }
    case pb::InvokeResponse::OUTCOME_NOT_SET: break;
  }
  return Dump(doc);
}

bool ResponseFromJson(std::string_view text, pb::Invoke::EventCase event_kind,
                      pb::InvokeResponse* response, std::string* error) {
  error->clear();
  json doc;
  if (text.empty()) {
    doc = nullptr;
  } else {
    if (!JsonDepthWithin(text, kMaxJsonDepth)) {
      *error = "the response nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      *error = "the response is not valid JSON";
      return false;
    }
  }
  // Lambda counts null, "", [] and {} as full success for a stream batch.
  const bool empty = doc.is_null() || (doc.is_string() && doc.get<std::string>().empty()) ||
                     (doc.is_array() && doc.empty());
  if (!empty && !doc.is_object()) {
    *error = "the response must be a JSON object";
    return false;
  }
  if (empty) {
    doc = json::object();
  }
  switch (event_kind) {
    case pb::Invoke::kKinesis:
      return ItemFailuresFromJson(doc, response->mutable_kinesis()->mutable_batch_item_failures(),
                                  error);
    case pb::Invoke::kKinesisWindow: {
      auto state = doc.find("state");
      if (state == doc.end() || !state->is_object()) {
        *error = "state: a tumbling-window response must carry a \"state\" object";
        return false;
      }
      response->mutable_kinesis_window()->set_state_json(Dump(*state));
      return ItemFailuresFromJson(
          doc, response->mutable_kinesis_window()->mutable_batch_item_failures(), error);
    }
    case pb::Invoke::kFirehose: {
      const json& records = doc["records"];
      if (!records.is_array()) {
        *error = "records: must be an array";
        return false;
      }
      pb::FirehoseTransformResponse* out = response->mutable_firehose();
      for (size_t i = 0; i < records.size(); ++i) {
        const std::string where = "records[" + std::to_string(i) + "]";
        const json& rec = records[i];
        if (!rec.is_object()) {
          *error = where + ": must be an object";
          return false;
        }
        pb::FirehoseRecordResult* r = out->add_records();
        std::string result;
        if (!GetString(rec, "recordId", where, r->mutable_record_id(), error) ||
            !GetString(rec, "result", where, &result, error)) {
          return false;
        }
        if (result == "Ok") {
          r->set_result(pb::FirehoseRecordResult::OK);
        } else if (result == "Dropped") {
          r->set_result(pb::FirehoseRecordResult::DROPPED);
        } else if (result == "ProcessingFailed") {
          r->set_result(pb::FirehoseRecordResult::PROCESSING_FAILED);
        } else {
          *error =
              where + ".result: must be Ok, Dropped or ProcessingFailed, got \"" + result + "\"";
          return false;
        }
        if (result != "Dropped" && !GetBase64(rec, "data", where, r->mutable_data(), error)) {
          return false;
        }
        if (result == "ProcessingFailed" &&
            !GetString(rec, "errorMessage", where, r->mutable_error_message(), error,
                       /*required=*/false)) {
          return false;
        }
        auto meta = rec.find("metadata");
        if (meta != rec.end() && meta->is_object()) {
          auto keys = meta->find("partitionKeys");
          if (keys != meta->end() && keys->is_object()) {
            for (const auto& [k, v] : keys->items()) {
              (*r->mutable_partition_keys())[k] = v.is_string() ? v.get<std::string>() : Dump(v);
            }
          }
        }
      }
      return true;
    }
    case pb::Invoke::EVENT_NOT_SET: break;
  }
  *error = "the invoke carries no event";
  return false;
}

std::string Iso8601FromMillis(int64_t unix_ms) {
  const time_t secs = static_cast<time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  const int64_t frac = unix_ms - static_cast<int64_t>(secs) * 1000;
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];
  if (frac == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac));
  }
  return buf;
}

bool MillisFromIso8601(std::string_view text, int64_t* unix_ms) {
  int year, mon, day, hour, min, sec, consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec,
                  &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  int millis = 0;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    int digits = 0;
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (s[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return false;
    }
    for (int d = digits; d < 3; ++d) {
      millis *= 10;
    }
  }
  if (pos + 1 != s.size() || s[pos] != 'Z' || mon < 1 || mon > 12 || day < 1 || day > 31 ||
      hour > 23 || min > 59 || sec > 60) {
    return false;
  }
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  *unix_ms = static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
  return true;
}

bool JsonDepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return false;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace sluice::aws_json
