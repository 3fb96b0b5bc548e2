// JsonFields: reads one JSON object's properties for a parser that validates user input (stacks,
// mapping definitions), refusing unknown properties; every error names the JSON path of what was
// wrong, e.g. "EventSourceMappings[2].BatchSize: must be an integer from 1 to 10000, got 0".
//
// A JsonFields refers to the object it reads (which must outlive it) and holds no other state.
// Absent optional properties leave the output untouched, so callers preset defaults.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice {

// Parses a user's JSON document (a manifest, a stack, a request file). InvalidArgument
// "<name>: not valid JSON: line L, column C: <what the parser expected>" when it is not JSON.
Result<nlohmann::json> ParseJsonDocument(const std::string& text, const std::string& name);

class JsonFields {
 public:
  // `path` is the object's JSON path ("" for a document's root); `root_name` names the root in
  // messages ("the stack").
  JsonFields(const nlohmann::json& object, std::string path, std::string root_name = "the document")
      : object_(object), path_(std::move(path)), root_name_(std::move(root_name)) {}

  // InvalidArgument unless the value is an object whose properties are all in `known`.
  Status Check(const std::set<std::string>& known) const;
  // The JSON path of property `key`.
  std::string Where(const std::string& key) const;
  bool Has(const std::string& key) const { return object_.contains(key); }

  Status String(const std::string& key, bool required, std::string* out) const;
  // An integer in [min, max].
  Status Integer(const std::string& key, int64_t min, int64_t max, int64_t* out) const;
  Status Bool(const std::string& key, bool* out) const;
  // The array `key` (empty when absent).
  Result<std::vector<const nlohmann::json*>> Array(const std::string& key) const;
  // The object `key`, or null when absent.
  Result<const nlohmann::json*> Object(const std::string& key) const;

 private:
  const nlohmann::json& object_;
  const std::string path_;
  const std::string root_name_;
};

}  // namespace sluice
