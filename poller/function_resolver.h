// FunctionResolver: how pollers find the function version a mapping invokes. The host answers
// from its function registry; tests from a pool of their own. Looked up before every attempt, so a
// redeployed function is used from the next batch on, and a deleted one is a host-side error
// (retried without spending MaximumRetryAttempts).
//
// Thread-safety: implementations must be thread-safe.
#pragma once

#include <memory>
#include <string>

#include "invoker/function_pool.h"

namespace sluice::poller {

class FunctionResolver {
 public:
  virtual ~FunctionResolver() = default;
  // The pool of (name, qualifier), or null when it is not deployed.
  virtual std::shared_ptr<invoker::FunctionPool> Find(const std::string& name,
                                                      const std::string& qualifier) = 0;
};

}  // namespace sluice::poller
