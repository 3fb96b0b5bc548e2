// Helpers for the host integration tests: the real `sluice` CLI pointed at a SluiceServer's data
// directory, and throwaway function directories holding a test function and its manifest.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sluice/base64.h"
#include "tests/support/run_command.h"
#include "tests/support/sluice_server.h"

namespace sluice::testing {

// Runs `sluice ARGS... --data-dir DIR`.
inline CommandResult Sluice(const SluiceServer& server, std::vector<std::string> args,
                            const std::string& stdin_text = "") {
  args.insert(args.begin(), SLUICE_BIN);
  args.push_back("--data-dir");
  args.push_back(server.data_dir());
  return RunCommand(args, stdin_text);
}

// A temporary directory with a copy of a function binary and a function.json for it; removed by
// the destructor. `manifest_extra` is appended inside the manifest's JSON object.
class FunctionDir {
 public:
  FunctionDir(const std::string& name, const std::string& binary,
              const std::string& manifest_extra = "") {
    char tmpl[] = "/tmp/sluice-host-fn-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string handler = std::filesystem::path(binary).filename().string();
    std::filesystem::copy_file(binary, dir_ + "/" + handler);
    std::ofstream(dir_ + "/function.json")
        << R"({"FunctionName": ")" << name << R"(", "Handler": ")" << handler << '"'
        << manifest_extra << "}";
  }
  ~FunctionDir() { std::filesystem::remove_all(dir_); }
  FunctionDir(const FunctionDir&) = delete;
  FunctionDir& operator=(const FunctionDir&) = delete;

  std::string manifest() const { return dir_ + "/function.json"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The env_echo function under `name`, answering every record with `echo`.
inline std::string EchoManifestExtra(const std::string& echo) {
  return R"(, "Environment": {"Variables": {"ECHO": ")" + echo + R"("}})";
}

inline const std::string& FirehoseEvent() {
  static const std::string event = SLUICE_FUNCTIONS_DIR "/upper_transform/firehose-event.json";
  return event;
}

inline const std::string& KinesisEvent() {
  static const std::string event = SLUICE_FUNCTIONS_DIR "/hello_stream/kinesis-event.json";
  return event;
}

// A Kinesis event whose records (sequence numbers 1, 2, ...) carry `datas`.
inline std::string KinesisEventJson(const std::vector<std::string>& datas) {
  nlohmann::json records = nlohmann::json::array();
  for (size_t i = 0; i < datas.size(); ++i) {
    const std::string seq = std::to_string(i + 1);
    records.push_back({{"kinesis",
                        {{"partitionKey", "p"},
                         {"sequenceNumber", seq},
                         {"data", Base64Encode(datas[i])},
                         {"approximateArrivalTimestamp", 1.5}}},
                       {"eventSource", "aws:kinesis"},
                       {"eventID", "shardId-000000000000:" + seq},
                       {"eventSourceARN", "arn:aws:kinesis:local:000000000000:stream/s"}});
  }
  return nlohmann::json({{"Records", records}}).dump();
}

// The lines of a file (none if it does not exist), e.g. a file subscriber's notifications.
inline std::vector<std::string> FileLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

}  // namespace sluice::testing
