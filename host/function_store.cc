#include "host/function_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.h"
#include "base/log.h"
#include "base/random.h"
#include "invoker/function_name.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kTempPrefix[] = ".tmp-";

// SHA-256 over a sequence of byte strings, each framed by its length so boundaries count.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Field(std::string_view bytes) {
    const uint64_t size = bytes.size();
    EVP_DigestUpdate(ctx_, &size, sizeof size);
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
  }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    std::string hex;
    char byte[3];
    for (unsigned i = 0; i < size; ++i) {
      snprintf(byte, sizeof byte, "%02x", digest[i]);
      hex += byte;
    }
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Hashes a staged code tree (see the header) and fsyncs every file and directory in it.
Result<std::string> HashAndSyncTree(const std::string& root) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) {
    return Internal("reading " + root + ": " + ec.message());
  }
  std::sort(entries.begin(), entries.end());
  Sha256 sha;
  for (const fs::path& path : entries) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      return ErrnoStatus("stat " + path.string());
    }
    sha.Field(fs::relative(path, root).string());
    sha.Field(std::to_string(st.st_mode));
    if (S_ISLNK(st.st_mode)) {
      sha.Field(fs::read_symlink(path, ec).string());
    } else if (S_ISREG(st.st_mode)) {
      Result<std::string> contents = ReadFile(path.string());
      if (!contents.ok()) {
        return contents.status();
      }
      sha.Field(*contents);
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        return ErrnoStatus("fsync " + path.string());
      }
    }
  }
  SLUICE_RETURN_IF_ERROR(SyncDirectory(root));
  return sha.Hex();
}

bool IsNumber(const std::string& text) {
  return !text.empty() && text.size() < 10 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr char kSelectColumns[] =
    "SELECT name, version, code_sha256, config_json, description, created_unix_ms, "
    "last_modified_unix_ms FROM functions ";

DeployedFunction RowFrom(const state::Statement& s) {
  DeployedFunction row;
  row.name = s.ColumnText(0);
  row.version = s.ColumnText(1);
  row.code_sha256 = s.ColumnText(2);
  row.config_json = s.ColumnText(3);
  row.description = s.ColumnText(4);
  row.created_unix_ms = s.ColumnInt(5);
  row.last_modified_unix_ms = s.ColumnInt(6);
  return row;
}

Status PutRow(state::Transaction& txn, const DeployedFunction& row) {
  Result<state::Statement*> put = txn.Prepare(
      "INSERT OR REPLACE INTO functions (name, version, code_sha256, config_json, description, "
      "created_unix_ms, last_modified_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!put.ok()) {
    return put.status();
  }
  return (*put)
      ->Bind(1, row.name)
      .Bind(2, row.version)
      .Bind(3, row.code_sha256)
      .Bind(4, row.config_json)
      .Bind(5, row.description)
      .Bind(6, row.created_unix_ms)
      .Bind(7, row.last_modified_unix_ms)
      .Run();
}

// The rows of one function (all versions), unsorted.
Result<std::vector<DeployedFunction>> RowsOf(state::Transaction& txn, const std::string& name) {
  Result<state::Statement*> select =
      txn.Prepare((std::string(kSelectColumns) + "WHERE name = ?").c_str());
  if (!select.ok()) {
    return select.status();
  }
  (*select)->Bind(1, name);
  std::vector<DeployedFunction> rows;
  for (;;) {
    Result<bool> row = (*select)->Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      return rows;
    }
    rows.push_back(RowFrom(**select));
  }
}

}  // namespace

