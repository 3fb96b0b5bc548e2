#include "poller/event_filter.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <variant>

#include "base/text.h"
#include "poller/mapping_config.h"

namespace sluice::poller {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxPatternChars = 4096;  // Lambda's limit on one Pattern string
constexpr size_t kMaxShownValueChars = 40;

// The alternatives a leaf can hold.
struct ExactMatch {
  Json value;  // a string, number, boolean or null
};
struct PrefixMatch {
  std::string prefix;
};
struct SuffixMatch {
  std::string suffix;
};
struct EqualsIgnoreCaseMatch {
  std::string text;
};
struct NumericBound {
  double value;
  bool inclusive;
};
struct NumericMatch {
  std::optional<NumericBound> lower;
  std::optional<NumericBound> upper;
};
struct ExistsMatch {
  bool exists;
};
struct AnythingButValues {
  std::vector<Json> excluded;  // all strings or all numbers
};
struct AnythingButPrefix {
  std::string prefix;
};
struct AnythingButSuffix {
  std::string suffix;
};
using Alternative =
    std::variant<ExactMatch, PrefixMatch, SuffixMatch, EqualsIgnoreCaseMatch, NumericMatch,
                 ExistsMatch, AnythingButValues, AnythingButPrefix, AnythingButSuffix>;

// One named field of a pattern object: either a nested object (every field must match) or a
// leaf (any alternative must match).
struct FieldPattern {
  std::string name;
  std::vector<FieldPattern> fields;
  std::vector<Alternative> alternatives;
};

template <typename... Lambdas>
struct Overloaded : Lambdas... {
  using Lambdas::operator()...;
};

// ---- Matching ----

// Calls `visit` on `value`, or when it is an array on each element that is not an array
// (descending into nested arrays without recursion, as data may nest deeply); true at the
// first call that returns true.
template <typename Visit>
bool AnyElement(const Json& value, const Visit& visit) {
  if (!value.is_array()) {
    return visit(value);
  }
  std::vector<std::pair<const Json*, size_t>> open_arrays = {{&value, 0}};
  while (!open_arrays.empty()) {
    auto& [array, next] = open_arrays.back();
    if (next == array->size()) {
      open_arrays.pop_back();
      continue;
    }
    const Json& element = (*array)[next++];
    if (element.is_array()) {
      open_arrays.emplace_back(&element, 0);
    } else if (visit(element)) {
      return true;
    }
  }
  return false;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `lowered` is already ASCII-lowercase.
bool EqualsIgnoringAsciiCase(const std::string& text, const std::string& lowered) {
  if (text.size() != lowered.size()) {
    return false;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (AsciiLower(text[i]) != lowered[i]) {
      return false;
    }
  }
  return true;
}

bool InRange(const NumericMatch& range, double number) {
  if (range.lower &&
      (range.lower->inclusive ? number < range.lower->value : number <= range.lower->value)) {
    return false;
  }
  if (range.upper &&
      (range.upper->inclusive ? number > range.upper->value : number >= range.upper->value)) {
    return false;
  }
  return true;
}

// Whether `alternative` (not an ExistsMatch) accepts the scalar `value`. nlohmann's == compares
// numbers by value across integer and floating-point kinds, and other values by type and value.
bool AcceptsScalar(const Alternative& alternative, const Json& value) {
  return std::visit(
      Overloaded{
          [&](const ExactMatch& exact) { return value == exact.value; },
          [&](const PrefixMatch& prefix) {
            return value.is_string() &&
                   StartsWith(value.get_ref<const std::string&>(), prefix.prefix);
          },
          [&](const SuffixMatch& suffix) {
            return value.is_string() &&
                   EndsWith(value.get_ref<const std::string&>(), suffix.suffix);
          },
          [&](const EqualsIgnoreCaseMatch& equals) {
            return value.is_string() &&
                   EqualsIgnoringAsciiCase(value.get_ref<const std::string&>(), equals.text);
          },
          [&](const NumericMatch& range) {
            return value.is_number() && InRange(range, value.get<double>());
          },
          [&](const ExistsMatch&) { return false; },
          [&](const AnythingButValues& anything_but) {
            for (const Json& excluded : anything_but.excluded) {
              if (value == excluded) {
                return false;
              }
            }
            return true;
          },
          [&](const AnythingButPrefix& anything_but) {
            return !value.is_string() ||
                   !StartsWith(value.get_ref<const std::string&>(), anything_but.prefix);
          },
          [&](const AnythingButSuffix& anything_but) {
            return !value.is_string() ||
                   !EndsWith(value.get_ref<const std::string&>(), anything_but.suffix);
          },
      },
      alternative);
}

// A leaf against the record's value of its field (null when absent). Objects are not leaf
// values, so a field holding only objects (or an empty array) counts as absent.
bool LeafMatches(const std::vector<Alternative>& alternatives, const Json* value) {
  const bool present =
      value != nullptr && AnyElement(*value, [](const Json& v) { return !v.is_object(); });
  for (const Alternative& alternative : alternatives) {
    if (const auto* exists = std::get_if<ExistsMatch>(&alternative)) {
      if (exists->exists == present) {
        return true;
      }
    } else if (present && AnyElement(*value, [&](const Json& v) {
                 return !v.is_object() && AcceptsScalar(alternative, v);
               })) {
      return true;
    }
  }
  return false;
}

bool ObjectMatches(const std::vector<FieldPattern>& fields, const Json* value);

// `object` is the record's object holding the field, or null when there is none.
bool FieldMatches(const FieldPattern& field, const Json* object) {
  const Json* value = nullptr;
  if (object != nullptr) {
    const auto it = object->find(field.name);
    if (it != object->end()) {
      value = &*it;
    }
  }
  return field.fields.empty() ? LeafMatches(field.alternatives, value)
                              : ObjectMatches(field.fields, value);
}

// A pattern object against a record value (null when absent). Against an array it matches when
// it matches one element; against anything that is not an object its fields are all absent.
bool ObjectMatches(const std::vector<FieldPattern>& fields, const Json* value) {
  if (value != nullptr && value->is_array() && !value->empty()) {
    return AnyElement(*value, [&](const Json& element) { return ObjectMatches(fields, &element); });
  }
  const Json* object = (value != nullptr && value->is_object()) ? value : nullptr;
  for (const FieldPattern& field : fields) {
    if (!FieldMatches(field, object)) {
      return false;
    }
  }
  return true;
}

// ---- Compiling ----

// `value` as JSON text for messages, shortened.
std::string Shown(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMaxShownValueChars) {
    text.resize(kMaxShownValueChars - 3);
    text += "...";
  }
  return text;
}

Status Invalid(const std::string& where, const std::string& what) {
  return InvalidArgument(where + ": " + what);
}

Result<std::string> CompileString(const Json& operand, const std::string& where) {
  if (!operand.is_string()) {
    return Invalid(where, "must be a string, got " + Shown(operand));
  }
  return operand.get<std::string>();
}

Result<NumericMatch> CompileNumeric(const Json& operand, const std::string& where) {
  if (!operand.is_array() || (operand.size() != 2 && operand.size() != 4)) {
    return Invalid(where,
                   "must be an array of one or two comparisons such as [\">\", 0, \"<=\", 5], "
                   "got " +
                       Shown(operand));
  }
  NumericMatch range;
  for (size_t i = 0; i < operand.size(); i += 2) {
    const Json& comparison = operand[i];
    const Json& number = operand[i + 1];
    const std::string comparison_where = Indexed(where, i);
    if (!comparison.is_string()) {
      return Invalid(comparison_where,
                     "must be a comparison (=, >, >=, <, <=), got " + Shown(comparison));
    }
    const std::string& op = comparison.get_ref<const std::string&>();
    if (op != "=" && op != ">" && op != ">=" && op != "<" && op != "<=") {
      return Invalid(comparison_where,
                     "unknown comparison " + Shown(comparison) + " (expected =, >, >=, <, <=)");
    }
    if (!number.is_number()) {
      return Invalid(Indexed(where, i + 1),
                     "the operand of \"" + op + "\" must be a number, got " + Shown(number));
    }
    const NumericBound bound{number.get<double>(), op != ">" && op != "<"};
    if (op == "=") {
      if (operand.size() != 2) {
        return Invalid(where, "\"=\" cannot be combined with another comparison");
      }
      range.lower = bound;
      range.upper = bound;
    } else if (op[0] == '>') {
      if (i != 0) {
        return Invalid(where, "a range is a lower bound (> or >=) then an upper bound (< or <=)");
      }
      range.lower = bound;
    } else {
      if (i == 0 && operand.size() == 4) {
        return Invalid(where, "a range is a lower bound (> or >=) then an upper bound (< or <=)");
      }
      range.upper = bound;
    }
  }
  if (operand.size() == 4 && range.lower->value >= range.upper->value) {
    return Invalid(where, "the lower bound " + Shown(operand[1]) +
                              " must be below the upper bound " + Shown(operand[3]));
  }
  return range;
}

// One value of an anything-but: a string or a number.
Status CheckAnythingButValue(const Json& value, const std::string& where) {
  if (!value.is_string() && !value.is_number()) {
    return Invalid(where, "anything-but excludes strings or numbers, got " + Shown(value));
  }
  return Status::Ok();
}

Result<Alternative> CompileAnythingBut(const Json& operand, const std::string& where) {
  if (operand.is_object()) {
    if (operand.size() != 1) {
      return Invalid(where,
                     "must have exactly one key, \"prefix\" or \"suffix\", got " + Shown(operand));
    }
    const std::string& op = operand.begin().key();
    const std::string op_where = where + "." + op;
    if (op != "prefix" && op != "suffix") {
      return Invalid(where, "unknown anything-but operator " + Shown(Json(op)) +
                                " (expected prefix or suffix)");
    }
    const Json& text = operand.begin().value();
    if (!text.is_string() || text.get_ref<const std::string&>().empty()) {
      return Invalid(op_where, "must be a non-empty string, got " + Shown(text));
    }
    if (op == "prefix") {
      return Alternative(AnythingButPrefix{text.get<std::string>()});
    }
    return Alternative(AnythingButSuffix{text.get<std::string>()});
  }
  AnythingButValues anything_but;
  if (!operand.is_array()) {
    SLUICE_RETURN_IF_ERROR(CheckAnythingButValue(operand, where));
    anything_but.excluded.push_back(operand);
    return Alternative(std::move(anything_but));
  }
  if (operand.empty()) {
    return Invalid(where, "an empty list excludes nothing; list at least one value");
  }
  for (size_t i = 0; i < operand.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(CheckAnythingButValue(operand[i], Indexed(where, i)));
    if (operand[i].is_string() != operand[0].is_string()) {
      return Invalid(Indexed(where, i),
                     "an anything-but list holds only strings or only numbers, got " +
                         Shown(operand[i]) + " after " + Shown(operand[0]));
    }
    anything_but.excluded.push_back(operand[i]);
  }
  return Alternative(std::move(anything_but));
}

// An operator object: {"<operator>": operand}.
Result<Alternative> CompileOperator(const Json& object, const std::string& where) {
  if (object.size() != 1) {
    return Invalid(where, "an operator object must have exactly one key, got " + Shown(object));
  }
  const std::string& op = object.begin().key();
  const Json& operand = object.begin().value();
  const std::string op_where = where + "." + op;
  if (op == "prefix" || op == "suffix" || op == "equals-ignore-case") {
    Result<std::string> text = CompileString(operand, op_where);
    if (!text.ok()) {
      return text.status();
    }
    if (op == "prefix") {
      return Alternative(PrefixMatch{std::move(*text)});
    }
    if (op == "suffix") {
      return Alternative(SuffixMatch{std::move(*text)});
    }
    for (char& c : *text) {
      c = AsciiLower(c);
    }
    return Alternative(EqualsIgnoreCaseMatch{std::move(*text)});
  }
  if (op == "numeric") {
    Result<NumericMatch> range = CompileNumeric(operand, op_where);
    if (!range.ok()) {
      return range.status();
    }
    return Alternative(*range);
  }
  if (op == "exists") {
    if (!operand.is_boolean()) {
      return Invalid(op_where, "must be true or false, got " + Shown(operand));
    }
    return Alternative(ExistsMatch{operand.get<bool>()});
  }
  if (op == "anything-but") {
    return CompileAnythingBut(operand, op_where);
  }
  return Invalid(where, "unknown operator " + Shown(Json(op)) +
                            " (expected prefix, suffix, equals-ignore-case, numeric, exists or "
                            "anything-but)");
}

Result<std::vector<FieldPattern>> CompileObject(const Json& object, const std::string& where);

// The field `name` of a pattern object, whose path is `where`.
Result<FieldPattern> CompileField(const std::string& name, const Json& value,
                                  const std::string& where) {
  FieldPattern field;
  field.name = name;
  if (value.is_object()) {
    Result<std::vector<FieldPattern>> fields = CompileObject(value, where);
    if (!fields.ok()) {
      return fields.status();
    }
    field.fields = std::move(*fields);
    return field;
  }
  if (!value.is_array()) {
    return Invalid(where, "a pattern leaf must be an array, got " + Shown(value));
  }
  if (value.empty()) {
    return Invalid(where, "an empty array matches nothing; list at least one alternative");
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const Json& element = value[i];
    if (element.is_object()) {
      Result<Alternative> alternative = CompileOperator(element, Indexed(where, i));
      if (!alternative.ok()) {
        return alternative.status();
      }
      field.alternatives.push_back(std::move(*alternative));
    } else if (element.is_array()) {
      return Invalid(Indexed(where, i),
                     "an alternative must be a string, number, boolean, null or operator object, "
                     "got " +
                         Shown(element));
    } else {
      field.alternatives.emplace_back(ExactMatch{element});
    }
  }
  return field;
}

// A pattern object (every field must match) whose path is `where`.
Result<std::vector<FieldPattern>> CompileObject(const Json& object, const std::string& where) {
  if (object.empty()) {
    return Invalid(where, "an empty object matches nothing; name at least one field");
  }
  std::vector<FieldPattern> fields;
  for (const auto& [name, value] : object.items()) {
    Result<FieldPattern> field = CompileField(name, value, where + "." + name);
    if (!field.ok()) {
      return field.status();
    }
    fields.push_back(std::move(*field));
  }
  return fields;
}

// One pattern's JSON text to the fields of its "data" object; errors are relative to the
// pattern ("data.lane: ...").
Result<std::vector<FieldPattern>> CompileDataFields(const std::string& text) {
  const size_t chars = Utf8CharCount(text);
  if (chars > kMaxPatternChars) {
    return InvalidArgument("must be at most " + std::to_string(kMaxPatternChars) +
                           " characters, got " + std::to_string(chars));
  }
  Json pattern;
  try {
    pattern = Json::parse(text);
  } catch (const Json::exception& e) {
    // A parse_error, or out_of_range for a number too large for a double; e.what() is like
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    const std::string what = e.what();
    const size_t tag_end = what.find("] ");
    return InvalidArgument("not JSON: " +
                           (tag_end == std::string::npos ? what : what.substr(tag_end + 2)));
  }
  if (!pattern.is_object()) {
    return InvalidArgument("must be a JSON object, got " + Shown(pattern));
  }
  for (const auto& [key, value] : pattern.items()) {
    if (key != "data") {
      return Invalid(key, "a Kinesis filter pattern may name only \"data\" (the record's data)");
    }
  }
  const auto data = pattern.find("data");
  if (data == pattern.end()) {
    return InvalidArgument("an empty pattern matches nothing; name \"data\"");
  }
  if (!data->is_object()) {
    return Invalid(
        "data", "must be an object naming fields of the record's JSON data, got " + Shown(*data));
  }
  return CompileObject(*data, "data");
}

}  // namespace

