// ShardStats: what one shard poller has done, for `sluice status` and /metrics (Lambda's ESM
// metrics, per mapping and shard). Counters count records unless named otherwise.
//
// Thread-safety: every field is atomic; the poller writes, anyone reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "base/metrics.h"

namespace sluice::poller {

class ShardStats {
 public:
  // Registers the shard's series in the process-wide registry (labels mapping, function, stream,
  // shard).
  ShardStats(const std::string& mapping_uuid, const std::string& function,
             const std::string& stream, const std::string& shard_id);

  Counter& polled;                // PolledEventCount: records read from the shard
  Counter& invoked;               // InvokedEventCount: records sent to the function (each attempt)
  Counter& filtered;              // FilteredOutEventCount
  Counter& failed;                // FailedInvokeEventCount: records of attempts that failed
  Counter& dropped;               // DroppedEventCount: discarded (retries exhausted, too old, late)
  Counter& sent_to_destination;   // OnFailureDestinationDeliveredEventCount
  Counter& destination_failures;  // discards whose destination could not be written (batches)
  Counter& retries;               // batches retried after a function error
  Counter& bisections;            // batches split in two
  Counter& throttles;             // attempts refused before reaching the function (batches)
  Gauge& iterator_age_ms;         // IteratorAge of the last batch invoked

  // The checkpoint as last committed ("" none; "SHARD_END").
  void set_position(std::string sequence_number);
  std::string position() const;
  std::atomic<int64_t> last_invoke_unix_ms{0};
  std::atomic<bool> finished{false};  // the shard was read to its end and checkpointed

 private:
  explicit ShardStats(const MetricLabels& labels);

  mutable std::mutex mu_;
  std::string position_;
};

}  // namespace sluice::poller
