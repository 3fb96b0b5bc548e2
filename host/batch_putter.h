// BatchPutter: sends records read by a CLI verb (`sluice put`, `sluice delivery put`) in batch
// calls of the host's Kinesis or Firehose API, retrying the records the API reports failed; and
// ForEachInputLine, which feeds it one line at a time.
//
// Not thread-safe: one per verb.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "host/aws_json_client.h"

namespace sluice::host {

// An API's batch put: its operation, members and limits.
struct BatchPutApi {
  std::string operation;       // "PutRecords"
  std::string name_member;     // "StreamName"
  std::string results_member;  // "Records": per-record results, {"ErrorCode", ...} on failure
  size_t max_records = 500;
  size_t max_bytes = 0;  // data and partition keys of one batch
};

// Kinesis PutRecords (records with partition keys) and Firehose PutRecordBatch (without).
BatchPutApi KinesisPutRecords();
BatchPutApi FirehosePutRecordBatch();

class BatchPutter {
 public:
  // `verb` prefixes messages ("sluice <verb>: line 3: ..."); `name` is the stream's.
  BatchPutter(AwsJsonClient& client, BatchPutApi api, std::string verb, std::string name)
      : client_(client), api_(std::move(api)), verb_(std::move(verb)), name_(std::move(name)) {}

  // Queues a record (line numbers are for messages; an empty partition key sends none); sends
  // when the batch is full.
  Status Add(size_t line, std::string partition_key, std::string data);

  // Sends the queued records, retrying the ones the API reports failed. An error status only
  // when the host cannot be reached (Unavailable, after the attempts set below) or a call failed
  // after it was sent (Unknown: the records may or may not be stored); records that still fail
  // are reported on stderr and counted in failed().
  Status Flush();

  // Calls that cannot reach the host are tried `attempts` times in all, with backoff (default 1).
  void set_unreachable_attempts(int attempts) { unreachable_attempts_ = attempts; }

  size_t stored() const { return stored_; }
  size_t failed() const { return failed_; }

 private:
  struct Pending {
    size_t line;
    std::string partition_key;
    std::string data;
  };
  AwsJsonClient& client_;
  const BatchPutApi api_;
  const std::string verb_;
  const std::string name_;
  std::vector<Pending> batch_;
  size_t bytes_ = 0;
  size_t stored_ = 0;
  size_t failed_ = 0;
  int unreachable_attempts_ = 1;
};

// Reads `fd` to its end and calls on_line(line_number, line) for each non-empty line (without
// its "\n" or "\r\n"), and flush() whenever the input pauses and at the end, so a slow
// producer's records go out promptly. Stops at the first error either returns.
Status ForEachInputLine(int fd, const std::function<Status(size_t, std::string)>& on_line,
                        const std::function<Status()>& flush);

}  // namespace sluice::host
