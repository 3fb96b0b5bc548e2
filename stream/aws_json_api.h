// What the host's AWS JSON 1.1 APIs (stream/kinesis_api.h, delivery/firehose_api.h) share: the
// request envelope (POST, Content-Type application/x-amz-json-1.1, X-Amz-Target
// "<Prefix>.<Operation>", a JSON object body), AWS's error responses ({"__type", "message"}), and
// typed access to request members.
//
// An API handles a request with HandleJsonApi(), its operations being methods of a per-request
// class; anything below fails by throwing ApiError (FailApi, FailValidation), which RunJsonApi
// turns into the error response. These files are the parse edge of the HTTP APIs: no ApiError
// escapes RunJsonApi.
//
// Free functions and plain values; thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "stream/kinesis_api.h"

namespace sluice::stream {

// An error response, thrown by the helpers below and caught by RunJsonApi.
struct ApiError {
  std::string type;  // __type, e.g. "ResourceNotFoundException"
  std::string message;
  int http_status = 400;
};

[[noreturn]] void FailApi(std::string type, std::string message, int http_status = 400);

// ValidationException in AWS's wording for a value that breaks a model constraint:
// "1 validation error detected: Value 'v' at 'path' failed to satisfy constraint: Member must
// <constraint>".
[[noreturn]] void FailValidation(std::string_view value, std::string_view path,
                                 std::string_view constraint);

// ValidationException unless length (of `value`, as shown) is in [min, max].
void CheckLength(std::string_view value, size_t length, size_t min, size_t max, const char* path);

// Appends `text` as a JSON string literal (quotes included; bytes >= 0x80 copied as they are).
void AppendJsonString(std::string* out, std::string_view text);

// The operation an API request names: checks the method (POST, else 405), the content type
// (application/x-amz-json-1.1, else 404) and that X-Amz-Target starts with `target_prefix`
// ("Kinesis_20131202."), and returns what follows it. `service` names the API in messages.
std::string_view OperationOf(const ApiRequest& request, std::string_view target_prefix,
                             std::string_view service);

// UnknownOperationException for an operation the API does not have.
[[noreturn]] void FailUnknownOperation(std::string_view target_prefix, std::string_view operation);

// The request body, which must be a JSON object (SerializationException otherwise).
nlohmann::json ParseRequestBody(std::string_view body);

// The response for a failed request.
ApiResponse ErrorResponse(const ApiError& error);

// Runs `handle` (returning the success body, "" for none) and turns what it throws (ApiError, or
// a JSON type error from an unexpected value) into the error response.
template <typename Handle>
ApiResponse RunJsonApi(Handle&& handle) {
  try {
    ApiResponse response;
    response.body = handle();
    return response;
  } catch (const ApiError& error) {
    return ErrorResponse(error);
  } catch (const nlohmann::json::exception& e) {
    // A type the JsonMembers accessors did not expect (can't-happen, but never crash on input).
    return ErrorResponse(
        {"SerializationException", "unexpected value type (error " + std::to_string(e.id) + ")"});
  }
}

// One request of an API whose operations are methods of `Call` returning the success body:
// checks the envelope (OperationOf), finds the operation in `operations`, parses the body and runs
// the operation on make_call(body).
template <typename Call, size_t N, typename MakeCall>
ApiResponse HandleJsonApi(
    const ApiRequest& request, std::string_view target_prefix, std::string_view service,
    const std::pair<std::string_view, std::string (Call::*)()> (&operations)[N],
    MakeCall&& make_call) {
  return RunJsonApi([&] {
    const std::string_view name = OperationOf(request, target_prefix, service);
    const auto* operation = std::find_if(std::begin(operations), std::end(operations),
                                         [&](const auto& entry) { return entry.first == name; });
    if (operation == std::end(operations)) {
      FailUnknownOperation(target_prefix, name);
    }
    const nlohmann::json body = ParseRequestBody(request.body);
    Call call = make_call(body);
    return (call.*(operation->second))();
  });
}

// Typed access to the members of a request body. Absent and null members read as absent (as
// AWS's and kinesalite's decoders do); a member of the wrong type is a SerializationException.
// Refers to `body`, which must outlive it.
class JsonMembers {
 public:
  explicit JsonMembers(const nlohmann::json& body) : body_(body) {}

  const nlohmann::json* Member(const char* name) const;
  std::optional<std::string_view> String(const char* name) const;
  // ValidationException "... at 'path' ... Member must not be null" when absent.
  std::string_view RequiredString(const char* name, const char* path) const;
  std::optional<int64_t> Integer(const char* name) const;
  // ValidationException when present and outside [min, max].
  std::optional<int64_t> IntegerIn(const char* name, const char* path, int64_t min,
                                   int64_t max) const;
  // Epoch seconds (fractions are milliseconds), as JSON 1.1 sends timestamps.
  std::optional<int64_t> TimestampMs(const char* name) const;
  const nlohmann::json* Object(const char* name) const;
  const nlohmann::json* Array(const char* name) const;

 private:
  const nlohmann::json& body_;
};

}  // namespace sluice::stream
