#include "host/function_registry.h"

#include <algorithm>

namespace sluice::host {

FunctionRegistry::FunctionRegistry(invoker::InstanceDeps deps,
                                   std::function<void(const std::string&)> code_released)
    : deps_(std::move(deps)),
      code_released_(std::move(code_released)),
      reaper_([this] { Reap(); }) {}

FunctionRegistry::~FunctionRegistry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_.clear();  // pools no invoke holds go to the reaper now
  }
  {
    std::lock_guard<std::mutex> lock(reap_mu_);
    stopping_ = true;
  }
  reap_cv_.notify_all();
  reaper_.join();
}

std::shared_ptr<invoker::FunctionPool> FunctionRegistry::NewPool(const DeployedFunction& row) {
  {
    std::lock_guard<std::mutex> lock(reap_mu_);
    ++pools_by_code_[row.code_sha256];
  }
  return std::shared_ptr<invoker::FunctionPool>(
      new invoker::FunctionPool(row.config, deps_),
      [this, code = row.code_sha256](invoker::FunctionPool* pool) {
        {
          std::lock_guard<std::mutex> lock(reap_mu_);
          to_reap_.emplace_back(std::unique_ptr<invoker::FunctionPool>(pool), code);
        }
        reap_cv_.notify_all();
      });
}

void FunctionRegistry::Reap() {
  std::unique_lock<std::mutex> lock(reap_mu_);
  for (;;) {
    reap_cv_.wait(lock,
                  [this] { return !to_reap_.empty() || (stopping_ && pools_by_code_.empty()); });
    if (to_reap_.empty()) {
      return;  // stopping, and every pool is gone
    }
    auto [pool, code] = std::move(to_reap_.front());
    to_reap_.pop_front();
    lock.unlock();
    pool.reset();  // shuts the instances down; may block
    lock.lock();
    if (--pools_by_code_[code] == 0) {
      pools_by_code_.erase(code);
      lock.unlock();
      code_released_(code);
      lock.lock();
    }
  }
}

void FunctionRegistry::Put(const DeployedFunction& row) {
  std::shared_ptr<invoker::FunctionPool> replaced;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  LiveFunction& live = live_[{row.name, row.version}];
  if (live.pool == nullptr || live.row.code_sha256 != row.code_sha256 ||
      live.row.config_json != row.config_json) {
    replaced = std::move(live.pool);
    live.pool = NewPool(row);
  }
  live.row = row;
}

std::optional<LiveFunction> FunctionRegistry::Find(const std::string& name,
                                                   const std::string& version) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find({name, version});
  if (it == live_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void FunctionRegistry::RemoveFunction(const std::string& name) {
  std::vector<LiveFunction> removed;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = live_.lower_bound({name, ""}); it != live_.end() && it->first.first == name;) {
    removed.push_back(std::move(it->second));
    it = live_.erase(it);
  }
}

std::vector<LiveFunction> FunctionRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LiveFunction> all;
  for (const auto& [key, live] : live_) {
    all.push_back(live);
  }
  std::sort(all.begin(), all.end(), [](const LiveFunction& a, const LiveFunction& b) {
    return a.row.name != b.row.name ? a.row.name < b.row.name
                                    : VersionBefore(a.row.version, b.row.version);
  });
  return all;
}

}  // namespace sluice::host
