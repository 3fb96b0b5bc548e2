#include "host/manifest.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "base/json_fields.h"
#include "base/text.h"
#include "invoker/function_name.h"
#include "state/kv_document.h"
#include "state/topics.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxEnvironmentBytes = 4096;  // Lambda's limit on all variables together

// Reads an optional integer property within [lo, hi].
Status GetInt(const json& doc, const char* key, int64_t lo, int64_t hi, const char* unit,
              int64_t* out) {
  auto it = doc.find(key);
  if (it == doc.end()) {
    return Status::Ok();
  }
  if (!it->is_number_integer()) {
    return InvalidArgument(std::string(key) + ": must be an integer from " + std::to_string(lo) +
                           " to " + std::to_string(hi) + unit + ", got " + it->dump());
  }
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    return InvalidArgument(std::string(key) + ": must be from " + std::to_string(lo) + " to " +
                           std::to_string(hi) + unit + ", got " + std::to_string(v));
  }
  *out = v;
  return Status::Ok();
}

// A relative path that stays inside base_dir and names an existing file or directory.
Status CheckRelativePath(const std::string& property, const std::string& rel,
                         const std::string& base_dir) {
  if (rel.empty()) {
    return InvalidArgument(property + ": must not be empty");
  }
  const fs::path p(rel);
  if (p.is_absolute()) {
    return InvalidArgument(property + ": must be relative to the manifest's directory, got \"" +
                           rel + "\"");
  }
  for (const fs::path& part : p) {
    if (part == "..") {
      return InvalidArgument(property +
                             ": must stay inside the manifest's directory (no \"..\"), "
                             "got \"" +
                             rel + "\"");
    }
  }
  std::error_code ec;
  if (!fs::exists(fs::path(base_dir) / p, ec)) {
    return InvalidArgument(property + ": \"" + rel + "\" does not exist in " + base_dir);
  }
  // A symlink must not lead out either: its target would be copied in for the function to read.
  const fs::path real = fs::canonical(fs::path(base_dir) / p, ec);
  const fs::path real_base = fs::canonical(base_dir, ec);
  const auto [base_end, unused] =
      std::mismatch(real_base.begin(), real_base.end(), real.begin(), real.end());
  if (ec || base_end != real_base.end()) {
    return InvalidArgument(property + ": \"" + rel + "\" leads outside the manifest's directory " +
                           "(through a symlink)");
  }
  return Status::Ok();
}

