// A test Firehose transform that answers every record with the value of its ECHO environment
// variable, so a test can tell which deployed config (or code) served an invoke.
#include <cstdlib>
#include <string>

#include "sluice/function.h"

sluice::TransformResponse Handle(const sluice::TransformBatch& batch, sluice::Context& ctx) {
  const char* echo = std::getenv("ECHO");
  sluice::TransformResponse response;
  for (const sluice::FirehoseRecord& record : batch.records()) {
    response.Ok(record.record_id(), echo != nullptr ? echo : "");
  }
  ctx.Log(std::string("echoed ") + (echo != nullptr ? echo : "nothing"));
  return response;
}

int main() {
  return sluice::Run(Handle);
}
