#include "tests/delivery/delivery_fixture.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "delivery/delivery_config.h"

namespace sluice::delivery::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

template <typename T>
T Must(Result<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(*result);
}

}  // namespace

json DirectoryRequest(const std::string& name, const std::string& dir, const json& extra) {
  json destination = {{"BucketARN", "file://" + dir},
                      {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 0}}}};
  destination.update(extra);
  return {{"DeliveryStreamName", name}, {"ExtendedS3DestinationConfiguration", destination}};
}

json TransformWith(const std::map<std::string, std::string>& parameters) {
  json list = json::array({{{"ParameterName", "LambdaArn"}, {"ParameterValue", kTransform}}});
  for (const auto& [name, value] : parameters) {
    list.push_back({{"ParameterName", name}, {"ParameterValue", value}});
  }
  return {{"Enabled", true}, {"Processors", {{{"Type", "Lambda"}, {"Parameters", list}}}}};
}

std::string AllContent(const std::map<std::string, std::string>& objects) {
  std::string all;
  for (const auto& [key, content] : objects) {
    all += content;
  }
  return all;
}

std::map<std::string, std::string> Under(const std::map<std::string, std::string>& objects,
                                         const std::string& prefix) {
  std::map<std::string, std::string> out;
  for (const auto& [key, content] : objects) {
    if (key.rfind(prefix, 0) == 0) {
      out[key] = content;
    }
  }
  return out;
}

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(json::parse(text.substr(start, end - start)));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

std::vector<std::string> Numbered(const std::string& prefix, int n) {
  std::vector<std::string> records;
  for (int i = 0; i < n; ++i) {
    records.push_back(prefix);
    records.back().append(std::to_string(i)).append("\n");
  }
  return records;
}

// Resolves transform_probe ($LATEST) to the harness's pool, which outlives the service.
class DeliveryFixture::PoolResolver : public poller::FunctionResolver {
 public:
  explicit PoolResolver(invoker::FunctionPool* pool) : pool_(pool) {}
  std::shared_ptr<invoker::FunctionPool> Find(const std::string& name,
                                              const std::string& qualifier) override {
    if (name != kTransform || qualifier != "$LATEST") {
      return nullptr;
    }
    return std::shared_ptr<invoker::FunctionPool>(std::shared_ptr<void>(), pool_);
  }

 private:
  invoker::FunctionPool* const pool_;
};

DeliveryFixture::DeliveryFixture() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/sluice-delivery-test-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = pattern;
  stream::StreamStoreOptions stream_options;
  stream_options.data_dir = dir_ + "/data";
  stream_options.retention_check_interval_ms = 0;
  streams_ = Must(stream::StreamStore::Open(stream_options, &Clock::Real()));
  db_ = Must(state::StateDb::Open(dir_ + "/sluice.db", state::DbDurability::kOs));
  harness_ = std::make_unique<sluice::testing::InvokeHarness>(
      TRANSFORM_PROBE_BIN, [](invoker::FunctionConfig* config) {
        config->name = kTransform;
        config->arn = kTransformArn;
        config->timeout = std::chrono::milliseconds(2000);
      });
  resolver_ = std::make_unique<PoolResolver>(&harness_->pool());
  StartService();
}

DeliveryFixture::~DeliveryFixture() {
  service_.reset();  // stops every pipeline; invokes in flight finish
  resolver_.reset();
  harness_.reset();  // ends every function process
  db_.reset();
  streams_.reset();
  std::error_code error;
  fs::remove_all(dir_, error);
}

void DeliveryFixture::StopService() {
  service_.reset();
}

void DeliveryFixture::StartService() {
  REQUIRE(service_ == nullptr);
  DeliveryServiceDeps deps;
  deps.data_dir = dir_ + "/data";
  deps.db = db_.get();
  deps.streams = streams_.get();
  deps.functions = resolver_.get();
  deps.clock = &Clock::Real();
  service_ = Must(DeliveryService::Start(std::move(deps)));
}

void DeliveryFixture::Create(const json& request) {
  DeliveryStreamConfig config = Must(ParseDeliveryStreamConfig(request));
  const Status created = service_->Create(config);
  INFO(created.ToString());
  REQUIRE(created.ok());
}

std::vector<std::string> DeliveryFixture::Put(const std::string& name,
                                              const std::vector<std::string>& records) {
  std::vector<std::string_view> views(records.begin(), records.end());
  return Must(service_->Put(name, views));
}

DeliveryStats DeliveryFixture::Stats(const std::string& name) const {
  for (DeliveryStats& stats : service_->Stats()) {
    if (stats.name == name) {
      return stats;
    }
  }
  FAIL("no delivery stream " << name);
  return {};
}

std::map<std::string, std::string> DeliveryFixture::Files(const std::string& dir) const {
  std::map<std::string, std::string> files;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return files;
  }
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir, error)) {
    // A DirectoryStore's temporary files (".<name>.tmp-...") are not objects: one caught
    // between its write and its rename would show an object twice.
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with('.')) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    files[fs::relative(entry.path(), dir).string()] = content.str();
  }
  return files;
}

std::vector<std::string> DeliveryFixture::Chunks() const {
  std::vector<std::string> chunks;
  for (const std::string& request_id : harness_->RequestIds()) {
    for (const std::string& line : harness_->LogsOf(request_id)) {
      if (const size_t at = line.find("\tINFO\tCHUNK "); at != std::string::npos) {
        chunks.push_back(line.substr(at + 6));
      }
    }
  }
  return chunks;
}

void DeliveryFixture::WaitUntil(const std::function<bool()>& done, const std::string& what) const {
  const auto give_up = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) {
      FAIL("gave up waiting for " << what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sluice::delivery::testing
