// FunctionRegistry: the live side of the deployed functions: one FunctionPool per (function,
// version), for the code and config that version has now.
//
// Put() installs a version's row (after the FunctionStore committed it): when its code or config
// changed, a new pool replaces the old one. Invokes hold a shared_ptr to the pool they run on, so
// invokes in flight finish on the old code while new ones start instances of the new code. A
// replaced or removed pool is destroyed when its last invoke returns, on the registry's reaper
// thread (a pool's destructor shuts its instances down and may block for the shutdown grace).
// When the last pool using a code directory is gone, `code_released(code_sha256)` is called on
// that thread (the host removes the directory if no version references it any more).
//
// Thread-safety: thread-safe. The destructor must not race with other calls; pools still held by
// callers must be released before it runs (it waits for them to be destroyed).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "host/function_store.h"
#include "invoker/function_pool.h"

namespace sluice::host {

struct LiveFunction {
  DeployedFunction row;
  std::shared_ptr<invoker::FunctionPool> pool;
};

class FunctionRegistry {
 public:
  FunctionRegistry(invoker::InstanceDeps deps,
                   std::function<void(const std::string& code_sha256)> code_released);
  ~FunctionRegistry();
  FunctionRegistry(const FunctionRegistry&) = delete;
  FunctionRegistry& operator=(const FunctionRegistry&) = delete;

  // Installs `row` as the current state of (row.name, row.version).
  void Put(const DeployedFunction& row);
  // The version and its pool; nullopt when it is not deployed.
  std::optional<LiveFunction> Find(const std::string& name, const std::string& version) const;
  // Drops every version of `name`.
  void RemoveFunction(const std::string& name);
  // Every installed version, by name then version.
  std::vector<LiveFunction> List() const;

 private:
  std::shared_ptr<invoker::FunctionPool> NewPool(const DeployedFunction& row);
  void Reap();  // the reaper thread

  const invoker::InstanceDeps deps_;
  const std::function<void(const std::string&)> code_released_;

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, LiveFunction> live_;  // (name, version)

  // Pools whose last user let go, waiting for the reaper, with their code hash.
  std::mutex reap_mu_;
  std::condition_variable reap_cv_;
  std::deque<std::pair<std::unique_ptr<invoker::FunctionPool>, std::string>> to_reap_;
  std::map<std::string, int> pools_by_code_;  // code hash -> pools not yet destroyed
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace sluice::host
