// The delivery benchmark's Firehose transform: every record Ok with its data unchanged, so what
// the benchmark measures is the cost of transforming at all (the invoke, the event and the
// response), not of any work the function does.
#include "sluice/function.h"

int main() {
  return sluice::Run([](const sluice::TransformBatch& batch, sluice::Context&) {
    sluice::TransformResponse response;
    for (const sluice::FirehoseRecord& record : batch.records()) {
      response.Ok(record.record_id(), record.data());
    }
    return response;
  });
}
