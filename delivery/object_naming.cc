#include "delivery/object_naming.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace sluice::delivery {
namespace {

constexpr std::string_view kOpen = "!{";
constexpr std::string_view kTimestampNamespace = "timestamp:";
constexpr std::string_view kRandomString = "firehose:random-string";
constexpr std::string_view kErrorOutputType = "firehose:error-output-type";
// What Firehose appends to a prefix without a timestamp expression (§5.5).
constexpr std::string_view kDefaultTimePath = "!{timestamp:yyyy/MM/dd/HH/}";
constexpr size_t kMaxPrefixChars = 1024;    // the API's limit on Prefix and ErrorOutputPrefix
constexpr size_t kMaxEvaluatedChars = 512;  // Firehose's limit on an evaluated prefix
constexpr std::string_view kLongestErrorOutputType = kHttpEndpointFailed;

// The UTC calendar fields of `unix_ms`, floored to the second (also before 1970).
struct tm UtcTime(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  if (unix_ms % 1000 < 0) {
    --seconds;
  }
  const time_t t = static_cast<time_t>(seconds);
  struct tm utc;
  gmtime_r(&t, &utc);
  return utc;
}

std::string TwoDigits(int value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%02d", value);
  return text;
}

std::string FourDigits(int value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04d", value);
  return text;
}

// `format` (a Java DateTimeFormatter pattern of yyyy, MM, dd, HH, mm, ss, literal text and
// 'quoted text') at `utc`; INVALID_ARGUMENT for any other pattern letter or an unclosed quote.
Result<std::string> FormatTimestamp(std::string_view format, const struct tm& utc) {
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '\'') {
      // 'text' is literal; '' is one quote, inside quoted text or out of it.
      size_t j = i + 1;
      if (j < format.size() && format[j] == '\'') {
        out += '\'';
        i = j + 1;
        continue;
      }
      while (true) {
        if (j == format.size()) {
          return InvalidArgument("unclosed quote in timestamp format \"" + std::string(format) +
                                 "\"");
        }
        if (format[j] == '\'' && j + 1 < format.size() && format[j + 1] == '\'') {
          out += '\'';
          j += 2;
        } else if (format[j] == '\'') {
          break;
        } else {
          out += format[j++];
        }
      }
      i = j + 1;
      continue;
    }
    // Letters are patterns; '[', ']' and '#' are reserved by DateTimeFormatter as well.
    const bool pattern =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '[' || c == ']' || c == '#';
    if (!pattern) {
      out += c;
      ++i;
      continue;
    }
    size_t end = i;
    while (end < format.size() && format[end] == c) {
      ++end;
    }
    const std::string_view field = format.substr(i, end - i);
    if (field == "yyyy") {
      out += FourDigits(utc.tm_year + 1900);
    } else if (field == "MM") {
      out += TwoDigits(utc.tm_mon + 1);
    } else if (field == "dd") {
      out += TwoDigits(utc.tm_mday);
    } else if (field == "HH") {
      out += TwoDigits(utc.tm_hour);
    } else if (field == "mm") {
      out += TwoDigits(utc.tm_min);
    } else if (field == "ss") {
      out += TwoDigits(utc.tm_sec);
    } else {
      return InvalidArgument("unsupported timestamp pattern \"" + std::string(field) +
                             "\" (supported: yyyy, MM, dd, HH, mm, ss and 'quoted text')");
    }
    i = end;
  }
  return out;
}

// A prefix with its expressions replaced, and which kinds it held.
struct Expansion {
  std::string text;
  bool has_expression = false;
  bool has_timestamp = false;
  bool has_error_output_type = false;
};

