// HostChannel: the SDK's end of the host services: a HostServices stub on the instance's own
// connection to the host, and the identity every call presents. Internal to the SDK.
//
// Thread-safety: Call() may be used from several threads at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "sluice/host_services.h"
#include "sluice/runtime/v1/runtime.grpc.pb.h"

namespace sluice::internal {

class HostChannel {
 public:
  HostChannel(const std::shared_ptr<grpc::Channel>& channel, std::string instance_id,
              std::string instance_token)
      : stub_(runtime::v1::HostServices::NewStub(channel)),
        instance_id_(std::move(instance_id)),
        instance_token_(std::move(instance_token)) {}

  // Calls one HostServices method for the invoke `request_id`, on behalf of `record`. Throws
  // ConditionalCheckFailed or HostServiceError when the host refuses.
  template <typename Request, typename Response>
  void Call(grpc::Status (runtime::v1::HostServices::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
            const std::string& request_id, const std::string& record, const Request& request,
            Response* response) {
    grpc::ClientContext context;
    context.AddMetadata("sluice-instance-id", instance_id_);
    context.AddMetadata("sluice-instance-token", instance_token_);
    context.AddMetadata("sluice-request-id", request_id);
    if (!record.empty()) {
      context.AddMetadata("sluice-record", record);
    }
    const grpc::Status status = ((*stub_).*method)(&context, request, response);
    if (!status.ok()) {
      Throw(status);
    }
  }

 private:
  [[noreturn]] static void Throw(const grpc::Status& status);

  std::unique_ptr<runtime::v1::HostServices::Stub> stub_;
  const std::string instance_id_;
  const std::string instance_token_;
};

}  // namespace sluice::internal
