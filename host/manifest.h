// The function manifest (function.json): what a function is and how it runs, with AWS Lambda's
// property names where one exists.
//
//   {
//     "FunctionName": "billing_threshold",       // required; 1-64 of [A-Za-z0-9_-]
//     "Handler": "billing_threshold",            // required; the executable (an ELF binary:
//                                                // no interpreter in the sandbox), relative to the
//                                                // manifest's directory, inside it
//     "Description": "free text",                // optional
//     "Timeout": 3,                              // seconds, 1-900; default 3
//     "MemorySize": 128,                         // MB, 128-10240; default 128
//     "EphemeralStorage": {"Size": 512},         // MB of scratch (/tmp), 512-10240; default 512
//     "Environment": {"Variables": {"K": "v"}},  // optional; names [A-Za-z][A-Za-z0-9_]*, not
//                                                // reserved (SLUICE_*, AWS_*, LAMBDA_*), 4 KB
//     "ReservedConcurrentExecutions": 4,         // instances at once, 0-1000; default 16
//     "Files": ["stations.csv", "data/"],        // read-only files/dirs the function needs,
//                                                // relative to the manifest, inside it
//     "Tables": {"spend": "ReadWrite",           // key-value tables it may use through the host
//                "thresholds": "Read"},          // services: "Read" or "ReadWrite"
//     "Topics": ["billing-alerts"]               // topics it may publish to
//   }
//
// Inside the sandbox the handler and the files appear under /var/task at the same relative
// paths. Unknown properties are refused (they are usually typos).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "invoker/function_config.h"

namespace sluice::host {

struct FunctionManifest {
  std::string manifest_path;
  std::string base_dir;            // the manifest's directory: Handler and Files are relative to it
  std::vector<std::string> files;  // Handler first, then Files, relative to base_dir
  std::string description;         // Description; "" when absent
  // The validated settings; code_dir is left empty (the caller stages the files).
  invoker::FunctionConfig config;
};

// Reads and validates a manifest file. Errors are INVALID_ARGUMENT (NOT_FOUND for a missing
// file) and read "<path>: <Property>: <problem>".
Result<FunctionManifest> LoadManifest(const std::string& path);

// The same, from manifest text whose relative paths resolve against base_dir.
Result<FunctionManifest> ParseManifest(const std::string& text, const std::string& base_dir,
                                       const std::string& display_name);

// Copies the handler and files into `code_dir` (created, mode 0755) at the same relative paths,
// readable by the function's unprivileged user.
Status StageFunctionFiles(const FunctionManifest& manifest, const std::string& code_dir);

}  // namespace sluice::host
