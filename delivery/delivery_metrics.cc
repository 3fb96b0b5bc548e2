#include "delivery/delivery_metrics.h"

namespace sluice::delivery {
namespace {

Counter& StreamCounter(const std::string& stream, const std::string& name,
                       const std::string& help) {
  return MetricsRegistry::Global().GetCounter(name, help,
                                              MetricLabels{{"delivery_stream", stream}});
}

Gauge& StreamGauge(const std::string& stream, const std::string& name, const std::string& help) {
  return MetricsRegistry::Global().GetGauge(name, help, MetricLabels{{"delivery_stream", stream}});
}

}  // namespace

DeliveryMetrics::DeliveryMetrics(const std::string& s)
    : records_in(StreamCounter(s, "sluice_delivery_incoming_records_total",
                               "Records a delivery stream accepted or read from its stream.")),
      bytes_in(StreamCounter(s, "sluice_delivery_incoming_bytes_total",
                             "Data bytes of the records a delivery stream took in.")),
      records_transformed(StreamCounter(s, "sluice_delivery_transformed_records_total",
                                        "Records the transform returned Ok.")),
      records_dropped(StreamCounter(s, "sluice_delivery_dropped_records_total",
                                    "Records the transform returned Dropped.")),
      records_failed(StreamCounter(s, "sluice_delivery_processing_failed_records_total",
                                   "Records that failed processing (written to "
                                   "processing-failed/).")),
      records_delivered(StreamCounter(s, "sluice_delivery_delivered_records_total",
                                      "Records delivered to the destination.")),
      bytes_delivered(StreamCounter(s, "sluice_delivery_delivered_bytes_total",
                                    "Bytes delivered (as stored or sent, after compression).")),
      objects_delivered(StreamCounter(s, "sluice_delivery_delivered_batches_total",
                                      "Objects written, requests answered 200, or loads "
                                      "committed.")),
      delivery_errors(StreamCounter(s, "sluice_delivery_delivery_errors_total",
                                    "Delivery attempts that failed (every retry counts).")),
      batches_failed(StreamCounter(s, "sluice_delivery_failed_batches_total",
                                   "Batches written to the errors location after their retries.")),
      records_buffered(StreamGauge(s, "sluice_delivery_buffered_records",
                                   "Records read but not yet delivered.")),
      freshness_ms(StreamGauge(s, "sluice_delivery_freshness_milliseconds",
                               "Age of the oldest record of the last delivery, at delivery.")) {
  freshness_ms.Set(-1);
}

void DeliveryMetrics::set_last_error(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(error);
}

DeliveryStats DeliveryMetrics::Snapshot(const std::string& name) const {
  DeliveryStats stats;
  stats.name = name;
  stats.records_in = static_cast<int64_t>(records_in.value());
  stats.bytes_in = static_cast<int64_t>(bytes_in.value());
  stats.records_transformed = static_cast<int64_t>(records_transformed.value());
  stats.records_dropped = static_cast<int64_t>(records_dropped.value());
  stats.records_failed = static_cast<int64_t>(records_failed.value());
  stats.records_delivered = static_cast<int64_t>(records_delivered.value());
  stats.bytes_delivered = static_cast<int64_t>(bytes_delivered.value());
  stats.objects_delivered = static_cast<int64_t>(objects_delivered.value());
  stats.delivery_errors = static_cast<int64_t>(delivery_errors.value());
  stats.batches_failed = static_cast<int64_t>(batches_failed.value());
  stats.records_buffered = records_buffered.value();
  stats.freshness_ms = freshness_ms.value();
  std::lock_guard<std::mutex> lock(mu_);
  stats.last_error = last_error_;
  return stats;
}

}  // namespace sluice::delivery
