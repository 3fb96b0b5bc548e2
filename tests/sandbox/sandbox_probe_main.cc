// A function stand-in for the sandbox tests: performs the escape attempt or check named by
// PROBE_ACTION (its only configuration: the launcher passes no arguments) and prints one result
// line per fact, e.g. "errno=EAFNOSUPPORT". Errno values print as names (strerrorname_np).
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::string Env(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? "" : value;
}

// "errno=ENOENT", or "ok" when rc >= 0.
void PrintResult(long rc) {
  if (rc >= 0) {
    std::cout << "ok" << std::endl;
  } else {
    std::cout << "errno=" << strerrorname_np(errno) << std::endl;
  }
}

// One line per thread: the /proc/self/task/<tid>/status fields the tests check.
void Identity() {
  pthread_t threads[3];
  for (pthread_t& t : threads) {
    pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          pause();
          return nullptr;
        },
        nullptr);
  }
  DIR* dir = opendir("/proc/self/task");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    std::ifstream status(std::string("/proc/self/task/") + entry->d_name + "/status");
    std::string line, out = "thread";
    while (std::getline(status, line)) {
      for (const char* key : {"Uid:", "Gid:", "Groups:", "Seccomp:", "NoNewPrivs:", "CapInh:",
                              "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"}) {
        if (line.rfind(key, 0) == 0) {
          std::string value = line.substr(strlen(key));
          value.erase(0, value.find_first_not_of(" \t"));
          for (char& c : value) {
            c = (c == '\t') ? ' ' : c;
          }
          out.append(" ").append(key).append(value);
        }
      }
    }
    std::cout << out << std::endl;
  }
  closedir(dir);
}

void OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  std::string fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.' && atoi(entry->d_name) != dirfd(dir)) {
      if (!fds.empty()) {
        fds += ',';
      }
      fds += entry->d_name;
    }
  }
  closedir(dir);
  std::cout << "fds=" << fds << std::endl;
}

void FillFile() {
  signal(SIGXFSZ, SIG_IGN);  // so RLIMIT_FSIZE shows as EFBIG instead of a signal
  const int fd = open(Env("PROBE_PATH").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  static char chunk[64 << 10];
  long total = 0;
  ssize_t n;
  while ((n = write(fd, chunk, sizeof(chunk))) > 0) {
    total += n;
  }
  std::cout << "written=" << total << " errno=" << strerrorname_np(errno) << std::endl;
}

void Oom() {
  std::vector<char*> blocks;
  for (int i = 0; i < 256; ++i) {  // 256 MiB, touched
    char* block = static_cast<char*>(malloc(1 << 20));
    memset(block, 1, 1 << 20);
    blocks.push_back(block);
  }
  std::cout << "survived" << std::endl;
}

void Threads() {
  int created = 0;
  int err = 0;
  for (; created < 10000; ++created) {
    pthread_t t;
    err = pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          pause();
          return nullptr;
        },
        nullptr);
    if (err != 0) {
      break;
    }
  }
  std::cout << "threads=" << created << " error=" << strerrorname_np(err) << std::endl;
}

const std::map<std::string, std::function<void()>>& Actions() {
  static const auto* actions = new std::map<std::string, std::function<void()>>{
      {"identity", Identity},
      {"fds", OpenFds},
      {"env",
       [] {
         for (char** e = environ; *e != nullptr; ++e) {
           std::cout << "env " << *e << std::endl;
         }
       }},
      {"cwd",
       [] {
         char buf[4096];
         std::cout << "cwd=" << getcwd(buf, sizeof(buf)) << " pid=" << getpid() << std::endl;
       }},
      {"socket_inet", [] { PrintResult(socket(AF_INET, SOCK_STREAM, 0)); }},
      {"socket_unix", [] { PrintResult(socket(AF_UNIX, SOCK_STREAM, 0)); }},
      {"fork", [] { PrintResult(fork()); }},
      {"exec",
       [] {
         char* argv[] = {const_cast<char*>("/bin/sh"), nullptr};
         PrintResult(execve("/bin/sh", argv, environ));
       }},
      {"kill_all", [] { PrintResult(kill(-1, SIGKILL)); }},
      {"read_file", [] { PrintResult(open(Env("PROBE_PATH").c_str(), O_RDONLY)); }},
      {"write_file",
       [] {
         const int fd = open(Env("PROBE_PATH").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
         PrintResult(fd < 0 ? fd : write(fd, "hello", 5));
       }},
      {"fill_file", FillFile},
      {"oom", Oom},
      {"threads", Threads},
      {"ptrace", [] { PrintResult(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); }},
      // Signal routing through a file: F_SETOWN names who gets SIGIO (or F_SETSIG's signal).
      {"fcntl_setown", [] { PrintResult(fcntl(1, F_SETOWN, getppid())); }},
      {"fcntl_async", [] { PrintResult(fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_ASYNC)); }},
      {"fcntl_nonblock", [] { PrintResult(fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK)); }},
      {"init_cmdline",
       [] {
         std::ifstream in("/proc/1/cmdline");
         std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
         std::cout << "cmdline=" << text.c_str() << std::endl;
       }},
      {"proc_listing",
       [] {
         for (const char* path :
              {"/proc/meminfo", "/proc/sys", "/proc/kallsyms", "/proc/self/status"}) {
           std::cout << path << (access(path, F_OK) == 0 ? " visible" : " hidden") << std::endl;
         }
       }},
      // Ordinary glibc calls a function may make (each must be allowed, not kill it).
      {"harmless",
       [] {
         char buf[256];
         int fds[2];
         struct stat st;
         const bool ok = getppid() >= 0 && mkdir("/tmp/d", 0700) == 0 && rmdir("/tmp/d") == 0 &&
                         readlink("/proc/self/exe", buf, sizeof buf) > 0 && pipe2(fds, 0) == 0 &&
                         dup2(fds[0], 10) == 10 && dup(fds[1]) >= 0 &&
                         stat("/var/task", &st) == 0 && access("/var/task", R_OK) == 0;
         std::cout << (ok ? "ok" : "failed") << std::endl;
       }},
      // The same calls through the 32-bit ABI (int 0x80) must end the whole process.
      {"int80_thread",
       [] {
         pthread_t t;
         pthread_create(
             &t, nullptr,
             [](void*) -> void* {
               long ret;
               asm volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");  // i386 getpid
               return nullptr;
             },
             nullptr);
         pthread_join(t, nullptr);
         std::cout << "survived" << std::endl;
       }},
      {"sleep", [] { sleep(60); }},
      {"exit3", [] { exit(3); }},
  };
  return *actions;
}

}  // namespace

int main() {
  const auto it = Actions().find(Env("PROBE_ACTION"));
  if (it == Actions().end()) {
    std::cout << "unknown action '" << Env("PROBE_ACTION") << "'" << std::endl;
    return 2;
  }
  it->second();
  return 0;
}
