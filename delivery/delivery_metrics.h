// DeliveryMetrics: one delivery stream's counters in the host's metrics registry, exported at
// /metrics as sluice_delivery_* with the label delivery_stream, and read back for
// `sluice status`. The registry's counters count for the life of the process (Prometheus wants
// them monotonic, even across a delete and a create of the same name); Snapshot() counts from
// when this object was made, so a new delivery stream starts at zero.
//
// Thread-safety: the counters and gauges are atomic; last_error is guarded.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "delivery/delivery_service.h"

namespace sluice::delivery {

struct DeliveryMetrics {
  explicit DeliveryMetrics(const std::string& delivery_stream);

  Counter& records_in;
  Counter& bytes_in;
  Counter& records_transformed;
  Counter& records_dropped;
  Counter& records_failed;
  Counter& records_delivered;
  Counter& bytes_delivered;
  Counter& objects_delivered;
  Counter& delivery_errors;
  Counter& batches_failed;
  Gauge& records_buffered;
  Gauge& freshness_ms;  // -1 until the first delivery

  void set_last_error(std::string error);
  // The counts since this object was made, with `name`.
  DeliveryStats Snapshot(const std::string& name) const;

 private:
  // Each counter with the DeliveryStats member it fills.
  std::vector<std::pair<const Counter*, int64_t DeliveryStats::*>> Counted() const;
  // The registry's counters now (gauges and last_error left out).
  DeliveryStats Totals() const;

  // The counters' values when this object was made (the gauges start afresh).
  const DeliveryStats base_;
  mutable std::mutex mu_;
  std::string last_error_;
};

}  // namespace sluice::delivery
