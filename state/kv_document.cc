#include "state/kv_document.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "base/text.h"

namespace sluice::state {
namespace {

namespace pb = runtime::v1;
using nlohmann::json;

constexpr size_t kMaxTableNameBytes = 255;
constexpr size_t kMaxKeyBytes = 1024;
constexpr int kMaxDepth = 64;
constexpr int kMaxConditions = 100;
constexpr int kMaxActions = 100;
constexpr size_t kMaxAttributeBytes = 255;
constexpr uint32_t kDefaultQueryLimit = 100;
constexpr uint32_t kMaxQueryLimit = 1000;

// The deepest nesting of arrays and objects in JSON text, counted without parsing (strings
// skipped), so that a hostile document is refused before the recursive parser sees it.
int NestingDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// The size and depth limits of a value, on its text.
Status CheckValueLimits(const std::string& what, std::string_view text) {
  if (text.size() > kMaxValueBytes) {
    return InvalidArgument(what + ": " + std::to_string(text.size()) + " bytes is more than the " +
                           std::to_string(kMaxValueBytes) + " bytes allowed");
  }
  if (NestingDepth(text) > kMaxDepth) {
    return InvalidArgument(what + ": nested more than " + std::to_string(kMaxDepth) +
                           " levels deep");
  }
  return Status::Ok();
}

Result<json> Parse(const std::string& what, const std::string& text) {
  SLUICE_RETURN_IF_ERROR(CheckValueLimits(what, text));
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // Not e.what(): it quotes the offending bytes, which need not be valid UTF-8.
    return InvalidArgument(what + ": not one valid JSON document (error at byte " +
                           std::to_string(e.byte) + ")");
  } catch (const json::exception&) {  // out_of_range: a number too large for a double
    return InvalidArgument(what + ": holds a number out of range");
  }
}

Status ValidateAttribute(const std::string& what, const std::string& attribute) {
  if (attribute.empty() || attribute.size() > kMaxAttributeBytes) {
    return InvalidArgument(what + ": attribute must be 1-" + std::to_string(kMaxAttributeBytes) +
                           " bytes, got " + std::to_string(attribute.size()));
  }
  if (!IsValidUtf8(attribute)) {
    return InvalidArgument(what + ": attribute is not valid UTF-8");
  }
  return Status::Ok();
}

bool IsComparison(pb::KvCondition::Op op) {
  return op != pb::KvCondition::EXISTS && op != pb::KvCondition::NOT_EXISTS;
}

// Whether `op` holds between `member` (nullptr: missing) and `operand`, as runtime.proto says.
bool Holds(pb::KvCondition::Op op, const json* member, const json& operand) {
  switch (op) {
    case pb::KvCondition::EXISTS: return member != nullptr;
    case pb::KvCondition::NOT_EXISTS: return member == nullptr;
    default: break;
  }
  if (member == nullptr) {
    return false;
  }
  if (op == pb::KvCondition::EQ) {
    return *member == operand;
  }
  if (op == pb::KvCondition::NE) {
    return *member != operand;
  }
  const bool numbers = member->is_number() && operand.is_number();
  const bool strings = member->is_string() && operand.is_string();
  if (!numbers && !strings) {
    return false;
  }
  // nlohmann compares numbers numerically (across integer and floating point) and strings with
  // std::string's operator<, which is bytewise (char_traits<char> compares as unsigned char).
  switch (op) {
    case pb::KvCondition::LT: return *member < operand;
    case pb::KvCondition::LE: return *member <= operand;
    case pb::KvCondition::GT: return *member > operand;
    case pb::KvCondition::GE: return *member >= operand;
    default: return false;
  }
}

std::optional<int64_t> AsInt64(const json& number) {
  if (number.is_number_unsigned()) {
    const uint64_t value = number.get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(value);
  }
  if (number.is_number_integer()) {
    return number.get<int64_t>();
  }
  return std::nullopt;
}

// a + b: an integer while both are integers and the sum fits in int64, otherwise a double.
Result<json> Add(const std::string& what, const json& a, const json& b) {
  const std::optional<int64_t> x = AsInt64(a);
  const std::optional<int64_t> y = AsInt64(b);
  int64_t sum = 0;
  if (x && y && !__builtin_add_overflow(*x, *y, &sum)) {
    return json(sum);
  }
  const double result = a.get<double>() + b.get<double>();
  if (!std::isfinite(result)) {
    return InvalidArgument(what + ": the sum is not a finite number");
  }
  return json(result);
}

}  // namespace

