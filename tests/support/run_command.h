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

// In a child just forked: stdin from `stdin_fd`, stdout and stderr to `output_fd`, every signal
// unblocked, then execv(argv[0], argv). Exits 127 if the exec fails. Only async-signal-safe calls.
[[noreturn]] void ExecWithStdio(char* const argv[], int stdin_fd, int output_fd);

// The complete lines of a command's output, without their newlines.
std::vector<std::string> Lines(const std::string& text);

}  // namespace sluice::testing
