// EventFilter: Lambda's FilterCriteria for stream records, in EventBridge pattern syntax.
//
// A mapping keeps a record when it matches any of its patterns (OR across filters); with no
// patterns every record is kept. A pattern is a JSON object; for a Kinesis source its only
// top-level key is "data", matched against the record's data decoded as JSON. Inside a pattern
// every named field must match (AND); fields the pattern does not name are ignored. A leaf is an
// array of alternatives (OR), each one of:
//   "text", 12.5, true, null               exact value (numbers compare by value)
//   {"prefix": "x"}  {"suffix": "x"}        on strings
//   {"equals-ignore-case": "x"}
//   {"numeric": [">", 10, "<=", 20]}        one or two comparisons (=, >, >=, <, <=) on numbers
//   {"exists": true|false}                  whether the field is present (false: absent)
//   {"anything-but": v | [v, ...] | {"prefix": "x"} | {"suffix": "x"}}
// A field whose value is an array matches when any element matches.
// A record whose data is not JSON matches no pattern that has a "data" key (it is dropped, as
// Lambda does); patterns without one match it.
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
  // pattern ("FilterCriteria.Filters[1].Pattern") and what is wrong: not JSON, not an object, a
  // top-level key other than "data", an unknown operator, a leaf that is not an array, a numeric
  // range that is not numbers, more than 10 patterns, a pattern over 4096 characters.
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