Status ValidateTableName(const std::string& table) {
  if (table.empty() || table.size() > kMaxTableNameBytes) {
    return InvalidArgument("table name: must be 1-" + std::to_string(kMaxTableNameBytes) +
                           " characters, got " + std::to_string(table.size()));
  }
  for (char c : table) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return InvalidArgument("table name: may hold only A-Z, a-z, 0-9, '_', '.' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateKey(const std::string& key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return InvalidArgument("key: must be 1-" + std::to_string(kMaxKeyBytes) + " bytes, got " +
                           std::to_string(key.size()));
  }
  if (!IsValidUtf8(key)) {
    return InvalidArgument("key: not valid UTF-8");
  }
  return Status::Ok();
}

Result<uint32_t> ValidateQuery(const std::string& table, const std::string& key_prefix,
                               uint32_t limit, const std::string& exclusive_start_key) {
  SLUICE_RETURN_IF_ERROR(ValidateTableName(table));
  if (key_prefix.size() > kMaxKeyBytes || !IsValidUtf8(key_prefix)) {
    return InvalidArgument("key_prefix: must be at most " + std::to_string(kMaxKeyBytes) +
                           " bytes of valid UTF-8");
  }
  if (!exclusive_start_key.empty()) {
    SLUICE_RETURN_IF_ERROR(ValidateKey(exclusive_start_key).WithContext("exclusive_start_key"));
  }
  if (limit > kMaxQueryLimit) {
    return InvalidArgument("limit: must be 1-" + std::to_string(kMaxQueryLimit) + " (0 means " +
                           std::to_string(kDefaultQueryLimit) + "), got " + std::to_string(limit));
  }
  return limit == 0 ? kDefaultQueryLimit : limit;
}

Result<nlohmann::json> ParseValue(const std::string& value_json) {
  Result<json> value = Parse("value_json", value_json);
  SLUICE_RETURN_IF_ERROR(value.status());
  // What is stored is the compact form, which can be longer than the text sent (1e14 is stored
  // as 100000000000000.0): the limit holds for what is stored, so a stored item always reads.
  const size_t stored = value->dump().size();
  if (stored > kMaxValueBytes) {
    return InvalidArgument("value_json: " + std::to_string(stored) +
                           " bytes as stored (numbers in their canonical form) is more than the " +
                           std::to_string(kMaxValueBytes) + " bytes allowed");
  }
  return value;
}

Status ValidateConditions(const KvConditions& conditions) {
  if (conditions.size() > kMaxConditions) {
    return InvalidArgument("conditions: at most " + std::to_string(kMaxConditions) +
                           " allowed, got " + std::to_string(conditions.size()));
  }
  for (int i = 0; i < conditions.size(); ++i) {
    const pb::KvCondition& condition = conditions[i];
    const std::string what = Indexed("conditions", i);
    if (condition.op() == pb::KvCondition::OP_UNSPECIFIED ||
        !pb::KvCondition::Op_IsValid(condition.op())) {
      return InvalidArgument(what +
                             ": op must be one of EXISTS, NOT_EXISTS, EQ, NE, LT, LE, GT, GE");
    }
    if (!condition.attribute().empty() || IsComparison(condition.op())) {
      SLUICE_RETURN_IF_ERROR(ValidateAttribute(what, condition.attribute()));
    }
    if (IsComparison(condition.op())) {
      SLUICE_RETURN_IF_ERROR(Parse(what + ".value_json", condition.value_json()).status());
    } else if (!condition.value_json().empty()) {
      return InvalidArgument(what + ": " + pb::KvCondition::Op_Name(condition.op()) +
                             " takes no value_json");
    }
  }
  return Status::Ok();
}

