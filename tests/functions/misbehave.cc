// A test function that misbehaves on command, for the invoker and sandbox integration tests.
//
// The first record's data is the command; the function reports what it observed as a log line
// "RESULT <text>" (tagged with the request id by the host) and returns success, unless the
// command's point is to fail. Commands:
//   echo                 succeed; log "RESULT pid=<pid>"
//   sleep MS             sleep, then succeed
//   crash SIGNAL         raise SEGV|ABRT|KILL
//   exit CODE            exit(CODE) mid-invoke
//   alloc                allocate and touch memory until killed
//   fork                 try fork() once
//   threads              start threads until pthread_create fails
//   fds                  open /dev/null until open fails
//   fill-disk            write 16 MiB files to $TMPDIR until a write fails
//   socket-inet          socket(AF_INET, SOCK_STREAM)
//   connect-tcp PORT     TCP connect to 127.0.0.1:PORT
//   exec PATH            execve(PATH)
//   kill-all             kill(-1, SIGKILL)
//   read PATH            open PATH for reading
//   write PATH           create PATH and write to it
//   write-scratch        create $TMPDIR/ok.txt and write to it
//   seccomp              call a system call the sandbox forbids (ptrace)
//   reconnect            connect to the runtime socket once more
//   garbage              write an invalid HTTP/2 frame into the runtime connection itself, then
//                        sleep 5 s (so the host sees a live process with a broken stream)
//   bad-state            (window batch) answer with a state that is not a JSON object
//   oversize BYTES       answer with a response of about BYTES bytes
//   crash-later MS       succeed, and crash (SIGSEGV) from a background thread MS ms later
//   flood                succeed, and keep writing to stderr from a background thread
//   deep-state N         (window batch) answer with a state nested N levels deep
//   error                throw sluice::FunctionError("App.Failure", "asked to fail")
//   throw                throw std::runtime_error("plain exception")
// Environment (init behaviour): MISBEHAVE_INIT=fail (FailInit), exit (exit 4 before Run),
// hang (never become ready), "sleep MS" (a slow init, then ready).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sluice/function.h"

namespace {

std::string ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EMFILE: return "EMFILE";
    case EAGAIN: return "EAGAIN";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOSYS: return "ENOSYS";
    default: return "errno" + std::to_string(err);
  }
}

std::string Outcome(long rc) {
  return rc < 0 ? "-1 " + ErrnoName(errno) : std::to_string(rc);
}

void* Park(void*) {
  pause();
  return nullptr;
}

