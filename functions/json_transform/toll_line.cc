#include "toll_line.h"

#include <array>
#include <charconv>
#include <cstdint>

namespace json_transform {
namespace {

constexpr size_t kFieldCount = 7;
constexpr size_t kMaxAmountWholeDigits = 15;  // cents stay far inside int64_t
// The JSON line's bytes besides the field values (names, quotes, separators, '\n'), rounded up.
constexpr size_t kJsonOverhead = 128;

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool AllDigits(std::string_view text) {
  for (char c : text) {
    if (!IsDigit(c)) {
      return false;
    }
  }
  return true;
}

// `prefix` followed by exactly `digits` digits, e.g. "S-03".
bool IsPrefixedNumber(std::string_view text, std::string_view prefix, size_t digits) {
  return text.size() == prefix.size() + digits && text.starts_with(prefix) &&
         AllDigits(text.substr(prefix.size()));
}

// REQUIRES: text[at] and text[at + 1] are digits.
int32_t TwoDigits(std::string_view text, size_t at) {
  return (text[at] - '0') * 10 + (text[at + 1] - '0');
}

int32_t DaysInMonth(int32_t year, int32_t month) {
  constexpr std::array<int32_t, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// "YYYY-MM-DDTHH:MM:SSZ" naming a real date and time.
bool IsUtcTime(std::string_view text) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";  // d: a digit
  if (text.size() != kShape.size()) {
    return false;
  }
  for (size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !IsDigit(text[i]) : text[i] != kShape[i]) {
      return false;
    }
  }
  const int32_t year = TwoDigits(text, 0) * 100 + TwoDigits(text, 2);
  const int32_t month = TwoDigits(text, 5);
  const int32_t day = TwoDigits(text, 8);
  return month >= 1 && month <= 12 && day >= 1 && day <= DaysInMonth(year, month) &&
         TwoDigits(text, 11) <= 23 && TwoDigits(text, 14) <= 59 && TwoDigits(text, 17) <= 59;
}

// Tags go into the JSON as they are, so only bytes that need no more than a backslash pass.
bool IsPrintableAscii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

// Reads "12", "12.5" or "12.50" as cents. Returns the problem, or an empty view when it is fine.
std::string_view ParseCents(std::string_view text, int64_t* cents) {
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole.empty() || !AllDigits(whole) ||
      (point != std::string_view::npos && (fraction.empty() || !AllDigits(fraction)))) {
    return "not a decimal number";
  }
  if (fraction.size() > 2) {
    return "more than 2 decimals";
  }
  if (whole.size() > kMaxAmountWholeDigits) {
    return "more than 15 digits before the point";
  }
  int64_t value = 0;
  for (char c : whole) {
    value = value * 10 + (c - '0');
  }
  for (size_t i = 0; i < 2; ++i) {
    value = value * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  }
  *cents = value;
  return {};
}

// `field 7 (amount): not a decimal number: "2.5x"`. Bytes of the value outside printable ASCII
// are written as \xNN: the reason travels in a protobuf string, which must be valid UTF-8 (a
// glitch byte such as 0xff would make the whole response unreadable to the host).
void SetFieldReason(std::string* out, char field_number, std::string_view name,
                    std::string_view problem, std::string_view value) {
  constexpr std::string_view kHex = "0123456789abcdef";
  out->assign("field ");
  out->push_back(field_number);
  out->append(" (").append(name).append("): ").append(problem).append(": \"");
  for (const char c : value) {
    if (IsPrintableAscii(std::string_view(&c, 1))) {
      out->push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out->append("\\x").push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0xf]);
    }
  }
  out->append("\"");
}

void AppendJsonString(std::string* out, std::string_view printable_ascii) {
  out->push_back('"');
  for (char c : printable_ascii) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
    }
    out->push_back(c);
  }
  out->push_back('"');
}

// The shortest decimal: 2.5, 3, 2.25.
void AppendAmount(std::string* out, int64_t cents) {
  std::array<char, 24> digits;
  const std::to_chars_result whole =
      std::to_chars(digits.data(), digits.data() + digits.size(), cents / 100);
  out->append(digits.data(), whole.ptr);
  const int32_t fraction = static_cast<int32_t>(cents % 100);
  if (fraction != 0) {
    out->push_back('.');
    out->push_back(static_cast<char>('0' + fraction / 10));
    if (fraction % 10 != 0) {
      out->push_back(static_cast<char>('0' + fraction % 10));
    }
  }
}

}  // namespace

TollLineVerdict TransformTollLine(std::string_view line, std::string* out) {
  if (line.ends_with('\n')) {
    line.remove_suffix(line.ends_with("\r\n") ? 2 : 1);
  }
  std::array<std::string_view, kFieldCount> fields;
  size_t count = 0;
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    if (count < kFieldCount) {
      fields[count] = line.substr(start, comma == std::string_view::npos ? comma : comma - start);
    }
    ++count;
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  if (count != kFieldCount) {
    out->assign("expected 7 comma-separated fields, got ").append(std::to_string(count));
    return TollLineVerdict::kMalformed;
  }
  const auto [event_time, station_id, lane, transaction_id, customer_id, tag, amount] = fields;
  if (!IsUtcTime(event_time)) {
    SetFieldReason(out, '1', "event_time", "not a UTC time YYYY-MM-DDTHH:MM:SSZ", event_time);
    return TollLineVerdict::kMalformed;
  }
  if (!IsPrefixedNumber(station_id, "S-", 2)) {
    SetFieldReason(out, '2', "station_id", "not S- and 2 digits", station_id);
    return TollLineVerdict::kMalformed;
  }
  const bool test_lane = lane == "T";
  if (!test_lane && (lane.size() != 1 || lane[0] < '1' || lane[0] > '8')) {
    SetFieldReason(out, '3', "lane", "not a lane 1 to 8 or T", lane);
    return TollLineVerdict::kMalformed;
  }
  if (!IsPrefixedNumber(transaction_id, "T-", 8)) {
    SetFieldReason(out, '4', "transaction_id", "not T- and 8 digits", transaction_id);
    return TollLineVerdict::kMalformed;
  }
  if (!IsPrefixedNumber(customer_id, "C-", 4)) {
    SetFieldReason(out, '5', "customer_id", "not C- and 4 digits", customer_id);
    return TollLineVerdict::kMalformed;
  }
  if (tag.empty() || !IsPrintableAscii(tag)) {
    SetFieldReason(out, '6', "tag", tag.empty() ? "empty" : "not printable ASCII", tag);
    return TollLineVerdict::kMalformed;
  }
  int64_t cents = 0;
  if (const std::string_view problem = ParseCents(amount, &cents); !problem.empty()) {
    SetFieldReason(out, '7', "amount", problem, amount);
    return TollLineVerdict::kMalformed;
  }
  out->clear();
  if (test_lane) {
    return TollLineVerdict::kTestLane;
  }
  out->reserve(kJsonOverhead + line.size());
  out->append(R"({"transaction_id":")").append(transaction_id);
  out->append(R"(","customer_id":")").append(customer_id);
  out->append(R"(","tag":)");
  AppendJsonString(out, tag);
  out->append(R"(,"station_id":")").append(station_id);
  out->append(R"(","lane":)").push_back(lane[0]);
  out->append(R"(,"amount":)");
  AppendAmount(out, cents);
  out->append(R"(,"event_time":")").append(event_time).append("\"}\n");
  return TollLineVerdict::kTransaction;
}

}  // namespace json_transform