// Replaces every !{...} of `prefix`; INVALID_ARGUMENT naming the first bad expression.
Result<Expansion> Expand(std::string_view prefix, const struct tm& utc, std::string_view random11,
                         std::string_view error_output_type) {
  Expansion expansion;
  size_t i = 0;
  while (i < prefix.size()) {
    const size_t open = prefix.find(kOpen, i);
    if (open == std::string_view::npos) {
      expansion.text += prefix.substr(i);
      break;
    }
    expansion.text += prefix.substr(i, open - i);
    const size_t close = prefix.find('}', open);
    const std::string_view body =
        close == std::string_view::npos ? "" : prefix.substr(open + 2, close - open - 2);
    const std::string expression(prefix.substr(
        open, close == std::string_view::npos ? std::string_view::npos : close - open + 1));
    if (close == std::string_view::npos || body.find('{') != std::string_view::npos) {
      return InvalidArgument("unclosed expression " + expression);
    }
    expansion.has_expression = true;
    if (body.starts_with(kTimestampNamespace) && body.size() > kTimestampNamespace.size()) {
      Result<std::string> time = FormatTimestamp(body.substr(kTimestampNamespace.size()), utc);
      if (!time.ok()) {
        return time.status().WithContext(expression);
      }
      expansion.text += *time;
      expansion.has_timestamp = true;
    } else if (body == kRandomString) {
      expansion.text += random11;
    } else if (body == kErrorOutputType) {
      expansion.text += error_output_type;
      expansion.has_error_output_type = true;
    } else {
      return InvalidArgument("unsupported expression " + expression +
                             " (supported: !{timestamp:FORMAT}, !{firehose:random-string}, "
                             "!{firehose:error-output-type})");
    }
    i = close + 1;
  }
  return expansion;
}

}  // namespace

Status ValidatePrefix(std::string_view prefix, bool is_error_prefix) {
  if (prefix.size() > kMaxPrefixChars) {
    return InvalidArgument("must be at most " + std::to_string(kMaxPrefixChars) +
                           " characters, got " + std::to_string(prefix.size()));
  }
  // Evaluated at its longest: calendar fields are fixed-width, random strings 11 characters.
  const std::string random11(11, 'x');
  Result<Expansion> expansion = Expand(prefix, UtcTime(0), random11, kLongestErrorOutputType);
  SLUICE_RETURN_IF_ERROR(expansion.status());
  if (expansion->has_error_output_type && !is_error_prefix) {
    return InvalidArgument("!{firehose:error-output-type} is allowed only in ErrorOutputPrefix");
  }
  if (is_error_prefix && expansion->has_expression && !expansion->has_error_output_type) {
    return InvalidArgument(
        "an ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}, got \"" +
        std::string(prefix) + "\"");
  }
  const size_t evaluated = EvaluatePrefix(prefix, 0, random11, kLongestErrorOutputType).size();
  if (evaluated > kMaxEvaluatedChars) {
    return InvalidArgument("evaluates to up to " + std::to_string(evaluated) +
                           " characters, more than " + std::to_string(kMaxEvaluatedChars));
  }
  return Status::Ok();
}

std::string EvaluatePrefix(std::string_view prefix, int64_t unix_ms, std::string_view random11,
                           std::string_view error_output_type) {
  const struct tm utc = UtcTime(unix_ms);
  Result<Expansion> expansion = Expand(prefix, utc, random11, error_output_type);
  if (!expansion.ok()) {
    return std::string(prefix);  // REQUIRES says valid; an invalid prefix stays literal text
  }
  if (expansion->has_timestamp) {
    return std::move(expansion->text);
  }
  return expansion->text + Expand(kDefaultTimePath, utc, "", "")->text;
}

std::string EvaluateErrorPrefix(std::string_view prefix, std::string_view error_output_prefix,
                                int64_t unix_ms, std::string_view random11,
                                std::string_view error_output_type) {
  if (!error_output_prefix.empty()) {
    return EvaluatePrefix(error_output_prefix, unix_ms, random11, error_output_type);
  }
  // <Prefix><error-output-type>/yyyy/MM/dd/HH/, the time path spelled out so that a timestamp
  // in the Prefix itself does not take its place.
  std::string error_prefix(prefix);
  error_prefix.append(kOpen).append(kErrorOutputType).append("}/").append(kDefaultTimePath);
  return EvaluatePrefix(error_prefix, unix_ms, random11, error_output_type);
}

std::string ObjectKey(std::string_view evaluated_prefix, std::string_view stream_name,
                      int64_t version, int64_t unix_ms, std::string_view uuid,
                      std::string_view extension) {
  const struct tm utc = UtcTime(unix_ms);
  std::string key(evaluated_prefix);
  key.append(stream_name).append("-").append(std::to_string(version)).append("-");
  key.append(FourDigits(utc.tm_year + 1900));
  for (int field : {utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec}) {
    key.append("-").append(TwoDigits(field));
  }
  key.append("-").append(uuid).append(extension);
  return key;
}

}  // namespace sluice::delivery
