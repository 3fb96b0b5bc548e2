// FunctionConfig: everything the invoker needs to run one function version. Built from a
// validated manifest (host/manifest.h); the invoker trusts it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace sluice::invoker {

// What a function may do with a key-value table (manifest "Tables").
enum class TableAccess { kRead, kReadWrite };

struct FunctionConfig {
  std::string name;  // FunctionName
  std::string version = "$LATEST";
  std::string arn;       // arn:aws:lambda:local:000000000000:function:<name>
  std::string code_dir;  // host directory holding the function's files (read-only)
  std::string handler;   // the executable, relative to code_dir
  std::chrono::milliseconds timeout{3000};         // Timeout: per-invoke deadline. Default 3 s
  uint32_t memory_mb = 128;                        // MemorySize. Default 128
  uint32_t ephemeral_storage_mb = 512;             // EphemeralStorage.Size (scratch). Default 512
  std::map<std::string, std::string> environment;  // Environment.Variables
  // ReservedConcurrentExecutions: instances at once. 0 throttles every invoke. Default 16.
  uint32_t max_concurrency = 16;
  std::chrono::milliseconds init_timeout{10000};   // Lambda's init limit. Default 10 s
  std::chrono::milliseconds shutdown_grace{2000};  // Lambda's shutdown limit. Default 2 s
  uint64_t max_request_bytes = 6u << 20;           // invoke payload limit. Default 6 MiB
  uint64_t max_response_bytes = 6u << 20;          // response payload limit. Default 6 MiB
  uint32_t max_processes = 1024;   // processes and threads per instance. Default 1024
  uint32_t max_open_files = 1024;  // open files per instance. Default 1024
  // Host services the function may use (manifest "Tables", "Topics"); anything else is refused.
  std::map<std::string, TableAccess> tables;
  std::set<std::string> topics;  // topics it may publish to
};

}  // namespace sluice::invoker
