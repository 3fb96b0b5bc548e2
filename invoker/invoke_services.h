// InvokeServices: what one invoke of a function may ask of the host (the HostServices RPCs of
// sdk/proto/sluice/runtime/v1/runtime.proto), as the invoker sees it.
//
// Whoever invokes a function (the control API's `sluice invoke`, the pollers) may pass an
// InvokeServices to FunctionPool::Invoke. While that invoke is in flight, the RuntimeServer
// routes every HostServices call that names the invoke's request id, on the instance's own
// connection, to it; before the invoke starts and after it ends, such calls are refused with
// FAILED_PRECONDITION. The implementation (state/effect_stage.h) stages the effects; the invoker
// knows nothing of tables, topics or commits.
//
// Thread-safety: implementations must be thread-safe; a function may call from several threads,
// and a call may still be running when the invoke has ended.
#pragma once

#include <string>

#include "base/status.h"
#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice::invoker {

class InvokeServices {
 public:
  virtual ~InvokeServices() = default;

  // `record` is the sequence number of the record the function says it is handling (metadata
  // sluice-record), "" for none. Errors use the codes documented with the HostServices service.
  virtual Status KvGet(const std::string& record, const runtime::v1::KvGetRequest& request,
                       runtime::v1::KvGetResponse* response) = 0;
  virtual Status KvPut(const std::string& record, const runtime::v1::KvPutRequest& request,
                       runtime::v1::KvPutResponse* response) = 0;
  virtual Status KvDelete(const std::string& record, const runtime::v1::KvDeleteRequest& request,
                          runtime::v1::KvDeleteResponse* response) = 0;
  virtual Status KvQuery(const std::string& record, const runtime::v1::KvQueryRequest& request,
                         runtime::v1::KvQueryResponse* response) = 0;
  virtual Status KvUpdate(const std::string& record, const runtime::v1::KvUpdateRequest& request,
                          runtime::v1::KvUpdateResponse* response) = 0;
  virtual Status Publish(const std::string& record, const runtime::v1::PublishRequest& request,
                         runtime::v1::PublishResponse* response) = 0;
};

}  // namespace sluice::invoker
