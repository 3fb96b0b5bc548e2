// A test function that runs the host-service commands its records carry, record by record
// (sluice::RunPerRecord), so integration tests can script what an invoke stages.
//
// Each record's data is one JSON command, or an array of them run in order:
//   {"put": [table, key, value_json]}           {"get": [table, key]}  (logs "get T/K = V|null")
//   {"delete": [table, key]}                    {"add": [table, key, attribute, number]}
//   {"put_if_absent": [table, key, value_json]} {"query": [table, prefix]} (logs the keys)
//   {"cas_add": [table, key, attribute, number]}  adds on the condition that the attribute is
//                                                still what this call read (absent: NotExists),
//                                                reading again while the call itself fails
//   {"expect": [table, key, value_json|null]}   fails the record unless the item is that value
//   {"publish": [topic, subject, message]}      (logs "published <MessageId>")
//   {"fail": "message"}                         fails the record
//   {"sleep_ms": N}                             {"crash": true}  (aborts the process)
//   {"log": "text"}                             {"wait_for": [table, key]} (until it is committed)
// A failed record is reported as the batch's item failure (ReportBatchItemFailures).
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "sluice/function.h"

namespace {

using nlohmann::json;

std::string Arg(const json& args, size_t i) {
  const json& v = args.at(i);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void RunCommand(const json& command, sluice::Context& ctx) {
  if (command.is_array()) {
    for (const json& each : command) {
      RunCommand(each, ctx);
    }
  } else if (command.contains("put")) {
    const json& a = command["put"];
    ctx.kv().Put(Arg(a, 0), Arg(a, 1), Arg(a, 2));
  } else if (command.contains("put_if_absent")) {
    const json& a = command["put_if_absent"];
    ctx.kv().Put(Arg(a, 0), Arg(a, 1), Arg(a, 2), {sluice::kv::NotExists()});
  } else if (command.contains("get")) {
    const json& a = command["get"];
    const auto value = ctx.kv().Get(Arg(a, 0), Arg(a, 1));
    ctx.Log("get " + Arg(a, 0) + "/" + Arg(a, 1) + " = " + value.value_or("null"));
  } else if (command.contains("expect")) {
    const json& a = command["expect"];
    const auto value = ctx.kv().Get(Arg(a, 0), Arg(a, 1));
    const std::string want = a.at(2).is_null() ? "null" : a.at(2).dump();
    const std::string got = value ? json::parse(*value).dump() : "null";
    if (got != want) {
      throw std::runtime_error("expected " + want + ", got " + got);
    }
  } else if (command.contains("delete")) {
    const json& a = command["delete"];
    ctx.kv().Delete(Arg(a, 0), Arg(a, 1));
  } else if (command.contains("add")) {
    const json& a = command["add"];
    const std::string item =
        ctx.kv().Update(Arg(a, 0), Arg(a, 1), {sluice::kv::Add(Arg(a, 2), Arg(a, 3))});
    ctx.Log("add " + Arg(a, 0) + "/" + Arg(a, 1) + " = " + item);
  } else if (command.contains("cas_add")) {
    const json& a = command["cas_add"];
    for (;;) {  // a condition already broken at the call: read again (only a commit can fail now)
      const auto before = ctx.kv().Get(Arg(a, 0), Arg(a, 1));
      const sluice::kv::Condition unchanged =
          before ? sluice::kv::Compare(Arg(a, 2), sluice::kv::Condition::EQ,
                                       json::parse(*before).at(Arg(a, 2)).dump())
                 : sluice::kv::NotExists();
      try {
        ctx.kv().Update(Arg(a, 0), Arg(a, 1), {sluice::kv::Add(Arg(a, 2), Arg(a, 3))}, {unchanged});
        break;
      } catch (const sluice::ConditionalCheckFailed&) {
      }
    }
  } else if (command.contains("query")) {
    const json& a = command["query"];
    std::string keys;
    for (const sluice::kv::Item& item : ctx.kv().Query(Arg(a, 0), Arg(a, 1)).items) {
      keys += (keys.empty() ? "" : ",") + item.key;
    }
    ctx.Log("query " + Arg(a, 0) + "/" + Arg(a, 1) + " = [" + keys + "]");
  } else if (command.contains("publish")) {
    const json& a = command["publish"];
    ctx.Log("published " + ctx.Publish(Arg(a, 0), Arg(a, 1), Arg(a, 2)));
  } else if (command.contains("fail")) {
    throw std::runtime_error(command["fail"].get<std::string>());
  } else if (command.contains("sleep_ms")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(command["sleep_ms"].get<int>()));
  } else if (command.contains("crash")) {
    std::abort();
  } else if (command.contains("log")) {
    ctx.Log(command["log"].get<std::string>());
  } else if (command.contains("wait_for")) {
    const json& a = command["wait_for"];
    while (!ctx.kv().Get(Arg(a, 0), Arg(a, 1))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } else {
    throw std::runtime_error("unknown command " + command.dump());
  }
}

void RunRecord(const sluice::KinesisRecord& record, sluice::Context& ctx) {
  RunCommand(json::parse(record.data()), ctx);
}

}  // namespace

int main() {
  return sluice::RunPerRecord(RunRecord);
}
