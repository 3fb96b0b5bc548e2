// The CLI verbs that talk to a running host over its control API (host/control_client.h):
//   functions: deploy, publish, functions, delete-function, invoke, logs   (function_cli.cc)
//   state:     kv, topics, subscribe, unsubscribe, status                  (state_cli.cc)
//   stacks:    apply                                                       (apply_cli.cc)
//   mappings:  attach, mappings, mapping                                   (mapping_cli.cc)
// Each takes the arguments after the verb and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int DeployMain(const std::vector<std::string>& args);
int PublishMain(const std::vector<std::string>& args);
int FunctionsMain(const std::vector<std::string>& args);
int DeleteFunctionMain(const std::vector<std::string>& args);
int InvokeMain(const std::vector<std::string>& args);
int LogsMain(const std::vector<std::string>& args);

int KvMain(const std::vector<std::string>& args);
int TopicsMain(const std::vector<std::string>& args);
int SubscribeMain(const std::vector<std::string>& args);
int UnsubscribeMain(const std::vector<std::string>& args);
int StatusMain(const std::vector<std::string>& args);

int ApplyMain(const std::vector<std::string>& args);

int AttachMain(const std::vector<std::string>& args);
int MappingsMain(const std::vector<std::string>& args);
int MappingMain(const std::vector<std::string>& args);

}  // namespace sluice::host
