// PostgresServer: a private PostgreSQL cluster for one test, from the server binaries under
// /usr/lib/postgresql/*/bin (Debian's postgresql package; the newest version found).
//
// The constructor runs initdb (trust authentication, superuser "postgres") in a fresh temporary
// directory, starts `postgres` on a free port of 127.0.0.1 and on a Unix socket in that directory
// with fsync off, and creates the database "sluice_test": about a second. The directory is in
// /dev/shm when that is writable (on a busy machine's disk, initdb alone takes seconds), else
// under $TMPDIR or /tmp; a cluster takes about 40 MB. Run as root, initdb and the server run as
// the `postgres` OS user (PostgreSQL refuses root), which then owns the directory; otherwise they
// run as the calling user.
//
// Stop() and Start() stop and start the same cluster on the same port, so a test can take the
// database away for a while and bring it back. Every process is ended by its pid and reaped; the
// destructor stops a running server and removes the directory. Failures (initdb fails, the server
// exits early or does not answer, a query fails) throw std::runtime_error with the server's log
// or PostgreSQL's message, so the test fails with it.
//
// Thread-safety: one thread owns a PostgresServer (the server is stopped when that thread ends).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Starts the server and waits (with a deadline) until it accepts connections.
  // REQUIRES: not running.
  void Start();
  // Fast shutdown (SIGINT: clients are disconnected), SIGKILL when it has not exited within 5 s;
  // reaps it. The data stays. REQUIRES: running.
  void Stop();
  void Restart() {
    Stop();
    Start();
  }

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  // "host=127.0.0.1 port=PORT dbname=sluice_test user=postgres": the test database over TCP.
  std::string conninfo() const;
  // Runs `sql` (one or more statements) on the test database in a new connection; the rows of
  // the last statement, each value as text, NULL as "\N".
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;
  // What every run of the server (and initdb) wrote.
  std::string Log() const;

 private:
  struct OsUser {
    uid_t uid;
    gid_t gid;
  };

  // The OS user of initdb and the server.
  static OsUser ServerUser();

  // Runs `args` as the server's OS user to completion; throws unless it exits 0.
  void Run(const std::vector<std::string>& args) const;
  std::string ConnInfo(const std::string& database) const;
  std::vector<std::vector<std::string>> QueryDatabase(const std::string& database,
                                                      const std::string& sql) const;
  void RemoveAll();

  const std::string bin_dir_;
  const OsUser user_;
  const std::string temp_dir_;
  const std::string log_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::testing
