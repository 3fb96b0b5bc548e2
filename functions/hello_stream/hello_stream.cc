// hello_stream: the smallest useful stream function. Logs each record and reports as failed any
// record whose data is empty (so ReportBatchItemFailures has something to show).
#include <string>

#include "sluice/function.h"

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  sluice::StreamResponse response;
  for (const sluice::KinesisRecord& record : batch.records()) {
    if (record.data().empty()) {
      response.AddItemFailure(record.sequence_number());
      continue;
    }
    ctx.Log("partition key " + record.partition_key() + ": " + record.data());
  }
  ctx.Log("processed " + std::to_string(batch.records().size()) + " records from " +
          batch.shard_id());
  return response;
}

int main() {
  return sluice::Run(Handle);
}
