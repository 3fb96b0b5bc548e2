// StateDb: the host's SQLite database, data_dir/sluice.db, in WAL mode. It holds everything of
// the host's state that is not a stream log: deployed functions, key-value tables, topics and
// subscriptions, the notification outbox and checkpoints. Each module that keeps state here owns
// its tables and creates them in its own EnsureSchema(Transaction&) (CREATE TABLE IF NOT
// EXISTS), which StateDb::Open runs for every module of this folder.
//
// Durability: synchronous=NORMAL (kOs) survives a crash of the process (kill -9) at any moment;
// synchronous=FULL (kFsync) also survives a power cut. A committed transaction is never lost to
// a process crash in either mode.
//
// WAL checkpoints (copying the log into the database file) run on a second connection in a
// background thread every 100 ms, not inside a commit: SQLite's automatic checkpoint would stall
// whichever commit crossed 1,000 pages (milliseconds, every shard's poller at once). Should the
// log still pass 50,000 pages (a checkpoint that never completes), a commit checkpoints it.
//
// Thread-safety: all methods are thread-safe. One connection, used by one transaction at a time
// (a mutex held for the transaction's length): transactions are short, and SQLite allows one
// writer anyway. Never call StateDb from inside a transaction's body (it would deadlock).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"

namespace sluice::state {

enum class DbDurability { kOs, kFsync };

class Statement;

// The body of one transaction: prepares and runs statements on the connection.
class Transaction {
 public:
  // Prepares `sql` (cached per connection). Errors are INTERNAL with SQLite's message.
  Result<Statement*> Prepare(const char* sql);
  // Runs statements with no result rows and no parameters (DDL).
  Status Exec(const char* sql);
  int64_t LastInsertRowId() const;
  int Changes() const;  // rows changed by the last statement

 private:
  friend class StateDb;
  explicit Transaction(class StateDb* db) : db_(db) {}
  class StateDb* db_;
};

// A prepared statement, reset and its bindings cleared on every Prepare(). Parameters are
// 1-based, as in SQLite. Valid until the transaction body returns.
class Statement {
 public:
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);  // as TEXT
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);
  // Steps once: true when a row is available, false when done; errors are INTERNAL, except a
  // constraint violation, which is ALREADY_EXISTS.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();
  int64_t ColumnInt(int index) const;  // 0-based, as in SQLite
  std::string ColumnText(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  friend class StateDb;
  friend class Transaction;
  sqlite3_stmt* stmt_ = nullptr;
  Status bind_error_;
};

class StateDb {
 public:
  // Opens (creating) the database at `path`, sets WAL mode and durability, and creates every
  // module's tables. Errors are INTERNAL (or UNAVAILABLE when the file cannot be opened), with
  // the path in the message.
  static Result<std::unique_ptr<StateDb>> Open(const std::string& path, DbDurability durability);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  // Runs `body` in BEGIN IMMEDIATE ... COMMIT. When `body` returns non-OK the transaction rolls
  // back and that status is returned; a failed COMMIT is INTERNAL.
  Status Write(const std::function<Status(Transaction&)>& body);
  // Runs `body` in a read transaction (BEGIN DEFERRED); it must not write.
  Status Read(const std::function<Status(Transaction&)>& body);

  const std::string& path() const { return path_; }

 private:
  friend class Transaction;
  StateDb() = default;
  Status Run(const char* begin, const std::function<Status(Transaction&)>& body);

  void CheckpointLoop();

  std::string path_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  // The background checkpointer: its own connection and thread.
  sqlite3* checkpoint_db_ = nullptr;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;
  bool checkpoint_failed_ = false;  // the checkpoint thread's: warned once
  std::thread checkpoint_thread_;
  // Prepared statements by SQL text, owned here; finalized by the destructor.
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

}  // namespace sluice::state
