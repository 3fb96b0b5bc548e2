#include "base/json_fields.h"

namespace sluice {

Result<nlohmann::json> ParseJsonDocument(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // what(): "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    std::string detail = e.what();
    const size_t at = detail.find(" at line ");
    detail = at == std::string::npos ? "at byte " + std::to_string(e.byte) : detail.substr(at + 4);
    return InvalidArgument(name + ": not valid JSON: " + detail);
  }
}

using nlohmann::json;

Status JsonFields::Check(const std::set<std::string>& known) const {
  if (!object_.is_object()) {
    return InvalidArgument((path_.empty() ? root_name_ : path_) + ": must be an object");
  }
  for (const auto& [key, value] : object_.items()) {
    if (!known.count(key)) {
      std::string list;
      for (const std::string& name : known) {
        list += (list.empty() ? "" : ", ") + name;
      }
      return InvalidArgument(Where(key) + ": unknown property (known: " + list + ")");
    }
  }
  return Status::Ok();
}

std::string JsonFields::Where(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

Status JsonFields::String(const std::string& key, bool required, std::string* out) const {
  auto it = object_.find(key);
  if (it == object_.end()) {
    return required ? InvalidArgument(Where(key) + ": required") : Status::Ok();
  }
  if (!it->is_string()) {
    return InvalidArgument(Where(key) + ": must be a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status JsonFields::Integer(const std::string& key, int64_t min, int64_t max, int64_t* out) const {
  auto it = object_.find(key);
  if (it == object_.end()) {
    return Status::Ok();
  }
  // An unsigned value above INT64_MAX would wrap to a negative int64_t (18446744073709551615 to
  // -1), so it is out of range however it converts.
  const bool fits =
      it->is_number_integer() &&
      !(it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX));
  if (!fits || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return InvalidArgument(Where(key) + ": must be an integer from " + std::to_string(min) +
                           " to " + std::to_string(max) + ", got " + it->dump());
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status JsonFields::Bool(const std::string& key, bool* out) const {
  auto it = object_.find(key);
  if (it == object_.end()) {
    return Status::Ok();
  }
  if (!it->is_boolean()) {
    return InvalidArgument(Where(key) + ": must be true or false, got " + it->dump());
  }
  *out = it->get<bool>();
  return Status::Ok();
}

Result<std::vector<const json*>> JsonFields::Array(const std::string& key) const {
  std::vector<const json*> elements;
  auto it = object_.find(key);
  if (it == object_.end()) {
    return elements;
  }
  if (!it->is_array()) {
    return InvalidArgument(Where(key) + ": must be an array");
  }
  for (const json& element : *it) {
    elements.push_back(&element);
  }
  return elements;
}

Result<const json*> JsonFields::Object(const std::string& key) const {
  auto it = object_.find(key);
  if (it == object_.end()) {
    return static_cast<const json*>(nullptr);
  }
  if (!it->is_object()) {
    return InvalidArgument(Where(key) + ": must be an object");
  }
  return &*it;
}

}  // namespace sluice
