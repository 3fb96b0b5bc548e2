// EventFilter: Lambda's FilterCriteria for stream records, in EventBridge pattern syntax.
//
// A mapping keeps a record when it matches any of its patterns (OR across filters); with no
// patterns every record is kept. A pattern is a JSON object; for a Kinesis source its only
// top-level key is "data", matched against the record's data decoded as JSON. Inside a pattern
// every named field must match (AND); fields the pattern does not name are ignored; a nested
// object descends into the record. A leaf is a non-empty array of alternatives (OR), each one of:
//   "text", 12.5, true, null               exact value (numbers compare by value: 300 == 3e2)
//   {"prefix": "x"}  {"suffix": "x"}        on strings
//   {"equals-ignore-case": "x"}             on strings; ASCII letters only are folded
//   {"numeric": [">", 10, "<=", 20]}        on numbers: one comparison (=, >, >=, <, <=), or a
//                                           lower bound (> or >=) then a greater upper bound
//                                           (< or <=)
//   {"exists": true|false}                  whether the field has a value that is not an object
//                                           (null counts; {} and [] do not)
//   {"anything-but": v | [v, ...] | {"prefix": "x"} | {"suffix": "x"}}
//                                           v: strings or numbers (a list holds one kind); the
//                                           field must exist, and any value that is not excluded
//                                           matches, whatever its type
// A field whose value is an array matches when any element matches (nested arrays are
// flattened), so the fields of one nested pattern object all match within the same element.
// Every pattern names "data": a record whose data is not a JSON object matches none (it is
// dropped, as Lambda does). A repeated key in a pattern or in data keeps its last value.
//
// Thread-safety: immutable after Compile; Matches may run on any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::poller {

class EventFilter {
 public:
  // Compiles the patterns (FilterCriteria.Filters[i].Pattern). InvalidArgument naming the
  // pattern and the place inside it ("FilterCriteria.Filters[1].Pattern: data.lane: a pattern
  // leaf must be an array, got \"7\"") and what is wrong: not JSON, not an object, a top-level
  // key other than "data", an empty object or array, an unknown operator, a leaf that is not an
  // array, an operand of the wrong type, a numeric range that is not numbers or is empty, more
  // than 10 patterns (kMaxFilters), a pattern over 4096 characters.
  static Result<std::unique_ptr<EventFilter>> Compile(const std::vector<std::string>& patterns,
                                                      const std::string& path = "FilterCriteria");
  ~EventFilter();

  bool empty() const;
  // Whether a record with these data bytes passes (matches a pattern, or there are none).
  bool Matches(std::string_view data) const;

 private:
  struct Pattern;
  EventFilter();
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace sluice::poller
