// FunctionStore: the deployed functions of a host: their code, content-addressed on disk, and
// their versions, in StateDb (table functions).
//
// Code: <code_root>/<sha256>/ holds the handler and files at their relative paths, read-only for
// the function. The hash covers the sorted relative paths, each entry's type and permission bits,
// and the contents (a symlink's target), so identical code always lands in the same directory
// and is stored once. A new directory is written under a temporary name, fsynced and renamed
// into place, so after a crash a code directory is either complete or absent.
//
// Versions: "$LATEST" (what `sluice deploy` replaces) and immutable numbered versions "1", "2",
// ... (what `sluice publish` snapshots). Each row keeps the code hash, the validated config as
// JSON (ConfigToJson), the description and timestamps.
//
// Thread-safety: thread-safe. Deploy, Publish, Delete and RemoveCodeIfUnreferenced are serialised
// by one mutex, so a code directory is never removed while a deploy is reusing it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "host/manifest.h"
#include "invoker/function_config.h"
#include "state/state_db.h"

namespace sluice::host {

inline constexpr char kLatest[] = "$LATEST";

// One version of one function, as stored.
struct DeployedFunction {
  std::string name;
  std::string version;  // "$LATEST", "1", "2", ...
  std::string code_sha256;
  std::string config_json;  // ConfigToJson(config)
  std::string description;
  int64_t created_unix_ms = 0;
  int64_t last_modified_unix_ms = 0;
  // The config to run it with: version, qualified ARN and code_dir filled in.
  invoker::FunctionConfig config;
};

// The config's settings as canonical JSON (sorted keys; no code_dir, version or ARN), so equal
// configs give equal text; and back.
std::string ConfigToJson(const invoker::FunctionConfig& config);
Result<invoker::FunctionConfig> ConfigFromJson(const std::string& json_text);

// Version order: $LATEST first, then numbered versions in numeric order.
bool VersionBefore(const std::string& a, const std::string& b);

struct DeployOutcome {
  DeployedFunction latest;
  bool unchanged = false;  // the same code, config and description were already $LATEST
  bool created = false;    // the function had no $LATEST before
};

struct PublishOutcome {
  DeployedFunction version;
  bool existing = false;  // $LATEST had not changed since this version
};

class FunctionStore {
 public:
  // `code_root` (data_dir/functions/code) is created if missing; leftover temporary directories
  // of an interrupted deploy, and code no version references, are removed.
  static Result<std::unique_ptr<FunctionStore>> Open(state::StateDb* db, std::string code_root,
                                                     Clock* clock);

  // Stores the manifest's code and makes it $LATEST with the manifest's config.
  Result<DeployOutcome> Deploy(const FunctionManifest& manifest);
  // A numbered version of $LATEST, or the newest version when $LATEST has not changed since it
  // (same code and config). NOT_FOUND when the function does not exist.
  Result<PublishOutcome> Publish(const std::string& name, const std::string& description);
  // Every version of every function, by name, $LATEST first, then by number.
  Result<std::vector<DeployedFunction>> List();
  // Removes every version; returns how many. NOT_FOUND when the function does not exist. Code
  // directories are left for RemoveCodeIfUnreferenced (running invokes may still use them).
  Result<int> Delete(const std::string& name);
  // Removes the code directory of `code_sha256` when no version references it any more.
  void RemoveCodeIfUnreferenced(const std::string& code_sha256);

  std::string CodeDir(const std::string& code_sha256) const {
    return code_root_ + "/" + code_sha256;
  }

 private:
  FunctionStore(state::StateDb* db, std::string code_root, Clock* clock)
      : db_(db), code_root_(std::move(code_root)), clock_(clock) {}
  // Writes the manifest's code into the store (or finds it there); returns its hash.
  Result<std::string> StoreCode(const FunctionManifest& manifest);
  Status Complete(DeployedFunction* row) const;  // parses config_json and fills config
  Status RemoveUnreferencedCode();               // at Open

  state::StateDb* const db_;
  const std::string code_root_;
  Clock* const clock_;
  std::mutex mu_;
};

}  // namespace sluice::host
