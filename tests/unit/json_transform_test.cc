// json_transform's line parser (functions/json_transform/toll_line.h), compiled in.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "functions/json_transform/toll_line.h"

namespace json_transform {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kGood = "2026-11-02T08:00:05Z,S-03,2,T-00000042,C-0007,TAG-0007,2.50\n";

// The line with field `index` (0-based) replaced by `value`.
std::string WithField(size_t index, const std::string& value) {
  std::vector<std::string> fields;
  std::string line(kGood.substr(0, kGood.size() - 1));
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  fields[index] = value;
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    out.append(i == 0 ? "" : ",").append(fields[i]);
  }
  return out.append("\n");
}

// The reason a malformed line gets; "" when the line is not malformed.
std::string ReasonFor(std::string_view line) {
  std::string out;
  return TransformTollLine(line, &out) == TollLineVerdict::kMalformed ? out : "";
}

TEST_CASE("a good line becomes the transaction's JSON line, fields in the record's order") {
  std::string out = "left over";
  REQUIRE(TransformTollLine(kGood, &out) == TollLineVerdict::kTransaction);
  CHECK(out == R"({"transaction_id":"T-00000042","customer_id":"C-0007","tag":"TAG-0007",)"
               R"("station_id":"S-03","lane":2,"amount":2.5,"event_time":"2026-11-02T08:00:05Z"})"
               "\n");
  std::string crlf;
  std::string bare;
  REQUIRE(TransformTollLine(std::string(kGood.substr(0, kGood.size() - 1)).append("\r\n"), &crlf) ==
          TollLineVerdict::kTransaction);
  REQUIRE(TransformTollLine(kGood.substr(0, kGood.size() - 1), &bare) ==
          TollLineVerdict::kTransaction);
  CHECK(crlf == out);
  CHECK(bare == out);
}

TEST_CASE("amounts print as the shortest decimal, exactly the double cents / 100") {
  for (int64_t cents = 0; cents < 100000; ++cents) {
    std::string amount = std::to_string(cents / 100) + "." + std::to_string(cents % 100 / 10) +
                         std::to_string(cents % 10);
    std::string out;
    REQUIRE(TransformTollLine(WithField(6, amount), &out) == TollLineVerdict::kTransaction);
    INFO(out);
    REQUIRE(ordered_json::parse(out)["amount"].get<double>() == static_cast<double>(cents) / 100.0);
    while (amount.back() == '0') {
      amount.pop_back();
    }
    if (amount.back() == '.') {
      amount.pop_back();
    }
    REQUIRE(out.find(",\"amount\":" + amount + ",") != std::string::npos);
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2.50", "2.5"},        {"3.10", "3.1"},
      {"3.00", "3"},          {"7", "7"},
      {"0.05", "0.05"},       {"12.5", "12.5"},
      {"007.20", "7.2"},      {"0.00", "0"},
      {"1234.56", "1234.56"}, {"999999999999999.99", "999999999999999.99"}};
  for (const auto& [amount, printed] : cases) {
    std::string out;
    REQUIRE(TransformTollLine(WithField(6, amount), &out) == TollLineVerdict::kTransaction);
    INFO(out);
    CHECK(out.find(",\"amount\":" + printed + ",") != std::string::npos);
  }
}

TEST_CASE("lanes 1 to 8 are numbers, T is a test lane to drop") {
  for (char lane = '1'; lane <= '8'; ++lane) {
    std::string out;
    REQUIRE(TransformTollLine(WithField(2, std::string(1, lane)), &out) ==
            TollLineVerdict::kTransaction);
    CHECK(ordered_json::parse(out)["lane"] == lane - '0');
  }
  std::string out = "left over";
  CHECK(TransformTollLine("2026-11-02T08:00:12Z,S-03,T,T-00000044,C-0000,TAG-TEST,0.00\n", &out) ==
        TollLineVerdict::kTestLane);
  CHECK(out.empty());
  // A test-lane line is still checked whole.
  CHECK(ReasonFor("2026-11-02T08:00:12Z,S-03,T,T-00000044") ==
        "expected 7 comma-separated fields, got 4");
}

