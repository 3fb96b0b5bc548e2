// A test function that runs the host-service commands its records carry, record by record
// (sluice::RunPerRecord), so integration tests can script what an invoke stages.
//
// Each record's data is one JSON command:
//   {"put": [table, key, value_json]}           {"get": [table, key]}  (logs "get T/K = V|null")
//   {"delete": [table, key]}                    {"add": [table, key, attribute, number]}
//   {"put_if_absent": [table, key, value_json]} {"query": [table, prefix]} (logs the keys)
//   {"expect": [table, key, value_json|null]}   fails the record unless the item is that value
//   {"publish": [topic, subject, message]}      (logs "published <MessageId>")
//   {"fail": "message"}                         fails the record
//   {"sleep_ms": N}                             {"crash": true}  (aborts the process)
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

void RunCommand(const sluice::KinesisRecord& record, sluice::Context& ctx) {
  const json command = json::parse(record.data());
  if (command.contains("put")) {
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
  } else {
    throw std::runtime_error("unknown command " + command.dump());
  }
}

}  // namespace

int main() {
  return sluice::RunPerRecord(RunCommand);
}
