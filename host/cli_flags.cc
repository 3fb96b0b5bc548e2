#include "host/cli_flags.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace sluice::host {

Result<CliFlags> CliFlags::Parse(const std::vector<std::string>& args,
                                 const std::set<std::string>& with_value,
                                 const std::set<std::string>& switches) {
  CliFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) {
      flags.positionals_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (switches.count(name) != 0) {
      if (value) {
        return InvalidArgument(name + " takes no value");
      }
      flags.values_[name] = "";
      continue;
    }
    if (with_value.count(name) == 0) {
      return InvalidArgument("unknown option " + name);
    }
    if (!value) {
      // "--shards --endpoint URL" is a forgotten value, not the value "--endpoint".
      if (i + 1 >= args.size() || with_value.count(args[i + 1]) != 0 ||
          switches.count(args[i + 1]) != 0) {
        return InvalidArgument(name + " needs a value");
      }
      value = args[++i];
    }
    flags.values_[name] = *value;
  }
  return flags;
}

std::optional<std::string> CliFlags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    return std::nullopt;
  }
  return it->second;
}

Result<int64_t> CliFlags::Integer(const std::string& name, int64_t fallback, int64_t min,
                                  int64_t max) const {
  std::optional<std::string> text = Get(name);
  if (!text) {
    return fallback;
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    return InvalidArgument(name + ": must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max) + ", got '" + *text + "'");
  }
  return value;
}

Result<std::string> ReadCliInput(const std::string& path, const std::string& what) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound(path + ": no such " + what);
  }
  std::ifstream in(path);
  text << in.rdbuf();
  if (!in || std::filesystem::is_directory(path, ec)) {
    return InvalidArgument(path + ": cannot read the " + what);
  }
  return text.str();
}

int UsageError(const std::string& verb, const std::string& problem, const char* usage) {
  std::cerr << "sluice " << verb << ": " << problem << "\n\n" << usage;
  return 2;
}

int ReportFailure(const std::string& verb, const Status& status) {
  std::cerr << "sluice " << verb << ": " << status.message() << std::endl;
  return status.code() == Code::kUnavailable ? 2 : 1;
}

}  // namespace sluice::host
