// EventFilter: every operator and rule of FilterCriteria patterns on real record data, and every
// way a pattern can be invalid (each error naming the pattern and the place inside it).
#include "poller/event_filter.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

namespace sluice::poller {
namespace {

std::unique_ptr<EventFilter> MustCompile(const std::vector<std::string>& patterns) {
  Result<std::unique_ptr<EventFilter>> filter = EventFilter::Compile(patterns);
  INFO(filter.status().ToString());
  REQUIRE(filter.ok());
  return std::move(filter).value();
}

// A filter of the single pattern {"data": <data_pattern>}.
std::unique_ptr<EventFilter> DataFilter(const std::string& data_pattern) {
  return MustCompile({R"({"data": )" + data_pattern + "}"});
}

// The message of the error that compiling `patterns` must give.
std::string CompileError(const std::vector<std::string>& patterns) {
  Result<std::unique_ptr<EventFilter>> filter = EventFilter::Compile(patterns);
  REQUIRE_FALSE(filter.ok());
  REQUIRE(filter.status().code() == Code::kInvalidArgument);
  return filter.status().message();
}

// The error for the single pattern {"data": <data_pattern>}.
std::string DataPatternError(const std::string& data_pattern) {
  return CompileError({R"({"data": )" + data_pattern + "}"});
}

TEST_CASE("exact strings match character by character", "[event_filter]") {
  const auto filter = DataFilter(R"({"lane": ["7"]})");
  CHECK(filter->Matches(R"({"lane": "7"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "07"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "7 "})"));
  CHECK_FALSE(filter->Matches(R"({"lane": 7})"));
  CHECK_FALSE(filter->Matches(R"({"other": "7"})"));
}

TEST_CASE("exact numbers compare by value", "[event_filter]") {
  const auto filter = DataFilter(R"({"speed": [300]})");
  CHECK(filter->Matches(R"({"speed": 300})"));
  CHECK(filter->Matches(R"({"speed": 300.0})"));
  CHECK(filter->Matches(R"({"speed": 3e2})"));
  CHECK_FALSE(filter->Matches(R"({"speed": 300.5})"));
  CHECK_FALSE(filter->Matches(R"({"speed": "300"})"));
  const auto fractional = DataFilter(R"({"speed": [-12.5]})");
  CHECK(fractional->Matches(R"({"speed": -12.50})"));
  CHECK_FALSE(fractional->Matches(R"({"speed": 12.5})"));
}

TEST_CASE("large integers compare exactly", "[event_filter]") {
  const auto filter = DataFilter(R"({"account": [123456789012345678]})");
  CHECK(filter->Matches(R"({"account": 123456789012345678})"));
  CHECK_FALSE(filter->Matches(R"({"account": 123456789012345679})"));
}

TEST_CASE("exact booleans match only the same boolean", "[event_filter]") {
  const auto filter = DataFilter(R"({"paid": [true]})");
  CHECK(filter->Matches(R"({"paid": true})"));
  CHECK_FALSE(filter->Matches(R"({"paid": false})"));
  CHECK_FALSE(filter->Matches(R"({"paid": "true"})"));
  CHECK_FALSE(filter->Matches(R"({"paid": 1})"));
}

TEST_CASE("exact null matches only a null value, not a missing field", "[event_filter]") {
  const auto filter = DataFilter(R"({"plate": [null]})");
  CHECK(filter->Matches(R"({"plate": null})"));
  CHECK_FALSE(filter->Matches(R"({"plate": "null"})"));
  CHECK_FALSE(filter->Matches(R"({"plate": ""})"));
  CHECK_FALSE(filter->Matches(R"({})"));
  const auto empty_string = DataFilter(R"({"plate": [""]})");
  CHECK(empty_string->Matches(R"({"plate": ""})"));
  CHECK_FALSE(empty_string->Matches(R"({"plate": null})"));
}

TEST_CASE("the alternatives of a leaf are ORed", "[event_filter]") {
  const auto filter = DataFilter(R"({"lane": ["1", 2, {"prefix": "x"}]})");
  CHECK(filter->Matches(R"({"lane": "1"})"));
  CHECK(filter->Matches(R"({"lane": 2})"));
  CHECK(filter->Matches(R"({"lane": "xyz"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "3"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "2"})"));
}

TEST_CASE("the fields of a pattern are ANDed and other fields are ignored", "[event_filter]") {
  const auto filter = DataFilter(R"({"lane": ["1"], "kind": ["car"]})");
  CHECK(filter->Matches(R"({"lane": "1", "kind": "car", "speed": 80})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "1", "kind": "truck"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "2", "kind": "car"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "1"})"));
}

TEST_CASE("nested pattern objects descend into the record", "[event_filter]") {
  const auto filter = DataFilter(R"({"order": {"item": {"type": ["buy"]}, "qty": [1]}})");
  CHECK(filter->Matches(R"({"order": {"item": {"type": "buy"}, "qty": 1}})"));
  CHECK_FALSE(filter->Matches(R"({"order": {"item": {"type": "sell"}, "qty": 1}})"));
  CHECK_FALSE(filter->Matches(R"({"order": {"item": "buy", "qty": 1}})"));
  CHECK_FALSE(filter->Matches(R"({"order": {"type": "buy", "qty": 1}})"));
  CHECK_FALSE(filter->Matches(R"({"type": "buy", "qty": 1})"));
  // A dotted key is a key, not a path.
  CHECK_FALSE(filter->Matches(R"({"order.item.type": "buy", "order.qty": 1})"));
}

TEST_CASE("a record array matches when any element matches", "[event_filter]") {
  const auto filter = DataFilter(R"({"tags": ["red"]})");
  CHECK(filter->Matches(R"({"tags": ["blue", "red"]})"));
  CHECK(filter->Matches(R"({"tags": [["blue"], ["red"]]})"));
  CHECK_FALSE(filter->Matches(R"({"tags": ["blue", "green"]})"));
  CHECK_FALSE(filter->Matches(R"({"tags": []})"));
  CHECK_FALSE(filter->Matches(R"({"tags": [{"red": 1}]})"));
}

TEST_CASE("a nested pattern matches within one element of a record array", "[event_filter]") {
  const auto filter = DataFilter(R"({"cars": {"plate": ["AB1"], "lane": [2]}})");
  CHECK(filter->Matches(R"({"cars": [{"plate": "XY9", "lane": 1}, {"plate": "AB1", "lane": 2}]})"));
  CHECK(filter->Matches(R"({"cars": {"plate": "AB1", "lane": 2}})"));
  // Each field matches some element, but never both in the same one.
  CHECK_FALSE(
      filter->Matches(R"({"cars": [{"plate": "AB1", "lane": 1}, {"plate": "XY9", "lane": 2}]})"));
  CHECK_FALSE(filter->Matches(R"({"cars": []})"));
}

TEST_CASE("prefix matches the start of strings only", "[event_filter]") {
  const auto filter = DataFilter(R"({"region": [{"prefix": "us-"}]})");
  CHECK(filter->Matches(R"({"region": "us-east-1"})"));
  CHECK(filter->Matches(R"({"region": "us-"})"));
  CHECK_FALSE(filter->Matches(R"({"region": "eu-us-1"})"));
  CHECK_FALSE(filter->Matches(R"({"region": "US-east-1"})"));
  CHECK_FALSE(filter->Matches(R"({"region": "us"})"));
  const auto digits = DataFilter(R"({"code": [{"prefix": "12"}]})");
  CHECK_FALSE(digits->Matches(R"({"code": 123})"));
  CHECK(digits->Matches(R"({"code": "123"})"));
}

TEST_CASE("suffix matches the end of strings only", "[event_filter]") {
  const auto filter = DataFilter(R"({"file": [{"suffix": ".png"}]})");
  CHECK(filter->Matches(R"({"file": "a/b.png"})"));
  CHECK(filter->Matches(R"({"file": ".png"})"));
  CHECK_FALSE(filter->Matches(R"({"file": "a.png.gz"})"));
  CHECK_FALSE(filter->Matches(R"({"file": "a.PNG"})"));
  CHECK_FALSE(filter->Matches(R"({"file": "png"})"));
  CHECK_FALSE(filter->Matches(R"({"file": ["x.jpg", 5]})"));
  CHECK(filter->Matches(R"({"file": ["x.jpg", "y.png"]})"));
}

TEST_CASE("equals-ignore-case folds ASCII letters", "[event_filter]") {
  const auto filter = DataFilter(R"({"state": [{"equals-ignore-case": "Running"}]})");
  CHECK(filter->Matches(R"({"state": "running"})"));
  CHECK(filter->Matches(R"({"state": "RUNNING"})"));
  CHECK(filter->Matches(R"({"state": "rUnNiNg"})"));
  CHECK_FALSE(filter->Matches(R"({"state": "runnin"})"));
  CHECK_FALSE(filter->Matches(R"({"state": "running!"})"));
  CHECK_FALSE(filter->Matches(R"({"state": true})"));
}

TEST_CASE("numeric ranges include their bounds only with >= and <=", "[event_filter]") {
  const auto open = DataFilter(R"({"speed": [{"numeric": [">", 10, "<", 20]}]})");
  CHECK_FALSE(open->Matches(R"({"speed": 10})"));
  CHECK(open->Matches(R"({"speed": 10.001})"));
  CHECK(open->Matches(R"({"speed": 19.999})"));
  CHECK_FALSE(open->Matches(R"({"speed": 20})"));
  const auto closed = DataFilter(R"({"speed": [{"numeric": [">=", 10, "<=", 20]}]})");
  CHECK(closed->Matches(R"({"speed": 10})"));
  CHECK(closed->Matches(R"({"speed": 20.0})"));
  CHECK_FALSE(closed->Matches(R"({"speed": 9.99})"));
  CHECK_FALSE(closed->Matches(R"({"speed": 20.01})"));
  CHECK_FALSE(closed->Matches(R"({"speed": "15"})"));
  CHECK_FALSE(closed->Matches(R"({"other": 15})"));
}

TEST_CASE("numeric single comparisons", "[event_filter]") {
  const auto equals = DataFilter(R"({"n": [{"numeric": ["=", 100]}]})");
  CHECK(equals->Matches(R"({"n": 100})"));
  CHECK(equals->Matches(R"({"n": 1e2})"));
  CHECK_FALSE(equals->Matches(R"({"n": 100.5})"));
  const auto above = DataFilter(R"({"n": [{"numeric": [">", 0]}]})");
  CHECK(above->Matches(R"({"n": 0.5})"));
  CHECK_FALSE(above->Matches(R"({"n": 0})"));
  CHECK_FALSE(above->Matches(R"({"n": -3})"));
  const auto at_least = DataFilter(R"({"n": [{"numeric": [">=", 0]}]})");
  CHECK(at_least->Matches(R"({"n": 0})"));
  CHECK_FALSE(at_least->Matches(R"({"n": -0.1})"));
  const auto below = DataFilter(R"({"n": [{"numeric": ["<", -1.5]}]})");
  CHECK(below->Matches(R"({"n": -2})"));
  CHECK_FALSE(below->Matches(R"({"n": -1.5})"));
  const auto at_most = DataFilter(R"({"n": [{"numeric": ["<=", -1.5]}]})");
  CHECK(at_most->Matches(R"({"n": -1.5})"));
  CHECK_FALSE(at_most->Matches(R"({"n": -1.4})"));
  // Any element of an array.
  CHECK(above->Matches(R"({"n": [-1, "x", 4]})"));
  CHECK_FALSE(above->Matches(R"({"n": [-1, "5"]})"));
}

TEST_CASE("exists true matches a present leaf value, including null", "[event_filter]") {
  const auto filter = DataFilter(R"({"plate": [{"exists": true}]})");
  CHECK(filter->Matches(R"({"plate": "AB1"})"));
  CHECK(filter->Matches(R"({"plate": null})"));
  CHECK(filter->Matches(R"({"plate": ["AB1"]})"));
  CHECK_FALSE(filter->Matches(R"({"lane": 1})"));
  CHECK_FALSE(filter->Matches(R"({"plate": []})"));
  CHECK_FALSE(filter->Matches(R"({"plate": {"country": "D"}})"));
}

TEST_CASE("exists false matches an absent field", "[event_filter]") {
  const auto filter = DataFilter(R"({"plate": [{"exists": false}]})");
  CHECK(filter->Matches(R"({"lane": 1})"));
  CHECK(filter->Matches(R"({})"));
  CHECK(filter->Matches(R"({"plate": []})"));
  CHECK(filter->Matches(R"({"plate": {"country": "D"}})"));  // an object is not a leaf
  CHECK_FALSE(filter->Matches(R"({"plate": "AB1"})"));
  CHECK_FALSE(filter->Matches(R"({"plate": null})"));
  // Nested: absent whenever the parent is absent or not an object.
  const auto nested = DataFilter(R"({"car": {"plate": [{"exists": false}]}})");
  CHECK(nested->Matches(R"({})"));
  CHECK(nested->Matches(R"({"car": 5})"));
  CHECK(nested->Matches(R"({"car": {"lane": 1}})"));
  CHECK_FALSE(nested->Matches(R"({"car": {"plate": "AB1"}})"));
  // Still not JSON: dropped.
  CHECK_FALSE(nested->Matches("not json"));
}

TEST_CASE("anything-but a single value", "[event_filter]") {
  const auto text = DataFilter(R"({"state": [{"anything-but": "initializing"}]})");
  CHECK(text->Matches(R"({"state": "running"})"));
  CHECK(text->Matches(R"({"state": "Initializing"})"));
  CHECK(text->Matches(R"({"state": 5})"));
  CHECK(text->Matches(R"({"state": null})"));
  CHECK_FALSE(text->Matches(R"({"state": "initializing"})"));
  const auto number = DataFilter(R"({"limit": [{"anything-but": 123}]})");
  CHECK(number->Matches(R"({"limit": 124})"));
  CHECK(number->Matches(R"({"limit": "123"})"));
  CHECK_FALSE(number->Matches(R"({"limit": 123})"));
  CHECK_FALSE(number->Matches(R"({"limit": 123.0})"));
}

TEST_CASE("anything-but a list of values", "[event_filter]") {
  const auto text = DataFilter(R"({"state": [{"anything-but": ["stopped", "overloaded"]}]})");
  CHECK(text->Matches(R"({"state": "running"})"));
  CHECK_FALSE(text->Matches(R"({"state": "stopped"})"));
  CHECK_FALSE(text->Matches(R"({"state": "overloaded"})"));
  // An array matches when any element is not excluded.
  CHECK(text->Matches(R"({"state": ["stopped", "running"]})"));
  CHECK_FALSE(text->Matches(R"({"state": ["stopped", "overloaded"]})"));
  const auto numbers = DataFilter(R"({"lane": [{"anything-but": [1, 2.5]}]})");
  CHECK(numbers->Matches(R"({"lane": 3})"));
  CHECK_FALSE(numbers->Matches(R"({"lane": 1.0})"));
  CHECK_FALSE(numbers->Matches(R"({"lane": 2.5})"));
}

TEST_CASE("anything-but a prefix", "[event_filter]") {
  const auto filter = DataFilter(R"({"region": [{"anything-but": {"prefix": "us-"}}]})");
  CHECK(filter->Matches(R"({"region": "eu-west-1"})"));
  CHECK(filter->Matches(R"({"region": "us"})"));
  CHECK(filter->Matches(R"({"region": 7})"));
  CHECK_FALSE(filter->Matches(R"({"region": "us-east-1"})"));
}

TEST_CASE("anything-but a suffix", "[event_filter]") {
  const auto filter = DataFilter(R"({"file": [{"anything-but": {"suffix": ".png"}}]})");
  CHECK(filter->Matches(R"({"file": "a.jpg"})"));
  CHECK(filter->Matches(R"({"file": "a.png.gz"})"));
  CHECK_FALSE(filter->Matches(R"({"file": "a.png"})"));
}

TEST_CASE("anything-but does not match a missing field", "[event_filter]") {
  const auto filter = DataFilter(R"({"state": [{"anything-but": "stopped"}]})");
  CHECK_FALSE(filter->Matches(R"({"other": "running"})"));
  CHECK_FALSE(filter->Matches(R"({"state": []})"));
  CHECK_FALSE(filter->Matches(R"({"state": {"x": "running"}})"));
  const auto prefix = DataFilter(R"({"state": [{"anything-but": {"prefix": "s"}}]})");
  CHECK_FALSE(prefix->Matches(R"({})"));
}

TEST_CASE("a record is kept when any filter matches", "[event_filter]") {
  const auto filter =
      MustCompile({R"({"data": {"lane": ["1"]}})", R"({"data": {"kind": ["bus"]}})"});
  CHECK_FALSE(filter->empty());
  CHECK(filter->Matches(R"({"lane": "1", "kind": "car"})"));
  CHECK(filter->Matches(R"({"lane": "2", "kind": "bus"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "2", "kind": "car"})"));
}

TEST_CASE("data that is not a JSON object is dropped by a data pattern", "[event_filter]") {
  const auto filter = DataFilter(R"({"lane": [{"exists": false}]})");
  CHECK(filter->Matches(R"({"kind": "car"})"));
  CHECK_FALSE(filter->Matches("lane=1"));
  CHECK_FALSE(filter->Matches(""));
  CHECK_FALSE(filter->Matches(R"({"kind": "car")"));
  CHECK_FALSE(filter->Matches(std::string("\xff\xfe{}", 4)));
  CHECK_FALSE(filter->Matches(R"([{"kind": "car"}])"));
  CHECK_FALSE(filter->Matches(R"("text")"));
  CHECK_FALSE(filter->Matches("42"));
  CHECK_FALSE(filter->Matches(R"({"n": 1e400})"));
  // Deeply nested data neither crashes nor matches a leaf.
  const std::string deep =
      R"({"lane": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(filter->Matches(deep));
  CHECK_FALSE(DataFilter(R"({"lane": ["1"]})")->Matches(deep));
}

TEST_CASE("an empty filter keeps every record", "[event_filter]") {
  const auto filter = MustCompile({});
  CHECK(filter->empty());
  CHECK(filter->Matches(R"({"lane": "1"})"));
  CHECK(filter->Matches("not json at all"));
  CHECK(filter->Matches(""));
}

TEST_CASE("a repeated key keeps its last value", "[event_filter]") {
  const auto filter = DataFilter(R"({"lane": ["1"], "lane": ["2"]})");
  CHECK(filter->Matches(R"({"lane": "2"})"));
  CHECK_FALSE(filter->Matches(R"({"lane": "1"})"));
  CHECK(filter->Matches(R"({"lane": "1", "lane": "2"})"));
}

TEST_CASE("invalid: more than 10 filters", "[event_filter]") {
  const std::vector<std::string> ten(10, R"({"data": {"lane": ["1"]}})");
  CHECK(MustCompile(ten)->Matches(R"({"lane": "1"})"));
  std::vector<std::string> eleven = ten;
  eleven.push_back(ten[0]);
  CHECK(CompileError(eleven) == "FilterCriteria.Filters: at most 10 filters, got 11");
  Result<std::unique_ptr<EventFilter>> named =
      EventFilter::Compile(eleven, "EventSourceMappings[2].FilterCriteria");
  REQUIRE_FALSE(named.ok());
  CHECK_THAT(named.status().message(),
             Catch::StartsWith("EventSourceMappings[2].FilterCriteria.Filters: "));
}

TEST_CASE("invalid: a pattern over 4096 characters", "[event_filter]") {
  const std::string prefix = R"({"data": {"plate": [")";
  const std::string suffix = R"("]}})";
  const size_t fill = 4096 - prefix.size() - suffix.size();
  const std::string longest = prefix + std::string(fill, 'x') + suffix;
  REQUIRE(longest.size() == 4096);
  CHECK(MustCompile({longest})->Matches(R"({"plate": ")" + std::string(fill, 'x') + "\"}"));
  CHECK(CompileError({longest, prefix + std::string(fill + 1, 'x') + suffix}) ==
        "FilterCriteria.Filters[1].Pattern: must be at most 4096 characters, got 4097");
  // Characters, not bytes: 4096 two-byte characters fit.
  std::string umlauts;
  for (size_t i = 0; i < fill; ++i) {
    umlauts += "\xc3\xbc";
  }
  CHECK(MustCompile({prefix + umlauts + suffix})->Matches(R"({"plate": ")" + umlauts + "\"}"));
}