bool VersionBefore(const std::string& a, const std::string& b) {
  if (a == kLatest || b == kLatest) {
    return a == kLatest && b != kLatest;
  }
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::string ConfigToJson(const invoker::FunctionConfig& c) {
  json tables = json::object();
  for (const auto& [table, access] : c.tables) {
    tables[table] = access == invoker::TableAccess::kReadWrite ? "ReadWrite" : "Read";
  }
  // nlohmann's json object keeps keys sorted: the text is canonical.
  const json doc = {{"FunctionName", c.name},
                    {"Handler", c.handler},
                    {"TimeoutMs", c.timeout.count()},
                    {"MemorySize", c.memory_mb},
                    {"EphemeralStorage", c.ephemeral_storage_mb},
                    {"Environment", c.environment},
                    {"ReservedConcurrentExecutions", c.max_concurrency},
                    {"Tables", tables},
                    {"Topics", c.topics}};
  return doc.dump();
}

Result<invoker::FunctionConfig> ConfigFromJson(const std::string& json_text) {
  try {
    const json doc = json::parse(json_text);
    invoker::FunctionConfig c;
    c.name = doc.at("FunctionName").get<std::string>();
    c.handler = doc.at("Handler").get<std::string>();
    c.timeout = std::chrono::milliseconds(doc.at("TimeoutMs").get<int64_t>());
    c.memory_mb = doc.at("MemorySize").get<uint32_t>();
    c.ephemeral_storage_mb = doc.at("EphemeralStorage").get<uint32_t>();
    c.environment = doc.at("Environment").get<std::map<std::string, std::string>>();
    c.max_concurrency = doc.at("ReservedConcurrentExecutions").get<uint32_t>();
    for (const auto& [table, access] : doc.at("Tables").items()) {
      c.tables[table] = access.get<std::string>() == "ReadWrite" ? invoker::TableAccess::kReadWrite
                                                                 : invoker::TableAccess::kRead;
    }
    c.topics = doc.at("Topics").get<std::set<std::string>>();
    return c;
  } catch (const json::exception& e) {
    return Internal(std::string("a stored function config is corrupt: ") + e.what());
  }
}

Result<std::unique_ptr<FunctionStore>> FunctionStore::Open(state::StateDb* db,
                                                           std::string code_root, Clock* clock) {
  std::error_code ec;
  fs::create_directories(code_root, ec);
  if (ec) {
    return Internal("creating " + code_root + ": " + ec.message());
  }
  SLUICE_RETURN_IF_ERROR(db->Write([](state::Transaction& txn) {
    return txn.Exec(
        "CREATE TABLE IF NOT EXISTS functions ("
        "  name TEXT NOT NULL, version TEXT NOT NULL, code_sha256 TEXT NOT NULL,"
        "  config_json TEXT NOT NULL, description TEXT NOT NULL,"
        "  created_unix_ms INTEGER NOT NULL, last_modified_unix_ms INTEGER NOT NULL,"
        "  PRIMARY KEY (name, version))");
  }));
  std::unique_ptr<FunctionStore> store(new FunctionStore(db, std::move(code_root), clock));
  SLUICE_RETURN_IF_ERROR(store->RemoveUnreferencedCode());
  return store;
}

Status FunctionStore::RemoveUnreferencedCode() {
  std::set<std::string> referenced;
  Result<std::vector<DeployedFunction>> rows = List();
  if (!rows.ok()) {
    return rows.status();
  }
  for (const DeployedFunction& row : *rows) {
    referenced.insert(row.code_sha256);
  }
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(code_root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (referenced.count(name) == 0) {
      fs::remove_all(entry.path(), ec);
    }
  }
  return Status::Ok();
}

Result<std::string> FunctionStore::StoreCode(const FunctionManifest& manifest) {
  const std::string temp = code_root_ + "/" + kTempPrefix + RandomHex(8);
  Status staged = StageFunctionFiles(manifest, temp);
  Result<std::string> hash = staged.ok() ? HashAndSyncTree(temp) : Result<std::string>(staged);
  std::error_code ec;
  if (!hash.ok()) {
    fs::remove_all(temp, ec);
    return hash.status();
  }
  const std::string final_dir = CodeDir(*hash);
  if (fs::exists(final_dir, ec)) {
    fs::remove_all(temp, ec);  // unchanged code: reuse the directory
    return hash;
  }
  if (::rename(temp.c_str(), final_dir.c_str()) != 0) {
    Status status = ErrnoStatus("renaming " + temp + " to " + final_dir);
    fs::remove_all(temp, ec);
    return status;
  }
  SLUICE_RETURN_IF_ERROR(SyncDirectory(code_root_));
  return hash;
}

Status FunctionStore::Complete(DeployedFunction* row) const {
  Result<invoker::FunctionConfig> config = ConfigFromJson(row->config_json);
  if (!config.ok()) {
    return config.status().WithContext(row->name + ":" + row->version);
  }
  row->config = std::move(*config);
  row->config.version = row->version;
  row->config.arn = invoker::FunctionArn(row->name, row->version);
  row->config.code_dir = CodeDir(row->code_sha256);
  return Status::Ok();
}

Result<DeployOutcome> FunctionStore::Deploy(const FunctionManifest& manifest) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<std::string> hash = StoreCode(manifest);
  if (!hash.ok()) {
    return hash.status();
  }
  DeployOutcome outcome;
  DeployedFunction& row = outcome.latest;
  row.name = manifest.config.name;
  row.version = kLatest;
  row.code_sha256 = *hash;
  row.config_json = ConfigToJson(manifest.config);
  row.description = manifest.description;
  const int64_t now = clock_->UnixMillis();
  row.created_unix_ms = now;
  row.last_modified_unix_ms = now;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](state::Transaction& txn) -> Status {
    Result<std::vector<DeployedFunction>> rows = RowsOf(txn, row.name);
    if (!rows.ok()) {
      return rows.status();
    }
    outcome.created = true;
    for (const DeployedFunction& old : *rows) {
      if (old.version != kLatest) {
        continue;
      }
      outcome.created = false;
      row.created_unix_ms = old.created_unix_ms;
      if (old.code_sha256 == row.code_sha256 && old.config_json == row.config_json &&
          old.description == row.description) {
        outcome.unchanged = true;
        row.last_modified_unix_ms = old.last_modified_unix_ms;
        return Status::Ok();
      }
    }
    return PutRow(txn, row);
  }));
  SLUICE_RETURN_IF_ERROR(Complete(&row));
  return outcome;
}

