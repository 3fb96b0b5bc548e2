// Conversion between the runtime protocol's messages and AWS's JSON shapes.
//
// Events: the Kinesis event Lambda sends ({"Records": [...]}, plus "window", "state", ... for
// tumbling windows) and the Firehose data-transformation event ({"invocationId", "records", ...}).
// Responses: {"batchItemFailures": [...]}, {"state": ..., "batchItemFailures": [...]},
// {"records": [{"recordId", "result", "data"}]}, and Lambda's error body
// {"errorType", "errorMessage", "stackTrace"}. sdk/protocol.md lists every field's mapping.
//
// Stateless free functions; safe from any thread. Parsing never throws: a bad document returns
// false with a message in *error that names the field, e.g. "Records[2].kinesis.data: not base64".
#pragma once

#include <string>
#include <string_view>

#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice::aws_json {

// How deeply a document may nest objects and arrays. Deeper documents are refused: serialising
// them recursively would overflow the stack, and no AWS event or state needs a tenth of this.
inline constexpr int kMaxJsonDepth = 128;

// True when `text` nests objects and arrays at most `max_depth` deep (strings are skipped; the
// text need not be valid JSON). Linear, without recursion.
bool JsonDepthWithin(std::string_view text, int max_depth);

// Fills invoke->event (kinesis, kinesis_window or firehose) from an AWS JSON event. Leaves
// request_id, deadline and function ARN alone. The shape decides the kind: "Records" with
// "eventSource": "aws:kinesis" is a Kinesis batch (a window batch when "window" is present);
// "records" with "recordId"s is a Firehose transform batch.
bool EventFromJson(std::string_view json, runtime::v1::Invoke* invoke, std::string* error);

// The AWS JSON event for invoke's event. REQUIRES: an event is set.
std::string EventToJson(const runtime::v1::Invoke& invoke);

// The AWS JSON a Lambda would have returned for this response: the success payload matching its
// kind, or the error body.
std::string ResponseToJson(const runtime::v1::InvokeResponse& response);

// Parses a handler's JSON result for an invoke of kind `event_kind` into response's outcome,
// with Lambda's leniency for stream batches (null, "", {}, [] and a null "batchItemFailures" all
// mean full success). A window response must carry "state".
bool ResponseFromJson(std::string_view json, runtime::v1::Invoke::EventCase event_kind,
                      runtime::v1::InvokeResponse* response, std::string* error);

// "2020-12-09T07:04:00Z" for a Unix time in milliseconds (fraction dropped when zero, else
// ".123Z"), and back. TimeFromIso8601 accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z".
std::string Iso8601FromMillis(int64_t unix_ms);
bool MillisFromIso8601(std::string_view text, int64_t* unix_ms);

}  // namespace sluice::aws_json
