// ControlService: the host's side of the control API (host/proto/sluice/control/v1/control.proto):
// what `sluice deploy`, `invoke`, `kv`, `topics`, `status`, ... ask of a running host.
//
// It only translates: every RPC validates its request, calls the module that owns the state
// (FunctionStore and FunctionRegistry for functions, KvStore, TopicCatalog, Outbox, StreamStore)
// and maps the Status to a gRPC status with the same code and message.
//
// Invoke runs the function with an EffectStage as its host services and, when the invoke
// succeeded, commits the staged effects with the EffectCommitter; a commit whose condition failed
// (ABORTED) turns the response into a function error of type Sluice.ConditionalCheckFailed.
//
// The mapping RPCs parse the JSON they carry and hand it to the PollerService (poller/), which
// validates, stores and runs mappings.
//
// Apply parses the stack (host/stack.h) and applies it with ApplyStack (host/stack_apply.h),
// deploying its functions as Deploy does.
//
// Owns nothing: every pointer in ControlDeps must outlive the service. To add an RPC (mappings,
// delivery streams), add it to the proto and a method here.
//
// Thread-safety: gRPC calls the methods from many threads at once. Deploy, Publish and
// DeleteFunction are serialised, so the registry sees versions in the order they were stored.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "delivery/delivery_service.h"
#include "host/function_logs.h"
#include "host/function_registry.h"
#include "host/function_store.h"
#include "host/manifest.h"
#include "poller/poller_service.h"
#include "sluice/control/v1/control.grpc.pb.h"
#include "state/effect_committer.h"
#include "state/state_db.h"
#include "stream/stream_store.h"

namespace sluice::host {

struct ControlDeps {
  std::string data_dir;
  state::StateDb* db = nullptr;
  FunctionStore* functions = nullptr;
  FunctionRegistry* registry = nullptr;
  FunctionLogs* logs = nullptr;
  stream::StreamStore* streams = nullptr;
  state::EffectCommitter* committer = nullptr;
  poller::PollerService* pollers = nullptr;
  delivery::DeliveryService* delivery_streams = nullptr;
  Clock* clock = &Clock::Real();
  int64_t started_unix_ms = 0;
};

class ControlService final : public control::v1::Control::Service {
 public:
  explicit ControlService(ControlDeps deps) : deps_(std::move(deps)) {}

  using Ctx = grpc::ServerContext;
  grpc::Status Deploy(Ctx*, const control::v1::DeployRequest*,
                      control::v1::DeployResponse*) override;
  grpc::Status Publish(Ctx*, const control::v1::PublishRequest*,
                       control::v1::PublishResponse*) override;
  grpc::Status ListFunctions(Ctx*, const control::v1::ListFunctionsRequest*,
                             control::v1::ListFunctionsResponse*) override;
  grpc::Status DeleteFunction(Ctx*, const control::v1::DeleteFunctionRequest*,
                              control::v1::DeleteFunctionResponse*) override;
  grpc::Status Invoke(Ctx*, const control::v1::InvokeRequest*,
                      control::v1::InvokeResponse*) override;
  grpc::Status Logs(Ctx*, const control::v1::LogsRequest*,
                    grpc::ServerWriter<control::v1::LogsResponse>*) override;

  grpc::Status KvGet(Ctx*, const control::v1::KvGetRequest*, control::v1::KvGetResponse*) override;
  grpc::Status KvPut(Ctx*, const control::v1::KvPutRequest*, control::v1::KvPutResponse*) override;
  grpc::Status KvDelete(Ctx*, const control::v1::KvDeleteRequest*,
                        control::v1::KvDeleteResponse*) override;
  grpc::Status KvScan(Ctx*, const control::v1::KvScanRequest*,
                      control::v1::KvScanResponse*) override;
  grpc::Status KvTables(Ctx*, const control::v1::KvTablesRequest*,
                        control::v1::KvTablesResponse*) override;

  grpc::Status ListTopics(Ctx*, const control::v1::ListTopicsRequest*,
                          control::v1::ListTopicsResponse*) override;
  grpc::Status CreateTopic(Ctx*, const control::v1::CreateTopicRequest*,
                           control::v1::CreateTopicResponse*) override;
  grpc::Status DeleteTopic(Ctx*, const control::v1::DeleteTopicRequest*,
                           control::v1::DeleteTopicResponse*) override;
  grpc::Status Subscribe(Ctx*, const control::v1::SubscribeRequest*,
                         control::v1::SubscribeResponse*) override;
  grpc::Status Unsubscribe(Ctx*, const control::v1::UnsubscribeRequest*,
                           control::v1::UnsubscribeResponse*) override;

  grpc::Status Apply(Ctx*, const control::v1::ApplyRequest*, control::v1::ApplyResponse*) override;

  grpc::Status CreateMapping(Ctx*, const control::v1::CreateMappingRequest*,
                             control::v1::CreateMappingResponse*) override;
  grpc::Status UpdateMapping(Ctx*, const control::v1::UpdateMappingRequest*,
                             control::v1::UpdateMappingResponse*) override;
  grpc::Status GetMapping(Ctx*, const control::v1::GetMappingRequest*,
                          control::v1::GetMappingResponse*) override;
  grpc::Status ListMappings(Ctx*, const control::v1::ListMappingsRequest*,
                            control::v1::ListMappingsResponse*) override;
  grpc::Status DeleteMapping(Ctx*, const control::v1::DeleteMappingRequest*,
                             control::v1::DeleteMappingResponse*) override;

  grpc::Status GetStatus(Ctx*, const control::v1::GetStatusRequest*,
                         control::v1::GetStatusResponse*) override;

 private:
  // Stores the function and makes it $LATEST in the registry (Deploy and Apply).
  Result<DeployOutcome> DeployManifest(const FunctionManifest& manifest);

  const ControlDeps deps_;
  std::mutex admin_mu_;  // Deploy, Publish, DeleteFunction
  // One Apply at a time: two applies of one stack would both see a stream missing and both
  // create it. (Deploys inside an apply take admin_mu_ too.)
  std::mutex apply_mu_;
};

}  // namespace sluice::host