TEST_CASE("invalid: a pattern that is not JSON", "[event_filter]") {
  const std::string message = CompileError({R"({"data": {"lane": ["1"]}})", R"({"data": )"});
  CHECK_THAT(message,
             Catch::StartsWith("FilterCriteria.Filters[1].Pattern: not JSON: parse error"));
  CHECK_THAT(CompileError({""}), Catch::StartsWith("FilterCriteria.Filters[0].Pattern: not JSON"));
  CHECK_THAT(CompileError({R"({"data": {"n": [1e400]}})"}),
             Catch::StartsWith("FilterCriteria.Filters[0].Pattern: not JSON: "));
}

TEST_CASE("invalid: a pattern that is not an object", "[event_filter]") {
  CHECK(CompileError({R"(["data"])"}) ==
        R"(FilterCriteria.Filters[0].Pattern: must be a JSON object, got ["data"])");
  CHECK(CompileError({"7"}) == "FilterCriteria.Filters[0].Pattern: must be a JSON object, got 7");
}

TEST_CASE("invalid: a top-level key other than data", "[event_filter]") {
  CHECK(CompileError({R"({"data": {"a": [1]}, "partitionKey": ["k"]})"}) ==
        "FilterCriteria.Filters[0].Pattern: partitionKey: a Kinesis filter pattern may name only "
        "\"data\" (the record's data)");
}

