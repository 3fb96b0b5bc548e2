// A test function for stream batches: the poller integration tests script failures by record
// content and observe exactly what each invoke got.
//
// Every invoke first logs one line "BATCH <json>" (tagged with the request id by the host):
//   {"shard": "shardId-...",
//    "records": [{"seq": "...", "key": "...", "data": "...", "bytes": N}, ...],
//    // window batches only:
//    "windowStart": ms, "windowEnd": ms, "state": {...},
//    "isFinalInvokeForWindow": bool, "isWindowTerminatedEarly": bool}
// "data" is the record's data, cut to its first 64 bytes (followed by "...") when longer; "bytes"
// is its full size. In "state", a "big" member (see big-state) is logged as its length.
//
// Then, record by record in order, with the record set as the effects' record
// (Context::SetCurrentRecord), it adds 1 to attribute "n" of item <partition key> of table
// "counts" (so tests see which records' effects committed, and how often), and runs the record's
// command: the data up to the first space, or, when the data is a JSON object, its "cmd" member
// ("" when absent). Commands:
//   fail                  throw (a function error); the records after it are not looked at
//   fail-while:NAME       throw while item NAME exists in table "switches" (the test sets it)
//   timeout               sleep past the function's Timeout (the host kills the instance)
//   crash                 abort the process
//   sleep:MS              sleep MS milliseconds, then go on
//   partial               report this record as a batch item failure
//   partial-while:NAME    report this record as a batch item failure while switch NAME exists
//   bad-id                report a batch item failure with an empty identifier
//   unknown-id            report a batch item failure with an identifier of no record ("1")
//   no-state              (window batch) answer without a state
//   big-state             (window batch) add a "big" member of over 1 MiB to the state
//   anything else         nothing more (the record succeeds)
// Window batches answer with the incoming state in which "keys"."<partition key>" counts the
// window's records per key (unless a record said no-state); the final invoke of a window has no
// records and answers with the state it got.
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "sluice/function.h"

namespace {

using nlohmann::json;

constexpr size_t kLoggedDataBytes = 64;
constexpr size_t kBigStateBytes = (1u << 20) + 1024;

std::string CommandOf(const std::string& data) {
  const json parsed = json::parse(data, nullptr, false);
  if (parsed.is_object()) {
    const auto cmd = parsed.find("cmd");
    return cmd != parsed.end() && cmd->is_string() ? cmd->get<std::string>() : "";
  }
  return data.substr(0, data.find(' '));
}

// The argument of "name:ARG" commands, or nullopt when `command` is not `name`.
std::optional<std::string> ArgumentOf(const std::string& command, const std::string& name) {
  if (command.rfind(name + ":", 0) != 0) {
    return std::nullopt;
  }
  return command.substr(name.size() + 1);
}

json LoggedState(const std::string& state_json) {
  json state = json::parse(state_json, nullptr, false);
  if (state.is_object() && state.contains("big") && state["big"].is_string()) {
    state["big"] = state["big"].get<std::string>().size();
  }
  return state;
}

void LogBatch(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  json line = {{"shard", batch.shard_id()}, {"records", json::array()}};
  for (const sluice::KinesisRecord& record : batch.records()) {
    const std::string& data = record.data();
    line["records"].push_back(
        {{"seq", record.sequence_number()},
         {"key", record.partition_key()},
         {"data",
          data.size() <= kLoggedDataBytes ? data : data.substr(0, kLoggedDataBytes) + "..."},
         {"bytes", data.size()}});
  }
  if (batch.has_window()) {
    line["windowStart"] = batch.window_start_ms();
    line["windowEnd"] = batch.window_end_ms();
    line["state"] = LoggedState(batch.state_json());
    line["isFinalInvokeForWindow"] = batch.is_final_invoke_for_window();
    line["isWindowTerminatedEarly"] = batch.is_window_terminated_early();
  }
  ctx.Log("BATCH " + line.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool SwitchOn(sluice::Context& ctx, const std::string& name) {
  return ctx.kv().Get("switches", name).has_value();
}

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  LogBatch(batch, ctx);
  sluice::StreamResponse response;
  json state = batch.has_window() ? json::parse(batch.state_json()) : json::object();
  bool answer_state = batch.has_window();
  for (const sluice::KinesisRecord& record : batch.records()) {
    const std::string& seq = record.sequence_number();
    const std::string& key = record.partition_key();
    ctx.SetCurrentRecord(seq);
    ctx.kv().Update("counts", key, {sluice::kv::Add("n", "1")});
    if (batch.has_window()) {
      json& keys = state["keys"];
      if (!keys.is_object()) {
        keys = json::object();
      }
      keys[key] = keys.value(key, 0) + 1;
    }
    const std::string command = CommandOf(record.data());
    if (command == "fail") {
      throw std::runtime_error("fail: record " + seq);
    } else if (const auto name = ArgumentOf(command, "fail-while"); name && SwitchOn(ctx, *name)) {
      throw std::runtime_error("switch " + *name + " is on: record " + seq);
    } else if (command == "timeout") {
      std::this_thread::sleep_for(ctx.RemainingTime() + std::chrono::seconds(10));
    } else if (command == "crash") {
      std::abort();
    } else if (const auto ms = ArgumentOf(command, "sleep")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stol(*ms)));
    } else if (command == "partial") {
      response.AddItemFailure(seq);
    } else if (const auto gate = ArgumentOf(command, "partial-while");
               gate && SwitchOn(ctx, *gate)) {
      response.AddItemFailure(seq);
    } else if (command == "bad-id") {
      response.AddItemFailure("");
    } else if (command == "unknown-id") {
      response.AddItemFailure("1");
    } else if (command == "no-state") {
      answer_state = false;
    } else if (command == "big-state") {
      state["big"] = std::string(kBigStateBytes, 'x');
    }
  }
  if (answer_state) {
    response.SetState(state.dump());
  }
  return response;
}

}  // namespace

int main() {
  return sluice::Run(Handle);
}
