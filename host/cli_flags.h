// CliFlags: the parsed arguments of one CLI verb: positionals, and --name VALUE / --name=VALUE
// options from a declared set. An undeclared option or a missing value is an error that names it.
// A plain value; not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::host {

class CliFlags {
 public:
  // `with_value`: options that take a value ("--shards"); `switches`: options that do not.
  static Result<CliFlags> Parse(const std::vector<std::string>& args,
                                const std::set<std::string>& with_value,
                                const std::set<std::string>& switches = {});

  const std::vector<std::string>& positionals() const { return positionals_; }
  std::optional<std::string> Get(const std::string& name) const;
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // The option as an integer in [min, max]; InvalidArgument naming the option otherwise.
  Result<int64_t> Integer(const std::string& name, int64_t fallback, int64_t min,
                          int64_t max) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::string> values_;
};

// The whole of a CLI verb's input file `path` ("-" reads stdin), for the "event file", the
// "stack file", ... (`what`). Errors read "<path>: no such <what>" (NOT_FOUND) or
// "<path>: cannot read the <what>" (INVALID_ARGUMENT).
Result<std::string> ReadCliInput(const std::string& path, const std::string& what);

// Bad input to a verb: prints "sluice VERB: PROBLEM", a blank line and `usage` to stderr;
// returns exit code 2.
int UsageError(const std::string& verb, const std::string& problem, const char* usage);
// A failed call: prints "sluice VERB: <message>" to stderr; returns 2 when no host answered
// (Unavailable), else 1 (the host refused or failed).
int ReportFailure(const std::string& verb, const Status& status);

}  // namespace sluice::host
