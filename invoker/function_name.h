// Function names and ARNs, one rule for every place that accepts or prints them (manifests,
// the function store, event source mappings).
#pragma once

#include <string>
#include <string_view>

namespace sluice::invoker {

// Lambda's rule for a bare function name: 1-64 characters of [A-Za-z0-9_-].
bool IsValidFunctionName(std::string_view name);

// arn:aws:lambda:local:000000000000:function:<name>, with ":<qualifier>" unless qualifier is
// empty or "$LATEST".
std::string FunctionArn(const std::string& name, const std::string& qualifier = "");

}  // namespace sluice::invoker
