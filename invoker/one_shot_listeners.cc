#include "invoker/one_shot_listeners.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/random.h"

namespace sluice::invoker {

Result<std::unique_ptr<OneShotListeners>> OneShotListeners::Create(const std::string& dir,
                                                                   bool functions_open_the_path,
                                                                   OnConnection on_connection) {
  const mode_t mode = functions_open_the_path ? 0711 : 0700;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir " + dir);
  }
  if (::chmod(dir.c_str(), mode) != 0) {
    return ErrnoStatus("chmod " + dir);
  }
  std::unique_ptr<OneShotListeners> listeners(new OneShotListeners(dir, std::move(on_connection)));
  OneShotListeners* raw = listeners.get();
  auto epoll = EpollThread::Start([raw](int fd) { raw->OnReadable(fd); });
  if (!epoll.ok()) {
    return epoll.status().WithContext("runtime sockets");
  }
  listeners->epoll_ = std::move(epoll).value();
  return listeners;
}

OneShotListeners::OneShotListeners(std::string dir, OnConnection on_connection)
    : dir_(std::move(dir)), on_connection_(std::move(on_connection)) {}

OneShotListeners::~OneShotListeners() {
  // Take the thread out under the lock, then stop it outside (a handler under way takes the
  // lock): from here on no handler runs, and a late one finds no thread to touch.
  std::unique_ptr<EpollThread> epoll;
  {
    std::lock_guard<std::mutex> lock(mu_);
    epoll = std::move(epoll_);
  }
  epoll.reset();
  for (auto& [key, listener] : by_key_) {
    ::close(listener.fd);
    ::unlink(listener.path.c_str());
  }
}

Result<std::string> OneShotListeners::Open(const std::string& key) {
  // A random name: nobody can guess the next instance's socket and take its one connection.
  const std::string path = dir_ + "/" + RandomHex(8) + ".sock";
  std::lock_guard<std::mutex> lock(mu_);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("runtime socket path is too long for a Unix socket (" +
                           std::to_string(path.size()) + " bytes, limit " +
                           std::to_string(sizeof(addr.sun_path) - 1) + "): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return ErrnoStatus("socket for " + path);
  }
  ::unlink(path.c_str());  // a stale socket from an earlier host on the same directory
  Status status;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    status = ErrnoStatus("bind " + path);
  } else if (::chmod(path.c_str(), 0666) != 0) {
    status = ErrnoStatus("chmod " + path);
  } else if (::listen(fd, 1) != 0) {
    status = ErrnoStatus("listen " + path);
  } else if (epoll_ == nullptr) {
    status = Unavailable("the host is shutting down");
  } else {
    status = epoll_->Add(fd).WithContext(path);
  }
  if (!status.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return status;
  }
  by_key_[key] = Listener{fd, path};
  key_by_fd_[fd] = key;
  return path;
}

void OneShotListeners::Close(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return;
  }
  if (epoll_ != nullptr) {
    epoll_->Remove(it->second.fd);
  }
  ::close(it->second.fd);
  ::unlink(it->second.path.c_str());
  key_by_fd_.erase(it->second.fd);
  by_key_.erase(it);
}

void OneShotListeners::OnReadable(int fd) {
  int connection = -1;
  std::string key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = key_by_fd_.find(fd);
    if (found == key_by_fd_.end()) {
      return;  // closed since the wake-up
    }
    // Non-blocking: if the fd number was closed and reused meanwhile, nothing is pending.
    connection = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)) {
      return;
    }
    // One connection per instance: the socket goes away at once. (On any other accept failure,
    // e.g. the host out of fds, too: a listener left in a level-triggered epoll would spin; the
    // instance then fails its init instead.)
    key = found->second;
    key_by_fd_.erase(found);
    auto listener = by_key_.find(key);
    if (epoll_ != nullptr) {
      epoll_->Remove(fd);
    }
    ::close(fd);
    ::unlink(listener->second.path.c_str());
    by_key_.erase(listener);
  }
  if (connection >= 0) {
    on_connection_(connection, key);
  }
}

}  // namespace sluice::invoker
