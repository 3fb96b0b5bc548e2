// DeliveryFixture: the real pieces of delivery streams, in process, for the pipeline tests: a
// fresh temporary directory with a StreamStore and a StateDb, a real sandboxed function pool of
// transform_probe (tests/functions/transform_probe.cc) behind a FunctionResolver, and a
// DeliveryService on the real clock. Buffer intervals in these tests are 0 or 1 s, and retries
// wait 1 s, 2 s, ...: waits are real time, bounded (kWaitLimit), polling every few milliseconds.
//
// Every process a test starts belongs to the pool, which ends them when the fixture goes (after
// the service, so no invoke is in flight).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "delivery/delivery_service.h"
#include "state/state_db.h"
#include "stream/stream_store.h"
#include "tests/support/invoke_harness.h"

namespace sluice::delivery::testing {

inline constexpr char kTransform[] = "transform_probe";
inline constexpr char kTransformArn[] =
    "arn:aws:lambda:local:000000000000:function:transform_probe";
inline constexpr auto kWaitLimit = std::chrono::seconds(30);

// A CreateDeliveryStream request: DirectPut into the directory `dir`, buffering 1 MiB / 0 s, with
// `extra` merged into ExtendedS3DestinationConfiguration.
nlohmann::json DirectoryRequest(const std::string& name, const std::string& dir,
                                const nlohmann::json& extra = nlohmann::json::object());
// A ProcessingConfiguration running transform_probe with these parameters (name -> value).
nlohmann::json TransformWith(const std::map<std::string, std::string>& parameters = {});

// Objects (key -> content): every content concatenated in key order (keys sort by time, then
// uuid).
std::string AllContent(const std::map<std::string, std::string>& objects);
// The objects whose keys start with `prefix`.
std::map<std::string, std::string> Under(const std::map<std::string, std::string>& objects,
                                         const std::string& prefix);
// One JSON value per '\n'-separated line of `text` (error records); throws on a bad line.
std::vector<nlohmann::json> JsonLines(const std::string& text);
// `n` records "<prefix>0\n", "<prefix>1\n", ...
std::vector<std::string> Numbered(const std::string& prefix, int n);

class DeliveryFixture {
 public:
  DeliveryFixture();
  ~DeliveryFixture();
  DeliveryFixture(const DeliveryFixture&) = delete;
  DeliveryFixture& operator=(const DeliveryFixture&) = delete;

  DeliveryService& service() { return *service_; }
  stream::StreamStore& streams() { return *streams_; }
  // The state database the service keeps its streams and their progress in.
  state::StateDb& db() { return *db_; }
  // A path inside the fixture's temporary directory (not created).
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Destroys the service (its pipelines stop); service() is then invalid until StartService().
  void StopService();
  // Starts a new service on the same database. REQUIRES: stopped.
  void StartService();
  // StopService(), then StartService().
  void RestartService() {
    StopService();
    StartService();
  }
  // Parses `request` and creates the stream; REQUIREs success.
  void Create(const nlohmann::json& request);
  // Puts records into a DirectPut stream; returns their record ids.
  std::vector<std::string> Put(const std::string& name, const std::vector<std::string>& records);

  DeliveryStats Stats(const std::string& name) const;
  // Files under `dir`, recursively: path relative to `dir` -> content, without the directory
  // store's temporary files. Empty if `dir` is missing.
  std::map<std::string, std::string> Files(const std::string& dir) const;
  // The CHUNK lines transform_probe logged: one per invoke.
  std::vector<std::string> Chunks() const;

  // Polls `done` every few milliseconds until it holds; fails the test after kWaitLimit.
  void WaitUntil(const std::function<bool()>& done, const std::string& what) const;

 private:
  class PoolResolver;

  std::string dir_;
  std::unique_ptr<stream::StreamStore> streams_;
  std::unique_ptr<state::StateDb> db_;
  std::unique_ptr<sluice::testing::InvokeHarness> harness_;
  std::unique_ptr<PoolResolver> resolver_;
  std::unique_ptr<DeliveryService> service_;
};

}  // namespace sluice::delivery::testing
