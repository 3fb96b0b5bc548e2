// RunCommand: runs a program to completion with captured stdout and stderr, for tests of the
// real `sluice` binary. The child is always reaped before it returns.
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// The complete lines of a command's output, without their newlines.
std::vector<std::string> Lines(const std::string& text);

}  // namespace sluice::testing
