// A raw toll booth line (the ABC Tolls raw feed: one CSV line per passage) and its JSON form.
//
//   2026-11-02T08:00:05Z,S-03,2,T-00000042,C-0007,TAG-0007,2.50
//
// becomes, fields in the order of a toll transaction record,
//
//   {"transaction_id":"T-00000042","customer_id":"C-0007","tag":"TAG-0007","station_id":"S-03",
//    "lane":2,"amount":2.5,"event_time":"2026-11-02T08:00:05Z"}
//
// Fields: event_time `YYYY-MM-DDTHH:MM:SSZ`, a real UTC date and time (no leap seconds);
// station_id `S-` and 2 digits; lane `1`..`8`, or `T` for a test-lane passage; transaction_id
// `T-` and 8 digits; customer_id `C-` and 4 digits; tag non-empty printable ASCII; amount a
// non-negative decimal with at most 2 decimals and at most 15 digits before the point. One
// trailing "\n" or "\r\n" is allowed. A line is checked whole before its lane decides anything,
// so a malformed test-lane line is malformed.
//
// The amount is written from its integer cents as the shortest decimal (2.50 -> 2.5, 3.10 -> 3.1,
// 3.00 -> 3), never with binary rounding noise, as `sluice gen` writes the stream's records: a
// line's JSON is byte for byte its passage's stream record.
//
// No regex, no allocation besides the output. Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace json_transform {

enum class TollLineVerdict {
  kTransaction,  // a customer passage: *out holds its JSON line, '\n'-terminated
  kTestLane,     // a technician's test passage: to drop; *out is empty
  kMalformed,    // *out holds the reason, naming the field
};

// Reads one raw line (a Firehose record's data) and replaces *out with the JSON line or the
// reason, e.g. `field 7 (amount): not a decimal number: "2.5x"` or
// `expected 7 comma-separated fields, got 4`. The reason is printable ASCII: a value's other
// bytes show as \xNN.
TollLineVerdict TransformTollLine(std::string_view line, std::string* out);

}  // namespace json_transform
