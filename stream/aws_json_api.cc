#include "stream/aws_json_api.h"

#include <cmath>
#include <cstdio>

namespace sluice::stream {

using nlohmann::json;

void FailApi(std::string type, std::string message, int http_status) {
  throw ApiError{std::move(type), std::move(message), http_status};
}

void FailValidation(std::string_view value, std::string_view path, std::string_view constraint) {
  FailApi("ValidationException", "1 validation error detected: Value '" + std::string(value) +
                                     "' at '" + std::string(path) +
                                     "' failed to satisfy constraint: Member must " +
                                     std::string(constraint));
}

void CheckLength(std::string_view value, size_t length, size_t min, size_t max, const char* path) {
  if (length < min) {
    FailValidation(value, path, "have length greater than or equal to " + std::to_string(min));
  }
  if (length > max) {
    FailValidation(value, path, "have length less than or equal to " + std::to_string(max));
  }
}

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      default:
        if (static_cast<uint8_t>(c) < 0x20) {
          char escaped[8];
          snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out->append(escaped);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string_view OperationOf(const ApiRequest& request, std::string_view target_prefix,
                             std::string_view service) {
  const std::string_view api = target_prefix.substr(0, target_prefix.size() - 1);  // no '.'
  if (request.method != "POST") {
    FailApi("UnknownOperationException",
            std::string(service) + " API calls are POST / with an X-Amz-Target header; got " +
                std::string(request.method),
            405);
  }
  const std::string_view content_type =
      request.content_type.substr(0, request.content_type.find(';'));
  if (content_type != "application/x-amz-json-1.1") {
    FailApi("UnknownOperationException",
            "Content-Type must be application/x-amz-json-1.1, got '" +
                std::string(request.content_type) +
                "' (a Java SDK sending CBOR needs AWS_CBOR_DISABLE=1 (v1) or "
                "-Daws.cborEnabled=false (v2))",
            404);
  }
  if (request.target.substr(0, target_prefix.size()) != target_prefix) {
    FailApi("UnknownOperationException",
            request.target.empty()
                ? "missing X-Amz-Target header (" + std::string(api) + ".<Operation>)"
                : "X-Amz-Target '" + std::string(request.target) + "' is not a " +
                      std::string(api) + " operation");
  }
  return request.target.substr(target_prefix.size());
}

void FailUnknownOperation(std::string_view target_prefix, std::string_view operation) {
  FailApi("UnknownOperationException", std::string(target_prefix) + std::string(operation) +
                                           " is not an operation Sluice supports");
}

json ParseRequestBody(std::string_view text) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::parse_error& e) {
    // Not e.what(): it quotes the offending bytes, which need not be valid UTF-8.
    FailApi("SerializationException",
            "request body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!body.is_object()) {
    FailApi("SerializationException", "request body must be a JSON object");
  }
  return body;
}

ApiResponse ErrorResponse(const ApiError& error) {
  ApiResponse response;
  response.http_status = error.http_status;
  response.error_type = error.type;
  response.body = "{\"__type\":";
  AppendJsonString(&response.body, error.type);
  response.body.append(",\"message\":");
  AppendJsonString(&response.body, error.message);
  response.body.push_back('}');
  return response;
}

const json* JsonMembers::Member(const char* name) const {
  auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

std::optional<std::string_view> JsonMembers::String(const char* name) const {
  const json* value = Member(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    FailApi("SerializationException",
            std::string(name) + ": expected a string, got " + value->type_name());
  }
  return std::string_view(value->get_ref<const std::string&>());
}

std::string_view JsonMembers::RequiredString(const char* name, const char* path) const {
  std::optional<std::string_view> value = String(name);
  if (!value) {
    FailValidation("null", path, "not be null");
  }
  return *value;
}

std::optional<int64_t> JsonMembers::Integer(const char* name) const {
  const json* value = Member(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number_integer()) {
    FailApi("SerializationException",
            std::string(name) + ": expected an integer, got " + value->type_name());
  }
  return value->get<int64_t>();
}

std::optional<int64_t> JsonMembers::IntegerIn(const char* name, const char* path, int64_t min,
                                              int64_t max) const {
  std::optional<int64_t> value = Integer(name);
  if (value && *value < min) {
    FailValidation(std::to_string(*value), path,
                   "have value greater than or equal to " + std::to_string(min));
  }
  if (value && *value > max) {
    FailValidation(std::to_string(*value), path,
                   "have value less than or equal to " + std::to_string(max));
  }
  return value;
}

std::optional<int64_t> JsonMembers::TimestampMs(const char* name) const {
  const json* value = Member(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number()) {
    FailApi(
        "SerializationException",
        std::string(name) + ": expected a timestamp in epoch seconds, got " + value->type_name());
  }
  const double seconds = value->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e11) {
    FailApi("InvalidArgumentException", std::string(name) + ": not a valid timestamp");
  }
  return std::llround(seconds * 1000.0);
}

const json* JsonMembers::Object(const char* name) const {
  const json* value = Member(name);
  if (value != nullptr && !value->is_object()) {
    FailApi("SerializationException",
            std::string(name) + ": expected an object, got " + value->type_name());
  }
  return value;
}

const json* JsonMembers::Array(const char* name) const {
  const json* value = Member(name);
  if (value != nullptr && !value->is_array()) {
    FailApi("SerializationException",
            std::string(name) + ": expected a list, got " + value->type_name());
  }
  return value;
}

}  // namespace sluice::stream