std::string Run(const std::string& cmd, const std::string& arg, const sluice::StreamBatch& batch,
                sluice::StreamResponse* response) {
  if (cmd == "echo") {
    return "pid=" + std::to_string(getpid());
  }
  if (cmd == "sleep") {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stol(arg)));
    return "slept";
  }
  if (cmd == "crash") {
    const int sig = arg == "SEGV" ? SIGSEGV : arg == "ABRT" ? SIGABRT : SIGKILL;
    raise(sig);
    return "survived raise";
  }
  if (cmd == "exit") {
    std::_Exit(std::stoi(arg));
  }
  if (cmd == "alloc") {
    std::vector<char*> blocks;
    for (;;) {
      char* p = static_cast<char*>(std::malloc(1 << 20));
      if (p == nullptr) {
        return "malloc failed after " + std::to_string(blocks.size()) + " MiB";
      }
      std::memset(p, 1, 1 << 20);
      blocks.push_back(p);
    }
  }
  if (cmd == "fork") {
    const pid_t pid = fork();
    if (pid == 0) {
      std::_Exit(0);
    }
    return "fork=" + Outcome(pid);
  }
  if (cmd == "threads") {
    int started = 0;
    for (;;) {
      pthread_t t;
      const int rc = pthread_create(&t, nullptr, Park, nullptr);
      if (rc != 0) {
        return "pthread_create=" + ErrnoName(rc) + " after " + std::to_string(started);
      }
      ++started;
    }
  }
  if (cmd == "fds") {
    int opened = 0;
    for (;;) {
      if (open("/dev/null", O_RDONLY) < 0) {
        return "open=-1 " + ErrnoName(errno) + " after " + std::to_string(opened);
      }
      ++opened;
    }
  }
  if (cmd == "fill-disk") {
    const char* dir = std::getenv("TMPDIR");
    std::vector<char> chunk(1 << 20, 'x');
    long total_mib = 0;
    for (int file = 0;; ++file) {
      const std::string path = std::string(dir ? dir : "/tmp") + "/fill" + std::to_string(file);
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) {
        return "open=" + Outcome(fd) + " after " + std::to_string(total_mib) + " MiB";
      }
      for (int i = 0; i < 16; ++i) {
        if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
          const int err = errno;
          close(fd);
          return "write=-1 " + ErrnoName(err) + " after " + std::to_string(total_mib) + " MiB";
        }
        ++total_mib;
      }
      close(fd);
    }
  }
  if (cmd == "socket-inet") {
    return "socket=" + Outcome(socket(AF_INET, SOCK_STREAM, 0));
  }
  if (cmd == "connect-tcp") {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      return "socket=" + Outcome(fd);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(arg)));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return "connect=" + Outcome(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  }
  if (cmd == "exec") {
    char* argv[] = {const_cast<char*>(arg.c_str()), nullptr};
    char* envp[] = {nullptr};
    return "execve=" + Outcome(execve(arg.c_str(), argv, envp));
  }
  if (cmd == "kill-all") {
    return "kill=" + Outcome(kill(-1, SIGKILL));
  }
  if (cmd == "read") {
    return "open=" + Outcome(open(arg.c_str(), O_RDONLY));
  }
  if (cmd == "write") {
    const int fd = open(arg.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      return "open=" + Outcome(fd);
    }
    return "write=" + Outcome(write(fd, "x", 1));
  }
  if (cmd == "write-scratch") {
    return Run("write", std::string(std::getenv("TMPDIR")) + "/ok.txt", batch, response);
  }
  if (cmd == "seccomp") {
    return "ptrace=" + Outcome(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
  }
  if (cmd == "reconnect") {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, std::getenv("SLUICE_RUNTIME_SOCKET"), sizeof addr.sun_path - 1);
    return "connect=" + Outcome(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr));
  }
  if (cmd == "garbage") {
    // The runtime connection is the process's only Unix socket. A frame header announcing 16 MiB
    // is over any SETTINGS_MAX_FRAME_SIZE: a connection error (RFC 7540 section 4.2).
    const unsigned char junk[] = {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1};
    int corrupted = 0;
    for (int fd = 3; fd < 256; ++fd) {
      int domain = 0;
      socklen_t len = sizeof domain;
      if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX) {
        if (write(fd, junk, sizeof junk) > 0) {
          ++corrupted;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(5));
    return "corrupted " + std::to_string(corrupted) + " sockets";
  }
  if (cmd == "bad-state") {
    response->SetState("[1, 2, 3]");
    return "sent a non-object state";
  }
  if (cmd == "oversize") {
    // Item identifiers are the only free-form strings in a stream response.
    const size_t bytes = std::stoul(arg);
    for (size_t sent = 0; sent < bytes; sent += 1 << 16) {
      response->AddItemFailure(std::string(1 << 16, 'z'));
    }
    return "sent " + arg + " bytes";
  }
  if (cmd == "crash-later") {
    const long ms = std::stol(arg);
    std::thread([ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      raise(SIGSEGV);
    }).detach();
    return "will crash in " + arg + " ms";
  }
  if (cmd == "flood") {
    std::thread([] {
      const std::string line(4095, 'f');
      for (;;) {
        if (write(STDERR_FILENO, (line + "\n").data(), line.size() + 1) < 0) {
          return;
        }
      }
    }).detach();
    return "flooding";
  }
  if (cmd == "deep-state") {
    const size_t depth = std::stoul(arg);
    response->SetState("{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}");
    return "sent a state nested " + arg + " deep";
  }
  if (cmd == "error") {
    throw sluice::FunctionError("App.Failure", "asked to fail");
  }
  if (cmd == "throw") {
    throw std::runtime_error("plain exception");
  }
  (void)batch;
  return "unknown command " + cmd;
}

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  sluice::StreamResponse response;
  if (batch.has_window()) {
    response.SetState("{}");
  }
  if (batch.records().empty()) {
    ctx.Log("RESULT empty batch");
    return response;
  }
  const std::string& data = batch.records()[0].data();
  const size_t space = data.find(' ');
  const std::string cmd = data.substr(0, space);
  const std::string arg = space == std::string::npos ? "" : data.substr(space + 1);
  ctx.Log("RESULT " + Run(cmd, arg, batch, &response));
  return response;
}

}  // namespace

int main() {
  const char* init = std::getenv("MISBEHAVE_INIT");
  const std::string mode = init ? init : "";
  if (mode == "fail") {
    return sluice::FailInit("Misbehave.InitFailure", "asked to fail init");
  }
  if (mode == "exit") {
    return 4;
  }
  if (mode.rfind("sleep ", 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stol(mode.substr(6))));
  }
  if (mode == "hang") {
    for (;;) {
      pause();
    }
  }
  return sluice::Run(Handle);
}
