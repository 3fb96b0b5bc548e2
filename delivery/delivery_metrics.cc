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
                               "Age of the oldest record of the last delivery, at delivery.")),
      base_(Totals()) {
  freshness_ms.Set(-1);
  records_buffered.Set(0);
}

void DeliveryMetrics::set_last_error(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(error);
}

std::vector<std::pair<const Counter*, int64_t DeliveryStats::*>> DeliveryMetrics::Counted() const {
  return {{&records_in, &DeliveryStats::records_in},
          {&bytes_in, &DeliveryStats::bytes_in},
          {&records_transformed, &DeliveryStats::records_transformed},
          {&records_dropped, &DeliveryStats::records_dropped},
          {&records_failed, &DeliveryStats::records_failed},
          {&records_delivered, &DeliveryStats::records_delivered},
          {&bytes_delivered, &DeliveryStats::bytes_delivered},
          {&objects_delivered, &DeliveryStats::objects_delivered},
          {&delivery_errors, &DeliveryStats::delivery_errors},
          {&batches_failed, &DeliveryStats::batches_failed}};
}

DeliveryStats DeliveryMetrics::Totals() const {
  DeliveryStats totals;
  for (const auto& [counter, member] : Counted()) {
    totals.*member = static_cast<int64_t>(counter->value());
  }
  return totals;
}

DeliveryStats DeliveryMetrics::Snapshot(const std::string& name) const {
  DeliveryStats stats = Totals();
  stats.name = name;
  for (const auto& [counter, member] : Counted()) {
    stats.*member -= base_.*member;
  }
  stats.records_buffered = records_buffered.value();
  stats.freshness_ms = freshness_ms.value();
  std::lock_guard<std::mutex> lock(mu_);
  stats.last_error = last_error_;
  return stats;
}

}  // namespace sluice::delivery
