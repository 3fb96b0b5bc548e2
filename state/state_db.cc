#include "state/state_db.h"

#include <chrono>
#include <string>

#include "base/log.h"
#include "state/checkpoints.h"
#include "state/kv_store.h"
#include "state/outbox.h"
#include "state/topics.h"

namespace sluice::state {
namespace {

Status SqliteError(sqlite3* db, const std::string& what) {
  return Internal(what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Result<Statement*> Transaction::Prepare(const char* sql) {
  auto it = db_->statements_.find(std::string_view(sql));
  if (it == db_->statements_.end()) {
    auto statement = std::make_unique<Statement>();
    if (sqlite3_prepare_v3(db_->db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement->stmt_,
                           nullptr) != SQLITE_OK) {
      return SqliteError(db_->db_, std::string("preparing \"") + sql + "\"");
    }
    it = db_->statements_.emplace(sql, std::move(statement)).first;
  }
  Statement* statement = it->second.get();
  sqlite3_reset(statement->stmt_);
  sqlite3_clear_bindings(statement->stmt_);
  statement->bind_error_ = Status::Ok();
  return statement;
}

Status Transaction::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_->db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return Internal(std::string("running \"") + sql + "\": " + message);
  }
  return Status::Ok();
}

int64_t Transaction::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_->db_);
}

int Transaction::Changes() const {
  return sqlite3_changes(db_->db_);
}

Statement& Statement::Bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = Internal("binding parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
          SQLITE_OK &&
      bind_error_.ok()) {
    bind_error_ = Internal("binding parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  if (sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT) !=
          SQLITE_OK &&
      bind_error_.ok()) {
    bind_error_ = Internal("binding parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = Internal("binding parameter " + std::to_string(index));
  }
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) {
    return bind_error_;
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  sqlite3* db = sqlite3_db_handle(stmt_);
  const std::string message =
      std::string(sqlite3_errmsg(db)) + " (in \"" + sqlite3_sql(stmt_) + "\")";
  sqlite3_reset(stmt_);
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return Status(Code::kAlreadyExists, message);
  }
  return Internal(message);
}

Status Statement::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      return Status::Ok();
    }
  }
}

int64_t Statement::ColumnInt(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  return text != nullptr ? std::string(reinterpret_cast<const char*>(text), size) : std::string();
}

bool Statement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

namespace {

constexpr auto kCheckpointInterval = std::chrono::milliseconds(100);
// The WAL size (pages) at which a commit checkpoints itself, should the background one fall
// behind.
constexpr int kCommitCheckpointPages = 50000;

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path, DbDurability durability) {
  std::unique_ptr<StateDb> db(new StateDb());
  db->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &db->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return Unavailable(path + ": cannot open the database: " +
                       (db->db_ != nullptr ? sqlite3_errmsg(db->db_) : "out of memory"));
  }
  sqlite3_extended_result_codes(db->db_, 1);
  // Another process (a second `sluice serve` on the same directory) holding the write lock makes
  // us wait a little, then fail with a clear error rather than hang.
  sqlite3_busy_timeout(db->db_, 5000);
  Transaction setup(db.get());
  SLUICE_RETURN_IF_ERROR(setup.Exec("PRAGMA journal_mode=WAL").WithContext(path));
  SLUICE_RETURN_IF_ERROR(setup
                             .Exec(durability == DbDurability::kFsync ? "PRAGMA synchronous=FULL"
                                                                      : "PRAGMA synchronous=NORMAL")
                             .WithContext(path));
  SLUICE_RETURN_IF_ERROR(setup.Exec("PRAGMA foreign_keys=ON").WithContext(path));
  SLUICE_RETURN_IF_ERROR(
      setup.Exec(("PRAGMA wal_autocheckpoint=" + std::to_string(kCommitCheckpointPages)).c_str())
          .WithContext(path));
  Status schema = db->Write([](Transaction& txn) {
    SLUICE_RETURN_IF_ERROR(KvStore::EnsureSchema(txn));
    SLUICE_RETURN_IF_ERROR(TopicCatalog::EnsureSchema(txn));
    SLUICE_RETURN_IF_ERROR(Outbox::EnsureSchema(txn));
    return Checkpoints::EnsureSchema(txn);
  });
  if (!schema.ok()) {
    return schema.WithContext(path);
  }
  if (sqlite3_open_v2(path.c_str(), &db->checkpoint_db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    return Unavailable(
        path + ": cannot open the checkpointing connection: " +
        (db->checkpoint_db_ != nullptr ? sqlite3_errmsg(db->checkpoint_db_) : "out of memory"));
  }
  sqlite3_busy_timeout(db->checkpoint_db_, 1000);
  // The pragma, and the read, attach the connection to the WAL: without that, a checkpoint would
  // do nothing and say OK.
  if (sqlite3_exec(db->checkpoint_db_,
                   durability == DbDurability::kFsync ? "PRAGMA synchronous=FULL"
                                                      : "PRAGMA synchronous=NORMAL",
                   nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db->checkpoint_db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    return Unavailable(path + ": cannot set up the checkpointing connection: " +
                       sqlite3_errmsg(db->checkpoint_db_));
  }
  StateDb* raw = db.get();
  db->checkpoint_thread_ = std::thread([raw] { raw->CheckpointLoop(); });
  return db;
}

void StateDb::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  while (!stopping_) {
    checkpoint_cv_.wait_for(lock, kCheckpointInterval);
    if (stopping_) {
      break;
    }
    lock.unlock();
    // PASSIVE: copies what it can without waiting for (or blocking) the writer.
    int wal_pages = 0;
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &wal_pages, nullptr);
    if (((rc & 0xff) != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) || wal_pages < 0) {
      if (!checkpoint_failed_) {  // once: the commits' own checkpoint is the fallback
        LogWarning("state", path_ + ": the background WAL checkpoint failed: " +
                                sqlite3_errmsg(checkpoint_db_));
      }
      checkpoint_failed_ = true;
    }
    lock.lock();
  }
}

StateDb::~StateDb() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) {
    checkpoint_thread_.join();
  }
  sqlite3_close_v2(checkpoint_db_);
  for (auto& [sql, statement] : statements_) {
    sqlite3_finalize(statement->stmt_);
  }
  statements_.clear();
  sqlite3_close_v2(db_);
}

Status StateDb::Write(const std::function<Status(Transaction&)>& body) {
  return Run("BEGIN IMMEDIATE", body);
}

Status StateDb::Read(const std::function<Status(Transaction&)>& body) {
  return Run("BEGIN DEFERRED", body);
}

Status StateDb::Run(const char* begin, const std::function<Status(Transaction&)>& body) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(this);
  SLUICE_RETURN_IF_ERROR(txn.Exec(begin));
  Status status = body(txn);
  // A statement the body left before its last row still holds the transaction's read snapshot;
  // reset them all so that COMMIT or ROLLBACK ends the transaction completely.
  for (auto& [sql, statement] : statements_) {
    sqlite3_reset(statement->stmt_);
  }
  if (status.ok()) {
    status = txn.Exec("COMMIT");
    if (status.ok()) {
      return status;
    }
  }
  // A failed COMMIT may leave the transaction open; ROLLBACK either way.
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace sluice::state