TEST_CASE("invalid: an empty pattern", "[event_filter]") {
  CHECK(CompileError({"{}"}) ==
        "FilterCriteria.Filters[0].Pattern: an empty pattern matches nothing; name \"data\"");
}

TEST_CASE("invalid: data that is not an object of fields", "[event_filter]") {
  CHECK(DataPatternError(R"(["x"])") ==
        "FilterCriteria.Filters[0].Pattern: data: must be an object naming fields of the "
        "record's JSON data, got [\"x\"]");
}

TEST_CASE("invalid: an empty object", "[event_filter]") {
  CHECK(DataPatternError("{}") ==
        "FilterCriteria.Filters[0].Pattern: data: an empty object matches nothing; name at least "
        "one field");
  CHECK(DataPatternError(R"({"order": {}})") ==
        "FilterCriteria.Filters[0].Pattern: data.order: an empty object matches nothing; name at "
        "least one field");
}

TEST_CASE("invalid: a leaf that is not an array", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": "7"})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane: a pattern leaf must be an array, got \"7\"");
  CHECK(DataPatternError(R"({"car": {"lane": 7}})") ==
        "FilterCriteria.Filters[0].Pattern: data.car.lane: a pattern leaf must be an array, got 7");
  CHECK(DataPatternError(R"({"lane": null})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane: a pattern leaf must be an array, got null");
}