struct EventFilter::Pattern {
  std::vector<FieldPattern> data_fields;
};

EventFilter::EventFilter() = default;
EventFilter::~EventFilter() = default;

Result<std::unique_ptr<EventFilter>> EventFilter::Compile(const std::vector<std::string>& patterns,
                                                          const std::string& path) {
  const std::string filters_path = path + ".Filters";
  if (patterns.size() > static_cast<size_t>(kMaxFilters)) {
    return InvalidArgument(filters_path + ": at most " + std::to_string(kMaxFilters) +
                           " filters, got " + std::to_string(patterns.size()));
  }
  std::unique_ptr<EventFilter> filter(new EventFilter());
  for (size_t i = 0; i < patterns.size(); ++i) {
    Result<std::vector<FieldPattern>> data_fields = CompileDataFields(patterns[i]);
    if (!data_fields.ok()) {
      return data_fields.status().WithContext(Indexed(filters_path, i) + ".Pattern");
    }
    auto pattern = std::make_unique<Pattern>();
    pattern->data_fields = std::move(*data_fields);
    filter->patterns_.push_back(std::move(pattern));
  }
  return filter;
}

bool EventFilter::empty() const {
  return patterns_.empty();
}

bool EventFilter::Matches(std::string_view data) const {
  if (patterns_.empty()) {
    return true;
  }
  const Json record = Json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) {  // not JSON (discarded), or a JSON value that is not an object
    return false;
  }
  for (const auto& pattern : patterns_) {
    if (ObjectMatches(pattern->data_fields, &record)) {
      return true;
    }
  }
  return false;
}

}  // namespace sluice::poller
