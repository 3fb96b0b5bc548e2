// A test Firehose transform whose records say what it should do with them. Each invoke logs one
// line "CHUNK <n> <first record id>" (tagged with the request id by the host), so tests can count
// invokes and see chunk sizes. Then per record, by its data up to the first space:
//   drop          Dropped
//   fail          ProcessingFailed
//   fail-with     ProcessingFailed with the rest of the data (after the space) as the reason
//   error         throw (a function error for the whole invoke)
//   error-times:N throw the first N times this instance sees the record, then go on (an
//                 instance survives a function error, as Lambda's does)
//   timeout       sleep past the Timeout (the host kills the instance)
//   crash         abort the process
//   skip-id       leave this record out of the response (Lambda.MissingRecordId)
//   twice         answer this record twice (Lambda.DuplicatedRecordId)
//   stranger      answer an id that was not sent instead of this record's
//   invalid       answer with no result (Runtime.InvalidResponse)
//   anything else Ok with the data upper-cased and a '\n' appended
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "sluice/function.h"

namespace {

// How often this instance has seen each record's data (for error-times).
std::map<std::string, int> seen;

}  // namespace

sluice::TransformResponse Handle(const sluice::TransformBatch& batch, sluice::Context& ctx) {
  ctx.Log("CHUNK " + std::to_string(batch.records().size()) + " " +
          (batch.records().empty() ? std::string() : batch.records().Get(0).record_id()));
  sluice::TransformResponse response;
  for (const sluice::FirehoseRecord& record : batch.records()) {
    const std::string& data = record.data();
    const std::string command = data.substr(0, data.find(' '));
    if (command == "drop") {
      response.Dropped(record.record_id());
    } else if (command == "fail") {
      response.ProcessingFailed(record.record_id());
    } else if (command == "fail-with") {
      response.ProcessingFailed(record.record_id(), data, data.substr(command.size() + 1));
    } else if (command == "error") {
      throw sluice::FunctionError("ProbeError", "the record said error");
    } else if (command.rfind("error-times:", 0) == 0 &&
               ++seen[data] <= std::stoi(command.substr(12))) {
      throw sluice::FunctionError("ProbeError", "failing " + command.substr(12) + " times");
    } else if (command == "timeout") {
      std::this_thread::sleep_for(std::chrono::hours(1));
    } else if (command == "crash") {
      std::abort();
    } else if (command == "skip-id") {
      continue;
    } else if (command == "twice") {
      response.Ok(record.record_id(), data);
      response.Ok(record.record_id(), data);
    } else if (command == "stranger") {
      response.Ok("no-such-record", data);
    } else if (command == "invalid") {
      response.proto().add_records()->set_record_id(record.record_id());
    } else {
      std::string upper;
      for (unsigned char c : data) {
        upper.push_back(static_cast<char>(std::toupper(c)));
      }
      response.Ok(record.record_id(), upper + "\n");
    }
  }
  return response;
}

int main() {
  return sluice::Run(Handle);
}