TEST_CASE("a tag with quotes or backslashes stays valid JSON") {
  std::string out;
  REQUIRE(TransformTollLine(WithField(5, R"(TAG "7\)"), &out) == TollLineVerdict::kTransaction);
  CHECK(ordered_json::parse(out)["tag"] == R"(TAG "7\)");
}

TEST_CASE("event times must be real UTC dates and times") {
  for (const std::string good : {"2024-02-29T00:00:00Z", "2000-02-29T23:59:59Z",
                                 "2026-12-31T12:30:00Z", "2026-04-30T00:00:00Z"}) {
    INFO(good);
    CHECK(ReasonFor(WithField(0, good)) == "");
  }
  for (const std::string bad :
       {"2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-11-00T00:00:00Z",
        "2026-11-02T24:00:00Z", "2026-11-02T08:60:00Z", "2026-11-02T08:00:60Z",
        "2026-11-02T08:00:05", "2026-11-02 08:00:05Z", "2026-11-02T08:00:05.000Z",
        "2026-1x-02T08:00:05Z", ""}) {
    INFO(bad);
    CHECK(ReasonFor(WithField(0, bad)) ==
          "field 1 (event_time): not a UTC time YYYY-MM-DDTHH:MM:SSZ: \"" + bad + "\"");
  }
}

TEST_CASE("a malformed line's reason names the field") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected 7 comma-separated fields, got 1"},
      {"2026-11-02T08:00:05Z,S-03,2,T-00000042\n", "expected 7 comma-separated fields, got 4"},
      {std::string(kGood.substr(0, kGood.size() - 1)) + ",extra\n",
       "expected 7 comma-separated fields, got 8"},
      {WithField(1, "S-3"), R"(field 2 (station_id): not S- and 2 digits: "S-3")"},
      {WithField(1, "X-03"), R"(field 2 (station_id): not S- and 2 digits: "X-03")"},
      {WithField(2, "0"), R"(field 3 (lane): not a lane 1 to 8 or T: "0")"},
      {WithField(2, "9"), R"(field 3 (lane): not a lane 1 to 8 or T: "9")"},
      {WithField(2, "12"), R"(field 3 (lane): not a lane 1 to 8 or T: "12")"},
      {WithField(2, ""), R"(field 3 (lane): not a lane 1 to 8 or T: "")"},
      {WithField(3, "T-0000042"), R"(field 4 (transaction_id): not T- and 8 digits: "T-0000042")"},
      {WithField(3, "T-0000004a"),
       R"(field 4 (transaction_id): not T- and 8 digits: "T-0000004a")"},
      {WithField(4, "C-07"), R"(field 5 (customer_id): not C- and 4 digits: "C-07")"},
      {WithField(5, ""), R"(field 6 (tag): empty: "")"},
      {WithField(5, "TAG\t7"), R"(field 6 (tag): not printable ASCII: "TAG\x097")"},
      // A glitch byte that is not UTF-8 shows as \xNN: the reason must be valid UTF-8 (it travels
      // in a protobuf string; the host cannot read a response with a raw 0xff).
      {WithField(5, "TAG-\xff"), R"(field 6 (tag): not printable ASCII: "TAG-\xff")"},
      {WithField(5, "TAG-\xc3\xa9"), R"(field 6 (tag): not printable ASCII: "TAG-\xc3\xa9")"},
      {WithField(6, "2.5x"), R"(field 7 (amount): not a decimal number: "2.5x")"},
      {WithField(6, "-2.50"), R"(field 7 (amount): not a decimal number: "-2.50")"},
      {WithField(6, ".50"), R"(field 7 (amount): not a decimal number: ".50")"},
      {WithField(6, "2."), R"(field 7 (amount): not a decimal number: "2.")"},
      {WithField(6, ""), R"(field 7 (amount): not a decimal number: "")"},
      {WithField(6, "2.505"), R"(field 7 (amount): more than 2 decimals: "2.505")"},
      {WithField(6, "1000000000000000.00"),
       R"(field 7 (amount): more than 15 digits before the point: "1000000000000000.00")"},
      {std::string(kGood.substr(0, kGood.size() - 1)) + "\r",
       R"(field 7 (amount): not a decimal number: "2.50\x0d")"},
  };
  for (const auto& [line, reason] : cases) {
    INFO(line);
    CHECK(ReasonFor(line) == reason);
  }
}

}  // namespace
}  // namespace json_transform