Result<PublishOutcome> FunctionStore::Publish(const std::string& name,
                                              const std::string& description) {
  std::lock_guard<std::mutex> lock(mu_);
  PublishOutcome outcome;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](state::Transaction& txn) -> Status {
    Result<std::vector<DeployedFunction>> rows = RowsOf(txn, name);
    if (!rows.ok()) {
      return rows.status();
    }
    const DeployedFunction* latest = nullptr;
    const DeployedFunction* newest = nullptr;
    for (const DeployedFunction& row : *rows) {
      if (row.version == kLatest) {
        latest = &row;
      } else if (newest == nullptr || VersionBefore(newest->version, row.version)) {
        newest = &row;
      }
    }
    if (latest == nullptr) {
      return NotFound("function " + name + " does not exist (deploy it with `sluice deploy`)");
    }
    if (newest != nullptr && newest->code_sha256 == latest->code_sha256 &&
        newest->config_json == latest->config_json) {
      outcome.version = *newest;
      outcome.existing = true;
      return Status::Ok();
    }
    DeployedFunction& version = outcome.version;
    version = *latest;
    version.version = std::to_string(newest == nullptr ? 1 : std::stoi(newest->version) + 1);
    version.description = description.empty() ? latest->description : description;
    version.created_unix_ms = clock_->UnixMillis();
    version.last_modified_unix_ms = version.created_unix_ms;
    return PutRow(txn, version);
  }));
  SLUICE_RETURN_IF_ERROR(Complete(&outcome.version));
  return outcome;
}

Result<std::vector<DeployedFunction>> FunctionStore::List() {
  std::vector<DeployedFunction> rows;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> select = txn.Prepare(kSelectColumns);
    if (!select.ok()) {
      return select.status();
    }
    for (;;) {
      Result<bool> row = (*select)->Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        return Status::Ok();
      }
      rows.push_back(RowFrom(**select));
    }
  }));
  std::erase_if(rows, [](const DeployedFunction& row) {
    return row.version != kLatest && !IsNumber(row.version);
  });
  std::sort(rows.begin(), rows.end(), [](const DeployedFunction& a, const DeployedFunction& b) {
    return a.name != b.name ? a.name < b.name : VersionBefore(a.version, b.version);
  });
  for (DeployedFunction& row : rows) {
    SLUICE_RETURN_IF_ERROR(Complete(&row));
  }
  return rows;
}

Result<int> FunctionStore::Delete(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  int deleted = 0;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> del = txn.Prepare("DELETE FROM functions WHERE name = ?");
    if (!del.ok()) {
      return del.status();
    }
    SLUICE_RETURN_IF_ERROR((*del)->Bind(1, name).Run());
    deleted = txn.Changes();
    return Status::Ok();
  }));
  if (deleted == 0) {
    return NotFound("function " + name + " does not exist");
  }
  return deleted;
}

void FunctionStore::RemoveCodeIfUnreferenced(const std::string& code_sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  bool referenced = true;
  Status read = db_->Read([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> select =
        txn.Prepare("SELECT 1 FROM functions WHERE code_sha256 = ? LIMIT 1");
    if (!select.ok()) {
      return select.status();
    }
    Result<bool> row = (*select)->Bind(1, code_sha256).Step();
    if (!row.ok()) {
      return row.status();
    }
    referenced = *row;
    return Status::Ok();
  });
  if (!read.ok()) {
    LogWarning("functions", "keeping code " + code_sha256 + ": " + read.message());
    return;
  }
  if (!referenced) {
    std::error_code ec;
    fs::remove_all(CodeDir(code_sha256), ec);
  }
}

}  // namespace sluice::host
