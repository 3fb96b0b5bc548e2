// ApplyStack: makes the host match a parsed stack (host/stack.h), for the control API's Apply.
//
// Order: every manifest is loaded and validated first (a bad one stops apply before anything
// changes), then streams, topics with their subscriptions, and functions last, so a function the
// stack deploys finds its topics, then event source mappings (which need their functions and
// streams) and delivery streams (which need their source streams and transform functions). Each
// resource yields one StackAction:
//
//   created stream tolls (2 shards)            unchanged stream tolls
//   updated stream tolls: retention 24 -> 48 hours
//   created topic billing-alerts               unchanged topic billing-alerts
//   subscribed stdout to billing-alerts        unchanged subscription stdout on billing-alerts
//   updated subscription stdout on billing-alerts (secret, delivery policy)
//   unsubscribed stdout from billing-alerts    (on a stack topic, not in the stack)
//   deployed function f ($LATEST code 0123456789ab)    unchanged function f
//   created mapping f <- tolls (<uuid>)        unchanged mapping f <- tolls
//   updated mapping f <- tolls: BatchSize, Enabled
//   created delivery stream lake               unchanged delivery stream lake
//   updated delivery stream lake: ExtendedS3DestinationConfiguration.Prefix
//
// Errors name the resource by its JSON path: "stack.json: Streams[0]: stream tolls has 2 open
// shards, the stack says 4; ...", "stack.json: Functions[1].Manifest: /abs/f.json: Timeout: ...".
// An error after something was applied leaves it applied and says "(stopped after applying N
// resources; they stay applied)".
//
// Thread-safety: as its dependencies (all thread-safe).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "delivery/delivery_service.h"
#include "host/function_store.h"
#include "host/manifest.h"
#include "host/stack.h"
#include "poller/poller_service.h"
#include "state/state_db.h"
#include "stream/stream_store.h"

namespace sluice::host {

enum class StackChange { kCreated, kUpdated, kUnchanged, kRemoved };

struct StackAction {
  StackChange change;
  std::string line;
};

struct StackTargets {
  stream::StreamStore* streams = nullptr;
  state::StateDb* db = nullptr;  // topics and subscriptions (state::TopicCatalog)
  // Deploys one function as `sluice deploy` does.
  std::function<Result<DeployOutcome>(const FunctionManifest&)> deploy;
  poller::PollerService* pollers = nullptr;  // event source mappings
  delivery::DeliveryService* delivery_streams = nullptr;
};

// `display_name` prefixes errors, as in ParseStack.
Result<std::vector<StackAction>> ApplyStack(const Stack& stack, const StackTargets& targets,
                                            const std::string& display_name);

}  // namespace sluice::host
