// FirehoseApi: the Firehose API (AWS JSON 1.1, target prefix Firehose_20150804) over a
// DeliveryService, on the host's HTTP port beside the Kinesis API, so `aws firehose ...` and the
// AWS SDKs work against Sluice unchanged.
//
// Operations: CreateDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams,
// DeleteDeliveryStream, PutRecord, PutRecordBatch, in Firehose's shapes (wire-formats.md §5.1).
// Errors are Firehose's {"__type", "message"} with HTTP 400: ResourceNotFoundException,
// ResourceInUseException, InvalidArgumentException, LimitExceededException, and
// ServiceUnavailableException (500 InternalFailure for what cannot happen). PutRecordBatch answers
// per record: when the buffer cannot take the batch every record has ErrorCode
// ServiceUnavailableException and FailedPutCount counts them. Limits: a record at most 1,000 KiB
// (1,024,000 bytes) of data, a batch 1-500 records and at most 4 MiB of data.
//
// Thread-safety: Handle() may run concurrently from any number of threads.
#pragma once

#include "delivery/delivery_service.h"
#include "stream/kinesis_api.h"

namespace sluice::delivery {

inline constexpr char kFirehoseTargetPrefix[] = "Firehose_20150804.";

class FirehoseApi {
 public:
  explicit FirehoseApi(DeliveryService* service) : service_(service) {}

  // REQUIRES: request.target starts with kFirehoseTargetPrefix.
  stream::ApiResponse Handle(const stream::ApiRequest& request);

 private:
  DeliveryService* const service_;
};

}  // namespace sluice::delivery