Status ValidateUpdateActions(const KvUpdateActions& actions) {
  if (actions.empty() || actions.size() > kMaxActions) {
    return InvalidArgument("actions: must be 1-" + std::to_string(kMaxActions) + ", got " +
                           std::to_string(actions.size()));
  }
  for (int i = 0; i < actions.size(); ++i) {
    const pb::KvUpdateAction& action = actions[i];
    const std::string what = Indexed("actions", i);
    SLUICE_RETURN_IF_ERROR(ValidateAttribute(what, action.attribute()));
    switch (action.kind()) {
      case pb::KvUpdateAction::SET:
        SLUICE_RETURN_IF_ERROR(Parse(what + ".value_json", action.value_json()).status());
        break;
      case pb::KvUpdateAction::ADD: {
        Result<json> value = Parse(what + ".value_json", action.value_json());
        SLUICE_RETURN_IF_ERROR(value.status());
        if (!value->is_number()) {
          return InvalidArgument(what + ": ADD needs a number in value_json");
        }
        break;
      }
      case pb::KvUpdateAction::REMOVE:
        if (!action.value_json().empty()) {
          return InvalidArgument(what + ": REMOVE takes no value_json");
        }
        break;
      default: return InvalidArgument(what + ": kind must be one of SET, ADD, REMOVE");
    }
  }
  return Status::Ok();
}

Status CheckConditions(const std::string& table, const std::string& key,
                       const std::optional<nlohmann::json>& item, const KvConditions& conditions) {
  for (int i = 0; i < conditions.size(); ++i) {
    const pb::KvCondition& condition = conditions[i];
    const std::string op = pb::KvCondition::Op_Name(condition.op());
    bool holds = false;
    std::string subject;
    if (condition.attribute().empty()) {
      holds = Holds(condition.op(), item ? &*item : nullptr, json());
      subject = "the item";
    } else {
      const json* member = nullptr;
      if (item && item->is_object()) {
        auto it = item->find(condition.attribute());
        member = it != item->end() ? &*it : nullptr;
      }
      json operand;
      if (IsComparison(condition.op())) {
        Result<json> parsed =
            Parse(Indexed("conditions", i) + ".value_json", condition.value_json());
        SLUICE_RETURN_IF_ERROR(parsed.status());
        operand = std::move(*parsed);
      }
      holds = Holds(condition.op(), member, operand);
      subject = "attribute \"" + condition.attribute() + "\"";
    }
    if (!holds) {
      std::string description = subject + " " + op;
      if (IsComparison(condition.op())) {
        description += " " + condition.value_json();
      }
      return FailedPrecondition("ConditionalCheckFailed: " + table + "/" + key + ": " +
                                Indexed("conditions", i) + " (" + description + ") does not hold");
    }
  }
  return Status::Ok();
}

Result<nlohmann::json> ApplyUpdate(const std::optional<nlohmann::json>& item,
                                   const KvUpdateActions& actions) {
  json result = item ? *item : json::object();
  if (!result.is_object()) {
    return InvalidArgument("update: the item is not a JSON object, so it has no attributes");
  }
  for (int i = 0; i < actions.size(); ++i) {
    const pb::KvUpdateAction& action = actions[i];
    const std::string what = Indexed("actions", i);
    if (action.kind() == pb::KvUpdateAction::REMOVE) {
      result.erase(action.attribute());
      continue;
    }
    Result<json> value = Parse(what + ".value_json", action.value_json());
    SLUICE_RETURN_IF_ERROR(value.status());
    if (action.kind() == pb::KvUpdateAction::SET) {
      result[action.attribute()] = std::move(*value);
      continue;
    }
    auto it = result.find(action.attribute());
    const json current = it != result.end() ? *it : json(0);
    if (!current.is_number() || !value->is_number()) {
      return InvalidArgument(what + ": ADD to attribute \"" + action.attribute() +
                             "\", which is not a number");
    }
    Result<json> sum = Add(what, current, *value);
    SLUICE_RETURN_IF_ERROR(sum.status());
    result[action.attribute()] = std::move(*sum);
  }
  SLUICE_RETURN_IF_ERROR(CheckValueLimits("the updated item", result.dump()));
  return result;
}

}  // namespace sluice::state