TEST_CASE("invalid: an empty leaf array", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": []})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane: an empty array matches nothing; list at "
        "least one alternative");
}

TEST_CASE("invalid: an array as an alternative", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": ["1", ["2"]]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[1]: an alternative must be a string, "
        "number, boolean, null or operator object, got [\"2\"]");
}

TEST_CASE("invalid: an operator object without exactly one key", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": [{}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0]: an operator object must have exactly "
        "one key, got {}");
  CHECK(DataPatternError(R"({"lane": [{"prefix": "a", "suffix": "b"}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0]: an operator object must have exactly "
        "one key, got {\"prefix\":\"a\",\"suffix\":\"b\"}");
}

TEST_CASE("invalid: an unknown operator", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": ["1", {"contains": "x"}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[1]: unknown operator \"contains\" "
        "(expected prefix, suffix, equals-ignore-case, numeric, exists or anything-but)");
}

TEST_CASE("invalid: prefix, suffix and equals-ignore-case need a string", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": [{"prefix": 1}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0].prefix: must be a string, got 1");
  CHECK(DataPatternError(R"({"lane": [{"suffix": null}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0].suffix: must be a string, got null");
  CHECK(DataPatternError(R"({"lane": [{"equals-ignore-case": ["a"]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0].equals-ignore-case: must be a string, "
        "got [\"a\"]");
}

TEST_CASE("invalid: exists needs a boolean", "[event_filter]") {
  CHECK(DataPatternError(R"({"lane": [{"exists": "yes"}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.lane[0].exists: must be true or false, got "
        "\"yes\"");
}

TEST_CASE("invalid: numeric not an array of one or two comparisons", "[event_filter]") {
  CHECK(DataPatternError(R"({"n": [{"numeric": 5}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric: must be an array of one or two "
        "comparisons such as [\">\", 0, \"<=\", 5], got 5");
  CHECK_THAT(DataPatternError(R"({"n": [{"numeric": [">", 1, "<"]}]})"),
             Catch::StartsWith("FilterCriteria.Filters[0].Pattern: data.n[0].numeric: must be an "
                               "array of one or two comparisons"));
  CHECK_THAT(DataPatternError(R"({"n": [{"numeric": [">", 1, "<", 5, "<", 6]}]})"),
             Catch::StartsWith("FilterCriteria.Filters[0].Pattern: data.n[0].numeric: must be an "
                               "array of one or two comparisons"));
}

TEST_CASE("invalid: numeric comparisons that are not comparisons", "[event_filter]") {
  CHECK(DataPatternError(R"({"n": [{"numeric": ["!=", 1]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric[0]: unknown comparison \"!=\" "
        "(expected =, >, >=, <, <=)");
  CHECK(DataPatternError(R"({"n": [{"numeric": [1, ">"]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric[0]: must be a comparison (=, >, >=, "
        "<, <=), got 1");
  CHECK(DataPatternError(R"({"n": [{"numeric": [">", 1, 2, 3]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric[2]: must be a comparison (=, >, >=, "
        "<, <=), got 2");
}

TEST_CASE("invalid: numeric operands that are not numbers", "[event_filter]") {
  CHECK(DataPatternError(R"({"n": [{"numeric": [">", "10"]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric[1]: the operand of \">\" must be a "
        "number, got \"10\"");
  CHECK(DataPatternError(R"({"n": [{"numeric": [">", 1, "<=", null]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric[3]: the operand of \"<=\" must be a "
        "number, got null");
}

TEST_CASE("invalid: numeric ranges out of order, with =, or empty", "[event_filter]") {
  const std::string order =
      "FilterCriteria.Filters[0].Pattern: data.n[0].numeric: a range is a lower bound (> or >=) "
      "then an upper bound (< or <=)";
  CHECK(DataPatternError(R"({"n": [{"numeric": ["<", 20, ">", 10]}]})") == order);
  CHECK(DataPatternError(R"({"n": [{"numeric": [">", 10, ">", 20]}]})") == order);
  CHECK(DataPatternError(R"({"n": [{"numeric": ["<", 10, "<", 20]}]})") == order);
  CHECK(DataPatternError(R"({"n": [{"numeric": ["=", 10, "<", 20]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric: \"=\" cannot be combined with "
        "another comparison");
  CHECK(DataPatternError(R"({"n": [{"numeric": [">", 10, "<=", 10]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.n[0].numeric: the lower bound 10 must be below "
        "the upper bound 10");
}

TEST_CASE("invalid: anything-but values that are not strings or numbers", "[event_filter]") {
  CHECK(DataPatternError(R"({"s": [{"anything-but": true}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but: anything-but excludes strings "
        "or numbers, got true");
  CHECK(DataPatternError(R"({"s": [{"anything-but": ["a", null]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but[1]: anything-but excludes "
        "strings or numbers, got null");
}

TEST_CASE("invalid: anything-but lists empty or mixed", "[event_filter]") {
  CHECK(DataPatternError(R"({"s": [{"anything-but": []}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but: an empty list excludes "
        "nothing; list at least one value");
  CHECK(DataPatternError(R"({"s": [{"anything-but": ["a", 1]}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but[1]: an anything-but list holds "
        "only strings or only numbers, got 1 after \"a\"");
}

TEST_CASE("invalid: anything-but objects other than prefix or suffix", "[event_filter]") {
  CHECK(DataPatternError(R"({"s": [{"anything-but": {"equals-ignore-case": "a"}}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but: unknown anything-but operator "
        "\"equals-ignore-case\" (expected prefix or suffix)");
  CHECK_THAT(DataPatternError(R"({"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]})"),
             Catch::StartsWith("FilterCriteria.Filters[0].Pattern: data.s[0].anything-but: must "
                               "have exactly one key, \"prefix\" or \"suffix\""));
  CHECK(DataPatternError(R"({"s": [{"anything-but": {"prefix": ""}}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but.prefix: must be a non-empty "
        "string, got \"\"");
  CHECK(DataPatternError(R"({"s": [{"anything-but": {"suffix": 3}}]})") ==
        "FilterCriteria.Filters[0].Pattern: data.s[0].anything-but.suffix: must be a non-empty "
        "string, got 3");
}

TEST_CASE("a long value in an error is shortened", "[event_filter]") {
  const std::string message = DataPatternError(R"({"lane": ")" + std::string(200, 'x') + "\"}");
  CHECK_THAT(message, Catch::EndsWith("got \"" + std::string(36, 'x') + "..."));
}

}  // namespace
}  // namespace sluice::poller
