#include "invoker/function_name.h"

#include <algorithm>

namespace sluice::invoker {

bool IsValidFunctionName(std::string_view name) {
  constexpr size_t kMaxChars = 64;
  return !name.empty() && name.size() <= kMaxChars &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

std::string FunctionArn(const std::string& name, const std::string& qualifier) {
  std::string arn = "arn:aws:lambda:local:000000000000:function:" + name;
  if (!qualifier.empty() && qualifier != "$LATEST") {
    arn += ":" + qualifier;
  }
  return arn;
}

}  // namespace sluice::invoker