Status Validate(const json& doc, const std::string& base_dir, FunctionManifest* m) {
  if (!doc.is_object()) {
    return InvalidArgument("the manifest must be a JSON object");
  }
  static const std::set<std::string> kKnown = {
      "FunctionName", "Handler",          "Description", "Timeout",
      "MemorySize",   "EphemeralStorage", "Environment", "ReservedConcurrentExecutions",
      "Files",        "Tables",           "Topics"};
  for (const auto& [key, value] : doc.items()) {
    if (!kKnown.count(key)) {
      return InvalidArgument(
          "unknown property \"" + key +
          "\" (known: FunctionName, Handler, Description, Timeout, MemorySize, EphemeralStorage, "
          "Environment, ReservedConcurrentExecutions, Files, Tables, Topics)");
    }
  }
  invoker::FunctionConfig& c = m->config;

  auto name = doc.find("FunctionName");
  if (name == doc.end() || !name->is_string()) {
    return InvalidArgument("FunctionName: required, a string");
  }
  c.name = name->get<std::string>();
  if (!invoker::IsValidFunctionName(c.name)) {
    return InvalidArgument("FunctionName: must be 1-64 letters, digits, '-' or '_', got \"" +
                           c.name + "\"");
  }
  c.arn = invoker::FunctionArn(c.name);

  auto handler = doc.find("Handler");
  if (handler == doc.end() || !handler->is_string()) {
    return InvalidArgument("Handler: required, the executable's path relative to the manifest");
  }
  c.handler = fs::path(handler->get<std::string>()).lexically_normal().string();
  SLUICE_RETURN_IF_ERROR(CheckRelativePath("Handler", c.handler, base_dir));
  const std::string handler_path = (fs::path(base_dir) / c.handler).string();
  struct stat st {};
  if (::stat(handler_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      ::access(handler_path.c_str(), X_OK) != 0) {
    return InvalidArgument("Handler: \"" + c.handler + "\" is not an executable file");
  }
  // The sandbox holds no interpreter (no /bin/sh, no /usr/bin), so a script could never start.
  char magic[4] = {};
  std::ifstream(handler_path, std::ios::binary).read(magic, sizeof magic);
  if (std::string(magic, sizeof magic) !=
      "\x7f"
      "ELF") {
    return InvalidArgument("Handler: \"" + c.handler +
                           "\" is not an ELF binary (scripts cannot run: the sandbox has no "
                           "interpreter)");
  }
  m->files.push_back(c.handler);

  auto description = doc.find("Description");
  if (description != doc.end() && !description->is_string()) {
    return InvalidArgument("Description: must be a string");
  }
  if (description != doc.end()) {
    m->description = description->get<std::string>();
  }

  int64_t timeout = 3, memory = 128, ephemeral = 512, reserved = 16;
  SLUICE_RETURN_IF_ERROR(GetInt(doc, "Timeout", 1, 900, " seconds", &timeout));
  SLUICE_RETURN_IF_ERROR(GetInt(doc, "MemorySize", 128, 10240, " MB", &memory));
  SLUICE_RETURN_IF_ERROR(GetInt(doc, "ReservedConcurrentExecutions", 0, 1000, "", &reserved));
  auto storage = doc.find("EphemeralStorage");
  if (storage != doc.end()) {
    if (!storage->is_object() || !storage->contains("Size")) {
      return InvalidArgument("EphemeralStorage: must be an object like {\"Size\": 512}");
    }
    SLUICE_RETURN_IF_ERROR(
        GetInt(*storage, "Size", 512, 10240, " MB", &ephemeral).WithContext("EphemeralStorage"));
  }
  c.timeout = std::chrono::seconds(timeout);
  c.memory_mb = static_cast<uint32_t>(memory);
  c.ephemeral_storage_mb = static_cast<uint32_t>(ephemeral);
  c.max_concurrency = static_cast<uint32_t>(reserved);

  auto env = doc.find("Environment");
  if (env != doc.end()) {
    if (!env->is_object() || !env->contains("Variables") || !(*env)["Variables"].is_object()) {
      return InvalidArgument("Environment: must be an object like {\"Variables\": {\"K\": \"v\"}}");
    }
    static const std::regex kVar("[A-Za-z][A-Za-z0-9_]*");
    size_t total = 0;
    for (const auto& [k, v] : (*env)["Variables"].items()) {
      const std::string where = "Environment.Variables." + k;
      if (!std::regex_match(k, kVar)) {
        return InvalidArgument(where + ": names must match [A-Za-z][A-Za-z0-9_]*");
      }
      if (k.rfind("SLUICE_", 0) == 0 || k.rfind("AWS_", 0) == 0 || k.rfind("LAMBDA_", 0) == 0) {
        return InvalidArgument(where +
                               ": reserved name (SLUICE_*, AWS_* and LAMBDA_* are set "
                               "by the host)");
      }
      if (!v.is_string()) {
        return InvalidArgument(where + ": must be a string");
      }
      c.environment[k] = v.get<std::string>();
      total += k.size() + c.environment[k].size();
    }
    if (total > kMaxEnvironmentBytes) {
      return InvalidArgument("Environment.Variables: " + std::to_string(total) +
                             " bytes in all; the limit is 4096");
    }
  }

  auto tables = doc.find("Tables");
  if (tables != doc.end()) {
    if (!tables->is_object()) {
      return InvalidArgument("Tables: must be an object like {\"spend\": \"ReadWrite\"}");
    }
    for (const auto& [table, access] : tables->items()) {
      const std::string where = "Tables." + table;
      SLUICE_RETURN_IF_ERROR(state::ValidateTableName(table).WithContext(where));
      if (access == "Read") {
        c.tables[table] = invoker::TableAccess::kRead;
      } else if (access == "ReadWrite") {
        c.tables[table] = invoker::TableAccess::kReadWrite;
      } else {
        return InvalidArgument(where + ": must be \"Read\" or \"ReadWrite\", got " + access.dump());
      }
    }
  }

  auto topics = doc.find("Topics");
  if (topics != doc.end()) {
    if (!topics->is_array()) {
      return InvalidArgument("Topics: must be an array of topic names");
    }
    for (size_t i = 0; i < topics->size(); ++i) {
      const std::string where = Indexed("Topics", i);
      if (!(*topics)[i].is_string()) {
        return InvalidArgument(where + ": must be a string");
      }
      const std::string topic = (*topics)[i].get<std::string>();
      SLUICE_RETURN_IF_ERROR(state::ValidateTopicName(topic).WithContext(where));
      c.topics.insert(topic);
    }
  }

  auto files = doc.find("Files");
  if (files != doc.end()) {
    if (!files->is_array()) {
      return InvalidArgument("Files: must be an array of paths relative to the manifest");
    }
    for (size_t i = 0; i < files->size(); ++i) {
      const std::string where = Indexed("Files", i);
      if (!(*files)[i].is_string()) {
        return InvalidArgument(where + ": must be a string");
      }
      const std::string rel = fs::path((*files)[i].get<std::string>()).lexically_normal().string();
      SLUICE_RETURN_IF_ERROR(CheckRelativePath(where, rel, base_dir));
      m->files.push_back(rel);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<FunctionManifest> ParseManifest(const std::string& text, const std::string& base_dir,
                                       const std::string& display_name) {
  Result<json> parsed = ParseJsonDocument(text, display_name);
  SLUICE_RETURN_IF_ERROR(parsed.status());
  const json& doc = *parsed;
  FunctionManifest m;
  m.manifest_path = display_name;
  m.base_dir = base_dir;
  Status s = Validate(doc, base_dir, &m);
  if (!s.ok()) {
    return s.WithContext(display_name);
  }
  return m;
}

Result<FunctionManifest> LoadManifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return NotFound(path + ": cannot read the manifest");
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string base = fs::absolute(fs::path(path)).parent_path().string();
  return ParseManifest(text.str(), base, path);
}

Status StageFunctionFiles(const FunctionManifest& manifest, const std::string& code_dir) {
  std::error_code ec;
  fs::create_directories(code_dir, ec);
  if (ec) {
    return Internal("creating " + code_dir + ": " + ec.message());
  }
  fs::permissions(code_dir, fs::perms(0755), ec);
  for (const std::string& rel : manifest.files) {
    // The real file (validation made sure it lies inside the manifest's directory).
    const fs::path from = fs::canonical(fs::path(manifest.base_dir) / rel, ec);
    const fs::path to = fs::path(code_dir) / rel;
    fs::create_directories(to.parent_path(), ec);
    // Symlinks inside a directory are copied as links: in the sandbox they resolve within the
    // function's own view, never to the host file they name.
    fs::copy(from, to,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing |
                 fs::copy_options::copy_symlinks,
             ec);
    if (ec) {
      return Internal("copying " + from.string() + " to " + to.string() + ": " + ec.message());
    }
  }
  // Everything readable (and directories traversable) by the function's unprivileged user.
  for (auto it = fs::recursive_directory_iterator(code_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink()) {
      continue;  // never touch what a link names: it may be a host file
    }
    fs::permissions(it->path(),
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                    fs::perm_options::add, ec);
    if (it->is_directory()) {
      fs::permissions(it->path(), fs::perms(0755), ec);
    }
  }
  return Status::Ok();
}

}  // namespace sluice::host
