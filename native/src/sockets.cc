#include "sockets.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "channel.h"
#include "errors.h"
#include "js_args.h"

namespace plasmapool {

namespace {

// A blocking connect to a Unix socket waits while the listener's backlog is full. If the
// listener runs on this very event loop it can never accept, so the wait is bounded.
constexpr int kConnectTimeoutSeconds = 2;

std::string ConnectFailure(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
      return "cannot connect to " + path + ": no such socket (ENOENT); is the store running? check the socket path";
    case ECONNREFUSED:
      return "cannot connect to " + path +
             ": connection refused (ECONNREFUSED); the socket file exists but nothing listens on it "
             "(a stale socket of a stopped store): start the store";
    case EAGAIN:
      return "cannot connect to " + path + ": timed out after " + std::to_string(kConnectTimeoutSeconds) +
             " s waiting for the listener to accept (EAGAIN); its backlog is full, or it runs on this "
             "same event loop and cannot accept during this call";
    case EACCES:
    case EPERM:
      return "cannot connect to " + path + ": permission denied (" + ErrnoName(err) + ", uid " +
             std::to_string(geteuid()) + "); run as a user allowed to use the socket";
    case ENOTSOCK:
    case ENOTDIR:
      return "cannot connect to " + path + ": not a socket (" + ErrnoName(err) + "); check the socket path";
    default:
      return "cannot connect to " + path + ": " + ErrnoText(err);
  }
}

}  // namespace

bool SocketAddress(Napi::Env env, const std::string& path, sockaddr_un* addr) {
  if (path.empty()) {
    ThrowError(env, "EINVAL", "socket path is empty");
    return false;
  }
  if (path.size() > kMaxSocketPath) {
    ThrowError(env, "ENAMETOOLONG",
               "socket path too long (" + std::to_string(path.size()) + " bytes, max " +
                   std::to_string(kMaxSocketPath) + "): use a shorter path");
    return false;
  }
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, modeText;
  FramingMode mode;
  if (!ToString(env, info[0], "path", &path) || !ToString(env, info[1], "mode", &modeText)) return Napi::Value();
  if (!ParseFramingMode(modeText, &mode)) {
    ThrowTypeError(env, "mode must be 'plasma' or 'length64', got '" + modeText + "'");
    return Napi::Value();
  }
  sockaddr_un addr;
  if (!SocketAddress(env, path, &addr)) return Napi::Value();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, err, "cannot create a socket: " + ErrnoText(err));
    return Napi::Value();
  }
  struct timeval timeout = {kConnectTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int r;
  do {
    r = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, ConnectFailure(path, err));
    return Napi::Value();
  }
  timeout = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Channel::NewInstance(env, fd, mode);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    int err = errno;
    ThrowErrno(env, err, "socketPair(): " + ErrnoText(err));
    return Napi::Value();
  }
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(uint32_t{0}, Napi::Number::New(env, fds[0]));
  pair.Set(uint32_t{1}, Napi::Number::New(env, fds[1]));
  return pair;
}

}  // namespace plasmapool
