#include "poller/shard_stats.h"

namespace sluice::poller {
namespace {

Counter& ShardCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels) {
  return MetricsRegistry::Global().GetCounter(name, help, labels);
}

}  // namespace

ShardStats::ShardStats(const std::string& mapping_uuid, const std::string& function,
                       const std::string& stream, const std::string& shard_id)
    : ShardStats(MetricLabels{{"mapping", mapping_uuid},
                              {"function", function},
                              {"stream", stream},
                              {"shard", shard_id}}) {}

ShardStats::ShardStats(const MetricLabels& labels)
    : polled(ShardCounter("sluice_mapping_polled_records_total",
                          "Records an event source mapping read from a shard.", labels)),
      invoked(ShardCounter("sluice_mapping_invoked_records_total",
                           "Records sent to the function (every attempt counts).", labels)),
      filtered(ShardCounter("sluice_mapping_filtered_records_total",
                            "Records consumed without an invoke because no filter matched.",
                            labels)),
      failed(ShardCounter("sluice_mapping_failed_records_total",
                          "Records of attempts that failed (function error or failed commit).",
                          labels)),
      dropped(ShardCounter("sluice_mapping_dropped_records_total",
                           "Records discarded: retries exhausted, too old, or late for their "
                           "event-time window.",
                           labels)),
      sent_to_destination(ShardCounter("sluice_mapping_on_failure_delivered_records_total",
                                       "Discarded records delivered to the on-failure "
                                       "destination.",
                                       labels)),
      destination_failures(ShardCounter(
          "sluice_mapping_destination_failures_total",
          "Discards whose on-failure destination could not be written (batches).", labels)),
      retries(ShardCounter("sluice_mapping_retries_total",
                           "Batches retried after a function error.", labels)),
      bisections(ShardCounter("sluice_mapping_bisections_total",
                              "Batches split in two after a function error.", labels)),
      throttles(ShardCounter("sluice_mapping_throttles_total",
                             "Attempts that did not reach the function (throttled, not "
                             "deployed, could not start); retried without counting.",
                             labels)),
      iterator_age_ms(MetricsRegistry::Global().GetGauge(
          "sluice_mapping_iterator_age_milliseconds",
          "IteratorAge: from the arrival of the last record of a batch to its invoke.", labels)) {}

void ShardStats::set_position(std::string sequence_number) {
  std::lock_guard<std::mutex> lock(mu_);
  position_ = std::move(sequence_number);
}

std::string ShardStats::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return position_;
}

}  // namespace sluice::poller
