// upper_transform: a Firehose data-transformation function. Upper-cases each record and adds a
// newline; drops empty records; marks records that are not printable text as ProcessingFailed.
#include <cctype>
#include <string>

#include "sluice/function.h"

sluice::TransformResponse Handle(const sluice::TransformBatch& batch, sluice::Context& ctx) {
  sluice::TransformResponse response;
  for (const sluice::FirehoseRecord& record : batch.records()) {
    const std::string& data = record.data();
    if (data.empty()) {
      response.Dropped(record.record_id());
      continue;
    }
    std::string upper;
    upper.reserve(data.size() + 1);
    bool printable = true;
    for (unsigned char c : data) {
      printable = printable && (std::isprint(c) || c == '\n' || c == '\t');
      upper.push_back(static_cast<char>(std::toupper(c)));
    }
    if (!printable) {
      response.ProcessingFailed(record.record_id(), data);
      continue;
    }
    if (upper.back() != '\n') {
      upper.push_back('\n');
    }
    response.Ok(record.record_id(), std::move(upper));
  }
  ctx.Log("transformed " + std::to_string(batch.records().size()) + " records");
  return response;
}

int main() {
  return sluice::Run(Handle);
}
