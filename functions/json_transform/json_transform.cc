// json_transform: a Firehose data-transformation function for the ABC Tolls raw feed. Turns each
// toll booth CSV line into a JSON line (toll_line.h), drops test-lane passages, and marks
// malformed lines ProcessingFailed with the reason, which the error record's errorMessage
// carries.
#include <cstdint>
#include <string>

#include "sluice/function.h"
#include "toll_line.h"

sluice::TransformResponse Handle(const sluice::TransformBatch& batch, sluice::Context& ctx) {
  sluice::TransformResponse response;
  int64_t transactions = 0;
  int64_t test_lane = 0;
  int64_t malformed = 0;
  for (const sluice::FirehoseRecord& record : batch.records()) {
    std::string out;
    switch (json_transform::TransformTollLine(record.data(), &out)) {
      case json_transform::TollLineVerdict::kTransaction:
        response.Ok(record.record_id(), std::move(out));
        ++transactions;
        break;
      case json_transform::TollLineVerdict::kTestLane:
        response.Dropped(record.record_id());
        ++test_lane;
        break;
      case json_transform::TollLineVerdict::kMalformed:
        response.ProcessingFailed(record.record_id(), {}, std::move(out));
        ++malformed;
        break;
    }
  }
  ctx.Log(std::to_string(transactions) + " transactions, " + std::to_string(test_lane) +
          " test-lane, " + std::to_string(malformed) + " malformed");
  return response;
}

int main() {
  return sluice::Run(Handle);
}
