#include "tests/support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/run_command.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kDatabase[] = "sluice_test";
constexpr auto kStartDeadline = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(5);

// The bin directory of the newest PostgreSQL under /usr/lib/postgresql.
std::string FindBinDir() {
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string version = entry.path().filename().string();
    const fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "postgres", ec) && fs::exists(bin / "initdb", ec) &&
        std::atoi(version.c_str()) > best_version) {
      best_version = std::atoi(version.c_str());
      best = bin.string();
    }
  }
  if (best.empty()) {
    throw std::runtime_error("no PostgreSQL server under /usr/lib/postgresql/*/bin");
  }
  return best;
}

// A port of 127.0.0.1 that nothing listens on now.
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error("cannot find a free port: " + error);
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// Waits for `pid` until `deadline`; true when it exited (and is reaped).
bool WaitUntil(pid_t pid, Clock::time_point deadline, int* status) {
  for (;;) {
    const pid_t done = ::waitpid(pid, status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      return true;
    }
    if (Clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};

// Forks and execs `args` as `user` in `work_dir`, output appended to `log_file`.
pid_t Spawn(const std::vector<std::string>& args, uid_t uid, gid_t gid, const std::string& work_dir,
            const std::string& log_file) {
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (std::string& arg : owned) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  // Everything the child needs exists before fork(): it only calls async-signal-safe functions.
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    throw std::runtime_error("cannot open " + log_file + " or /dev/null");
  }
  const bool switch_user = ::geteuid() != uid;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (switch_user && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) {
      ::_exit(126);
    }
    // The server's user may not reach the test's working directory.
    if (::chdir(work_dir.c_str()) != 0) {
      ::_exit(126);
    }
    // After setuid (which clears it): the child dies with the test, whatever happens to the test.
    // SIGINT is the server's fast shutdown, which also ends its own children.
    ::prctl(PR_SET_PDEATHSIG, SIGINT);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ExecWithStdio(argv.data(), null_fd, log_fd);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  return pid;
}

// Where a server's files go: a fresh directory owned by `uid`, in memory (/dev/shm) when it can
// be: on a busy machine's disk, initdb alone takes seconds.
std::string MakeTempDir(uid_t uid, gid_t gid) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm"
                           : tmp != nullptr && *tmp != '\0'       ? tmp
                                                                  : "/tmp";
  std::string pattern = base + "/sluice-postgres-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  if (::geteuid() != uid && ::chown(pattern.c_str(), uid, gid) != 0) {
    const std::string error = std::strerror(errno);
    std::error_code ignored;
    fs::remove_all(pattern, ignored);
    throw std::runtime_error("chown " + pattern + ": " + error);
  }
  return pattern;
}

}  // namespace

PostgresServer::OsUser PostgresServer::ServerUser() {
  if (::geteuid() != 0) {
    return {::geteuid(), ::getegid()};
  }
  const passwd* user = ::getpwnam("postgres");
  if (user == nullptr) {
    throw std::runtime_error("running as root, but there is no OS user postgres");
  }
  return {user->pw_uid, user->pw_gid};
}

PostgresServer::PostgresServer()
    : bin_dir_(FindBinDir()),
      user_(ServerUser()),
      temp_dir_(MakeTempDir(user_.uid, user_.gid)),
      log_file_(temp_dir_ + "/postgres.log") {
  try {
    Run({bin_dir_ + "/initdb", "-D", temp_dir_ + "/data", "-A", "trust", "-U", "postgres", "-E",
         "UTF8", "--locale=C", "--no-sync"});
    port_ = FreePort();
    Start();
    QueryDatabase("postgres", std::string("CREATE DATABASE ") + kDatabase);
  } catch (...) {
    RemoveAll();
    throw;
  }
}

PostgresServer::~PostgresServer() {
  RemoveAll();
}

void PostgresServer::RemoveAll() {
  if (running()) {
    Stop();
  }
  std::error_code ignored;
  fs::remove_all(temp_dir_, ignored);
}

void PostgresServer::Run(const std::vector<std::string>& args) const {
  const pid_t pid = Spawn(args, user_.uid, user_.gid, temp_dir_, log_file_);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(args[0] + " failed (status " + std::to_string(status) + "):\n" +
                             Log());
  }
}

void PostgresServer::Start() {
  if (running()) {
    throw std::logic_error("PostgresServer::Start: already running");
  }
  pid_ = Spawn({bin_dir_ + "/postgres", "-D", temp_dir_ + "/data", "-k", temp_dir_, "-p",
                std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"},
               user_.uid, user_.gid, temp_dir_, log_file_);
  const auto deadline = Clock::now() + kStartDeadline;
  const std::string ping = ConnInfo("postgres") + " connect_timeout=2";
  while (PQping(ping.c_str()) != PQPING_OK) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("postgres exited (status " + std::to_string(status) +
                               ") before accepting connections:\n" + Log());
    }
    if (Clock::now() > deadline) {
      Stop();
      throw std::runtime_error("postgres does not accept connections:\n" + Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void PostgresServer::Stop() {
  if (!running()) {
    throw std::logic_error("PostgresServer::Stop: not running");
  }
  ::kill(pid_, SIGINT);
  int status = 0;
  if (!WaitUntil(pid_, Clock::now() + kStopGrace, &status)) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

std::string PostgresServer::conninfo() const {
  return ConnInfo(kDatabase);
}

std::string PostgresServer::ConnInfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database + " user=postgres";
}

std::vector<std::vector<std::string>> PostgresServer::Query(const std::string& sql) const {
  return QueryDatabase(kDatabase, sql);
}

std::vector<std::vector<std::string>> PostgresServer::QueryDatabase(const std::string& database,
                                                                    const std::string& sql) const {
  const std::string info = ConnInfo(database) + " connect_timeout=5";
  const std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(info.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to " + info + ": " + PQerrorMessage(conn.get()));
  }
  const std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error("query failed: " + sql + ": " + PQerrorMessage(conn.get()));
  }
  std::vector<std::vector<std::string>> rows(static_cast<size_t>(PQntuples(result.get())));
  for (size_t row = 0; row < rows.size(); ++row) {
    for (int column = 0; column < PQnfields(result.get()); ++column) {
      const int r = static_cast<int>(row);
      rows[row].push_back(
          PQgetisnull(result.get(), r, column) ? "\\N" : PQgetvalue(result.get(), r, column));
    }
  }
  return rows;
}

std::string PostgresServer::Log() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sluice::testing
